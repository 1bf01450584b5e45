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
 * Tests for common/rpc.c and rpc_client.c over real Unix sockets in a
 * private directory, on a real event_base.  The server runs in the test's
 * own event loop, driven by three kinds of peer: raw sockets that write
 * hostile bytes and compare replies byte for byte, the asynchronous client
 * on the same loop, and the blocking client against a server running in a
 * second thread with the same event_base (used by that thread alone until
 * it is joined).  Waiting is always on the loop or on poll with a deadline.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <msgpack.h>

#include "msg.h"
#include "proto.h"
#include "rpc.h"
#include "sock.h"
#include "testlib.h"
#include "xmalloc.h"

#define WAIT_MS		5000
#define MAX_DEFER	256

/* What the handlers and hooks saw. */
static struct {
	struct rpc_request	*defer[MAX_DEFER];
	uint64_t		 dval[MAX_DEFER];
	int			 ndefer;
	int			 connects;
	int			 closes;
	int			 close_null;	/* closes with reason NULL */
	char			 reason[256];	/* the last non-NULL reason */
	struct rpc_conn		*held;
	int			 order;		/* callbacks so far */
} T;

static char			*dir;
static char			*path;
static struct event_base	*base;
static struct rpc_server	*srv;
static msgpack_sbuffer		 sb;
static msgpack_packer		 pk;

/*
 * The dispatch table.
 */

static void
h_echo(struct rpc_request *req, struct msg_reader *params, void *arg)
{
	const uint8_t	*raw;
	size_t		 len;

	(void)arg;
	if (msg_get_raw(params, &raw, &len) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS, "%s",
		    msg_error(params));
		return;
	}
	rpc_reply_raw(req, raw, len);
}

static void
h_add(struct rpc_request *req, struct msg_reader *params, void *arg)
{
	uint32_t	 n;
	int64_t		 a, b;

	(void)arg;
	if (msg_get_array(params, &n) == -1 || n != 2) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS, "expected 2 params");
		return;
	}
	if (msg_get_int(params, &a) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS, "a: %s",
		    msg_error(params));
		return;
	}
	if (msg_get_int(params, &b) == -1 || msg_end(params) == -1) {
		rpc_reply_error(req, PROTO_E_BAD_PARAMS, "b: %s",
		    msg_error(params));
		return;
	}
	msgpack_pack_int64(rpc_reply_begin(req), a + b);
	rpc_reply_end(req);
}

/* Answered later by the test. */
static void
h_defer(struct rpc_request *req, struct msg_reader *params, void *arg)
{
	uint32_t	 n;
	uint64_t	 v = 0;

	(void)arg;
	if (msg_get_array(params, &n) == 0 && n == 1)
		(void)msg_get_uint(params, &v);
	ck_assert_int_lt(T.ndefer, MAX_DEFER);
	T.defer[T.ndefer] = req;
	T.dval[T.ndefer++] = v;
}

/* [n] -> a string of n bytes. */
static void
h_big(struct rpc_request *req, struct msg_reader *params, void *arg)
{
	static char	 zs[65536];
	msgpack_packer	*p;
	uint32_t	 n;
	uint64_t	 len = 0;

	(void)arg;
	if (msg_get_array(params, &n) == 0 && n >= 1)
		(void)msg_get_uint(params, &len);
	if (len > sizeof(zs))
		len = sizeof(zs);
	memset(zs, 'z', len);
	p = rpc_reply_begin(req);
	msgpack_pack_str(p, len);
	msgpack_pack_str_body(p, zs, len);
	rpc_reply_end(req);
}

/* A notification to the caller, then the reply. */
static void
h_notify(struct rpc_request *req, struct msg_reader *params, void *arg)
{
	struct rpc_conn	*c = rpc_request_conn(req);
	msgpack_packer	*p;

	(void)params;
	(void)arg;
	p = rpc_conn_notify_begin(c, "ping");
	msgpack_pack_array(p, 2);
	msgpack_pack_uint64(p, 42);
	msg_pack_str(p, "hello");
	rpc_conn_notify_end(c);
	rpc_reply_nil(req);
}

/* Reply, then close: a hello with the wrong version. */
static void
h_bye(struct rpc_request *req, struct msg_reader *params, void *arg)
{
	struct rpc_conn	*c = rpc_request_conn(req);

	(void)params;
	(void)arg;
	rpc_reply_error(req, PROTO_E_VERSION, "bye");
	rpc_conn_close(c);
}

static void
h_msgid(struct rpc_request *req, struct msg_reader *params, void *arg)
{
	(void)params;
	(void)arg;
	ck_assert_str_eq(rpc_request_method(req), "msgid");
	msgpack_pack_uint32(rpc_reply_begin(req), rpc_request_msgid(req));
	rpc_reply_end(req);
}

/* Keep the connection, to push notifications to it later. */
static void
h_hold(struct rpc_request *req, struct msg_reader *params, void *arg)
{
	(void)params;
	(void)arg;
	T.held = rpc_request_conn(req);
	rpc_conn_hold(T.held);
	rpc_reply_nil(req);
}

static const struct rpc_method table[] = {
	{ "echo", h_echo },
	{ "add", h_add },
	{ "defer", h_defer },
	{ "big", h_big },
	{ "notify", h_notify },
	{ "bye", h_bye },
	{ "msgid", h_msgid },
	{ "hold", h_hold },
	{ NULL, NULL }
};

static void
on_connect(struct rpc_conn *c, const char *reason, void *arg)
{
	ck_assert_ptr_null(reason);
	ck_assert_ptr_eq(arg, &T);
	ck_assert(rpc_conn_alive(c));
	T.connects++;
}

static void
on_close(struct rpc_conn *c, const char *reason, void *arg)
{
	ck_assert_ptr_eq(arg, &T);
	ck_assert(!rpc_conn_alive(c));
	T.closes++;
	if (reason == NULL)
		T.close_null++;
	else
		snprintf(T.reason, sizeof(T.reason), "%s", reason);
}

static struct rpc_limits
limits(size_t max_message, size_t max_clients, size_t max_output)
{
	struct rpc_limits	 l;

	memset(&l, 0, sizeof(l));
	l.max_message = max_message;
	l.max_clients = max_clients;
	l.max_output = max_output;
	return (l);
}

static void
start_server(const struct rpc_limits *l)
{
	char	*cause = NULL;
	int	 fd;

	fd = sock_listen_unix(path, 0600, (gid_t)-1, 64, &cause);
	ck_assert_msg(fd >= 0, "listen: %s", cause);
	srv = rpc_server_new(base, fd, table, &T, l);
	rpc_server_set_hooks(srv, on_connect, on_close, &T);
}

static void
setup(void)
{
	struct rpc_limits	 l = limits(65536, 16, 65536);

	memset(&T, 0, sizeof(T));
	dir = testlib_tmpdir();
	path = testlib_path(dir, "rpc.sock");
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	start_server(&l);
}

static void
teardown(void)
{
	int	 i;

	for (i = 0; i < T.ndefer; i++) {
		if (T.defer[i] != NULL)
			rpc_reply_nil(T.defer[i]);
	}
	if (T.held != NULL)
		rpc_conn_release(T.held);
	rpc_server_free(srv);
	srv = NULL;
	event_base_free(base);
	base = NULL;
	msgpack_sbuffer_destroy(&sb);
	testlib_rmtree(dir);
	free(path);
	free(dir);
}

