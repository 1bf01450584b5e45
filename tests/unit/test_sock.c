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
 * Tests for common/sock.c on real sockets in a private directory: the mode
 * and group of a new socket, the stale-socket rules, the exact error
 * messages, and socket activation through LISTEN_FDS with descriptors
 * placed at 3 and 4 as systemd would.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "sock.h"
#include "testlib.h"
#include "xmalloc.h"

static char	*dir;

static void
setup(void)
{
	dir = testlib_tmpdir();
}

static void
teardown(void)
{
	testlib_rmtree(dir);
	free(dir);
	dir = NULL;
}

/* Entries in dir, not counting . and .. */
static int
count_entries(const char *d)
{
	DIR		*dp;
	struct dirent	*de;
	int		 n = 0;

	ck_assert_ptr_nonnull(dp = opendir(d));
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(dp);
	return (n);
}

/* Bind a socket at path and close it without unlinking: a stale file. */
static void
make_stale(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
}

/* A connect to path works; the accepted end is drained and closed. */
static void
assert_connects(const char *path, int lfd)
{
	char	*cause = NULL;
	int	 fd, afd;

	fd = sock_connect_unix(path, &cause);
	ck_assert_msg(fd >= 0, "connect: %s", cause);
	ck_assert_int_ne(testlib_wait_fd(lfd, POLLIN, 2000), 0);
	ck_assert_int_ge(afd = accept(lfd, NULL, NULL), 0);
	close(afd);
	close(fd);
}

START_TEST(test_listen_mode)
{
	char		*path = testlib_path(dir, "a.sock");
	char		*cause = NULL;
	struct stat	 sb;
	int		 fd;

	fd = sock_listen_unix(path, 0660, getegid(), 16, &cause);
	ck_assert_msg(fd >= 0, "listen: %s", cause);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 07777, 0660);
	ck_assert_int_eq(sb.st_gid, getegid());
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(count_entries(dir), 1);	/* no temporary left */
	assert_connects(path, fd);
	close(fd);
	free(path);

	path = testlib_path(dir, "b.sock");
	fd = sock_listen_unix(path, 0600, (gid_t)-1, 16, &cause);
	ck_assert_msg(fd >= 0, "listen: %s", cause);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0600);
	close(fd);
	free(path);
}
END_TEST

START_TEST(test_stale_replaced)
{
	char		*path = testlib_path(dir, "s.sock");
	char		*cause = NULL;
	struct stat	 sb;
	int		 fd;

	make_stale(path);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	fd = sock_listen_unix(path, 0600, (gid_t)-1, 16, &cause);
	ck_assert_msg(fd >= 0, "listen: %s", cause);
	assert_connects(path, fd);
	ck_assert_int_eq(count_entries(dir), 1);
	close(fd);
	free(path);
}
END_TEST

START_TEST(test_live_refused)
{
	char	*path = testlib_path(dir, "live.sock");
	char	*cause = NULL, *want;
	int	 fd;

	ck_assert_int_ge(fd = sock_listen_unix(path, 0600, (gid_t)-1, 16,
	    &cause), 0);
	ck_assert_int_eq(sock_listen_unix(path, 0600, (gid_t)-1, 16, &cause),
	    -1);
	xasprintf(&want, "%s: already in use by a running process", path);
	ck_assert_str_eq(cause, want);
	free(cause);
	free(want);
	assert_connects(path, fd);	/* the running one is untouched */
	ck_assert_int_eq(count_entries(dir), 1);
	close(fd);
	free(path);
}
END_TEST

START_TEST(test_not_socket_refused)
{
	char		*path = testlib_path(dir, "file");
	char		*cause = NULL, *want, buf[16];
	int		 fd;
	ssize_t		 n;

	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT, 0644), 0);
	ck_assert_int_eq(write(fd, "keep", 4), 4);
	close(fd);
	ck_assert_int_eq(sock_listen_unix(path, 0600, (gid_t)-1, 16, &cause),
	    -1);
	xasprintf(&want, "%s: exists and is not a socket", path);
	ck_assert_str_eq(cause, want);
	free(cause);
	free(want);
	ck_assert_int_ge(fd = open(path, O_RDONLY), 0);
	n = read(fd, buf, sizeof(buf));
	ck_assert_int_eq(n, 4);
	ck_assert(memcmp(buf, "keep", 4) == 0);
	close(fd);
	ck_assert_int_eq(count_entries(dir), 1);
	free(path);
}
END_TEST

START_TEST(test_too_long)
{
	char	 name[200], *path, *cause = NULL, *want;

	memset(name, 'x', 150);
	name[150] = '\0';
	path = testlib_path(dir, name);
	ck_assert_int_eq(sock_listen_unix(path, 0600, (gid_t)-1, 16, &cause),
	    -1);
	xasprintf(&want, "%s: path too long (at most 107 bytes)", path);
	ck_assert_str_eq(cause, want);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(sock_connect_unix(path, &cause), -1);
	ck_assert_str_eq(cause, want);
	free(cause);
	free(want);
	free(path);
}
END_TEST

