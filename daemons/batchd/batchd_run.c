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
 * A batch run, on the runner thread.  For every configured view it finds
 * its target: the published view if its fingerprint is the configured
 * one, else a rebuild beside it (new, or resumed from an earlier run).
 * Then, stream by stream, it folds the sealed segments past each target's
 * horizon as a pipeline of chunks (a few consecutive segments each):
 * batch.workers fold threads each take the next chunk and fold it, reading
 * each segment once for all the views that need it, into the chunk's own
 * partials; the runner writes the chunks in order, each in one SQLite
 * transaction that writes its rows and moves the horizons together, so a
 * crash leaves the last published state and the next run goes on from
 * there; no segment is folded twice.  A chunk's partials are small enough
 * to stay in the caches while it is folded (event times mostly follow the
 * log), and are released at once (their arena) when written.  A rebuild
 * that has covered every sealed segment is switched in, and the old table
 * dropped, in one transaction.
 *
 * Rows go to SQLite in key order; a row whose bucket is past the latest
 * one in the table is inserted without looking for it first, so a rebuild
 * writes almost only appends, and only rows of a bucket that straddles
 * two chunks are read back and merged.
 */

#include <sys/eventfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <malloc.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agg.h"
#include "arena.h"
#include "batchd.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "segment.h"
#include "store.h"
#include "xmalloc.h"

#define CHUNK_SEGMENTS	16		/* segments per chunk, at most */
#define CHUNK_BYTES	(128ULL << 20)	/* a chunk ends past this size */

struct run_view {
	const struct conf_view	*cv;
	struct agg_view		*av;
	char			 fp[17];
	struct store_view	 pub;
	int			 has_pub;
	struct store_view	 build;
	int			 has_build;
	int			 to_build;	/* target: the rebuild */
	struct store_view	*target;
	int64_t			 maxb;		/* latest bucket in target */
	uint64_t		 fold_from;	/* horizon when the stream began */
	struct store_writer	*writer;	/* for this stream's chunks */
	struct agg_partial	**spare;	/* emptied partials, for reuse */
	size_t			 nspare;
	uint64_t		 lag;
};

struct run {
	struct batchd		*d;
	sqlite3			*db;
	struct run_view		*views;
	size_t			 nviews;
	struct batchd_runstat	 st;
};

/* A chunk: consecutive segments, folded by one worker, written at once. */
struct chunk {
	size_t			 first, end;	/* catalog entries */
	struct agg_partial	**parts;	/* per view; NULL: none */
	struct store_row	**rows;		/* per view: sorted, prepared */
	uint64_t		*segs;		/* per view: segments */
	uint64_t		*horizon;	/* per view: horizon after */
	uint64_t		 events;
	int			 state;		/* CHUNK_* */
	char			*error;
};

#define CHUNK_WAITING	0
#define CHUNK_FOLDING	1
#define CHUNK_FOLDED	2
#define CHUNK_FAILED	3

/* The chunks of one stream and the threads that fold them. */
struct pipeline {
	struct run		*run;
	const char		*stream;
	const struct conf_stream *cs;
	struct run_view		**views;	/* of this stream */
	size_t			 nviews;
	const struct cat_entry	*cat;
	struct chunk		*chunks;
	size_t			 nchunks;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	size_t			 next;		/* the next chunk to fold */
	size_t			 written;	/* chunks written */
	size_t			 window;	/* folded, not written, at most */
	int			 stop;
};

static sqlite3	*run_db;		/* the runner's connection */

/*
 * The checkpointer: copies the WAL into views.db on its own connection
 * (PASSIVE: it never blocks the writer), poked after every commit, so the
 * runner does not stop for each checkpoint and its fsync (it has
 * wal_autocheckpoint off).  SQLite starts the WAL over only when a writer
 * begins after a checkpoint has finished, so once the WAL passes
 * CKPT_WAL_MAX the runner waits for the checkpoint under way before its
 * next transaction: the WAL stays bounded.
 */
#define CKPT_WAL_MAX	(256LL << 20)

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	pthread_t	 thread;
	sqlite3		*db;
	char		*wal;		/* the WAL file's path */
	int		 want;
	int		 busy;
	int		 quit;
} ckpt = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL,
	NULL, 0, 0, 0 };

