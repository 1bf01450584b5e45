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
 * MessagePack-RPC framing and server (see rpc.h; the clients are in
 * rpc_client.c).
 *
 * A connection is in one of these states, kept as flags:
 *
 *	open		reading, dispatching, replying
 *	 + PAUSED	not reading: too much output queued or too many
 *			requests pending; frames already read wait in the
 *			input buffer and are dispatched on resume
 *	 + EOF		the peer shut down its sending side: frames already
 *			read are still dispatched (DRAINED once they all are),
 *			and the connection closes when every reply is out.  A
 *			peer that closed its socket outright (POLLHUP) cannot
 *			read replies, so it is dropped at once instead
 *	CLOSING		rpc_conn_close(): no more input; closes when the
 *			output is out
 *	FAILED		to be dropped on the next loop iteration; output is
 *			discarded.  Every close goes through here, so that
 *			on_close never runs inside a handler's rpc_* call
 *	DEAD		dropped: fd closed, events and output freed, removed
 *			from the server.  The struct lives on while requests
 *			or holders reference it; replies to it are discarded
 *
 * References: the server's list holds one until the drop, each request
 * one until it is answered, rpc_conn_hold() one, and conn_process() one
 * while it dispatches, so a handler may do anything, including freeing
 * the server, without the loop touching freed memory.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <msgpack.h>

#include "log.h"
#include "msg.h"
#include "proto.h"
#include "rpc.h"
#include "sock.h"
#include "xmalloc.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#define RPC_SHRINK_SIZE		(4 * RPC_READ_SIZE)
#define RPC_MAX_FRAME		(SIZE_MAX / 4)
#define RPC_ACCEPT_BATCH	64	/* connections taken per wakeup */
#define RPC_ACCEPT_BACKOFF	1	/* seconds not accepting after EMFILE */
#define RPC_SEND_IOVS		16

#define CONN_PAUSED	0x01
#define CONN_EOF	0x02
#define CONN_DRAINED	0x04
#define CONN_CLOSING	0x08
#define CONN_FAILED	0x10
#define CONN_DEAD	0x20
#define CONN_BUILDING	0x40
#define CONN_WRITING	0x80
#define CONN_GONE	(CONN_FAILED | CONN_DEAD)

struct rpc_conn {
	TAILQ_ENTRY(rpc_conn)	 entry;
	struct rpc_server	*srv;		/* NULL once dead */
	uint64_t		 id;
	int			 fd;
	int			 refs;
	int			 flags;
	char			*reason;	/* for on_close, or NULL */
	struct event		*rev;
	struct event		*wev;
	struct rpc_inbuf	 in;
	struct evbuffer		*out;
	msgpack_packer		 pk;
	size_t			 pending;	/* unanswered requests */
	void			*data;
};

struct rpc_request {
	struct rpc_conn		*conn;
	const char		*method;	/* the table's string */
	uint32_t		 msgid;
};

struct rpc_server {
	struct event_base	*base;
	int			 fd;
	struct event		*lev;		/* accept */
	struct event		*backoff;	/* accept again after EMFILE */
	const struct rpc_method	*table;
	rpc_frame_cb		 frame_cb;	/* raw mode, or NULL */
	void			*arg;
	struct rpc_limits	 limits;
	rpc_conn_cb		 on_connect;
	rpc_conn_cb		 on_close;
	void			*hook_arg;
	TAILQ_HEAD(, rpc_conn)	 conns;
	size_t			 nconns;
	int			 held;		/* rpc_server_hold() */
	uint64_t		 next_id;
	struct rpc_stats	 stats;
};

static struct rpc_server *rpc_server_create(struct event_base *, int,
		    const struct rpc_method *, rpc_frame_cb, void *,
		    const struct rpc_limits *);
static void	conn_read_cb(int, short, void *);
static void	conn_write_cb(int, short, void *);
static void	conn_fail(struct rpc_conn *, const char *);
static void	conn_send_error(struct rpc_conn *, uint32_t, int64_t,
		    const char *, ...)
		    __attribute__((__format__(__printf__, 4, 5)));

/*
 * Framing.
 */

/* Start an empty input buffer for frames of at most max bytes. */
void
rpc_inbuf_init(struct rpc_inbuf *ib, size_t max)
{
	memset(ib, 0, sizeof(*ib));
	ib->max = max > RPC_MAX_FRAME ? RPC_MAX_FRAME : max;
}

/* Free the buffer; ib can be used again after rpc_inbuf_init(). */
void
rpc_inbuf_free(struct rpc_inbuf *ib)
{
	free(ib->buf);
	ib->buf = NULL;
	ib->size = ib->start = ib->end = 0;
	ib->scanning = 0;
}

