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
 * horizon, a chunk of segments at a time, reading each segment once for
 * all the views that need it, with the segments of a chunk shared among
 * batch.workers threads.  Each chunk ends with one SQLite transaction per
 * run that writes the rows and moves the horizons together, so a crash
 * leaves the last published state and the next run goes on from there;
 * no segment is folded twice.  A rebuild that has covered every sealed
 * segment is switched in, and the old table dropped, in one transaction.
 */

#include <sys/eventfd.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agg.h"
#include "batchd.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "segment.h"
#include "store.h"
#include "xmalloc.h"

#define CHUNK_SEGMENTS	16	/* segments per transaction */

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
	int			 fresh;		/* target table empty */
	uint64_t		 fold_from;	/* horizon when the stream began */
	struct store_writer	*writer;	/* for this stream's chunks */
	/* Two chunks in flight: one being folded, the one before written. */
	struct agg_partial	*part[2];	/* the chunk's rows */
	uint64_t		 chunk_segs[2];
	uint64_t		 chunk_horizon[2];
	uint64_t		 lag;
};

struct run {
	struct batchd		*d;
	sqlite3			*db;
	struct run_view		*views;
	size_t			 nviews;
	struct batchd_runstat	 st;
};

/*
 * The write of a chunk, on its own thread while the next chunk is folded:
 * one at a time and in order, so the runner's connection has one user.
 */
struct chunk_write {
	struct run		*run;
	struct run_view		**views;
	size_t			 nviews;
	int			 buf;		/* which of part[2] */
	int			 busy;		/* thread started, not joined */
	int			 rc;
	char			*error;
	pthread_t		 thread;
};

/* A fold worker: some segments of a chunk, into its own partials. */
struct fold_job {
	struct run		*run;
	const char		*stream;
	const struct conf_stream *cs;
	struct run_view		**views;	/* of this stream */
	size_t			 nviews;
	const struct cat_entry	*segs;
	size_t			 nsegs;
	size_t			 worker, nworkers;
	struct agg_partial	**parts;	/* one per view */
	uint64_t		 events;
	char			*error;
	pthread_t		 thread;
};

static sqlite3	*run_db;		/* the runner's connection */

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
	run_db = store_open(path, 1, cause);
	free(path);
	return (run_db == NULL ? -1 : 0);
}

static void
run_view_clear(struct run_view *rv)
{
	store_writer_free(rv->writer);
	agg_partial_free(rv->part[0]);
	agg_partial_free(rv->part[1]);
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
	rv->fresh = 1;
	log_info("view %s: rebuilding from the whole master dataset into %s",
	    rv->cv->name, rv->build.tbl);
	return (0);
}

static int
run_new_build_txn(struct run *run, struct run_view *rv, char **cause)
{
	char	*tbl, *t;

	if (rv->has_build) {
		if (store_drop_table(run->db, rv->build.tbl, cause) == -1 ||
		    store_delete_view(run->db, "lamina_builds", rv->cv->name,
		    cause) == -1)
			return (-1);
		store_view_clear(&rv->build);
	}
	tbl = store_table_name(rv->cv->name, rv->cv->fingerprint);
	xasprintf(&t, "%s_%" PRId64, tbl, batchd_now() / 1000000);
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
	int			 rc, recompute;

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
		if (rv->has_pub && strcmp(rv->pub.fingerprint, rv->fp) == 0 &&
		    !recompute) {
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
		rv->part[0] = agg_partial_new(rv->av);
		rv->part[1] = agg_partial_new(rv->av);
	}
	return (0);
}

/* Fold the worker's share of the chunk's segments. */
static void *
run_fold_worker(void *arg)
{
	struct fold_job		*job = arg;
	struct master_reader	*r;
	struct master_record	 rec;
	struct agg_value	*vals;
	size_t			 s, v;
	char			*cause = NULL;
	int			 rc;

	vals = xcalloc(job->cs->nfields + 1, sizeof(*vals));
	for (s = job->worker; s < job->nsegs; s += job->nworkers) {
		r = master_reader_open(job->run->d->conf->data_dir,
		    job->stream, job->segs[s].first, &cause);
		master_reader_sealed_only(r, 1);
		master_reader_set_limit(r, job->segs[s].last + 1);
		while ((rc = master_reader_next(r, &rec, &cause)) == 1) {
			if (agg_decode(job->cs, vals, rec.fields,
			    rec.fields_len, &cause) == -1) {
				xasprintf(&job->error, "%s offset %" PRIu64
				    ": %s", job->stream, rec.offset, cause);
				free(cause);
				rc = -2;
				break;
			}
			job->events++;
			for (v = 0; v < job->nviews; v++) {
				if (job->views[v]->fold_from >
				    job->segs[s].first)
					continue;	/* already folded */
				if (agg_fold_values(job->parts[v], rec.event_ns,
				    vals, &cause) == -1) {
					xasprintf(&job->error, "view %s: %s",
					    job->views[v]->cv->name, cause);
					free(cause);
					rc = -2;
					break;
				}
			}
			if (rc == -2)
				break;
		}
		if (rc == -1) {
			job->error = cause;
			cause = NULL;
		} else if (rc == 0 && master_reader_position(r) !=
		    job->segs[s].last + 1)
			xasprintf(&job->error, "%s: segment %" PRIu64 " ended "
			    "at offset %" PRIu64 ", the catalog says %" PRIu64,
			    job->stream, job->segs[s].first,
			    master_reader_position(r), job->segs[s].last + 1);
		master_reader_free(r);
		if (job->error != NULL)
			break;
	}
	free(vals);
	return (NULL);
}

