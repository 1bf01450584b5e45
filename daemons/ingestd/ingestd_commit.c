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
 * Group commit.  Requests append their events to the streams' buffers
 * (master_append) and wait; a commit cycle writes every buffer
 * (master_write), hands the written files to the fdatasync worker and,
 * when it is done, answers every request that was appended before the
 * cycle started, tells the subscribers the new committed offsets, and
 * seals segments that are full.  Requests that arrive while a cycle's
 * fdatasync runs wait for the next cycle, which starts as soon as the
 * running one ends: one fdatasync covers all of them.
 *
 * Cycles are numbered; a waiter records the number of the cycle that will
 * cover it (commit_next_cycle), so waiters complete in order.
 *
 * With fsync: interval or never, a cycle completes right after the writes
 * (the data is in the page cache, which is what readers read); interval
 * mode syncs every stream on a timer, outside the cycles.
 *
 * A failed fdatasync is fatal: Linux may have dropped the dirty pages, and
 * nobody can tell which acknowledged writes are still true, so the daemon
 * exits and recovery decides from what is on disk.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <msgpack.h>

#include "conf.h"
#include "ingestd.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "notify.h"
#include "proto.h"
#include "rpc.h"
#include "xmalloc.h"

static void	commit_start(struct ingestd *);
static void	commit_finish(struct ingestd *);

/* The number of the cycle that will cover what is appended now. */
uint64_t
commit_next_cycle(const struct ingestd *d)
{
	return (d->cycle_started + 1);
}

/* True when nothing is waiting and no cycle runs. */
int
commit_idle(const struct ingestd *d)
{
	return (!d->inflight && !d->dirty && TAILQ_EMPTY(&d->waiters) &&
	    !syncer_busy(d->syncer));
}

/* Answer one waiter: its data is durable. */
static void
waiter_done(struct waiter *w)
{
	msgpack_packer	*pk;
	msgpack_sbuffer	 sb;
	msgpack_packer	 apk;

	switch (w->kind) {
	case WAIT_APPEND:
		pk = rpc_reply_begin(w->req);
		msgpack_pack_map(pk, 3);
		msg_pack_kv_str(pk, "stream", w->st->cs->name);
		msg_pack_kv_uint(pk, "first", w->first);
		msg_pack_kv_uint(pk, "count", w->count);
		rpc_reply_end(w->req);
		break;
	case WAIT_ACK:
		if (rpc_conn_alive(w->conn)) {
			msgpack_sbuffer_init(&sb);
			msgpack_packer_init(&apk, &sb, msgpack_sbuffer_write);
			msgpack_pack_map(&apk, 1);
			msg_pack_str(&apk, "ack");
			msg_pack_strn(&apk, w->chunk, w->chunklen);
			rpc_conn_send(w->conn, sb.data, sb.size);
			msgpack_sbuffer_destroy(&sb);
		}
		rpc_conn_work_end(w->conn);
		rpc_conn_release(w->conn);
		break;
	}
	free(w->chunk);
	free(w);
}

/* A waiter whose data could not be written: refuse it. */
static void
waiter_failed(struct ingestd *d, struct waiter *w, const char *cause)
{
	switch (w->kind) {
	case WAIT_APPEND:
		rpc_reply_error(w->req, PROTO_E_IO, "%s: not stored: %s",
		    w->st->cs->name, cause);
		break;
	case WAIT_ACK:
		/* No ack: the shipper sends the chunk again. */
		chunks_remove(d->chunks, w->chunk, w->chunklen);
		rpc_conn_work_end(w->conn);
		rpc_conn_release(w->conn);
		break;
	}
	free(w->chunk);
	free(w);
}

/* Queue w to be answered when its cycle completes. */
void
commit_add_waiter(struct ingestd *d, struct waiter *w)
{
	TAILQ_INSERT_TAIL(&d->waiters, w, entry);
}

/*
 * Hold (or release) every client while the events appended but not yet
 * written exceed sockets.max_client_buffer: memory stays bounded and the
 * clients wait in their socket buffers until the running sync is done.
 */
static void
commit_hold(struct ingestd *d, int on)
{
	if (d->held == on)
		return;
	d->held = on;
	if (on)
		d->holds++;
	rpc_server_hold(d->rpc, on);
	rpc_server_hold(d->fwd, on);
	rpc_server_hold(d->fwd_tcp, on);
}

