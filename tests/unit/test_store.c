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
 * Tests for common/store.c, the batch views in SQLite.  Rows are folded
 * and prepared the way lamina-batchd's workers do (agg_sorted_rows, then
 * store_prepare) and written the way its writer does.  Fresh rows must go
 * in STORE_BATCH at a time by one INSERT and the rest on
 * store_writer_flush (counted through SQLite's statement trace); every
 * column of every stored row must be what store_prepare made and what the
 * events add up to, counted here; the table must read back into a
 * partial equal to the folded one.  Then: rows held back are not in the
 * table until flushed; writes into stored rows merge; rows held back are
 * dropped with their transaction; failed writes name the failure in their
 * cause and leave the table as it was; dimension values of every type,
 * strings of 0 to 70,000 bytes, are stored exactly; a view as wide as the
 * configuration allows; a key written twice in one transaction, not
 * fresh; and the views catalogue.
 */

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>
#include <sqlite3.h>

#include "agg.h"
#include "conf.h"
#include "hll.h"
#include "msg.h"
#include "store.h"
#include "testlib.h"
#include "xmalloc.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * An assertion for loops: Check records every passing assertion (a write
 * each).
 */
#define REQUIRE(c, ...)	do {					\
	if (!(c))						\
		ck_abort_msg(__VA_ARGS__);			\
} while (0)

#define NS		1000000000LL
#define HOUR		3600

#define MAXROWS		256

/*
 * View main: one dimension, every kind of metric.  Row i of the tests
 * (see fold_row) has url "/page/NNNN" and its bucket in hour i / 16 - 1.
 */
#define CONF_MAIN							\
	"streams:\n"							\
	"  pv:\n"							\
	"    fields:\n"							\
	"      url: string\n"						\
	"      user: {type: string, required: false}\n"			\
	"      bytes: int\n"						\
	"      lat: {type: float, required: false}\n"			\
	"views:\n"							\
	"  main:\n"							\
	"    stream: pv\n"						\
	"    bucket: 1h\n"						\
	"    group_by: url\n"						\
	"    metrics:\n"						\
	"      n: count\n"						\
	"      bytes: {sum: bytes}\n"					\
	"      lat: {sum: lat}\n"					\
	"      bmin: {min: bytes}\n"					\
	"      lmax: {max: lat}\n"					\
	"      users: {distinct: user}\n"				\
	"      q: {quantile: lat}\n"					\
	"      top: {top: user, k: 8}\n"

/*
 * View dims: a dimension of every type that can be one (not float), and
 * optional ones.
 */
#define CONF_DIMS							\
	"streams:\n"							\
	"  s:\n"							\
	"    fields:\n"							\
	"      s: string\n"						\
	"      o: {type: string, required: false}\n"			\
	"      i: int\n"						\
	"      b: {type: bool, required: false}\n"			\
	"views:\n"							\
	"  dims:\n"							\
	"    stream: s\n"						\
	"    bucket: 1m\n"						\
	"    group_by: [s, o, i, b]\n"					\
	"    metrics: {n: count}\n"

static char		*tmpdir;
static char		*dbpath;
static struct conf	*conf;
static struct agg_view	*view;
static sqlite3		*db;

/* What the events of each row add up to, counted here. */
struct want {
	uint64_t	 n;
	int64_t		 bytes;
	double		 lat;
	int64_t		 bmin;
	int		 haslat;
	double		 lmax;
};
static struct want	 wants[MAXROWS];

/* The INSERTs into rows tables SQLite ran (the statement trace). */
static size_t		 ins_single, ins_batch, ins_other;
static size_t		 ins_multi, ins_rows;	/* > 1 row; rows in all */
static size_t		 ins_update;		/* UPDATEs of stored rows */

/*
 * Statement journals SQLite opened (a VFS over the default one counts
 * them): a writer's statements must never need one.  A statement that
 * writes more than once and might abort half-way gets one, a copy of
 * every page it changes (64 KiB a leaf) in a temporary file.
 */
static sqlite3_vfs	 count_vfs;
static size_t		 subjournals;

static int
count_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f,
    int flags, int *out)
{
	sqlite3_vfs	*real = vfs->pAppData;

	if (flags & SQLITE_OPEN_SUBJOURNAL)
		subjournals++;
	return (real->xOpen(real, name, f, flags, out));
}

/* A partial and its rows, sorted and prepared. */
struct rows {
	struct agg_partial	*p;
	struct store_row	*sr;
	size_t			 n;
};

static void
setup(void)
{
	tmpdir = testlib_tmpdir();
	dbpath = testlib_path(tmpdir, STORE_FILE);
	conf = NULL;
	view = NULL;
	db = NULL;
	memset(wants, 0, sizeof(wants));
	ins_single = ins_batch = ins_other = ins_update = 0;
	if (count_vfs.xOpen == NULL) {
		count_vfs = *sqlite3_vfs_find(NULL);
		count_vfs.pAppData = sqlite3_vfs_find(NULL);
		count_vfs.zName = "lamina-test-count";
		count_vfs.xOpen = count_open;
		ck_assert_int_eq(sqlite3_vfs_register(&count_vfs, 1),
		    SQLITE_OK);
	}
	subjournals = 0;
}

/* Also called by tests that must clean up before they fail. */
static void
teardown(void)
{
	store_close(db);
	db = NULL;
	agg_view_free(view);
	view = NULL;
	conf_free(conf);
	conf = NULL;
	testlib_rmtree(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
	free(dbpath);
	dbpath = NULL;
}

/*
 * SQLITE_TRACE_STMT: count the runs of the writers' INSERTs by their
 * number of rows (of VALUES groups).  Triggers starting show as comments.
 */
static int
trace_cb(unsigned int type, void *ctx, void *p, void *x)
{
	const char	*sql = x, *s;
	size_t		 rows = 0;

	(void)ctx;
	(void)p;
	if (type != SQLITE_TRACE_STMT || sql == NULL)
		return (0);
	if (strncmp(sql, "UPDATE ", 7) == 0 && strstr(sql, "\"v_") != NULL) {
		ins_update++;
		return (0);
	}
	if (strncmp(sql, "INSERT ", 7) != 0 || strstr(sql, " INTO \"v_") ==
	    NULL)
		return (0);
	for (s = sql; (s = strstr(s, "(?")) != NULL; s++)
		rows++;
	ins_rows += rows;
	ins_multi += rows > 1;
	if (rows == 1)
		ins_single++;
	else if (rows == STORE_BATCH)
		ins_batch++;
	else
		ins_other++;
	return (0);
}

/* Load body, compile view name, open a new database with the trace. */
static void
open_view(const char *body, const char *name)
{
	char	*cause = NULL;

	conf = testlib_conf(tmpdir, body);
	view = testlib_view(conf, name);
	db = store_open(dbpath, 1, &cause);
	ck_assert_msg(db != NULL, "store_open: %s", cause);
	ck_assert_int_eq(sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_cb,
	    NULL), SQLITE_OK);
}

/* A new rows table for view, named after it and n. */
static char *
new_table(uint64_t n)
{
	char	*tbl, *cause = NULL;

	tbl = store_table_name(agg_view_conf(view)->name, n);
	ck_assert_msg(store_create_table(db, view, tbl, &cause) == 0, "%s",
	    cause);
	return (tbl);
}

static struct store_writer *
new_writer(sqlite3 *d, const char *tbl)
{
	struct store_writer	*w;
	char			*cause = NULL;

	w = store_writer_new(d, view, tbl, &cause);
	ck_assert_msg(w != NULL, "store_writer_new: %s", cause);
	return (w);
}

static void
begin(void)
{
	char	*cause = NULL;

	ck_assert_msg(store_begin(db, &cause) == 0, "begin: %s", cause);
}

static void
commit(void)
{
	char	*cause = NULL;

	ck_assert_msg(store_commit(db, &cause) == 0, "commit: %s", cause);
}

static void
exec(sqlite3 *d, const char *sql)
{
	char	*cause = NULL;

	ck_assert_msg(store_exec(d, sql, &cause) == 0, "%s: %s", sql, cause);
}

