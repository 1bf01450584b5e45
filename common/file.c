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
 * File system helpers.  A file or directory that is created must have its
 * parent directory fsync'd before its existence is durable (a rename or
 * creation lives in the directory, not in the file), so file_mkdirs()
 * syncs each parent it adds an entry to.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

/* fsync a directory, so that entries created in it are durable. */
int
file_fsync_dir(const char *path)
{
	int	fd, r, saved;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	r = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return (r);
}

/* fsync the directory that contains path. */
int
file_fsync_parent(const char *path)
{
	char	 buf[PATH_MAX];
	char	*slash;

	if (strlen(path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	strcpy(buf, path);
	if ((slash = strrchr(buf, '/')) == NULL)
		return (file_fsync_dir("."));
	if (slash == buf)
		slash[1] = '\0';
	else
		*slash = '\0';
	return (file_fsync_dir(buf));
}

/* Create path and any missing parents, durably. */
int
file_mkdirs(const char *path, mode_t mode)
{
	char		 buf[PATH_MAX];
	char		*p;
	struct stat	 sb;

	if (strlen(path) >= sizeof(buf) || path[0] == '\0') {
		errno = ENAMETOOLONG;
		return (-1);
	}
	strcpy(buf, path);
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		if (p[-1] == '/') {		/* "//" */
			if (*p == '\0')
				break;
			continue;
		}
		*p = '\0';
		if (mkdir(buf, mode) == 0) {
			if (file_fsync_parent(buf) == -1)
				return (-1);
		} else if (errno != EEXIST)
			return (-1);
		else if (stat(buf, &sb) == -1)
			return (-1);
		else if (!S_ISDIR(sb.st_mode)) {
			errno = ENOTDIR;
			return (-1);
		}
		if (path[p - buf] == '\0')
			break;
		*p = '/';
	}
	return (0);
}

/* Write all of buf at off, retrying short writes and EINTR. */
int
file_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		off += n;
		len -= n;
	}
	return (0);
}

/* Read up to len bytes at off; *got says how many (short at end of file). */
int
file_pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	*got = 0;
	while (len > 0) {
		n = pread(fd, p, len, (off_t)off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0)
			break;
		p += n;
		off += n;
		len -= n;
		*got += n;
	}
	return (0);
}

/* Write zeros over [from, to). */
int
file_write_zeros(int fd, uint64_t from, uint64_t to)
{
	static const uint8_t	 zeros[65536];
	size_t			 n;

	while (from < to) {
		n = to - from < sizeof(zeros) ? to - from : sizeof(zeros);
		if (file_pwrite_all(fd, zeros, n, from) == -1)
			return (-1);
		from += n;
	}
	return (0);
}
