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
 * MessagePack-RPC clients (see rpc.h): an asynchronous one on libevent for
 * daemons, and a blocking one, driven by poll(2) with a deadline, for the
 * CLI and tests.  Both read through the framing in rpc.c and parse what the
 * server sends with client_parse(), so they accept exactly the same input.
 *
 * Pending calls of the asynchronous client sit in a small hash on msgid,
 * since replies may come in any order.  Its lifetime follows the server
 * connection's pattern: a reference is held while callbacks run, so a
 * callback may free the client; the last reference frees the memory.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

#define RPC_CALL_BUCKETS	64	/* power of two */

#define CLIENT_DEAD		0x01
#define CLIENT_FREED		0x02
#define CLIENT_BUILDING		0x04
#define CLIENT_WRITING		0x08

/* One message from a server, as the clients see it. */
struct rpc_msg {
	uint64_t		 type;
	uint32_t		 msgid;		/* response */
	int64_t			 code;		/* response: 0 or error */
	const char		*text;		/* error message (borrowed) */
	size_t			 textlen;
	struct msg_reader	 result;	/* response without error */
	const char		*method;	/* notification (borrowed) */
	size_t			 methodlen;
	struct msg_reader	 params;	/* notification */
};

struct rpc_call {
	TAILQ_ENTRY(rpc_call)	 entry;
	uint32_t		 msgid;
	rpc_result_cb		 cb;
	void			*arg;
};
TAILQ_HEAD(rpc_calls, rpc_call);

struct rpc_client {
	int			 fd;
	int			 refs;
	int			 flags;
	struct event		*rev;
	struct event		*wev;
	struct rpc_inbuf	 in;
	struct evbuffer		*out;
	msgpack_packer		 pk;
	struct rpc_calls	 calls[RPC_CALL_BUCKETS];
	size_t			 npending;
	uint32_t		 next_msgid;
	struct rpc_call		*building;	/* between begin and end */
	rpc_notify_cb		 on_notify;
	rpc_close_cb		 on_close;
	void			*arg;
};

struct rpc_sync {
	int			 fd;
	int			 broken;	/* an earlier call failed */
	uint32_t		 next_msgid;
	struct rpc_inbuf	 in;
	char			*message;	/* of the last error reply */
};

/*
 * Read an error object.  lamina sends [code, message]; a bare string from
 * another server is taken as the message of PROTO_E_INTERNAL, and anything
 * else is reported as such.  A code of 0 would read as success, so it
 * becomes PROTO_E_INTERNAL too.
 */
static void
client_parse_error(const uint8_t *raw, size_t len, struct rpc_msg *m)
{
	struct msg_reader	 r;
	uint32_t		 n;

	msg_reader_init(&r, raw, len);
	if (msg_get_array(&r, &n) == 0 && n == 2 &&
	    msg_get_int(&r, &m->code) == 0 &&
	    msg_get_str(&r, &m->text, &m->textlen) == 0 && msg_end(&r) == 0) {
		if (m->code == 0)
			m->code = PROTO_E_INTERNAL;
		return;
	}
	m->code = PROTO_E_INTERNAL;
	msg_reader_init(&r, raw, len);
	if (msg_get_str(&r, &m->text, &m->textlen) == 0)
		return;
	m->text = "malformed error object";
	m->textlen = strlen(m->text);
}

/*
 * Parse a frame from a server: a response [1, msgid, error, result] or a
 * notification [2, method, params].  Returns -1 with a static *cause for
 * anything else.
 */
