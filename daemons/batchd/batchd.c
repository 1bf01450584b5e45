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
 * lamina-batchd(8): keeps the batch views in SQLite from the sealed
 * segments of the master dataset, on an interval (batch.interval) and on
 * request, one run at a time on a runner thread so the event loop never
 * blocks.  SIGTERM: the running run (if any) stops once the chunk it is
 * writing is committed, then exit 0; the next run goes on from there, so
 * that a long rebuild does not hold up a stop.  SIGKILL at any point is
 * safe too, each chunk being one transaction.
 */

#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "batchd.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "rpc.h"
#include "xmalloc.h"

#define DRAIN_TIMEOUT_NS	(5LL * 1000000000)	/* to send answers */

/* Ask the runner for a run (after the current one, if one runs). */
void
batchd_request_run(struct batchd *d)
{
	pthread_mutex_lock(&d->sh.mu);
	d->sh.want_run = 1;
	pthread_cond_signal(&d->sh.cv);
	pthread_mutex_unlock(&d->sh.mu);
}

static void
batchd_timer_cb(int fd, short events, void *arg)
{
	struct batchd	*d = arg;

	(void)fd;
	(void)events;
	if (!d->stopping)
		batchd_request_run(d);
}

/* Stopping: leave the loop once every answer is sent, or after a while. */
static void
batchd_drain_cb(int fd, short events, void *arg)
{
	struct batchd		*d = arg;
	struct rpc_stats	 rs;
	struct timeval		 tv = { 0, 10000 };

	(void)fd;
	(void)events;
	rpc_server_stats(d->rpc, &rs);
	if (rs.out_queued > 0 && batchd_now() < d->drain_deadline_ns) {
		evtimer_add(d->ev_drain, &tv);
		return;
	}
	event_base_loopexit(d->base, NULL);
}

/* Stopping, and no run left: answer whoever waits, send, then leave. */
static void
batchd_stop_loop(struct batchd *d)
{
	struct timeval	tv = { 0, 0 };

	batchd_rpc_stopping(d);
	d->drain_deadline_ns = batchd_now() + DRAIN_TIMEOUT_NS;
	evtimer_add(d->ev_drain, &tv);
}

/* The runner finished a run. */
static void
batchd_done_cb(int fd, short events, void *arg)
{
	struct batchd	*d = arg;
	uint64_t	 v;

	(void)events;
	if (read(fd, &v, sizeof(v)) == -1)
		return;
	batchd_run_done(d);
	pthread_mutex_lock(&d->sh.mu);
	v = d->sh.runs_done;
	pthread_mutex_unlock(&d->sh.mu);
	notify_status("run %llu done", (unsigned long long)v);
	if (d->stopping) {
		pthread_mutex_lock(&d->sh.mu);
		v = d->sh.running || d->sh.want_run;
		pthread_mutex_unlock(&d->sh.mu);
		if (!v)
			batchd_stop_loop(d);
	}
}

static void
batchd_signal_cb(int sig, short events, void *arg)
{
	struct batchd	*d = arg;
	int		 running;

	(void)events;
	if (d->stopping)
		return;
	log_info("received %s: stopping once the chunk being written is "
	    "committed", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	notify_stopping();
	d->stopping = 1;
	rpc_server_close_listener(d->rpc);
	pthread_mutex_lock(&d->sh.mu);
	d->sh.want_run = 0;
	d->sh.interrupt = 1;
	running = d->sh.running;
	pthread_mutex_unlock(&d->sh.mu);
	if (!running)
		batchd_stop_loop(d);
}

int
main(int argc, char **argv)
{
	struct batchd	 d;
	struct timeval	 tv;
	char		*cause;
	size_t		 i;
	int		 fd;

	memset(&d, 0, sizeof(d));
	d.conf = daemon_start(argc, argv, "lamina-batchd");
	d.started_ns = batchd_now();
	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	pthread_mutex_init(&d.sh.mu, NULL);
	pthread_cond_init(&d.sh.cv, NULL);
	TAILQ_INIT(&d.waiters);
	TAILQ_INIT(&d.subs);

	/* 1. Set up: the database, the runner, the socket. */
	if (batchd_open_store(&d, &cause) == -1)
		fatalx("refusing to start: %s", cause);
	if ((d.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	d.ev_done = event_new(d.base, d.efd, EV_READ | EV_PERSIST,
	    batchd_done_cb, &d);
	event_add(d.ev_done, NULL);
	if ((errno = pthread_create(&d.runner, NULL, batchd_runner, &d)) != 0)
		fatal("pthread_create");
	fd = daemon_listen(d.conf, d.conf->batch_sock.path, "batch");
	batchd_rpc_start(&d, fd);

	/* 2. Timers and signals; a first run at once. */
	d.ev_term = evsignal_new(d.base, SIGTERM, batchd_signal_cb, &d);
	d.ev_int = evsignal_new(d.base, SIGINT, batchd_signal_cb, &d);
	evsignal_add(d.ev_term, NULL);
	evsignal_add(d.ev_int, NULL);
	d.ev_timer = event_new(d.base, -1, EV_PERSIST, batchd_timer_cb, &d);
	d.ev_drain = evtimer_new(d.base, batchd_drain_cb, &d);
	tv.tv_sec = (time_t)(d.conf->batch_interval_ms / 1000);
	tv.tv_usec = (suseconds_t)(d.conf->batch_interval_ms % 1000) * 1000;
	evtimer_add(d.ev_timer, &tv);
	notify_watchdog_start(d.base);
	batchd_request_run(&d);

	log_info("ready: %zu views, every %llu ms, %d worker%s, socket %s",
	    d.conf->nviews, (unsigned long long)d.conf->batch_interval_ms,
	    d.conf->batch_workers, d.conf->batch_workers == 1 ? "" : "s",
	    d.conf->batch_sock.path);
	notify_ready();

	/* 3. Dispatch. */
	if (event_base_dispatch(d.base) == -1 || !d.stopping)
		fatalx("event loop ended unexpectedly");

	/* 4. A clean stop: the runner ends after its run. */
	notify_watchdog_stop();
	pthread_mutex_lock(&d.sh.mu);
	d.sh.quit = 1;
	pthread_cond_signal(&d.sh.cv);
	pthread_mutex_unlock(&d.sh.mu);
	pthread_join(d.runner, NULL);
	batchd_rpc_free(&d);
	rpc_server_free(d.rpc);
	event_free(d.ev_done);
	event_free(d.ev_timer);
	event_free(d.ev_drain);
	event_free(d.ev_term);
	event_free(d.ev_int);
	event_base_free(d.base);
	close(d.efd);
	for (i = 0; i < d.sh.nviews; i++) {
		free(d.sh.views[i].name);
		free(d.sh.views[i].stream);
	}
	free(d.sh.views);
	for (i = 0; i < d.sh.nrecompute; i++)
		free(d.sh.recompute[i]);
	free(d.sh.recompute);
	conf_free(d.conf);
	log_info("stopped");
	return (0);
}
