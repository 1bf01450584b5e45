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
 * The batch views in SQLite (see store.h).  Identifiers are view, metric
 * and dimension names, which the configuration restricts to letters,
 * digits, '_', '.' and '-'; they are always double-quoted.  Values are
 * always bound, never formatted into SQL.
 */

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "agg.h"
#include "arena.h"
#include "conf.h"
#include "hll.h"
#include "log.h"
#include "msg.h"
#include "store.h"
#include "xmalloc.h"
#include "xsum.h"

struct store_writer {
	sqlite3			*db;
	const struct agg_view	*v;
	sqlite3_stmt		*get;
	sqlite3_stmt		*put;		/* a new row */
	sqlite3_stmt		*upd;		/* a stored row, merged */
	sqlite3_stmt		*putn;		/* batch rows at once, or NULL */
	size_t			 batch;		/* 1 to STORE_BATCH */
	int			 ncol;
	struct store_row	*pend[STORE_BATCH];	/* fresh, not written */
	size_t			 npend;
	msgpack_sbuffer		 sb;
	struct agg_partial	*scratch;
	char			*tbl;		/* for errors */
};

static int
store_err(sqlite3 *db, char **cause, const char *what)
{
	xasprintf(cause, "sqlite: %s: %s", what, sqlite3_errmsg(db));
	return (-1);
}

static pthread_once_t	store_once = PTHREAD_ONCE_INIT;

/*
 * Before SQLite's first use: no memory statistics, which take a global
 * mutex on every allocation (nothing here reads them).  Too late if
 * SQLite was already initialised, which only costs that mutex.
 */
static void
store_config(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/*
 * Open (creating if asked) the database at path, in WAL mode, with the
 * lamina tables.  Readers open it read-only.
 */
sqlite3 *
store_open(const char *path, int writer, char **cause)
{
	sqlite3	*db;
	int	 flags;

	pthread_once(&store_once, store_config);
	flags = writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE :
	    SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		xasprintf(cause, "%s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return (NULL);
	}
	sqlite3_busy_timeout(db, 5000);
	if (!writer)
		return (db);
	/*
	 * Large pages: a rebuild appends millions of rows in key order,
	 * about twice as fast as with 4 KiB pages.  Only a new database
	 * takes it (in WAL mode the page size is fixed).
	 */
	if (store_exec(db, "PRAGMA page_size=65536", cause) == -1 ||
	    store_exec(db, "PRAGMA journal_mode=WAL", cause) == -1 ||
	    store_exec(db, "PRAGMA synchronous=NORMAL", cause) == -1 ||
	    /* a chunk's transaction must not spill pages mid-way */
	    store_exec(db, "PRAGMA cache_size=-262144", cause) == -1 ||
	    /* a WAL file longer than this shrinks back when it restarts */
	    store_exec(db, "PRAGMA journal_size_limit=268435456", cause) == -1 ||
	    store_exec(db,
	    "CREATE TABLE IF NOT EXISTS lamina_meta(key TEXT PRIMARY KEY, "
	    "value) WITHOUT ROWID;"
	    "INSERT OR IGNORE INTO lamina_meta VALUES('format', 1);"
	    "CREATE TABLE IF NOT EXISTS lamina_views(name TEXT PRIMARY KEY, "
	    "fingerprint TEXT NOT NULL, canonical TEXT NOT NULL, "
	    "tbl TEXT NOT NULL, stream TEXT NOT NULL, "
	    "horizon INTEGER NOT NULL, segments INTEGER NOT NULL, "
	    "rows INTEGER NOT NULL, events INTEGER NOT NULL, "
	    "published_ns INTEGER NOT NULL) WITHOUT ROWID;"
	    "CREATE TABLE IF NOT EXISTS lamina_builds(name TEXT PRIMARY KEY, "
	    "fingerprint TEXT NOT NULL, canonical TEXT NOT NULL, "
	    "tbl TEXT NOT NULL, stream TEXT NOT NULL, "
	    "horizon INTEGER NOT NULL, segments INTEGER NOT NULL, "
	    "rows INTEGER NOT NULL, events INTEGER NOT NULL, "
	    "published_ns INTEGER NOT NULL) WITHOUT ROWID;", cause) == -1) {
		sqlite3_close(db);
		return (NULL);
	}
	return (db);
}

void
store_close(sqlite3 *db)
{
	if (db != NULL)
		sqlite3_close(db);
}

int
store_exec(sqlite3 *db, const char *sql, char **cause)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		xasprintf(cause, "sqlite: %s", msg != NULL ? msg :
		    sqlite3_errmsg(db));
		sqlite3_free(msg);
		return (-1);
	}
	return (0);
}

