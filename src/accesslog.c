#include "config.h"
#include "accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct accesslog {
	pthread_mutex_t	 lock;
	pthread_cond_t	 wake;
	pthread_t	 thread;
	bool		 running;
	bool		 stopping;
	int		 fd;		/* -1: stderr */
	char		*path;		/* owned; NULL for stderr */
	char		*buf;		/* owned; pending bytes */
	size_t		 len;
	size_t		 cap;
	uint64_t	 dropped;
};

static struct accesslog accesslog = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.fd = -1,
};

static void
accesslog_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;		/* a full disk must not spin the writer */
		p += w;
		n -= (size_t)w;
	}
}

/* The writer: swaps the pending buffer out under the lock and writes it without the lock. */
static void *
accesslog_main(void *arg)
{
	char *batch = NULL;

	pthread_mutex_lock(&accesslog.lock);
	for (;;) {
		size_t n;
		int fd;

		while (accesslog.len == 0 && !accesslog.stopping)
			pthread_cond_wait(&accesslog.wake, &accesslog.lock);
		if (accesslog.len == 0 && accesslog.stopping)
			break;
		batch = accesslog.buf;
		n = accesslog.len;
		accesslog.buf = NULL;
		accesslog.len = 0;
		accesslog.cap = 0;
		fd = accesslog.fd >= 0 ? accesslog.fd : STDERR_FILENO;
		pthread_mutex_unlock(&accesslog.lock);
		accesslog_write_all(fd, batch, n);
		free(batch);
		pthread_mutex_lock(&accesslog.lock);
	}
	pthread_mutex_unlock(&accesslog.lock);
	return arg;
}

static int
accesslog_open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int
accesslog_start(const char *path)
{
	int fd = -1;

	if (path != NULL && (fd = accesslog_open_file(path)) == -1)
		return -1;
	accesslog.fd = fd;
	accesslog.path = path != NULL ? strdup(path) : NULL;
	accesslog.stopping = false;
	if (pthread_create(&accesslog.thread, NULL, accesslog_main, NULL) != 0) {
		if (fd != -1)
			close(fd);
		accesslog.fd = -1;
		free(accesslog.path);
		accesslog.path = NULL;
		errno = EAGAIN;
		return -1;
	}
	accesslog.running = true;
	return 0;
}

int
accesslog_reopen(const char *path)
{
	int fd = -1, old;

	if (path != NULL && (fd = accesslog_open_file(path)) == -1)
		return -1;
	pthread_mutex_lock(&accesslog.lock);
	old = accesslog.fd;
	accesslog.fd = fd;
	free(accesslog.path);
	accesslog.path = path != NULL ? strdup(path) : NULL;
	pthread_mutex_unlock(&accesslog.lock);
	/*
	 * The writer may be in write(2) on OLD right now; closing it could let a new open() reuse
	 * the number under it. Keep it open by dup2'ing /dev/null over it first, then close.
	 */
	if (old >= 0) {
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (devnull >= 0) {
			dup2(devnull, old);
			close(devnull);
		}
		close(old);
	}
	return 0;
}

void
accesslog_write(const char *line, size_t len)
{
	char *grown;

	pthread_mutex_lock(&accesslog.lock);
	if (!accesslog.running || accesslog.len + len > ACCESSLOG_BUFFER_MAX) {
		accesslog.dropped++;
		pthread_mutex_unlock(&accesslog.lock);
		return;
	}
	if (accesslog.len + len > accesslog.cap) {
		size_t cap = accesslog.cap > 0 ? accesslog.cap : 16384;

		while (cap < accesslog.len + len)
			cap *= 2;
		if ((grown = realloc(accesslog.buf, cap)) == NULL) {
			accesslog.dropped++;
			pthread_mutex_unlock(&accesslog.lock);
			return;
		}
		accesslog.buf = grown;
		accesslog.cap = cap;
	}
	memcpy(accesslog.buf + accesslog.len, line, len);
	/* The writer drains everything at once: wake it only when it may be asleep. */
	if (accesslog.len == 0)
		pthread_cond_signal(&accesslog.wake);
	accesslog.len += len;
	pthread_mutex_unlock(&accesslog.lock);
}

void
accesslog_stop(void)
{
	if (!accesslog.running)
		return;
	pthread_mutex_lock(&accesslog.lock);
	accesslog.stopping = true;
	pthread_cond_signal(&accesslog.wake);
	pthread_mutex_unlock(&accesslog.lock);
	pthread_join(accesslog.thread, NULL);
	accesslog.running = false;
	if (accesslog.fd >= 0)
		close(accesslog.fd);
	accesslog.fd = -1;
	free(accesslog.path);
	accesslog.path = NULL;
	free(accesslog.buf);
	accesslog.buf = NULL;
	accesslog.len = 0;
	accesslog.cap = 0;
}

uint64_t
accesslog_dropped(void)
{
	uint64_t n;

	pthread_mutex_lock(&accesslog.lock);
	n = accesslog.dropped;
	pthread_mutex_unlock(&accesslog.lock);
	return n;
}