static int
client_parse(const uint8_t *frame, size_t len, struct rpc_msg *m,
    const char **cause)
{
	struct msg_reader	 r;
	const uint8_t		*raw;
	size_t			 rawlen;
	uint64_t		 msgid;
	uint32_t		 n;

	memset(m, 0, sizeof(*m));
	msg_reader_init(&r, frame, len);
	if (msg_get_array(&r, &n) == -1 || n == 0 ||
	    msg_get_uint(&r, &m->type) == -1) {
		*cause = "bad message: not an RPC message";
		return (-1);
	}
	switch (m->type) {
	case RPC_NOTIFICATION:
		if (n != 3 || msg_get_str(&r, &m->method, &m->methodlen) ==
		    -1 || msg_peek(&r) != MSG_T_ARRAY ||
		    msg_get_raw(&r, &raw, &rawlen) == -1 || msg_end(&r) == -1) {
			*cause = "bad notification";
			return (-1);
		}
		msg_reader_init(&m->params, raw, rawlen);
		return (0);
	case RPC_RESPONSE:
		if (n != 4 || msg_get_uint(&r, &msgid) == -1 ||
		    msgid > UINT32_MAX) {
			*cause = "bad response";
			return (-1);
		}
		m->msgid = (uint32_t)msgid;
		if (msg_peek(&r) == MSG_T_NIL) {
			(void)msg_get_nil(&r);
			if (msg_get_raw(&r, &raw, &rawlen) == -1) {
				*cause = "bad response";
				return (-1);
			}
			msg_reader_init(&m->result, raw, rawlen);
		} else {
			if (msg_get_raw(&r, &raw, &rawlen) == -1 ||
			    msg_skip(&r) == -1) {
				*cause = "bad response";
				return (-1);
			}
			client_parse_error(raw, rawlen, m);
		}
		if (msg_end(&r) == -1) {
			*cause = "bad response";
			return (-1);
		}
		return (0);
	default:
		*cause = "bad message: unexpected message type";
		return (-1);
	}
}

/*
 * Asynchronous client.
 */

static int
client_pack_write(void *data, const char *buf, size_t len)
{
	struct rpc_client	*c = data;

	if (c->flags & CLIENT_DEAD)
		return (0);
	if (evbuffer_add(c->out, buf, len) == -1)
		fatalx("rpc client: out of memory queueing %zu bytes", len);
	return (0);
}

static void
client_hold(struct rpc_client *c)
{
	c->refs++;
}

static void
client_release(struct rpc_client *c)
{
	if (--c->refs > 0)
		return;
	rpc_inbuf_free(&c->in);
	free(c->building);
	free(c);
}

static struct rpc_calls *
client_bucket(struct rpc_client *c, uint32_t msgid)
{
	return (&c->calls[msgid & (RPC_CALL_BUCKETS - 1)]);
}

static struct rpc_call *
client_find(struct rpc_client *c, uint32_t msgid)
{
	struct rpc_call	*call;

	TAILQ_FOREACH(call, client_bucket(c, msgid), entry) {
		if (call->msgid == msgid)
			return (call);
	}
	return (NULL);
}

/*
 * The connection is gone: close it, fail every pending call once, then
 * tell the owner (unless it is freeing the client).
 */
static void
client_lost(struct rpc_client *c, const char *reason)
{
	struct rpc_calls	 gone;
	struct rpc_call		*call;
	int			 i;

	if (c->flags & CLIENT_DEAD)
		return;
	c->flags |= CLIENT_DEAD;
	event_free(c->rev);
	event_free(c->wev);
	c->rev = c->wev = NULL;
	close(c->fd);
	c->fd = -1;
	evbuffer_free(c->out);
	c->out = NULL;

	TAILQ_INIT(&gone);
	for (i = 0; i < RPC_CALL_BUCKETS; i++)
		TAILQ_CONCAT(&gone, &c->calls[i], entry);
	c->npending = 0;

	client_hold(c);
	while ((call = TAILQ_FIRST(&gone)) != NULL) {
		TAILQ_REMOVE(&gone, call, entry);
		call->cb(NULL, PROTO_E_UNAVAILABLE, "connection closed",
		    call->arg);
		free(call);
	}
	if ((c->flags & CLIENT_FREED) == 0 && c->on_close != NULL)
		c->on_close(reason, c->arg);
	client_release(c);
}

/* As client_lost(), with the reason taken from errno. */
static void
client_lost_errno(struct rpc_client *c, const char *what)
{
	char	 buf[128];

	if (errno == EPIPE || errno == ECONNRESET) {
		client_lost(c, NULL);
		return;
	}
	snprintf(buf, sizeof(buf), "%s: %s", what, strerror(errno));
	client_lost(c, buf);
}

