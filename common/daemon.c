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
 * The start of every daemon (see daemon.h).  The daemons never fork into
 * the background: systemd supervises them in the foreground.
 */

#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <inttypes.h>

#include "conf.h"
#include "daemon.h"
#include "file.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "rpc.h"
#include "sock.h"
#include "version.h"

static void __attribute__((__noreturn__))
daemon_usage(const char *name)
{
	fprintf(stderr, "usage: %s [-tvV] [-c FILE]\n", name);
	exit(2);
}

/* Load the configuration, or print every problem with it and exit 1. */
struct conf *
daemon_load_conf(const char *path)
{
	struct conf	 *conf;
	char		**errs;
	size_t		  nerrs, i;

	if ((conf = conf_load(path, &errs, &nerrs)) == NULL) {
		for (i = 0; i < nerrs; i++)
			fprintf(stderr, "%s\n", errs[i]);
		conf_free_errors(errs, nerrs);
		exit(1);
	}
	return (conf);
}

/*
 * Parse the options, load and check the configuration (printing every
 * problem and exiting 1 if there is one), answer -t and -V, set up
 * logging.  Returns the configuration.
 */
struct conf *
daemon_start(int argc, char **argv, const char *name)
{
	struct conf	 *conf;
	const char	 *path = CONF_DEFAULT_PATH;
	int		  ch, test = 0, verbose = 0;

	if (getenv("LAMINA_CONF") != NULL)
		path = getenv("LAMINA_CONF");
	while ((ch = getopt(argc, argv, "c:tvV")) != -1) {
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
			printf("%s %s\n", name, LAMINA_VERSION);
			exit(0);
		default:
			daemon_usage(name);
		}
	}
	if (optind != argc)
		daemon_usage(name);
	conf = daemon_load_conf(path);
	if (test) {
		printf("configuration OK\n");
		conf_free(conf);
		exit(0);
	}
	log_init(name, verbose > conf->verbose ? verbose : conf->verbose);
	signal(SIGPIPE, SIG_IGN);
	if (file_mkdirs(conf->run_dir, 0755) == -1)
		fatal("%s", conf->run_dir);
	if (file_mkdirs(conf->data_dir, 0750) == -1)
		fatal("%s", conf->data_dir);
	return (conf);
}

/*
 * A listening socket at path: the one systemd passed under the name
 * fdname if there is one, else one made here with the configured mode and
 * group.  Dies on failure.
 */
int
daemon_listen(const struct conf *conf, const char *path, const char *fdname)
{
	char	*cause;
	int	 fd;

	if ((fd = sock_listen_activated(fdname)) != -1) {
		log_info("%s: socket passed by systemd", path);
		return (fd);
	}
	fd = sock_listen_unix(path, conf->socket_mode, conf->socket_gid, 128,
	    &cause);
	if (fd == -1)
		fatalx("%s", cause);
	return (fd);
}

/*
 * hello [role, version] -> {role, version}: the first call between lamina
 * daemons.  On a version mismatch: error PROTO_E_VERSION, then close.
 */
void
daemon_rpc_hello(struct rpc_request *req, struct msg_reader *p,
    const char *role)
{
	struct rpc_conn	*conn;
	msgpack_packer	*pk;
	const char	*peer;
	size_t		 plen;
	uint32_t	 n;
	int64_t		 version;

	if (msg_get_array(p, &n) == -1 || n != 2 ||
	    msg_get_str(p, &peer, &plen) == -1 ||
	    msg_get_int(p, &version) == -1 || msg_end(p) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS,
		    "hello: expected [role, version]");
		return;
	}
	if (version != PROTO_VERSION) {
		conn = rpc_request_conn(req);	/* req is freed by the reply */
		rpc_reply_error(req, PROTO_E_VERSION, "hello: protocol version "
		    "%" PRId64 " is not %d", version, PROTO_VERSION);
		rpc_conn_close(conn);
		return;
	}
	pk = rpc_reply_begin(req);
	msgpack_pack_map(pk, 2);
	msg_pack_kv_str(pk, "role", role);
	msg_pack_kv_int(pk, "version", PROTO_VERSION);
	rpc_reply_end(req);
}

/* verbose [level] -> previous level: logging verbosity at runtime. */
void
daemon_rpc_verbose(struct rpc_request *req, struct msg_reader *p)
{
	msgpack_packer	*pk;
	uint32_t	 n;
	int64_t		 level;
	int		 old = log_getverbose();

	if (msg_get_array(p, &n) == -1 || n != 1 ||
	    msg_get_int(p, &level) == -1 || msg_end(p) == -1 ||
	    level < 0 || level > 3) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS,
		    "verbose: expected [level], 0 to 3");
		return;
	}
	log_setverbose((int)level);
	log_info("verbosity %d (was %d)", (int)level, old);
	pk = rpc_reply_begin(req);
	msgpack_pack_int(pk, old);
	rpc_reply_end(req);
}
