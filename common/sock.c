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
 * Unix domain sockets (see sock.h).
 *
 * A listening socket is bound under a temporary name in the target
 * directory, given its mode and group, put into the listening state and only
 * then renamed over the final path, so a client never sees a socket file
 * with the wrong permissions or one that refuses connections.  A file
 * already at the path is replaced only if it is a socket nobody listens on
 * (ECONNREFUSED: the leftover of a crashed run).  A live socket means another
 * instance is running, and anything that is not a socket is somebody else's
 * file: both are errors, and neither is touched.  Between the check and the
 * rename another process could start; two daemons sharing one run directory
 * is a configuration error this does not try to arbitrate.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "sock.h"
#include "xmalloc.h"

#define SUN_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* Fill sun with path; -1 if it does not fit. */
static int
sock_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) > SUN_PATH_MAX)
		return (-1);
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return (0);
}

/*
 * Is anybody listening on the socket file at path?  Returns 1 if a connect
 * succeeds (or would, with a full backlog), 0 on ECONNREFUSED, -1 with
 * errno on any other failure.  The probe never blocks.
 */
static int
sock_probe(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, r, saved;

	if (sock_addr(&sun, path) == -1) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		r = 1;
	else if (errno == EAGAIN || errno == EINPROGRESS)
		r = 1;
	else if (errno == ECONNREFUSED)
		r = 0;
	else
		r = -1;
	saved = errno;
	close(fd);
	errno = saved;
	return (r);
}

/*
 * Make sure nothing but a stale socket is at path: 0 if path is free or was
 * a stale socket (now unlinked), -1 with *cause otherwise.
 */
static int
sock_clear(const char *path, char **cause)
{
	struct stat	 sb;

	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return (0);
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (!S_ISSOCK(sb.st_mode)) {
		xasprintf(cause, "%s: exists and is not a socket", path);
		return (-1);
	}
	switch (sock_probe(path)) {
	case 1:
		xasprintf(cause, "%s: already in use by a running process",
		    path);
		return (-1);
	case 0:
		if (unlink(path) == -1 && errno != ENOENT) {
			xasprintf(cause, "%s: removing stale socket: %s", path,
			    strerror(errno));
			return (-1);
		}
		return (0);
	default:
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
}

/*
 * The temporary name to bind to before the rename: PATH.tmp.PID, or
 * DIR/.tmp.PID if that is too long for sun_path.  NULL if neither fits.
 */
static char *
sock_tmpname(const char *path)
{
	const char	*slash;
	char		*tmp;
	long		 pid = (long)getpid();

	xasprintf(&tmp, "%s.tmp.%ld", path, pid);
	if (strlen(tmp) <= SUN_PATH_MAX)
		return (tmp);
	free(tmp);
	if ((slash = strrchr(path, '/')) == NULL)
		xasprintf(&tmp, ".tmp.%ld", pid);
	else
		xasprintf(&tmp, "%.*s/.tmp.%ld", (int)(slash - path), path,
		    pid);
	if (strlen(tmp) <= SUN_PATH_MAX)
		return (tmp);
	free(tmp);
	return (NULL);
}

/* Fail unless the directory that is to hold path exists. */
static int
sock_check_dir(const char *path, char **cause)
{
	const char	*slash;
	char		*dir;
	struct stat	 sb;
	int		 r = 0;

	if ((slash = strrchr(path, '/')) == NULL)
		return (0);
	if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, slash - path);
	if (stat(dir, &sb) == -1) {
		xasprintf(cause, "%s: directory %s: %s", path, dir,
		    strerror(errno));
		r = -1;
	} else if (!S_ISDIR(sb.st_mode)) {
		xasprintf(cause, "%s: %s is not a directory", path, dir);
		r = -1;
	}
	free(dir);
	return (r);
}

/*
 * Create a listening socket at path with the given mode and, unless gid is
 * (gid_t)-1, group.  Returns a non-blocking, close-on-exec fd, or -1 with
 * *cause.  The directory must exist.  A stale socket at path is replaced; a
 * live one or any other file is an error and left alone.
 */
int
sock_listen_unix(const char *path, mode_t mode, gid_t gid, int backlog,
    char **cause)
{
	struct sockaddr_un	 sun;
	char			*tmp;
	int			 fd, saved;
	const char		*what;

	if (strlen(path) > SUN_PATH_MAX || (tmp = sock_tmpname(path)) ==
	    NULL) {
		xasprintf(cause, "%s: path too long (at most %zu bytes)", path,
		    (size_t)SUN_PATH_MAX);
		return (-1);
	}
	if (sock_check_dir(path, cause) == -1 || sock_clear(path, cause) ==
	    -1 || sock_clear(tmp, cause) == -1) {
		free(tmp);
		return (-1);
	}
	(void)sock_addr(&sun, tmp);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		xasprintf(cause, "%s: socket: %s", path, strerror(errno));
		free(tmp);
		return (-1);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		xasprintf(cause, "%s: bind %s: %s", path, tmp,
		    strerror(saved));
		free(tmp);
		return (-1);
	}
	what = NULL;
	if (chmod(tmp, mode) == -1)
		what = "chmod";
	else if (gid != (gid_t)-1 && chown(tmp, (uid_t)-1, gid) == -1)
		what = "chown";
	else if (listen(fd, backlog) == -1)
		what = "listen";
	else if (rename(tmp, path) == -1)
		what = "rename";
	if (what != NULL) {
		saved = errno;
		close(fd);
		unlink(tmp);
		xasprintf(cause, "%s: %s: %s", path, what, strerror(saved));
		free(tmp);
		return (-1);
	}
	free(tmp);
	return (fd);
}

/*
 * Connect to the socket at path, blocking.  Returns a close-on-exec fd in
 * blocking mode, or -1 with *cause naming the path.
 */
int
sock_connect_unix(const char *path, char **cause)
{
	struct sockaddr_un	 sun;
	int			 fd, saved;

	if (sock_addr(&sun, path) == -1) {
		xasprintf(cause, "%s: path too long (at most %zu bytes)", path,
		    (size_t)SUN_PATH_MAX);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(cause, "%s: socket: %s", path, strerror(errno));
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		xasprintf(cause, "%s: %s", path, strerror(saved));
		return (-1);
	}
	return (fd);
}

/* Put fd in non-blocking mode. */
int
sock_set_nonblock(int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	if (flags & O_NONBLOCK)
		return (0);
	return (fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

/*
 * The listening socket systemd passed under the name (FileDescriptorName=
 * in the .socket unit), made non-blocking, or -1 if there is none.  The
 * environment is left in place so that a daemon with several sockets can
 * ask for each; passed fds are close-on-exec.
 */
int
sock_listen_activated(const char *name)
{
	char	**names = NULL;
	int	  n, i, fd = -1;

	if ((n = sd_listen_fds_with_names(0, &names)) <= 0) {
		free(names);
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (fd == -1 && names != NULL && names[i] != NULL &&
		    strcmp(names[i], name) == 0 &&
		    sd_is_socket_unix(SD_LISTEN_FDS_START + i, SOCK_STREAM, 1,
		    NULL, 0) > 0)
			fd = SD_LISTEN_FDS_START + i;
		if (names != NULL)
			free(names[i]);
	}
	free(names);
	if (fd != -1 && sock_set_nonblock(fd) == -1)
		return (-1);
	return (fd);
}