/* Something was appended or quarantined: run a cycle soon. */
void
commit_schedule(struct ingestd *d)
{
	struct master_stats	ms;
	size_t			i;
	uint64_t		backlog = 0;

	d->dirty = 1;
	if (!d->inflight) {
		event_active(d->commit_ev, EV_TIMEOUT, 1);
		return;
	}
	for (i = 0; i < d->nstreams; i++) {
		master_stats(d->streams[i].ms, &ms);
		backlog += ms.buffered_bytes;
	}
	if (backlog > d->conf->max_client_buffer)
		commit_hold(d, 1);
}

static void
commit_ev_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	commit_start(arg);
}

/* The worker has synced; finish the cycle, or the interval sync. */
static void
commit_synced_cb(int err, int errfd, int64_t took_ns, void *arg)
{
	struct ingestd	*d = arg;

	if (err != 0) {
		errno = err;
		fatal("fdatasync of fd %d failed: acknowledged data may be "
		    "lost, restarting for recovery", errfd);
	}
	d->fsync_ns[d->fsyncs++ % INGESTD_LATENCIES] = took_ns;
	if (d->interval_sync) {
		d->interval_sync = 0;
		if (d->dirty)
			commit_start(d);
		return;
	}
	commit_finish(d);
}

/*
 * Start a cycle: write every stream with new records, then sync them in
 * the worker (fsync: always) or finish at once.
 */
static void
commit_start(struct ingestd *d)
{
	struct istream	*st;
	struct waiter	*w, *wn;
	int		*fds;
	size_t		 i, nfds = 0;
	char		*cause;
	uint64_t	 cycle;
	int		 always = d->conf->fsync == CONF_FSYNC_ALWAYS;

	if (d->inflight || !d->dirty || syncer_busy(d->syncer))
		return;
	d->dirty = 0;
	cycle = ++d->cycle_started;
	fds = xcalloc(2 * d->nstreams + 1, sizeof(*fds));
	for (i = 0; i <= d->nstreams; i++) {
		st = i < d->nstreams ? &d->streams[i] : &d->unknown;
		if (st->qdirty) {
			st->qdirty = 0;
			if (always)
				fds[nfds++] = st->qfd;
		}
		if (!st->pending)
			continue;
		st->pending = 0;
		if (master_write(st->ms, &cause) == -1) {
			log_warnx("%s", cause);
			TAILQ_FOREACH_SAFE(w, &d->waiters, entry, wn) {
				if (w->st != st || w->cycle != cycle)
					continue;
				TAILQ_REMOVE(&d->waiters, w, entry);
				waiter_failed(d, w, cause);
			}
			free(cause);
			continue;
		}
		st->syncing = 1;
		fds[nfds++] = master_sync_begin(st->ms, &st->sync_upto);
	}
	commit_hold(d, 0);		/* the backlog is written */
	d->inflight = 1;
	if (always && nfds > 0)
		syncer_submit(d->syncer, fds, nfds);
	else
		commit_finish(d);
	free(fds);
}

/*
 * The cycle's data is durable: record it, answer its waiters, tell the
 * subscribers, seal full segments, and start the next cycle if requests
 * came meanwhile.
 */
static void
commit_finish(struct ingestd *d)
{
	struct istream	*st;
	struct waiter	*w;
	size_t		 i;
	int		 sealed;
	char		*cause;
	int64_t		 now = ingestd_now();

	for (i = 0; i < d->nstreams; i++) {
		st = &d->streams[i];
		if (!st->syncing)
			continue;
		st->syncing = 0;
		master_sync_end(st->ms, st->sync_upto);
	}
	d->cycle_done = d->cycle_started;
	d->inflight = 0;
	while ((w = TAILQ_FIRST(&d->waiters)) != NULL &&
	    w->cycle <= d->cycle_done) {
		TAILQ_REMOVE(&d->waiters, w, entry);
		waiter_done(w);
	}
	commit_notify_subscribers(d, 0);
	for (i = 0; i < d->nstreams; i++) {
		st = &d->streams[i];
		if (master_maybe_seal(st->ms, now, &sealed, &cause) == -1)
			fatalx("%s", cause);
		if (sealed)
			log_debug("%s: sealed a segment", st->cs->name);
	}
	if (d->dirty)
		commit_start(d);
}

/*
 * Tell every subscriber the committed offsets that changed (all of them if
 * all is set, or for a subscriber that missed one).  A subscriber whose
 * output is backed up is skipped and marked behind; it gets the whole map
 * once it has drained.
 */
