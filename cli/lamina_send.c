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
 * lamina send STREAM [FILE]: JSON lines (one event per line, read with
 * json-c) sent to lamina-ingestd with append, in batches.  Each batch is
 * stored whole or not at all; on a refusal the tool says which line and
 * why, how many events were stored before it, and exits 1.
 *
 * lamina status: the status of every daemon, as one JSON object.
 */

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <msgpack.h>

#include "conf.h"
#include "lamina.h"
#include "msg.h"
#include "msgjson.h"
#include "proto.h"
#include "rpc.h"
#include "xmalloc.h"

#define SEND_BATCH_EVENTS	2000
#define SEND_TIMEOUT_MS		60000

/* Pack a JSON value as msgpack. */
static void
send_pack_json(msgpack_packer *pk, struct json_object *o)
{
	struct json_object_iterator	 it, end;
	size_t				 i, n;

	switch (json_object_get_type(o)) {
	case json_type_null:
		msgpack_pack_nil(pk);
		break;
	case json_type_boolean:
		if (json_object_get_boolean(o))
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case json_type_int:
		if (json_object_get_int64(o) == INT64_MAX &&
		    json_object_get_uint64(o) > (uint64_t)INT64_MAX)
			msgpack_pack_uint64(pk, json_object_get_uint64(o));
		else
			msgpack_pack_int64(pk, json_object_get_int64(o));
		break;
	case json_type_double:
		msgpack_pack_double(pk, json_object_get_double(o));
		break;
	case json_type_string:
		msg_pack_strn(pk, json_object_get_string(o),
		    json_object_get_string_len(o));
		break;
	case json_type_array:
		n = json_object_array_length(o);
		msgpack_pack_array(pk, n);
		for (i = 0; i < n; i++)
			send_pack_json(pk, json_object_array_get_idx(o, i));
		break;
	case json_type_object:
		msgpack_pack_map(pk, json_object_object_length(o));
		it = json_object_iter_begin(o);
		end = json_object_iter_end(o);
		while (!json_object_iter_equal(&it, &end)) {
			msg_pack_str(pk, json_object_iter_peek_name(&it));
			send_pack_json(pk, json_object_iter_peek_value(&it));
			json_object_iter_next(&it);
		}
		break;
	}
}

/*
 * Send one batch: params [stream, [events]] built from the packed events.
 * Returns 0 when stored, -1 after printing why not.
 */
static int
send_batch(struct rpc_sync *rs, const char *stream, msgpack_sbuffer *events,
    size_t n, const size_t *lines, uint64_t *stored)
{
	struct rpc_sync_result	 res;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	struct msg_reader	*r;
	const char		*k;
	size_t			 klen;
	uint32_t		 nk, idx;
	uint64_t		 first = 0, count = 0, v;
	char			*cause;
	int			 rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, stream);
	msgpack_pack_array(&pk, n);
	msgpack_sbuffer_write(&sb, events->data, events->size);
	rc = rpc_sync_call(rs, PROTO_APPEND, sb.data, sb.size,
	    SEND_TIMEOUT_MS, &res, &cause);
	msgpack_sbuffer_destroy(&sb);
	if (rc == -1) {
		fprintf(stderr, "lamina: send: %s\n", cause);
		free(cause);
		return (-1);
	}
	if (res.code != 0) {
		if (res.code == PROTO_E_INVALID &&
		    sscanf(res.message, "event %u: ", &idx) == 1 && idx < n)
			fprintf(stderr, "lamina: send: line %zu: %s\n",
			    lines[idx], strchr(res.message, ':') + 2);
		else
			fprintf(stderr, "lamina: send: %s (error %" PRId64
			    ")\n", res.message, res.code);
		return (-1);
	}
	r = &res.result;
	if (msg_get_map(r, &nk) == -1)
		goto bad;
	while (nk-- > 0) {
		if (msg_get_str(r, &k, &klen) == -1)
			goto bad;
		if (klen == 5 && memcmp(k, "first", 5) == 0 &&
		    msg_get_uint(r, &v) == 0)
			first = v;
		else if (klen == 5 && memcmp(k, "count", 5) == 0 &&
		    msg_get_uint(r, &v) == 0)
			count = v;
		else if (msg_skip(r) == -1)
			goto bad;
	}
	if (count != n) {
		fprintf(stderr, "lamina: send: %zu events sent, %" PRIu64
		    " stored\n", n, count);
		return (-1);
	}
	if (*stored == 0)
		printf("stored from offset %" PRIu64 "\n", first);
	*stored += count;
	return (0);
bad:
	fprintf(stderr, "lamina: send: malformed reply: %s\n", msg_error(r));
	return (-1);
}