/*
 * Room for the next read: returns where to put the bytes and sets *avail,
 * at least RPC_READ_SIZE.  Unconsumed bytes are moved to the front only
 * when the tail is short, so a large frame moves at most once or twice.
 * The buffer never grows past max + RPC_READ_SIZE: rpc_inbuf_next() fails
 * any frame that would need more.  Invalidates frames returned earlier.
 */
void *
rpc_inbuf_space(struct rpc_inbuf *ib, size_t *avail)
{
	size_t	 left = ib->end - ib->start, want, cap;

	if (left == 0) {
		ib->start = ib->end = 0;
		if (ib->size > RPC_SHRINK_SIZE) {
			free(ib->buf);
			ib->buf = NULL;
			ib->size = 0;
		}
	}
	if (ib->size - ib->end < RPC_READ_SIZE && ib->start > 0) {
		memmove(ib->buf, ib->buf + ib->start, left);
		ib->start = 0;
		ib->end = left;
	}
	if (ib->size - ib->end < RPC_READ_SIZE) {
		cap = ib->max + RPC_READ_SIZE;
		want = ib->size > 0 ? ib->size : RPC_READ_SIZE;
		while (want - ib->end < RPC_READ_SIZE && want < cap)
			want *= 2;
		if (want > cap)
			want = cap;
		if (want < ib->end + RPC_READ_SIZE)
			want = ib->end + RPC_READ_SIZE;
		ib->buf = xrealloc(ib->buf, want);
		ib->size = want;
	}
	*avail = ib->size - ib->end;
	return (ib->buf + ib->end);
}

/* Record that n bytes were stored where rpc_inbuf_space() said. */
void
rpc_inbuf_fill(struct rpc_inbuf *ib, size_t n)
{
	if (n > ib->size - ib->end)
		fatalx("rpc_inbuf_fill: %zu bytes overflow the buffer", n);
	ib->end += n;
}

/*
 * One read(2) from fd into the buffer.  Returns the byte count, 0 at the
 * end of the stream, -1 with errno (EAGAIN included).
 */
ssize_t
rpc_inbuf_read(struct rpc_inbuf *ib, int fd)
{
	void	*p;
	size_t	 avail;
	ssize_t	 n;

	p = rpc_inbuf_space(ib, &avail);
	do {
		n = read(fd, p, avail);
	} while (n == -1 && errno == EINTR);
	if (n > 0)
		rpc_inbuf_fill(ib, n);
	return (n);
}

/*
 * The next complete frame: returns 1 with *frame and *len (borrowed, valid
 * until the buffer is next filled), 0 if the bytes at hand end inside a
 * frame, -1 with a static *cause if the stream is not msgpack or a frame is
 * over the maximum; the stream is then unusable.  Scanning resumes where
 * the previous call stopped.
 */
int
rpc_inbuf_next(struct rpc_inbuf *ib, const uint8_t **frame, size_t *len,
    const char **cause)
{
	int	 r;

	if (ib->start == ib->end)
		return (0);
	if (!ib->scanning) {
		msg_scan_init(&ib->scan);
		ib->scanning = 1;
	}
	r = msg_scan(&ib->scan, ib->buf + ib->start, ib->end - ib->start,
	    ib->max, len, cause);
	if (r != 1)
		return (r);
	*frame = ib->buf + ib->start;
	ib->start += *len;
	ib->scanning = 0;
	return (1);
}

/* Bytes read but not yet returned as frames. */
size_t
rpc_inbuf_left(const struct rpc_inbuf *ib)
{
	return (ib->end - ib->start);
}

/*
 * Send as much of evb as the socket takes, without SIGPIPE.  Returns the
 * bytes sent (and drained from evb) or -1 with errno (EAGAIN included).
 */
