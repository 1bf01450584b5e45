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
 * lamina-ingestd(8): accepts events over MessagePack-RPC (ingest.sock) and
 * Fluentd Forward v1 (forward.sock), checks them against their stream's
 * schema, appends them to the master dataset and acknowledges them once
 * they are durable.  The only writer of the master dataset.
 *
 * main() sets up (config, recovery of every stream, sockets), registers
 * the timers and signals, dispatches, and dies if the loop ever returns
 * other than by a clean shutdown.  SIGTERM: stop accepting, answer
 * everything in flight once it is durable, sync, exit 0.
 */

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "daemon.h"
#include "ingestd.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "rpc.h"
#include "xmalloc.h"

#define DRAIN_TIMEOUT_NS	(10LL * 1000000000)

int64_t
ingestd_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* The stream named name (not NUL-terminated), or NULL. */
struct istream *
ingestd_stream(struct ingestd *d, const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < d->nstreams; i++)
		if (strlen(d->streams[i].cs->name) == len &&
		    memcmp(d->streams[i].cs->name, name, len) == 0)
			return (&d->streams[i]);
	return (NULL);
}

/* Open and recover every stream; say what recovery did. */
static void
ingestd_open_streams(struct ingestd *d)
{
	struct master_opts	 o;
	struct master_recovery	 rep;
	struct istream		*st;
	char			*cause;
	size_t			 i;

	memset(&o, 0, sizeof(o));
	o.segment_max_bytes = d->conf->segment_max_bytes;
	o.segment_max_age_ms = d->conf->segment_max_age_ms;
	o.preallocate = d->conf->preallocate_bytes;
	o.verify_full = d->conf->verify == CONF_VERIFY_FULL;
	d->nstreams = d->conf->nstreams;
	d->streams = xcalloc(d->nstreams + 1, sizeof(*d->streams));
	d->unknown.qfd = -1;
	for (i = 0; i < d->nstreams; i++) {
		st = &d->streams[i];
		st->cs = &d->conf->streams[i];
		st->qfd = -1;
		notify_status("recovering stream %s", st->cs->name);
		st->ms = master_open(d->conf->data_dir, st->cs->name, &o, &rep,
		    &cause);
		if (st->ms == NULL)
			fatalx("%s: refusing to start: %s", st->cs->name,
			    cause);
		if (rep.catalog_repaired)
			log_warnx("%s: catalog: removed a torn last entry",
			    st->cs->name);
		if (rep.header_rewritten)
			log_warnx("%s: %s: header of a new segment was torn; "
			    "written again", st->cs->name, rep.active);
		if (rep.dropped_bytes > 0)
			log_warnx("%s: %s: truncated a torn tail: dropped %"
			    PRIu64 " bytes from byte %" PRIu64 " (%s)",
			    st->cs->name, rep.active, rep.dropped_bytes,
			    rep.dropped_at, rep.reason);
		if (chunks_recover(d, st, &cause) == -1)
			fatalx("%s: refusing to start: %s", st->cs->name,
			    cause);
		st->notified = rep.next_offset;
		log_info("%s: %zu sealed segments, active %s with %" PRIu64
		    " records, next offset %" PRIu64, st->cs->name,
		    rep.segments, rep.active, rep.records, rep.next_offset);
	}
}