static void *
ckpt_main(void *arg)
{
	int	rc, nlog, ndone;

	(void)arg;
	pthread_mutex_lock(&ckpt.mu);
	for (;;) {
		while (!ckpt.want && !ckpt.quit)
			pthread_cond_wait(&ckpt.cv, &ckpt.mu);
		if (!ckpt.want)
			break;
		ckpt.want = 0;
		ckpt.busy = 1;
		pthread_mutex_unlock(&ckpt.mu);
		rc = sqlite3_wal_checkpoint_v2(ckpt.db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, &nlog, &ndone);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_warnx("checkpoint: %s", sqlite3_errmsg(ckpt.db));
		pthread_mutex_lock(&ckpt.mu);
		ckpt.busy = 0;
		pthread_cond_broadcast(&ckpt.cv);
	}
	pthread_mutex_unlock(&ckpt.mu);
	return (NULL);
}

/* Ask for a checkpoint (after a commit). */
static void
ckpt_poke(void)
{
	pthread_mutex_lock(&ckpt.mu);
	ckpt.want = 1;
	pthread_cond_broadcast(&ckpt.cv);
	pthread_mutex_unlock(&ckpt.mu);
}

/* Before a transaction: if the WAL is long, let the checkpoint finish. */
static void
ckpt_bound(void)
{
	struct stat	sb;

	if (stat(ckpt.wal, &sb) == -1 || sb.st_size < CKPT_WAL_MAX)
		return;
	pthread_mutex_lock(&ckpt.mu);
	while (ckpt.want || ckpt.busy)
		pthread_cond_wait(&ckpt.cv, &ckpt.mu);
	pthread_mutex_unlock(&ckpt.mu);
}


static int	run_new_build_txn(struct run *, struct run_view *, char **);

int64_t
batchd_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* Open (creating) the views database; done once, before the runner. */
int
batchd_open_store(struct batchd *d, char **cause)
{
	char	*path;

	xasprintf(&path, "%s/%s", d->conf->data_dir, STORE_FILE);
	if ((run_db = store_open(path, 1, cause)) == NULL) {
		free(path);
		return (-1);
	}
	if (store_exec(run_db, "PRAGMA wal_autocheckpoint=0", cause) == -1 ||
	    (ckpt.db = store_open(path, 1, cause)) == NULL) {
		free(path);
		store_close(run_db);
		run_db = NULL;
		return (-1);
	}
	xasprintf(&ckpt.wal, "%s-wal", path);
	free(path);
	if ((errno = pthread_create(&ckpt.thread, NULL, ckpt_main,
	    NULL)) != 0)
		fatal("pthread_create");
	return (0);
}

static void
run_view_clear(struct run_view *rv)
{
	size_t	i;

	store_writer_free(rv->writer);
	for (i = 0; i < rv->nspare; i++)
		agg_partial_free(rv->spare[i]);
	free(rv->spare);
	agg_view_free(rv->av);
	store_view_clear(&rv->pub);
	store_view_clear(&rv->build);
}

/* Was a rebuild of name asked for (and take the request)? */
static int
run_take_recompute(struct batchd *d, const char *name)
{
	size_t	i;
	int	found = 0;

	pthread_mutex_lock(&d->sh.mu);
	for (i = 0; i < d->sh.nrecompute; i++) {
		if (strcmp(d->sh.recompute[i], name) != 0)
			continue;
		free(d->sh.recompute[i]);
		d->sh.recompute[i] = d->sh.recompute[--d->sh.nrecompute];
		found = 1;
		break;
	}
	pthread_mutex_unlock(&d->sh.mu);
	return (found);
}

/*
 * Start a rebuild of rv: a new, empty table beside the published one, in
 * one transaction with the dropping of an older rebuild, so a crash leaves
 * either or neither.
 */
static int
run_new_build(struct run *run, struct run_view *rv, char **cause)
{
	if (store_begin(run->db, cause) == -1)
		return (-1);
	if (run_new_build_txn(run, rv, cause) == -1 ||
	    store_commit(run->db, cause) == -1) {
		store_rollback(run->db);
		return (-1);
	}
	rv->has_build = 1;
	log_info("view %s: rebuilding from the whole master dataset into %s",
	    rv->cv->name, rv->build.tbl);
	return (0);
}

static int
run_new_build_txn(struct run *run, struct run_view *rv, char **cause)
{
	char	*tbl, *t;
	int64_t	 ms;
	int	 rc;

	if (rv->has_build) {
		if (store_drop_table(run->db, rv->build.tbl, cause) == -1 ||
		    store_delete_view(run->db, "lamina_builds", rv->cv->name,
		    cause) == -1)
			return (-1);
		store_view_clear(&rv->build);
	}
	/* A name no table has, whatever the clock did. */
	tbl = store_table_name(rv->cv->name, rv->cv->fingerprint);
	for (ms = batchd_now() / 1000000;; ms++) {
		xasprintf(&t, "%s_%" PRId64, tbl, ms);
		if ((rc = store_table_exists(run->db, t, cause)) == 0)
			break;
		free(t);
		if (rc == -1) {
			free(tbl);
			return (-1);
		}
	}
	free(tbl);
	memset(&rv->build, 0, sizeof(rv->build));
	rv->build.name = xstrdup(rv->cv->name);
	rv->build.fingerprint = xstrdup(rv->fp);
	rv->build.canonical = xstrdup(rv->cv->canonical);
	rv->build.tbl = t;
	rv->build.stream = xstrdup(rv->cv->stream);
	rv->build.published_ns = batchd_now();
	if (store_create_table(run->db, rv->av, t, cause) == -1 ||
	    store_put_view(run->db, "lamina_builds", &rv->build, cause) == -1)
		return (-1);
	return (0);
}

