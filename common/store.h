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
 * The batch views in SQLite: the schema, shared by lamina-batchd (the only
 * writer) and lamina-served and the CLI (readers).  One database,
 * DATA_DIR/views.db, in WAL mode so that readers get a stable snapshot
 * while batchd writes.
 *
 *   lamina_meta(key, value)		format version
 *   lamina_views(name, fingerprint, canonical, tbl, stream, horizon,
 *       segments, rows, events, published_ns)
 *					the published view: its rows are in
 *					table tbl and cover every offset below
 *					horizon (a segment boundary)
 *   lamina_builds(...)			same columns: a rebuild in progress
 *					beside the published view
 *   v_NAME_FINGERPRINT(bucket, key, d_DIM..., m_METRIC..., state)
 *					one row per group: bucket start
 *					(s), the dimension values (msgpack
 *					array), for people each dimension and
 *					simple metric in its own column, and
 *					state, every metric's partial (agg.h)
 *
 * A view's rows and its horizon change in one transaction.
 */

#ifndef LAMINA_STORE_H
#define LAMINA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <sqlite3.h>

#define STORE_FILE		"views.db"
#define STORE_FORMAT		1

struct agg_view;
struct agg_row;
struct agg_partial;
struct arena;

/* A row of lamina_views or lamina_builds. */
struct store_view {
	char		*name;
	char		*fingerprint;	/* 16 hex digits */
	char		*canonical;
	char		*tbl;
	char		*stream;
	uint64_t	 horizon;
	uint64_t	 segments;
	uint64_t	 rows;
	uint64_t	 events;
	int64_t		 published_ns;
};

/* A metric's column value: SQLITE_INTEGER, SQLITE_FLOAT or SQLITE_NULL. */
struct store_col {
	int		 type;
	int64_t		 i;
	double		 f;
};

/*
 * A row ready to write (store_prepare): what the writer binds is copied
 * here, in one block, so that writing a fresh row does not touch the row.
 */
/*
 * A writer of prepared rows asks for each STORE_AHEAD rows ahead
 * (store_row_prefetch): they were prepared by another thread, and are
 * cold.
 */
#define STORE_AHEAD	8

struct store_row {
	struct agg_row	*row;
	int64_t		 bucket;
	const uint8_t	*key;
	size_t		 keylen;
	uint8_t		*state;		/* the packed states */
	size_t		 statelen;
	struct store_col *cols;		/* one per metric */
};

/*
 * Fresh rows go to SQLite this many at a time (fewer if SQLite's limit on
 * parameters says so), by one INSERT of as many VALUES: SQLite then opens
 * its cursor once for them all, and appending in key order finds it
 * already on the last leaf.
 */
#define STORE_BATCH	32

/* Prepared statements to upsert the rows of one view table. */
struct store_writer;

sqlite3		*store_open(const char *, int, char **);
void		 store_close(sqlite3 *);
int		 store_exec(sqlite3 *, const char *, char **);
int		 store_begin(sqlite3 *, char **);
int		 store_commit(sqlite3 *, char **);
void		 store_rollback(sqlite3 *);
char		*store_table_name(const char *, uint64_t);
int		 store_create_table(sqlite3 *, const struct agg_view *,
		    const char *, char **);
int		 store_drop_table(sqlite3 *, const char *, char **);
int		 store_table_exists(sqlite3 *, const char *, char **);
int		 store_get_view(sqlite3 *, const char *, const char *,
		    struct store_view *, char **);
int		 store_put_view(sqlite3 *, const char *,
		    const struct store_view *, char **);
int		 store_delete_view(sqlite3 *, const char *, const char *,
		    char **);
int		 store_list_views(sqlite3 *, const char *, struct store_view **,
		    size_t *, char **);
void		 store_view_clear(struct store_view *);
struct store_writer *store_writer_new(sqlite3 *, const struct agg_view *,
		    const char *, char **);
void		 store_writer_free(struct store_writer *);
void		 store_prepare(const struct agg_view *, struct arena *,
		    struct agg_row *, struct store_row *, msgpack_sbuffer *);
void		 store_row_prefetch(const struct store_row *);
int		 store_write(struct store_writer *, struct arena *,
		    struct store_row *, int, char **);
int		 store_writer_flush(struct store_writer *, char **);
void		 store_writer_discard(struct store_writer *);
int		 store_max_bucket(sqlite3 *, const char *, int64_t *, char **);
int		 store_read_table(sqlite3 *, const struct agg_view *,
		    const char *, struct agg_partial *, char **);

#endif