static void
flush(struct store_writer *w)
{
	char	*cause = NULL;

	ck_assert_msg(store_writer_flush(w, &cause) == 0, "flush: %s", cause);
}

/* One integer from sql (a count), on d. */
static int64_t
query_int(sqlite3 *d, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v;

	ck_assert_msg(sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(d));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (v);
}

static int64_t
count_rows(sqlite3 *d, const char *tbl)
{
	char	*sql;
	int64_t	 n;

	xasprintf(&sql, "SELECT count(*) FROM \"%s\"", tbl);
	n = query_int(d, sql);
	free(sql);
	return (n);
}

/* Row i's bucket: hours -1, 0, 1... of 16 rows each. */
static int64_t
row_bucket(size_t i)
{
	return (((int64_t)(i / 16) - 1) * HOUR);
}

/*
 * Fold generation gen of row i's events into p, adding them up in w
 * unless NULL: 1 to 5 events, with bytes, users and latencies that
 * differ per row and generation; event 1 has no user, the events of rows
 * i % 3 == 0 no latency.
 */
static void
fold_row(struct agg_partial *p, size_t i, int gen, struct want *w)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	char		 url[32], user[24], *cause = NULL;
	size_t		 j, k = 1 + (i + (size_t)gen) % 5;
	int64_t		 bytes;
	double		 lat;
	int		 hasuser, haslat = i % 3 != 0;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	snprintf(url, sizeof(url), "/page/%04zu", i);
	for (j = 0; j < k; j++) {
		bytes = (int64_t)i * 1000 + gen * 100 + (int64_t)j - 3;
		lat = (double)(i + j + (size_t)gen) * 0.25;
		hasuser = j != 1;
		snprintf(user, sizeof(user), "u%zu", (i + j + (size_t)gen) % 7);
		msgpack_sbuffer_clear(&sb);
		msgpack_pack_map(&pk, 2 + hasuser + haslat);
		msg_pack_str(&pk, "url");
		msg_pack_str(&pk, url);
		if (hasuser) {
			msg_pack_str(&pk, "user");
			msg_pack_str(&pk, user);
		}
		msg_pack_str(&pk, "bytes");
		msgpack_pack_int64(&pk, bytes);
		if (haslat) {
			msg_pack_str(&pk, "lat");
			msgpack_pack_double(&pk, lat);
		}
		REQUIRE(agg_fold(p, (row_bucket(i) + (int64_t)j + gen * 60) *
		    NS, (const uint8_t *)sb.data, sb.size, &cause) == 0,
		    "fold: %s", cause);
		if (w == NULL)
			continue;
		if (w->n == 0 || bytes < w->bmin)
			w->bmin = bytes;
		w->n++;
		w->bytes += bytes;
		if (haslat) {
			w->lat += lat;
			if (!w->haslat || lat > w->lmax)
				w->lmax = lat;
			w->haslat = 1;
		}
	}
	msgpack_sbuffer_destroy(&sb);
}

/* Sort and prepare r's rows, as batchd's fold workers do. */
static void
rows_prepare(struct rows *r)
{
	struct agg_row	**rows;
	msgpack_sbuffer	  sb;
	size_t		  i;

	msgpack_sbuffer_init(&sb);
	r->n = agg_rows(r->p);
	rows = agg_sorted_rows(r->p);
	r->sr = xcalloc(r->n + 1, sizeof(*r->sr));
	for (i = 0; i < r->n; i++)
		store_prepare(view, agg_partial_arena(r->p), rows[i], &r->sr[i],
		    &sb);
	free(rows);
	msgpack_sbuffer_destroy(&sb);
}

/* Rows first to first + n - 1 of generation gen, counted in wants. */
static void
rows_make(struct rows *r, size_t first, size_t n, int gen)
{
	size_t	i;

	ck_assert_uint_le(first + n, MAXROWS);
	r->p = agg_partial_new(view);
	for (i = first; i < first + n; i++)
		fold_row(r->p, i, gen, &wants[i]);
	rows_prepare(r);
	ck_assert_uint_eq(r->n, n);
}

static void
rows_free(struct rows *r)
{
	free(r->sr);
	agg_partial_free(r->p);
	memset(r, 0, sizeof(*r));
}

/* Write r's rows: the number of new ones (store_write must succeed). */
static size_t
write_rows(struct store_writer *w, struct rows *r, int fresh)
{
	char	*cause = NULL;
	size_t	 i, added = 0;
	int	 rc;

	for (i = 0; i < r->n; i++) {
		rc = store_write(w, agg_partial_arena(r->p), &r->sr[i], fresh,
		    &cause);
		REQUIRE(rc == 0 || rc == 1, "store_write %zu: %d: %s", i, rc,
		    cause != NULL ? cause : "");
		added += (size_t)rc;
	}
	return (added);
}

/* Write r's rows (fresh or not) in a transaction of their own: n new. */
static void
write_committed(struct store_writer *w, struct rows *r, int fresh, size_t n)
{
	begin();
	ck_assert_uint_eq(write_rows(w, r, fresh), n);
	flush(w);
	commit();
}

/* Row index i of a main row, from its url. */
static size_t
row_index(const struct store_row *sr)
{
	struct msg_reader	 r;
	const char		*s;
	uint32_t		 n;
	size_t			 len;
	char			 buf[32];
	unsigned int		 i;

	msg_reader_init(&r, sr->key, sr->keylen);
	REQUIRE(msg_get_array(&r, &n) == 0 && n == 1 &&
	    msg_get_str(&r, &s, &len) == 0 && len < sizeof(buf), "key");
	memcpy(buf, s, len);
	buf[len] = '\0';
	REQUIRE(sscanf(buf, "/page/%u", &i) == 1 && i < MAXROWS, "url %s",
	    buf);
	return (i);
}

/* Does result column c hold msgpack value *r (read from a key)? */
static void
check_dim(sqlite3_stmt *st, int c, struct msg_reader *r, const char *what)
{
	const char	*s;
	size_t		 len;
	int64_t		 i;
	uint64_t	 u;
	double		 f;
	int		 b, type = sqlite3_column_type(st, c);

	switch (msg_peek(r)) {
	case MSG_T_STR:
		REQUIRE(msg_get_str(r, &s, &len) == 0, "%s: key", what);
		REQUIRE(type == SQLITE_TEXT, "%s: %s: type %d, want text",
		    what, sqlite3_column_name(st, c), type);
		REQUIRE((size_t)sqlite3_column_bytes(st, c) == len,
		    "%s: %s: %d bytes, want %zu", what,
		    sqlite3_column_name(st, c), sqlite3_column_bytes(st, c),
		    len);
		REQUIRE(len == 0 || memcmp(sqlite3_column_blob(st, c), s,
		    len) == 0, "%s: %s: differs", what,
		    sqlite3_column_name(st, c));
		break;
	case MSG_T_INT:
	case MSG_T_UINT:
		if (msg_peek(r) == MSG_T_UINT) {
			REQUIRE(msg_get_uint(r, &u) == 0, "%s: key", what);
			i = (int64_t)u;
		} else
			REQUIRE(msg_get_int(r, &i) == 0, "%s: key", what);
		REQUIRE(type == SQLITE_INTEGER &&
		    sqlite3_column_int64(st, c) == i,
		    "%s: %s: want %" PRId64, what,
		    sqlite3_column_name(st, c), i);
		break;
	case MSG_T_FLOAT:
		REQUIRE(msg_get_float(r, &f) == 0, "%s: key", what);
		REQUIRE(type == SQLITE_FLOAT &&
		    sqlite3_column_double(st, c) == f, "%s: %s: want %g",
		    what, sqlite3_column_name(st, c), f);
		break;
	case MSG_T_BOOL:
		REQUIRE(msg_get_bool(r, &b) == 0, "%s: key", what);
		REQUIRE(type == SQLITE_INTEGER &&
		    sqlite3_column_int64(st, c) == b, "%s: %s: want %d", what,
		    sqlite3_column_name(st, c), b);
		break;
	case MSG_T_NIL:
		REQUIRE(msg_get_nil(r) == 0, "%s: key", what);
		REQUIRE(type == SQLITE_NULL, "%s: %s: type %d, want NULL",
		    what, sqlite3_column_name(st, c), type);
		break;
	default:
		ck_abort_msg("%s: key value of type %d", what, msg_peek(r));
	}
}