int
store_begin(sqlite3 *db, char **cause)
{
	return (store_exec(db, "BEGIN IMMEDIATE", cause));
}

int
store_commit(sqlite3 *db, char **cause)
{
	return (store_exec(db, "COMMIT", cause));
}

void
store_rollback(sqlite3 *db)
{
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* v_NAME_FINGERPRINT */
char *
store_table_name(const char *view, uint64_t fingerprint)
{
	char	*s;

	xasprintf(&s, "v_%s_%016" PRIx64, view, fingerprint);
	return (s);
}

/* Create the rows table of view v. */
int
store_create_table(sqlite3 *db, const struct agg_view *v, const char *tbl,
    char **cause)
{
	const struct conf_view	*cv = agg_view_conf(v);
	char			*sql, *t;
	size_t			 i;
	int			 rc;

	xasprintf(&sql, "CREATE TABLE \"%s\"(bucket INTEGER "
	    "NOT NULL, key BLOB NOT NULL", tbl);
	for (i = 0; i < cv->ngroup; i++) {
		xasprintf(&t, "%s, \"d_%s\"", sql, cv->group_by[i]);
		free(sql);
		sql = t;
	}
	for (i = 0; i < cv->nmetrics; i++) {
		xasprintf(&t, "%s, \"m_%s\"", sql, cv->metrics[i].name);
		free(sql);
		sql = t;
	}
	xasprintf(&t, "%s, state BLOB NOT NULL, PRIMARY KEY(bucket, key)) "
	    "WITHOUT ROWID", sql);
	free(sql);
	rc = store_exec(db, t, cause);
	free(t);
	return (rc);
}

/* Is there a table named tbl (as SQLite compares names: ignoring case)? */
int
store_table_exists(sqlite3 *db, const char *tbl, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE "
	    "type = 'table' AND name = ? COLLATE NOCASE", -1, &st,
	    NULL) != SQLITE_OK)
		return (store_err(db, cause, "table exists"));
	sqlite3_bind_text(st, 1, tbl, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return (store_err(db, cause, "table exists"));
	return (rc == SQLITE_ROW);
}

int
store_drop_table(sqlite3 *db, const char *tbl, char **cause)
{
	char	*sql;
	int	 rc;

	xasprintf(&sql, "DROP TABLE IF EXISTS \"%s\"", tbl);
	rc = store_exec(db, sql, cause);
	free(sql);
	return (rc);
}

void
store_view_clear(struct store_view *sv)
{
	free(sv->name);
	free(sv->fingerprint);
	free(sv->canonical);
	free(sv->tbl);
	free(sv->stream);
	memset(sv, 0, sizeof(*sv));
}

static char *
store_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char	*s = sqlite3_column_text(st, i);

	return (xstrdup(s != NULL ? (const char *)s : ""));
}

static void
store_row_view(sqlite3_stmt *st, struct store_view *sv)
{
	sv->name = store_col_text(st, 0);
	sv->fingerprint = store_col_text(st, 1);
	sv->canonical = store_col_text(st, 2);
	sv->tbl = store_col_text(st, 3);
	sv->stream = store_col_text(st, 4);
	sv->horizon = (uint64_t)sqlite3_column_int64(st, 5);
	sv->segments = (uint64_t)sqlite3_column_int64(st, 6);
	sv->rows = (uint64_t)sqlite3_column_int64(st, 7);
	sv->events = (uint64_t)sqlite3_column_int64(st, 8);
	sv->published_ns = sqlite3_column_int64(st, 9);
}

/* The row of name in table (lamina_views or lamina_builds): 1, or 0. */
int
store_get_view(sqlite3 *db, const char *table, const char *name,
    struct store_view *sv, char **cause)
{
	sqlite3_stmt	*st;
	char		*sql;
	int		 rc;

