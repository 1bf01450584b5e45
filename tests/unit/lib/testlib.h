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
 * Helpers shared by the unit tests: private temporary directories, waiting
 * on descriptors with a time limit, and running an event loop until a
 * condition holds or a deadline passes.  Nothing here sleeps: every wait is
 * on readiness or on the event loop, bounded by a timeout.
 */

#ifndef LAMINA_TESTLIB_H
#define LAMINA_TESTLIB_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct agg_view;
struct conf;
struct event_base;

char	*testlib_tmpdir(void);
struct conf *testlib_conf(const char *, const char *);
struct agg_view *testlib_view(const struct conf *, const char *);
size_t	 testlib_unhex(const char *, uint8_t *);
void	 testlib_rmtree(const char *);
char	*testlib_path(const char *, const char *);
int	 testlib_wait_fd(int, short, int);
int	 testlib_write_all(int, const void *, size_t);
ssize_t	 testlib_read_some(int, void *, size_t, int);
int	 testlib_read_eof(int, int);
int	 testlib_loop_until(struct event_base *, int (*)(void *), void *,
	    int);
void	 testlib_loop_for(struct event_base *, int);

#endif