ssize_t
rpc_evbuffer_send(int fd, struct evbuffer *evb)
{
	struct evbuffer_iovec	 v[RPC_SEND_IOVS];
	struct iovec		 iov[RPC_SEND_IOVS];
	struct msghdr		 mh;
	int			 n, i;
	ssize_t			 r;

	n = evbuffer_peek(evb, -1, NULL, v, RPC_SEND_IOVS);
	if (n <= 0)
		return (0);
	if (n > RPC_SEND_IOVS)
		n = RPC_SEND_IOVS;
	for (i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = n;
	do {
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (r == -1 && errno == EINTR);
	if (r > 0)
		evbuffer_drain(evb, r);
	return (r);
}

/*
 * Copy at most RPC_NAME_SHOWN bytes of untrusted src into dst (of size
 * bytes; RPC_PRINTABLE_MAX holds any), escaping backslash, control bytes
 * and everything outside printable ASCII as \xNN, and marking a cut with
 * "...".  For echoing names from requests in error messages and logs.
 */
char *
rpc_printable(char *dst, size_t size, const void *src, size_t len)
{
	const uint8_t	*p = src;
	char		 esc[5];
	size_t		 i, o = 0, n, elen;

	if (size == 0)
		return (dst);
	n = len > RPC_NAME_SHOWN ? RPC_NAME_SHOWN : len;
	for (i = 0; i < n; i++) {
		if (p[i] == '\\')
			memcpy(esc, "\\\\", 3);
		else if (p[i] >= 0x20 && p[i] < 0x7f) {
			esc[0] = (char)p[i];
			esc[1] = '\0';
		} else
			snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
		elen = strlen(esc);
		if (o + elen >= size)
			break;
		memcpy(dst + o, esc, elen);
		o += elen;
	}
	if (i < len && o + 3 < size) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return (dst);
}

/*
 * Connections.
 */

/* msgpack-c write callback: append to the output, or discard once gone. */
static int
conn_pack_write(void *data, const char *buf, size_t len)
{
	struct rpc_conn	*c = data;

	if (c->flags & CONN_GONE)
		return (0);
	if (evbuffer_add(c->out, buf, len) == -1)
		fatalx("rpc: out of memory queueing %zu bytes", len);
	return (0);
}

static void
conn_free(struct rpc_conn *c)
{
	rpc_inbuf_free(&c->in);
	free(c->reason);
	free(c);
}

/* Take a reference: c stays allocated (maybe dead) until released. */
void
rpc_conn_hold(struct rpc_conn *c)
{
	c->refs++;
}

/* Drop a reference taken by rpc_conn_hold(). */
void
rpc_conn_release(struct rpc_conn *c)
{
	if (c->refs <= 0)
		fatalx("rpc_conn_release: connection %llu not held",
		    (unsigned long long)c->id);
	if (--c->refs == 0)
		conn_free(c);
}

/* Unique among the connections of one server. */
uint64_t
rpc_conn_id(const struct rpc_conn *c)
{
	return (c->id);
}

/* Will output to c still be sent? */
int
rpc_conn_alive(const struct rpc_conn *c)
{
	return ((c->flags & (CONN_GONE | CONN_CLOSING)) == 0);
}

/* Output bytes queued for c. */
size_t
rpc_conn_queued(const struct rpc_conn *c)
{
	return (c->out != NULL ? evbuffer_get_length(c->out) : 0);
}

void
rpc_conn_set_data(struct rpc_conn *c, void *data)
{
	c->data = data;
}

void *
rpc_conn_get_data(const struct rpc_conn *c)
{
	return (c->data);
}

/*
 * Close c now: fd, events, output, and the server's reference.  Called
 * from the event loop (conn_write_cb) or by rpc_server_free().
 */
static void
conn_drop(struct rpc_conn *c)
{
	struct rpc_server	*srv = c->srv;

	if (c->flags & CONN_DEAD)
		return;
	c->flags |= CONN_DEAD;
	event_free(c->rev);
	event_free(c->wev);
	c->rev = c->wev = NULL;
	close(c->fd);
	c->fd = -1;
	evbuffer_free(c->out);
	c->out = NULL;
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	c->srv = NULL;
	if (srv->on_close != NULL)
		srv->on_close(c, c->reason, srv->hook_arg);
	rpc_conn_release(c);
}

/*
 * Schedule c to be dropped on the next loop iteration with reason (NULL:
 * orderly).  Input stops and queued output is discarded at once.
 */
static void
conn_fail(struct rpc_conn *c, const char *reason)
{
	if (c->flags & CONN_GONE)
		return;
	c->flags |= CONN_FAILED;
	if (reason != NULL)
		c->reason = xstrdup(reason);
	event_del(c->rev);
	evbuffer_drain(c->out, evbuffer_get_length(c->out));
	event_active(c->wev, EV_WRITE, 1);
}

/* Fail after a failed read or write; a peer hanging up is orderly. */
static void
conn_fail_errno(struct rpc_conn *c, const char *what)
{
	char	 buf[128];

	if (errno == EPIPE || errno == ECONNRESET) {
		conn_fail(c, NULL);
		return;
	}
	snprintf(buf, sizeof(buf), "%s: %s", what, strerror(errno));
	conn_fail(c, buf);
}

/* Close c after bad input, and count it. */
static void
conn_protocol_error(struct rpc_conn *c, const char *reason)
{
	c->srv->stats.protocol_errors++;
	conn_fail(c, reason);
}

/* Stop reading from c if it has too much output or too many requests. */
static void
conn_check_pause(struct rpc_conn *c)
{
	struct rpc_server	*srv = c->srv;

	if (c->flags & (CONN_PAUSED | CONN_GONE | CONN_CLOSING))
		return;
	if (evbuffer_get_length(c->out) > srv->limits.max_output ||
	    c->pending >= srv->limits.max_pending || srv->held) {
		c->flags |= CONN_PAUSED;
		event_del(c->rev);
		srv->stats.pauses++;
	}
}

/*
 * Read from c again once the output is below half the limit and the
 * pending requests below half theirs.  Frames already buffered are
 * dispatched from the read callback, which is activated rather than
 * called, so a reply never recurses into dispatching.
 */
static void
conn_check_resume(struct rpc_conn *c)
{
	struct rpc_server	*srv = c->srv;

	if ((c->flags & CONN_PAUSED) == 0 ||
	    (c->flags & (CONN_GONE | CONN_CLOSING)))
		return;
	if (evbuffer_get_length(c->out) > srv->limits.max_output / 2 ||
	    c->pending > srv->limits.max_pending / 2 || srv->held)
		return;
	c->flags &= ~CONN_PAUSED;
	if ((c->flags & CONN_EOF) == 0)
		event_add(c->rev, NULL);
	event_active(c->rev, EV_READ, 1);
}

/*
 * After the peer's EOF, close once every frame it sent is dispatched,
 * answered and sent.
 */
static void
conn_check_done(struct rpc_conn *c)
{
	if ((c->flags & (CONN_DRAINED | CONN_GONE)) != CONN_DRAINED)
		return;
	if (c->pending > 0 || evbuffer_get_length(c->out) > 0)
		return;
	if (rpc_inbuf_left(&c->in) > 0)
		conn_fail(c, "connection closed in the middle of a message");
	else
		conn_fail(c, NULL);
}

/*
 * Output was appended to c: note the peak, enforce the hard limit, and
 * arm the write event.
 */
static void
conn_queued(struct rpc_conn *c)
{
	struct rpc_server	*srv = c->srv;
	size_t			 n;

	if (c->flags & CONN_GONE)
		return;
	n = evbuffer_get_length(c->out);
	if (n > srv->stats.out_peak)
		srv->stats.out_peak = n;
	if (n > 2 * srv->limits.max_output + srv->limits.max_message) {
		srv->stats.overflows++;
		conn_fail(c, "output limit exceeded: the peer is not reading");
		return;
	}
	if ((c->flags & CONN_WRITING) == 0) {
		event_add(c->wev, NULL);
		c->flags |= CONN_WRITING;
	}
}

/* Start packing one message to c; begin/end pairs do not nest. */
static void
conn_begin(struct rpc_conn *c)
{
	if (c->flags & CONN_BUILDING)
		fatalx("rpc: connection %llu: message started inside another",
		    (unsigned long long)c->id);
	c->flags |= CONN_BUILDING;
}

/* Append raw, already packed bytes to the message being built. */
static void
conn_pack_raw(struct rpc_conn *c, const void *buf, size_t len)
{
	conn_pack_write(c, buf, len);
}

/* Send the error response [1, msgid, [code, message], nil]. */
static void
conn_send_error(struct rpc_conn *c, uint32_t msgid, int64_t code,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("rpc: vasprintf");
	va_end(ap);
	conn_begin(c);
	msgpack_pack_array(&c->pk, 4);
	msgpack_pack_uint32(&c->pk, RPC_RESPONSE);
	msgpack_pack_uint32(&c->pk, msgid);
	msgpack_pack_array(&c->pk, 2);
	msgpack_pack_int64(&c->pk, code);
	msg_pack_str(&c->pk, msg);
	msgpack_pack_nil(&c->pk);
	c->flags &= ~CONN_BUILDING;
	free(msg);
	conn_queued(c);
}

/* A malformed request that can be answered: reply and count. */
static void
conn_bad_request(struct rpc_conn *c, uint32_t msgid, const char *what,
    const char *detail)
{
	c->srv->stats.bad_requests++;
	if (detail != NULL)
		conn_send_error(c, msgid, PROTO_E_BAD_REQUEST, "%s: %s", what,
		    detail);
	else
		conn_send_error(c, msgid, PROTO_E_BAD_REQUEST, "%s", what);
}

/* The table entry for a method name, or NULL. */
static const struct rpc_method *
conn_find_method(const struct rpc_method *m, const char *name, size_t len)
{
	for (; m->name != NULL; m++) {
		if (strlen(m->name) == len && memcmp(m->name, name, len) == 0)
			return (m);
	}
	return (NULL);
}

/*
 * Check one frame and hand a request to its handler.  The frame has passed
 * msg_scan(), so it is one complete, well-formed value.
 */
static void
conn_dispatch(struct rpc_conn *c, const uint8_t *frame, size_t len)
{
	struct rpc_server	*srv = c->srv;
	struct msg_reader	 r, params;
	const struct rpc_method	*m;
	struct rpc_request	*req;
	const uint8_t		*raw;
	const char		*name;
	char			 shown[RPC_PRINTABLE_MAX], buf[64];
	size_t			 namelen, rawlen;
	uint64_t		 type, msgid;
	uint32_t		 n;

	msg_reader_init(&r, frame, len);
	if (msg_get_array(&r, &n) == -1) {
		conn_protocol_error(c, "bad message: not an array");
		return;
	}
	if (n == 0 || msg_get_uint(&r, &type) == -1) {
		conn_protocol_error(c, "bad message: no message type");
		return;
	}
	if (type == RPC_NOTIFICATION) {
		srv->stats.notifications++;
		return;
	}
	if (n < 2 || msg_get_uint(&r, &msgid) == -1 || msgid > UINT32_MAX) {
		conn_protocol_error(c, "bad request: no valid msgid");
		return;
	}
	if (type == RPC_RESPONSE) {
		conn_bad_request(c, msgid, "unexpected response message",
		    NULL);
		return;
	}
	if (type != RPC_REQUEST) {
		snprintf(buf, sizeof(buf), "unknown message type %llu",
		    (unsigned long long)type);
		conn_bad_request(c, msgid, buf, NULL);
		return;
	}
	if (n != 4) {
		snprintf(buf, sizeof(buf), "request has %u elements, "
		    "expected 4", n);
		conn_bad_request(c, msgid, buf, NULL);
		return;
	}
	if (msg_get_str(&r, &name, &namelen) == -1) {
		conn_bad_request(c, msgid, "method", msg_error(&r));
		return;
	}
	if (msg_peek(&r) != MSG_T_ARRAY) {
		snprintf(buf, sizeof(buf), "expected array, got %s",
		    msg_type_name(msg_peek(&r)));
		conn_bad_request(c, msgid, "params", buf);
		return;
	}
	/*
	 * The frame is exactly one object, already scanned whole by
	 * msg_scan, and params is the last element of its array: the rest
	 * of the frame is params, with no need to walk it a second time.
	 */
	raw = r.p;
	rawlen = msg_left(&r);
	if ((m = conn_find_method(srv->table, name, namelen)) == NULL) {
		srv->stats.bad_requests++;
		conn_send_error(c, msgid, PROTO_E_NO_METHOD,
		    "no such method: %s", rpc_printable(shown, sizeof(shown),
		    name, namelen));
		return;
	}

	req = xcalloc(1, sizeof(*req));
	req->conn = c;
	req->method = m->name;
	req->msgid = (uint32_t)msgid;
	rpc_conn_hold(c);
	c->pending++;
	srv->stats.requests++;
	msg_reader_init(&params, raw, rawlen);
	m->fn(req, &params, srv->arg);
}

/*
 * Dispatch every complete frame in the input, unless paused or closing.
 * After the peer's EOF, mark the input drained once all are dispatched.
 */
static void
conn_process(struct rpc_conn *c)
{
	const uint8_t	*frame = NULL;
	const char	*cause;
	size_t		 len;
	int		 r = 0;

	rpc_conn_hold(c);
	while ((c->flags & (CONN_PAUSED | CONN_CLOSING | CONN_GONE)) == 0) {
		r = rpc_inbuf_next(&c->in, &frame, &len, &cause);
		if (r == 0)
			break;
		if (r == -1) {
			conn_protocol_error(c, cause);
			break;
		}
		if (c->srv->frame_cb != NULL) {
			c->srv->stats.requests++;
			c->srv->frame_cb(c, frame, len, c->srv->arg);
		} else
			conn_dispatch(c, frame, len);
		if ((c->flags & (CONN_CLOSING | CONN_GONE)) == 0)
			conn_check_pause(c);
	}
	if (r == 0 && (c->flags & (CONN_EOF | CONN_PAUSED | CONN_CLOSING |
	    CONN_GONE)) == CONN_EOF) {
		c->flags |= CONN_DRAINED;
		conn_check_done(c);
	}
	rpc_conn_release(c);
}

/*
 * After EOF: did the peer close its socket (POLLHUP: both directions are
 * shut), or only shut down its sending side and still waits for replies?
 */
static int
conn_peer_gone(int fd)
{
	struct pollfd	 pfd;

	pfd.fd = fd;
	pfd.events = 0;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == -1)
		return (0);
	return ((pfd.revents & (POLLHUP | POLLERR)) != 0);
}

/* Readable, or activated on resume: read once, then dispatch. */
static void
conn_read_cb(int fd, short events, void *arg)
{
	struct rpc_conn	*c = arg;
	ssize_t		 n;

	(void)events;
	if (c->flags & (CONN_GONE | CONN_CLOSING))
		return;
	if ((c->flags & (CONN_EOF | CONN_PAUSED)) == 0) {
		n = rpc_inbuf_read(&c->in, fd);
		if (n > 0)
			c->srv->stats.bytes_in += n;
		else if (n == 0) {
			c->flags |= CONN_EOF;
			event_del(c->rev);
			if (conn_peer_gone(fd)) {
				/* Closed, not shut down: nobody to answer. */
				conn_fail(c, NULL);
				return;
			}
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_fail_errno(c, "read");
			return;
		}
	}
	conn_process(c);
}

/*
 * Writable, or activated to drop: send queued output; when it is all out,
 * disarm, and close if closing or done; resume reading if paused.
 */
static void
conn_write_cb(int fd, short events, void *arg)
{
	struct rpc_conn	*c = arg;
	ssize_t		 n;

	(void)events;
	if (c->flags & CONN_FAILED) {
		conn_drop(c);
		return;
	}
	if (evbuffer_get_length(c->out) > 0) {
		n = rpc_evbuffer_send(fd, c->out);
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_fail_errno(c, "write");
			return;
		}
		c->srv->stats.bytes_out += n;
	}
	if (evbuffer_get_length(c->out) > 0) {
		conn_check_resume(c);
		return;
	}
	if (c->flags & CONN_WRITING) {
		event_del(c->wev);
		c->flags &= ~CONN_WRITING;
	}
	if (c->flags & CONN_CLOSING) {
		conn_drop(c);
		return;
	}
	conn_check_done(c);
	conn_check_resume(c);
}