/*
 * The stored row of sr's bucket and key must be sr in every column: the
 * bucket, the key, each d_ column the key's value, each m_ column
 * sr->cols, the state sr's bytes.
 */
static void
check_row(sqlite3 *d, const char *tbl, const struct store_row *sr)
{
	const struct conf_view	*cv = agg_view_conf(view);
	sqlite3_stmt		*st;
	struct msg_reader	 r;
	char			*sql, name[64];
	uint32_t		 n;
	size_t			 i, m;
	int			 c, type;

	xasprintf(&sql, "SELECT * FROM \"%s\" WHERE bucket = ? AND key = ?",
	    tbl);
	REQUIRE(sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(d));
	free(sql);
	sqlite3_bind_int64(st, 1, sr->bucket);
	sqlite3_bind_blob(st, 2, sr->key, (int)sr->keylen, SQLITE_STATIC);
	REQUIRE(sqlite3_step(st) == SQLITE_ROW, "%s: no row %" PRId64, tbl,
	    sr->bucket);
	REQUIRE(sqlite3_column_count(st) == (int)(3 + cv->ngroup +
	    cv->nmetrics), "%d columns", sqlite3_column_count(st));
	REQUIRE(sqlite3_column_type(st, 0) == SQLITE_INTEGER &&
	    sqlite3_column_int64(st, 0) == sr->bucket, "bucket");
	REQUIRE(sqlite3_column_type(st, 1) == SQLITE_BLOB &&
	    (size_t)sqlite3_column_bytes(st, 1) == sr->keylen &&
	    memcmp(sqlite3_column_blob(st, 1), sr->key, sr->keylen) == 0,
	    "key");
	msg_reader_init(&r, sr->key, sr->keylen);
	REQUIRE(msg_get_array(&r, &n) == 0 && n == cv->ngroup, "key array");
	c = 2;
	for (i = 0; i < cv->ngroup; i++, c++) {
		snprintf(name, sizeof(name), "d_%s", cv->group_by[i]);
		REQUIRE(strcmp(sqlite3_column_name(st, c), name) == 0,
		    "column %d: %s, want %s", c, sqlite3_column_name(st, c),
		    name);
		check_dim(st, c, &r, tbl);
	}
	for (m = 0; m < cv->nmetrics; m++, c++) {
		snprintf(name, sizeof(name), "m_%s", cv->metrics[m].name);
		REQUIRE(strcmp(sqlite3_column_name(st, c), name) == 0,
		    "column %d: %s, want %s", c, sqlite3_column_name(st, c),
		    name);
		type = sqlite3_column_type(st, c);
		REQUIRE(type == sr->cols[m].type, "%s: type %d, want %d",
		    name, type, sr->cols[m].type);
		if (type == SQLITE_INTEGER)
			REQUIRE(sqlite3_column_int64(st, c) == sr->cols[m].i,
			    "%s: %" PRId64 ", want %" PRId64, name,
			    (int64_t)sqlite3_column_int64(st, c),
			    sr->cols[m].i);
		else if (type == SQLITE_FLOAT)
			REQUIRE(sqlite3_column_double(st, c) == sr->cols[m].f,
			    "%s: %g, want %g", name,
			    sqlite3_column_double(st, c), sr->cols[m].f);
	}
	REQUIRE(strcmp(sqlite3_column_name(st, c), "state") == 0, "state");
	REQUIRE(sqlite3_column_type(st, c) == SQLITE_BLOB &&
	    (size_t)sqlite3_column_bytes(st, c) == sr->statelen &&
	    memcmp(sqlite3_column_blob(st, c), sr->state, sr->statelen) == 0,
	    "%s: state of %" PRId64 " differs (%d bytes, want %zu)", tbl,
	    sr->bucket, sqlite3_column_bytes(st, c), sr->statelen);
	REQUIRE(sqlite3_step(st) == SQLITE_DONE, "two rows");
	sqlite3_finalize(st);
}

