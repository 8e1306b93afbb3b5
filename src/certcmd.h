/*
 * certcmd: `revgate cert SUBCOMMAND [OPTIONS]` - create a CA, intermediates, node and client
 * certificates, revoke, publish CRLs and show what a file holds. The option parsing, help and
 * messages live here; the work is done by pki (keys, certificates, files), cadb (the CA's
 * index.txt and CRLs) and certshow (summaries).
 *
 * Exit statuses: 0 success, 1 the operation failed (unreadable file, wrong key, existing
 * output), 2 the command line is wrong (unknown subcommand or option, missing or bad value).
 */
#ifndef REVGATE_CERTCMD_H
#define REVGATE_CERTCMD_H

#include <stdio.h>

/* Runs `cert` with ARGV[0] == "cert"; returns the exit status. Blocks (key generation, I/O). */
int certcmd_main(int argc, char **argv);

/* Prints the overview of the cert subcommands (for `revgate help cert`). */
void certcmd_help(FILE *out);

#endif
