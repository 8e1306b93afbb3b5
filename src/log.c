#include "config.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static _Atomic int log_level_current = LOG_LEVEL_INFO;
static int log_fd = STDERR_FILENO;	/* stderr, or a descriptor we own */
static char *log_path;			/* owned; NULL while logging to stderr */

const char *
log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return "error";
	case LOG_LEVEL_WARN:
		return "warn";
	case LOG_LEVEL_INFO:
		return "info";
	case LOG_LEVEL_DEBUG:
		return "debug";
	}
	return "?";
}

int
log_level_parse(const char *name, enum log_level *out)
{
	static const enum log_level all[] = {
		LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, log_level_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}

void
log_set_level(enum log_level level)
{
	atomic_store(&log_level_current, (int)level);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load(&log_level_current);
}

bool
log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&log_level_current);
}

static int
log_open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int
log_open(const char *path)
{
	int fd;
	char *copy;

	if (path == NULL) {
		log_close();
		return 0;
	}
	if ((copy = strdup(path)) == NULL)
		return -1;
	if ((fd = log_open_file(path)) == -1) {
		free(copy);
		return -1;
	}
	if (log_fd == STDERR_FILENO) {
		/* First file: the descriptor becomes ours; writers pick it up atomically enough
		 * because an int store is not torn, and stderr stays valid meanwhile. */
		log_fd = fd;
	} else {
		dup2(fd, log_fd);
		close(fd);
	}
	free(log_path);
	log_path = copy;
	return 0;
}

int
log_reopen(void)
{
	int fd;

	if (log_path == NULL)
		return 0;
	if ((fd = log_open_file(log_path)) == -1)
		return -1;
	/* dup2 replaces the open file under the same number: no writer ever sees a closed fd. */
	dup2(fd, log_fd);
	close(fd);
	return 0;
}

void
log_close(void)
{
	if (log_fd != STDERR_FILENO) {
		int fd = log_fd;

		log_fd = STDERR_FILENO;
		close(fd);
	}
	free(log_path);
	log_path = NULL;
}

static size_t
log_format_prefix(char *buf, size_t size, enum log_level level)
{
	struct timespec ts;
	struct tm tm;
	size_t n;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	rc = snprintf(buf + n, size - n, ".%03ldZ revgate[%ld]: %s: ",
	    ts.tv_nsec / 1000000L, (long)getpid(), log_level_name(level));
	if (rc < 0)
		return n;
	return n + ((size_t)rc < size - n ? (size_t)rc : size - n - 1);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t n;
	va_list ap;
	int rc;
	ssize_t w;

	if (!log_enabled(level))
		return;
	n = log_format_prefix(line, sizeof(line), level);
	va_start(ap, fmt);
	rc = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (rc > 0)
		n += (size_t)rc < sizeof(line) - n ? (size_t)rc : sizeof(line) - n - 1;
	if (n >= sizeof(line) - 1) {
		/* Truncated: mark it so a reader knows the line was cut, not lost. */
		memcpy(line + sizeof(line) - 5, "...", 3);
		n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	do {
		w = write(log_fd, line, n);
	} while (w == -1 && errno == EINTR);
}
