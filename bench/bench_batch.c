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
 * Benchmark of the batch layer.  It writes a master dataset of N realistic
 * pageviews (a dozen fields, url and user Zipf-distributed, event times
 * over 30 days) straight into a private data directory with the master_*
 * writer, in the stored form ingestd gives them (checked against
 * schema_pack_event), then measures, each figure the median of -r runs
 * (at least 3 for the quick ones, incremental and baseline, and for the
 * two-core rebuild, the figure the targets are about):
 *
 *   - a full rebuild of three realistic views by the real lamina-batchd,
 *     pinned to one core with batch.workers 1, and on both cores with
 *     batch.workers 2: a fresh daemon on the directory (its views.db
 *     removed), whose first run is the rebuild; the figure is the run's
 *     own duration, read from its status over batch.sock; and on both
 *     cores again into a views.db whose tables were dropped, as a rebuild
 *     after `lamina recompute` writes into the pages of the tables it
 *     replaced, which are in the page cache already (on this kind of
 *     virtual machine, the pages a new file takes can cost far more: see
 *     bench_page_cache below);
 *   - an incremental run of that daemon after 5% more events were sealed
 *     (the "run" method), against the ingest rate it must keep up with;
 *   - the aggregation engine alone, without SQLite: reading the segments
 *     as batchd does, decoding each event once and folding it into the
 *     three views, chunk by chunk like batchd (2 segments a chunk, each
 *     chunk's partials emptied after it, nothing sorted or written), on 1
 *     and 2 threads, and for reference reading alone and reading with
 *     decoding; with the largest memory one chunk's partials held;
 *   - the baseline: the same events in a plain SQLite table and the
 *     equivalent GROUP BY queries (quantile and top have no SQL
 *     equivalent and are left out), each writing its result into a table.
 *     When N is over -b, the baseline takes every k-th event (all 30 days,
 *     the same keys) and its rate is events over the queries' time.
 *
 * Beside each figure, the cores it kept busy and those every other process
 * used meanwhile: figures taken while other work ran are not comparable.
 * After the rebuilds, for context, what the machine charges for the page
 * cache of a growing file, as views.db is in a rebuild: on a virtual
 * machine whose host takes back free memory, memory not touched for a
 * while costs far more the first time (bench_page_cache).
 * Nothing is left behind: the directory is removed and the daemon stopped
 * at exit, whatever the reason.
 *
 *   bench_batch [-kv] [-x BATCHD] [-d DIR] [-n EVENTS] [-r RUNS]
 *       [-b BASELINE_EVENTS] [-o PARTS]
 *
 *   -x	lamina-batchd; default: the one next to this program
 *   -d	where to make the temporary directory (default: build)
 *   -n	events in the master dataset (default 20000000)
 *   -r	runs per figure (default 3)
 *   -b	events in the SQLite baseline at most (default 2000000)
 *   -o	comma-separated parts: rebuild, incr, engine, sqlite (default all)
 *   -k	keep the directory (and say where it is); -v print every run
 */

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "agg.h"
#include "conf.h"
#include "benchlib.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "proto.h"
#include "rpc.h"
#include "schema.h"
#include "segment.h"
#include "sock.h"
#include "xmalloc.h"

#define BENCH_STREAM		"pageviews"
#define BENCH_URLS		5000
#define BENCH_URL_S		1.1
#define BENCH_USERS		200000
#define BENCH_USER_S		0.9
#define BENCH_REFS		40
#define BENCH_TIME0		1767225600LL	/* 2026-01-01 UTC */
#define BENCH_SPAN_S		(30LL * 86400)	/* event times: 30 days */
#define BENCH_SEGMENT		(64ULL << 20)
#define BENCH_WRITE_BYTES	(1U << 20)	/* master_write every 1 MiB */
#define BENCH_CHECKED		10000		/* events checked by schema */
#define BENCH_INCR_SHARE	20		/* increment: 1/20 of N */
#define BENCH_INGEST_RATE	500000.0	/* the ingest target, events/s */
#define BENCH_MAX_RUNS		32
#define BENCH_MAX_THREADS	2
#define BENCH_READY_NS		(30LL * 1000000000)
#define BENCH_RUN_NS		(3600LL * 1000000000)
#define BENCH_STOP_NS		(60LL * 1000000000)
#define BENCH_POLL_NS		20000000L	/* status every 20 ms */
#define BENCH_TAIL		8192		/* daemon log shown on error */
#define BENCH_MAXROWS		16
#define BENCH_PC_BYTES		(512ULL << 20)	/* page cache context */
#define BENCH_PC_WRITE		(64U << 10)	/* views.db's page size */

#define PART_REBUILD	0x1
#define PART_INCR	0x2
#define PART_ENGINE	0x4
#define PART_SQLITE	0x8
#define PART_ALL	0xf

/* What one batchd run reported (status last_run, or the run reply). */
struct runinfo {
	uint64_t	 runs;		/* status: runs done */
	int		 running;	/* status: a run is going on */
	uint64_t	 segments;
	uint64_t	 events;
	uint64_t	 rows;
	double		 duration_ms;
	char		 error[256];
};

/* One line of the results table. */
struct row {
	char		 name[64];
	uint64_t	 events;
	double		 seconds;	/* median */
	char		 note[128];
};

/* A fold thread of the engine-only measurement. */
struct fold_job {
	const struct cat_entry	*segs;
	size_t			 nsegs;
	size_t			 worker, nworkers;
	int			 mode;		/* ENGINE_* */
	struct agg_partial	*parts[8];
	uint64_t		 events;
	uint64_t		 rows;		/* summed over chunks */
	size_t			 maxmem;	/* one chunk's partials, most */
	pthread_t		 thread;
};

#define ENGINE_CHUNK	2		/* segments, as batchd's 128 MiB */

#define ENGINE_READ	0		/* read the records only */
#define ENGINE_DECODE	1		/* and decode the fields */
#define ENGINE_FOLD	2		/* and fold into every view */

/* Options. */
static const char	*batchd_path;
static const char	*parent_dir = "build";
static uint64_t		 nevents = 20000000;
static uint64_t		 base_max = 2000000;
static int		 runs = 3;
static int		 parts = PART_ALL;
static int		 keep;
static double		 views_mib;	/* views.db after a rebuild */
static int		 verbose;

/* The run's directory and files. */
static char		 tmp_dir[PATH_MAX];
static char		 data_dir[PATH_MAX];
static char		 conf_path[PATH_MAX];
static char		 sock_path[PATH_MAX];
static char		 log_path[PATH_MAX];
static pid_t		 batchd_pid = -1;

/* The configuration, as the daemon reads it, and the compiled views. */
static struct conf	*conf;
static struct conf_stream *stream;
static struct agg_view	*views[8];
static size_t		 nviews;

/* The event generator. */
static double		*url_cdf, *user_cdf, *ref_cdf;
static char		**url_str, **user_str;
static uint64_t		 generated;	/* events written so far */

/* The sealed segments of the first N events. */
static struct cat_entry	*segs;
static size_t		 nsegs;

/* Results. */
static struct row	 results[BENCH_MAXROWS];
static size_t		 nresults;

static void
sleep_ns(long ns)
{
	struct timespec	ts = { 0, ns };

	nanosleep(&ts, NULL);
}

static int
bench_rm_cb(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1)
		log_warn("remove %s", path);
	return (0);
}

