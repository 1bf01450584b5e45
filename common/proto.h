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
 * The lamina protocol: every method every daemon answers, who calls it, its
 * params and its result, and the error codes.  All sockets speak
 * MessagePack-RPC: request [0, msgid, method, params], response
 * [1, msgid, error, result], notification [2, method, params].  An error is
 * [code, message]: an integer from the table below and a sentence a person
 * can act on.
 *
 * Never change what a method means: add a new one, retire the old, and bump
 * PROTO_VERSION.  docs/PROTOCOL.md documents the same table for users.
 */

#ifndef LAMINA_PROTO_H
#define LAMINA_PROTO_H

#define PROTO_VERSION		1

/*
 * Error codes.  1 to 99 say the request was wrong ("bad request": fix the
 * request and retry); 100 and above say lamina failed ("we failed": the
 * request may succeed later).  1 and 2 match the Ruby reference
 * implementation of MessagePack-RPC.
 */
#define PROTO_E_NO_METHOD	1	/* no such method */
#define PROTO_E_BAD_PARAMS	2	/* params of the wrong shape or type */
#define PROTO_E_BAD_REQUEST	3	/* not a valid MessagePack-RPC message */
#define PROTO_E_TOO_LARGE	4	/* over a configured limit */
#define PROTO_E_NO_STREAM	5	/* unknown stream */
#define PROTO_E_INVALID		6	/* an event does not fit its schema */
#define PROTO_E_VERSION		7	/* hello: protocol version mismatch */
#define PROTO_E_NO_VIEW		8	/* unknown view */
#define PROTO_E_RANGE		9	/* an offset or time out of range */
#define PROTO_E_INTERNAL	100	/* a bug or an unexpected failure */
#define PROTO_E_IO		101	/* a disk or socket error */
#define PROTO_E_UNAVAILABLE	102	/* shutting down or overloaded */

#define PROTO_E_IS_CLIENT(c)	((c) >= 1 && (c) < 100)

/*
 * Methods.  Each line: name, who calls it, params -> result.
 */

/* Every daemon. */
#define PROTO_HELLO	"hello"
	/* any peer: [role:str, version:int] -> {role:str, version:int} */
#define PROTO_STATUS	"status"
	/* anyone: [] -> map of counters, different per daemon */
#define PROTO_VERBOSE	"verbose"
	/* operator: [level:int] -> previous level:int */

/* lamina-ingestd, ingest.sock. */
#define PROTO_APPEND	"append"
	/* client: [stream:str, events:[map...]] ->
	 *   {stream:str, first:uint, count:uint} once durable */
#define PROTO_SUBSCRIBE	"subscribe"
	/* speedd, served: [] -> {stream:committed offset...}; then
	 * notifications PROTO_COMMITTED */
#define PROTO_COMMITTED	"committed"
	/* ingestd -> subscriber notification: [{stream: next offset...}] */

/* lamina-batchd, batch.sock. */
#define PROTO_RUN	"run"
	/* operator: [] -> {run, segments, events, rows, duration_ms,
	 *   switched} once the next run has finished */
#define PROTO_RECOMPUTE	"recompute"
	/* operator: [view:str] -> as run, after the run that starts the
	 *   rebuild of view from the whole master dataset */
	/* subscribe (as above): [] -> {view: {stream, horizon,
	 *   fingerprint}...}; then notifications PROTO_PUBLISHED */
#define PROTO_PUBLISHED	"published"
	/* batchd -> subscriber notification: [{view: {stream, horizon,
	 *   fingerprint}...}] after a run moved a published view */

#endif
