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
 * The MessagePack-RPC methods of lamina-batchd on batch.sock (see
 * common/proto.h, docs/PROTOCOL.md): hello, status, verbose, run,
 * recompute, subscribe, and the published notification sent after a run
 * that moved a published view.
 */

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "batchd.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "rpc.h"
#include "version.h"
#include "xmalloc.h"

/* hello and verbose: as every daemon (common/daemon.c). */
static void
rpc_hello(struct rpc_request *req, struct msg_reader *p, void *arg)
{
	(void)arg;
	daemon_rpc_hello(req, p, "batchd");
}

static void
rpc_verbose(struct rpc_request *req, struct msg_reader *p, void *arg)
{
	(void)arg;
	daemon_rpc_verbose(req, p);
}

/* The views' published state: {view: {stream, horizon, fingerprint}}. */
static void
pack_published(struct batchd *d, msgpack_packer *pk)
{
	struct batchd_viewstat	*vs;
	size_t			 i;

	msgpack_pack_map(pk, d->sh.nviews);
	for (i = 0; i < d->sh.nviews; i++) {
		vs = &d->sh.views[i];
		msg_pack_str(pk, vs->name);
		msgpack_pack_map(pk, 3);
		msg_pack_kv_str(pk, "stream", vs->stream);
		msg_pack_kv_uint(pk, "horizon", vs->horizon);
		msg_pack_kv_str(pk, "fingerprint", vs->fingerprint);
	}
}

static void
pack_run(const struct batchd_runstat *r, msgpack_packer *pk)
{
	msgpack_pack_map(pk, 8);
	msg_pack_kv_uint(pk, "run", r->number);
	msg_pack_kv_uint(pk, "segments", r->segments);
	msg_pack_kv_uint(pk, "events", r->events);
	msg_pack_kv_uint(pk, "rows", r->rows);
	msg_pack_kv_double(pk, "duration_ms", r->duration_ns / 1e6);
	msg_pack_kv_double(pk, "events_per_s", r->duration_ns > 0 ?
	    r->events / (r->duration_ns / 1e9) : 0.0);
	msg_pack_kv_uint(pk, "switched", r->switched);
	msg_pack_kv_str(pk, "error", r->failed ? r->error : "");
}

/* status [] -> map */
static void
rpc_status(struct rpc_request *req, struct msg_reader *p, void *arg)
{
	struct batchd		*d = arg;
	struct batchd_viewstat	*vs;
	msgpack_packer		*pk;
	uint32_t		 n;
	size_t			 i;

	if (msg_get_array(p, &n) == -1 || n != 0 || msg_end(p) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS,
		    "status: expected no params");
		return;
	}
	pk = rpc_reply_begin(req);
	pthread_mutex_lock(&d->sh.mu);
	msgpack_pack_map(pk, 10);
	msg_pack_kv_str(pk, "daemon", "batchd");
	msg_pack_kv_str(pk, "version", LAMINA_VERSION);
	msg_pack_kv_int(pk, "pid", getpid());
	msg_pack_kv_double(pk, "uptime_s",
	    (batchd_now() - d->started_ns) / 1e9);
	msg_pack_kv_uint(pk, "interval_ms", d->conf->batch_interval_ms);
	msg_pack_kv_int(pk, "workers", d->conf->batch_workers);
	msg_pack_str(pk, "running");
	if (d->sh.running)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	msg_pack_kv_uint(pk, "runs", d->sh.runs_done);
	msg_pack_str(pk, "last_run");
	pack_run(&d->sh.last, pk);
	msg_pack_str(pk, "views");
	msgpack_pack_map(pk, d->sh.nviews);
	for (i = 0; i < d->sh.nviews; i++) {
		vs = &d->sh.views[i];
		msg_pack_str(pk, vs->name);
		msgpack_pack_map(pk, 11);
		msg_pack_kv_str(pk, "stream", vs->stream);
		msg_pack_kv_str(pk, "fingerprint", vs->fingerprint);
		msg_pack_kv_uint(pk, "horizon", vs->horizon);
		msg_pack_kv_uint(pk, "segments", vs->segments);
		msg_pack_kv_uint(pk, "rows", vs->rows);
		msg_pack_kv_uint(pk, "events", vs->events);
		msg_pack_kv_uint(pk, "lag", vs->lag);
		msg_pack_str(pk, "building");
		if (vs->building)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		msg_pack_kv_uint(pk, "build_horizon", vs->build_horizon);
		msg_pack_kv_uint(pk, "build_rows", vs->build_rows);
		msg_pack_kv_int(pk, "published_ns", vs->published_ns);
	}
	pthread_mutex_unlock(&d->sh.mu);
	rpc_reply_end(req);
}