static struct rpc_stats
stats(void)
{
	struct rpc_stats	 st;

	rpc_server_stats(srv, &st);
	return (st);
}

/*
 * Raw peers: a socket on the test's loop that collects what the server
 * sends, for byte-exact comparison.
 */

struct peer {
	int		 fd;
	struct event	*ev;
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	int		 eof;
	int		 counting;	/* count and discard frames */
	uint64_t	 frames;
	uint8_t		 frame[1 << 17];
};

/* Length of the complete frame at the start of buf, or 0. */
static size_t
frame_len(const uint8_t *buf, size_t len)
{
	struct msg_scan	 st;
	const char	*cause;
	size_t		 n;
	int		 r;

	msg_scan_init(&st);
	r = msg_scan(&st, buf, len, SIZE_MAX, &n, &cause);
	ck_assert_int_ne(r, -1);
	return (r == 1 ? n : 0);
}

static void
peer_read_cb(int fd, short events, void *arg)
{
	struct peer	*p = arg;
	ssize_t		 n;
	size_t		 f;

	(void)events;
	if (p->cap - p->len < 65536) {
		p->cap = p->len + 65536;
		p->buf = xrealloc(p->buf, p->cap);
	}
	n = read(fd, p->buf + p->len, p->cap - p->len);
	if (n > 0)
		p->len += n;
	else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		p->eof = 1;
		event_del(p->ev);
	}
	while (p->counting && (f = frame_len(p->buf, p->len)) > 0) {
		p->frames++;
		memmove(p->buf, p->buf + f, p->len - f);
		p->len -= f;
	}
}

static struct peer *
peer_open(void)
{
	struct peer	*p = xcalloc(1, sizeof(*p));
	char		*cause = NULL;

	p->fd = sock_connect_unix(path, &cause);
	ck_assert_msg(p->fd >= 0, "connect: %s", cause);
	ck_assert_int_eq(sock_set_nonblock(p->fd), 0);
	p->ev = event_new(base, p->fd, EV_READ | EV_PERSIST, peer_read_cb, p);
	event_add(p->ev, NULL);
	return (p);
}

static void
peer_close(struct peer *p)
{
	if (p == NULL)
		return;
	event_free(p->ev);
	close(p->fd);
	free(p->buf);
	free(p);
}

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Write all bytes, running the loop while the socket is full. */
static void
peer_send(struct peer *p, const void *buf, size_t len)
{
	const uint8_t	*b = buf;
	int64_t		 deadline = now_ms() + WAIT_MS;
	ssize_t		 n;

	while (len > 0) {
		n = send(p->fd, b, len, MSG_NOSIGNAL);
		if (n > 0) {
			b += n;
			len -= n;
			continue;
		}
		ck_assert_msg(n == -1 && errno == EAGAIN, "send: %s",
		    strerror(errno));
		ck_assert_msg(now_ms() < deadline, "peer_send: stuck");
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
}

static void
peer_send_sb(struct peer *p)
{
	peer_send(p, sb.data, sb.size);
	msgpack_sbuffer_clear(&sb);
}

static int
peer_ready(void *arg)
{
	struct peer	*p = arg;

	return (p->eof || frame_len(p->buf, p->len) > 0);
}

/* The next frame from the server (in p->frame), or 0 at EOF. */
static size_t
peer_next(struct peer *p)
{
	size_t	 n;

	ck_assert_msg(testlib_loop_until(base, peer_ready, p, WAIT_MS) == 0,
	    "no frame and no EOF");
	if ((n = frame_len(p->buf, p->len)) == 0)
		return (0);
	ck_assert_uint_le(n, sizeof(p->frame));
	memcpy(p->frame, p->buf, n);
	memmove(p->buf, p->buf + n, p->len - n);
	p->len -= n;
	return (n);
}

static int
peer_eof(void *arg)
{
	return (((struct peer *)arg)->eof);
}

/* The server closes p, sending nothing more. */
static void
expect_eof(struct peer *p)
{
	ck_assert_msg(testlib_loop_until(base, peer_eof, p, WAIT_MS) == 0,
	    "no EOF");
	ck_assert_uint_eq(p->len, 0);
}

/* The next frame is exactly what was packed into sb. */
static void
expect_sb(struct peer *p)
{
	size_t	 n = peer_next(p);

	ck_assert_msg(n > 0, "EOF instead of a frame");
	ck_assert_uint_eq(n, sb.size);
	ck_assert_msg(memcmp(p->frame, sb.data, n) == 0, "frame differs");
	msgpack_sbuffer_clear(&sb);
}

/* Pack the error response [1, msgid, [code, msg], nil]. */
static void
pack_error(uint32_t msgid, int64_t code, const char *msg)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_uint32(&pk, msgid);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int64(&pk, code);
	msg_pack_str(&pk, msg);
	msgpack_pack_nil(&pk);
}

/* Pack the head of a request; the caller packs the params. */
static void
pack_request(uint32_t msgid, const char *method)
{
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_uint32(&pk, msgid);
	msg_pack_str(&pk, method);
}

static int
cond_nonzero(void *arg)
{
	return (*(int *)arg != 0);
}

static int
cond_two(void *arg)
{
	return (*(int *)arg >= 2);
}

static int
cond_ptr_set(void *arg)
{
	return (*(void **)arg != NULL);
}

static int
cond_ptr_null(void *arg)
{
	return (*(void **)arg == NULL);
}

static int
cond_closes(void *arg)
{
	return (T.closes >= *(int *)arg);
}

static void
wait_closes(int n)
{
	ck_assert_msg(testlib_loop_until(base, cond_closes, &n, WAIT_MS) == 0,
	    "%d closes, want %d", T.closes, n);
}

static int
cond_ndefer(void *arg)
{
	return (T.ndefer >= *(int *)arg);
}

static void
wait_ndefer(int n)
{
	ck_assert_msg(testlib_loop_until(base, cond_ndefer, &n, WAIT_MS) == 0,
	    "%d deferred, want %d", T.ndefer, n);
}

/*
 * The asynchronous client.
 */

struct result {
	int		 calls;
	int		 order;
	int64_t		 code;
	char		 msg[256];
	uint8_t		 raw[256];
	size_t		 rawlen;
	int64_t		 ival;
};

static void
result_cb(struct msg_reader *r, int64_t code, const char *msg, void *arg)
{
	struct result	*res = arg;
	const uint8_t	*raw;
	struct msg_reader copy;

	res->calls++;
	res->order = ++T.order;
	res->code = code;
	if (r == NULL) {
		ck_assert_int_ne(code, 0);
		ck_assert_ptr_nonnull(msg);
		snprintf(res->msg, sizeof(res->msg), "%s", msg);
		return;
	}
	ck_assert_int_eq(code, 0);
	ck_assert_ptr_null(msg);
	copy = *r;
	(void)msg_get_int(&copy, &res->ival);
	ck_assert_int_eq(msg_get_raw(r, &raw, &res->rawlen), 0);
	ck_assert_int_eq(msg_end(r), 0);
	ck_assert_uint_le(res->rawlen, sizeof(res->raw));
	memcpy(res->raw, raw, res->rawlen);
}

