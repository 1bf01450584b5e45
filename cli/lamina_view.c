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

/*
 * Print the row stmt is on (bucket, key, state) as a JSON line: its
 * bucket, dimensions and metrics.  -1 with *cause naming the row if its
 * bucket, key or state is not what the view stores (a damaged table).
 */
static int
view_row(const struct conf_view *cv, const struct conf_stream *st,
    struct agg_view *av, const char *tbl, sqlite3_stmt *stmt, char **cause)
{
	struct json_object	*o, *dims;
	struct agg_state	 s;
	struct msg_reader	 r;
	int64_t			 bucket;
	size_t			 i, m;
	uint32_t		 n;
	int			 type = sqlite3_column_type(stmt, 0);
	char			*t, *why = NULL;

	/* Seconds, shown in ns: INT64_MIN / 1e9 to INT64_MAX / 1e9. */
	bucket = sqlite3_column_int64(stmt, 0);
	if (type != SQLITE_INTEGER || bucket < -9223372036LL ||
	    bucket > 9223372036LL) {
		xasprintf(cause, "%s: row with bucket %s: not a time",
		    tbl, sqlite3_column_text(stmt, 0) != NULL ?
		    (const char *)sqlite3_column_text(stmt, 0) : "NULL");
		return (-1);
	}
	t = msgjson_time_str(bucket * 1000000000LL);
	/* One msgpack value, all of the blob. */
	msg_reader_init(&r, sqlite3_column_blob(stmt, 1),
	    (size_t)sqlite3_column_bytes(stmt, 1));
	if (msg_skip(&r) == -1 || msg_end(&r) == -1) {
		dims = NULL;
		why = xstrdup(msg_error(&r));
	} else
		dims = msgjson_from_msg(sqlite3_column_blob(stmt, 1),
		    (size_t)sqlite3_column_bytes(stmt, 1), &why);
	if (dims == NULL || !json_object_is_type(dims, json_type_array) ||
	    json_object_array_length(dims) != cv->ngroup) {
		if (why == NULL)
			xasprintf(&why, "not an array of %zu value%s",
			    cv->ngroup, cv->ngroup == 1 ? "" : "s");
		xasprintf(cause, "%s: row at %s: malformed key: %s", tbl, t,
		    why);
		free(why);
		json_object_put(dims);
		free(t);
		return (-1);
	}
	o = json_object_new_object();
	json_object_object_add(o, "bucket", json_object_new_string(t));
	for (i = 0; i < cv->ngroup; i++)
		json_object_object_add(o, cv->group_by[i],
		    json_object_get(json_object_array_get_idx(dims, i)));
	json_object_put(dims);
	msg_reader_init(&r, sqlite3_column_blob(stmt, 2),
	    (size_t)sqlite3_column_bytes(stmt, 2));
	if (msg_get_array(&r, &n) == -1 || n != cv->nmetrics) {
		xasprintf(cause, "%s: row at %s: malformed state: not an "
		    "array of %zu states", tbl, t, cv->nmetrics);
		goto bad;
	}
	for (m = 0; m < cv->nmetrics; m++) {
		if (agg_unpack_state(av, m, &s, &r, &why) == -1) {
			/* (why names the metric) */
			xasprintf(cause, "%s: row at %s: %s", tbl, t, why);
			free(why);
			goto bad;
		}
		json_object_object_add(o, cv->metrics[m].name,
		    view_metric_json(cv, st, m, &s));
		agg_state_free(av, m, &s);
	}
	if (msg_end(&r) == -1) {
		xasprintf(cause, "%s: row at %s: malformed state: bytes after "
		    "the last metric", tbl, t);
		goto bad;
	}
	free(t);
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return (0);
bad:
	free(t);
	json_object_put(o);
	return (-1);
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
	struct agg_view			*av;
	struct store_view		 sv;
	sqlite3				*db;
	sqlite3_stmt			*stmt = NULL;
	const char			*order = NULL, *why;
	char				*path, *sql, *cause = NULL;
	uint64_t			 limit = UINT64_MAX;
	size_t				 m;
	int				 ch, rc = 1, found, step;

	memset(&sv, 0, sizeof(sv));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "o:n:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			order = optarg;
			break;
		case 'n':
			/* SQLite's LIMIT is an int64 */
			if ((why = cli_parse_u64(optarg, INT64_MAX,
			    &limit)) != NULL) {
				fprintf(stderr, "lamina: view: --limit: %s: "
				    "%s\n", why, optarg);
				return (2);
			}
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
		/* Their m_ column is NULL: nothing to order by. */
		if (cv->metrics[m].kind == CONF_M_QUANTILE ||
		    cv->metrics[m].kind == CONF_M_TOP) {
			fprintf(stderr, "lamina: view: --order: metric %s is a "
			    "%s, not a number\n", order,
			    cv->metrics[m].kind == CONF_M_TOP ? "top" :
			    "quantile");
			return (1);
		}
	}
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
	/* (LIMIT -1: no limit.) */
	if (order != NULL)
		xasprintf(&sql, "SELECT bucket, key, state FROM \"%s\" ORDER "
		    "BY \"m_%s\" DESC, bucket, key LIMIT %" PRId64, sv.tbl,
		    order, limit == UINT64_MAX ? -1 : (int64_t)limit);
	else
		xasprintf(&sql, "SELECT bucket, key, state FROM \"%s\" ORDER "
		    "BY bucket, key LIMIT %" PRId64, sv.tbl,
		    limit == UINT64_MAX ? -1 : (int64_t)limit);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		xasprintf(&cause, "sqlite: %s", sqlite3_errmsg(db));
		free(sql);
		goto out;
	}
	free(sql);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW)
		if (view_row(cv, &conf->streams[cv->stream_idx], av, sv.tbl,
		    stmt, &cause) == -1)
			goto out;
	/* An error part of the way is not the end of the rows. */
	if (step != SQLITE_DONE) {
		xasprintf(&cause, "%s: reading rows: %s", sv.tbl,
		    sqlite3_errmsg(db));
		goto out;
	}
	rc = 0;
out:
	fflush(stdout);
	if (rc != 0 && cause != NULL)
		fprintf(stderr, "lamina: view: %s\n", cause);
	free(cause);
	cause = NULL;
	sqlite3_finalize(stmt);
	if (store_exec(db, "COMMIT", &cause) == -1)
		free(cause);
	store_close(db);
	store_view_clear(&sv);
	agg_view_free(av);
	return (rc);
}