/* Decide every view's target, creating rebuilds where needed. */
static int
run_plan(struct run *run, char **cause)
{
	struct conf		*c = run->d->conf;
	struct run_view		*rv;
	size_t			 i;
	int			 rc, recompute, resume;

	run->views = xcalloc(c->nviews + 1, sizeof(*run->views));
	for (i = 0; i < c->nviews; i++) {
		rv = &run->views[run->nviews++];
		rv->cv = &c->views[i];
		rv->av = agg_view_new(c, rv->cv);
		snprintf(rv->fp, sizeof(rv->fp), "%016" PRIx64,
		    rv->cv->fingerprint);
		if ((rc = store_get_view(run->db, "lamina_views", rv->cv->name,
		    &rv->pub, cause)) == -1)
			return (-1);
		rv->has_pub = rc;
		if ((rc = store_get_view(run->db, "lamina_builds", rv->cv->name,
		    &rv->build, cause)) == -1)
			return (-1);
		rv->has_build = rc;
		recompute = run_take_recompute(run->d, rv->cv->name);
		/*
		 * A rebuild of the published definition is a recompute cut
		 * short (a failed run, a restart): it goes on, so a
		 * recompute asked for once is done whatever happens.
		 */
		resume = rv->has_pub && rv->has_build &&
		    strcmp(rv->pub.fingerprint, rv->fp) == 0 &&
		    strcmp(rv->build.fingerprint, rv->fp) == 0;
		if (rv->has_pub && strcmp(rv->pub.fingerprint, rv->fp) == 0 &&
		    !recompute && !resume) {
			if (rv->has_build) {	/* an abandoned rebuild */
				if (store_begin(run->db, cause) == -1)
					return (-1);
				if (store_drop_table(run->db, rv->build.tbl,
				    cause) == -1 || store_delete_view(run->db,
				    "lamina_builds", rv->cv->name, cause) == -1 ||
				    store_commit(run->db, cause) == -1) {
					store_rollback(run->db);
					return (-1);
				}
				store_view_clear(&rv->build);
				rv->has_build = 0;
			}
			rv->target = &rv->pub;
		} else {
			if (recompute || !rv->has_build ||
			    strcmp(rv->build.fingerprint, rv->fp) != 0) {
				if (rv->has_pub && !recompute)
					log_info("view %s: definition changed "
					    "(fingerprint %s, was %s)",
					    rv->cv->name, rv->fp,
					    rv->pub.fingerprint);
				if (run_new_build(run, rv, cause) == -1)
					return (-1);
			}
			rv->to_build = 1;
			rv->target = &rv->build;
		}
	}
	return (0);
}

/*
 * After a failed write, read rv's target back from the database: its
 * horizon and counts in memory may be ahead of what was committed.
 */
static void
run_reload_target(struct run *run, struct run_view *rv)
{
	struct store_view	 sv;
	char			*cause = NULL;
	int			 rc;

	rc = store_get_view(run->db, rv->to_build ? "lamina_builds" :
	    "lamina_views", rv->cv->name, &sv, &cause);
	if (rc != 1) {
		/* What was committed before the stream began, at least. */
		log_warnx("view %s: rereading its state: %s", rv->cv->name,
		    rc == 0 ? "gone" : cause);
		free(cause);
		rv->target->horizon = rv->fold_from;
		return;
	}
	store_view_clear(rv->target);
	*rv->target = sv;
}

/* An empty partial for rv: a spare one, or a new one. */
static struct agg_partial *
pipe_partial(struct pipeline *pl, struct run_view *rv)
{
	struct agg_partial	*p = NULL;

	pthread_mutex_lock(&pl->mu);
	if (rv->nspare > 0)
		p = rv->spare[--rv->nspare];
	pthread_mutex_unlock(&pl->mu);
	return (p != NULL ? p : agg_partial_new(rv->av));
}