/*
 * Close c once its queued output is sent: for a reply that ends a
 * conversation, such as a hello with the wrong version.  Nothing more is
 * read; requests still pending are answered into the void.
 */
void
rpc_conn_close(struct rpc_conn *c)
{
	if (c->flags & (CONN_GONE | CONN_CLOSING))
		return;
	c->flags |= CONN_CLOSING;
	event_del(c->rev);
	event_active(c->wev, EV_WRITE, 1);
}

/*
 * Raw mode: queue bytes that are already one or more whole msgpack
 * objects (a Forward ack).  To a connection that is gone, discarded.
 */
void
rpc_conn_send(struct rpc_conn *c, const void *buf, size_t len)
{
	if (c->flags & CONN_GONE)
		return;
	conn_begin(c);
	conn_pack_raw(c, buf, len);
	c->flags &= ~CONN_BUILDING;
	conn_queued(c);
}

/*
 * Raw mode: count work started for c that will be answered later (a chunk
 * waiting for its ack), so that backpressure and an orderly close after
 * the peer's EOF wait for it as they do for pending requests.
 */
void
rpc_conn_work_begin(struct rpc_conn *c)
{
	c->pending++;
}

/* The work counted by rpc_conn_work_begin() is answered. */
void
rpc_conn_work_end(struct rpc_conn *c)
{
	if (c->pending == 0)
		fatalx("rpc: connection %llu: work ended twice",
		    (unsigned long long)c->id);
	c->pending--;
	if ((c->flags & CONN_GONE) == 0) {
		conn_check_resume(c);
		conn_check_done(c);
	}
}