	memset(sv, 0, sizeof(*sv));
	xasprintf(&sql, "SELECT name, fingerprint, canonical, tbl, stream, "
	    "horizon, segments, rows, events, published_ns FROM %s WHERE "
	    "name = ?", table);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return (store_err(db, cause, "select view"));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		store_row_view(st, sv);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return (store_err(db, cause, "select view"));
	return (rc == SQLITE_ROW);
}

/* Every row of table (lamina_views or lamina_builds). */
int
store_list_views(sqlite3 *db, const char *table, struct store_view **out,
    size_t *n, char **cause)
{
	sqlite3_stmt	*st;
	char		*sql;
	int		 rc;

	*out = NULL;
	*n = 0;
	xasprintf(&sql, "SELECT name, fingerprint, canonical, tbl, stream, "
	    "horizon, segments, rows, events, published_ns FROM %s ORDER BY "
	    "name", table);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return (store_err(db, cause, "list views"));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xreallocarray(*out, *n + 1, sizeof(**out));
		store_row_view(st, &(*out)[(*n)++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return (store_err(db, cause, "list views"));
	return (0);
}

/* Insert or replace the row of sv->name in table. */
int
store_put_view(sqlite3 *db, const char *table, const struct store_view *sv,
    char **cause)
{
	sqlite3_stmt	*st;
	char		*sql;
	int		 rc;

	xasprintf(&sql, "INSERT OR REPLACE INTO %s VALUES(?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?)", table);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return (store_err(db, cause, "put view"));
	sqlite3_bind_text(st, 1, sv->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sv->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, sv->canonical, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, sv->tbl, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, sv->stream, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)sv->horizon);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)sv->segments);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)sv->rows);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)sv->events);
	sqlite3_bind_int64(st, 10, sv->published_ns);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return (store_err(db, cause, "put view"));
	return (0);
}

int
store_delete_view(sqlite3 *db, const char *table, const char *name,
    char **cause)
{
	sqlite3_stmt	*st;
	char		*sql;
	int		 rc;

	xasprintf(&sql, "DELETE FROM %s WHERE name = ?", table);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return (store_err(db, cause, "delete view"));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return (store_err(db, cause, "delete view"));
	return (0);
}

/* Prepare sql (freed here); NULL with *cause set if SQLite refuses it. */
static sqlite3_stmt *
store_stmt(sqlite3 *db, char *sql, char **cause)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_err(db, cause, "prepare");
		st = NULL;
	}
	free(sql);
	return (st);
}

/*
 * An INSERT of nrows new rows of ncol columns each into tbl.  OR FAIL: a
 * statement that might abort half-way (OR ABORT, the default, and OR
 * REPLACE, which aborts on other constraints) and writes more than once
 * (several rows; a replace) makes SQLite keep a statement journal, a copy
 * of every page before the statement first changes it (here the last
 * leaf, 64 KiB, for every statement) in a temporary file.  With OR FAIL
 * there is nothing to undo: a failure leaves the rows before it, and the
 * caller rolls the whole transaction back.
 */
static sqlite3_stmt *
store_insert_stmt(sqlite3 *db, const char *tbl, size_t ncol, size_t nrows,
    char **cause)
{
	char	*sql;
	size_t	 i, j, len, off;

	/* "(?" ", ?"... ")" and a comma before every row but the first. */
	len = 64 + strlen(tbl) + nrows * (3 * ncol + 2);
	sql = xmalloc(len);
	off = (size_t)snprintf(sql, len, "INSERT OR FAIL INTO \"%s\" VALUES",
	    tbl);
	for (i = 0; i < nrows; i++) {
		off += (size_t)snprintf(sql + off, len - off, "%s(?",
		    i == 0 ? "" : ",");
		for (j = 1; j < ncol; j++)
			off += (size_t)snprintf(sql + off, len - off, ",?");
		off += (size_t)snprintf(sql + off, len - off, ")");
	}
	return (store_stmt(db, sql, cause));
}

/*
 * The UPDATE of a stored row into tbl, its parameters numbered as the
 * INSERT's (bucket, key, dimensions, metrics, state); OR FAIL, as above.
 */
