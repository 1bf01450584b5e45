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
 * lamina view VIEW [--order METRIC] [--limit N]: the rows of a batch view
 * as JSON lines, read from DATA_DIR/views.db in one read transaction with
 * the view's horizon, so the rows and the horizon match.  Each line has
 * the bucket (RFC 3339), the dimensions, and every metric: count, sums,
 * min, max as exact numbers, distinct as the HyperLogLog estimate,
 * quantile as p50/p90/p99, top as the items with their count bounds.
 */

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "agg.h"
#include "conf.h"
#include "ddsketch.h"
#include "hll.h"
#include "lamina.h"
#include "msg.h"
#include "msgjson.h"
#include "store.h"
#include "topk.h"
#include "xmalloc.h"
#include "xsum.h"

/* A metric's state as JSON. */
static struct json_object *
view_metric_json(const struct conf_view *cv, const struct conf_stream *st,
    size_t m, struct agg_state *s)
{
	const struct conf_metric	*cm = &cv->metrics[m];
	struct json_object		*o, *items, *it, *v;
	struct topk_item		 tops[64];
	size_t				 i, n;
	char				*cause;
	int				 isfloat = cm->field_idx >= 0 &&
	    st->fields[cm->field_idx].type == CONF_FT_FLOAT;

	switch (cm->kind) {
	case CONF_M_COUNT:
		return (json_object_new_uint64(s->u.count));
	case CONF_M_SUM:
		if (isfloat)
			return (msgjson_double(xsum_value(&s->u.fsum)));
		if (s->u.isum >= INT64_MIN && s->u.isum <= INT64_MAX)
			return (json_object_new_int64((int64_t)s->u.isum));
		return (msgjson_double((double)s->u.isum));
	case CONF_M_MIN:
	case CONF_M_MAX:
		if (s->u.mm.n == 0)
			return (NULL);
		return (isfloat ? msgjson_double(s->u.mm.f) :
		    json_object_new_int64(s->u.mm.i));
	case CONF_M_DISTINCT:
		return (json_object_new_uint64(s->u.hll != NULL ?
		    hll_count(s->u.hll) : 0));
	case CONF_M_QUANTILE:
		if (s->u.dds == NULL)
			return (NULL);
		o = json_object_new_object();
		json_object_object_add(o, "p50",
		    msgjson_double(dds_quantile(s->u.dds, 0.5)));
		json_object_object_add(o, "p90",
		    msgjson_double(dds_quantile(s->u.dds, 0.9)));
		json_object_object_add(o, "p99",
		    msgjson_double(dds_quantile(s->u.dds, 0.99)));
		json_object_object_add(o, "count",
		    json_object_new_uint64(dds_count(s->u.dds)));
		return (o);
	case CONF_M_TOP:
		if (s->u.topk == NULL)
			return (NULL);
		o = json_object_new_object();
		items = json_object_new_array();
		n = topk_list(s->u.topk, tops, sizeof(tops) / sizeof(tops[0]));
		for (i = 0; i < n; i++) {
			it = json_object_new_object();
			cause = NULL;
			v = msgjson_from_msg(tops[i].item, tops[i].len, &cause);
			free(cause);
			json_object_object_add(it, "item", v);
			json_object_object_add(it, "count",
			    json_object_new_uint64(tops[i].count));
			json_object_object_add(it, "error",
			    json_object_new_uint64(tops[i].error));
			json_object_array_add(items, it);
		}
		json_object_object_add(o, "items", items);
		json_object_object_add(o, "total",
		    json_object_new_uint64(topk_total(s->u.topk)));
		return (o);
	}
	return (NULL);
}