/* Handle one frame from the server. */
static void
client_dispatch(struct rpc_client *c, const uint8_t *frame, size_t len)
{
	struct rpc_msg	 m;
	struct rpc_call	*call;
	const char	*cause;
	char		*s, buf[64];

	if (client_parse(frame, len, &m, &cause) == -1) {
		client_lost(c, cause);
		return;
	}
	if (m.type == RPC_NOTIFICATION) {
		if (c->on_notify != NULL) {
			s = xstrndup(m.method, m.methodlen);
			c->on_notify(s, &m.params, c->arg);
			free(s);
		}
		return;
	}
	if ((call = client_find(c, m.msgid)) == NULL) {
		snprintf(buf, sizeof(buf), "response to unknown msgid %u",
		    m.msgid);
		client_lost(c, buf);
		return;
	}
	TAILQ_REMOVE(client_bucket(c, m.msgid), call, entry);
	c->npending--;
	if (m.code == 0)
		call->cb(&m.result, 0, NULL, call->arg);
	else {
		s = xstrndup(m.text, m.textlen);
		call->cb(NULL, m.code, s, call->arg);
		free(s);
	}
	free(call);
}

static void
client_read_cb(int fd, short events, void *arg)
{
	struct rpc_client	*c = arg;
	const uint8_t		*frame = NULL;
	const char		*cause;
	size_t			 len;
	ssize_t			 n;
	int			 r;

	(void)events;
	client_hold(c);
	n = rpc_inbuf_read(&c->in, fd);
	if (n == 0)
		client_lost(c, NULL);
	else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
		client_lost_errno(c, "read");
	while ((c->flags & CLIENT_DEAD) == 0) {
		r = rpc_inbuf_next(&c->in, &frame, &len, &cause);
		if (r == 0)
			break;
		if (r == -1) {
			client_lost(c, cause);
			break;
		}
		client_dispatch(c, frame, len);
	}
	client_release(c);
}

static void
client_write_cb(int fd, short events, void *arg)
{
	struct rpc_client	*c = arg;

	(void)events;
	if (rpc_evbuffer_send(fd, c->out) == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			client_lost_errno(c, "write");
		return;
	}
	if (evbuffer_get_length(c->out) == 0) {
		event_del(c->wev);
		c->flags &= ~CLIENT_WRITING;
	}
}

/*
 * A client on the connected socket fd, which it now owns.  Responses and
 * notifications over max_message bytes close the connection.
 */
struct rpc_client *
rpc_client_new(struct event_base *base, int fd, size_t max_message,
    rpc_notify_cb on_notify, rpc_close_cb on_close, void *arg)
{
	struct rpc_client	*c;
	int			 i;

	if (sock_set_nonblock(fd) == -1)
		fatal("rpc_client_new: fcntl");
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->refs = 1;
	c->on_notify = on_notify;
	c->on_close = on_close;
	c->arg = arg;
	for (i = 0; i < RPC_CALL_BUCKETS; i++)
		TAILQ_INIT(&c->calls[i]);
	rpc_inbuf_init(&c->in, max_message);
	if ((c->out = evbuffer_new()) == NULL)
		fatalx("rpc_client_new: evbuffer_new");
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, client_read_cb,
	    c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, client_write_cb,
	    c);
	if (c->rev == NULL || c->wev == NULL)
		fatalx("rpc_client_new: event_new");
	msgpack_packer_init(&c->pk, c, client_pack_write);
	event_add(c->rev, NULL);
	return (c);
}

/*
 * Close the connection and free the client.  Pending callbacks are called
 * with PROTO_E_UNAVAILABLE before this returns; on_close is not.
 */
void
rpc_client_free(struct rpc_client *c)
{
	if (c == NULL || (c->flags & CLIENT_FREED))
		return;
	c->flags |= CLIENT_FREED;
	client_lost(c, NULL);
	client_release(c);
}

static void
client_begin(struct rpc_client *c)
{
	if (c->flags & CLIENT_BUILDING)
		fatalx("rpc client: message started inside another");
	c->flags |= CLIENT_BUILDING;
}

static void
client_queued(struct rpc_client *c)
{
	if ((c->flags & CLIENT_WRITING) == 0) {
		event_add(c->wev, NULL);
		c->flags |= CLIENT_WRITING;
	}
}

/*
 * Start a call of method: pack the params array into the returned packer,
 * then call rpc_client_call_end().  cb gets the answer (see rpc.h).
 */
