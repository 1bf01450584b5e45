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
 * systemd readiness and watchdog notifications (sd_notify(3)) for
 * Type=notify units.  Every function is a harmless no-op returning 0 when
 * NOTIFY_SOCKET is unset, so daemons call them unconditionally.
 */

#ifndef LAMINA_NOTIFY_H
#define LAMINA_NOTIFY_H

struct event_base;

int	notify_ready(void);
int	notify_status(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
int	notify_stopping(void);
int	notify_watchdog_start(struct event_base *);
void	notify_watchdog_stop(void);

#endif