/* lamina view VIEW [--order METRIC] [--limit N] */
int
cmd_view(struct conf *conf, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "order", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const struct conf_view		*cv;
	const struct conf_stream	*st;
	struct agg_view			*av;
	struct agg_state		 s;
	struct store_view		 sv;
	struct json_object		*o, *dims, *key;
	struct msg_reader		 r;
	sqlite3				*db;
	sqlite3_stmt			*stmt = NULL;
	const char			*order = NULL;
	char				*path, *sql, *cause = NULL, *t;
	long				 limit = -1;
	size_t				 m, i;
	uint32_t			 n;
	int				 ch, rc = 1, found;

	memset(&sv, 0, sizeof(sv));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "o:n:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			order = optarg;
			break;
		case 'n':
			limit = strtol(optarg, NULL, 10);
			break;
		default:
			return (2);
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: lamina view VIEW [--order METRIC] "
		    "[--limit N]\n");
		return (2);
	}
	if ((cv = conf_find_view(conf, argv[optind])) == NULL) {
		fprintf(stderr, "lamina: view: no view %s in %s\n",
		    argv[optind], conf->file);
		return (1);
	}
	if (order != NULL) {
		for (m = 0; m < cv->nmetrics; m++)
			if (strcmp(cv->metrics[m].name, order) == 0)
				break;
		if (m == cv->nmetrics) {
			fprintf(stderr, "lamina: view: no metric %s in view "
			    "%s\n", order, cv->name);
			return (1);
		}
	}
	st = &conf->streams[cv->stream_idx];
	xasprintf(&path, "%s/%s", conf->data_dir, STORE_FILE);
	db = store_open(path, 0, &cause);
	free(path);
	if (db == NULL) {
		fprintf(stderr, "lamina: view: %s (has lamina-batchd run?)\n",
		    cause);
		free(cause);
		return (1);
	}
	av = agg_view_new(conf, cv);
	if (store_exec(db, "BEGIN", &cause) == -1 ||
	    (found = store_get_view(db, "lamina_views", cv->name, &sv,
	    &cause)) == -1)
		goto out;
	if (!found) {
		xasprintf(&cause, "view %s is not published yet", cv->name);
		goto out;
	}
	printf("{\"view\":\"%s\",\"fingerprint\":\"%s\",\"horizon\":%"
	    PRIu64 ",\"rows\":%" PRIu64 ",\"events\":%" PRIu64 "}\n",
	    cv->name, sv.fingerprint, sv.horizon, sv.rows, sv.events);
	if (order != NULL)
		xasprintf(&sql, "SELECT bucket, key, state FROM \"%s\" ORDER "
		    "BY \"m_%s\" DESC, bucket, key LIMIT %ld", sv.tbl, order,
		    limit);
	else
		xasprintf(&sql, "SELECT bucket, key, state FROM \"%s\" ORDER "
		    "BY bucket, key LIMIT %ld", sv.tbl, limit);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		xasprintf(&cause, "sqlite: %s", sqlite3_errmsg(db));
		free(sql);
		goto out;
	}
	free(sql);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		o = json_object_new_object();
		t = msgjson_time_str(sqlite3_column_int64(stmt, 0) *
		    1000000000LL);
		json_object_object_add(o, "bucket", json_object_new_string(t));
		free(t);
		dims = msgjson_from_msg(sqlite3_column_blob(stmt, 1),
		    (size_t)sqlite3_column_bytes(stmt, 1), &cause);
		for (i = 0; i < cv->ngroup && dims != NULL; i++) {
			key = json_object_array_get_idx(dims, i);
			json_object_object_add(o, cv->group_by[i],
			    json_object_get(key));
		}
		json_object_put(dims);
		msg_reader_init(&r, sqlite3_column_blob(stmt, 2),
		    (size_t)sqlite3_column_bytes(stmt, 2));
		if (msg_get_array(&r, &n) == -1 || n != cv->nmetrics) {
			json_object_put(o);
			xasprintf(&cause, "%s: malformed state", sv.tbl);
			goto out;
		}
		for (m = 0; m < cv->nmetrics; m++) {
			if (agg_unpack_state(av, m, &s, &r, &cause) == -1) {
				json_object_put(o);
				goto out;
			}
			json_object_object_add(o, cv->metrics[m].name,
			    view_metric_json(cv, st, m, &s));
			agg_state_free(av, m, &s);
		}
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	rc = 0;
out:
	if (rc != 0 && cause != NULL)
		fprintf(stderr, "lamina: view: %s\n", cause);
	free(cause);
	sqlite3_finalize(stmt);
	(void)store_exec(db, "COMMIT", &cause);
	store_close(db);
	store_view_clear(&sv);
	agg_view_free(av);
	return (rc);
}