/* Give chunk c's partials back, emptied, for later chunks. */
static void
pipe_release(struct pipeline *pl, struct chunk *c)
{
	struct run_view	*rv;
	size_t		 v;

	for (v = 0; v < pl->nviews; v++) {
		free(c->rows[v]);
		c->rows[v] = NULL;
		if (c->parts[v] == NULL)
			continue;
		agg_partial_reset(c->parts[v]);
		rv = pl->views[v];
		pthread_mutex_lock(&pl->mu);
		rv->spare = xreallocarray(rv->spare, rv->nspare + 1,
		    sizeof(*rv->spare));
		rv->spare[rv->nspare++] = c->parts[v];
		pthread_mutex_unlock(&pl->mu);
		c->parts[v] = NULL;
	}
}

/* Fold the segments of chunk c into its partials; -1 with c->error. */
static int
pipe_fold(struct pipeline *pl, struct chunk *c, struct agg_value *vals,
    msgpack_sbuffer *sb)
{
	const struct cat_entry	*seg;
	struct master_reader	*r;
	struct master_record	 rec;
	struct agg_partial	**fp;
	size_t			 s, v, nfold;
	char			*cause = NULL;
	int			 rc;

	for (v = 0; v < pl->nviews; v++)
		if (c->segs[v] > 0)
			c->parts[v] = pipe_partial(pl, pl->views[v]);
	fp = xcalloc(pl->nviews + 1, sizeof(*fp));
	for (s = c->first; s < c->end && c->error == NULL; s++) {
		/* The writer stopped (failure, SIGTERM): this chunk is moot. */
		if (__atomic_load_n(&pl->stop, __ATOMIC_RELAXED)) {
			c->error = xstrdup("stopped");
			break;
		}
		seg = &pl->cat[s];
		/* The views that need this segment. */
		for (nfold = 0, v = 0; v < pl->nviews; v++)
			if (pl->views[v]->fold_from <= seg->first)
				fp[nfold++] = c->parts[v];
		r = master_reader_open(pl->run->d->conf->data_dir, pl->stream,
		    seg->first, &cause);
		master_reader_sealed_only(r, 1);
		master_reader_lazy(r, 1);
		master_reader_set_limit(r, seg->last + 1);
		while ((rc = master_reader_next(r, &rec, &cause)) == 1) {
			if (agg_decode(pl->cs, vals, rec.fields,
			    rec.fields_len, &cause) == -1) {
				xasprintf(&c->error, "%s offset %" PRIu64
				    ": %s", pl->stream, rec.offset, cause);
				free(cause);
				break;
			}
			c->events++;
			for (v = 0; v < nfold; v++)
				if (agg_fold_values(fp[v], rec.event_ns, vals,
				    &cause) == -1) {
					xasprintf(&c->error, "view %s: %s",
					    agg_view_conf(agg_partial_view(
					    fp[v]))->name, cause);
					free(cause);
					break;
				}
			if (c->error != NULL)
				break;
		}
		if (rc == -1) {
			c->error = cause;
			cause = NULL;
		} else if (rc == 0 && master_reader_position(r) !=
		    seg->last + 1)
			xasprintf(&c->error, "%s: segment %" PRIu64 " ended "
			    "at offset %" PRIu64 ", the catalog says %" PRIu64,
			    pl->stream, seg->first, master_reader_position(r),
			    seg->last + 1);
		master_reader_free(r);
	}
	free(fp);
	if (c->error != NULL)
		return (-1);
	/* Sorted and packed here, so the writer only writes. */
	for (v = 0; v < pl->nviews; v++) {
		struct agg_row	**rows;
		size_t		  i, n;

		if (c->parts[v] == NULL)
			continue;
		n = agg_rows(c->parts[v]);
		rows = agg_sorted_rows(c->parts[v]);
		c->rows[v] = xcalloc(n + 1, sizeof(**c->rows));
		for (i = 0; i < n; i++) {
			/* The rows are cold: ask for each ahead, in levels. */
			if (i + 24 < n)
				agg_row_prefetch(pl->views[v]->av, rows[i + 24],
				    0);
			if (i + 16 < n)
				agg_row_prefetch(pl->views[v]->av, rows[i + 16],
				    1);
			if (i + 8 < n)
				agg_row_prefetch(pl->views[v]->av, rows[i + 8],
				    2);
			store_prepare(pl->views[v]->av,
			    agg_partial_arena(c->parts[v]), rows[i],
			    &c->rows[v][i], sb);
		}
		free(rows);
	}
	return (0);
}

