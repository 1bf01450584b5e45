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
 * systemd notifications (see notify.h), sent with libsystemd's sd_notify.
 * The datagrams are exactly:
 *
 *	READY=1\nMAINPID=<pid>		notify_ready()
 *	STATUS=<text>			notify_status()
 *	STOPPING=1			notify_stopping()
 *	WATCHDOG=1			every WATCHDOG_USEC / 2
 *
 * The watchdog keep-alive is a persistent timer on the daemon's event loop,
 * not a thread: if the loop stalls, the pings stop and systemd restarts the
 * daemon, which is the point.  The functions return -1 with errno when a
 * datagram cannot be sent; the caller decides whether that matters.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "notify.h"

static struct event	*notify_wdev;	/* the watchdog timer, if running */

/* Map sd_notify's result to 0 (sent or nowhere to send) or -1. */
static int
notify_result(int r)
{
	if (r < 0) {
		errno = -r;
		return (-1);
	}
	return (0);
}

/* Tell systemd that start-up is complete, and which process is the main. */
int
notify_ready(void)
{
	return (notify_result(sd_notifyf(0, "READY=1\nMAINPID=%lu",
	    (unsigned long)getpid())));
}

/*
 * A one-line status shown by systemctl status.  Newlines become spaces, so
 * the text cannot smuggle in other assignments.
 */
int
notify_status(const char *fmt, ...)
{
	va_list	 ap;
	char	*text, *cp;
	int	 r;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		text = NULL;
	va_end(ap);
	if (text == NULL)
		return (-1);
	for (cp = text; *cp != '\0'; cp++) {
		if (*cp == '\n')
			*cp = ' ';
	}
	r = sd_notifyf(0, "STATUS=%s", text);
	free(text);
	return (notify_result(r));
}

/* Tell systemd that shutdown has begun. */
int
notify_stopping(void)
{
	return (notify_result(sd_notify(0, "STOPPING=1")));
}

/* The watchdog timer: one keep-alive. */
static void
notify_watchdog_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	(void)sd_notify(0, "WATCHDOG=1");
}

/*
 * If systemd wants watchdog keep-alives for this process (WATCHDOG_USEC and
 * WATCHDOG_PID), send one every half period from base.  Returns 0 whether
 * or not the watchdog is enabled, -1 if the timer cannot be set up.
 */
int
notify_watchdog_start(struct event_base *base)
{
	struct timeval	 tv;
	uint64_t	 usec;

	notify_watchdog_stop();
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return (0);
	usec /= 2;
	tv.tv_sec = usec / 1000000;
	tv.tv_usec = usec % 1000000;
	notify_wdev = event_new(base, -1, EV_PERSIST, notify_watchdog_cb,
	    NULL);
	if (notify_wdev == NULL)
		return (-1);
	if (event_add(notify_wdev, &tv) == -1) {
		event_free(notify_wdev);
		notify_wdev = NULL;
		return (-1);
	}
	return (0);
}

/* Stop the keep-alives; harmless if they never started. */
void
notify_watchdog_stop(void)
{
	if (notify_wdev != NULL) {
		event_free(notify_wdev);
		notify_wdev = NULL;
	}
}