/* lamina send STREAM [FILE] */
int
cmd_send(struct conf *conf, int argc, char **argv)
{
	struct json_tokener	*tok;
	struct json_object	*o;
	struct rpc_sync		*rs;
	msgpack_sbuffer		 events;
	msgpack_packer		 pk;
	FILE			*f = stdin;
	char			*line = NULL, *cause;
	size_t			 cap = 0, lineno = 0, n = 0, *lines;
	size_t			 limit;
	ssize_t			 len;
	uint64_t		 stored = 0;
	int			 rc = 0;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: lamina send STREAM [FILE]\n");
		return (2);
	}
	if (conf_find_stream(conf, argv[1]) == NULL) {
		fprintf(stderr, "lamina: send: no stream %s in %s\n", argv[1],
		    conf->file);
		return (1);
	}
	if (argc == 3 && strcmp(argv[2], "-") != 0 &&
	    (f = fopen(argv[2], "r")) == NULL) {
		fprintf(stderr, "lamina: send: %s: %s\n", argv[2],
		    strerror(errno));
		return (1);
	}
	if ((rs = rpc_sync_connect(conf->ingest_sock.path,
	    conf->max_message_bytes, &cause)) == NULL) {
		fprintf(stderr, "lamina: send: %s (is lamina-ingestd "
		    "running?)\n", cause);
		free(cause);
		if (f != stdin)
			fclose(f);
		return (1);
	}
	limit = conf->max_message_bytes / 2;
	lines = xcalloc(SEND_BATCH_EVENTS, sizeof(*lines));
	tok = json_tokener_new();
	msgpack_sbuffer_init(&events);
	msgpack_packer_init(&pk, &events, msgpack_sbuffer_write);
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, line, (int)len);
		if (o == NULL || json_tokener_get_parse_end(tok) != (size_t)len) {
			fprintf(stderr, "lamina: send: line %zu: invalid JSON: "
			    "%s\n", lineno, o != NULL ? "data after the value" :
			    json_tokener_get_error(tok) == json_tokener_continue ?
			    "the line ends inside a value" :
			    json_tokener_error_desc(json_tokener_get_error(tok)));
			json_object_put(o);
			rc = 1;
			break;
		}
		if (!json_object_is_type(o, json_type_object)) {
			fprintf(stderr, "lamina: send: line %zu: expected a "
			    "JSON object\n", lineno);
			json_object_put(o);
			rc = 1;
			break;
		}
		send_pack_json(&pk, o);
		json_object_put(o);
		lines[n++] = lineno;
		if (n == SEND_BATCH_EVENTS || events.size >= limit) {
			if (send_batch(rs, argv[1], &events, n, lines,
			    &stored) == -1) {
				rc = 1;
				n = 0;
				break;
			}
			msgpack_sbuffer_clear(&events);
			n = 0;
		}
	}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "lamina: send: read: %s\n", strerror(errno));
		rc = 1;
	}
	if (rc == 0 && n > 0 && send_batch(rs, argv[1], &events, n, lines,
	    &stored) == -1)
		rc = 1;
	if (rc == 0)
		printf("sent %" PRIu64 " events to %s\n", stored, argv[1]);
	else
		fprintf(stderr, "lamina: send: %" PRIu64 " events stored "
		    "before the error; none after it\n", stored);
	msgpack_sbuffer_destroy(&events);
	json_tokener_free(tok);
	free(lines);
	free(line);
	rpc_sync_free(rs);
	if (f != stdin)
		fclose(f);
	return (rc);
}

/* lamina status: every daemon's status map; exit 3 if one is down. */
int
cmd_status(struct conf *conf, int argc, char **argv)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} daemons[] = {
		{ "ingestd", offsetof(struct conf, ingest_sock) },
		{ "batchd", offsetof(struct conf, batch_sock) },
		{ "speedd", offsetof(struct conf, speed_sock) },
		{ "served", offsetof(struct conf, serve_sock) },
	};
	struct json_object	*all, *o;
	struct rpc_sync_result	 res;
	struct rpc_sync		*rs;
	const uint8_t		*raw;
	const char		*path;
	size_t			 i, rawlen;
	char			*cause, *why;
	uint8_t			 noparams = 0x90;	/* [] */
	int			 down = 0;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: lamina status\n");
		return (2);
	}
	all = json_object_new_object();
	for (i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++) {
		path = ((const struct conf_socket *)((const char *)conf +
		    daemons[i].off))->path;
		o = NULL;
		why = NULL;
		cause = NULL;
		if ((rs = rpc_sync_connect(path, conf->max_message_bytes,
		    &cause)) == NULL)
			xasprintf(&why, "not running: %s", cause);
		else if (rpc_sync_call(rs, PROTO_STATUS, &noparams, 1, 5000,
		    &res, &cause) == -1)
			xasprintf(&why, "no answer: %s", cause);
		else if (res.code != 0)
			xasprintf(&why, "error: %s", res.message);
		else if (msg_get_raw(&res.result, &raw, &rawlen) == 0)
			o = msgjson_from_msg(raw, rawlen, &cause);
		if (o == NULL) {
			if (why == NULL)
				xasprintf(&why, "malformed status");
			o = json_object_new_object();
			json_object_object_add(o, "error",
			    json_object_new_string(why));
			down = 1;
			free(cause);
		}
		free(why);
		rpc_sync_free(rs);
		json_object_object_add(all, daemons[i].name, o);
	}
	puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(all);
	return (down ? 3 : 0);
}