/*
 * Start the notification [2, method, params] to c: pack the params array
 * into the returned packer, then call rpc_conn_notify_end().  To a
 * connection that is gone, it is discarded.
 */
msgpack_packer *
rpc_conn_notify_begin(struct rpc_conn *c, const char *method)
{
	conn_begin(c);
	msgpack_pack_array(&c->pk, 3);
	msgpack_pack_uint32(&c->pk, RPC_NOTIFICATION);
	msg_pack_str(&c->pk, method);
	return (&c->pk);
}

void
rpc_conn_notify_end(struct rpc_conn *c)
{
	c->flags &= ~CONN_BUILDING;
	conn_queued(c);
}

/*
 * Requests.
 */

struct rpc_conn *
rpc_request_conn(const struct rpc_request *req)
{
	return (req->conn);
}

uint32_t
rpc_request_msgid(const struct rpc_request *req)
{
	return (req->msgid);
}

/* The method's name, as spelled in the dispatch table. */
const char *
rpc_request_method(const struct rpc_request *req)
{
	return (req->method);
}

/*
 * Start the success response: pack the result (one value) into the
 * returned packer, then call rpc_reply_end().
 */
msgpack_packer *
rpc_reply_begin(struct rpc_request *req)
{
	struct rpc_conn	*c = req->conn;

	conn_begin(c);
	msgpack_pack_array(&c->pk, 4);
	msgpack_pack_uint32(&c->pk, RPC_RESPONSE);
	msgpack_pack_uint32(&c->pk, req->msgid);
	msgpack_pack_nil(&c->pk);
	return (&c->pk);
}

