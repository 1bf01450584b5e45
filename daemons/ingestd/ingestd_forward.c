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
 * Fluentd Forward Protocol v1 on forward.sock and, if ingest.forward_tcp
 * is set, on a loopback TCP port with its UDP heartbeat.  The connection
 * handling (framing, limits, backpressure) is the RPC server's, in raw
 * mode: each complete msgpack object arrives here as a frame.
 *
 * The tag names the stream.  Entries that do not fit the stream, or whose
 * tag names no stream, go to the quarantine; the rest are appended in one
 * batch.  With a chunk option the ack is sent once the batch (and the
 * quarantine) is durable; a chunk id seen before is acknowledged without
 * storing it twice, once the first copy is durable.  The id is stored in
 * the meta map of the batch's first record, with the batch's size: recovery
 * drops a batch that was not written whole, and rebuilds the set of ids
 * from the batches that were.
 * A message that is malformed as a whole cannot be answered (Forward has
 * no error reply): it is logged, counted, and the connection closed, so
 * the shipper sees a failure rather than silence.
 */

#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <msgpack.h>

#include "conf.h"
#include "daemon.h"
#include "forward.h"
#include "ingestd.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "proto.h"
#include "rpc.h"
#include "schema.h"
#include "sock.h"
#include "xmalloc.h"

struct fwd_batch {
	int64_t		event_ns;
	size_t		off;
	size_t		len;
	size_t		entry;
};

static struct fwd_msg	fwd_msg;