/* A fold worker: take the next chunk, fold it, until none is left. */
static void *
pipe_worker(void *arg)
{
	struct pipeline		*pl = arg;
	struct agg_value	*vals;
	struct chunk		*c;
	msgpack_sbuffer		 sb;
	int			 rc;

	vals = xcalloc(pl->cs->nfields + 1, sizeof(*vals));
	msgpack_sbuffer_init(&sb);
	pthread_mutex_lock(&pl->mu);
	for (;;) {
		/* Folded chunks wait for the writer: memory stays bounded. */
		while (!pl->stop && pl->next < pl->nchunks &&
		    pl->next >= pl->written + pl->window)
			pthread_cond_wait(&pl->cv, &pl->mu);
		if (pl->stop || pl->next >= pl->nchunks)
			break;
		c = &pl->chunks[pl->next++];
		c->state = CHUNK_FOLDING;
		pthread_mutex_unlock(&pl->mu);
		rc = pipe_fold(pl, c, vals, &sb);
		pthread_mutex_lock(&pl->mu);
		c->state = rc == 0 ? CHUNK_FOLDED : CHUNK_FAILED;
		pthread_cond_broadcast(&pl->cv);
	}
	pthread_mutex_unlock(&pl->mu);
	msgpack_sbuffer_destroy(&sb);
	free(vals);
	return (NULL);
}

/* Write a view's chunk rows and its new horizon (inside a transaction). */
static int
pipe_write_view(struct pipeline *pl, struct chunk *c, size_t v, char **cause)
{
	struct run		*run = pl->run;
	struct run_view		*rv = pl->views[v];
	struct agg_partial	*part = c->parts[v];
	struct store_row	*sr;
	size_t			 i, n;
	int64_t			 maxb = rv->maxb;
	int			 r;

	if (part == NULL)
		return (0);
	if (rv->writer == NULL && (rv->writer = store_writer_new(run->db,
	    rv->av, rv->target->tbl, cause)) == NULL)
		return (-1);
	n = agg_rows(part);
	for (i = 0; i < n; i++) {
		if (i + STORE_AHEAD < n)
			store_row_prefetch(&c->rows[v][i + STORE_AHEAD]);
		sr = &c->rows[v][i];
		if ((r = store_write(rv->writer, agg_partial_arena(part), sr,
		    sr->bucket > maxb, cause)) == -1)
			return (-1);
		rv->target->rows += r;
		if (sr->bucket > rv->maxb)
			rv->maxb = sr->bucket;
	}
	if (store_writer_flush(rv->writer, cause) == -1)
		return (-1);
	rv->target->horizon = c->horizon[v];
	rv->target->segments += c->segs[v];
	rv->target->events += agg_events(part);
	rv->target->published_ns = batchd_now();
	return (store_put_view(run->db, rv->to_build ? "lamina_builds" :
	    "lamina_views", rv->target, cause));
}

/*
 * Write chunk c: every view's rows and horizon in one transaction.  On
 * failure the views' state in memory is read back from the database.
 */
static int
pipe_write(struct pipeline *pl, struct chunk *c, char **cause)
{
	struct run	*run = pl->run;
	size_t		 v;
	int		 rc;

	ckpt_bound();
	if (store_begin(run->db, cause) == -1)
		return (-1);
	for (rc = 0, v = 0; v < pl->nviews && rc == 0; v++)
		rc = pipe_write_view(pl, c, v, cause);
	if (rc == 0)
		rc = store_commit(run->db, cause);
	if (rc == -1) {
		store_rollback(run->db);
		for (v = 0; v < pl->nviews; v++)
			store_writer_discard(pl->views[v]->writer);
	} else {
		/*
		 * SQLite's page cache holds what the transaction wrote, which
		 * a rebuild's later chunks do not read (they append): given
		 * back, so that memory stays at one transaction's pages
		 * rather than growing to 256 MiB.
		 */
		sqlite3_db_release_memory(run->db);
		ckpt_poke();
	}
	return (rc);
}

/*
 * Cut the catalog's entries from first into chunks.  What would be the
 * last chunk is cut in two, and so on down to one segment: at the end of
 * a run one worker folds the last chunk while the others wait, and the
 * writer then writes it alone, so the run ends sooner on smaller ones.
 * (The plan depends on the catalog alone: see pipe_run.)
 */