msgpack_packer *
rpc_client_call_begin(struct rpc_client *c, const char *method,
    rpc_result_cb cb, void *arg)
{
	struct rpc_call	*call;
	uint32_t	 msgid;

	client_begin(c);
	do {
		msgid = c->next_msgid++;	/* wraps at 2^32 */
	} while (client_find(c, msgid) != NULL);
	call = xcalloc(1, sizeof(*call));
	call->msgid = msgid;
	call->cb = cb;
	call->arg = arg;
	c->building = call;
	msgpack_pack_array(&c->pk, 4);
	msgpack_pack_uint32(&c->pk, RPC_REQUEST);
	msgpack_pack_uint32(&c->pk, msgid);
	msg_pack_str(&c->pk, method);
	return (&c->pk);
}

/*
 * Send the call.  Returns -1 if the connection is already gone: the
 * callback will then never be called.
 */
int
rpc_client_call_end(struct rpc_client *c)
{
	struct rpc_call	*call = c->building;

	if (call == NULL)
		fatalx("rpc_client_call_end: no call started");
	c->building = NULL;
	c->flags &= ~CLIENT_BUILDING;
	if (c->flags & CLIENT_DEAD) {
		free(call);
		return (-1);
	}
	TAILQ_INSERT_TAIL(client_bucket(c, call->msgid), call, entry);
	c->npending++;
	client_queued(c);
	return (0);
}

/* Start a notification; pack the params array, then _end(). */
msgpack_packer *
rpc_client_notify_begin(struct rpc_client *c, const char *method)
{
	client_begin(c);
	msgpack_pack_array(&c->pk, 3);
	msgpack_pack_uint32(&c->pk, RPC_NOTIFICATION);
	msg_pack_str(&c->pk, method);
	return (&c->pk);
}

/* Send the notification; -1 if the connection is gone. */
int
rpc_client_notify_end(struct rpc_client *c)
{
	c->flags &= ~CLIENT_BUILDING;
	if (c->flags & CLIENT_DEAD)
		return (-1);
	client_queued(c);
	return (0);
}

int
rpc_client_alive(const struct rpc_client *c)
{
	return ((c->flags & CLIENT_DEAD) == 0);
}

/* Calls sent and not yet answered. */
size_t
rpc_client_pending(const struct rpc_client *c)
{
	return (c->npending);
}

/* Output bytes not yet sent. */
size_t
rpc_client_queued(const struct rpc_client *c)
{
	return (c->out != NULL ? evbuffer_get_length(c->out) : 0);
}

/* Set the next msgid, to test the wrap at 2^32. */
void
rpc_client_set_msgid(struct rpc_client *c, uint32_t msgid)
{
	c->next_msgid = msgid;
}

/*
 * Blocking client.
 */

/* Connect to path; NULL with *cause on failure. */
struct rpc_sync *
rpc_sync_connect(const char *path, size_t max_message, char **cause)
{
	int	 fd;

	if ((fd = sock_connect_unix(path, cause)) == -1)
		return (NULL);
	return (rpc_sync_new(fd, max_message));
}

/* A blocking client on the connected socket fd, which it now owns. */
struct rpc_sync *
rpc_sync_new(int fd, size_t max_message)
{
	struct rpc_sync	*s;

	s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	if (sock_set_nonblock(fd) == -1)
		s->broken = 1;
	rpc_inbuf_init(&s->in, max_message);
	return (s);
}

void
rpc_sync_free(struct rpc_sync *s)
{
	if (s == NULL)
		return;
	close(s->fd);
	rpc_inbuf_free(&s->in);
	free(s->message);
	free(s);
}

static int64_t
sync_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Look through the frames at hand for the response to msgid, skipping
 * notifications.  Returns 1 when found, 0 if more bytes are needed, -1 with
 * *cause.
 */
static int
sync_find(struct rpc_sync *s, uint32_t msgid, struct rpc_sync_result *out,
    char **cause)
{
	struct rpc_msg	 m;
	const uint8_t	*frame;
	const char	*why;
	size_t		 len;
	int		 r;

	while ((r = rpc_inbuf_next(&s->in, &frame, &len, &why)) == 1) {
		if (client_parse(frame, len, &m, &why) == -1) {
			xasprintf(cause, "%s", why);
			return (-1);
		}
		if (m.type == RPC_NOTIFICATION)
			continue;
		if (m.msgid != msgid) {
			xasprintf(cause, "response to unexpected msgid %u",
			    m.msgid);
			return (-1);
		}
		out->code = m.code;
		if (m.code != 0) {
			s->message = xstrndup(m.text, m.textlen);
			out->message = s->message;
		} else
			out->result = m.result;
		return (1);
	}
	if (r == -1) {
		xasprintf(cause, "%s", why);
		return (-1);
	}
	return (0);
}

