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
 * What every daemon's main() does the same way: the options -c FILE, -t,
 * -v and -V; loading the configuration and printing all its problems;
 * creating run_dir; opening a listening socket (passed by systemd, or made
 * here); the RPC methods every daemon answers the same way (hello,
 * verbose).  The start-up functions print to stderr and exit on failure:
 * they are the start of a main(), not a library.
 */

#ifndef LAMINA_DAEMON_H
#define LAMINA_DAEMON_H

struct conf;
struct msg_reader;
struct rpc_request;

struct conf	*daemon_start(int, char **, const char *);
struct conf	*daemon_load_conf(const char *);
void		 daemon_rpc_hello(struct rpc_request *, struct msg_reader *,
		    const char *);
void		 daemon_rpc_verbose(struct rpc_request *, struct msg_reader *);
int		 daemon_listen(const struct conf *, const char *,
		    const char *);

#endif
