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
 * lamina batch run: ask lamina-batchd for a run now and wait for it;
 * lamina recompute VIEW: rebuild a view from the whole master dataset (after
 * fixing its definition: the master dataset itself never changes).
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "conf.h"
#include "lamina.h"
#include "msg.h"
#include "msgjson.h"
#include "proto.h"
#include "rpc.h"

#define BATCH_TIMEOUT_MS	(3600 * 1000)	/* a rebuild can take long */

/* Call method on batchd with params, print the result; 0 or 1. */
static int
batch_call(struct conf *conf, const char *what, const char *method,
    const void *params, size_t len)
{
	struct rpc_sync_result	 res;
	struct rpc_sync		*rs;
	struct json_object	*o;
	const uint8_t		*raw;
	size_t			 rawlen;
	char			*cause;

	if ((rs = rpc_sync_connect(conf->batch_sock.path,
	    conf->max_message_bytes, &cause)) == NULL) {
		fprintf(stderr, "lamina: %s: %s (is lamina-batchd running?)\n",
		    what, cause);
		free(cause);
		return (1);
	}
	if (rpc_sync_call(rs, method, params, len, BATCH_TIMEOUT_MS, &res,
	    &cause) == -1) {
		fprintf(stderr, "lamina: %s: %s\n", what, cause);
		free(cause);
		rpc_sync_free(rs);
		return (1);
	}
	if (res.code != 0) {
		fprintf(stderr, "lamina: %s: %s\n", what, res.message);
		rpc_sync_free(rs);
		return (1);
	}
	if (msg_get_raw(&res.result, &raw, &rawlen) == 0 &&
	    (o = msgjson_from_msg(raw, rawlen, &cause)) != NULL) {
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	}
	rpc_sync_free(rs);
	return (0);
}

/* lamina batch run */
int
cmd_batch(struct conf *conf, int argc, char **argv)
{
	uint8_t	noparams = 0x90;

	if (argc != 2 || strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "usage: lamina batch run\n");
		return (2);
	}
	return (batch_call(conf, "batch run", PROTO_RUN, &noparams, 1));
}

/* lamina recompute VIEW */
int
cmd_recompute(struct conf *conf, int argc, char **argv)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	int		rc;

	if (argc != 2) {
		fprintf(stderr, "usage: lamina recompute VIEW\n");
		return (2);
	}
	if (conf_find_view(conf, argv[1]) == NULL) {
		fprintf(stderr, "lamina: recompute: no view %s in %s\n",
		    argv[1], conf->file);
		return (1);
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 1);
	msg_pack_str(&pk, argv[1]);
	rc = batch_call(conf, "recompute", PROTO_RECOMPUTE, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return (rc);
}