static sqlite3_stmt *
store_update_stmt(sqlite3 *db, const struct agg_view *v, const char *tbl,
    char **cause)
{
	const struct conf_view	*cv = agg_view_conf(v);
	char			*sql, *t;
	size_t			 i;
	int			 col = 3;

	xasprintf(&sql, "UPDATE OR FAIL \"%s\" SET", tbl);
	for (i = 0; i < cv->ngroup; i++, col++) {
		xasprintf(&t, "%s \"d_%s\" = ?%d,", sql, cv->group_by[i],
		    col);
		free(sql);
		sql = t;
	}
	for (i = 0; i < cv->nmetrics; i++, col++) {
		xasprintf(&t, "%s \"m_%s\" = ?%d,", sql, cv->metrics[i].name,
		    col);
		free(sql);
		sql = t;
	}
	xasprintf(&t, "%s state = ?%d WHERE bucket = ?1 AND key = ?2", sql,
	    col);
	free(sql);
	return (store_stmt(db, t, cause));
}

/*
 * Prepared statements for the rows table tbl of view v.  Fresh rows go
 * in by as many at once as SQLite's limit on parameters allows, up to
 * STORE_BATCH (a view can have some 70 columns; SQLite before 3.32 allows
 * 999 parameters, later ones 32766, and a program may lower it).
 */
struct store_writer *
store_writer_new(sqlite3 *db, const struct agg_view *v, const char *tbl,
    char **cause)
{
	const struct conf_view	*cv = agg_view_conf(v);
	struct store_writer	*w;
	char			*sql;
	size_t			 ncol = 3 + cv->ngroup + cv->nmetrics;

	w = xcalloc(1, sizeof(*w));
	w->db = db;
	w->v = v;
	w->tbl = xstrdup(tbl);
	msgpack_sbuffer_init(&w->sb);
	w->scratch = agg_partial_new(v);
	xasprintf(&sql, "SELECT state FROM \"%s\" WHERE bucket = ? AND "
	    "key = ?", tbl);
	w->ncol = (int)ncol;
	w->batch = (size_t)sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1) /
	    ncol;
	if (w->batch > STORE_BATCH)
		w->batch = STORE_BATCH;
	if ((w->get = store_stmt(db, sql, cause)) == NULL ||
	    (w->put = store_insert_stmt(db, tbl, ncol, 1, cause)) == NULL ||
	    (w->upd = store_update_stmt(db, v, tbl, cause)) == NULL ||
	    (w->batch > 1 && (w->putn = store_insert_stmt(db, tbl, ncol,
	    w->batch, cause)) == NULL)) {
		store_writer_free(w);
		return (NULL);
	}
	if (w->batch < 1)
		w->batch = 1;
	return (w);
}

void
store_writer_free(struct store_writer *w)
{
	if (w == NULL)
		return;
	sqlite3_finalize(w->get);
	sqlite3_finalize(w->put);
	sqlite3_finalize(w->upd);
	sqlite3_finalize(w->putn);
	msgpack_sbuffer_destroy(&w->sb);
	agg_partial_free(w->scratch);
	free(w->tbl);
	free(w);
}

/*
 * Bind one msgpack scalar (a dimension value) as an SQL value; NULL for
 * anything else, or for what cannot be read (a key from a damaged table).
 */
static void
store_bind_value(sqlite3_stmt *st, int col, struct msg_reader *r)
{
	const char	*s;
	size_t		 len;
	int64_t		 i;
	uint64_t	 u;
	double		 d;
	int		 b;

	switch (msg_peek(r)) {
	case MSG_T_STR:
		if (msg_get_str(r, &s, &len) == 0 && len <= INT_MAX) {
			sqlite3_bind_text(st, col, s, (int)len, SQLITE_STATIC);
			return;
		}
		break;
	case MSG_T_INT:
		if (msg_get_int(r, &i) == 0) {
			sqlite3_bind_int64(st, col, i);
			return;
		}
		break;
	case MSG_T_UINT:
		if (msg_get_uint(r, &u) == 0) {
			sqlite3_bind_int64(st, col, (sqlite3_int64)u);
			return;
		}
		break;
	case MSG_T_FLOAT:
		if (msg_get_float(r, &d) == 0) {
			sqlite3_bind_double(st, col, d);
			return;
		}
		break;
	case MSG_T_BOOL:
		if (msg_get_bool(r, &b) == 0) {
			sqlite3_bind_int(st, col, b);
			return;
		}
		break;
	default:
		(void)msg_skip(r);
		break;
	}
	sqlite3_bind_null(st, col);
}