static void
pipe_plan(struct pipeline *pl, size_t first, size_t ncat)
{
	struct chunk	*c;
	size_t		 i, v, cap = 0;
	uint64_t	 bytes;

	while (first < ncat) {
		if (pl->nchunks == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			pl->chunks = xreallocarray(pl->chunks, cap,
			    sizeof(*pl->chunks));
		}
		c = &pl->chunks[pl->nchunks++];
		memset(c, 0, sizeof(*c));
		c->first = first;
		for (bytes = 0, i = first; i < ncat && i - first <
		    CHUNK_SEGMENTS && bytes < CHUNK_BYTES; i++)
			bytes += pl->cat[i].bytes;
		if (i == ncat && i - first > 1)
			i = first + (i - first) / 2;
		c->end = first = i;
		c->parts = xcalloc(pl->nviews + 1, sizeof(*c->parts));
		c->rows = xcalloc(pl->nviews + 1, sizeof(*c->rows));
		c->segs = xcalloc(pl->nviews + 1, sizeof(*c->segs));
		c->horizon = xcalloc(pl->nviews + 1, sizeof(*c->horizon));
		/*
		 * Which segments a view still needs is fixed by its horizon
		 * when the stream began.
		 */
		for (v = 0; v < pl->nviews; v++)
			for (i = c->first; i < c->end; i++)
				if (pl->cat[i].first >= pl->views[v]->fold_from) {
					c->segs[v]++;
					c->horizon[v] = pl->cat[i].last + 1;
				}
	}
}

/* Whether the loop asked the run to stop (SIGTERM). */
static int
run_interrupted(struct batchd *d)
{
	int	v;

	pthread_mutex_lock(&d->sh.mu);
	v = d->sh.interrupt;
	pthread_mutex_unlock(&d->sh.mu);
	return (v);
}

/*
 * Fold the chunks with the workers and write them in order on this
 * thread.  Stops at the first failure, after which the views keep what
 * the chunks before it committed, or between two chunks when the run is
 * interrupted.  0 when every chunk is written, 1 when interrupted, -1
 * with *cause on failure.
 */
static int
pipe_run(struct pipeline *pl, char **cause)
{
	struct run	*run = pl->run;
	struct chunk	*c;
	pthread_t	*th;
	size_t		 nw, w, i, v;
	int		 rc = 0;

	nw = (size_t)run->d->conf->batch_workers;
	if (nw > pl->nchunks)
		nw = pl->nchunks;
	pl->window = nw + 1;
	th = xcalloc(nw + 1, sizeof(*th));
	for (w = 0; w < nw; w++)
		if ((errno = pthread_create(&th[w], NULL, pipe_worker,
		    pl)) != 0)
			fatal("pthread_create");
	for (i = 0; i < pl->nchunks && rc == 0; i++) {
		c = &pl->chunks[i];
		if (run_interrupted(run->d)) {
			rc = 1;
			pthread_mutex_lock(&pl->mu);
			__atomic_store_n(&pl->stop, 1, __ATOMIC_RELAXED);
			pthread_cond_broadcast(&pl->cv);
			pthread_mutex_unlock(&pl->mu);
			break;
		}
		pthread_mutex_lock(&pl->mu);
		while (c->state != CHUNK_FOLDED && c->state != CHUNK_FAILED)
			pthread_cond_wait(&pl->cv, &pl->mu);
		pthread_mutex_unlock(&pl->mu);
		if (c->state == CHUNK_FAILED) {
			*cause = c->error;
			c->error = NULL;
			rc = -1;
		} else if (pipe_write(pl, c, cause) == -1)
			rc = -1;
		else {
			run->st.events += c->events;
			run->st.segments += c->end - c->first;
			for (v = 0; v < pl->nviews; v++)
				if (c->parts[v] != NULL)
					run->st.rows += agg_rows(c->parts[v]);
		}
		pipe_release(pl, c);
		pthread_mutex_lock(&pl->mu);
		pl->written++;
		if (rc == -1)
			__atomic_store_n(&pl->stop, 1, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&pl->cv);
		pthread_mutex_unlock(&pl->mu);
	}
	for (w = 0; w < nw; w++)
		pthread_join(th[w], NULL);
	free(th);
	for (i = 0; i < pl->nchunks; i++) {
		c = &pl->chunks[i];
		pipe_release(pl, c);
		free(c->error);
		free(c->parts);
		free(c->rows);
		free(c->segs);
		free(c->horizon);
	}
	if (rc == -1) {
		/* The rows and horizons in memory may be ahead: reread. */
		for (v = 0; v < pl->nviews; v++)
			run_reload_target(run, pl->views[v]);
	}
	return (rc);
}

/*
 * Fold every sealed segment past the horizons of the views of stream;
 * 1 if the run was interrupted (SIGTERM) with the chunks written so far
 * committed, as for a crash, -1 on failure.
 */
