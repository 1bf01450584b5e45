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
 * The MessagePack-RPC methods of lamina-ingestd on ingest.sock (see
 * common/proto.h and docs/PROTOCOL.md): hello, status, verbose, append and
 * subscribe.  Each handler checks its params completely before it changes
 * anything.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "conf.h"
#include "daemon.h"
#include "ingestd.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "proto.h"
#include "rpc.h"
#include "schema.h"
#include "version.h"
#include "xmalloc.h"

/* One checked event, packed in its stored form in the scratch buffer. */
struct packed {
	int64_t		event_ns;
	size_t		off;
	size_t		len;
};

/* hello and verbose: as every daemon (common/daemon.c). */
static void
rpc_hello(struct rpc_request *req, struct msg_reader *p, void *arg)
{
	(void)arg;
	daemon_rpc_hello(req, p, "ingestd");
}

static void
rpc_verbose(struct rpc_request *req, struct msg_reader *p, void *arg)
{
	(void)arg;
	daemon_rpc_verbose(req, p);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

/* The status map of the daemon. */
void
ingestd_pack_status(struct ingestd *d, msgpack_packer *pk)
{
	struct master_stats	 ms;
	struct rpc_stats	 rs, fs;
	struct istream		*st;
	int64_t			 lat[INGESTD_LATENCIES];
	struct subscriber	*sub;
	uint64_t		 acc = 0, ref = 0, qua = 0;
	size_t			 i, nlat, nsub;

	rpc_server_stats(d->rpc, &rs);
	memset(&fs, 0, sizeof(fs));
	if (d->fwd != NULL)
		rpc_server_stats(d->fwd, &fs);
	for (i = 0; i < d->nstreams; i++) {
		acc += d->streams[i].accepted;
		ref += d->streams[i].refused;
		qua += d->streams[i].quarantined;
	}
	qua += d->unknown.quarantined;

	msgpack_pack_map(pk, 11);
	msg_pack_kv_str(pk, "daemon", "ingestd");
	msg_pack_kv_str(pk, "version", LAMINA_VERSION);
	msg_pack_kv_int(pk, "pid", getpid());
	msg_pack_kv_double(pk, "uptime_s",
	    (ingestd_now() - d->started_ns) / 1e9);
	msg_pack_kv_str(pk, "fsync", d->conf->fsync == CONF_FSYNC_ALWAYS ?
	    "always" : d->conf->fsync == CONF_FSYNC_INTERVAL ? "interval" :
	    "never");

	msg_pack_str(pk, "streams");
	msgpack_pack_map(pk, d->nstreams);
	for (i = 0; i < d->nstreams; i++) {
		st = &d->streams[i];
		master_stats(st->ms, &ms);
		msg_pack_str(pk, st->cs->name);
		msgpack_pack_map(pk, 9);
		msg_pack_kv_uint(pk, "next_offset", ms.next_offset);
		msg_pack_kv_uint(pk, "committed", ms.committed);
		msg_pack_kv_uint(pk, "sealed_segments", ms.sealed_segments);
		msg_pack_kv_uint(pk, "sealed_bytes", ms.sealed_bytes);
		msg_pack_kv_uint(pk, "active_first", ms.active_first);
		msg_pack_kv_uint(pk, "active_bytes", ms.active_bytes);
		msg_pack_kv_uint(pk, "accepted", st->accepted);
		msg_pack_kv_uint(pk, "refused", st->refused);
		msg_pack_kv_uint(pk, "quarantined", st->quarantined);
	}

	msg_pack_str(pk, "events");
	msgpack_pack_map(pk, 3);
	msg_pack_kv_uint(pk, "accepted", acc);
	msg_pack_kv_uint(pk, "refused", ref);
	msg_pack_kv_uint(pk, "quarantined", qua);

	msg_pack_str(pk, "clients");
	msgpack_pack_map(pk, 6);
	msg_pack_kv_uint(pk, "rpc", rs.clients);
	msg_pack_kv_uint(pk, "forward", fs.clients);
	msg_pack_kv_uint(pk, "rejected", rs.rejected + fs.rejected);
	msg_pack_kv_uint(pk, "protocol_errors", rs.protocol_errors +
	    fs.protocol_errors);
	msg_pack_kv_uint(pk, "paused", rs.paused + fs.paused);
	msg_pack_kv_uint(pk, "backlog_holds", d->holds);

	msg_pack_str(pk, "forward");
	msgpack_pack_map(pk, 4);
	msg_pack_kv_uint(pk, "messages", d->fwd_messages);
	msg_pack_kv_uint(pk, "bad_messages", d->fwd_bad);
	msg_pack_kv_uint(pk, "duplicate_chunks", d->fwd_duplicates);
	msg_pack_kv_uint(pk, "chunk_ids", chunks_count(d->chunks));

	nlat = d->fsyncs < INGESTD_LATENCIES ? d->fsyncs : INGESTD_LATENCIES;
	memcpy(lat, d->fsync_ns, nlat * sizeof(*lat));
	qsort(lat, nlat, sizeof(*lat), cmp_i64);
	msg_pack_str(pk, "fdatasync");
	msgpack_pack_map(pk, 4);
	msg_pack_kv_uint(pk, "count", d->fsyncs);
	msg_pack_kv_double(pk, "p50_us", nlat ? lat[nlat / 2] / 1e3 : 0);
	msg_pack_kv_double(pk, "p99_us", nlat ? lat[nlat * 99 / 100] / 1e3 :
	    0);
	msg_pack_kv_double(pk, "max_us", nlat ? lat[nlat - 1] / 1e3 : 0);

	nsub = 0;
	TAILQ_FOREACH(sub, &d->subscribers, entry)
		nsub++;
	msg_pack_kv_uint(pk, "subscribers", nsub);
}

/* status [] -> map */
static void
rpc_status(struct rpc_request *req, struct msg_reader *p, void *arg)
{
	uint32_t	n;

	if (msg_get_array(p, &n) == -1 || n != 0 || msg_end(p) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS,
		    "status: expected no params");
		return;
	}
	ingestd_pack_status(arg, rpc_reply_begin(req));
	rpc_reply_end(req);
}

