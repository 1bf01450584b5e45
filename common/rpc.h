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
 * MessagePack-RPC over Unix sockets, on one libevent event_base and no
 * threads: the server every daemon runs, an asynchronous client for daemons
 * that call each other, and a blocking client for the CLI and tests.
 * docs/PROTOCOL.md describes the wire format.
 *
 * Framing.  The wire is a plain stream of msgpack objects.  struct
 * rpc_inbuf keeps a connection's input in one linear buffer and finds whole
 * objects in it with msg_scan(), resuming where the last scan stopped, so a
 * large frame arriving in small pieces is scanned about once.  Every frame
 * is checked against the maximum message size before the buffer grows for
 * it.  The server and both clients read through it; any other msgpack
 * stream (Fluentd Forward) can too.
 *
 * Server.  rpc_server_new() accepts on a listening socket and dispatches
 * each request through one table, { name, handler } pairs ending with
 * { NULL, NULL }.  A handler gets a struct rpc_request and a reader
 * positioned at the params array; params are borrowed from the input
 * buffer and valid only until the handler returns (copy what you keep).
 * The handler must answer exactly once, with rpc_reply_*(), either before
 * it returns or later from any callback of the same event loop: requests
 * are heap-allocated and hold a reference to their connection, so a
 * deferred reply to a connection that has gone away is discarded and the
 * request freed.  Replies may go out in any order; clients match msgids.
 * Answering twice, or never, is a bug (the second is a use after free, the
 * missing one a leak).
 *
 * Between rpc_reply_begin() and rpc_reply_end(), and likewise
 * rpc_conn_notify_begin() and _end(), the caller packs exactly one value
 * (the result, or the params array) and nothing else may be sent to that
 * connection; there is no nesting.
 *
 * Bad input.  A frame that is not msgpack, is over max_message or nests
 * deeper than MSG_MAX_DEPTH closes the connection.  A frame that is msgpack
 * but not a request gets an error reply PROTO_E_BAD_REQUEST if a msgid
 * can be read from it, and otherwise closes the connection.  An unknown
 * method gets PROTO_E_NO_METHOD.  Notifications sent to a server are
 * counted and ignored: lamina has no client-to-server notifications, and
 * some stock clients (pynvim) send one unasked.  Nothing here logs: the
 * reason a connection was closed goes to the on_close hook, and counters
 * to rpc_server_stats().
 *
 * Limits.  max_clients connections at once (more are accepted and closed
 * at once, and counted); max_message bytes per frame.  When a connection
 * has more than max_output bytes of replies queued, or max_pending
 * requests unanswered, the server stops reading from it until the output
 * has drained below half and the pending requests are below half: a peer
 * that does not read slows itself down and server memory stays bounded.  A
 * connection whose queued output passes 2 * max_output + max_message
 * anyway (notifications to a subscriber that never reads) is closed.
 *
 * A peer that shuts down its sending side after its last request still
 * gets every answer, then the connection closes; a peer that closes its
 * socket is dropped at once, and replies still owed to it are discarded.
 *
 * Hooks.  on_connect is called when a connection is accepted; on_close
 * exactly once when it goes away, with reason NULL for an orderly close
 * (the peer hung up, rpc_conn_close(), rpc_server_free()) and a sentence
 * otherwise.  on_close runs from the event loop, never from inside an
 * rpc_* call, except rpc_server_free(), which calls it for every
 * connection still open.
 */

#ifndef LAMINA_RPC_H
#define LAMINA_RPC_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "msg.h"

struct event_base;
struct evbuffer;

#define RPC_REQUEST		0
#define RPC_RESPONSE		1
#define RPC_NOTIFICATION	2

#define RPC_READ_SIZE		16384	/* at least this much room per read */
#define RPC_DEFAULT_MAX_PENDING	1024
#define RPC_NAME_SHOWN		64	/* bytes of a bad name echoed back */
#define RPC_PRINTABLE_MAX	(4 * RPC_NAME_SHOWN + 4) /* its buffer */