/*
 * Fold one chunk of segments of a stream into the views' partials, with
 * the configured number of workers.
 */
static int
run_fold_chunk(struct run *run, const char *stream,
    const struct conf_stream *cs, struct run_view **views, size_t nviews,
    int buf, const struct cat_entry *segs, size_t nsegs, char **cause)
{
	struct fold_job	*jobs;
	size_t		 nw, w, v;
	int		 rc = 0;

	nw = (size_t)run->d->conf->batch_workers;
	if (nw > nsegs)
		nw = nsegs;
	jobs = xcalloc(nw, sizeof(*jobs));
	for (w = 0; w < nw; w++) {
		jobs[w].run = run;
		jobs[w].stream = stream;
		jobs[w].cs = cs;
		jobs[w].views = views;
		jobs[w].nviews = nviews;
		jobs[w].segs = segs;
		jobs[w].nsegs = nsegs;
		jobs[w].worker = w;
		jobs[w].nworkers = nw;
		jobs[w].parts = xcalloc(nviews, sizeof(*jobs[w].parts));
		for (v = 0; v < nviews; v++)
			jobs[w].parts[v] = w == 0 ? views[v]->part[buf] :
			    agg_partial_new(views[v]->av);
	}
	for (w = 1; w < nw; w++)
		if ((errno = pthread_create(&jobs[w].thread, NULL,
		    run_fold_worker, &jobs[w])) != 0)
			fatal("pthread_create");
	run_fold_worker(&jobs[0]);
	for (w = 1; w < nw; w++)
		pthread_join(jobs[w].thread, NULL);
	for (w = 0; w < nw; w++) {
		if (jobs[w].error != NULL && rc == 0) {
			*cause = jobs[w].error;
			jobs[w].error = NULL;
			rc = -1;
		}
		free(jobs[w].error);
		run->st.events += jobs[w].events;
		for (v = 0; v < nviews && w > 0; v++) {
			if (rc == 0 && agg_merge_move(views[v]->part[buf],
			    jobs[w].parts[v], cause) == -1)
				rc = -1;
			agg_partial_free(jobs[w].parts[v]);
		}
		free(jobs[w].parts);
	}
	free(jobs);
	return (rc);
}

/* Write a view's chunk rows and its new horizon (inside a transaction). */
static int
run_write_view(struct run *run, struct run_view *rv, int buf, char **cause)
{
	struct agg_partial	*part = rv->part[buf];
	struct agg_row		**rows;
	size_t			 i, n = agg_rows(part);
	int			 rc = 0, r;

	if (rv->chunk_segs[buf] == 0)
		return (0);
	if (rv->writer == NULL && (rv->writer = store_writer_new(run->db,
	    rv->av, rv->target->tbl, cause)) == NULL)
		return (-1);
	rows = agg_sorted_rows(part);
	for (i = 0; i < n; i++) {
		if ((r = store_upsert(rv->writer, rows[i], rv->fresh,
		    cause)) == -1) {
			rc = -1;
			break;
		}
		rv->target->rows += r;
	}
	free(rows);
	if (rc == -1)
		return (-1);
	run->st.rows += n;
	rv->target->horizon = rv->chunk_horizon[buf];
	rv->target->segments += rv->chunk_segs[buf];
	rv->target->events += agg_events(part);
	rv->target->published_ns = batchd_now();
	return (store_put_view(run->db, rv->to_build ? "lamina_builds" :
	    "lamina_views", rv->target, cause));
}

/*
 * Write a chunk: every view's rows and horizon in one transaction, then
 * empty its partials for the chunk after next.
 */