/* Copy the end of the daemon's log to stderr. */
static void
bench_show_log(void)
{
	char	 buf[BENCH_TAIL];
	ssize_t	 n;
	off_t	 end;
	int	 fd;

	if (log_path[0] == '\0' || (fd = open(log_path, O_RDONLY)) == -1)
		return;
	end = lseek(fd, 0, SEEK_END);
	lseek(fd, end > BENCH_TAIL ? end - BENCH_TAIL : 0, SEEK_SET);
	fprintf(stderr, "--- end of the daemon's log, %s:\n", log_path);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		(void)!write(STDERR_FILENO, buf, n);
	fprintf(stderr, "---\n");
	close(fd);
}

/*
 * Stop the daemon (SIGTERM, then SIGKILL after BENCH_STOP_NS) and wait for
 * it.  Returns its wait status, or -1 if none was running.
 */
static int
batchd_stop(void)
{
	int64_t	deadline;
	int	status;
	pid_t	r;

	if (batchd_pid == -1)
		return (-1);
	kill(batchd_pid, SIGTERM);
	deadline = now_ns() + BENCH_STOP_NS;
	while ((r = waitpid(batchd_pid, &status, WNOHANG)) == 0) {
		if (now_ns() > deadline) {
			log_warnx("lamina-batchd %ld: no exit after SIGTERM, "
			    "killing", (long)batchd_pid);
			kill(batchd_pid, SIGKILL);
			r = waitpid(batchd_pid, &status, 0);
			break;
		}
		sleep_ns(5000000);
	}
	batchd_pid = -1;
	return (r == -1 ? -1 : status);
}

/* At exit, whatever the reason: no daemon and no directory left behind. */
static void
bench_cleanup(void)
{
	if (batchd_pid != -1) {
		batchd_stop();
		bench_show_log();
	}
	if (tmp_dir[0] == '\0')
		return;
	if (keep)
		fprintf(stderr, "bench_batch: kept %s\n", tmp_dir);
	else
		nftw(tmp_dir, bench_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	tmp_dir[0] = '\0';
}

/*
 * SIGINT, SIGTERM: stop the daemon and leave.  Only async-signal-safe
 * calls here; the directory is left for the user to remove.
 */
static void
bench_signal(int sig)
{
	static const char	 msg[] = "bench_batch: interrupted; left ";
	int			 status;

	if (batchd_pid != -1) {
		kill(batchd_pid, SIGTERM);
		waitpid(batchd_pid, &status, 0);
	}
	if (tmp_dir[0] != '\0') {
		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)!write(STDERR_FILENO, tmp_dir, strlen(tmp_dir));
		(void)!write(STDERR_FILENO, "\n", 1);
	}
	_exit(128 + sig);
}

/* buf = tmp_dir/name. */
static void
bench_path(char *buf, size_t size, const char *name)
{
	if (snprintf(buf, size, "%s/%s", tmp_dir, name) >= (int)size)
		fatalx("%s/%s: path too long", tmp_dir, name);
}

/*
 * The configuration: the pageviews stream and the three views, with
 * batch.workers set to workers.  batch.interval is a day, so that the only
 * runs are the first one and those asked for.
 */
static void
bench_write_conf(int workers)
{
	FILE	*f;

	if ((f = fopen(conf_path, "w")) == NULL)
		fatal("%s", conf_path);
	fprintf(f,
	    "# Written by bench_batch.\n"
	    "data_dir: data\n"
	    "run_dir: run\n"
	    "log:\n"
	    "  verbose: 0\n"
	    "ingest:\n"
	    "  segment_max_bytes: 64MiB\n"
	    "batch:\n"
	    "  interval: 1d\n"
	    "  workers: %d\n"
	    "streams:\n"
	    "  " BENCH_STREAM ":\n"
	    "    fields:\n"
	    "      url: string\n"
	    "      user: string\n"
	    "      referrer: string\n"
	    "      status: int\n"
	    "      bytes: int\n"
	    "      latency_ms: float\n"
	    "      time: float\n"
	    "      method: string\n"
	    "      country: string\n"
	    "      ua: string\n"
	    "      session: string\n"
	    "      region: int\n"
	    "    time: time\n"
	    "views:\n"
	    "  pages_hourly:\n"
	    "    stream: " BENCH_STREAM "\n"
	    "    bucket: 1h\n"
	    "    group_by: [url]\n"
	    "    metrics:\n"
	    "      hits: count\n"
	    "      bytes: {sum: bytes}\n"
	    "      lat_sum: {sum: latency_ms}\n"
	    "      users: {distinct: user}\n"
	    "      latency: {quantile: latency_ms}\n"
	    "      referrers: {top: referrer, k: 10}\n"
	    "  country_status_5m:\n"
	    "    stream: " BENCH_STREAM "\n"
	    "    bucket: 5m\n"
	    "    group_by: [country, status]\n"
	    "    metrics:\n"
	    "      hits: count\n"
	    "      lat_min: {min: latency_ms}\n"
	    "      lat_max: {max: latency_ms}\n"
	    "      users: {distinct: user}\n"
	    "  daily_region:\n"
	    "    stream: " BENCH_STREAM "\n"
	    "    bucket: 1d\n"
	    "    group_by: [region]\n"
	    "    where: {status: 200}\n"
	    "    metrics:\n"
	    "      hits: count\n"
	    "      bytes: {sum: bytes}\n"
	    "      latency: {quantile: latency_ms}\n"
	    "      top_urls: {top: url, k: 20}\n", workers);
	if (fclose(f) == EOF)
		fatal("%s", conf_path);
}

/* Load the configuration the daemon will read, and compile its views. */
static void
bench_load_conf(void)
{
	char	**errs;
	size_t	  nerrs, i;

	bench_write_conf(2);
	if ((conf = conf_load(conf_path, &errs, &nerrs)) == NULL) {
		for (i = 0; i < nerrs; i++)
			fprintf(stderr, "%s\n", errs[i]);
		conf_free_errors(errs, nerrs);
		fatalx("%s: bad configuration", conf_path);
	}
	if ((stream = conf_find_stream(conf, BENCH_STREAM)) == NULL)
		fatalx("no stream " BENCH_STREAM);
	if (conf->nviews > sizeof(views) / sizeof(views[0]))
		fatalx("too many views");
	for (i = 0; i < conf->nviews; i++)
		views[nviews++] = agg_view_new(conf, &conf->views[i]);
	if (snprintf(data_dir, sizeof(data_dir), "%s", conf->data_dir) >=
	    (int)sizeof(data_dir))
		fatalx("%s: path too long", conf->data_dir);
	if (snprintf(sock_path, sizeof(sock_path), "%s",
	    conf->batch_sock.path) >= (int)sizeof(sock_path))
		fatalx("%s: path too long", conf->batch_sock.path);
}

/*
 * The generator's tables: the url and user strings of each rank, and the
 * Zipf tables to draw ranks from.
 */
static void
gen_init(void)
{
	static const char	*paths[][2] = {
				    { "/products/", "/reviews" },
				    { "/blog/", "-notes" },
				    { "/search?q=item", "" },
				    { "/category/", "?page=2" } };
	char			 s[128];
	uint32_t		 u;

	url_cdf = zipf_new(BENCH_URLS, BENCH_URL_S);
	user_cdf = zipf_new(BENCH_USERS, BENCH_USER_S);
	ref_cdf = zipf_new(BENCH_REFS, 1.0);
	url_str = xcalloc(BENCH_URLS, sizeof(*url_str));
	for (u = 0; u < BENCH_URLS; u++) {
		snprintf(s, sizeof(s), "%s%u%s", paths[u % 4][0],
		    bench_hash(u) % 100000, paths[u % 4][1]);
		url_str[u] = xstrdup(s);
	}
	user_str = xcalloc(BENCH_USERS, sizeof(*user_str));
	for (u = 0; u < BENCH_USERS; u++) {
		snprintf(s, sizeof(s), "u%07u", bench_hash(u) % 10000000);
		user_str[u] = xstrdup(s);
	}
}