/*
 * append [stream, [event...]] -> {stream, first, count}, sent once the
 * events are durable.  All or nothing: every event is checked before any
 * is appended.
 */
static void
rpc_append(struct rpc_request *req, struct msg_reader *p, void *arg)
{
	struct ingestd	*d = arg;
	struct istream	*st;
	struct waiter	*w;
	struct packed	*ev = NULL;
	msgpack_sbuffer	 sb, meta;
	msgpack_packer	 pk, mpk;
	const char	*name;
	size_t		 nlen;
	uint32_t	 n, nev, i;
	uint64_t	 off, first = 0;
	int64_t		 now = ingestd_now();
	char		 err[SCHEMA_ERR_MAX], *cause, shown[RPC_PRINTABLE_MAX];

	if (d->stopping) {
		rpc_reply_error(req, PROTO_E_UNAVAILABLE,
		    "append: lamina-ingestd is shutting down");
		return;
	}
	if (msg_get_array(p, &n) == -1 || n != 2 ||
	    msg_get_str(p, &name, &nlen) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS,
		    "append: expected [stream, events]");
		return;
	}
	if ((st = ingestd_stream(d, name, nlen)) == NULL) {
		rpc_reply_error(req, PROTO_E_NO_STREAM, "append: no stream %s",
		    rpc_printable(shown, sizeof(shown), name, nlen));
		return;
	}
	if (msg_get_array(p, &nev) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS,
		    "append: events: %s", msg_error(p));
		return;
	}
	/* The stored form is about as large as the events as they came. */
	msgpack_sbuffer_init(&sb);
	sb.alloc = msg_left(p) + 64;
	sb.data = xmalloc(sb.alloc);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (nev > 0)
		ev = xcalloc(nev, sizeof(*ev));
	for (i = 0; i < nev; i++) {
		ev[i].off = sb.size;
		if (schema_pack_event(st->cs, p, SCHEMA_NO_TIME, now, &pk,
		    &ev[i].event_ns, err, sizeof(err)) == -1) {
			st->refused += nev;
			rpc_reply_error(req, PROTO_E_INVALID, "event %u: %s",
			    i, err);
			goto out;
		}
		ev[i].len = sb.size - ev[i].off;
	}
	if (msg_end(p) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS,
		    "append: expected [stream, events]");
		goto out;
	}
	/* The first record carries the batch's size: see master_open(). */
	msgpack_sbuffer_init(&meta);
	if (nev > 1) {
		msgpack_packer_init(&mpk, &meta, msgpack_sbuffer_write);
		msgpack_pack_map(&mpk, 1);
		msg_pack_kv_uint(&mpk, "n", nev);
	}
	for (i = 0; i < nev; i++) {
		if (master_append(st->ms, ev[i].event_ns, now,
		    sb.data + ev[i].off, ev[i].len, i == 0 && nev > 1 ?
		    meta.data : NULL, meta.size, &off, &cause) == -1)
			fatalx("%s", cause);	/* sizes are bounded above */
		if (i == 0)
			first = off;
	}
	msgpack_sbuffer_destroy(&meta);
	if (nev == 0) {
		struct master_stats	ms;

		master_stats(st->ms, &ms);
		first = ms.next_offset;
	}
	st->accepted += nev;
	w = xcalloc(1, sizeof(*w));
	w->kind = WAIT_APPEND;
	w->cycle = commit_next_cycle(d);
	w->st = st;
	w->req = req;
	w->first = first;
	w->count = nev;
	commit_add_waiter(d, w);
	if (nev > 0)
		st->pending = 1;
	commit_schedule(d);