/*
 * Framing, shared by the server and the clients.  Bytes are read into
 * buf[end..size) and consumed from start; a frame returned by
 * rpc_inbuf_next() stays valid until the next rpc_inbuf_space() or
 * rpc_inbuf_read().
 */
struct rpc_inbuf {
	uint8_t		*buf;
	size_t		 size;		/* allocated */
	size_t		 start;		/* first unconsumed byte */
	size_t		 end;		/* one past the last byte read */
	size_t		 max;		/* largest frame accepted */
	int		 scanning;	/* scan holds a partial frame */
	struct msg_scan	 scan;
};

void	 rpc_inbuf_init(struct rpc_inbuf *, size_t);
void	 rpc_inbuf_free(struct rpc_inbuf *);
void	*rpc_inbuf_space(struct rpc_inbuf *, size_t *);
void	 rpc_inbuf_fill(struct rpc_inbuf *, size_t);
ssize_t	 rpc_inbuf_read(struct rpc_inbuf *, int);
int	 rpc_inbuf_next(struct rpc_inbuf *, const uint8_t **, size_t *,
	    const char **);
size_t	 rpc_inbuf_left(const struct rpc_inbuf *);
ssize_t	 rpc_evbuffer_send(int, struct evbuffer *);
char	*rpc_printable(char *, size_t, const void *, size_t);

/* Server. */
struct rpc_server;
struct rpc_conn;
struct rpc_request;

typedef void (*rpc_handler)(struct rpc_request *, struct msg_reader *,
    void *);
typedef void (*rpc_conn_cb)(struct rpc_conn *, const char *, void *);
typedef void (*rpc_frame_cb)(struct rpc_conn *, const uint8_t *, size_t,
    void *);

struct rpc_method {
	const char	*name;
	rpc_handler	 fn;
};

struct rpc_limits {
	size_t		 max_message;	/* bytes in one frame */
	size_t		 max_clients;	/* connections at once */
	size_t		 max_output;	/* queued output before pausing */
	size_t		 max_pending;	/* unanswered requests before
					   pausing; 0: the default */
};

struct rpc_stats {
	size_t		 clients;	/* connections now */
	size_t		 pending;	/* requests not yet answered */
	size_t		 paused;	/* connections not being read now */
	size_t		 out_queued;	/* output bytes queued now */
	size_t		 out_peak;	/* most ever queued on one conn */
	uint64_t	 accepted;	/* connections accepted */
	uint64_t	 rejected;	/* closed at once: max_clients */
	uint64_t	 requests;	/* dispatched to a handler */
	uint64_t	 notifications;	/* received and ignored */
	uint64_t	 bad_requests;	/* answered PROTO_E_BAD_REQUEST or
					   PROTO_E_NO_METHOD */
	uint64_t	 protocol_errors; /* connections closed for bad
					   input */
	uint64_t	 overflows;	/* closed: output limit */
	uint64_t	 pauses;	/* times reading was paused */
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
};

struct rpc_server *rpc_server_new(struct event_base *, int,
	    const struct rpc_method *, void *, const struct rpc_limits *);
struct rpc_server *rpc_server_new_raw(struct event_base *, int,
	    rpc_frame_cb, void *, const struct rpc_limits *);
void	 rpc_server_free(struct rpc_server *);
void	 rpc_server_close_listener(struct rpc_server *);
void	 rpc_server_hold(struct rpc_server *, int);
void	 rpc_server_set_hooks(struct rpc_server *, rpc_conn_cb, rpc_conn_cb,
	    void *);
void	 rpc_server_stats(const struct rpc_server *, struct rpc_stats *);

struct rpc_conn *rpc_request_conn(const struct rpc_request *);
uint32_t rpc_request_msgid(const struct rpc_request *);
const char *rpc_request_method(const struct rpc_request *);