/* Finish the response and free req, which must not be used again. */
void
rpc_reply_end(struct rpc_request *req)
{
	struct rpc_conn	*c = req->conn;

	free(req);
	c->flags &= ~CONN_BUILDING;
	c->pending--;
	if ((c->flags & CONN_GONE) == 0) {
		conn_queued(c);
		conn_check_resume(c);
		conn_check_done(c);
	}
	rpc_conn_release(c);
}

/* Answer with a nil result; frees req. */
void
rpc_reply_nil(struct rpc_request *req)
{
	msgpack_pack_nil(rpc_reply_begin(req));
	rpc_reply_end(req);
}

/*
 * Answer with a result already packed: exactly one msgpack value of len
 * bytes.  Anything else would corrupt the stream, so it is checked.  Frees
 * req.
 */
void
rpc_reply_raw(struct rpc_request *req, const void *result, size_t len)
{
	struct msg_scan	 st;
	const char	*cause;
	size_t		 vlen;

	msg_scan_init(&st);
	if (msg_scan(&st, result, len, len, &vlen, &cause) != 1 ||
	    vlen != len)
		fatalx("rpc_reply_raw: %s: result is not one msgpack value",
		    req->method);
	rpc_reply_begin(req);
	conn_pack_raw(req->conn, result, len);
	rpc_reply_end(req);
}