static struct {
	int		 notifies;
	char		 method[64];
	uint8_t		 params[256];
	size_t		 paramslen;
	int		 closes;
	int		 close_null;
	char		 reason[256];
} C;

static void
client_notify(const char *method, struct msg_reader *params, void *arg)
{
	const uint8_t	*raw;

	ck_assert_ptr_eq(arg, &C);
	C.notifies++;
	snprintf(C.method, sizeof(C.method), "%s", method);
	ck_assert_int_eq(msg_get_raw(params, &raw, &C.paramslen), 0);
	ck_assert_uint_le(C.paramslen, sizeof(C.params));
	memcpy(C.params, raw, C.paramslen);
}

static void
client_close(const char *reason, void *arg)
{
	ck_assert_ptr_eq(arg, &C);
	C.closes++;
	if (reason == NULL)
		C.close_null++;
	else
		snprintf(C.reason, sizeof(C.reason), "%s", reason);
}

static struct rpc_client *
client_open(void)
{
	char	*cause = NULL;
	int	 fd;

	memset(&C, 0, sizeof(C));
	fd = sock_connect_unix(path, &cause);
	ck_assert_msg(fd >= 0, "connect: %s", cause);
	return (rpc_client_new(base, fd, 65536, client_notify, client_close,
	    &C));
}

static int
cond_calls(void *arg)
{
	return (((struct result *)arg)->calls > 0);
}

static void
wait_result(struct result *res)
{
	ck_assert_msg(testlib_loop_until(base, cond_calls, res, WAIT_MS) ==
	    0, "no answer");
	ck_assert_int_eq(res->calls, 1);
}

/* Pack [a, b] and call add. */
static void
call_add(struct rpc_client *c, int64_t a, int64_t b, struct result *res)
{
	msgpack_packer	*p;

	p = rpc_client_call_begin(c, "add", result_cb, res);
	msgpack_pack_array(p, 2);
	msgpack_pack_int64(p, a);
	msgpack_pack_int64(p, b);
	ck_assert_int_eq(rpc_client_call_end(c), 0);
}

/*
 * Tests.
 */

START_TEST(test_roundtrip)
{
	struct rpc_client	*c = client_open();
	struct result		 r1, r2, r3;
	msgpack_packer		*p;

	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	memset(&r3, 0, sizeof(r3));
	call_add(c, 2, 3, &r1);
	wait_result(&r1);
	ck_assert_int_eq(r1.ival, 5);

	p = rpc_client_call_begin(c, "echo", result_cb, &r2);
	msgpack_pack_array(p, 2);
	msg_pack_str(p, "x");
	msgpack_pack_array(p, 0);
	ck_assert_int_eq(rpc_client_call_end(c), 0);
	wait_result(&r2);
	ck_assert_uint_eq(r2.rawlen, 4);
	ck_assert(memcmp(r2.raw, "\x92\xa1x\x90", 4) == 0);

	p = rpc_client_call_begin(c, "add", result_cb, &r3);
	msgpack_pack_array(p, 2);
	msg_pack_str(p, "x");
	msgpack_pack_int64(p, 1);
	ck_assert_int_eq(rpc_client_call_end(c), 0);
	wait_result(&r3);
	ck_assert_int_eq(r3.code, PROTO_E_BAD_PARAMS);
	ck_assert_str_eq(r3.msg, "a: expected integer, got string");

	ck_assert_uint_eq(rpc_client_pending(c), 0);
	ck_assert_uint_eq(stats().requests, 3);
	ck_assert_uint_eq(stats().clients, 1);
	ck_assert_int_eq(T.connects, 1);
	rpc_client_free(c);
	wait_closes(1);
	ck_assert_int_eq(T.close_null, 1);
	ck_assert_int_eq(C.closes, 0);	/* not called by free */
}
END_TEST

/* 100 deferred requests on one connection, answered in reverse. */
START_TEST(test_deferred_reverse)
{
	struct rpc_client	*c = client_open();
	struct result		 res[100];
	msgpack_packer		*p;
	int			 i;

	memset(res, 0, sizeof(res));
	for (i = 0; i < 100; i++) {
		p = rpc_client_call_begin(c, "defer", result_cb, &res[i]);
		msgpack_pack_array(p, 1);
		msgpack_pack_uint64(p, i);
		ck_assert_int_eq(rpc_client_call_end(c), 0);
	}
	ck_assert_uint_eq(rpc_client_pending(c), 100);
	wait_ndefer(100);
	ck_assert_uint_eq(stats().pending, 100);
	for (i = 99; i >= 0; i--) {
		p = rpc_reply_begin(T.defer[i]);
		msgpack_pack_uint64(p, T.dval[i] * 10);
		rpc_reply_end(T.defer[i]);
		T.defer[i] = NULL;
	}
	ck_assert_uint_eq(stats().pending, 0);
	wait_result(&res[0]);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(res[i].calls, 1);
		ck_assert_int_eq(res[i].ival, i * 10);
		ck_assert_int_eq(res[i].order, 100 - i);
	}
	ck_assert_uint_eq(rpc_client_pending(c), 0);
	rpc_client_free(c);
}
END_TEST

START_TEST(test_error_form)
{
	struct peer	*p = peer_open();

	pack_request(7, "add");
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, "x");
	msgpack_pack_int64(&pk, 1);
	peer_send_sb(p);
	pack_error(7, PROTO_E_BAD_PARAMS, "a: expected integer, got string");
	expect_sb(p);

	/* The result form, for contrast: [1, 8, nil, 3]. */
	pack_request(8, "add");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int64(&pk, 1);
	msgpack_pack_int64(&pk, 2);
	peer_send_sb(p);
	ck_assert_uint_eq(peer_next(p), 5);
	ck_assert(memcmp(p->frame, "\x94\x01\x08\xc0\x03", 5) == 0);
	peer_close(p);
}
END_TEST

START_TEST(test_unknown_method)
{
	struct peer	*p = peer_open();
	char		 name[200], want[512];
	size_t		 n;

	pack_request(9, "nope");
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p);
	pack_error(9, PROTO_E_NO_METHOD, "no such method: nope");
	expect_sb(p);

	/* Control bytes, bad UTF-8 and backslashes escaped; cut at 64. */
	memcpy(name, "\x01" "bad\xff\\", 6);
	memset(name + 6, 'x', 100);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_uint32(&pk, 10);
	msg_pack_strn(&pk, name, 106);
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p);
	n = snprintf(want, sizeof(want), "no such method: \\x01bad\\xff\\\\");
	memset(want + n, 'x', 58);
	strcpy(want + n + 58, "...");
	pack_error(10, PROTO_E_NO_METHOD, want);
	expect_sb(p);

	/* A prefix of a real name is not that name. */
	pack_request(11, "ech");
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p);
	pack_error(11, PROTO_E_NO_METHOD, "no such method: ech");
	expect_sb(p);
	ck_assert_uint_eq(stats().bad_requests, 3);
	ck_assert_uint_eq(stats().requests, 0);
	peer_close(p);
}
END_TEST