/* A path that fits sun_path when PATH.tmp.PID does not. */
START_TEST(test_long_path_tmp_fallback)
{
	char	 name[120], *path, *cause = NULL;
	size_t	 n;
	int	 fd;

	n = 107 - strlen(dir) - 1;
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, sizeof(name));
	memset(name, 'y', n);
	name[n] = '\0';
	path = testlib_path(dir, name);
	ck_assert_uint_eq(strlen(path), 107);
	fd = sock_listen_unix(path, 0600, (gid_t)-1, 16, &cause);
	ck_assert_msg(fd >= 0, "listen: %s", cause);
	assert_connects(path, fd);
	ck_assert_int_eq(count_entries(dir), 1);
	close(fd);
	free(path);
}
END_TEST

START_TEST(test_missing_dir)
{
	char	*sub = testlib_path(dir, "nonexistent");
	char	*path = testlib_path(sub, "s.sock");
	char	*cause = NULL, *want;

	ck_assert_int_eq(sock_listen_unix(path, 0600, (gid_t)-1, 16, &cause),
	    -1);
	xasprintf(&want, "%s: directory %s: No such file or directory", path,
	    sub);
	ck_assert_str_eq(cause, want);
	ck_assert_int_eq(count_entries(dir), 0);	/* not created */
	free(cause);
	free(want);
	free(path);
	free(sub);
}
END_TEST

START_TEST(test_connect_missing)
{
	char	*path = testlib_path(dir, "none.sock");
	char	*cause = NULL, *want;

	ck_assert_int_eq(sock_connect_unix(path, &cause), -1);
	xasprintf(&want, "%s: No such file or directory", path);
	ck_assert_str_eq(cause, want);
	free(cause);
	free(want);

	make_stale(path);
	ck_assert_int_eq(sock_connect_unix(path, &cause), -1);
	xasprintf(&want, "%s: Connection refused", path);
	ck_assert_str_eq(cause, want);
	free(cause);
	free(want);
	free(path);
}
END_TEST

START_TEST(test_set_nonblock)
{
	int	 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
	ck_assert_int_eq(sock_set_nonblock(sv[0]), 0);
	ck_assert(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	ck_assert_int_eq(sock_set_nonblock(sv[0]), 0);
	ck_assert_int_eq(sock_set_nonblock(-1), -1);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Descriptors the test moves aside to put its own at 3 and 4. */
struct saved_fd {
	int	 fd;
	int	 copy;
	int	 flags;
};

static void
save_fd(struct saved_fd *s, int fd)
{
	s->fd = fd;
	s->copy = -1;
	if ((s->flags = fcntl(fd, F_GETFD)) != -1)
		ck_assert_int_ge(s->copy = fcntl(fd, F_DUPFD_CLOEXEC, 20), 0);
}

static void
restore_fd(struct saved_fd *s)
{
	if (s->copy == -1) {
		close(s->fd);
		return;
	}
	ck_assert_int_eq(dup2(s->copy, s->fd), s->fd);
	fcntl(s->fd, F_SETFD, s->flags);
	close(s->copy);
}

START_TEST(test_activation)
{
	char		*path = testlib_path(dir, "act.sock");
	char		*cause = NULL, pid[32];
	struct saved_fd	 s3, s4;
	int		 lfd, sv[2], fd;

	ck_assert_int_ge(lfd = sock_listen_unix(path, 0600, (gid_t)-1, 16,
	    &cause), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(fcntl(lfd, F_SETFL, 0), 0);	/* blocking */

	save_fd(&s3, 3);
	save_fd(&s4, 4);
	ck_assert_int_eq(dup2(lfd, 3), 3);
	ck_assert_int_eq(dup2(sv[0], 4), 4);
	if (lfd != 3 && lfd != 4)
		close(lfd);
	if (sv[0] != 3 && sv[0] != 4)
		close(sv[0]);

	/* No environment: nothing passed. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	ck_assert_int_eq(sock_listen_activated("ingest"), -1);

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_FDNAMES", "ingest:other", 1);
	ck_assert_int_eq(sock_listen_activated("forward"), -1);
	/* "other" is a socket, but not a listening one. */
	ck_assert_int_eq(sock_listen_activated("other"), -1);
	fd = sock_listen_activated("ingest");
	ck_assert_int_eq(fd, 3);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(sock_listen_activated("ingest"), 3); /* env kept */
	assert_connects(path, 3);

	/* For another process: ignored. */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("LISTEN_PID", pid, 1);
	ck_assert_int_eq(sock_listen_activated("ingest"), -1);

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	restore_fd(&s4);
	restore_fd(&s3);
	close(sv[1]);
	free(path);
}
END_TEST

static Suite *
sock_suite(void)
{
	Suite	*s = suite_create("sock");
	TCase	*tc = tcase_create("sock");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_listen_mode);
	tcase_add_test(tc, test_stale_replaced);
	tcase_add_test(tc, test_live_refused);
	tcase_add_test(tc, test_not_socket_refused);
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_long_path_tmp_fallback);
	tcase_add_test(tc, test_missing_dir);
	tcase_add_test(tc, test_connect_missing);
	tcase_add_test(tc, test_set_nonblock);
	tcase_add_test(tc, test_activation);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(sock_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failures ? 1 : 0);
}