out:
	free(ev);
	msgpack_sbuffer_destroy(&sb);
}

/*
 * subscribe [] -> {stream: committed offset...}; then the notification
 * committed [{stream: offset...}] after every commit that moved one.
 */
static void
rpc_subscribe(struct rpc_request *req, struct msg_reader *p, void *arg)
{
	struct ingestd		*d = arg;
	struct subscriber	*sub;
	struct master_stats	 ms;
	msgpack_packer		*pk;
	uint32_t		 n;
	size_t			 i;

	if (msg_get_array(p, &n) == -1 || n != 0 || msg_end(p) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS,
		    "subscribe: expected no params");
		return;
	}
	TAILQ_FOREACH(sub, &d->subscribers, entry)
		if (sub->conn == rpc_request_conn(req))
			break;
	if (sub == NULL) {
		sub = xcalloc(1, sizeof(*sub));
		sub->conn = rpc_request_conn(req);
		rpc_conn_hold(sub->conn);
		TAILQ_INSERT_TAIL(&d->subscribers, sub, entry);
	}
	pk = rpc_reply_begin(req);
	msgpack_pack_map(pk, d->nstreams);
	for (i = 0; i < d->nstreams; i++) {
		master_stats(d->streams[i].ms, &ms);
		msg_pack_kv_uint(pk, d->streams[i].cs->name, ms.committed);
	}
	rpc_reply_end(req);
}

static const struct rpc_method ingestd_methods[] = {
	{ PROTO_HELLO, rpc_hello },
	{ PROTO_STATUS, rpc_status },
	{ PROTO_VERBOSE, rpc_verbose },
	{ PROTO_APPEND, rpc_append },
	{ PROTO_SUBSCRIBE, rpc_subscribe },
	{ NULL, NULL }
};

/* Serve MessagePack-RPC on the listening socket fd. */
void
ingestd_rpc_start(struct ingestd *d, int fd)
{
	struct rpc_limits	lim;

	memset(&lim, 0, sizeof(lim));
	lim.max_message = d->conf->max_message_bytes;
	lim.max_clients = d->conf->max_clients;
	lim.max_output = d->conf->max_client_buffer;
	d->rpc = rpc_server_new(d->base, fd, ingestd_methods, d, &lim);
}
