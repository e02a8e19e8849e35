/*
 * cli.h - what every program's command line has in common (cli.c): -q,
 * --help, --version and the record limits of record.h, which is why it
 * sits on the records' floor and not in util.h.
 */
#ifndef OSTEO_CLI_H
#define OSTEO_CLI_H

#include <getopt.h>

void print_version(void) __attribute__((noreturn));

/* the options every program has, ending a getopt_long table:
 * -q/--quiet, -h/--help, --version */
#define CLI_OPT_VERSION 1000
#define CLI_OPT_LIMIT 1001     /* 1001..1004: the limits of struct rec_limits */
#define CLI_COMMON_OPTIONS                          \
	{ "quiet", no_argument, 0, 'q' },           \
	{ "help", no_argument, 0, 'h' },            \
	{ "version", no_argument, 0, CLI_OPT_VERSION }, \
	{ "max-tensor-bytes", required_argument, 0, CLI_OPT_LIMIT }, \
	{ "max-record-bytes", required_argument, 0, CLI_OPT_LIMIT + 1 }, \
	{ "max-string", required_argument, 0, CLI_OPT_LIMIT + 2 }, \
	{ "max-records", required_argument, 0, CLI_OPT_LIMIT + 3 }, \
	{ 0, 0, 0, 0 }
/* for a switch's default: handles those (and the limits), and dies with 64
 * on anything else */
void cli_common(int c, const char *usage);
/* what --help prints after the synopsis: the program's options, a line
 * each ("  --name ARG   what it does (default)"), in the GNU manner; the
 * bash completion reads the options from the lines that begin with
 * "  -" */
void cli_help(const char *options);

#endif
