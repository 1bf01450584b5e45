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
 * Logging for the daemons and the CLI, after OpenSMTPD's log.h.  Lines go to
 * stderr with a syslog priority prefix ("<3>") that journald understands,
 * then the program name.  Every function preserves errno.  log_warn and
 * fatal append strerror(errno); log_warnx and fatalx do not.  common/ never
 * logs: it returns -1 with a cause and the caller decides.
 */

#ifndef LAMINA_LOG_H
#define LAMINA_LOG_H

#include <stdarg.h>

#define LOG_PREFIX_ERR		"<3>"
#define LOG_PREFIX_WARNING	"<4>"
#define LOG_PREFIX_INFO		"<6>"
#define LOG_PREFIX_DEBUG	"<7>"

void	log_init(const char *, int);
void	log_setverbose(int);
int	log_getverbose(void);
const char *log_procname(void);
void	log_warn(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	log_warnx(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	log_info(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	log_debug(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2), __noreturn__));
void	fatalx(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2), __noreturn__));

#endif