/*
 * Answer with the error [code, message], message formatted printf-style.
 * Quote anything taken from the request with rpc_printable().  Frees req.
 */
void
rpc_reply_error(struct rpc_request *req, int64_t code, const char *fmt, ...)
{
	struct rpc_conn	*c = req->conn;
	va_list		 ap;
	char		*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("rpc_reply_error: vasprintf");
	va_end(ap);
	conn_begin(c);
	msgpack_pack_array(&c->pk, 4);
	msgpack_pack_uint32(&c->pk, RPC_RESPONSE);
	msgpack_pack_uint32(&c->pk, req->msgid);
	msgpack_pack_array(&c->pk, 2);
	msgpack_pack_int64(&c->pk, code);
	msg_pack_str(&c->pk, msg);
	msgpack_pack_nil(&c->pk);
	free(msg);
	rpc_reply_end(req);
}

/*
 * Server.
 */

/* Set up a connection for an accepted fd. */
static void
rpc_server_add(struct rpc_server *srv, int fd)
{
	struct rpc_conn	*c;

	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->id = ++srv->next_id;
	c->fd = fd;
	c->refs = 1;
	rpc_inbuf_init(&c->in, srv->limits.max_message);
	if ((c->out = evbuffer_new()) == NULL)
		fatalx("rpc: evbuffer_new");
	c->rev = event_new(srv->base, fd, EV_READ | EV_PERSIST, conn_read_cb,
	    c);
	c->wev = event_new(srv->base, fd, EV_WRITE | EV_PERSIST,
	    conn_write_cb, c);
	if (c->rev == NULL || c->wev == NULL)
		fatalx("rpc: event_new");
	msgpack_packer_init(&c->pk, c, conn_pack_write);
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	srv->stats.accepted++;
	event_add(c->rev, NULL);
	if (srv->on_connect != NULL)
		srv->on_connect(c, NULL, srv->hook_arg);
}

/* Accept what is waiting; past max_clients, accept and close. */
static void
rpc_server_accept_cb(int lfd, short events, void *arg)
{
	struct rpc_server	*srv = arg;
	struct timeval		 tv = { RPC_ACCEPT_BACKOFF, 0 };
	int			 fd, i;

	(void)events;
	for (i = 0; i < RPC_ACCEPT_BATCH; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: pause, don't spin. */
				event_del(srv->lev);
				evtimer_add(srv->backoff, &tv);
			}
			return;
		}
		if (srv->nconns >= srv->limits.max_clients) {
			close(fd);
			srv->stats.rejected++;
			continue;
		}
		rpc_server_add(srv, fd);
	}
}