/* The field values of event number i, as a client would send them. */
struct gen_event {
	const char	*url, *user, *referrer, *method, *country, *ua;
	char		 referrer_buf[64];
	char		 session[16];
	int64_t		 status, bytes, region;
	double		 latency_ms, time;
	int64_t		 event_ns, ingest_ns;
};

static void
gen_event(uint64_t i, struct gen_event *e)
{
	static const char	*methods[] = { "GET", "GET", "GET", "GET",
				    "GET", "GET", "POST", "HEAD" };
	static const char	*countries[] = { "us", "us", "us", "de", "de",
				    "fr", "jp", "br", "in", "gb", "ca", "nl",
				    "es", "it", "se", "au" };
	static const char	*uas[] = { "Mozilla/5.0 (X11; Linux x86_64)",
				    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4)",
				    "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
				    "Mozilla/5.0 (Macintosh; Intel Mac OS X)",
				    "curl/8.5.0", "Googlebot/2.1" };
	static const char	 hex[] = "0123456789abcdef";
	uint64_t		 r = rng_next(), s;
	int64_t			 ms;
	size_t			 ref;
	int			 k;

	e->url = url_str[zipf_draw(url_cdf, BENCH_URLS)];
	e->user = user_str[zipf_draw(user_cdf, BENCH_USERS)];
	ref = zipf_draw(ref_cdf, BENCH_REFS);
	if (ref == 0)
		e->referrer = "";		/* direct */
	else if (ref == 1)
		e->referrer = "https://www.google.com/";
	else {
		snprintf(e->referrer_buf, sizeof(e->referrer_buf),
		    "https://site%zu.example.net/", ref);
		e->referrer = e->referrer_buf;
	}
	e->method = methods[r % 8];
	e->country = countries[(r >> 3) % 16];
	e->ua = uas[(r >> 7) % 6];
	k = (r >> 10) % 100;
	e->status = k < 90 ? 200 : k < 95 ? 304 : k < 99 ? 404 : 500;
	e->bytes = 200 + (int64_t)((r >> 17) % 60000);
	e->region = (int64_t)((r >> 33) % 17);
	e->latency_ms = round(-log(1.0 - rng_unit()) * 40.0 * 1000) / 1000;
	s = rng_next();
	for (k = 0; k < 12; k++)
		e->session[k] = hex[(s >> (4 * k)) & 0xf];
	e->session[12] = '\0';
	/* In time order over the span, a second or two of jitter, in ms. */
	ms = BENCH_TIME0 * 1000 + (int64_t)((double)i * BENCH_SPAN_S * 1000 /
	    nevents) + (int64_t)((s >> 48) % 2000);
	e->time = ms / 1000.0;
	/* As schema.c reads a float time: from the double's exact value. */
	e->event_ns = (int64_t)floor(e->time) * 1000000000 +
	    llround((e->time - floor(e->time)) * 1e9);
	e->ingest_ns = ms * 1000000 + 2000000000LL;
}

/* Pack e in the stored form: the fields in schema order. */
static void
gen_pack(const struct gen_event *e, msgpack_packer *pk)
{
	msgpack_pack_map(pk, 12);
	msg_pack_str(pk, "url");
	msg_pack_str(pk, e->url);
	msg_pack_str(pk, "user");
	msg_pack_str(pk, e->user);
	msg_pack_str(pk, "referrer");
	msg_pack_str(pk, e->referrer);
	msg_pack_str(pk, "status");
	msgpack_pack_int64(pk, e->status);
	msg_pack_str(pk, "bytes");
	msgpack_pack_int64(pk, e->bytes);
	msg_pack_str(pk, "latency_ms");
	msgpack_pack_double(pk, e->latency_ms);
	msg_pack_str(pk, "time");
	msgpack_pack_double(pk, e->time);
	msg_pack_str(pk, "method");
	msg_pack_str(pk, e->method);
	msg_pack_str(pk, "country");
	msg_pack_str(pk, e->country);
	msg_pack_str(pk, "ua");
	msg_pack_str(pk, e->ua);
	msg_pack_str(pk, "session");
	msg_pack_str(pk, e->session);
	msg_pack_str(pk, "region");
	msgpack_pack_int64(pk, e->region);
}

/*
 * Check that e packed here is what ingestd would store: the event as a
 * client sends it (another key order, the ints as small as they go, the
 * time as an int when whole) through schema_pack_event.
 */
static void
gen_check(const struct gen_event *e, const msgpack_sbuffer *ours)
{
	msgpack_sbuffer		 in, out;
	msgpack_packer		 pk;
	struct msg_reader	 r;
	int64_t			 ev;
	char			 err[SCHEMA_ERR_MAX];

	msgpack_sbuffer_init(&in);
	msgpack_sbuffer_init(&out);
	msgpack_packer_init(&pk, &in, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 12);
	if (e->time == floor(e->time))
		msg_pack_kv_int(&pk, "time", (int64_t)e->time);
	else
		msg_pack_kv_double(&pk, "time", e->time);
	msg_pack_kv_int(&pk, "region", e->region);
	msg_pack_kv_str(&pk, "session", e->session);
	msg_pack_kv_str(&pk, "ua", e->ua);
	msg_pack_kv_str(&pk, "country", e->country);
	msg_pack_kv_str(&pk, "method", e->method);
	msg_pack_kv_double(&pk, "latency_ms", e->latency_ms);
	msg_pack_kv_uint(&pk, "bytes", (uint64_t)e->bytes);
	msg_pack_kv_uint(&pk, "status", (uint64_t)e->status);
	msg_pack_kv_str(&pk, "referrer", e->referrer);
	msg_pack_kv_str(&pk, "user", e->user);
	msg_pack_kv_str(&pk, "url", e->url);
	msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
	msg_reader_init(&r, in.data, in.size);
	if (schema_pack_event(stream, &r, SCHEMA_NO_TIME, e->ingest_ns, &pk,
	    &ev, err, sizeof(err)) == -1)
		fatalx("schema_pack_event: %s", err);
	if (out.size != ours->size || memcmp(out.data, ours->data,
	    out.size) != 0)
		fatalx("generated event differs from schema_pack_event's");
	if (ev != e->event_ns)
		fatalx("event time %" PRId64 ", schema says %" PRId64,
		    e->event_ns, ev);
	msgpack_sbuffer_destroy(&in);
	msgpack_sbuffer_destroy(&out);
}

/*
 * Append events from generated up to end to the master dataset, sealing
 * segments at 64 MiB and the last one at the end.  Returns the bytes of
 * fields written.
 */
