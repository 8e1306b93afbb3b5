/*
 * log: leveled, line-atomic logging to stderr or a file.
 *
 * Every line is formatted into one buffer and written with a single write(2), so lines from
 * several threads never interleave. The destination can be reopened (SIGUSR1, log rotation)
 * without a lock: the new file is dup2()'d over the old descriptor.
 */
#ifndef REVGATE_LOG_H
#define REVGATE_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Name of a level as used in configuration ("error", "warn", ...). Never NULL. */
const char *log_level_name(enum log_level level);

/* Parses a level name; returns 0 and stores it, or -1 if the name is not a level. */
int log_level_parse(const char *name, enum log_level *out);

/* Sets the most verbose level that is written. Safe from any thread. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

/*
 * Sends log lines to PATH (appended, created 0640), or to stderr when PATH is NULL.
 * Returns 0, or -1 with errno set when the file cannot be opened; the old destination stays.
 * Blocks on open(2): call at start-up, on reload or from the main thread only.
 */
int log_open(const char *path);

/* Reopens the current log file (after rotation); a no-op for stderr. Returns 0 or -1. */
int log_reopen(void);

/* Closes a log file and returns to stderr. */
void log_close(void);

/* Writes one line (a newline is added). */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
