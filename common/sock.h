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
 * Unix domain sockets: listening sockets that appear atomically with the
 * right mode and group, replacing only a stale file left by a crashed run,
 * blocking connects for clients, and systemd socket activation.
 *
 * Every function that takes a char **cause fills it on failure with a
 * string that names the path; the caller frees it.
 */

#ifndef LAMINA_SOCK_H
#define LAMINA_SOCK_H

#include <sys/types.h>

int	sock_listen_unix(const char *, mode_t, gid_t, int, char **);
int	sock_connect_unix(const char *, char **);
int	sock_set_nonblock(int);
int	sock_listen_activated(const char *);

#endif