/* The m_ columns of main row sr must be what its events add up to. */
static void
check_want(sqlite3 *d, const char *tbl, const struct store_row *sr)
{
	const struct want	*w = &wants[row_index(sr)];
	sqlite3_stmt		*st;
	char			*sql;

	xasprintf(&sql, "SELECT m_n, m_bytes, m_lat, m_bmin, m_lmax, "
	    "m_users, m_q, m_top, typeof(m_lat) FROM \"%s\" WHERE "
	    "bucket = ? AND key = ?", tbl);
	REQUIRE(sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s", sqlite3_errmsg(d));
	free(sql);
	sqlite3_bind_int64(st, 1, sr->bucket);
	sqlite3_bind_blob(st, 2, sr->key, (int)sr->keylen, SQLITE_STATIC);
	REQUIRE(sqlite3_step(st) == SQLITE_ROW, "no row");
	REQUIRE((uint64_t)sqlite3_column_int64(st, 0) == w->n,
	    "row %zu: n %" PRId64 ", want %" PRIu64, row_index(sr),
	    (int64_t)sqlite3_column_int64(st, 0), w->n);
	REQUIRE(sqlite3_column_int64(st, 1) == w->bytes,
	    "row %zu: bytes %" PRId64 ", want %" PRId64, row_index(sr),
	    (int64_t)sqlite3_column_int64(st, 1), w->bytes);
	REQUIRE(strcmp((const char *)sqlite3_column_text(st, 8), "real") == 0 &&
	    sqlite3_column_double(st, 2) == w->lat, "row %zu: lat %g, want %g",
	    row_index(sr), sqlite3_column_double(st, 2), w->lat);
	REQUIRE(sqlite3_column_int64(st, 3) == w->bmin, "bmin");
	if (w->haslat)
		REQUIRE(sqlite3_column_type(st, 4) == SQLITE_FLOAT &&
		    sqlite3_column_double(st, 4) == w->lmax, "lmax");
	else
		REQUIRE(sqlite3_column_type(st, 4) == SQLITE_NULL,
		    "lmax not NULL");
	REQUIRE(sqlite3_column_type(st, 5) == SQLITE_INTEGER &&
	    sqlite3_column_int64(st, 5) >= 1 &&
	    sqlite3_column_int64(st, 5) <= 7, "users");
	REQUIRE(sqlite3_column_type(st, 6) == SQLITE_NULL &&
	    sqlite3_column_type(st, 7) == SQLITE_NULL, "q, top not NULL");
	sqlite3_finalize(st);
}

/* Every row of r stored as prepared (and, for main, as added up). */
static void
check_rows(sqlite3 *d, const char *tbl, const struct rows *r, int main)
{
	size_t	i;

	for (i = 0; i < r->n; i++) {
		check_row(d, tbl, &r->sr[i]);
		if (main)
			check_want(d, tbl, &r->sr[i]);
	}
}

/* Table tbl must read back into a partial equal to want. */
static void
check_read(sqlite3 *d, const char *tbl, struct agg_partial *want)
{
	const struct conf_view	*cv = agg_view_conf(view);
	struct agg_partial	*q = agg_partial_new(view);
	struct agg_row		**rows, *got;
	char			*cause = NULL;
	size_t			 i, m, n = agg_rows(want);

	ck_assert_msg(store_read_table(d, view, tbl, q, &cause) == 0,
	    "store_read_table: %s", cause);
	ck_assert_uint_eq(agg_rows(q), n);
	rows = agg_sorted_rows(want);
	for (i = 0; i < n; i++) {
		got = agg_find_row(q, rows[i]->bucket, rows[i]->key,
		    rows[i]->keylen, 0);
		REQUIRE(got != NULL, "row %zu not read", i);
		for (m = 0; m < cv->nmetrics; m++) {
			REQUIRE(agg_state_equal(view, m, &got->st[m],
			    &rows[i]->st[m]), "row %zu: metric %s differs", i,
			    cv->metrics[m].name);
			if (cv->metrics[m].kind == CONF_M_DISTINCT)
				REQUIRE(hll_count(got->st[m].u.hll) ==
				    hll_count(rows[i]->st[m].u.hll),
				    "row %zu: distinct count differs", i);
		}
	}
	free(rows);
	agg_partial_free(q);
}

/*
 * Fresh rows: N of them written in one transaction, STORE_BATCH at a
 * time by one INSERT each, the rest on the flush; stored as prepared.
 */
START_TEST(test_fresh_batches)
{
	static const size_t	 ns[] = { 0, 1, 31, 32, 33, 64, 70, 100 };
	struct store_writer	*w;
	struct rows		 r;
	sqlite3			*ro;
	char			*tbl, *cause = NULL;
	int64_t			 maxb;
	size_t			 k, n;

	open_view(CONF_MAIN, "main");
	for (k = 0; k < nitems(ns); k++) {
		n = ns[k];
		memset(wants, 0, sizeof(wants));
		tbl = new_table(n);
		rows_make(&r, 0, n, 0);
		w = new_writer(db, tbl);
		ins_single = ins_batch = ins_other = 0;
		begin();
		ck_assert_uint_eq(write_rows(w, &r, 1), n);
		ck_assert_uint_eq(ins_batch, n / STORE_BATCH);
		ck_assert_uint_eq(ins_single, 0);
		flush(w);
		ck_assert_uint_eq(ins_batch, n / STORE_BATCH);
		ck_assert_uint_eq(ins_single, n % STORE_BATCH);
		ck_assert_uint_eq(ins_other, 0);
		/* A flush with nothing held back writes nothing. */
		flush(w);
		ck_assert_uint_eq(ins_single + ins_batch, n / STORE_BATCH +
		    n % STORE_BATCH);
		commit();
		ck_assert_uint_eq(subjournals, 0);
		ck_assert_int_eq(count_rows(db, tbl), (int64_t)n);
		check_rows(db, tbl, &r, 1);
		check_read(db, tbl, r.p);
		ck_assert_int_eq(store_max_bucket(db, tbl, &maxb, &cause),
		    n > 0);
		ck_assert_int_eq(maxb, n > 0 ? row_bucket(n - 1) : INT64_MIN);

		/* The same from a reader's connection. */
		ck_assert_msg((ro = store_open(dbpath, 0, &cause)) != NULL,
		    "%s", cause);
		ck_assert_int_eq(count_rows(ro, tbl), (int64_t)n);
		check_rows(ro, tbl, &r, 1);
		check_read(ro, tbl, r.p);
		store_close(ro);

		store_writer_free(w);
		rows_free(&r);
		free(tbl);
	}
}
END_TEST

/*
 * Rows past the last full batch are held back: not in the table, even
 * to the writer's own connection, until the flush.
 */
START_TEST(test_held_back)
{
	struct store_writer	*w;
	struct rows		 r;
	sqlite3			*ro;
	char			*tbl, *cause = NULL;
	size_t			 i;
	int			 rc;

	open_view(CONF_MAIN, "main");
	tbl = new_table(1);
	rows_make(&r, 0, 40, 0);
	w = new_writer(db, tbl);
	ck_assert_msg((ro = store_open(dbpath, 0, &cause)) != NULL, "%s",
	    cause);
	begin();
	for (i = 0; i < r.n; i++) {
		rc = store_write(w, agg_partial_arena(r.p), &r.sr[i], 1,
		    &cause);
		REQUIRE(rc == 1, "store_write %zu: %d", i, rc);
		REQUIRE(count_rows(db, tbl) == (i + 1 < STORE_BATCH ? 0 :
		    STORE_BATCH), "after %zu rows: %" PRId64 " in the table",
		    i + 1, count_rows(db, tbl));
		REQUIRE(ins_batch == (size_t)(i + 1 < STORE_BATCH ? 0 : 1) &&
		    ins_single == 0, "after %zu rows: %zu, %zu INSERTs", i + 1,
		    ins_batch, ins_single);
	}
	/* The batch in the table is the first 32 rows. */
	for (i = 0; i < STORE_BATCH; i++)
		check_row(db, tbl, &r.sr[i]);
	flush(w);
	ck_assert_int_eq(count_rows(db, tbl), 40);
	ck_assert_uint_eq(ins_batch, 1);
	ck_assert_uint_eq(ins_single, 40 - STORE_BATCH);
	/* Readers see none of it before the commit. */
	ck_assert_int_eq(count_rows(ro, tbl), 0);
	commit();
	ck_assert_int_eq(count_rows(ro, tbl), 40);
	check_rows(ro, tbl, &r, 1);
	store_close(ro);
	store_writer_free(w);
	rows_free(&r);
	free(tbl);
}
END_TEST

/*
 * Writes into stored rows merge: counts and exact sums add up, and the
 * row stored is the row store_write prepared again.  New rows (fresh or
 * not) and merged ones in one transaction, as batchd writes them: fresh
 * when past the latest bucket.
 */
START_TEST(test_merge)
{
	struct store_writer	*w;
	struct agg_partial	*all;
	struct rows		 r1, r2;
	char			*tbl, *cause = NULL;
	int64_t			 maxb;
	size_t			 i, merged = 0, added = 0, single, update;
	int			 rc, fresh, exists;

	open_view(CONF_MAIN, "main");
	tbl = new_table(2);
	w = new_writer(db, tbl);

	/* Rows 0 to 39: hours -1, 0 and 1. */
	rows_make(&r1, 0, 40, 0);
	write_committed(w, &r1, 1, 40);
	ck_assert_int_eq(store_max_bucket(db, tbl, &maxb, &cause), 1);
	ck_assert_int_eq(maxb, HOUR);

	/*
	 * Rows 20 to 59, more events: 20 to 39 stored (merged), 40 to 47 new
	 * in hour 1 (not fresh), 48 to 59 new in hour 2 (fresh).
	 */
	rows_make(&r2, 20, 40, 1);
	all = agg_partial_new(view);
	for (i = 0; i < 40; i++)
		fold_row(all, i, 0, NULL);
	for (i = 20; i < 60; i++)
		fold_row(all, i, 1, NULL);

	begin();
	ins_single = ins_batch = ins_other = 0;
	for (i = 0; i < r2.n; i++) {
		exists = agg_find_row(r1.p, r2.sr[i].bucket, r2.sr[i].key,
		    r2.sr[i].keylen, 0) != NULL;
		fresh = r2.sr[i].bucket > maxb;
		REQUIRE(!(fresh && exists), "fresh row %zu exists", i);
		single = ins_single;
		update = ins_update;
		rc = store_write(w, agg_partial_arena(r2.p), &r2.sr[i], fresh,
		    &cause);
		REQUIRE(rc == !exists, "row %zu: store_write %d (%s), want %d",
		    row_index(&r2.sr[i]), rc, rc == -1 ? cause : "", !exists);
		/*
		 * Rows not fresh are written at once, one by one: an UPDATE
		 * if merged, else an INSERT; fresh ones are held back.
		 */
		REQUIRE(ins_single == single + (!fresh && !exists) &&
		    ins_update == update + exists, "row %zu: %zu single-row "
		    "INSERTs, was %zu; %zu UPDATEs, was %zu",
		    row_index(&r2.sr[i]), ins_single, single, ins_update,
		    update);
		if (rc == 0)
			merged++;
		else
			added++;
		if (r2.sr[i].bucket > maxb)
			maxb = r2.sr[i].bucket;
	}
	ck_assert_uint_eq(merged, 20);
	ck_assert_uint_eq(added, 20);
	ck_assert_uint_eq(ins_batch, 0);
	flush(w);
	ck_assert_uint_eq(ins_single, 20);
	ck_assert_uint_eq(ins_update, 20);
	ck_assert_uint_eq(ins_other, 0);
	commit();
	ck_assert_uint_eq(subjournals, 0);

	ck_assert_int_eq(count_rows(db, tbl), 60);
	for (i = 0; i < r1.n; i++)
		if (row_index(&r1.sr[i]) < 20)
			check_row(db, tbl, &r1.sr[i]);
	check_rows(db, tbl, &r2, 1);
	for (i = 0; i < r1.n; i++)
		check_want(db, tbl, &r1.sr[i]);
	/* Row 25, say: its two generations' events, counted by hand. */
	ck_assert_uint_eq(wants[25].n, 1 + 25 % 5 + 1 + 26 % 5);
	check_read(db, tbl, all);
	ck_assert_int_eq(store_max_bucket(db, tbl, &maxb, &cause), 1);
	ck_assert_int_eq(maxb, 2 * HOUR);

	agg_partial_free(all);
	store_writer_free(w);
	rows_free(&r1);
	rows_free(&r2);
	free(tbl);
}
END_TEST

/*
 * store_writer_discard drops the rows held back with their rolled back
 * transaction: the next transaction's flush writes only its own (the
 * discarded rows' memory is freed first, so ASan sees any use).
 */
START_TEST(test_discard)
{
	static const size_t	 ns[] = { 10, 40 };
	struct store_writer	*w;
	struct rows		 r1, r2;
	char			*tbl;
	size_t			 k;

	open_view(CONF_MAIN, "main");
	for (k = 0; k < nitems(ns); k++) {
		memset(wants, 0, sizeof(wants));
		tbl = new_table(3 + k);
		w = new_writer(db, tbl);
		rows_make(&r1, 0, ns[k], 0);
		begin();
		ck_assert_uint_eq(write_rows(w, &r1, 1), ns[k]);
		ck_assert_int_eq(count_rows(db, tbl),
		    (int64_t)(ns[k] / STORE_BATCH * STORE_BATCH));
		store_writer_discard(w);
		store_rollback(db);
		rows_free(&r1);
		ck_assert_int_eq(count_rows(db, tbl), 0);

		rows_make(&r2, 100, 5, 0);
		ins_single = ins_batch = ins_other = 0;
		begin();
		ck_assert_uint_eq(write_rows(w, &r2, 1), 5);
		ck_assert_int_eq(count_rows(db, tbl), 0);
		flush(w);
		ck_assert_uint_eq(ins_single, 5);
		ck_assert_uint_eq(ins_batch, 0);
		commit();
		ck_assert_int_eq(count_rows(db, tbl), 5);
		check_rows(db, tbl, &r2, 1);
		check_read(db, tbl, r2.p);
		rows_free(&r2);
		store_writer_free(w);
		free(tbl);
	}
	/* Discarding nothing, or no writer, is harmless. */
	store_writer_discard(NULL);
}
END_TEST

/*
 * Write r's first STORE_BATCH rows fresh: the first ones must be held
 * back (1); the last, which sends the batch, returns what it returns.
 */
static int
write_batch(struct store_writer *w, struct rows *r, char **cause)
{
	size_t	i;
	int	rc = 0;

	for (i = 0; i < STORE_BATCH; i++) {
		*cause = NULL;
		rc = store_write(w, agg_partial_arena(r->p), &r->sr[i], 1,
		    cause);
		if (i < STORE_BATCH - 1)
			REQUIRE(rc == 1, "store_write %zu: %d", i, rc);
	}
	return (rc);
}

/* A failed write: -1 and a cause of exactly want. */
static void
expect_fail(int rc, char *cause, const char *want)
{
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(cause != NULL, "no cause");
	ck_assert_msg(strcmp(cause, want) == 0, "cause \"%s\", want \"%s\"",
	    cause, want);
	free(cause);
}

/*
 * Failed writes: triggers that refuse every INSERT and UPDATE, then a
 * reader's read-only connection.  The batch, the rows on the flush and a merged
 * row each fail with a cause that names the write and SQLite's reason;
 * after the rollback the table is as it was, and the writer works again.
 */
START_TEST(test_write_fails)
{
	struct store_writer	*w;
	struct rows		 r0, r1, r2, r3, r4;
	sqlite3			*ro;
	char			*tbl, *sql, *cause;
	int			 rc = 0;

	open_view(CONF_MAIN, "main");
	tbl = new_table(5);
	w = new_writer(db, tbl);
	rows_make(&r0, 0, 3, 0);
	write_committed(w, &r0, 1, 3);

	xasprintf(&sql, "CREATE TRIGGER boom BEFORE INSERT ON \"%s\" "
	    "BEGIN SELECT RAISE(ABORT, 'boom'); END", tbl);
	exec(db, sql);
	free(sql);
	xasprintf(&sql, "CREATE TRIGGER boom_u BEFORE UPDATE ON \"%s\" "
	    "BEGIN SELECT RAISE(ABORT, 'boom'); END", tbl);
	exec(db, sql);
	free(sql);

	/* A batch of 32: the 32nd store_write fails. */
	rows_make(&r1, 16, 40, 0);
	begin();
	rc = write_batch(w, &r1, &cause);
	expect_fail(rc, cause, "sqlite: write rows: boom");
	/*
	 * No store_writer_discard here or after the failed flush below: a
	 * failed flush drops the rows it held by itself (were they kept,
	 * the 40 rows written at the end would come out 45 or more).
	 */
	store_rollback(db);
	ck_assert_int_eq(count_rows(db, tbl), 3);
	check_rows(db, tbl, &r0, 1);

	/* Rows on the flush. */
	rows_make(&r2, 60, 5, 0);
	begin();
	ck_assert_uint_eq(write_rows(w, &r2, 1), 5);
	cause = NULL;
	rc = store_writer_flush(w, &cause);
	expect_fail(rc, cause, "sqlite: write row: boom");
	store_rollback(db);
	ck_assert_int_eq(count_rows(db, tbl), 3);

	/* A merged row. */
	rows_make(&r3, 1, 1, 1);
	begin();
	cause = NULL;
	rc = store_write(w, agg_partial_arena(r3.p), &r3.sr[0], 0, &cause);
	expect_fail(rc, cause, "sqlite: write row: boom");
	store_rollback(db);
	store_writer_discard(w);
	ck_assert_int_eq(count_rows(db, tbl), 3);
	check_row(db, tbl, &r0.sr[0]);
	check_row(db, tbl, &r0.sr[1]);
	check_row(db, tbl, &r0.sr[2]);

	/* Without the trigger, the same rows go in. */
	exec(db, "DROP TRIGGER boom");
	exec(db, "DROP TRIGGER boom_u");
	write_committed(w, &r1, 1, 40);
	ck_assert_int_eq(count_rows(db, tbl), 43);
	check_rows(db, tbl, &r0, 0);
	check_rows(db, tbl, &r1, 0);
	store_writer_free(w);

	/* A read-only connection: SQLite's own reason. */
	ck_assert_msg((ro = store_open(dbpath, 0, &cause)) != NULL, "%s",
	    cause);
	w = new_writer(ro, tbl);
	rows_make(&r4, 100, STORE_BATCH + 1, 0);
	rc = write_batch(w, &r4, &cause);
	expect_fail(rc, cause,
	    "sqlite: write rows: attempt to write a readonly database");
	cause = NULL;
	ck_assert_int_eq(store_write(w, agg_partial_arena(r4.p),
	    &r4.sr[STORE_BATCH], 1, &cause), 1);
	rc = store_writer_flush(w, &cause);
	expect_fail(rc, cause,
	    "sqlite: write row: attempt to write a readonly database");
	store_writer_free(w);
	store_close(ro);
	ck_assert_int_eq(count_rows(db, tbl), 43);

	rows_free(&r0);
	rows_free(&r1);
	rows_free(&r2);
	rows_free(&r3);
	rows_free(&r4);
	free(tbl);
}
END_TEST

/*
 * A stored row that is damaged when a merge reads it back: its state not
 * an array of the view's 8 partials, a partial that does not read, or
 * bytes after the last one.  Each time store_write fails with a cause
 * that names the table, the bucket and what is wrong, and writes nothing;
 * with the row mended, the same merge goes through.
 */
START_TEST(test_damaged_row)
{
	static const struct {
		const char	*state;		/* SQL */
		const char	*why;
	} cases[] = {
		{ "x'93010203'", "malformed state: not an array of 8 states" },
		{ "x'01'", "malformed state: not an array of 8 states" },
		{ "x''", "malformed state: not an array of 8 states" },
		{ "x'98a1780000c0c0c0c0c0c0'", "n: malformed count state" },
		{ "state || x'c0'",
		    "malformed state: bytes after the last metric" },
	};
	struct store_writer	*w;
	struct rows		 r0, r1;
	sqlite3_stmt		*st;
	char			*tbl, *sql, *cause, *want, *hex;
	size_t			 i;
	int			 rc;

	open_view(CONF_MAIN, "main");
	tbl = new_table(6);
	w = new_writer(db, tbl);
	rows_make(&r0, 0, 2, 0);
	write_committed(w, &r0, 1, 2);
	hex = xcalloc(2 * r0.sr[0].keylen + 1, 1);
	for (i = 0; i < r0.sr[0].keylen; i++)
		snprintf(hex + 2 * i, 3, "%02x", r0.sr[0].key[i]);
	for (i = 0; i < nitems(cases); i++) {
		xasprintf(&sql, "UPDATE \"%s\" SET state = %s WHERE bucket = "
		    "%" PRId64 " AND key = x'%s'", tbl, cases[i].state,
		    r0.sr[0].bucket, hex);
		exec(db, sql);
		free(sql);
		ck_assert_int_eq(sqlite3_changes(db), 1);
		rows_make(&r1, 0, 1, 1);
		begin();
		cause = NULL;
		rc = store_write(w, agg_partial_arena(r1.p), &r1.sr[0], 0,
		    &cause);
		xasprintf(&want, "%s: stored row at bucket %" PRId64 ": %s",
		    tbl, r0.sr[0].bucket, cases[i].why);
		expect_fail(rc, cause, want);
		free(want);
		store_rollback(db);
		store_writer_discard(w);
		rows_free(&r1);
		/* Mended: the row r0 wrote. */
		xasprintf(&sql, "UPDATE \"%s\" SET state = ? WHERE bucket = "
		    "? AND key = ?", tbl);
		REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, NULL) ==
		    SQLITE_OK, "%s", sqlite3_errmsg(db));
		free(sql);
		sqlite3_bind_blob(st, 1, r0.sr[0].state,
		    (int)r0.sr[0].statelen, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, r0.sr[0].bucket);
		sqlite3_bind_blob(st, 3, r0.sr[0].key, (int)r0.sr[0].keylen,
		    SQLITE_STATIC);
		REQUIRE(sqlite3_step(st) == SQLITE_DONE, "%s",
		    sqlite3_errmsg(db));
		sqlite3_finalize(st);
		check_row(db, tbl, &r0.sr[0]);
	}
	/* The same merge, on the mended row. */
	rows_make(&r1, 0, 1, 1);
	begin();
	ck_assert_uint_eq(write_rows(w, &r1, 0), 0);
	flush(w);
	commit();
	ck_assert_int_eq(count_rows(db, tbl), 2);
	rows_free(&r1);
	rows_free(&r0);
	free(hex);
	store_writer_free(w);
	free(tbl);
}
END_TEST