/* Answer req when the next run to start has finished. */
static void
wait_next_run(struct batchd *d, struct rpc_request *req)
{
	struct batchd_waiter	*w;

	w = xcalloc(1, sizeof(*w));
	w->req = req;
	pthread_mutex_lock(&d->sh.mu);
	d->sh.want_run = 1;
	w->run = d->sh.runs_started + 1;
	pthread_cond_signal(&d->sh.cv);
	pthread_mutex_unlock(&d->sh.mu);
	TAILQ_INSERT_TAIL(&d->waiters, w, entry);
}

/* run [] -> the summary of the next run, once it has finished */
static void
rpc_run(struct rpc_request *req, struct msg_reader *p, void *arg)
{
	struct batchd	*d = arg;
	uint32_t	 n;

	if (msg_get_array(p, &n) == -1 || n != 0 || msg_end(p) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS,
		    "run: expected no params");
		return;
	}
	if (d->stopping) {
		rpc_reply_error(req, PROTO_E_UNAVAILABLE,
		    "run: lamina-batchd is shutting down");
		return;
	}
	wait_next_run(d, req);
}

/* recompute [view] -> as run */
static void
rpc_recompute(struct rpc_request *req, struct msg_reader *p, void *arg)
{
	struct batchd	*d = arg;
	const char	*name;
	size_t		 len, i;
	uint32_t	 n;
	char		 shown[RPC_PRINTABLE_MAX];

	if (msg_get_array(p, &n) == -1 || n != 1 ||
	    msg_get_str(p, &name, &len) == -1 || msg_end(p) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS,
		    "recompute: expected [view]");
		return;
	}
	for (i = 0; i < d->conf->nviews; i++)
		if (strlen(d->conf->views[i].name) == len &&
		    memcmp(d->conf->views[i].name, name, len) == 0)
			break;
	if (i == d->conf->nviews) {
		rpc_reply_error(req, PROTO_E_NO_VIEW, "recompute: no view %s",
		    rpc_printable(shown, sizeof(shown), name, len));
		return;
	}
	if (d->stopping) {
		rpc_reply_error(req, PROTO_E_UNAVAILABLE,
		    "recompute: lamina-batchd is shutting down");
		return;
	}
	log_info("view %s: recompute asked for", d->conf->views[i].name);
	pthread_mutex_lock(&d->sh.mu);
	d->sh.recompute = xreallocarray(d->sh.recompute, d->sh.nrecompute + 1,
	    sizeof(*d->sh.recompute));
	d->sh.recompute[d->sh.nrecompute++] = xstrdup(d->conf->views[i].name);
	pthread_mutex_unlock(&d->sh.mu);
	wait_next_run(d, req);
}

/* subscribe [] -> {view: {...}}; then published notifications */
static void
rpc_subscribe(struct rpc_request *req, struct msg_reader *p, void *arg)
{
	struct batchd		*d = arg;
	struct batchd_sub	*sub;
	uint32_t		 n;

	if (msg_get_array(p, &n) == -1 || n != 0 || msg_end(p) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS,
		    "subscribe: expected no params");
		return;
	}
	TAILQ_FOREACH(sub, &d->subs, entry)
		if (sub->conn == rpc_request_conn(req))
			break;
	if (sub == NULL) {
		sub = xcalloc(1, sizeof(*sub));
		sub->conn = rpc_request_conn(req);
		rpc_conn_hold(sub->conn);
		TAILQ_INSERT_TAIL(&d->subs, sub, entry);
	}
	pthread_mutex_lock(&d->sh.mu);
	pack_published(d, rpc_reply_begin(req));
	pthread_mutex_unlock(&d->sh.mu);
	rpc_reply_end(req);
}