static uint64_t
gen_append(uint64_t end)
{
	struct master_opts	 o;
	struct master_recovery	 rec;
	struct master_stream	*ms;
	struct gen_event	 e;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	uint64_t		 off, bytes = 0, since = 0;
	char			*cause;
	int			 sealed;

	memset(&o, 0, sizeof(o));
	o.segment_max_bytes = BENCH_SEGMENT;
	o.segment_max_age_ms = 30ULL * 86400 * 1000;
	o.preallocate = 0;
	o.verify_full = 0;
	if ((ms = master_open(data_dir, BENCH_STREAM, &o, &rec, &cause)) ==
	    NULL)
		fatalx("%s", cause);
	if (rec.next_offset != generated)
		fatalx("master: next offset %" PRIu64 ", expected %" PRIu64,
		    rec.next_offset, generated);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (; generated < end; generated++) {
		gen_event(generated, &e);
		msgpack_sbuffer_clear(&sb);
		gen_pack(&e, &pk);
		if (generated < BENCH_CHECKED)
			gen_check(&e, &sb);
		if (master_append(ms, e.event_ns, e.ingest_ns, sb.data,
		    sb.size, NULL, 0, &off, &cause) == -1)
			fatalx("%s", cause);
		if (off != generated)
			fatalx("master: offset %" PRIu64 ", expected %" PRIu64,
			    off, generated);
		bytes += sb.size;
		since += sb.size;
		if (since >= BENCH_WRITE_BYTES) {
			if (master_write(ms, &cause) == -1 ||
			    master_maybe_seal(ms, e.ingest_ns, &sealed,
			    &cause) == -1)
				fatalx("%s", cause);
			since = 0;
		}
	}
	if (master_write(ms, &cause) == -1 ||
	    master_seal(ms, e.ingest_ns, &cause) == -1)
		fatalx("%s", cause);
	master_close(ms);
	msgpack_sbuffer_destroy(&sb);
	return (bytes);
}

/* The sealed segments of the stream now. */
static void
bench_read_catalog(void)
{
	char	*dir, *cause;
	size_t	 valid;

	free(segs);
	dir = master_stream_dir(data_dir, BENCH_STREAM);
	if (master_catalog_read(dir, &segs, &nsegs, &valid, &cause) == -1)
		fatalx("%s", cause);
	free(dir);
	if (nsegs == 0 || segs[nsegs - 1].last + 1 != generated)
		fatalx("catalog: sealed segments do not end at %" PRIu64,
		    generated);
}

/*
 * Start lamina-batchd with batch.workers set to workers, on one core if
 * one_core is set (pinned to the first this process may use), and wait
 * until its socket accepts connections; dies if it exits first.
 */
static void
batchd_start(int workers, int one_core)
{
	cpu_set_t	 set;
	int		 cpu;
	char		*cause;
	int64_t		 deadline;
	pid_t		 parent;
	int		 fd, status;

	bench_write_conf(workers);
	parent = getpid();
	switch (batchd_pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		if ((fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND,
		    0600)) == -1)
			_exit(127);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		/* Not left behind if we die without cleaning up. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
		unsetenv("WATCHDOG_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
		unsetenv("LAMINA_CONF");
		if (one_core && sched_getaffinity(0, sizeof(set), &set) == 0) {
			for (cpu = 0; cpu < CPU_SETSIZE &&
			    !CPU_ISSET(cpu, &set); cpu++)
				;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			if (sched_setaffinity(0, sizeof(set), &set) == -1)
				_exit(127);
		}
		execl(batchd_path, batchd_path, "-c", conf_path, (char *)NULL);
		dprintf(STDERR_FILENO, "exec %s: %s\n", batchd_path,
		    strerror(errno));
		_exit(127);
	}
	deadline = now_ns() + BENCH_READY_NS;
	for (;;) {
		if (waitpid(batchd_pid, &status, WNOHANG) == batchd_pid) {
			batchd_pid = -1;
			bench_show_log();
			fatalx("%s exited before it was ready (status %d)",
			    batchd_path, status);
		}
		if ((fd = sock_connect_unix(sock_path, &cause)) != -1) {
			close(fd);
			return;
		}
		free(cause);
		if (now_ns() > deadline)
			fatalx("%s: not ready after %lld s", sock_path,
			    BENCH_READY_NS / 1000000000);
		sleep_ns(2000000);
	}
}

/* Read a run summary map (pack_run in batchd_rpc.c) into ri. */
static int
parse_run(struct msg_reader *r, struct runinfo *ri)
{
	const char	*k, *s;
	size_t		 klen, slen;
	uint32_t	 n, i;

	if (msg_get_map(r, &n) == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		if (msg_get_str(r, &k, &klen) == -1)
			return (-1);
		if (klen == 8 && memcmp(k, "segments", 8) == 0) {
			if (msg_get_uint(r, &ri->segments) == -1)
				return (-1);
		} else if (klen == 6 && memcmp(k, "events", 6) == 0) {
			if (msg_get_uint(r, &ri->events) == -1)
				return (-1);
		} else if (klen == 4 && memcmp(k, "rows", 4) == 0) {
			if (msg_get_uint(r, &ri->rows) == -1)
				return (-1);
		} else if (klen == 11 && memcmp(k, "duration_ms", 11) == 0) {
			if (msg_get_number(r, &ri->duration_ms) == -1)
				return (-1);
		} else if (klen == 5 && memcmp(k, "error", 5) == 0) {
			if (msg_get_str(r, &s, &slen) == -1)
				return (-1);
			snprintf(ri->error, sizeof(ri->error), "%.*s",
			    (int)slen, s);
		} else if (msg_skip(r) == -1)
			return (-1);
	}
	return (0);
}

/* Read a status reply: runs, running and last_run. */
static int
parse_status(struct msg_reader *r, struct runinfo *ri)
{
	const char	*k;
	size_t		 klen;
	uint32_t	 n, i;

	memset(ri, 0, sizeof(*ri));
	if (msg_get_map(r, &n) == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		if (msg_get_str(r, &k, &klen) == -1)
			return (-1);
		if (klen == 4 && memcmp(k, "runs", 4) == 0) {
			if (msg_get_uint(r, &ri->runs) == -1)
				return (-1);
		} else if (klen == 7 && memcmp(k, "running", 7) == 0) {
			if (msg_get_bool(r, &ri->running) == -1)
				return (-1);
		} else if (klen == 8 && memcmp(k, "last_run", 8) == 0) {
			if (parse_run(r, ri) == -1)
				return (-1);
		} else if (msg_skip(r) == -1)
			return (-1);
	}
	return (0);
}

/* Connect to the daemon's socket. */
static struct rpc_sync *
batchd_connect(void)
{
	struct rpc_sync	*rs;
	char		*cause;

	if ((rs = rpc_sync_connect(sock_path, 16 << 20, &cause)) == NULL)
		fatalx("%s", cause);
	return (rs);
}

/* Poll the daemon's status until its first run has finished. */
static void
batchd_wait_first(struct runinfo *ri)
{
	struct rpc_sync		*rs = batchd_connect();
	struct rpc_sync_result	 res;
	char			*cause;
	int64_t			 deadline = now_ns() + BENCH_RUN_NS;

	for (;;) {
		if (rpc_sync_call(rs, PROTO_STATUS, "\x90", 1, 10000, &res,
		    &cause) == -1)
			fatalx("status: %s", cause);
		if (res.code != 0)
			fatalx("status: error %" PRId64 ": %s", res.code,
			    res.message);
		if (parse_status(&res.result, ri) == -1)
			fatalx("status: unexpected reply: %s",
			    msg_error(&res.result));
		if (ri->runs >= 1 && !ri->running)
			break;
		if (now_ns() > deadline)
			fatalx("lamina-batchd: first run not done after %lld s",
			    BENCH_RUN_NS / 1000000000);
		sleep_ns(BENCH_POLL_NS);
	}
	rpc_sync_free(rs);
	if (ri->error[0] != '\0')
		fatalx("lamina-batchd: run failed: %s", ri->error);
}

/* Ask the daemon for a run and wait for its summary. */
static void
batchd_run(struct runinfo *ri)
{
	struct rpc_sync		*rs = batchd_connect();
	struct rpc_sync_result	 res;
	char			*cause;

	memset(ri, 0, sizeof(*ri));
	if (rpc_sync_call(rs, PROTO_RUN, "\x90", 1,
	    (int)(BENCH_RUN_NS / 1000000), &res, &cause) == -1)
		fatalx("run: %s", cause);
	if (res.code != 0)
		fatalx("run: error %" PRId64 ": %s", res.code, res.message);
	if (parse_run(&res.result, ri) == -1)
		fatalx("run: unexpected reply: %s", msg_error(&res.result));
	rpc_sync_free(rs);
	if (ri->error[0] != '\0')
		fatalx("lamina-batchd: run failed: %s", ri->error);
}

/* The path of the views database, with suffix ("-wal", or ""). */
static void
views_path(char *buf, size_t size, const char *suffix)
{
	if (snprintf(buf, size, "%s/views.db%s", data_dir, suffix) >=
	    (int)size)
		fatalx("%s: path too long", data_dir);
}

/* Remove the views database, so that the next daemon rebuilds. */
static void
bench_drop_views(void)
{
	static const char	*suffixes[] = { "", "-wal", "-shm", "-journal" };
	char			 path[PATH_MAX];
	size_t			 i;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		views_path(path, sizeof(path), suffixes[i]);
		if (unlink(path) == -1 && errno != ENOENT)
			fatal("%s", path);
	}
}