START_TEST(test_printable)
{
	char	 buf[RPC_PRINTABLE_MAX], small[8];
	char	 all[256];
	int	 i;

	ck_assert_str_eq(rpc_printable(buf, sizeof(buf), "abc", 3), "abc");
	ck_assert_str_eq(rpc_printable(buf, sizeof(buf), "a\nb\\", 4),
	    "a\\x0ab\\\\");
	ck_assert_str_eq(rpc_printable(buf, sizeof(buf), "\xc3\xa9", 2),
	    "\\xc3\\xa9");
	ck_assert_str_eq(rpc_printable(small, sizeof(small), "abcdefghij",
	    10), "abcdefg");
	for (i = 0; i < 256; i++)
		all[i] = (char)0xff;
	rpc_printable(buf, sizeof(buf), all, sizeof(all));
	ck_assert_uint_eq(strlen(buf), 64 * 4 + 3);
}
END_TEST

/* Bad shapes that can be answered, on one connection that survives. */
START_TEST(test_bad_requests)
{
	struct peer	*p = peer_open();

	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_uint32(&pk, 1);
	msg_pack_str(&pk, "echo");
	peer_send_sb(p);
	pack_error(1, PROTO_E_BAD_REQUEST, "request has 3 elements, "
	    "expected 4");
	expect_sb(p);

	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 5);
	msgpack_pack_uint32(&pk, 2);
	msg_pack_str(&pk, "echo");
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p);
	pack_error(2, PROTO_E_BAD_REQUEST, "unknown message type 5");
	expect_sb(p);

	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_uint32(&pk, 3);
	msgpack_pack_int64(&pk, 42);
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p);
	pack_error(3, PROTO_E_BAD_REQUEST, "method: expected string, got "
	    "integer");
	expect_sb(p);

	pack_request(4, "echo");
	msgpack_pack_map(&pk, 0);
	peer_send_sb(p);
	pack_error(4, PROTO_E_BAD_REQUEST, "params: expected array, got map");
	expect_sb(p);

	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_uint32(&pk, 5);
	msgpack_pack_nil(&pk);
	msgpack_pack_nil(&pk);
	peer_send_sb(p);
	pack_error(5, PROTO_E_BAD_REQUEST, "unexpected response message");
	expect_sb(p);

	/* A notification is ignored... */
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, 2);
	msg_pack_str(&pk, "nvim_set_client_info");
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p);

	/* ...and the connection still serves. */
	pack_request(6, "echo");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint64(&pk, 1);
	peer_send_sb(p);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_uint32(&pk, 6);
	msgpack_pack_nil(&pk);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint64(&pk, 1);
	expect_sb(p);

	ck_assert_uint_eq(stats().bad_requests, 5);
	ck_assert_uint_eq(stats().notifications, 1);
	ck_assert_uint_eq(stats().protocol_errors, 0);
	ck_assert_int_eq(T.closes, 0);
	peer_close(p);
}
END_TEST

/* Shapes with no msgid to answer: the connection is closed. */
START_TEST(test_bad_messages_close)
{
	static const struct {
		uint8_t		 b[16];
		size_t		 n;
		const char	*reason;
	} t[] = {
		{ { 0x05 }, 1, "bad message: not an array" },
		{ { 0xa1, 'x' }, 2, "bad message: not an array" },
		{ { 0x90 }, 1, "bad message: no message type" },
		{ { 0x94, 0xa1, 'x', 0x01, 0xa1, 'm', 0x90 }, 7,
		    "bad message: no message type" },
		{ { 0x94, 0x00, 0xa1, 'x', 0xa4, 'e', 'c', 'h', 'o', 0x90 }, 10,
		    "bad request: no valid msgid" },
		{ { 0x94, 0x00, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0xa1, 'e', 0x90 },
		    14, "bad request: no valid msgid" },
		{ { 0x91, 0x00 }, 2, "bad request: no valid msgid" },
		{ { 0xc1 }, 1, "invalid msgpack byte 0xc1" },
	};
	struct peer	*p;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		p = peer_open();
		peer_send(p, t[i].b, t[i].n);
		expect_eof(p);
		wait_closes(i + 1);
		ck_assert_str_eq(T.reason, t[i].reason);
		peer_close(p);
	}
	ck_assert_uint_eq(stats().protocol_errors, i);
	ck_assert_uint_eq(stats().clients, 0);
}
END_TEST

static int
cond_bytes_in(void *arg)
{
	return (stats().bytes_in >= *(size_t *)arg);
}

/* A 3000-byte frame written one byte per loop iteration. */
START_TEST(test_split_bytes)
{
	struct peer	*p = peer_open();
	char		 data[3000];
	uint8_t		*req;
	size_t		 len, i, want;

	memset(data, 'q', sizeof(data));
	pack_request(77, "echo");
	msgpack_pack_array(&pk, 1);
	msg_pack_strn(&pk, data, sizeof(data));
	len = sb.size;
	req = xmalloc(len);
	memcpy(req, sb.data, len);
	msgpack_sbuffer_clear(&sb);

	for (i = 0; i < len; i++) {
		peer_send(p, req + i, 1);
		want = i + 1;
		ck_assert_int_eq(testlib_loop_until(base, cond_bytes_in,
		    &want, WAIT_MS), 0);
		ck_assert_uint_eq(stats().bytes_in, i + 1);
		if (i + 1 < len)
			ck_assert_uint_eq(stats().requests, 0);
	}
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_uint32(&pk, 77);
	msgpack_pack_nil(&pk);
	msgpack_pack_array(&pk, 1);
	msg_pack_strn(&pk, data, sizeof(data));
	expect_sb(p);
	ck_assert_uint_eq(stats().requests, 1);
	free(req);
	peer_close(p);
}
END_TEST

/* Many frames in one write, and a frame across two writes. */
START_TEST(test_pipelined)
{
	struct peer	*p = peer_open();
	uint8_t		*req;
	size_t		 len;
	int		 i;

	for (i = 0; i < 50; i++) {
		pack_request(i, "msgid");
		msgpack_pack_array(&pk, 0);
	}
	len = sb.size;
	req = xmalloc(len);
	memcpy(req, sb.data, len);
	msgpack_sbuffer_clear(&sb);
	peer_send(p, req, len / 2);
	peer_send(p, req + len / 2, len - len / 2);
	for (i = 0; i < 50; i++) {
		ck_assert_uint_gt(peer_next(p), 0);
		ck_assert_uint_eq(p->frame[2], (uint8_t)i);
	}
	free(req);
	peer_close(p);
}
END_TEST

START_TEST(test_too_large)
{
	struct rpc_limits	 l = limits(1024, 16, 65536);
	struct peer		*p;
	char			 data[2000];
	int			 i;

	rpc_server_free(srv);
	start_server(&l);

	/* One string over the limit: refused from its header. */
	memset(data, 'a', sizeof(data));
	p = peer_open();
	pack_request(1, "echo");
	msgpack_pack_array(&pk, 1);
	msg_pack_strn(&pk, data, 2000);
	peer_send(p, sb.data, 16);
	msgpack_sbuffer_clear(&sb);
	expect_eof(p);
	wait_closes(1);
	ck_assert_str_eq(T.reason,
	    "declared length exceeds the maximum message size");
	peer_close(p);

	/* Small items adding up to more than the limit. */
	p = peer_open();
	pack_request(1, "echo");
	msgpack_pack_array(&pk, 400);
	for (i = 0; i < 400; i++)
		msgpack_pack_uint16(&pk, 1000);
	ck_assert_uint_gt(sb.size, 1024);
	peer_send_sb(p);
	expect_eof(p);
	wait_closes(2);
	ck_assert_str_eq(T.reason,
	    "declared length exceeds the maximum message size");
	peer_close(p);

	/* Exactly at the limit is served. */
	p = peer_open();
	pack_request(2, "echo");
	msgpack_pack_array(&pk, 1);
	msg_pack_strn(&pk, data, 1024 - 8 - 1 - 3);
	ck_assert_uint_eq(sb.size, 1024);
	peer_send_sb(p);
	ck_assert_uint_gt(peer_next(p), 0);
	peer_close(p);

	ck_assert_uint_eq(stats().protocol_errors, 2);
	ck_assert_uint_eq(stats().requests, 1);
}
END_TEST