/* The m_ column of metric m: its value for people and SQL. */
static void
store_metric_col(const struct agg_view *v, size_t m, struct agg_state *s,
    struct store_col *c)
{
	const struct conf_metric	*cm = &agg_view_conf(v)->metrics[m];
	int				 isfloat = cm->field_idx >= 0 &&
	    agg_view_stream(v)->fields[cm->field_idx].type == CONF_FT_FLOAT;

	c->type = SQLITE_NULL;
	switch (cm->kind) {
	case CONF_M_COUNT:
		c->type = SQLITE_INTEGER;
		c->i = (int64_t)s->u.count;
		break;
	case CONF_M_SUM:
		if (isfloat) {
			c->type = SQLITE_FLOAT;
			c->f = xsum_value(&s->u.fsum);
		} else if (s->u.isum >= INT64_MIN && s->u.isum <= INT64_MAX) {
			c->type = SQLITE_INTEGER;
			c->i = (int64_t)s->u.isum;
		} else {
			c->type = SQLITE_FLOAT;
			c->f = (double)s->u.isum;
		}
		break;
	case CONF_M_MIN:
	case CONF_M_MAX:
		if (s->u.mm.n == 0)
			break;
		if (isfloat) {
			c->type = SQLITE_FLOAT;
			c->f = s->u.mm.f;
		} else {
			c->type = SQLITE_INTEGER;
			c->i = s->u.mm.i;
		}
		break;
	case CONF_M_DISTINCT:
		c->type = SQLITE_INTEGER;
		c->i = s->u.hll == NULL ? 0 : (int64_t)hll_count(s->u.hll);
		break;
	default:
		break;		/* in state only */
	}
}

/*
 * msgpack_sbuffer_write for packing rows: a row's states are dozens of
 * pieces of 1 to 9 bytes, each of which the library's version copies with
 * a call to memcpy.
 */
static int
store_sb_write(void *data, const char *buf, size_t len)
{
	msgpack_sbuffer	*sb = data;
	char		*d;

	if (sb->alloc - sb->size < len)
		return (msgpack_sbuffer_write(data, buf, len));
	d = sb->data + sb->size;
	sb->size += len;
	switch (len) {
	case 1:
		d[0] = buf[0];
		break;
	case 2:
		memcpy(d, buf, 2);
		break;
	case 3:
		memcpy(d, buf, 3);
		break;
	case 5:
		memcpy(d, buf, 5);
		break;
	case 9:
		memcpy(d, buf, 9);
		break;
	default:
		memcpy(d, buf, len);
		break;
	}
	return (0);
}

/*
 * Make row ready to write, into out: its states packed (the state BLOB)
 * and its metric columns computed, in memory from arena a (its
 * partial's); sb is scratch space.  Done by the fold workers, so the one
 * thread that writes to SQLite only binds and steps.
 */
void
store_prepare(const struct agg_view *v, struct arena *a, struct agg_row *row,
    struct store_row *out, msgpack_sbuffer *sb)
{
	const struct conf_view	*cv = agg_view_conf(v);
	msgpack_packer		 pk;
	uint8_t			*block;
	size_t			 m, ncols;

	/*
	 * Settle each buffered sparse HLL once, here, rather than in both
	 * hll_count (the m_ column) and hll_pack (the state).
	 */
	for (m = 0; m < cv->nmetrics; m++)
		if (cv->metrics[m].kind == CONF_M_DISTINCT &&
		    row->st[m].u.hll != NULL)
			hll_settle(row->st[m].u.hll);
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, store_sb_write);
	msgpack_pack_array(&pk, cv->nmetrics);
	for (m = 0; m < cv->nmetrics; m++)
		agg_pack_state(v, m, &row->st[m], &pk);
	ncols = (cv->nmetrics + 1) * sizeof(*out->cols);
	block = arena_alloc(a, ncols + row->keylen + sb->size);
	out->row = row;
	out->bucket = row->bucket;
	out->cols = (struct store_col *)block;
	memset(out->cols, 0, ncols);
	for (m = 0; m < cv->nmetrics; m++)
		store_metric_col(v, m, &row->st[m], &out->cols[m]);
	out->key = block + ncols;
	out->keylen = row->keylen;
	memcpy(block + ncols, row->key, row->keylen);
	out->state = block + ncols + row->keylen;
	out->statelen = sb->size;
	memcpy(out->state, sb->data, sb->size);
}