/* The accept backoff is over. */
static void
rpc_server_backoff_cb(int fd, short events, void *arg)
{
	struct rpc_server	*srv = arg;

	(void)fd;
	(void)events;
	if (srv->lev != NULL)
		event_add(srv->lev, NULL);
}

/*
 * Serve the listening socket fd on base, dispatching through table, each
 * handler getting arg.  The server owns fd from now on and closes it.  The
 * limits are copied; the table must outlive the server.
 */
struct rpc_server *
rpc_server_new(struct event_base *base, int fd, const struct rpc_method *table,
    void *arg, const struct rpc_limits *limits)
{
	return (rpc_server_create(base, fd, table, NULL, arg, limits));
}

/*
 * A server in raw mode: no RPC dispatch, each complete msgpack object a
 * peer sends is passed to fn (borrowed for the call), with the same
 * limits, backpressure and output handling.  Fluentd Forward uses it.
 */
struct rpc_server *
rpc_server_new_raw(struct event_base *base, int fd, rpc_frame_cb fn,
    void *arg, const struct rpc_limits *limits)
{
	return (rpc_server_create(base, fd, NULL, fn, arg, limits));
}

static struct rpc_server *
rpc_server_create(struct event_base *base, int fd,
    const struct rpc_method *table, rpc_frame_cb fn, void *arg,
    const struct rpc_limits *limits)
{
	struct rpc_server	*srv;

	if (limits->max_message < 16 || limits->max_output == 0)
		fatalx("rpc_server_new: bad limits");
	srv = xcalloc(1, sizeof(*srv));
	srv->base = base;
	srv->fd = fd;
	srv->table = table;
	srv->frame_cb = fn;
	srv->arg = arg;
	srv->limits = *limits;
	if (srv->limits.max_pending == 0)
		srv->limits.max_pending = RPC_DEFAULT_MAX_PENDING;
	TAILQ_INIT(&srv->conns);
	if (sock_set_nonblock(fd) == -1)
		fatal("rpc_server_new: fcntl");
	srv->lev = event_new(base, fd, EV_READ | EV_PERSIST,
	    rpc_server_accept_cb, srv);
	srv->backoff = evtimer_new(base, rpc_server_backoff_cb, srv);
	if (srv->lev == NULL || srv->backoff == NULL)
		fatalx("rpc_server_new: event_new");
	event_add(srv->lev, NULL);
	return (srv);
}

/* Connection hooks; see rpc.h. */
void
rpc_server_set_hooks(struct rpc_server *srv, rpc_conn_cb on_connect,
    rpc_conn_cb on_close, void *arg)
{
	srv->on_connect = on_connect;
	srv->on_close = on_close;
	srv->hook_arg = arg;
}

/*
 * Stop (on) or resume (off) reading from every connection, for a daemon
 * whose own backlog is full: the clients wait in their socket buffers
 * instead of our memory.  Replies and notifications still go out.
 */
void
rpc_server_hold(struct rpc_server *srv, int on)
{
	struct rpc_conn	*c, *next;

	if (srv == NULL || srv->held == !!on)
		return;
	srv->held = !!on;
	TAILQ_FOREACH_SAFE(c, &srv->conns, entry, next) {
		if (on)
			conn_check_pause(c);
		else
			conn_check_resume(c);
	}
}

/* Stop accepting and close the listening socket; clients stay. */
void
rpc_server_close_listener(struct rpc_server *srv)
{
	if (srv->lev == NULL)
		return;
	event_free(srv->lev);
	srv->lev = NULL;
	evtimer_del(srv->backoff);
	close(srv->fd);
	srv->fd = -1;
}

/*
 * Close the listener and every connection, calling on_close for each, and
 * free the server.  Requests still pending stay valid: answering them
 * later discards the reply and frees them.
 */
void
rpc_server_free(struct rpc_server *srv)
{
	struct rpc_conn	*c;

	if (srv == NULL)
		return;
	rpc_server_close_listener(srv);
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_drop(c);
	event_free(srv->backoff);
	free(srv);
}

/* Counters, and a snapshot of the connections. */
void
rpc_server_stats(const struct rpc_server *srv, struct rpc_stats *st)
{
	struct rpc_conn	*c;

	*st = srv->stats;
	st->clients = srv->nconns;
	st->pending = st->paused = st->out_queued = 0;
	TAILQ_FOREACH(c, &srv->conns, entry) {
		st->pending += c->pending;
		st->out_queued += evbuffer_get_length(c->out);
		if (c->flags & CONN_PAUSED)
			st->paused++;
	}
}