START_TEST(test_huge_declared)
{
	static const uint8_t	 str32[] = { 0x94, 0x00, 0x01, 0xa4, 'e', 'c',
	    'h', 'o', 0x91, 0xdb, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t	 arr32[] = { 0x94, 0x00, 0x01, 0xa4, 'e', 'c',
	    'h', 'o', 0xdd, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t	 map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t	 bin32[] = { 0xc6, 0xff, 0xff, 0xff, 0xfe };
	struct peer		*p;

	p = peer_open();
	peer_send(p, str32, sizeof(str32));
	expect_eof(p);
	wait_closes(1);
	ck_assert_str_eq(T.reason,
	    "declared length exceeds the maximum message size");
	peer_close(p);

	p = peer_open();
	peer_send(p, arr32, sizeof(arr32));
	expect_eof(p);
	wait_closes(2);
	ck_assert_str_eq(T.reason,
	    "declared item count exceeds the maximum message size");
	peer_close(p);

	p = peer_open();
	peer_send(p, map32, sizeof(map32));
	expect_eof(p);
	wait_closes(3);
	ck_assert_str_eq(T.reason,
	    "declared item count exceeds the maximum message size");
	peer_close(p);

	p = peer_open();
	peer_send(p, bin32, sizeof(bin32));
	expect_eof(p);
	wait_closes(4);
	ck_assert_str_eq(T.reason,
	    "declared length exceeds the maximum message size");
	peer_close(p);
	ck_assert_uint_eq(stats().protocol_errors, 4);
}
END_TEST

START_TEST(test_deep_nesting)
{
	uint8_t		 b[64];
	struct peer	*p;
	int		 i;

	/* [0, 1, "echo", [[[...]]]] nested 33 deep in all. */
	memcpy(b, "\x94\x00\x01\xa4" "echo", 8);
	for (i = 0; i < 32; i++)
		b[8 + i] = 0x91;
	b[40] = 0x01;
	p = peer_open();
	peer_send(p, b, 41);
	expect_eof(p);
	wait_closes(1);
	ck_assert_str_eq(T.reason, "nesting deeper than 32 levels");
	peer_close(p);

	/* 32 deep is served. */
	p = peer_open();
	b[39] = 0x01;
	peer_send(p, b, 40);
	ck_assert_uint_eq(peer_next(p), 4 + 31 + 1);
	peer_close(p);
}
END_TEST

/* The peer goes away while its request waits; the reply is dropped. */
START_TEST(test_close_while_deferred)
{
	struct peer	*p = peer_open();
	struct rpc_conn	*c;

	pack_request(1, "defer");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint64(&pk, 5);
	pack_request(2, "defer");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint64(&pk, 6);
	peer_send_sb(p);
	wait_ndefer(2);
	c = rpc_request_conn(T.defer[0]);
	rpc_conn_hold(c);
	ck_assert(rpc_conn_alive(c));
	peer_close(p);
	wait_closes(1);
	ck_assert_int_eq(T.close_null, 1);
	ck_assert(!rpc_conn_alive(c));
	ck_assert_uint_eq(rpc_conn_queued(c), 0);
	ck_assert_uint_eq(stats().clients, 0);

	/* Answers into the void, in either form. */
	msgpack_pack_uint64(rpc_reply_begin(T.defer[0]), 1);
	rpc_reply_end(T.defer[0]);
	rpc_reply_error(T.defer[1], PROTO_E_IO, "late");
	T.defer[0] = T.defer[1] = NULL;
	/* And a notification to it. */
	msgpack_pack_array(rpc_conn_notify_begin(c, "x"), 0);
	rpc_conn_notify_end(c);
	rpc_conn_release(c);
	ck_assert_uint_eq(stats().pending, 0);
}
END_TEST

static int
cond_accepted(void *arg)
{
	struct rpc_stats	 st = stats();

	return (st.accepted + st.rejected >= *(uint64_t *)arg);
}

START_TEST(test_max_clients)
{
	struct rpc_limits	 l = limits(65536, 2, 65536);
	struct peer		*p1, *p2, *p3, *p4;
	uint64_t		 n = 3;

	rpc_server_free(srv);
	start_server(&l);
	p1 = peer_open();
	p2 = peer_open();
	p3 = peer_open();
	ck_assert_int_eq(testlib_loop_until(base, cond_accepted, &n, WAIT_MS),
	    0);
	expect_eof(p3);
	ck_assert_uint_eq(stats().rejected, 1);
	ck_assert_uint_eq(stats().clients, 2);
	ck_assert_int_eq(T.connects, 2);

	/* The two admitted ones work. */
	pack_request(1, "msgid");
	msgpack_pack_array(&pk, 0);
	peer_send(p2, sb.data, sb.size);
	peer_send_sb(p1);
	ck_assert_uint_gt(peer_next(p1), 0);
	ck_assert_uint_gt(peer_next(p2), 0);

	/* One leaves; a new one gets in. */
	peer_close(p1);
	wait_closes(1);
	p4 = peer_open();
	pack_request(2, "msgid");
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p4);
	ck_assert_uint_gt(peer_next(p4), 0);
	ck_assert_uint_eq(stats().clients, 2);
	ck_assert_uint_eq(stats().rejected, 1);
	peer_close(p2);
	peer_close(p3);
	peer_close(p4);
}
END_TEST

/* Backpressure: a writer that never reads. */
struct writer {
	struct peer	*p;
	struct event	*ev;
	uint8_t		*buf;
	size_t		 len;
	size_t		 off;
	int		 blocked;	/* the socket was full */
};

static void
writer_cb(int fd, short events, void *arg)
{
	struct writer	*w = arg;
	ssize_t		 n;

	(void)events;
	while (w->off < w->len) {
		n = send(fd, w->buf + w->off, w->len - w->off, MSG_NOSIGNAL);
		if (n <= 0) {
			ck_assert_int_eq(errno, EAGAIN);
			w->blocked = 1;
			return;
		}
		w->off += n;
	}
	event_del(w->ev);
}

static int
cond_stalled(void *arg)
{
	struct writer	*w = arg;

	return (w->blocked && stats().paused == 1);
}

static int
cond_frames(void *arg)
{
	struct writer	*w = arg;

	return (w->p->frames >= 2000);
}

START_TEST(test_backpressure)
{
	struct rpc_limits	 l = limits(65536, 16, 65536);
	struct rpc_stats	 st;
	struct writer		 w;
	char			 pad[500];
	uint64_t		 req0;
	int			 i;

	rpc_server_free(srv);
	start_server(&l);
	memset(&w, 0, sizeof(w));
	w.p = peer_open();
	event_del(w.p->ev);		/* not reading */
	/* About 1 MB of requests: more than the socket buffers hold. */
	memset(pad, 'p', sizeof(pad));
	for (i = 0; i < 2000; i++) {
		pack_request(i, "big");
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint64(&pk, 1024);
		msg_pack_strn(&pk, pad, sizeof(pad));
	}
	w.len = sb.size;
	w.buf = xmalloc(w.len);
	memcpy(w.buf, sb.data, w.len);
	msgpack_sbuffer_clear(&sb);
	w.ev = event_new(base, w.p->fd, EV_WRITE | EV_PERSIST, writer_cb, &w);
	event_add(w.ev, NULL);

	i = testlib_loop_until(base, cond_stalled, &w, WAIT_MS);
	st = stats();
	ck_assert_msg(i == 0, "blocked %d paused %zu requests %llu queued %zu "
	    "written %zu of %zu", w.blocked, st.paused,
	    (unsigned long long)st.requests, st.out_queued, w.off, w.len);
	req0 = st.requests;
	ck_assert_uint_lt(req0, 2000);
	ck_assert_uint_ge(st.pauses, 1);
	/* Let the loop run on: nothing moves while the peer is stuck. */
	for (i = 0; i < 200; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	st = stats();
	ck_assert_uint_eq(st.requests, req0);
	ck_assert_uint_le(st.out_queued, 65536 + 1100);
	ck_assert_uint_le(st.out_peak, 65536 + 1100);
	ck_assert_uint_gt(st.out_queued, 65536 / 2);

	/* The peer reads: everything completes, memory stays bounded. */
	w.p->counting = 1;
	event_add(w.p->ev, NULL);
	ck_assert_int_eq(testlib_loop_until(base, cond_frames, &w, 20000), 0);
	ck_assert_uint_eq(w.p->frames, 2000);
	ck_assert_uint_eq(w.off, w.len);
	st = stats();
	ck_assert_uint_eq(st.requests, 2000);
	ck_assert_uint_le(st.out_peak, 65536 + 1100);
	ck_assert_uint_eq(st.paused, 0);
	ck_assert_uint_eq(st.overflows, 0);
	event_free(w.ev);
	free(w.buf);
	peer_close(w.p);
}
END_TEST

static int
cond_paused(void *arg)
{
	(void)arg;
	return (stats().paused == 1);
}

/* Too many unanswered requests pause reading; answers resume it. */
START_TEST(test_pending_limit)
{
	struct rpc_limits	 l = limits(65536, 16, 65536);
	struct peer		*p;
	int			 i;

	l.max_pending = 4;
	rpc_server_free(srv);
	start_server(&l);
	p = peer_open();
	for (i = 0; i < 10; i++) {
		pack_request(i, "defer");
		msgpack_pack_array(&pk, 1);
		msgpack_pack_uint64(&pk, i);
	}
	peer_send_sb(p);
	wait_ndefer(4);
	ck_assert_int_eq(testlib_loop_until(base, cond_paused, NULL, WAIT_MS),
	    0);
	for (i = 0; i < 100; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert_int_eq(T.ndefer, 4);

	/* Down to 1 pending (<= 4 / 2): the buffered requests go on. */
	for (i = 0; i < 3; i++) {
		rpc_reply_nil(T.defer[i]);
		T.defer[i] = NULL;
	}
	wait_ndefer(7);
	for (i = 0; i < 7; i++) {
		if (T.defer[i] != NULL) {
			rpc_reply_nil(T.defer[i]);
			T.defer[i] = NULL;
		}
	}
	wait_ndefer(10);
	for (i = 0; i < 10; i++)
		ck_assert_uint_eq(T.dval[i], (uint64_t)i);
	for (i = 0; i < 10; i++) {
		if (T.defer[i] == NULL)
			continue;
		rpc_reply_nil(T.defer[i]);
		T.defer[i] = NULL;
	}
	for (i = 0; i < 10; i++)
		ck_assert_uint_gt(peer_next(p), 0);
	ck_assert_uint_eq(stats().pending, 0);
	peer_close(p);
}
END_TEST

/* Notifications to a peer that never reads: closed at the hard limit. */
START_TEST(test_output_overflow)
{
	struct rpc_limits	 l = limits(4096, 16, 16384);
	struct peer		*p;
	struct rpc_conn		*c;
	msgpack_packer		*pp;
	char			 data[1024];
	int			 i;

	rpc_server_free(srv);
	start_server(&l);
	p = peer_open();
	event_del(p->ev);		/* never reads */
	pack_request(1, "hold");
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p);
	ck_assert_int_eq(testlib_loop_until(base, cond_ptr_set, &T.held,
	    WAIT_MS), 0);
	c = T.held;
	memset(data, 'n', sizeof(data));
	for (i = 0; i < 100000 && rpc_conn_alive(c); i++) {
		pp = rpc_conn_notify_begin(c, "committed");
		msgpack_pack_array(pp, 1);
		msg_pack_strn(pp, data, sizeof(data));
		rpc_conn_notify_end(c);
		ck_assert_uint_le(rpc_conn_queued(c), 2 * 16384 + 4096);
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	ck_assert(!rpc_conn_alive(c));
	wait_closes(1);
	ck_assert_str_eq(T.reason,
	    "output limit exceeded: the peer is not reading");
	ck_assert_uint_eq(stats().overflows, 1);
	peer_close(p);
}
END_TEST

/* Server-to-client notifications reach on_notify, in order. */
START_TEST(test_notify_async)
{
	struct rpc_client	*c = client_open();
	struct result		 r1, r2;
	msgpack_packer		*p;

	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	msgpack_pack_array(rpc_client_call_begin(c, "notify", result_cb,
	    &r1), 0);
	ck_assert_int_eq(rpc_client_call_end(c), 0);
	wait_result(&r1);
	ck_assert_int_eq(C.notifies, 1);	/* before the reply */
	ck_assert_str_eq(C.method, "ping");
	ck_assert_uint_eq(C.paramslen, 8);
	ck_assert(memcmp(C.params, "\x92\x2a\xa5hello", 8) == 0);

	msgpack_pack_array(rpc_client_call_begin(c, "hold", result_cb, &r2),
	    0);
	ck_assert_int_eq(rpc_client_call_end(c), 0);
	wait_result(&r2);
	ck_assert_ptr_nonnull(T.held);
	ck_assert_uint_gt(rpc_conn_id(T.held), 0);

	/* Pushed by the server on its own, like ingest's "committed". */
	p = rpc_conn_notify_begin(T.held, "committed");
	msgpack_pack_array(p, 1);
	msgpack_pack_map(p, 1);
	msg_pack_kv_uint(p, "s", 5);
	rpc_conn_notify_end(T.held);
	ck_assert_int_eq(testlib_loop_until(base, cond_two, &C.notifies,
	    WAIT_MS), 0);
	ck_assert_str_eq(C.method, "committed");
	ck_assert_uint_eq(C.paramslen, 5);
	ck_assert(memcmp(C.params, "\x91\x81\xa1s\x05", 5) == 0);

	/* Notifications from the client are ignored by the server. */
	msgpack_pack_array(rpc_client_notify_begin(c, "whatever"), 0);
	ck_assert_int_eq(rpc_client_notify_end(c), 0);
	memset(&r1, 0, sizeof(r1));
	call_add(c, 1, 1, &r1);
	wait_result(&r1);
	ck_assert_uint_eq(stats().notifications, 1);
	rpc_client_free(c);
}
END_TEST

/* The server goes away: every pending call fails once, then on_close. */
START_TEST(test_client_pending_on_close)
{
	struct rpc_client	*c = client_open();
	struct result		 res[3], late;
	int			 i;

	memset(res, 0, sizeof(res));
	memset(&late, 0, sizeof(late));
	for (i = 0; i < 3; i++) {
		msgpack_pack_array(rpc_client_call_begin(c, "defer",
		    result_cb, &res[i]), 0);
		ck_assert_int_eq(rpc_client_call_end(c), 0);
	}
	wait_ndefer(3);
	rpc_server_free(srv);
	srv = NULL;
	ck_assert_int_eq(T.closes, 1);	/* by rpc_server_free itself */
	ck_assert_int_eq(testlib_loop_until(base, cond_nonzero, &C.closes,
	    WAIT_MS), 0);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(res[i].calls, 1);
		ck_assert_int_eq(res[i].code, PROTO_E_UNAVAILABLE);
		ck_assert_str_eq(res[i].msg, "connection closed");
	}
	ck_assert_int_eq(C.closes, 1);
	ck_assert_int_eq(C.close_null, 1);
	ck_assert(!rpc_client_alive(c));
	ck_assert_uint_eq(rpc_client_pending(c), 0);

	/* Calls after the close fail at once; the callback never runs. */
	msgpack_pack_array(rpc_client_call_begin(c, "add", result_cb, &late),
	    0);
	ck_assert_int_eq(rpc_client_call_end(c), -1);
	msgpack_pack_array(rpc_client_notify_begin(c, "x"), 0);
	ck_assert_int_eq(rpc_client_notify_end(c), -1);
	rpc_client_free(c);
	ck_assert_int_eq(late.calls, 0);
}
END_TEST

static void
free_in_cb(struct msg_reader *r, int64_t code, const char *msg, void *arg)
{
	struct rpc_client	**cp = arg;

	(void)r;
	(void)code;
	(void)msg;
	rpc_client_free(*cp);
	*cp = NULL;
}

START_TEST(test_client_free_pending)
{
	struct rpc_client	*c = client_open();
	struct rpc_client	*c2;
	struct result		 res[2], late;
	int			 i;

	memset(res, 0, sizeof(res));
	memset(&late, 0, sizeof(late));
	for (i = 0; i < 2; i++) {
		msgpack_pack_array(rpc_client_call_begin(c, "defer",
		    result_cb, &res[i]), 0);
		ck_assert_int_eq(rpc_client_call_end(c), 0);
	}
	wait_ndefer(2);
	rpc_client_free(c);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(res[i].calls, 1);
		ck_assert_int_eq(res[i].code, PROTO_E_UNAVAILABLE);
	}
	ck_assert_int_eq(C.closes, 0);
	wait_closes(1);

	/* Freed from inside its own callback, with a call still pending. */
	c2 = client_open();
	call_add(c2, 1, 2, &late);
	msgpack_pack_array(rpc_client_call_begin(c2, "msgid", free_in_cb,
	    &c2), 0);
	ck_assert_int_eq(rpc_client_call_end(c2), 0);
	msgpack_pack_array(rpc_client_call_begin(c2, "defer", result_cb,
	    &res[0]), 0);
	res[0].calls = 0;
	ck_assert_int_eq(rpc_client_call_end(c2), 0);
	ck_assert_int_eq(testlib_loop_until(base, cond_ptr_null, &c2,
	    WAIT_MS), 0);
	ck_assert_int_eq(late.calls, 1);
	ck_assert_int_eq(late.ival, 3);
	ck_assert_int_eq(res[0].calls, 1);
	ck_assert_int_eq(res[0].code, PROTO_E_UNAVAILABLE);
}
END_TEST

START_TEST(test_msgid_wrap)
{
	struct rpc_client	*c = client_open();
	struct result		 r1, r2;

	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	rpc_client_set_msgid(c, UINT32_MAX);
	msgpack_pack_array(rpc_client_call_begin(c, "msgid", result_cb, &r1),
	    0);
	ck_assert_int_eq(rpc_client_call_end(c), 0);
	msgpack_pack_array(rpc_client_call_begin(c, "msgid", result_cb, &r2),
	    0);
	ck_assert_int_eq(rpc_client_call_end(c), 0);
	wait_result(&r1);
	wait_result(&r2);
	ck_assert_int_eq(r1.ival, UINT32_MAX);
	ck_assert_int_eq(r2.ival, 0);
	rpc_client_free(c);
}
END_TEST

/* A peer that sends, shuts down its side and waits for the answers. */
START_TEST(test_half_close)
{
	struct peer	*p = peer_open();
	int		 i;

	for (i = 0; i < 3; i++) {
		pack_request(i, "msgid");
		msgpack_pack_array(&pk, 0);
	}
	pack_request(3, "defer");
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p);
	ck_assert_int_eq(shutdown(p->fd, SHUT_WR), 0);
	for (i = 0; i < 3; i++)
		ck_assert_uint_gt(peer_next(p), 0);
	wait_ndefer(1);
	/* Still open: a reply is owed. */
	for (i = 0; i < 50; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert_int_eq(T.closes, 0);
	rpc_reply_nil(T.defer[0]);
	T.defer[0] = NULL;
	ck_assert_uint_eq(peer_next(p), 5);
	expect_eof(p);
	wait_closes(1);
	ck_assert_int_eq(T.close_null, 1);
	peer_close(p);
}
END_TEST

/* EOF in the middle of a frame. */
START_TEST(test_eof_mid_frame)
{
	struct peer	*p = peer_open();

	peer_send(p, "\x94\x00\x01", 3);
	ck_assert_int_eq(shutdown(p->fd, SHUT_WR), 0);
	expect_eof(p);
	wait_closes(1);
	ck_assert_str_eq(T.reason,
	    "connection closed in the middle of a message");
	peer_close(p);
}
END_TEST

START_TEST(test_conn_close_after_reply)
{
	struct peer	*p = peer_open();

	pack_request(1, "bye");
	msgpack_pack_array(&pk, 0);
	pack_request(2, "msgid");	/* never read */
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p);
	pack_error(1, PROTO_E_VERSION, "bye");
	expect_sb(p);
	expect_eof(p);
	wait_closes(1);
	ck_assert_int_eq(T.close_null, 1);
	ck_assert_uint_eq(stats().requests, 1);
	peer_close(p);
}
END_TEST

