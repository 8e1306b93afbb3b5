/*
 * server: the long-running "revgate serve" process - configuration lifecycle, signals and the
 * main event loop. SIGTERM/SIGINT stop it, SIGHUP reloads the configuration (an invalid one is
 * rejected and the running one kept), SIGUSR1 reopens the log file.
 */
#ifndef REVGATE_SERVER_H
#define REVGATE_SERVER_H

#include "conf.h"

struct server_options {
	const char			*config_path;	/* NULL: defaults only */
	const struct conf_overrides	*sets;		/* command-line overrides, borrowed */
	char *const			*envp;		/* environment for REVGATE_*, borrowed */
};

/*
 * Runs until a stop signal. CFG is the configuration already loaded and validated by the
 * caller; ownership passes to the server. Returns the process exit status.
 */
int server_run(const struct server_options *opts, struct conf *cfg);

#endif