static void *
run_write_chunk(void *arg)
{
	struct chunk_write	*cw = arg;
	struct run		*run = cw->run;
	struct run_view		*rv;
	size_t			 v;
	int			 rc;

	if ((rc = store_begin(run->db, &cw->error)) == 0) {
		for (v = 0; v < cw->nviews && rc == 0; v++)
			rc = run_write_view(run, cw->views[v], cw->buf,
			    &cw->error);
		if (rc == 0)
			rc = store_commit(run->db, &cw->error);
		if (rc == -1)
			store_rollback(run->db);
	}
	cw->rc = rc;
	if (rc == -1)
		return (NULL);
	for (v = 0; v < cw->nviews; v++) {
		rv = cw->views[v];
		if (rv->chunk_segs[cw->buf] > 0)
			rv->fresh = 0;
		agg_partial_reset(rv->part[cw->buf]);
	}
	return (NULL);
}

/* Wait for the chunk being written; -1 (and its cause) if it failed. */
static int
run_write_wait(struct chunk_write *cw, char **cause)
{
	if (!cw->busy)
		return (0);
	pthread_join(cw->thread, NULL);
	cw->busy = 0;
	if (cw->rc == 0)
		return (0);
	*cause = cw->error;
	cw->error = NULL;
	return (-1);
}

/* Fold every sealed segment past the horizons of the views of stream. */
static int
run_stream(struct run *run, const char *stream, char **cause)
{
	struct conf		*c = run->d->conf;
	struct conf_stream	*cs = conf_find_stream(c, stream);
	struct run_view		**views;
	struct cat_entry	*cat;
	struct chunk_write	 cw;
	size_t			 ncat, valid, nv = 0, i, v, first, end;
	uint64_t		 from = UINT64_MAX;
	char			*dir, *wcause = NULL;
	int			 rc = 0, buf = 0;

	views = xcalloc(run->nviews + 1, sizeof(*views));
	for (i = 0; i < run->nviews; i++)
		if (strcmp(run->views[i].cv->stream, stream) == 0) {
			views[nv++] = &run->views[i];
			run->views[i].fold_from = run->views[i].target->horizon;
			if (run->views[i].target->horizon < from)
				from = run->views[i].target->horizon;
		}
	memset(&cw, 0, sizeof(cw));
	cw.run = run;
	cw.views = views;
	cw.nviews = nv;
	dir = master_stream_dir(c->data_dir, stream);
	rc = master_catalog_read(dir, &cat, &ncat, &valid, cause);
	free(dir);
	if (rc == -1) {
		free(views);
		return (-1);
	}
	for (first = 0; first < ncat && cat[first].last < from; first++)
		;
	for (; first < ncat && rc == 0; first = end) {
		end = first + CHUNK_SEGMENTS < ncat ? first + CHUNK_SEGMENTS :
		    ncat;
		/*
		 * The horizons move as chunks are written (on the writer
		 * thread); which segments a view still needs is fixed by
		 * its horizon when the stream began.
		 */
		for (v = 0; v < nv; v++) {
			views[v]->chunk_segs[buf] = 0;
			for (i = first; i < end; i++)
				if (cat[i].first >= views[v]->fold_from) {
					views[v]->chunk_segs[buf]++;
					views[v]->chunk_horizon[buf] =
					    cat[i].last + 1;
				}
		}
		if (run_fold_chunk(run, stream, cs, views, nv, buf,
		    cat + first, end - first, cause) == -1) {
			rc = -1;
			break;
		}
		run->st.segments += end - first;
		/* The chunk before must be committed before this one. */
		if (run_write_wait(&cw, cause) == -1) {
			rc = -1;
			break;
		}
		cw.buf = buf;
		cw.busy = 1;
		if ((errno = pthread_create(&cw.thread, NULL, run_write_chunk,
		    &cw)) != 0)
			fatal("pthread_create");
		buf = !buf;
	}
	if (run_write_wait(&cw, rc == 0 ? cause : &wcause) == -1)
		rc = -1;
	free(wcause);
	for (v = 0; v < nv; v++) {
		store_writer_free(views[v]->writer);
		views[v]->writer = NULL;
		/* After an error, what was folded but not written. */
		agg_partial_reset(views[v]->part[0]);
		agg_partial_reset(views[v]->part[1]);
	}
	/* Lag: sealed segments still past each horizon. */
	for (v = 0; v < nv; v++) {
		views[v]->lag = 0;
		for (i = 0; i < ncat; i++)
			if (cat[i].first >= views[v]->target->horizon)
				views[v]->lag++;
		if (views[v]->to_build && ncat > 0 && rc == 0 &&
		    views[v]->target->horizon < cat[0].first)
			views[v]->target->horizon = cat[0].first;
	}
	free(cat);
	free(views);
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
		if (seen)
			rc = run_stream(&run, c->streams[i].name, &cause);
	}
	if (rc == 0)
		rc = run_switch(&run, &cause);
	run.st.duration_ns = batchd_now() - run.st.started_ns;
	if (rc == -1) {
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
	for (i = 0; i < run.nviews; i++)
		run_view_clear(&run.views[i]);
	free(run.views);
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
	store_close(run_db);
	run_db = NULL;
	return (NULL);
}