static void	sqlite_exec(sqlite3 *, const char *);

/*
 * Empty the views database but keep the file: the views' tables dropped
 * and their rows in lamina_views and lamina_builds deleted, so that the
 * next daemon rebuilds every view into the pages they leave free, as a
 * rebuild after `lamina recompute` or a changed definition does once the
 * tables it replaced were dropped.  Those pages stay in the page cache.
 */
static void
bench_empty_views(void)
{
	sqlite3_stmt	*st;
	sqlite3		*db;
	char		 path[PATH_MAX], *sql;

	views_path(path, sizeof(path), "");
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		fatalx("%s: %s", path, sqlite3_errmsg(db));
	sqlite_exec(db, "BEGIN");
	for (;;) {
		if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema "
		    "WHERE type = 'table' AND name LIKE 'v\\_%' ESCAPE '\\'",
		    -1, &st, NULL) != SQLITE_OK)
			fatalx("%s: %s", path, sqlite3_errmsg(db));
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_finalize(st);
			break;
		}
		xasprintf(&sql, "DROP TABLE \"%s\"",
		    (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		sqlite_exec(db, sql);
		free(sql);
	}
	sqlite_exec(db, "DELETE FROM lamina_views");
	sqlite_exec(db, "DELETE FROM lamina_builds");
	sqlite_exec(db, "COMMIT");
	/* Closing checkpoints, and removes the WAL. */
	if (sqlite3_close(db) != SQLITE_OK)
		fatalx("%s: close: %s", path, sqlite3_errmsg(db));
}

/* The size of views.db (once the daemon has stopped: all of it). */
static off_t
views_size(void)
{
	struct stat	 sb;
	char		 path[PATH_MAX];

	views_path(path, sizeof(path), "");
	if (stat(path, &sb) == -1)
		fatal("%s", path);
	return (sb.st_size);
}

static void
add_row(const char *name, uint64_t events, double seconds, const char *fmt,
    ...) __attribute__((__format__(__printf__, 4, 5)));