/* Ask for prepared row sr's block: its columns, key and states. */
void
store_row_prefetch(const struct store_row *sr)
{
	const uint8_t	*p = (const uint8_t *)sr->cols;
	const uint8_t	*end = sr->state + sr->statelen;

	for (; p < end; p += 64)
		__builtin_prefetch(p);
	__builtin_prefetch(end - 1);
}

/* Bind prepared row sr to statement st's columns after the base-th. */
static void
store_bind_row(sqlite3_stmt *st, int base, const struct agg_view *v,
    const struct store_row *sr)
{
	const struct conf_view	*cv = agg_view_conf(v);
	struct msg_reader	 r;
	size_t			 m;
	uint32_t		 n, i;
	int			 col = base + 3;

	sqlite3_bind_int64(st, base + 1, sr->bucket);
	sqlite3_bind_blob(st, base + 2, sr->key, (int)sr->keylen,
	    SQLITE_STATIC);
	/* One d_ column per dimension, whatever the key holds. */
	msg_reader_init(&r, sr->key, sr->keylen);
	if (msg_get_array(&r, &n) == -1)
		n = 0;
	for (i = 0; i < cv->ngroup; i++, col++) {
		if (i < n)
			store_bind_value(st, col, &r);
		else
			sqlite3_bind_null(st, col);
	}
	for (m = 0; m < cv->nmetrics; m++, col++) {
		switch (sr->cols[m].type) {
		case SQLITE_INTEGER:
			sqlite3_bind_int64(st, col, sr->cols[m].i);
			break;
		case SQLITE_FLOAT:
			sqlite3_bind_double(st, col, sr->cols[m].f);
			break;
		default:
			sqlite3_bind_null(st, col);
			break;
		}
	}
	sqlite3_bind_blob(st, col, sr->state, (int)sr->statelen,
	    SQLITE_STATIC);
}

/*
 * Write a prepared row into the table: merged with the row already there
 * unless fresh (the caller knows no row of its key can exist yet: its
 * bucket is past every bucket in the table, and it writes the key once in
 * the transaction).  A fresh row is held back and written with others
 * (STORE_BATCH) or by store_writer_flush, which must come before the
 * commit; sr and its memory must live until then.  A merged row is
 * prepared again, from arena a.  Returns 1 for a new row, 0 for one
 * merged into an existing row, -1 on error.
 */
int
store_write(struct store_writer *w, struct arena *a, struct store_row *sr,
    int fresh, char **cause)
{
	const struct agg_view	*v = w->v;
	struct agg_row		*row = sr->row, *old = NULL;
	sqlite3_stmt		*st;
	struct msg_reader	 r;
	const void		*blob;
	size_t			 m;
	uint32_t		 n;
	char			*why = NULL;
	int			 rc;

	if (!fresh) {
		sqlite3_reset(w->get);
		sqlite3_bind_int64(w->get, 1, sr->bucket);
		sqlite3_bind_blob(w->get, 2, sr->key, (int)sr->keylen,
		    SQLITE_STATIC);
		rc = sqlite3_step(w->get);
		if (rc == SQLITE_ROW) {
			blob = sqlite3_column_blob(w->get, 0);
			msg_reader_init(&r, blob,
			    (size_t)sqlite3_column_bytes(w->get, 0));
			old = agg_find_row(w->scratch, row->bucket, row->key,
			    row->keylen, 1);
			/* A damaged row: refused, named; nothing written. */
			rc = -1;
			if (msg_get_array(&r, &n) == -1 ||
			    n != agg_view_nmetrics(v))
				xasprintf(&why, "malformed state: not an array "
				    "of %zu states", agg_view_nmetrics(v));
			else {
				for (m = 0; m < n; m++)
					if (agg_unpack_state_in(v, m,
					    agg_partial_arena(w->scratch),
					    &old->st[m], &r, &why) == -1)
						break;
				if (m == n && msg_end(&r) == -1)
					why = xstrdup("malformed state: bytes "
					    "after the last metric");
				else if (m == n)
					rc = agg_row_merge(v, a, row, old,
					    &why);
			}
			sqlite3_reset(w->get);
			agg_partial_reset(w->scratch);
			if (rc == -1) {
				xasprintf(cause, "%s: stored row at bucket %"
				    PRId64 ": %s", w->tbl, row->bucket,
				    why != NULL ? why : "malformed state");
				free(why);
				return (-1);
			}
			store_prepare(v, a, row, sr, &w->sb);
		} else if (rc != SQLITE_DONE) {
			sqlite3_reset(w->get);
			return (store_err(w->db, cause, "read row"));
		}
		sqlite3_reset(w->get);
	}

	if (fresh) {
		/*
		 * With others, at once; the caller keeps the row's memory
		 * until store_writer_flush or store_writer_discard.
		 */
		w->pend[w->npend++] = sr;
		if (w->npend == w->batch && store_writer_flush(w,
		    cause) == -1)
			return (-1);
		return (1);
	}
	/*
	 * Not fresh, merged or not found: written at once, since the
	 * caller may write the key again in this transaction and must find
	 * it then.
	 */
	st = old != NULL ? w->upd : w->put;
	sqlite3_reset(st);
	store_bind_row(st, 0, v, sr);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return (store_err(w->db, cause, "write row"));
	return (old == NULL);
}

