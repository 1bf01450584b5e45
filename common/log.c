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
 * Logging to stderr with syslog priority prefixes.  The level is checked
 * before anything is formatted, so debug calls cost a comparison when
 * verbosity is low.  Verbosity can be changed at runtime with
 * log_setverbose().  Each line is written with a single write(2) so lines of
 * concurrent threads do not interleave.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char	*log_name = "lamina";
static int		 log_verbose;

static void	log_vwrite(const char *, int, const char *, va_list)
		    __attribute__((__format__(__printf__, 3, 0)));

/* Set the program name that starts every line and the verbosity. */
void
log_init(const char *name, int verbose)
{
	log_name = name;
	log_verbose = verbose;
}

/* Change verbosity: 0 logs info and above, 1 or more adds debug. */
void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

const char *
log_procname(void)
{
	return (log_name);
}

/* Format one line and write it; errnum >= 0 appends strerror(errnum). */
static void
log_vwrite(const char *prefix, int errnum, const char *fmt, va_list ap)
{
	char	 line[4096];
	int	 n, m;

	n = snprintf(line, sizeof(line), "%s%s: ", prefix, log_name);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (errnum >= 0) {
		m = snprintf(line + n, sizeof(line) - n, ": %s",
		    strerror(errnum));
		if (m > 0)
			n += m;
		if ((size_t)n >= sizeof(line) - 1)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_PREFIX_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_PREFIX_WARNING, -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_PREFIX_INFO, -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_PREFIX_DEBUG, -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Log with strerror(errno) and exit 1. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_PREFIX_ERR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_PREFIX_ERR, -1, fmt, ap);
	va_end(ap);
	exit(1);
}
