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
 * Tests for common/notify.c against a real notification socket: a datagram
 * socket in a private directory named by NOTIFY_SOCKET, as systemd sets up
 * for a Type=notify service.  Each datagram is compared byte for byte.  The
 * watchdog test runs an event loop for 260 ms with WATCHDOG_USEC at 100 ms
 * and counts the keep-alives the loop sent.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "notify.h"
#include "testlib.h"
#include "xmalloc.h"

static char	*dir;
static char	*path;
static int	 nfd = -1;

static void
setup(void)
{
	struct sockaddr_un	 sun;

	dir = testlib_tmpdir();
	path = testlib_path(dir, "notify");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(nfd, 0);
	ck_assert_int_eq(bind(nfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setenv("NOTIFY_SOCKET", path, 1);
}

static void
teardown(void)
{
	notify_watchdog_stop();
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	close(nfd);
	nfd = -1;
	testlib_rmtree(dir);
	free(path);
	free(dir);
}

/* The next datagram, NUL-terminated, or NULL if none within timeout_ms. */
static char *
next_datagram(int timeout_ms)
{
	static char	 buf[4096];
	ssize_t		 n;

	if (testlib_wait_fd(nfd, POLLIN, timeout_ms) <= 0)
		return (NULL);
	n = recv(nfd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return (buf);
}

START_TEST(test_ready)
{
	char	*want, *got;

	ck_assert_int_eq(notify_ready(), 0);
	xasprintf(&want, "READY=1\nMAINPID=%ld", (long)getpid());
	got = next_datagram(2000);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(want);
	ck_assert_ptr_null(next_datagram(0));
}
END_TEST

START_TEST(test_status_stopping)
{
	char	*got;

	ck_assert_int_eq(notify_status("serving %d clients", 3), 0);
	got = next_datagram(2000);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "STATUS=serving 3 clients");

	/* A newline cannot smuggle in another assignment. */
	ck_assert_int_eq(notify_status("a\nREADY=1"), 0);
	got = next_datagram(2000);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "STATUS=a READY=1");

	ck_assert_int_eq(notify_stopping(), 0);
	got = next_datagram(2000);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "STOPPING=1");
	ck_assert_ptr_null(next_datagram(0));
}
END_TEST

START_TEST(test_unset_is_noop)
{
	struct event_base	*base;

	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(notify_ready(), 0);
	ck_assert_int_eq(notify_status("x"), 0);
	ck_assert_int_eq(notify_stopping(), 0);
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_int_eq(notify_watchdog_start(base), 0);
	/* No watchdog wanted: no timer, so the loop has nothing to do. */
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	notify_watchdog_stop();
	event_base_free(base);
	ck_assert_ptr_null(next_datagram(0));
}
END_TEST

START_TEST(test_send_failure)
{
	char	*gone = testlib_path(dir, "gone");

	setenv("NOTIFY_SOCKET", gone, 1);
	ck_assert_int_eq(notify_ready(), -1);
	free(gone);
}
END_TEST

START_TEST(test_watchdog)
{
	struct event_base	*base;
	char			 pid[32], *got;
	int			 n = 0;

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_USEC", "100000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_int_eq(notify_watchdog_start(base), 0);
	testlib_loop_for(base, 260);	/* pings at 50 ms intervals */
	while ((got = next_datagram(0)) != NULL) {
		ck_assert_str_eq(got, "WATCHDOG=1");
		n++;
	}
	ck_assert_int_ge(n, 2);

	/* Stopped: the loop has nothing left to run. */
	notify_watchdog_stop();
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	event_base_free(base);
	ck_assert_ptr_null(next_datagram(0));
}
END_TEST

START_TEST(test_watchdog_other_pid)
{
	struct event_base	*base;
	char			 pid[32];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_USEC", "100000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_int_eq(notify_watchdog_start(base), 0);
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	notify_watchdog_stop();
	event_base_free(base);
}
END_TEST

static Suite *
notify_suite(void)
{
	Suite	*s = suite_create("notify");
	TCase	*tc = tcase_create("notify");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ready);
	tcase_add_test(tc, test_status_stopping);
	tcase_add_test(tc, test_unset_is_noop);
	tcase_add_test(tc, test_send_failure);
	tcase_add_test(tc, test_watchdog);
	tcase_add_test(tc, test_watchdog_other_pid);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(notify_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failures ? 1 : 0);
}