msgpack_packer *rpc_reply_begin(struct rpc_request *);
void	 rpc_reply_end(struct rpc_request *);
void	 rpc_reply_nil(struct rpc_request *);
void	 rpc_reply_raw(struct rpc_request *, const void *, size_t);
void	 rpc_reply_error(struct rpc_request *, int64_t, const char *, ...)
	    __attribute__((__format__(__printf__, 3, 4)));

void	 rpc_conn_hold(struct rpc_conn *);
void	 rpc_conn_release(struct rpc_conn *);
uint64_t rpc_conn_id(const struct rpc_conn *);
int	 rpc_conn_alive(const struct rpc_conn *);
size_t	 rpc_conn_queued(const struct rpc_conn *);
void	 rpc_conn_set_data(struct rpc_conn *, void *);
void	*rpc_conn_get_data(const struct rpc_conn *);
msgpack_packer *rpc_conn_notify_begin(struct rpc_conn *, const char *);
void	 rpc_conn_notify_end(struct rpc_conn *);
void	 rpc_conn_close(struct rpc_conn *);
void	 rpc_conn_send(struct rpc_conn *, const void *, size_t);
void	 rpc_conn_work_begin(struct rpc_conn *);
void	 rpc_conn_work_end(struct rpc_conn *);

/*
 * Asynchronous client.  A call is rpc_client_call_begin(), packing the
 * params array, rpc_client_call_end().  Its callback runs exactly once from
 * the event loop: with a reader over the result and code 0, or with
 * result NULL, the error code and a NUL-terminated message (PROTO_E_
 * UNAVAILABLE "connection closed" for every call still pending when the
 * connection goes away or the client is freed).  on_notify gets the method
 * as a C string and a reader at the params array; both borrowed for the
 * call.  on_close runs once, from the event loop, when the connection is
 * lost (reason NULL if the server hung up cleanly), after the pending
 * callbacks; it is not called by rpc_client_free().  The client may be
 * freed from inside any of its callbacks.
 */
struct rpc_client;

typedef void (*rpc_result_cb)(struct msg_reader *, int64_t, const char *,
    void *);
typedef void (*rpc_notify_cb)(const char *, struct msg_reader *, void *);
typedef void (*rpc_close_cb)(const char *, void *);

struct rpc_client *rpc_client_new(struct event_base *, int, size_t,
	    rpc_notify_cb, rpc_close_cb, void *);
void	 rpc_client_free(struct rpc_client *);
msgpack_packer *rpc_client_call_begin(struct rpc_client *, const char *,
	    rpc_result_cb, void *);
int	 rpc_client_call_end(struct rpc_client *);
msgpack_packer *rpc_client_notify_begin(struct rpc_client *, const char *);
int	 rpc_client_notify_end(struct rpc_client *);
int	 rpc_client_alive(const struct rpc_client *);
size_t	 rpc_client_pending(const struct rpc_client *);
size_t	 rpc_client_queued(const struct rpc_client *);
void	 rpc_client_set_msgid(struct rpc_client *, uint32_t);

/*
 * Blocking client.  rpc_sync_call() sends params (the packed bytes of one
 * params array) and waits up to timeout_ms (-1: forever) for the response.
 * It returns 0 when a response came, and then out->code is 0 with
 * out->result a reader over the result, or the error code with
 * out->message; both are valid until the next call.  It returns -1 with
 * *cause when no response came (timeout, connection lost, bad frame); the
 * connection is then unusable.  Notifications that arrive meanwhile are
 * skipped.
 */
struct rpc_sync;

struct rpc_sync_result {
	int64_t			 code;		/* 0: success */
	const char		*message;	/* error text, or NULL */
	struct msg_reader	 result;	/* success: the result */
};

struct rpc_sync *rpc_sync_connect(const char *, size_t, char **);
struct rpc_sync *rpc_sync_new(int, size_t);
void	 rpc_sync_free(struct rpc_sync *);
int	 rpc_sync_call(struct rpc_sync *, const char *, const void *, size_t,
	    int, struct rpc_sync_result *, char **);

#endif