/*
 * Dimension values: strings of 0, 1, 100 and 70,000 bytes (bound without
 * a copy), ints (the extremes among them), bools, and absent ones as
 * NULL; exactly as the events had them, through the batch, the flush and
 * merges.
 */
#define NDIMROWS	37

/* Row k of the dims view: s, its length, and the other values. */
static size_t
dims_s(size_t k, char *s)
{
	size_t	len;

	if (k == 0)
		return (0);
	len = k <= 12 ? 1 : k <= 24 ? 100 : 70000;
	memset(s, 'a' + (int)(k % 12), len);
	if (len > 2)
		memcpy(s + len - 2, "\xc3\xa9", 2);	/* e acute */
	return (len);
}

static int64_t
dims_i(size_t k)
{
	if (k == 35)
		return (INT64_MIN);
	if (k == 36)
		return (INT64_MAX);
	return ((int64_t)k * 7 - 100);
}

static void
fold_dims(struct agg_partial *p, size_t k, char *s)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	char		 o[24], *cause = NULL;
	size_t		 len = dims_s(k, s);
	int		 hasb = k % 3 != 0, haso = k % 5 != 0;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2 + haso + hasb);
	msg_pack_str(&pk, "s");
	msgpack_pack_str(&pk, len);
	msgpack_pack_str_body(&pk, s, len);
	if (haso) {
		snprintf(o, sizeof(o), "o%zu", k);
		msg_pack_str(&pk, "o");
		msg_pack_str(&pk, o);
	}
	msg_pack_str(&pk, "i");
	msgpack_pack_int64(&pk, dims_i(k));
	if (hasb) {
		msg_pack_str(&pk, "b");
		if (k % 2)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
	}
	REQUIRE(agg_fold(p, 0, (const uint8_t *)sb.data, sb.size, &cause) == 0,
	    "fold: %s", cause);
	msgpack_sbuffer_destroy(&sb);
}