START_TEST(test_close_listener)
{
	struct peer	*p = peer_open();
	char		*cause = NULL;

	pack_request(1, "msgid");
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p);
	ck_assert_uint_gt(peer_next(p), 0);
	rpc_server_close_listener(srv);
	rpc_server_close_listener(srv);
	ck_assert_int_eq(sock_connect_unix(path, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "Connection refused"));
	free(cause);
	/* The existing connection still works. */
	pack_request(2, "msgid");
	msgpack_pack_array(&pk, 0);
	peer_send_sb(p);
	ck_assert_uint_gt(peer_next(p), 0);
	peer_close(p);
}
END_TEST

/* The blocking client, against the server running in a thread. */
static int	 stop_pipe[2];

static void
stop_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	event_base_loopbreak(arg);
}

static void *
server_thread(void *arg)
{
	(void)arg;
	event_base_dispatch(base);
	return (NULL);
}

START_TEST(test_sync_client)
{
	struct rpc_sync		*s;
	struct rpc_sync_result	 out;
	struct event		*stop;
	pthread_t		 th;
	const char		*str;
	char			*cause = NULL, *missing;
	size_t			 len;
	uint32_t		 n;
	uint64_t		 u;

	ck_assert_int_eq(pipe(stop_pipe), 0);
	stop = event_new(base, stop_pipe[0], EV_READ, stop_cb, base);
	event_add(stop, NULL);
	ck_assert_int_eq(pthread_create(&th, NULL, server_thread, NULL), 0);

	missing = testlib_path(dir, "missing.sock");
	ck_assert_ptr_null(rpc_sync_connect(missing, 65536, &cause));
	ck_assert_ptr_nonnull(strstr(cause, missing));
	free(cause);
	free(missing);

	s = rpc_sync_connect(path, 65536, &cause);
	ck_assert_msg(s != NULL, "%s", cause);

	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, 1);
	msg_pack_str(&pk, "a");
	ck_assert_int_eq(rpc_sync_call(s, "echo", sb.data, sb.size, WAIT_MS,
	    &out, &cause), 0);
	msgpack_sbuffer_clear(&sb);
	ck_assert_int_eq(out.code, 0);
	ck_assert_ptr_null(out.message);
	ck_assert_int_eq(msg_get_array(&out.result, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(msg_get_uint(&out.result, &u), 0);
	ck_assert_uint_eq(u, 1);
	ck_assert_int_eq(msg_get_str(&out.result, &str, &len), 0);
	ck_assert(len == 1 && str[0] == 'a');
	ck_assert_int_eq(msg_end(&out.result), 0);

	ck_assert_int_eq(rpc_sync_call(s, "nope", "\x90", 1, WAIT_MS, &out,
	    &cause), 0);
	ck_assert_int_eq(out.code, PROTO_E_NO_METHOD);
	ck_assert_str_eq(out.message, "no such method: nope");

	ck_assert_int_eq(rpc_sync_call(s, "add", "\x92\xa1x\x01", 4, WAIT_MS,
	    &out, &cause), 0);
	ck_assert_int_eq(out.code, PROTO_E_BAD_PARAMS);
	ck_assert_str_eq(out.message, "a: expected integer, got string");

	/* A notification before the reply is skipped. */
	ck_assert_int_eq(rpc_sync_call(s, "notify", "\x90", 1, WAIT_MS, &out,
	    &cause), 0);
	ck_assert_int_eq(out.code, 0);
	ck_assert_int_eq(msg_get_nil(&out.result), 0);

	/* Params that are not one array are refused before sending. */
	ck_assert_int_eq(rpc_sync_call(s, "echo", "\x01", 1, WAIT_MS, &out,
	    &cause), -1);
	ck_assert_str_eq(cause, "echo: params must be one packed array");
	free(cause);
	ck_assert_int_eq(rpc_sync_call(s, "echo", "\x90\x90", 2, WAIT_MS,
	    &out, &cause), -1);
	free(cause);

	/* A big result, larger than one read. */
	ck_assert_int_eq(rpc_sync_call(s, "big", "\x91\xcd\xc3\x50", 4,
	    WAIT_MS, &out, &cause), 0);
	ck_assert_int_eq(msg_get_str(&out.result, &str, &len), 0);
	ck_assert_uint_eq(len, 50000);

	/* No answer in time: an error, and the connection is done. */
	ck_assert_int_eq(rpc_sync_call(s, "defer", "\x90", 1, 100, &out,
	    &cause), -1);
	ck_assert_str_eq(cause, "no response within 100 ms");
	free(cause);
	ck_assert_int_eq(rpc_sync_call(s, "msgid", "\x90", 1, WAIT_MS, &out,
	    &cause), -1);
	ck_assert_str_eq(cause, "connection unusable after an earlier failure");
	free(cause);
	rpc_sync_free(s);

	/* A server that hangs up. */
	s = rpc_sync_connect(path, 65536, &cause);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(rpc_sync_call(s, "bye", "\x90", 1, WAIT_MS, &out,
	    &cause), 0);
	ck_assert_int_eq(out.code, PROTO_E_VERSION);
	ck_assert_int_eq(rpc_sync_call(s, "msgid", "\x90", 1, WAIT_MS, &out,
	    &cause), -1);
	ck_assert_str_eq(cause, "connection closed by the server");
	free(cause);
	rpc_sync_free(s);

	ck_assert_int_eq(write(stop_pipe[1], "x", 1), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	event_free(stop);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	ck_assert_int_eq(T.ndefer, 1);
}
END_TEST

/* A response too large for the client's max_message closes it. */
START_TEST(test_client_max_message)
{
	struct rpc_client	*c;
	struct result		 res;
	msgpack_packer		*p;
	char			*cause = NULL;
	int			 fd;

	memset(&C, 0, sizeof(C));
	memset(&res, 0, sizeof(res));
	fd = sock_connect_unix(path, &cause);
	ck_assert_int_ge(fd, 0);
	c = rpc_client_new(base, fd, 1000, client_notify, client_close, &C);
	p = rpc_client_call_begin(c, "big", result_cb, &res);
	msgpack_pack_array(p, 1);
	msgpack_pack_uint64(p, 5000);
	ck_assert_int_eq(rpc_client_call_end(c), 0);
	wait_result(&res);
	ck_assert_int_eq(res.code, PROTO_E_UNAVAILABLE);
	ck_assert_str_eq(res.msg, "connection closed");
	ck_assert_int_eq(C.closes, 1);
	ck_assert_str_eq(C.reason,
	    "declared length exceeds the maximum message size");
	rpc_client_free(c);
}
END_TEST

static Suite *
rpc_suite(void)
{
	Suite	*s = suite_create("rpc");
	TCase	*tc = tcase_create("rpc");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_deferred_reverse);
	tcase_add_test(tc, test_error_form);
	tcase_add_test(tc, test_unknown_method);
	tcase_add_test(tc, test_printable);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_bad_messages_close);
	tcase_add_test(tc, test_split_bytes);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_huge_declared);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_close_while_deferred);
	tcase_add_test(tc, test_max_clients);
	tcase_add_test(tc, test_backpressure);
	tcase_add_test(tc, test_pending_limit);
	tcase_add_test(tc, test_output_overflow);
	tcase_add_test(tc, test_notify_async);
	tcase_add_test(tc, test_client_pending_on_close);
	tcase_add_test(tc, test_client_free_pending);
	tcase_add_test(tc, test_msgid_wrap);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_eof_mid_frame);
	tcase_add_test(tc, test_conn_close_after_reply);
	tcase_add_test(tc, test_close_listener);
	tcase_add_test(tc, test_sync_client);
	tcase_add_test(tc, test_client_max_message);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(rpc_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failures ? 1 : 0);
}