/* SIGTERM, SIGINT: stop taking work, finish what is in flight, exit. */
static void
ingestd_signal_cb(int sig, short events, void *arg)
{
	struct ingestd	*d = arg;
	struct timeval	 tv = { 0, 10000 };

	(void)events;
	if (d->stopping)
		return;
	log_info("received %s: finishing what is in flight",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
	notify_stopping();
	d->stopping = 1;
	rpc_server_close_listener(d->rpc);
	if (d->fwd != NULL)
		rpc_server_close_listener(d->fwd);
	if (d->fwd_tcp != NULL)
		rpc_server_close_listener(d->fwd_tcp);
	d->drain_deadline_ns = ingestd_now() + DRAIN_TIMEOUT_NS;
	evtimer_add(d->drain, &tv);
}

/* While stopping: exit once everything is answered and sent. */
static void
ingestd_drain_cb(int fd, short events, void *arg)
{
	struct ingestd		*d = arg;
	struct rpc_stats	 rs, fs;
	struct timeval		 tv = { 0, 10000 };

	(void)fd;
	(void)events;
	rpc_server_stats(d->rpc, &rs);
	memset(&fs, 0, sizeof(fs));
	if (d->fwd != NULL)
		rpc_server_stats(d->fwd, &fs);
	if ((!commit_idle(d) || rs.out_queued + fs.out_queued > 0) &&
	    ingestd_now() < d->drain_deadline_ns) {
		evtimer_add(d->drain, &tv);
		return;
	}
	if (!commit_idle(d))
		log_warnx("stopping with work in flight after %lld s",
		    DRAIN_TIMEOUT_NS / 1000000000);
	event_base_loopexit(d->base, NULL);
}

static void
ingestd_housekeeping_cb(int fd, short events, void *arg)
{
	struct ingestd	*d = arg;

	(void)fd;
	(void)events;
	commit_housekeeping(d);
	if (d->conf->fsync == CONF_FSYNC_INTERVAL)
		commit_interval(d);
	notify_status("%zu streams, %" PRIu64 " fdatasyncs", d->nstreams,
	    d->fsyncs);
}

/* Sync and close everything at exit. */
static void
ingestd_shutdown(struct ingestd *d)
{
	size_t	 i;
	char	*cause;

	for (i = 0; i < d->nstreams; i++) {
		if (master_write(d->streams[i].ms, &cause) == -1 ||
		    master_sync(d->streams[i].ms, &cause) == -1)
			fatalx("%s", cause);
		master_close(d->streams[i].ms);
		quarantine_close(&d->streams[i]);
	}
	quarantine_close(&d->unknown);
	commit_free(d);
	ingestd_forward_free(d);
	rpc_server_free(d->rpc);
	rpc_server_free(d->fwd);
	rpc_server_free(d->fwd_tcp);
	chunks_free(d->chunks);
	event_free(d->ev_term);
	event_free(d->ev_int);
	event_free(d->housekeeping);
	event_free(d->drain);
	event_base_free(d->base);
	free(d->streams);
	conf_free(d->conf);
}

int
main(int argc, char **argv)
{
	struct ingestd	d;
	struct timeval	tv;
	int		fd;

	memset(&d, 0, sizeof(d));
	d.conf = daemon_start(argc, argv, "lamina-ingestd");
	d.started_ns = ingestd_now();
	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");

	/* 1. Set up: recover every stream, then listen. */
	d.chunks = chunks_new();
	commit_init(&d);
	ingestd_open_streams(&d);
	fd = daemon_listen(d.conf, d.conf->ingest_sock.path, "ingest");
	ingestd_rpc_start(&d, fd);
	ingestd_forward_start(&d);

	/* 2. Timers and signals. */
	d.ev_term = evsignal_new(d.base, SIGTERM, ingestd_signal_cb, &d);
	d.ev_int = evsignal_new(d.base, SIGINT, ingestd_signal_cb, &d);
	evsignal_add(d.ev_term, NULL);
	evsignal_add(d.ev_int, NULL);
	d.drain = evtimer_new(d.base, ingestd_drain_cb, &d);
	d.housekeeping = event_new(d.base, -1, EV_PERSIST,
	    ingestd_housekeeping_cb, &d);
	tv.tv_sec = 0;
	tv.tv_usec = 100000;
	if (d.conf->fsync == CONF_FSYNC_INTERVAL &&
	    d.conf->fsync_interval_ms < 100)
		tv.tv_usec = d.conf->fsync_interval_ms * 1000;
	evtimer_add(d.housekeeping, &tv);
	notify_watchdog_start(d.base);

	log_info("ready: %zu streams, ingest %s, forward %s", d.nstreams,
	    d.conf->ingest_sock.path, d.conf->forward_sock.path);
	notify_ready();

	/* 3. Dispatch. */
	if (event_base_dispatch(d.base) == -1 || !d.stopping)
		fatalx("event loop ended unexpectedly");

	/* 4. A clean stop. */
	notify_watchdog_stop();
	ingestd_shutdown(&d);
	log_info("stopped");
	return (0);
}