static const struct rpc_method batchd_methods[] = {
	{ PROTO_HELLO, rpc_hello },
	{ PROTO_STATUS, rpc_status },
	{ PROTO_VERBOSE, rpc_verbose },
	{ PROTO_RUN, rpc_run },
	{ PROTO_RECOMPUTE, rpc_recompute },
	{ PROTO_SUBSCRIBE, rpc_subscribe },
	{ NULL, NULL }
};

void
batchd_rpc_start(struct batchd *d, int fd)
{
	struct rpc_limits	lim;

	memset(&lim, 0, sizeof(lim));
	lim.max_message = d->conf->max_message_bytes;
	lim.max_clients = d->conf->max_clients;
	lim.max_output = d->conf->max_client_buffer;
	d->rpc = rpc_server_new(d->base, fd, batchd_methods, d, &lim);
}

/*
 * A run has finished: answer the requests waiting for it, and tell the
 * subscribers if a published view moved.
 */
void
batchd_run_done(struct batchd *d)
{
	struct batchd_waiter	*w, *next;
	struct batchd_sub	*sub, *snext;
	struct batchd_runstat	 last;
	msgpack_packer		*pk;
	uint64_t		 done;
	int			 published;

	pthread_mutex_lock(&d->sh.mu);
	done = d->sh.runs_done;
	last = d->sh.last;
	published = d->sh.published;
	d->sh.published = 0;
	pthread_mutex_unlock(&d->sh.mu);

	for (w = TAILQ_FIRST(&d->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->run > done)
			continue;
		TAILQ_REMOVE(&d->waiters, w, entry);
		if (last.failed)
			rpc_reply_error(w->req, PROTO_E_INTERNAL,
			    "run %" PRIu64 " failed: %s", last.number,
			    last.error);
		else {
			pk = rpc_reply_begin(w->req);
			pack_run(&last, pk);
			rpc_reply_end(w->req);
		}
		free(w);
	}
	if (!published)
		return;
	for (sub = TAILQ_FIRST(&d->subs); sub != NULL; sub = snext) {
		snext = TAILQ_NEXT(sub, entry);
		if (!rpc_conn_alive(sub->conn)) {
			TAILQ_REMOVE(&d->subs, sub, entry);
			rpc_conn_release(sub->conn);
			free(sub);
			continue;
		}
		pk = rpc_conn_notify_begin(sub->conn, PROTO_PUBLISHED);
		msgpack_pack_array(pk, 1);
		pthread_mutex_lock(&d->sh.mu);
		pack_published(d, pk);
		pthread_mutex_unlock(&d->sh.mu);
		rpc_conn_notify_end(sub->conn);
	}
}

/*
 * Stopping, with no run left to do: the requests still waiting are for a
 * run that will not happen, and are told so.
 */
void
batchd_rpc_stopping(struct batchd *d)
{
	struct batchd_waiter	*w;

	while ((w = TAILQ_FIRST(&d->waiters)) != NULL) {
		TAILQ_REMOVE(&d->waiters, w, entry);
		rpc_reply_error(w->req, PROTO_E_UNAVAILABLE, "run %" PRIu64
		    ": lamina-batchd is shutting down", w->run);
		free(w);
	}
}

/* At exit: drop the waiters (their connections go) and subscribers. */
void
batchd_rpc_free(struct batchd *d)
{
	struct batchd_waiter	*w;
	struct batchd_sub	*sub;

	while ((w = TAILQ_FIRST(&d->waiters)) != NULL) {
		TAILQ_REMOVE(&d->waiters, w, entry);
		rpc_reply_error(w->req, PROTO_E_UNAVAILABLE,
		    "lamina-batchd stopped before the run");
		free(w);
	}
	while ((sub = TAILQ_FIRST(&d->subs)) != NULL) {
		TAILQ_REMOVE(&d->subs, sub, entry);
		rpc_conn_release(sub->conn);
		free(sub);
	}
}
