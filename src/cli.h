/*
 * cli: revgate's command line - subcommand dispatch, options, help and version output.
 */
#ifndef REVGATE_CLI_H
#define REVGATE_CLI_H

/* Runs revgate with ARGV and ENVP; returns the process exit status. */
int cli_main(int argc, char **argv, char **envp);

#endif