/* A line of the results table. */
static void
add_row(const char *name, uint64_t events, double seconds, const char *fmt,
    ...)
{
	struct row	*r;
	va_list		 ap;

	if (nresults == BENCH_MAXROWS)
		fatalx("too many rows");
	r = &results[nresults++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->events = events;
	r->seconds = seconds;
	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
	if (verbose) {
		printf("  %-42s %12" PRIu64 " %9.3f %12.0f  %s\n", r->name,
		    r->events, r->seconds, r->events / r->seconds, r->note);
		fflush(stdout);
	}
}

/*
 * Full rebuilds by the daemon with batch.workers = workers, on one core
 * or on all (at least 3 runs on all: the figure the targets are about):
 * a fresh daemon and no views.db for each run, or with reuse, a views.db
 * whose tables were dropped (bench_empty_views).  With keep_running, the
 * daemon of the last run is left running (for the incremental runs).
 */
static void
bench_rebuild(int workers, int one_core, int reuse, int keep_running)
{
	struct runinfo	 ri;
	double		 t[BENCH_MAX_RUNS], busy[BENCH_MAX_RUNS];
	double		 other[BENCH_MAX_RUNS], peak[BENCH_MAX_RUNS], wall;
	uint64_t	 rowsw = 0;
	int64_t		 w0, a0, s0, cpu;
	char		 name[64];
	int		 i, nruns;

	/* The two-core rebuild is the figure with a target: at least 3. */
	nruns = one_core || runs >= 3 ? runs : 3;
	for (i = 0; i < nruns; i++) {
		batchd_stop();
		if (reuse)
			bench_empty_views();
		else
			bench_drop_views();
		w0 = now_ns();
		a0 = cpu_all_ns();
		s0 = cpu_self_ns();
		batchd_start(workers, one_core);
		batchd_wait_first(&ri);
		cpu = cpu_pid_ns(batchd_pid);
		wall = (now_ns() - w0) / 1e9;
		other[i] = (cpu_all_ns() - a0 - cpu - (cpu_self_ns() - s0)) /
		    1e9 / wall;
		/* The daemon's first run was the rebuild: its peak is ours. */
		peak[i] = mem_peak_kib(batchd_pid) / 1024.0;
		if (ri.events != nevents)
			fatalx("rebuild: %" PRIu64 " events folded, expected "
			    "%" PRIu64, ri.events, nevents);
		t[i] = ri.duration_ms / 1e3;
		busy[i] = cpu / 1e9 / t[i];
		rowsw = ri.rows;
		if (verbose)
			printf("  rebuild, %d worker%s, run %d: %.3f s, "
			    "%.0f events/s, %" PRIu64 " rows, %" PRIu64
			    " segments, %.2f cores busy, other processes "
			    "%.2f, peak memory %.0f MiB\n", workers,
			    workers > 1 ? "s" : "", i + 1, t[i],
			    ri.events / t[i], ri.rows, ri.segments, busy[i],
			    other[i], peak[i]);
		if (!(keep_running && i == nruns - 1)) {
			batchd_stop();
			views_mib = views_size() / 1048576.0;
		}
	}
	snprintf(name, sizeof(name), "batchd full rebuild, %s, %d worker%s%s",
	    one_core ? "1 core" : "2 cores", workers, workers > 1 ? "s" : "",
	    reuse ? " *" : "");
	add_row(name, nevents, median(t, nruns), "%" PRIu64 " rows written; "
	    "%s%.2f cores busy, others %.2f; peak memory %.0f MiB%s", rowsw,
	    nruns > 1 ? (nruns == 3 ? "median of 3; " : "median; ") : "",
	    median(busy, nruns), median(other, nruns), median(peak, nruns),
	    reuse ? "; *: views.db kept, its tables dropped" : "");
}

/*
 * Incremental runs: 1/20 more events sealed, then a run asked for, on the
 * daemon left running by the last rebuild (or a new one, after a first
 * full build that is not measured).
 */
static void
bench_incr(void)
{
	struct runinfo	 ri;
	double		 t[BENCH_MAX_RUNS], other[BENCH_MAX_RUNS];
	uint64_t	 n = nevents / BENCH_INCR_SHARE, rowsw = 0;
	int64_t		 w0, a0, s0, c0;
	int		 i, nruns = runs < 3 ? 3 : runs;

	if (n == 0)
		n = 1;
	if (batchd_pid == -1) {
		bench_drop_views();
		batchd_start(2, 0);
		batchd_wait_first(&ri);
	}
	for (i = 0; i < nruns; i++) {
		gen_append(generated + n);
		w0 = now_ns();
		a0 = cpu_all_ns();
		s0 = cpu_self_ns();
		c0 = cpu_pid_ns(batchd_pid);
		batchd_run(&ri);
		other[i] = (cpu_all_ns() - a0 - (cpu_pid_ns(batchd_pid) - c0) -
		    (cpu_self_ns() - s0)) / (double)(now_ns() - w0);
		if (ri.events != n)
			fatalx("incremental: %" PRIu64 " events folded, "
			    "expected %" PRIu64, ri.events, n);
		t[i] = ri.duration_ms / 1e3;
		rowsw = ri.rows;
		if (verbose)
			printf("  incremental run %d: %.3f s, %.0f events/s, "
			    "%" PRIu64 " rows, %" PRIu64 " segments, other "
			    "processes %.2f\n", i + 1, t[i], ri.events / t[i],
			    ri.rows, ri.segments, other[i]);
	}
	batchd_stop();
	add_row("batchd incremental (+5%), 2 workers", n, median(t, nruns),
	    "%" PRIu64 " rows upserted; median of %d; others %.2f", rowsw,
	    nruns, median(other, nruns));
}

/* A chunk folded: count its rows and memory, empty the partials. */
static void
engine_chunk_end(struct fold_job *job)
{
	size_t	v, mem = 0;

	for (v = 0; v < nviews; v++) {
		job->rows += agg_rows(job->parts[v]);
		mem += agg_partial_bytes(job->parts[v]);
		agg_partial_reset(job->parts[v]);
	}
	if (mem > job->maxmem)
		job->maxmem = mem;
}

/* Read (decode, fold) the job's share of the chunks. */
static void *
engine_worker(void *arg)
{
	struct fold_job		*job = arg;
	struct master_reader	*r;
	struct master_record	 rec;
	struct agg_value	*vals;
	size_t			 c, s, v;
	char			*cause;
	int			 rc;

	vals = xcalloc(stream->nfields + 1, sizeof(*vals));
	for (c = job->worker * ENGINE_CHUNK; c < job->nsegs;
	    c += job->nworkers * ENGINE_CHUNK) {
		for (s = c; s < c + ENGINE_CHUNK && s < job->nsegs; s++) {
			r = master_reader_open(data_dir, BENCH_STREAM,
			    job->segs[s].first, &cause);
			if (r == NULL)
				fatalx("%s", cause);
			master_reader_sealed_only(r, 1);
			master_reader_lazy(r, 1);
			master_reader_set_limit(r, job->segs[s].last + 1);
			while ((rc = master_reader_next(r, &rec,
			    &cause)) == 1) {
				job->events++;
				if (job->mode == ENGINE_READ)
					continue;
				if (agg_decode(stream, vals, rec.fields,
				    rec.fields_len, &cause) == -1)
					fatalx("offset %" PRIu64 ": %s",
					    rec.offset, cause);
				if (job->mode == ENGINE_DECODE)
					continue;
				for (v = 0; v < nviews; v++)
					if (agg_fold_values(job->parts[v],
					    rec.event_ns, vals, &cause) == -1)
						fatalx("offset %" PRIu64 ": %s",
						    rec.offset, cause);
			}
			if (rc == -1)
				fatalx("%s", cause);
			master_reader_free(r);
		}
		if (job->mode == ENGINE_FOLD)
			engine_chunk_end(job);
	}
	free(vals);
	return (NULL);
}

/*
 * The engine alone over the first N events, on nthreads threads sharing
 * the chunks as batchd's workers do.  Returns the seconds taken; *nrows
 * gets the rows of every view summed over the chunks, *busy and *other
 * the cores used by this program and by every other process meanwhile,
 * *mem the most bytes one chunk's partials held.
 */
static double
engine_once(int nthreads, int mode, uint64_t *nrows, double *busy,
    double *other, double *mem)
{
	struct fold_job	 jobs[BENCH_MAX_THREADS];
	uint64_t	 events = 0;
	int64_t		 t0, t1, a0, s0, self;
	size_t		 v;
	int		 w;

	memset(jobs, 0, sizeof(jobs));
	a0 = cpu_all_ns();
	s0 = cpu_self_ns();
	t0 = now_ns();
	for (w = 0; w < nthreads; w++) {
		jobs[w].segs = segs;
		jobs[w].nsegs = nsegs;
		jobs[w].worker = w;
		jobs[w].nworkers = nthreads;
		jobs[w].mode = mode;
		for (v = 0; v < nviews && mode == ENGINE_FOLD; v++)
			jobs[w].parts[v] = agg_partial_new(views[v]);
		if ((errno = pthread_create(&jobs[w].thread, NULL,
		    engine_worker, &jobs[w])) != 0)
			fatal("pthread_create");
	}
	*nrows = 0;
	*mem = 0;
	for (w = 0; w < nthreads; w++) {
		pthread_join(jobs[w].thread, NULL);
		events += jobs[w].events;
		*nrows += jobs[w].rows;
		if (jobs[w].maxmem > *mem)
			*mem = (double)jobs[w].maxmem;
	}
	t1 = now_ns();
	self = cpu_self_ns() - s0;
	*busy = self / (double)(t1 - t0);
	*other = (cpu_all_ns() - a0 - self) / (double)(t1 - t0);
	if (events != nevents)
		fatalx("engine: %" PRIu64 " events read, expected %" PRIu64,
		    events, nevents);
	for (w = 0; w < nthreads; w++)
		for (v = 0; v < nviews; v++)
			agg_partial_free(jobs[w].parts[v]);
	return ((t1 - t0) / 1e9);
}

/* The median of runs of engine_once, as a row. */
static void
bench_engine(const char *name, int nthreads, int mode)
{
	double		 t[BENCH_MAX_RUNS];
	double		 busy[BENCH_MAX_RUNS], other[BENCH_MAX_RUNS];
	double		 mem = 0;
	uint64_t	 nr = 0;
	int		 i;

	for (i = 0; i < runs; i++) {
		t[i] = engine_once(nthreads, mode, &nr, &busy[i], &other[i],
		    &mem);
		if (verbose)
			printf("  %s, run %d: %.3f s, %.0f events/s, %.2f "
			    "cores busy, other processes %.2f\n", name, i + 1,
			    t[i], nevents / t[i], busy[i], other[i]);
	}
	if (mode == ENGINE_FOLD)
		add_row(name, nevents, median(t, runs), "%" PRIu64 " chunk "
		    "rows; a chunk's partials %.0f MiB at most; %.2f cores "
		    "busy, others %.2f", nr, mem / 1048576, median(busy, runs),
		    median(other, runs));
	else
		add_row(name, nevents, median(t, runs), "%.2f cores busy, "
		    "others %.2f", median(busy, runs), median(other, runs));
}

static void
sqlite_exec(sqlite3 *db, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fatalx("sqlite: %s: %s", sql, msg != NULL ? msg :
		    sqlite3_errmsg(db));
}

/*
 * Load every k-th of the first N events into a plain table, with one
 * column per field.  Returns the events loaded.
 */
static uint64_t
sqlite_load(sqlite3 *db, uint64_t stride)
{
	struct master_reader	*r;
	struct master_record	 rec;
	struct agg_value	*vals;
	sqlite3_stmt		*st;
	uint64_t		 n = 0;
	char			*sql, *t, *cause;
	size_t			 i;
	int			 rc;

	xasprintf(&sql, "CREATE TABLE events(");
	for (i = 0; i < stream->nfields; i++) {
		xasprintf(&t, "%s%s\"%s\" %s", sql, i > 0 ? ", " : "",
		    stream->fields[i].name, stream->fields[i].type ==
		    CONF_FT_STRING ? "TEXT" : stream->fields[i].type ==
		    CONF_FT_FLOAT ? "REAL" : "INTEGER");
		free(sql);
		sql = t;
	}
	xasprintf(&t, "%s)", sql);
	free(sql);
	sqlite_exec(db, t);
	free(t);
	xasprintf(&sql, "INSERT INTO events VALUES(?");
	for (i = 1; i < stream->nfields; i++) {
		xasprintf(&t, "%s, ?", sql);
		free(sql);
		sql = t;
	}
	xasprintf(&t, "%s)", sql);
	free(sql);
	if (sqlite3_prepare_v2(db, t, -1, &st, NULL) != SQLITE_OK)
		fatalx("sqlite: %s: %s", t, sqlite3_errmsg(db));
	free(t);

	vals = xcalloc(stream->nfields + 1, sizeof(*vals));
	sqlite_exec(db, "BEGIN");
	if ((r = master_reader_open(data_dir, BENCH_STREAM, 0, &cause)) ==
	    NULL)
		fatalx("%s", cause);
	master_reader_sealed_only(r, 1);
	master_reader_set_limit(r, nevents);
	while ((rc = master_reader_next(r, &rec, &cause)) == 1) {
		if (rec.offset % stride != 0)
			continue;
		if (agg_decode(stream, vals, rec.fields, rec.fields_len,
		    &cause) == -1)
			fatalx("offset %" PRIu64 ": %s", rec.offset, cause);
		for (i = 0; i < stream->nfields; i++) {
			if (!vals[i].present)
				sqlite3_bind_null(st, (int)i + 1);
			else if (stream->fields[i].type == CONF_FT_STRING)
				sqlite3_bind_text(st, (int)i + 1, vals[i].s,
				    (int)vals[i].slen, SQLITE_STATIC);
			else if (stream->fields[i].type == CONF_FT_FLOAT)
				sqlite3_bind_double(st, (int)i + 1, vals[i].f);
			else
				sqlite3_bind_int64(st, (int)i + 1, vals[i].i);
		}
		if (sqlite3_step(st) != SQLITE_DONE)
			fatalx("sqlite: insert: %s", sqlite3_errmsg(db));
		sqlite3_reset(st);
		n++;
	}
	if (rc == -1)
		fatalx("%s", cause);
	master_reader_free(r);
	sqlite_exec(db, "COMMIT");
	sqlite3_finalize(st);
	free(vals);
	return (n);
}

/*
 * The baseline: plain SQLite GROUP BY queries equivalent to the three
 * views (without quantile and top, which SQL lacks), each writing its
 * result into a table.  Returns its events/s, and adds its row.
 */
static void
bench_sqlite(void)
{
	static const struct {
		const char	*table;
		const char	*select;
	} q[] = {
		{ "b_pages_hourly", "SELECT url, CAST(time AS INTEGER) / 3600 "
		    "* 3600 AS bucket, count(*) AS hits, sum(bytes) AS bytes, "
		    "sum(latency_ms) AS lat_sum, count(DISTINCT \"user\") AS "
		    "users FROM events GROUP BY url, bucket" },
		{ "b_country_status_5m", "SELECT country, status, CAST(time "
		    "AS INTEGER) / 300 * 300 AS bucket, count(*) AS hits, "
		    "min(latency_ms) AS lat_min, max(latency_ms) AS lat_max, "
		    "count(DISTINCT \"user\") AS users FROM events GROUP BY "
		    "country, status, bucket" },
		{ "b_daily_region", "SELECT region, CAST(time AS INTEGER) / "
		    "86400 * 86400 AS bucket, count(*) AS hits, sum(bytes) AS "
		    "bytes FROM events WHERE status = 200 GROUP BY region, "
		    "bucket" },
	};
	sqlite3		*db;
	double		 t[BENCH_MAX_RUNS], tq[3][BENCH_MAX_RUNS], load_s;
	uint64_t	 stride, n;
	int64_t		 t0;
	char		 path[PATH_MAX], *sql, name[64];
	size_t		 j;
	int		 i, nruns = runs < 3 ? 3 : runs;

	bench_path(path, sizeof(path), "baseline.db");
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		fatalx("%s: %s", path, sqlite3_errmsg(db));
	sqlite_exec(db, "PRAGMA journal_mode=OFF");
	sqlite_exec(db, "PRAGMA synchronous=OFF");
	sqlite_exec(db, "PRAGMA cache_size=-2097152");	/* 2 GiB */
	sqlite_exec(db, "PRAGMA temp_store=MEMORY");
	stride = (nevents + base_max - 1) / base_max;
	if (stride == 0)
		stride = 1;
	t0 = now_ns();
	n = sqlite_load(db, stride);
	load_s = (now_ns() - t0) / 1e9;
	if (verbose)
		printf("  sqlite: loaded %" PRIu64 " events in %.1f s\n", n,
		    load_s);
	for (i = 0; i < nruns; i++) {
		t[i] = 0;
		for (j = 0; j < sizeof(q) / sizeof(q[0]); j++) {
			xasprintf(&sql, "DROP TABLE IF EXISTS %s", q[j].table);
			sqlite_exec(db, sql);
			free(sql);
			xasprintf(&sql, "CREATE TABLE %s AS %s", q[j].table,
			    q[j].select);
			t0 = now_ns();
			sqlite_exec(db, sql);
			tq[j][i] = (now_ns() - t0) / 1e9;
			t[i] += tq[j][i];
			free(sql);
		}
		if (verbose)
			printf("  sqlite run %d: %.3f s (%.3f + %.3f + %.3f), "
			    "%.0f events/s\n", i + 1, t[i], tq[0][i], tq[1][i],
			    tq[2][i], n / t[i]);
	}
	sqlite3_close(db);
	unlink(path);
	if (stride > 1)
		snprintf(name, sizeof(name), "SQLite GROUP BY, 1 in %" PRIu64,
		    stride);
	else
		snprintf(name, sizeof(name), "SQLite GROUP BY");
	add_row(name, n, median(t, nruns), "3 queries %.2f + %.2f + %.2f s, "
	    "median of %d; load %.1f s", median(tq[0], nruns),
	    median(tq[1], nruns), median(tq[2], nruns), nruns, load_s);
}

/* Parse -o. */
static int
parse_parts(const char *arg)
{
	char	*s, *p, *w;
	int	 v = 0;

	s = p = xstrdup(arg);
	while ((w = strsep(&p, ",")) != NULL) {
		if (strcmp(w, "rebuild") == 0)
			v |= PART_REBUILD;
		else if (strcmp(w, "incr") == 0)
			v |= PART_INCR;
		else if (strcmp(w, "engine") == 0)
			v |= PART_ENGINE;
		else if (strcmp(w, "sqlite") == 0)
			v |= PART_SQLITE;
		else if (strcmp(w, "all") == 0)
			v |= PART_ALL;
		else
			fatalx("-o: unknown part %s", w);
	}
	free(s);
	return (v);
}

static void __attribute__((__noreturn__))
usage(void)
{
	fprintf(stderr, "usage: bench_batch [-kv] [-x batchd] [-d dir] "
	    "[-n events] [-r runs]\n"
	    "    [-b baseline_events] [-o rebuild,incr,engine,sqlite]\n");
	exit(2);
}

/*
 * Context for the rebuild figures, taken after them: what the machine
 * charges for the page cache of a file that grows, as views.db does in a
 * rebuild (SQLite's checkpoints write it in 64 KiB pages).  The same
 * BENCH_PC_BYTES are written to a new file three times, removed in
 * between.  On a virtual machine whose host takes back the guest's free
 * memory (free page reporting), the first pass pays for memory the guest
 * has not touched in a while; the next two reuse what the last one freed.
 */
static void
bench_page_cache(void)
{
	char	 path[PATH_MAX], *buf;
	double	 t[3];
	int64_t	 t0;
	off_t	 off;
	int	 fd, i;

	bench_path(path, sizeof(path), "pagecache");
	buf = xmalloc(BENCH_PC_WRITE);
	memset(buf, 0x5a, BENCH_PC_WRITE);
	for (i = 0; i < 3; i++) {
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
			fatal("%s", path);
		t0 = now_ns();
		for (off = 0; off < (off_t)BENCH_PC_BYTES; off += BENCH_PC_WRITE)
			if (pwrite(fd, buf, BENCH_PC_WRITE, off) !=
			    (ssize_t)BENCH_PC_WRITE)
				fatal("%s", path);
		t[i] = (now_ns() - t0) / 1e9;
		if (close(fd) == -1 || unlink(path) == -1)
			fatal("%s", path);
	}
	free(buf);
	printf("page cache: %llu MiB written to a new file in %u KiB pwrites: "
	    "%.2f s the first time, %.2f and %.2f s right after (the memory "
	    "just freed); a rebuild's views.db grows by %.0f MiB\n",
	    BENCH_PC_BYTES >> 20, BENCH_PC_WRITE >> 10, t[0], t[1], t[2],
	    views_mib);
}

/* Print the results table and the project's targets against it. */
static void
bench_report(void)
{
	const struct row	*r, *base = NULL, *full2 = NULL, *incr = NULL;
	double			 base_rate = 0, rate;
	size_t			 i;

	for (i = 0; i < nresults; i++) {
		if (strncmp(results[i].name, "SQLite", 6) == 0)
			base = &results[i];
		else if (strcmp(results[i].name,
		    "batchd full rebuild, 2 cores, 2 workers") == 0)
			full2 = &results[i];
		else if (strncmp(results[i].name, "batchd incremental", 18) == 0)
			incr = &results[i];
	}
	if (base != NULL)
		base_rate = base->events / base->seconds;
	printf("\n%-42s %12s %9s %12s %9s  %s\n", "configuration", "events",
	    "seconds", "events/s", "vs SQLite", "");
	for (i = 0; i < nresults; i++) {
		r = &results[i];
		rate = r->events / r->seconds;
		printf("%-42s %12" PRIu64 " %9.3f %12.0f ", r->name, r->events,
		    r->seconds, rate);
		if (base_rate > 0)
			printf("%8.1fx", rate / base_rate);
		else
			printf("%9s", "-");
		printf("  %s\n", r->note);
	}
	printf("targets:\n");
	if (full2 != NULL) {
		rate = full2->events / full2->seconds;
		printf("  full rebuild, 2 cores >= 3M events/s: %.2fM, %s\n",
		    rate / 1e6, rate >= 3e6 ? "met" : "NOT met");
	}
	if (incr != NULL) {
		rate = incr->events / incr->seconds;
		printf("  incremental >= ingest's %.0fk events/s: %.0fk, %s\n",
		    BENCH_INGEST_RATE / 1e3, rate / 1e3,
		    rate >= BENCH_INGEST_RATE ? "met" : "NOT met");
	}
	if (full2 != NULL && base_rate > 0) {
		rate = full2->events / full2->seconds;
		printf("  full rebuild >= 10x the SQLite baseline: %.1fx, %s\n",
		    rate / base_rate, rate >= 10 * base_rate ? "met" :
		    "NOT met");
	}
}

int
main(int argc, char **argv)
{
	double		 gen_s;
	uint64_t	 bytes;
	int64_t		 t0;
	char		*self, dflt[PATH_MAX], path[PATH_MAX], *end;
	int		 ch;

	log_init("bench_batch", 0);
	signal(SIGPIPE, SIG_IGN);
	self = xstrdup(argv[0]);
	snprintf(dflt, sizeof(dflt), "%s/lamina-batchd", dirname(self));
	batchd_path = dflt;
	while ((ch = getopt(argc, argv, "b:d:kn:o:r:vx:")) != -1) {
		switch (ch) {
		case 'b':
			base_max = strtoull(optarg, &end, 10);
			if (*end != '\0' || base_max == 0)
				fatalx("-b: %s: expected a number", optarg);
			break;
		case 'd':
			parent_dir = optarg;
			break;
		case 'k':
			keep = 1;
			break;
		case 'n':
			nevents = strtoull(optarg, &end, 10);
			if (*end != '\0' || nevents < 1000)
				fatalx("-n: %s: expected a number, at least "
				    "1000", optarg);
			break;
		case 'o':
			parts = parse_parts(optarg);
			break;
		case 'r':
			runs = atoi(optarg);
			if (runs < 1 || runs > BENCH_MAX_RUNS)
				fatalx("-r: 1 to %d", BENCH_MAX_RUNS);
			break;
		case 'v':
			verbose = 1;
			break;
		case 'x':
			batchd_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if ((parts & (PART_REBUILD | PART_INCR)) &&
	    access(batchd_path, X_OK) == -1)
		fatal("%s", batchd_path);
	atexit(bench_cleanup);
	signal(SIGINT, bench_signal);
	signal(SIGTERM, bench_signal);

	if (snprintf(path, sizeof(path), "%s/bench_batch.XXXXXX",
	    parent_dir) >= (int)sizeof(path))
		fatalx("%s: path too long", parent_dir);
	if (mkdtemp(path) == NULL)
		fatal("mkdtemp %s", path);
	if (realpath(path, tmp_dir) == NULL)
		fatal("%s", path);
	bench_path(conf_path, sizeof(conf_path), "lamina.yaml");
	bench_path(log_path, sizeof(log_path), "batchd.log");
	bench_load_conf();
	gen_init();

	t0 = now_ns();
	bytes = gen_append(nevents);
	gen_s = (now_ns() - t0) / 1e9;
	bench_read_catalog();
	printf("batch layer: %" PRIu64 " pageviews (12 fields, %.0f bytes "
	    "stored on average, url Zipf over %d, user over %d, 30 days) in "
	    "%zu sealed segments of 64 MiB, written in %.1f s (%.0f events/s,"
	    " not counted); 3 views; %ld cores; median of %d run%s (at least "
	    "3 for the two-core rebuild, incremental and SQLite); segments in "
	    "the page cache\n",
	    nevents, (double)bytes / nevents, BENCH_URLS, BENCH_USERS, nsegs,
	    gen_s, nevents / gen_s, sysconf(_SC_NPROCESSORS_ONLN), runs,
	    runs > 1 ? "s" : "");
	fflush(stdout);

	if (parts & PART_REBUILD) {
		bench_rebuild(1, 1, 0, 0);
		bench_rebuild(2, 0, 0, 0);
		bench_rebuild(2, 0, 1, (parts & PART_INCR) != 0);
	}
	if (parts & PART_INCR)
		bench_incr();
	if (parts & PART_ENGINE) {
		bench_engine("engine: read only, 1 thread", 1, ENGINE_READ);
		bench_engine("engine: read + decode, 1 thread", 1,
		    ENGINE_DECODE);
		bench_engine("engine: fold 3 views, 1 thread", 1, ENGINE_FOLD);
		bench_engine("engine: fold 3 views, 2 threads", 2,
		    ENGINE_FOLD);
	}
	if (parts & PART_SQLITE)
		bench_sqlite();
	if (parts & PART_REBUILD)
		bench_page_cache();
	bench_report();
	free(self);
	return (0);
}