/*
 * Every row of the dims table, read with plain SQL, against the values
 * made here again: each row once, n events each.
 */
static void
check_dims(const char *tbl, int64_t n)
{
	sqlite3_stmt	*st;
	char		*sql, *s, o[24];
	int		 seen[NDIMROWS];
	size_t		 k, len;
	int64_t		 rows = 0;

	memset(seen, 0, sizeof(seen));
	s = xmalloc(70000);
	xasprintf(&sql, "SELECT d_s, d_o, d_i, d_b, m_n, typeof(d_s) "
	    "FROM \"%s\"", tbl);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	free(sql);
	while (sqlite3_step(st) == SQLITE_ROW) {
		rows++;
		/* Which row: by i, unique. */
		for (k = 0; k < NDIMROWS; k++)
			if (dims_i(k) == sqlite3_column_int64(st, 2))
				break;
		REQUIRE(k < NDIMROWS && !seen[k], "i %" PRId64,
		    (int64_t)sqlite3_column_int64(st, 2));
		seen[k] = 1;
		len = dims_s(k, s);
		REQUIRE(strcmp((const char *)sqlite3_column_text(st, 5),
		    "text") == 0, "row %zu: d_s is %s", k,
		    sqlite3_column_text(st, 5));
		REQUIRE((size_t)sqlite3_column_bytes(st, 0) == len,
		    "row %zu: d_s of %d bytes, want %zu", k,
		    sqlite3_column_bytes(st, 0), len);
		REQUIRE(len == 0 || memcmp(sqlite3_column_blob(st, 0), s,
		    len) == 0, "row %zu: d_s differs", k);
		if (k % 5 != 0) {
			snprintf(o, sizeof(o), "o%zu", k);
			REQUIRE(sqlite3_column_type(st, 1) == SQLITE_TEXT &&
			    strcmp((const char *)sqlite3_column_text(st, 1),
			    o) == 0, "row %zu: d_o", k);
		} else
			REQUIRE(sqlite3_column_type(st, 1) == SQLITE_NULL,
			    "row %zu: d_o not NULL", k);
		REQUIRE(sqlite3_column_type(st, 2) == SQLITE_INTEGER,
		    "row %zu: d_i", k);
		if (k % 3 != 0)
			REQUIRE(sqlite3_column_type(st, 3) == SQLITE_INTEGER &&
			    sqlite3_column_int64(st, 3) == (int64_t)(k % 2),
			    "row %zu: d_b", k);
		else
			REQUIRE(sqlite3_column_type(st, 3) == SQLITE_NULL,
			    "row %zu: d_b not NULL", k);
		REQUIRE(sqlite3_column_int64(st, 4) == n, "row %zu: n", k);
	}
	sqlite3_finalize(st);
	ck_assert_int_eq(rows, NDIMROWS);
	free(s);
}

