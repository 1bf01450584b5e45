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
 * Logging: the exact lines on stderr (syslog priority prefix, program
 * name, strerror for the _warn and fatal forms), errno preserved, debug
 * lines only when verbose, long lines cut but still ended by a newline,
 * fatal and fatalx exiting 1; and the xmalloc family.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

static int	saved_stderr = -1;
static char	capfile[] = "/tmp/lamina-log-XXXXXX";
static int	capfd = -1;

/* Send stderr to a file until captured() reads it back. */
static void
capture(void)
{
	capfd = mkstemp(capfile);
	ck_assert_int_ne(capfd, -1);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ne(dup2(capfd, STDERR_FILENO), -1);
}

static char *
captured(void)
{
	static char	buf[16384];
	ssize_t		n;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	n = pread(capfd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(capfd);
	unlink(capfile);
	strcpy(capfile, "/tmp/lamina-log-XXXXXX");
	return (buf);
}

START_TEST(test_levels_and_prefixes)
{
	log_init("lamina-test", 0);
	capture();
	log_info("ingest: %d streams", 3);
	log_warnx("peer %s: bad type %d", "speed", 512);
	errno = ENOENT;
	log_warn("open %s", "/nonexistent");
	ck_assert_int_eq(errno, ENOENT);
	log_debug("not shown at verbosity 0");
	ck_assert_str_eq(captured(),
	    "<6>lamina-test: ingest: 3 streams\n"
	    "<4>lamina-test: peer speed: bad type 512\n"
	    "<4>lamina-test: open /nonexistent: No such file or directory\n");
}
END_TEST

START_TEST(test_verbosity_at_runtime)
{
	log_init("t", 0);
	ck_assert_int_eq(log_getverbose(), 0);
	capture();
	log_debug("hidden");
	log_setverbose(1);
	log_debug("shown %d", 1);
	log_setverbose(0);
	log_debug("hidden again");
	ck_assert_str_eq(captured(), "<7>t: shown 1\n");
	ck_assert_str_eq(log_procname(), "t");
}
END_TEST

START_TEST(test_errno_preserved)
{
	log_init("t", 1);
	capture();
	errno = EAGAIN;
	log_info("x");
	ck_assert_int_eq(errno, EAGAIN);
	log_warnx("y");
	ck_assert_int_eq(errno, EAGAIN);
	log_debug("z");
	ck_assert_int_eq(errno, EAGAIN);
	(void)captured();
}
END_TEST

START_TEST(test_long_line_cut)
{
	char	 big[10000], *out;
	size_t	 len;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_init("t", 0);
	capture();
	errno = EIO;
	log_warn("%s", big);
	log_info("after");
	out = captured();
	len = strchr(out, '\n') - out;
	ck_assert_uint_eq(len, 4094);		/* one line, cut, ended */
	ck_assert_str_eq(out + len + 1, "<6>t: after\n");
}
END_TEST

START_TEST(test_fatalx_exits)
{
	log_init("t", 0);
	fatalx("broken invariant %d", 7);
}
END_TEST

START_TEST(test_fatal_exits_with_errno)
{
	log_init("t", 0);
	errno = EACCES;
	fatal("open %s", "x");
}
END_TEST

START_TEST(test_xmalloc_family)
{
	char	*s, *p;
	int	*v;
	int	 n;

	s = xstrdup("lamina");
	ck_assert_str_eq(s, "lamina");
	p = xstrndup("lamina", 3);
	ck_assert_str_eq(p, "lam");
	free(p);
	n = xasprintf(&p, "%s-%d", s, 42);
	ck_assert_int_eq(n, 9);
	ck_assert_str_eq(p, "lamina-42");
	free(p);
	free(s);
	v = xcalloc(4, sizeof(*v));
	ck_assert_int_eq(v[3], 0);
	v = xreallocarray(v, 1000, sizeof(*v));
	v[999] = 1;
	free(v);
}
END_TEST

START_TEST(test_xreallocarray_overflow_dies)
{
	log_init("t", 0);
	(void)xreallocarray(NULL, SIZE_MAX / 2, 4);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("log");

	tcase_add_test(tc, test_levels_and_prefixes);
	tcase_add_test(tc, test_verbosity_at_runtime);
	tcase_add_test(tc, test_errno_preserved);
	tcase_add_test(tc, test_long_line_cut);
	tcase_add_test(tc, test_xmalloc_family);
	/* Exit tests need fork mode (not CK_FORK=no, as under valgrind). */
	if (getenv("CK_FORK") == NULL || strcmp(getenv("CK_FORK"), "no")) {
		tcase_add_exit_test(tc, test_fatalx_exits, 1);
		tcase_add_exit_test(tc, test_fatal_exits_with_errno, 1);
		tcase_add_exit_test(tc, test_xreallocarray_overflow_dies, 1);
	}
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(log_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? 1 : 0);
}