/* Drop the fresh rows held back (their transaction is rolled back). */
void
store_writer_discard(struct store_writer *w)
{
	if (w != NULL)
		w->npend = 0;
}

/*
 * Write the fresh rows store_write holds back; done before the
 * transaction commits.  On failure they are dropped (the transaction is
 * to be rolled back).
 */
int
store_writer_flush(struct store_writer *w, char **cause)
{
	size_t	i, n = w->npend;
	int	rc;

	w->npend = 0;
	if (n == w->batch && w->putn != NULL) {
		sqlite3_reset(w->putn);
		for (i = 0; i < n; i++)
			store_bind_row(w->putn, (int)i * w->ncol, w->v,
			    w->pend[i]);
		rc = sqlite3_step(w->putn);
		sqlite3_reset(w->putn);
		if (rc != SQLITE_DONE)
			return (store_err(w->db, cause, "write rows"));
		return (0);
	}
	for (i = 0; i < n; i++) {
		sqlite3_reset(w->put);
		store_bind_row(w->put, 0, w->v, w->pend[i]);
		rc = sqlite3_step(w->put);
		sqlite3_reset(w->put);
		if (rc != SQLITE_DONE)
			return (store_err(w->db, cause, "write row"));
	}
	return (0);
}

/*
 * The latest bucket in table tbl, in *bucket; 0 if the table is empty,
 * 1 if not, -1 on error.
 */
int
store_max_bucket(sqlite3 *db, const char *tbl, int64_t *bucket, char **cause)
{
	sqlite3_stmt	*st;
	char		*sql;
	int		 rc;

	xasprintf(&sql, "SELECT max(bucket) FROM \"%s\"", tbl);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return (store_err(db, cause, "latest bucket"));
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return (store_err(db, cause, "latest bucket"));
	}
	rc = sqlite3_column_type(st, 0) != SQLITE_NULL;
	*bucket = rc ? sqlite3_column_int64(st, 0) : INT64_MIN;
	sqlite3_finalize(st);
	return (rc);
}

/* Read every row of table tbl into partial p (merging). */
int
store_read_table(sqlite3 *db, const struct agg_view *v, const char *tbl,
    struct agg_partial *p, char **cause)
{
	sqlite3_stmt		*st;
	struct agg_row		*row;
	struct msg_reader	 r;
	char			*sql;
	uint32_t		 n;
	size_t			 m;
	int			 rc;

	xasprintf(&sql, "SELECT bucket, key, state FROM \"%s\"", tbl);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return (store_err(db, cause, "read table"));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row = agg_find_row(p, sqlite3_column_int64(st, 0),
		    sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1), 1);
		msg_reader_init(&r, sqlite3_column_blob(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2));
		if (msg_get_array(&r, &n) == -1 || n != agg_view_nmetrics(v)) {
			sqlite3_finalize(st);
			xasprintf(cause, "%s: malformed state", tbl);
			return (-1);
		}
		for (m = 0; m < n; m++) {
			struct agg_state	s;

			if (agg_unpack_state(v, m, &s, &r, cause) == -1) {
				sqlite3_finalize(st);
				return (-1);
			}
			rc = agg_state_merge(v, m, agg_partial_arena(p),
			    &row->st[m], &s, cause);
			agg_state_free(v, m, &s);
			if (rc == -1) {
				sqlite3_finalize(st);
				return (-1);
			}
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return (store_err(db, cause, "read table"));
	return (0);
}