START_TEST(test_dimensions)
{
	struct store_writer	*w;
	struct rows		 r;
	char			*tbl, *s;
	size_t			 k;

	open_view(CONF_DIMS, "dims");
	tbl = new_table(6);
	w = new_writer(db, tbl);
	s = xmalloc(70000);

	/* New: 32 in the batch, 5 on the flush. */
	r.p = agg_partial_new(view);
	for (k = 0; k < NDIMROWS; k++)
		fold_dims(r.p, k, s);
	rows_prepare(&r);
	ck_assert_uint_eq(r.n, NDIMROWS);
	begin();
	ck_assert_uint_eq(write_rows(w, &r, 1), NDIMROWS);
	flush(w);
	ck_assert_uint_eq(ins_batch, 1);
	ck_assert_uint_eq(ins_single, NDIMROWS - STORE_BATCH);
	commit();
	check_rows(db, tbl, &r, 0);
	check_read(db, tbl, r.p);
	/* The rows' memory gone, the table must still hold the values. */
	rows_free(&r);
	check_dims(tbl, 1);

	/* Merged: each row written again, alone. */
	r.p = agg_partial_new(view);
	for (k = 0; k < NDIMROWS; k++)
		fold_dims(r.p, k, s);
	rows_prepare(&r);
	begin();
	ck_assert_uint_eq(write_rows(w, &r, 0), 0);
	ck_assert_uint_eq(ins_single, NDIMROWS - STORE_BATCH);
	ck_assert_uint_eq(ins_update, NDIMROWS);
	flush(w);
	commit();
	check_rows(db, tbl, &r, 0);
	rows_free(&r);
	check_dims(tbl, 2);

	free(s);
	store_writer_free(w);
	free(tbl);
}
END_TEST

/*
 * The widest view the configuration allows: 8 dimensions and 64
 * metrics, 75 columns, 2,400 parameters in the batch INSERT.
 */
START_TEST(test_wide)
{
	struct store_writer	*w;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	struct rows		 r;
	char			*body, *t, *tbl, *cause = NULL;
	char			 name[24], val[48];
	static const char	*kinds[] = { "count", "{sum: x}", "{min: x}",
				    "{max: x}", "{sum: y}", "{max: y}" };
	static const struct {
		int	limit;		/* 0: SQLite's own */
		size_t	batch;		/* rows at once, with 75 columns */
	} limits[] = { { 0, STORE_BATCH }, { 999, 13 }, { 150, 2 },
	    { 149, 1 }, { 75, 1 } };
	size_t			 i, j, l, batch;

	body = xstrdup("streams:\n  w:\n    fields:\n      x: int\n"
	    "      y: float\n");
	for (i = 0; i < CONF_GROUP_MAX; i++) {
		xasprintf(&t, "%s      d%zu: string\n", body, i);
		free(body);
		body = t;
	}
	xasprintf(&t, "%sviews:\n  wide:\n    stream: w\n    bucket: 1d\n"
	    "    group_by: [d0, d1, d2, d3, d4, d5, d6, d7]\n    metrics:\n",
	    body);
	free(body);
	body = t;
	for (i = 0; i < CONF_METRICS_MAX; i++) {
		xasprintf(&t, "%s      m%zu: %s\n", body, i,
		    kinds[i % nitems(kinds)]);
		free(body);
		body = t;
	}
	open_view(body, "wide");
	free(body);
	ck_assert_uint_eq(agg_view_conf(view)->ngroup, 8);
	ck_assert_uint_eq(agg_view_conf(view)->nmetrics, 64);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	r.p = agg_partial_new(view);
	for (i = 0; i < STORE_BATCH + 1; i++) {
		msgpack_sbuffer_clear(&sb);
		msgpack_pack_map(&pk, 2 + CONF_GROUP_MAX);
		msg_pack_str(&pk, "x");
		msgpack_pack_int64(&pk, (int64_t)i - 10);
		msg_pack_str(&pk, "y");
		msgpack_pack_double(&pk, (double)i / 8);
		for (j = 0; j < CONF_GROUP_MAX; j++) {
			snprintf(name, sizeof(name), "d%zu", j);
			snprintf(val, sizeof(val), "v%zu.%zu", i, j);
			msg_pack_str(&pk, name);
			msg_pack_str(&pk, val);
		}
		REQUIRE(agg_fold(r.p, (int64_t)i * 3600 * NS,
		    (const uint8_t *)sb.data, sb.size, &cause) == 0,
		    "fold: %s", cause);
	}
	msgpack_sbuffer_destroy(&sb);
	rows_prepare(&r);

	/*
	 * 75 columns: all 32 rows at once within SQLite's limit on
	 * parameters (32766 since 3.32), and as many as fit under a lower
	 * one (999 before 3.32; a program may lower it), down to one.
	 */
	for (l = 0; l < nitems(limits); l++) {
		if (limits[l].limit > 0)
			sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER,
			    limits[l].limit);
		tbl = new_table(7 + l);
		w = new_writer(db, tbl);
		ins_single = ins_batch = ins_other = ins_multi = ins_rows = 0;
		begin();
		ck_assert_uint_eq(write_rows(w, &r, 1), STORE_BATCH + 1);
		flush(w);
		commit();
		batch = limits[l].batch;
		ck_assert_uint_eq(ins_rows, STORE_BATCH + 1);
		ck_assert_uint_eq(ins_multi, batch > 1 ?
		    (STORE_BATCH + 1) / batch : 0);
		ck_assert_uint_eq(ins_single, batch > 1 ?
		    (STORE_BATCH + 1) % batch : STORE_BATCH + 1);
		ck_assert_int_eq(count_rows(db, tbl), STORE_BATCH + 1);
		check_rows(db, tbl, &r, 0);
		check_read(db, tbl, r.p);
		store_writer_free(w);
		free(tbl);
	}
	rows_free(&r);
}
END_TEST

/*
 * The rest of the catalogue: the database's settings, table names and
 * existence, the views and builds tables, the latest bucket.
 */