/* Send req and wait for the response to msgid, until the deadline. */
static int
sync_exchange(struct rpc_sync *s, const char *req, size_t reqlen,
    uint32_t msgid, int timeout_ms, struct rpc_sync_result *out,
    char **cause)
{
	struct pollfd	 pfd;
	int64_t		 deadline = 0, left;
	size_t		 off = 0;
	ssize_t		 n;
	int		 r, wait;

	if (timeout_ms >= 0)
		deadline = sync_now_ms() + timeout_ms;
	for (;;) {
		if ((r = sync_find(s, msgid, out, cause)) != 0)
			return (r == 1 ? 0 : -1);
		wait = -1;
		if (timeout_ms >= 0) {
			left = deadline - sync_now_ms();
			if (left <= 0) {
				xasprintf(cause, "no response within %d ms",
				    timeout_ms);
				return (-1);
			}
			wait = (int)left;
		}
		pfd.fd = s->fd;
		pfd.events = POLLIN | (off < reqlen ? POLLOUT : 0);
		pfd.revents = 0;
		if (poll(&pfd, 1, wait) == -1) {
			if (errno == EINTR)
				continue;
			xasprintf(cause, "poll: %s", strerror(errno));
			return (-1);
		}
		if (off < reqlen && (pfd.revents & (POLLOUT | POLLERR))) {
			n = send(s->fd, req + off, reqlen - off, MSG_NOSIGNAL);
			if (n > 0)
				off += n;
			else if (n == -1 && (errno == EPIPE ||
			    errno == ECONNRESET)) {
				xasprintf(cause, "connection closed by the "
				    "server");
				return (-1);
			} else if (n == -1 && errno != EAGAIN &&
			    errno != EWOULDBLOCK && errno != EINTR) {
				xasprintf(cause, "write: %s", strerror(errno));
				return (-1);
			}
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = rpc_inbuf_read(&s->in, s->fd);
			if (n == 0 || (n == -1 && errno == ECONNRESET)) {
				xasprintf(cause, "connection closed by the "
				    "server");
				return (-1);
			}
			if (n == -1 && errno != EAGAIN &&
			    errno != EWOULDBLOCK) {
				xasprintf(cause, "read: %s", strerror(errno));
				return (-1);
			}
		}
	}
}

/*
 * Call method with params (the packed bytes of one array) and wait up to
 * timeout_ms (-1: no limit); see rpc.h.
 */
int
rpc_sync_call(struct rpc_sync *s, const char *method, const void *params,
    size_t paramslen, int timeout_ms, struct rpc_sync_result *out,
    char **cause)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	struct msg_reader r;
	struct msg_scan	 st;
	const char	*why;
	size_t		 len;
	uint32_t	 msgid;
	int		 ret;

	memset(out, 0, sizeof(*out));
	free(s->message);
	s->message = NULL;
	if (s->broken) {
		xasprintf(cause, "connection unusable after an earlier "
		    "failure");
		return (-1);
	}
	msg_reader_init(&r, params, paramslen);
	msg_scan_init(&st);
	if (msg_peek(&r) != MSG_T_ARRAY || msg_scan(&st, params, paramslen,
	    paramslen, &len, &why) != 1 || len != paramslen) {
		xasprintf(cause, "%s: params must be one packed array",
		    method);
		return (-1);
	}

	msgid = s->next_msgid++;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, RPC_REQUEST);
	msgpack_pack_uint32(&pk, msgid);
	msg_pack_str(&pk, method);
	msgpack_sbuffer_write(&sb, params, paramslen);
	ret = sync_exchange(s, sb.data, sb.size, msgid, timeout_ms, out,
	    cause);
	msgpack_sbuffer_destroy(&sb);
	if (ret == -1)
		s->broken = 1;
	return (ret);
}