static int
run_stream(struct run *run, const char *stream, char **cause)
{
	struct conf		*c = run->d->conf;
	struct pipeline		 pl;
	struct run_view		*rv;
	struct cat_entry	*cat;
	size_t			 ncat, valid, i, v, first;
	uint64_t		 from = UINT64_MAX;
	char			*dir;
	int			 rc = 0;

	memset(&pl, 0, sizeof(pl));
	pl.run = run;
	pl.stream = stream;
	pl.cs = conf_find_stream(c, stream);
	pl.views = xcalloc(run->nviews + 1, sizeof(*pl.views));
	for (i = 0; i < run->nviews; i++) {
		rv = &run->views[i];
		if (strcmp(rv->cv->stream, stream) != 0)
			continue;
		pl.views[pl.nviews++] = rv;
		rv->fold_from = rv->target->horizon;
		if (rv->fold_from < from)
			from = rv->fold_from;
		if (store_max_bucket(run->db, rv->target->tbl, &rv->maxb,
		    cause) == -1) {
			free(pl.views);
			return (-1);
		}
	}
	dir = master_stream_dir(c->data_dir, stream);
	rc = master_catalog_read(dir, &cat, &ncat, &valid, cause);
	free(dir);
	if (rc == -1) {
		free(pl.views);
		return (-1);
	}
	pl.cat = cat;
	for (first = 0; first < ncat && cat[first].last < from; first++)
		;
	pthread_mutex_init(&pl.mu, NULL);
	pthread_cond_init(&pl.cv, NULL);
	pipe_plan(&pl, first, ncat);
	if (pl.nchunks > 0)
		rc = pipe_run(&pl, cause);
	pthread_cond_destroy(&pl.cv);
	pthread_mutex_destroy(&pl.mu);
	free(pl.chunks);
	for (v = 0; v < pl.nviews; v++) {
		rv = pl.views[v];
		store_writer_free(rv->writer);
		rv->writer = NULL;
		/* Lag: sealed segments still past the horizon. */
		rv->lag = 0;
		for (i = 0; i < ncat; i++)
			if (cat[i].first >= rv->target->horizon)
				rv->lag++;
		if (rv->to_build && ncat > 0 && rc == 0 &&
		    rv->target->horizon < cat[0].first)
			rv->target->horizon = cat[0].first;
	}
	free(cat);
	free(pl.views);
	return (rc);
}

/* Switch in every rebuild that covers every sealed segment. */
static int
run_switch(struct run *run, char **cause)
{
	struct run_view		*rv;
	struct store_view	 old;
	size_t			 i;
	int			 had;

	for (i = 0; i < run->nviews; i++) {
		rv = &run->views[i];
		if (!rv->to_build || rv->lag > 0)
			continue;
		if (store_begin(run->db, cause) == -1)
			return (-1);
		had = rv->has_pub;
		old = rv->pub;
		if (store_put_view(run->db, "lamina_views", &rv->build,
		    cause) == -1 || store_delete_view(run->db,
		    "lamina_builds", rv->cv->name, cause) == -1 ||
		    (had && strcmp(old.tbl, rv->build.tbl) != 0 &&
		    store_drop_table(run->db, old.tbl, cause) == -1) ||
		    store_commit(run->db, cause) == -1) {
			store_rollback(run->db);
			return (-1);
		}
		log_info("view %s: rebuilt (fingerprint %s) and switched in%s%s",
		    rv->cv->name, rv->fp, had ? "; dropped " : "",
		    had ? old.tbl : "");
		store_view_clear(&rv->pub);
		rv->pub = rv->build;
		memset(&rv->build, 0, sizeof(rv->build));
		rv->has_pub = 1;
		rv->has_build = 0;
		rv->to_build = 0;
		rv->target = &rv->pub;
		run->st.switched++;
	}
	return (0);
}

/* Copy the views' state for the loop (status, notifications). */
static void
run_publish(struct run *run)
{
	struct batchd		*d = run->d;
	struct batchd_viewstat	*vs;
	struct run_view		*rv;
	size_t			 i;
	int			 moved = 0;

	vs = xcalloc(run->nviews + 1, sizeof(*vs));
	for (i = 0; i < run->nviews; i++) {
		rv = &run->views[i];
		vs[i].name = xstrdup(rv->cv->name);
		vs[i].stream = xstrdup(rv->cv->stream);
		if (rv->has_pub) {
			snprintf(vs[i].fingerprint, sizeof(vs[i].fingerprint),
			    "%s", rv->pub.fingerprint);
			vs[i].horizon = rv->pub.horizon;
			vs[i].segments = rv->pub.segments;
			vs[i].rows = rv->pub.rows;
			vs[i].events = rv->pub.events;
			vs[i].published_ns = rv->pub.published_ns;
		}
		vs[i].lag = rv->lag;
		vs[i].building = rv->has_build;
		if (rv->has_build) {
			vs[i].build_horizon = rv->build.horizon;
			vs[i].build_rows = rv->build.rows;
		}
	}
	pthread_mutex_lock(&d->sh.mu);
	for (i = 0; i < d->sh.nviews; i++) {
		if (i >= run->nviews || d->sh.views[i].horizon !=
		    vs[i].horizon || strcmp(d->sh.views[i].fingerprint,
		    vs[i].fingerprint) != 0)
			moved = 1;
		free(d->sh.views[i].name);
		free(d->sh.views[i].stream);
	}
	if (d->sh.nviews != run->nviews)
		moved = 1;
	free(d->sh.views);
	d->sh.views = vs;
	d->sh.nviews = run->nviews;
	d->sh.published |= moved;
	pthread_mutex_unlock(&d->sh.mu);
}

