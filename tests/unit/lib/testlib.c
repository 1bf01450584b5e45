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
 * Test helpers (see testlib.h).  Failures that leave a test unable to go on
 * (no temporary directory) abort with a message; the rest return -1 and
 * leave the verdict to the test.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "agg.h"
#include "conf.h"
#include "testlib.h"
#include "xmalloc.h"

/* A new private directory under $TMPDIR or /tmp; free the string. */
char *
testlib_tmpdir(void)
{
	const char	*base;
	char		*path;

	if ((base = getenv("TMPDIR")) == NULL || *base == '\0')
		base = "/tmp";
	xasprintf(&path, "%s/lamina-test.XXXXXX", base);
	if (mkdtemp(path) == NULL) {
		fprintf(stderr, "testlib_tmpdir: mkdtemp %s: %s\n", path,
		    strerror(errno));
		abort();
	}
	return (path);
}

static int
testlib_rm_one(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		return (rmdir(path) == -1 ? -1 : 0);
	return (unlink(path) == -1 ? -1 : 0);
}

/* Remove path and everything under it, not following symlinks. */
void
testlib_rmtree(const char *path)
{
	if (path == NULL)
		return;
	(void)nftw(path, testlib_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/name, allocated. */
char *
testlib_path(const char *dir, const char *name)
{
	char	*path;

	xasprintf(&path, "%s/%s", dir, name);
	return (path);
}

/* Wait up to timeout_ms for events on fd: revents, 0 on timeout. */
int
testlib_wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd	 pfd;
	int		 r;

	pfd.fd = fd;
	pfd.events = events;
	pfd.revents = 0;
	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r == -1 && errno == EINTR);
	if (r <= 0)
		return (r);
	return (pfd.revents);
}

/* Write all of buf to a blocking fd, without SIGPIPE on sockets. */
int
testlib_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		p += n;
		len -= n;
	}
	return (0);
}

/*
 * Read what is available within timeout_ms: the byte count, 0 at EOF, -1
 * on error or timeout (errno ETIMEDOUT).
 */
ssize_t
testlib_read_some(int fd, void *buf, size_t len, int timeout_ms)
{
	ssize_t	 n;

	if (testlib_wait_fd(fd, POLLIN, timeout_ms) <= 0) {
		errno = ETIMEDOUT;
		return (-1);
	}
	do {
		n = read(fd, buf, len);
	} while (n == -1 && errno == EINTR);
	return (n);
}

/*
 * Wait for EOF on fd within timeout_ms, discarding data: 0 at EOF (or a
 * connection reset), -1 otherwise.
 */
int
testlib_read_eof(int fd, int timeout_ms)
{
	char	 buf[4096];
	ssize_t	 n;

	for (;;) {
		n = testlib_read_some(fd, buf, sizeof(buf), timeout_ms);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return (0);
		if (n == -1)
			return (-1);
	}
}

static void
testlib_deadline_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	*(int *)arg = 1;
}

/*
 * Run base until cond(arg) is true or timeout_ms passes: 0 if cond holds,
 * -1 on timeout.  A timer bounds each wait, so this never hangs.
 */
int
testlib_loop_until(struct event_base *base, int (*cond)(void *), void *arg,
    int timeout_ms)
{
	struct event	*ev;
	struct timeval	 tv;
	int		 expired = 0;

	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	ev = evtimer_new(base, testlib_deadline_cb, &expired);
	evtimer_add(ev, &tv);
	while (!cond(arg) && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(ev);
	return (cond(arg) ? 0 : -1);
}

/* Run base for ms milliseconds of its own timekeeping. */
void
testlib_loop_for(struct event_base *base, int ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/*
 * Load a configuration made of body (streams, views...) after data_dir and
 * run_dir set to dir; it must load without an error.
 */
struct conf *
testlib_conf(const char *dir, const char *body)
{
	struct conf	*c;
	FILE		*f;
	char		*path, **errs;
	size_t		 n, i;

	path = testlib_path(dir, "lamina.yaml");
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "data_dir: %s\nrun_dir: %s\n%s", dir, dir, body);
	ck_assert_int_eq(fclose(f), 0);
	c = conf_load(path, &errs, &n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s\n", errs[i]);
	ck_assert_msg(c != NULL && n == 0, "%s: %zu errors", path, n);
	free(path);
	return (c);
}

/* The aggregation view of c's view name, which must exist. */
struct agg_view *
testlib_view(const struct conf *c, const char *name)
{
	const struct conf_view	*cv;

	ck_assert_ptr_nonnull(cv = conf_find_view(c, name));
	return (agg_view_new(c, cv));
}

/* Hex digits (spaces ignored) into out; returns the length. */
size_t
testlib_unhex(const char *hex, uint8_t *out)
{
	size_t		n = 0;
	unsigned int	byte;

	while (*hex != '\0') {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		ck_assert_int_eq(sscanf(hex, "%2x", &byte), 1);
		out[n++] = (uint8_t)byte;
		hex += 2;
	}
	return (n);
}