/* Send {"ack": chunk} to c now. */
static void
fwd_ack(struct rpc_conn *c, const char *chunk, size_t len)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msg_pack_str(&pk, "ack");
	msg_pack_strn(&pk, chunk, len);
	rpc_conn_send(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* Ack chunk on c once cycle has completed. */
static void
fwd_ack_after(struct ingestd *d, struct rpc_conn *c, struct istream *st,
    const char *chunk, size_t len, uint64_t cycle)
{
	struct waiter	*w;

	if (cycle <= d->cycle_done) {
		fwd_ack(c, chunk, len);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->kind = WAIT_ACK;
	w->cycle = cycle;
	w->st = st != NULL ? st : &d->unknown;
	w->conn = c;
	rpc_conn_hold(c);
	rpc_conn_work_begin(c);
	w->chunk = xmalloc(len);
	memcpy(w->chunk, chunk, len);
	w->chunklen = len;
	commit_add_waiter(d, w);
}

/*
 * The meta map of a record: on the first record of the batch its size n
 * (when over 1) and the chunk id, so that recovery drops an incomplete
 * batch and rebuilds the chunk ids of whole ones; and the v1.5 metadata.
 */
static void
fwd_pack_meta(msgpack_packer *pk, const struct fwd_msg *m,
    const struct fwd_entry *e, int with_chunk, size_t n)
{
	msgpack_pack_map(pk, (with_chunk ? 1 : 0) + (n > 1 ? 1 : 0) +
	    (e->meta != NULL ? 1 : 0));
	if (n > 1)
		msg_pack_kv_uint(pk, "n", n);
	if (with_chunk) {
		msg_pack_str(pk, "chunk");
		msg_pack_strn(pk, m->chunk, m->chunklen);
	}
	if (e->meta != NULL) {
		msg_pack_str(pk, "fluent");
		/* The metadata map as it came: a packer writes raw bytes
		 * through its callback. */
		pk->callback(pk->data, (const char *)e->meta, e->meta_len);
	}
}

/* One Forward message from connection c. */
static void
fwd_frame(struct rpc_conn *c, const uint8_t *frame, size_t len, void *arg)
{
	struct ingestd		*d = arg;
	struct fwd_msg		*m = &fwd_msg;
	struct fwd_entry	*e;
	struct istream		*st, *dst;
	struct fwd_batch	*b = NULL;
	struct msg_reader	 r;
	msgpack_sbuffer		 sb, meta;
	msgpack_packer		 pk, mpk;
	size_t			 i, nb = 0, max_inflate;
	uint64_t		 off, cycle;
	int64_t			 now = ingestd_now();
	char			*cause = NULL, err[SCHEMA_ERR_MAX];
	char			 why[SCHEMA_ERR_MAX + 32];
	char			 shown[RPC_PRINTABLE_MAX];
	int			 first;

	d->fwd_messages++;
	max_inflate = d->conf->max_message_bytes * 8;
	if (fwd_parse(frame, len, max_inflate, max_inflate / 4, m,
	    &cause) == -1) {
		d->fwd_bad++;
		log_warnx("forward: client %" PRIu64 ": %s; closing",
		    rpc_conn_id(c), cause);
		free(cause);
		rpc_conn_close(c);
		return;
	}
	if (m->mode == FWD_NONE)
		return;			/* heartbeat */
	if (d->stopping) {
		/* No ack: the shipper sends it again after the restart. */
		rpc_conn_close(c);
		return;
	}
	st = ingestd_stream(d, m->tag, m->taglen);
	if (m->chunk != NULL && chunks_find(d->chunks, m->chunk, m->chunklen,
	    &dst, &cycle)) {
		d->fwd_duplicates++;
		log_debug("forward: chunk %.*s again: acknowledged, not "
		    "stored twice", (int)m->chunklen, m->chunk);
		fwd_ack_after(d, c, dst, m->chunk, m->chunklen, cycle);
		return;
	}

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (m->nentries > 0)
		b = xcalloc(m->nentries, sizeof(*b));
	for (i = 0; i < m->nentries; i++) {
		e = &m->entries[i];
		if (st == NULL) {
			snprintf(why, sizeof(why), "no stream named %s",
			    rpc_printable(shown, sizeof(shown), m->tag,
			    m->taglen));
			quarantine_event(d, &d->unknown, m->tag, m->taglen,
			    e->record, e->record_len, why);
			continue;
		}
		if (e->error != NULL) {
			snprintf(why, sizeof(why), "entry %zu: %s", i,
			    e->error);
			quarantine_event(d, st, m->tag, m->taglen, e->record,
			    e->record_len, why);
			continue;
		}
		msg_reader_init(&r, e->record, e->record_len);
		b[nb].off = sb.size;
		if (schema_pack_event(st->cs, &r, e->time_ns, now, &pk,
		    &b[nb].event_ns, err, sizeof(err)) == -1) {
			snprintf(why, sizeof(why), "entry %zu: %s", i, err);
			quarantine_event(d, st, m->tag, m->taglen, e->record,
			    e->record_len, why);
			continue;
		}
		b[nb].len = sb.size - b[nb].off;
		b[nb].entry = i;
		nb++;
	}

	msgpack_sbuffer_init(&meta);
	for (i = 0; i < nb; i++) {
		e = &m->entries[b[i].entry];
		first = i == 0;
		msgpack_sbuffer_clear(&meta);
		if ((first && (m->chunk != NULL || nb > 1)) ||
		    e->meta != NULL) {
			msgpack_packer_init(&mpk, &meta,
			    msgpack_sbuffer_write);
			fwd_pack_meta(&mpk, m, e, first && m->chunk != NULL,
			    first ? nb : 0);
		}
		if (master_append(st->ms, b[i].event_ns, now,
		    sb.data + b[i].off, b[i].len, meta.size ? meta.data : NULL,
		    meta.size, &off, &cause) == -1)
			fatalx("%s", cause);	/* sizes are bounded above */
	}
	msgpack_sbuffer_destroy(&meta);
	msgpack_sbuffer_destroy(&sb);
	free(b);
	if (nb > 0) {
		st->accepted += nb;
		st->pending = 1;
		commit_schedule(d);
	}
	if (m->chunk != NULL) {
		cycle = commit_next_cycle(d);
		chunks_add(d->chunks, m->chunk, m->chunklen, st, cycle, now +
		    (int64_t)d->conf->chunk_id_ttl_ms * 1000000);
		fwd_ack_after(d, c, st, m->chunk, m->chunklen, cycle);
		commit_schedule(d);	/* even with nothing stored */
	}
}

/* A UDP heartbeat: one byte 0x00, answered with 0x00. */
static void
fwd_udp_cb(int fd, short events, void *arg)
{
	struct sockaddr_storage	ss;
	socklen_t		slen;
	uint8_t			buf[64];
	ssize_t			n;

	(void)events;
	(void)arg;
	for (;;) {
		slen = sizeof(ss);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss,
		    &slen);
		if (n == -1)
			return;
		if (n == 1 && buf[0] == 0)
			(void)sendto(fd, buf, 1, 0, (struct sockaddr *)&ss,
			    slen);
	}
}

/* Split "HOST:PORT" or "[V6]:PORT". */
static int
fwd_split(const char *s, char *host, size_t hlen, char *port, size_t plen)
{
	const char	*colon;
	size_t		 n;

	if (s[0] == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return (-1);
		n = colon - s - 1;
		colon++;
		s++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return (-1);
		n = colon - s;
	}
	if (n >= hlen || strlen(colon + 1) >= plen)
		return (-1);
	memcpy(host, s, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	return (0);
}

/* A non-blocking socket of type on addr:port, bound (and listening). */
static int
fwd_bind(const char *spec, int type)
{
	struct addrinfo	hints, *res;
	char		host[256], port[16];
	int		fd, on = 1, rc;

	if (fwd_split(spec, host, sizeof(host), port, sizeof(port)) == -1)
		fatalx("ingest.forward_tcp: bad address %s", spec);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = type;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		fatalx("ingest.forward_tcp: %s: %s", spec, gai_strerror(rc));
	fd = socket(res->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1)
		fatal("ingest.forward_tcp: bind %s", spec);
	if (type == SOCK_STREAM && listen(fd, 128) == -1)
		fatal("ingest.forward_tcp: listen %s", spec);
	freeaddrinfo(res);
	return (fd);
}

/* Serve Forward on forward.sock and, if configured, on TCP and UDP. */
void
ingestd_forward_start(struct ingestd *d)
{
	struct rpc_limits	lim;
	int			fd;

	fwd_msg_init(&fwd_msg);
	memset(&lim, 0, sizeof(lim));
	lim.max_message = d->conf->max_message_bytes;
	lim.max_clients = d->conf->max_clients;
	lim.max_output = d->conf->max_client_buffer;
	fd = daemon_listen(d->conf, d->conf->forward_sock.path, "forward");
	d->fwd = rpc_server_new_raw(d->base, fd, fwd_frame, d, &lim);
	if (d->conf->forward_tcp == NULL)
		return;
	fd = fwd_bind(d->conf->forward_tcp, SOCK_STREAM);
	d->fwd_tcp = rpc_server_new_raw(d->base, fd, fwd_frame, d, &lim);
	d->udp_fd = fwd_bind(d->conf->forward_tcp, SOCK_DGRAM);
	d->udp_ev = event_new(d->base, d->udp_fd, EV_READ | EV_PERSIST,
	    fwd_udp_cb, d);
	event_add(d->udp_ev, NULL);
	log_info("forward: listening on %s (tcp and udp heartbeat)",
	    d->conf->forward_tcp);
}

/* Free what the Forward side holds (at exit). */
void
ingestd_forward_free(struct ingestd *d)
{
	if (d->udp_ev != NULL)
		event_free(d->udp_ev);
	if (d->udp_fd > 0)
		close(d->udp_fd);
	fwd_msg_free(&fwd_msg);
}