/* One run, start to end. */
static void
run_once(struct batchd *d, uint64_t number)
{
	struct run	 run;
	struct conf	*c = d->conf;
	size_t		 i, j;
	char		*cause = NULL;
	int		 rc = 0, seen;

	memset(&run, 0, sizeof(run));
	run.d = d;
	run.db = run_db;
	run.st.number = number;
	run.st.started_ns = batchd_now();
	if (run_plan(&run, &cause) == -1)
		rc = -1;
	for (i = 0; rc == 0 && i < c->nstreams; i++) {
		for (seen = 0, j = 0; j < run.nviews && !seen; j++)
			seen = strcmp(run.views[j].cv->stream,
			    c->streams[i].name) == 0;
		if (seen && run_interrupted(d))
			rc = 1;
		else if (seen)
			rc = run_stream(&run, c->streams[i].name, &cause);
	}
	if (rc == 0)
		rc = run_switch(&run, &cause);
	run.st.duration_ns = batchd_now() - run.st.started_ns;
	if (rc == 1) {
		/* Answered as a failure: the work asked for is not done. */
		run.st.failed = 1;
		snprintf(run.st.error, sizeof(run.st.error), "interrupted "
		    "after %" PRIu64 " segments, lamina-batchd is stopping; "
		    "the next run goes on from there", run.st.segments);
		log_info("run %" PRIu64 ": %s", number, run.st.error);
	} else if (rc == -1) {
		run.st.failed = 1;
		snprintf(run.st.error, sizeof(run.st.error), "%s", cause);
		log_warnx("run %" PRIu64 ": %s", number, cause);
		free(cause);
	} else if (run.st.segments > 0 || run.st.switched > 0)
		log_info("run %" PRIu64 ": %" PRIu64 " segments, %" PRIu64
		    " events in %.3f s (%.0f events/s), %" PRIu64 " rows",
		    number, run.st.segments, run.st.events,
		    run.st.duration_ns / 1e9, run.st.duration_ns > 0 ?
		    run.st.events / (run.st.duration_ns / 1e9) : 0.0,
		    run.st.rows);
	run_publish(&run);
	ckpt_poke();
	for (i = 0; i < run.nviews; i++)
		run_view_clear(&run.views[i]);
	free(run.views);
	/* Idle until the next run: give the memory back. */
	arena_pool_trim();
	sqlite3_db_release_memory(run_db);
	malloc_trim(0);
	pthread_mutex_lock(&d->sh.mu);
	d->sh.last = run.st;
	pthread_mutex_unlock(&d->sh.mu);
}

/* The runner thread: wait for a request, run, tell the loop, repeat. */
void *
batchd_runner(void *arg)
{
	struct batchd	*d = arg;
	uint64_t	 one = 1, number;

	for (;;) {
		pthread_mutex_lock(&d->sh.mu);
		while (!d->sh.want_run && !d->sh.quit)
			pthread_cond_wait(&d->sh.cv, &d->sh.mu);
		if (d->sh.quit) {
			pthread_mutex_unlock(&d->sh.mu);
			break;
		}
		d->sh.want_run = 0;
		d->sh.running = 1;
		number = ++d->sh.runs_started;
		pthread_mutex_unlock(&d->sh.mu);

		run_once(d, number);

		pthread_mutex_lock(&d->sh.mu);
		d->sh.running = 0;
		d->sh.runs_done = number;
		pthread_mutex_unlock(&d->sh.mu);
		while (write(d->efd, &one, sizeof(one)) == -1 &&
		    errno == EINTR)
			;
	}
	/* A last checkpoint, then the checkpointer goes. */
	pthread_mutex_lock(&ckpt.mu);
	ckpt.want = ckpt.quit = 1;
	pthread_cond_broadcast(&ckpt.cv);
	pthread_mutex_unlock(&ckpt.mu);
	pthread_join(ckpt.thread, NULL);
	store_close(ckpt.db);
	ckpt.db = NULL;
	free(ckpt.wal);
	ckpt.wal = NULL;
	store_close(run_db);
	run_db = NULL;
	return (NULL);
}