void
commit_notify_subscribers(struct ingestd *d, int all)
{
	struct subscriber	*sub, *next;
	struct master_stats	 ms;
	msgpack_packer		*pk;
	uint64_t		*committed;
	size_t			 i, changed = 0, n;

	committed = xcalloc(d->nstreams + 1, sizeof(*committed));
	for (i = 0; i < d->nstreams; i++) {
		master_stats(d->streams[i].ms, &ms);
		committed[i] = ms.committed;
		if (committed[i] != d->streams[i].notified)
			changed++;
	}
	TAILQ_FOREACH_SAFE(sub, &d->subscribers, entry, next) {
		if (!rpc_conn_alive(sub->conn)) {
			TAILQ_REMOVE(&d->subscribers, sub, entry);
			rpc_conn_release(sub->conn);
			free(sub);
			continue;
		}
		if (!all && !sub->behind && changed == 0)
			continue;
		if (rpc_conn_queued(sub->conn) > ((size_t)1 << 20)) {
			sub->behind = 1;
			continue;
		}
		n = (all || sub->behind) ? d->nstreams : changed;
		pk = rpc_conn_notify_begin(sub->conn, PROTO_COMMITTED);
		msgpack_pack_array(pk, 1);
		msgpack_pack_map(pk, n);
		for (i = 0; i < d->nstreams; i++) {
			if (n != d->nstreams &&
			    committed[i] == d->streams[i].notified)
				continue;
			msg_pack_kv_uint(pk, d->streams[i].cs->name,
			    committed[i]);
		}
		rpc_conn_notify_end(sub->conn);
		sub->behind = 0;
	}
	for (i = 0; i < d->nstreams; i++)
		d->streams[i].notified = committed[i];
	free(committed);
}

/* fsync: interval: sync everything written, outside the cycles. */
void
commit_interval(struct ingestd *d)
{
	int	*fds;
	size_t	 i, n = 0;

	if (d->inflight || syncer_busy(d->syncer))
		return;
	fds = xcalloc(2 * d->nstreams + 1, sizeof(*fds));
	for (i = 0; i < d->nstreams; i++) {
		fds[n++] = master_sync_begin(d->streams[i].ms,
		    &d->streams[i].sync_upto);
		master_sync_end(d->streams[i].ms, 0);
		if (d->streams[i].qfd != -1)
			fds[n++] = d->streams[i].qfd;
	}
	if (d->unknown.qfd != -1)
		fds[n++] = d->unknown.qfd;
	d->interval_sync = 1;
	syncer_submit(d->syncer, fds, n);
	free(fds);
}

/* Once a second: seal segments that are old enough, catch up subscribers. */
void
commit_housekeeping(struct ingestd *d)
{
	size_t	 i;
	int	 sealed;
	char	*cause;
	int64_t	 now = ingestd_now();

	if (!d->inflight && !syncer_busy(d->syncer)) {
		for (i = 0; i < d->nstreams; i++) {
			if (master_maybe_seal(d->streams[i].ms, now, &sealed,
			    &cause) == -1)
				fatalx("%s", cause);
			if (sealed)
				log_debug("%s: sealed a segment by age",
				    d->streams[i].cs->name);
		}
	}
	commit_notify_subscribers(d, 0);
	chunks_expire(d->chunks, now);
}

void
commit_init(struct ingestd *d)
{
	TAILQ_INIT(&d->waiters);
	TAILQ_INIT(&d->subscribers);
	d->commit_ev = event_new(d->base, -1, 0, commit_ev_cb, d);
	d->syncer = syncer_new(d->base, commit_synced_cb, d);
}

void
commit_free(struct ingestd *d)
{
	struct subscriber	*sub;
	struct waiter		*w;

	/* Work still waiting after the drain timeout: refuse it. */
	while ((w = TAILQ_FIRST(&d->waiters)) != NULL) {
		TAILQ_REMOVE(&d->waiters, w, entry);
		waiter_failed(d, w, "lamina-ingestd stopped first");
	}

	while ((sub = TAILQ_FIRST(&d->subscribers)) != NULL) {
		TAILQ_REMOVE(&d->subscribers, sub, entry);
		rpc_conn_release(sub->conn);
		free(sub);
	}
	syncer_free(d->syncer);
	event_free(d->commit_ev);
}