START_TEST(test_catalogue)
{
	struct store_view	 sv, got, *list;
	struct rows		 r;
	struct store_writer	*w;
	sqlite3			*again;
	char			*tbl, *cause = NULL;
	int64_t			 maxb;
	size_t			 n;

	open_view(CONF_MAIN, "main");
	ck_assert_int_eq(query_int(db, "PRAGMA page_size"), 65536);
	ck_assert_int_eq(query_int(db, "SELECT value FROM lamina_meta "
	    "WHERE key = 'format'"), STORE_FORMAT);

	tbl = store_table_name("main", 0x0123456789abcdefULL);
	ck_assert_str_eq(tbl, "v_main_0123456789abcdef");
	free(tbl);
	tbl = new_table(8);
	ck_assert_int_eq(store_table_exists(db, tbl, &cause), 1);
	ck_assert_int_eq(store_table_exists(db, "V_MAIN_0000000000000008",
	    &cause), 1);
	ck_assert_int_eq(store_table_exists(db, "v_main_0000000000000009",
	    &cause), 0);
	ck_assert_int_eq(store_create_table(db, view, tbl, &cause), -1);
	ck_assert_msg(strstr(cause, "already exists") != NULL, "%s", cause);
	free(cause);
	cause = NULL;
	ck_assert_ptr_null(store_writer_new(db, view, "v_none", &cause));
	ck_assert_str_eq(cause, "sqlite: prepare: no such table: v_none");
	free(cause);
	cause = NULL;

	/* The latest bucket: none, then negative ones. */
	ck_assert_int_eq(store_max_bucket(db, tbl, &maxb, &cause), 0);
	ck_assert_int_eq(maxb, INT64_MIN);
	rows_make(&r, 0, 16, 0);
	w = new_writer(db, tbl);
	write_committed(w, &r, 1, 16);
	ck_assert_int_eq(store_max_bucket(db, tbl, &maxb, &cause), 1);
	ck_assert_int_eq(maxb, -HOUR);
	store_writer_free(w);
	rows_free(&r);
	ck_assert_int_eq(store_max_bucket(db, "v_none", &maxb, &cause), -1);
	ck_assert_msg(strncmp(cause, "sqlite: latest bucket: ", 23) == 0,
	    "%s", cause);
	free(cause);
	cause = NULL;

	/* Views and builds. */
	memset(&sv, 0, sizeof(sv));
	sv.name = "main";
	sv.fingerprint = "0000000000000008";
	sv.canonical = "{\"x\": 1}";
	sv.tbl = tbl;
	sv.stream = "pv";
	sv.horizon = 1234;
	sv.segments = 5;
	sv.rows = 16;
	sv.events = UINT64_C(1) << 40;
	sv.published_ns = -7;
	ck_assert_int_eq(store_get_view(db, "lamina_views", "main", &got,
	    &cause), 0);
	ck_assert_int_eq(store_put_view(db, "lamina_views", &sv, &cause), 0);
	ck_assert_int_eq(store_get_view(db, "lamina_builds", "main", &got,
	    &cause), 0);
	ck_assert_int_eq(store_get_view(db, "lamina_views", "main", &got,
	    &cause), 1);
	ck_assert_str_eq(got.name, "main");
	ck_assert_str_eq(got.fingerprint, sv.fingerprint);
	ck_assert_str_eq(got.canonical, sv.canonical);
	ck_assert_str_eq(got.tbl, tbl);
	ck_assert_str_eq(got.stream, "pv");
	ck_assert_uint_eq(got.horizon, 1234);
	ck_assert_uint_eq(got.segments, 5);
	ck_assert_uint_eq(got.rows, 16);
	ck_assert_uint_eq(got.events, UINT64_C(1) << 40);
	ck_assert_int_eq(got.published_ns, -7);
	store_view_clear(&got);
	ck_assert_ptr_null(got.name);
	sv.horizon = 99;
	ck_assert_int_eq(store_put_view(db, "lamina_views", &sv, &cause), 0);
	sv.name = "aaa";
	ck_assert_int_eq(store_put_view(db, "lamina_views", &sv, &cause), 0);
	ck_assert_int_eq(store_list_views(db, "lamina_views", &list, &n,
	    &cause), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[0].name, "aaa");
	ck_assert_str_eq(list[1].name, "main");
	ck_assert_uint_eq(list[1].horizon, 99);
	store_view_clear(&list[0]);
	store_view_clear(&list[1]);
	free(list);
	ck_assert_int_eq(store_delete_view(db, "lamina_views", "aaa", &cause),
	    0);
	ck_assert_int_eq(store_list_views(db, "lamina_views", &list, &n,
	    &cause), 0);
	ck_assert_uint_eq(n, 1);
	store_view_clear(&list[0]);
	free(list);

	/* Opened again as the writer: everything is still there. */
	ck_assert_msg((again = store_open(dbpath, 1, &cause)) != NULL, "%s",
	    cause);
	ck_assert_int_eq(store_get_view(again, "lamina_views", "main", &got,
	    &cause), 1);
	ck_assert_uint_eq(got.horizon, 99);
	store_view_clear(&got);
	ck_assert_int_eq(count_rows(again, tbl), 16);
	store_close(again);

	ck_assert_int_eq(store_drop_table(db, tbl, &cause), 0);
	ck_assert_int_eq(store_table_exists(db, tbl, &cause), 0);
	ck_assert_int_eq(store_drop_table(db, tbl, &cause), 0);
	free(tbl);
}
END_TEST

/*
 * A row written not fresh whose key the table does not have yet goes in
 * at once, so a second write of the same key in the same transaction
 * finds it and merges (held back like a fresh one, it would be counted
 * new twice, and its INSERT OR REPLACE would drop the first write's
 * events).
 */
START_TEST(test_rewrite_held_back)
{
	struct store_writer	*w;
	struct rows		 r1, r2;
	char			*tbl, *sql, *cause = NULL;
	int64_t			 n;
	int			 rc1, rc2;

	open_view(CONF_MAIN, "main");
	tbl = new_table(9);
	w = new_writer(db, tbl);
	rows_make(&r1, 0, 1, 0);	/* one event */
	rows_make(&r2, 0, 1, 1);	/* two more, the same row */
	begin();
	rc1 = store_write(w, agg_partial_arena(r1.p), &r1.sr[0], 0, &cause);
	rc2 = store_write(w, agg_partial_arena(r2.p), &r2.sr[0], 0, &cause);
	flush(w);
	commit();
	xasprintf(&sql, "SELECT m_n FROM \"%s\"", tbl);
	n = query_int(db, sql);
	free(sql);
	store_writer_free(w);
	rows_free(&r1);
	rows_free(&r2);
	free(tbl);
	teardown();	/* a failed test's teardown does not run */
	ck_assert_int_eq(rc1, 1);
	ck_assert_msg(rc2 == 0 && (uint64_t)n == wants[0].n,
	    "second write of a held-back row: store_write %d, want 0 "
	    "(merged); stored count %" PRId64 ", want %" PRIu64, rc2, n,
	    wants[0].n);
}
END_TEST

/*
 * Keys as a damaged table could hand back (rows read from SQLite are
 * merged and written again): one that is not msgpack, and an array of
 * more values than the view has dimensions.  Each row's d_ column is
 * NULL or the first value, and its metric columns stay in their places.
 */
START_TEST(test_odd_keys)
{
	static const uint8_t	 bad[] = { 0xc1 };
	static const uint8_t	 three[] = { 0x93, 0xa1, 'a', 0x01, 0x02 };
	struct store_writer	*w;
	struct rows		 r;
	sqlite3_stmt		*st;
	char			*tbl, *sql;
	int			 rows = 0;

	open_view(CONF_MAIN, "main");
	tbl = new_table(20);
	w = new_writer(db, tbl);
	rows_make(&r, 0, 3, 0);
	r.sr[0].key = bad;
	r.sr[0].keylen = sizeof(bad);
	r.sr[1].key = three;
	r.sr[1].keylen = sizeof(three);
	begin();
	ck_assert_uint_eq(write_rows(w, &r, 1), 3);
	flush(w);
	commit();
	xasprintf(&sql, "SELECT key, d_url, m_n FROM \"%s\" ORDER BY key",
	    tbl);
	ck_assert(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((size_t)sqlite3_column_bytes(st, 0) == sizeof(bad)) {
			ck_assert_int_eq(sqlite3_column_type(st, 1),
			    SQLITE_NULL);
			ck_assert_int_eq(sqlite3_column_int64(st, 2),
			    (int64_t)wants[0].n);
		} else if ((size_t)sqlite3_column_bytes(st, 0) ==
		    sizeof(three)) {
			ck_assert_str_eq((const char *)sqlite3_column_text(st,
			    1), "a");
			ck_assert_int_eq(sqlite3_column_int64(st, 2),
			    (int64_t)wants[1].n);
		} else {
			ck_assert_str_eq((const char *)sqlite3_column_text(st,
			    1), "/page/0002");
			ck_assert_int_eq(sqlite3_column_int64(st, 2),
			    (int64_t)wants[2].n);
		}
		rows++;
	}
	sqlite3_finalize(st);
	ck_assert_int_eq(rows, 3);
	free(sql);
	store_writer_free(w);
	rows_free(&r);
	free(tbl);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite	*s = suite_create("store");
	TCase	*tc;

	tc = tcase_create("write");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fresh_batches);
	tcase_add_test(tc, test_held_back);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_discard);
	tcase_add_test(tc, test_write_fails);
	tcase_add_test(tc, test_damaged_row);
	tcase_add_test(tc, test_odd_keys);
	tcase_add_test(tc, test_dimensions);
	tcase_add_test(tc, test_wide);
	tcase_add_test(tc, test_rewrite_held_back);
	suite_add_tcase(s, tc);

	tc = tcase_create("catalogue");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_catalogue);
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(store_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? 1 : 0);
}
