/*
 * Copyright (c) 2026 The lamina authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES.
 */

/*
 * lamina(8): the control tool.  It finds everything through the same
 * configuration file as the daemons (-c FILE, default
 * /etc/lamina/lamina.yaml): the data directory for commands that read the
 * master dataset, the sockets for commands that talk to the daemons.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "lamina.h"
#include "log.h"
#include "version.h"

static const struct cli_cmd	cli_cmds[] = {
	{ "send", "send STREAM [FILE]", cmd_send },
	{ "status", "status", cmd_status },
	{ "dump", "dump STREAM [--from OFFSET] [--limit N]", cmd_dump },
	{ "verify", "verify [STREAM...]", cmd_verify },
	{ "view", "view VIEW [--order METRIC] [--limit N]", cmd_view },
	{ "batch", "batch run", cmd_batch },
	{ "recompute", "recompute VIEW", cmd_recompute },
	{ NULL, NULL, NULL }
};

/*
 * A decimal number of at most max, all of it (a command's option): NULL,
 * or what is wrong with s (a static string, until the next call).
 */
const char *
cli_parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	static char	 why[64];
	char		*end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return ("not a number");
	*v = strtoull(s, &end, 10);
	if (*end != '\0')
		return ("not a number");
	if (errno == ERANGE || *v > max) {
		snprintf(why, sizeof(why), "too large (at most %" PRIu64 ")",
		    max);
		return (why);
	}
	return (NULL);
}

static void __attribute__((__noreturn__))
usage(void)
{
	const struct cli_cmd	*c;

	fprintf(stderr, "usage: lamina [-tvV] [-c FILE] COMMAND [ARG...]\n"
	    "commands:\n");
	for (c = cli_cmds; c->name != NULL; c++)
		fprintf(stderr, "  lamina %s\n", c->usage);
	exit(2);
}

int
main(int argc, char **argv)
{
	const struct cli_cmd	*c;
	struct conf		*conf;
	const char		*path = CONF_DEFAULT_PATH;
	int			 ch, test = 0, verbose = 0, rc;

	if (getenv("LAMINA_CONF") != NULL)
		path = getenv("LAMINA_CONF");
	while ((ch = getopt(argc, argv, "+c:tvV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("lamina %s\n", LAMINA_VERSION);
			return (0);
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	log_init("lamina", verbose);

	conf = daemon_load_conf(path);
	if (test) {
		printf("configuration OK\n");
		conf_free(conf);
		return (0);
	}
	if (argc < 1)
		usage();
	for (c = cli_cmds; c->name != NULL; c++)
		if (strcmp(c->name, argv[0]) == 0)
			break;
	if (c->name == NULL) {
		fprintf(stderr, "lamina: unknown command: %s\n", argv[0]);
		usage();
	}
	rc = c->fn(conf, argc, argv);
	conf_free(conf);
	return (rc);
}
