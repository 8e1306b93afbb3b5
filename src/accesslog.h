/*
 * accesslog: one line per request, written by a thread of its own so that a slow disk never
 * stalls a worker's event loop. Workers append complete lines to a shared, bounded buffer
 * (a mutex held for a memcpy); the writer thread drains it with write(2). When the buffer is
 * full, lines are dropped and counted, and the count is reported in the log - losing an
 * access line is better than stalling every connection.
 */
#ifndef REVGATE_ACCESSLOG_H
#define REVGATE_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACCESSLOG_BUFFER_MAX	(4 * 1024 * 1024)

/*
 * Starts the writer: lines go to PATH (appended, created 0640), or to stderr when PATH is
 * NULL. Returns 0, or -1 with errno set. Call once from the main thread.
 */
int accesslog_start(const char *path);

/* Points the log at PATH (reload) or reopens the current file (SIGUSR1). Main thread. */
int accesslog_reopen(const char *path);

/* Appends LINE (LEN bytes, ending in '\n'). Never blocks on I/O. Any thread. */
void accesslog_write(const char *line, size_t len);

/* Flushes what is buffered and stops the writer. Main thread. */
void accesslog_stop(void);

/* Lines dropped because the buffer was full, since start. */
uint64_t accesslog_dropped(void);

#endif
