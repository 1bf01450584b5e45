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
 * Load generator for lamina-ingestd.  For every configuration (fsync mode
 * and preallocation, times each clients x in-flight x batch asked for) it
 * starts its own daemon on a private temporary directory, drives it with
 * C connections on one libevent loop, each keeping up to P append requests
 * of B events in flight, and measures what the daemon acknowledged:
 * durable events per second, MB/s of event payload, and the latency of
 * each request from the moment it was queued to the moment its reply was
 * read.  Each figure is the median of -r runs, one fresh daemon per run.
 *
 * The events are realistic pageviews (a dozen fields, about 200 bytes
 * packed) drawn from a fixed-seed xorshift generator, with url and user
 * Zipf-distributed, and event times that keep increasing: a pool of
 * packed events is built once, and each request copies the next B of them
 * after writing a fresh time into each.
 *
 * Nothing is taken on trust: every reply must be a success whose count is
 * what was sent, and at the end the offsets of all replies, sorted, must
 * tile 0..N exactly (no gap, no duplicate) with N equal to the stream's
 * next offset in the daemon's status.  Any error ends the benchmark with
 * exit status 1; a figure is printed only for a run that checked out.
 *
 * Before the daemons, the raw fdatasync rate of the same file system is
 * measured (4 KiB pwrite + fdatasync in a loop for a second, over
 * preallocated blocks and appending), so the group commit figures can be
 * read against what the disk can do.
 *
 *   bench_ingest [-sv] [-x DAEMON] [-d DIR] [-m MODES] [-c CLIENTS]
 *       [-p INFLIGHT] [-b BATCH] [-t SECONDS] [-w SECONDS] [-n EVENTS]
 *       [-r RUNS]
 *
 *   -x	the daemon; default: lamina-ingestd next to this program
 *   -d	where to make the temporary directories; default $TMPDIR, else
 *	/var/tmp (not a tmpfs: fdatasync would do nothing)
 *   -m	comma-separated modes: always, never, always:SIZE, never:SIZE,
 *	SIZE the preallocation in bytes with an optional K, M or G
 *	(default 4M); default always,always:0,never
 *   -c, -p, -b  connections (32), requests in flight on each (4), events
 *	per request (100); each may be a comma-separated list, and every
 *	combination is run
 *   -t, -w  seconds measured (5), after a warm-up (1)
 *   -n	measure this many events instead of a duration
 *   -r	runs per configuration (3); -s skips the baseline; -v prints
 *	every run
 *
 * A figure counts what was acknowledged inside the window; latencies are
 * of the requests sent inside it.  The cpu column is the share of one core
 * the daemon (all threads) and this program used in the window, and what
 * everything else on the machine used meanwhile: figures taken while
 * other work ran are not comparable.
 */

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <msgpack.h>

#include "file.h"
#include "benchlib.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "rpc.h"
#include "sock.h"
#include "xmalloc.h"

#define BENCH_STREAM		"pageviews"
#define BENCH_URLS		5000
#define BENCH_URL_S		1.1
#define BENCH_USERS		200000
#define BENCH_USER_S		0.9
#define BENCH_POOL_MIN		65536		/* events in the pool */
#define BENCH_TIME0		1767225600.0	/* 2026-01-01 UTC */
#define BENCH_EVENT_RATE	10000.0		/* event time: per second */
#define BENCH_READY_NS		(10LL * 1000000000)
#define BENCH_STOP_NS		(30LL * 1000000000)
#define BENCH_MAX_LIST		16
#define BENCH_MAX_RUNS		32
#define BENCH_MAX_BATCH		50000		/* ~10 MB, under 16 MiB */
#define BENCH_TAIL		8192		/* daemon log shown on error */

/* One daemon configuration. */
struct mode {
	int		 always;		/* fsync: always, else never */
	uint64_t	 prealloc;		/* bytes */
};

/* The figures of one run, or the medians of several. */
struct result {
	double		 events_s;
	double		 mb_s;
	double		 p50_ms;
	double		 p99_ms;
	double		 max_ms;
	double		 syncs_s;
	double		 cpu_daemon;		/* share of one core */
	double		 cpu_self;
	double		 cpu_other;		/* everything else running */
};

/* One acknowledged request. */
struct rec {
	int64_t		 sent_ns;
	int64_t		 done_ns;
	uint64_t	 first;
	uint32_t	 count;
	uint32_t	 bytes;
};

struct bclient;

/* One request slot of a connection: at most one request in flight. */
struct slot {
	struct bclient	*cl;
	int64_t		 sent_ns;
	uint32_t	 count;
	uint32_t	 bytes;
};

/* One connection to the daemon. */
struct bclient {
	struct rpc_client *rpc;
	struct slot	*slots;
};

/* What a status reply said. */
struct status {
	int		 have;
	int64_t		 at_ns;
	uint64_t	 next_offset;
	uint64_t	 fsyncs;
};

/* Options. */
static const char	*daemon_path;
static const char	*parent_dir;
static struct mode	 modes[BENCH_MAX_LIST];
static int		 nmodes;
static int		 clients_list[BENCH_MAX_LIST], nclients_list;
static int		 inflight_list[BENCH_MAX_LIST], ninflight_list;
static int		 batch_list[BENCH_MAX_LIST], nbatch_list;
static double		 duration_s = 5, warmup_s = 1;
static uint64_t		 target_events;		/* 0: run for duration_s */
static int		 runs = 3;
static int		 verbose;
static int		 no_baseline;

/* The event pool: npool packed events back to back in pool. */
static uint8_t		*pool;
static size_t		*pool_off;		/* npool + 1 offsets */
static size_t		*pool_time;		/* offset of each time value */
static size_t		 npool;
static size_t		 pool_next;
static uint64_t		 event_seq;		/* events sent, for times */

/* The daemon of the current run. */
static char		 tmp_dir[PATH_MAX];
static char		 sock_path[PATH_MAX];
static char		 log_path[PATH_MAX];
static pid_t		 daemon_pid = -1;

/* The current run. */
static struct event_base *base;
static struct bclient	*clients;
static int		 nclients, inflight_max, batch;
static struct rpc_client *ctl;			/* status calls */
static struct event	*phase_ev;
static int		 phase;			/* PHASE_* */
static int64_t		 window_ns, stop_ns;
static uint64_t		 sent_measured;		/* events sent in window */
static size_t		 inflight;
static struct rec	*recs;
static size_t		 nrecs, recs_size;
static struct status	 st_begin, st_end, st_final;
static int		 status_pending;
static int64_t		 cpu_daemon0, cpu_daemon1, cpu_self0, cpu_self1;
static int64_t		 cpu_all0, cpu_all1;
static int64_t		 cpu_at0, cpu_at1;
static int		 failed;
static char		 fail_msg[512];

#define PHASE_WARMUP	0
#define PHASE_MEASURE	1
#define PHASE_DRAIN	2
#define PHASE_DONE	3

static void	bench_send(struct slot *);
static void	bench_status_call(struct status *);

/*
 * Build the pool: n pageviews of 12 or 13 fields (referrer is optional and
 * absent from a quarter of them), url and user drawn from Zipf tables.
 * Returns the payload bytes.
 */
static uint64_t
bench_make_pool(size_t n)
{
	static const char	*methods[] = { "GET", "GET", "GET", "GET",
				    "POST", "HEAD" };
	static const char	*countries[] = { "us", "de", "fr", "jp",
				    "br", "in", "gb", "ca" };
	static const char	*devices[] = { "desktop", "mobile", "tablet" };
	static const char	*uas[] = { "Mozilla/5.0 (X11; Linux)",
				    "Mozilla/5.0 (iPhone)",
				    "Mozilla/5.0 (Windows NT 10.0)",
				    "curl/8.5.0" };
	static const char	*refs[] = { "https://www.google.com/",
				    "https://news.ycombinator.com/",
				    "https://t.co/x", "https://example.com/" };
	static const char	*paths[][2] = {
				    { "/products/", "/reviews" },
				    { "/blog/", "-notes" },
				    { "/search?q=item", "" },
				    { "/category/", "?page=2" } };
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	double			*url_cdf, *user_cdf;
	char			 s[128];
	uint64_t		 r;
	uint32_t		 u, status;
	size_t			 i, size = 0;
	int			 ref;

	url_cdf = zipf_new(BENCH_URLS, BENCH_URL_S);
	user_cdf = zipf_new(BENCH_USERS, BENCH_USER_S);
	pool_off = xcalloc(n + 1, sizeof(*pool_off));
	pool_time = xcalloc(n, sizeof(*pool_time));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (i = 0; i < n; i++) {
		pool_off[i] = sb.size;
		r = rng_next();
		ref = r % 4 != 0;
		msgpack_pack_map(&pk, ref ? 13 : 12);
		u = zipf_draw(url_cdf, BENCH_URLS);
		snprintf(s, sizeof(s), "%s%u%s", paths[u % 4][0],
		    bench_hash(u) % 100000, paths[u % 4][1]);
		msg_pack_kv_str(&pk, "url", s);
		u = zipf_draw(user_cdf, BENCH_USERS);
		snprintf(s, sizeof(s), "u%07u", bench_hash(u) % 10000000);
		msg_pack_kv_str(&pk, "user", s);
		if (ref)
			msg_pack_kv_str(&pk, "referrer", refs[(r >> 2) % 4]);
		status = (r >> 8) % 100;
		status = status < 90 ? 200 : status < 95 ? 304 :
		    status < 99 ? 404 : 500;
		msg_pack_kv_int(&pk, "status", status);
		msg_pack_kv_int(&pk, "bytes", 200 + (r >> 16) % 60000);
		msg_pack_kv_double(&pk, "latency_ms",
		    -log(1.0 - rng_unit()) * 40.0);
		msg_pack_kv_double(&pk, "time", BENCH_TIME0);
		pool_time[i] = sb.size - 8;
		if ((uint8_t)sb.data[pool_time[i] - 1] != 0xcb)
			fatalx("time not packed as a float64");
		msg_pack_kv_str(&pk, "method", methods[(r >> 32) % 6]);
		msg_pack_kv_str(&pk, "country", countries[(r >> 36) % 8]);
		msg_pack_kv_str(&pk, "ua", uas[(r >> 40) % 4]);
		snprintf(s, sizeof(s), "%012" PRIx64, rng_next() >> 16);
		msg_pack_kv_str(&pk, "session", s);
		msg_pack_kv_int(&pk, "region", (r >> 44) % 17);
		msg_pack_kv_str(&pk, "device", devices[(r >> 50) % 3]);
	}
	pool_off[n] = sb.size;
	size = sb.size;
	pool = xmalloc(size);
	memcpy(pool, sb.data, size);
	msgpack_sbuffer_destroy(&sb);
	free(url_cdf);
	free(user_cdf);
	npool = n;
	return (size);
}

/*
 * The next n consecutive events of the pool, their times set to the next
 * n event times.  *p points into the pool until the next call.
 */
static size_t
bench_take(size_t n, const uint8_t **p)
{
	union {
		double		d;
		uint64_t	u;
	} t;
	size_t	i, j;
	uint8_t	*q;

	if (pool_next + n > npool)
		pool_next = 0;
	for (i = pool_next; i < pool_next + n; i++) {
		t.d = BENCH_TIME0 + event_seq++ / BENCH_EVENT_RATE;
		q = pool + pool_time[i];
		for (j = 0; j < 8; j++)
			q[j] = t.u >> (56 - 8 * j);
	}
	*p = pool + pool_off[pool_next];
	i = pool_off[pool_next + n] - pool_off[pool_next];
	pool_next += n;
	return (i);
}

/* Stop the run with an error; the first one is kept. */
static void __attribute__((__format__(__printf__, 1, 2)))
bench_fail(const char *fmt, ...)
{
	va_list	ap;

	if (!failed) {
		va_start(ap, fmt);
		vsnprintf(fail_msg, sizeof(fail_msg), fmt, ap);
		va_end(ap);
	}
	failed = 1;
	phase = PHASE_DONE;
	if (base != NULL)
		event_base_loopbreak(base);
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
bench_daemon_stop(void)
{
	struct timespec	 ts = { 0, 5000000 };
	int64_t		 deadline;
	int		 status;
	pid_t		 r;

	if (daemon_pid == -1)
		return (-1);
	kill(daemon_pid, SIGTERM);
	deadline = now_ns() + BENCH_STOP_NS;
	while ((r = waitpid(daemon_pid, &status, WNOHANG)) == 0) {
		if (now_ns() > deadline) {
			log_warnx("daemon %ld: no exit after SIGTERM, killing",
			    (long)daemon_pid);
			kill(daemon_pid, SIGKILL);
			r = waitpid(daemon_pid, &status, 0);
			break;
		}
		nanosleep(&ts, NULL);
	}
	daemon_pid = -1;
	return (r == -1 ? -1 : status);
}

/* Remove the run's directory. */
static void
bench_dir_remove(void)
{
	if (tmp_dir[0] == '\0')
		return;
	nftw(tmp_dir, bench_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	tmp_dir[0] = log_path[0] = sock_path[0] = '\0';
}

/* At exit, whatever the reason: no daemon and no directory left behind. */
static void
bench_cleanup(void)
{
	if (daemon_pid != -1) {
		bench_daemon_stop();
		bench_show_log();
	}
	bench_dir_remove();
}

/* Write the daemon's configuration for mode m into the run directory. */
static void
bench_write_conf(const struct mode *m, const char *path)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL)
		fatal("%s", path);
	fprintf(f,
	    "# Written by bench_ingest.\n"
	    "data_dir: data\n"
	    "run_dir: run\n"
	    "sockets:\n"
	    "  ingest: ingest.sock\n"
	    "  forward: forward.sock\n"
	    "  max_message_bytes: 16MiB\n"
	    "  max_client_buffer: 64MiB\n"
	    "log:\n"
	    "  verbose: 0\n"
	    "ingest:\n"
	    "  segment_max_bytes: 64MiB\n"
	    "  preallocate: %" PRIu64 "\n"
	    "  fsync: %s\n"
	    "  verify: quick\n"
	    "streams:\n"
	    "  " BENCH_STREAM ":\n"
	    "    fields:\n"
	    "      url: string\n"
	    "      user: string\n"
	    "      referrer: {type: string, required: false}\n"
	    "      status: int\n"
	    "      bytes: int\n"
	    "      latency_ms: float\n"
	    "      time: float\n"
	    "      method: string\n"
	    "      country: string\n"
	    "      ua: string\n"
	    "      session: string\n"
	    "      region: int\n"
	    "      device: string\n"
	    "    time: time\n",
	    m->prealloc, m->always ? "always" : "never");
	if (fclose(f) == EOF)
		fatal("%s", path);
}

/* Make the run directory under parent_dir. */
static void
bench_dir_make(void)
{
	char	path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/bench_ingest.XXXXXX",
	    parent_dir) >= (int)sizeof(path))
		fatalx("%s: path too long", parent_dir);
	if (mkdtemp(path) == NULL)
		fatal("mkdtemp %s", path);
	if (realpath(path, tmp_dir) == NULL)
		fatal("%s", path);
}

/* buf = tmp_dir/name. */
static void
bench_path(char *buf, size_t size, const char *name)
{
	if (snprintf(buf, size, "%s/%s", tmp_dir, name) >= (int)size)
		fatalx("%s/%s: path too long", tmp_dir, name);
}

/*
 * Start a daemon for mode m on a fresh directory and wait until its socket
 * accepts connections, polling; dies if it exits or is not ready in time.
 */
static void
bench_daemon_start(const struct mode *m)
{
	struct timespec	 ts = { 0, 2000000 };
	char		 conf[PATH_MAX], *cause;
	int64_t		 deadline;
	pid_t		 parent;
	int		 fd, status;

	bench_dir_make();
	bench_path(conf, sizeof(conf), "lamina.yaml");
	bench_path(log_path, sizeof(log_path), "ingestd.log");
	bench_path(sock_path, sizeof(sock_path), "run/ingest.sock");
	if (strlen(sock_path) > 107)
		fatalx("%s: too long for a socket; use -d", sock_path);
	bench_write_conf(m, conf);

	parent = getpid();
	switch (daemon_pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		if ((fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC,
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
		execl(daemon_path, daemon_path, "-c", conf, (char *)NULL);
		dprintf(STDERR_FILENO, "exec %s: %s\n", daemon_path,
		    strerror(errno));
		_exit(127);
	}

	deadline = now_ns() + BENCH_READY_NS;
	for (;;) {
		if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
			daemon_pid = -1;
			bench_show_log();
			fatalx("%s exited before it was ready (status %d)",
			    daemon_path, status);
		}
		if ((fd = sock_connect_unix(sock_path, &cause)) != -1) {
			close(fd);
			return;
		}
		free(cause);
		if (now_ns() > deadline)
			fatalx("%s: not ready after %lld s", sock_path,
			    BENCH_READY_NS / 1000000000);
		nanosleep(&ts, NULL);
	}
}

/* Read a status reply: the stream's next offset and the fdatasyncs. */
static int
bench_parse_status(struct msg_reader *r, struct status *st)
{
	const char	*k, *k2;
	size_t		 klen, k2len;
	uint32_t	 n, n2, n3, i, j, l;
	int		 found = 0;

	if (msg_get_map(r, &n) == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		if (msg_get_str(r, &k, &klen) == -1)
			return (-1);
		if (klen == 7 && memcmp(k, "streams", 7) == 0) {
			if (msg_get_map(r, &n2) == -1)
				return (-1);
			for (j = 0; j < n2; j++) {
				if (msg_get_str(r, &k2, &k2len) == -1)
					return (-1);
				if (k2len != strlen(BENCH_STREAM) ||
				    memcmp(k2, BENCH_STREAM, k2len) != 0) {
					if (msg_skip(r) == -1)
						return (-1);
					continue;
				}
				if (msg_get_map(r, &n3) == -1)
					return (-1);
				for (l = 0; l < n3; l++) {
					if (msg_get_str(r, &k2, &k2len) == -1)
						return (-1);
					if (k2len == 11 && memcmp(k2,
					    "next_offset", 11) == 0) {
						if (msg_get_uint(r,
						    &st->next_offset) == -1)
							return (-1);
						found |= 1;
					} else if (msg_skip(r) == -1)
						return (-1);
				}
			}
		} else if (klen == 9 && memcmp(k, "fdatasync", 9) == 0) {
			if (msg_get_map(r, &n2) == -1)
				return (-1);
			for (j = 0; j < n2; j++) {
				if (msg_get_str(r, &k2, &k2len) == -1)
					return (-1);
				if (k2len == 5 && memcmp(k2, "count", 5) == 0) {
					if (msg_get_uint(r, &st->fsyncs) == -1)
						return (-1);
					found |= 2;
				} else if (msg_skip(r) == -1)
					return (-1);
			}
		} else if (msg_skip(r) == -1)
			return (-1);
	}
	return (found == 3 ? 0 : -1);
}

/* The run is over once nothing is in flight and no status is awaited. */
static void
bench_maybe_done(void)
{
	if (phase != PHASE_DRAIN || inflight > 0 || status_pending > 0)
		return;
	if (!st_final.have) {
		bench_status_call(&st_final);
		return;
	}
	phase = PHASE_DONE;
	event_base_loopbreak(base);
}

static void
bench_status_cb(struct msg_reader *r, int64_t code, const char *msg,
    void *arg)
{
	struct status	*st = arg;

	status_pending--;
	if (phase == PHASE_DONE)
		return;
	if (r == NULL) {
		bench_fail("status: error %" PRId64 ": %s", code, msg);
		return;
	}
	if (bench_parse_status(r, st) == -1) {
		bench_fail("status: unexpected reply: %s", msg_error(r));
		return;
	}
	st->at_ns = now_ns();
	st->have = 1;
	bench_maybe_done();
}

/* Ask the daemon for its status on the control connection. */
static void
bench_status_call(struct status *st)
{
	msgpack_packer	*pk;

	pk = rpc_client_call_begin(ctl, PROTO_STATUS, bench_status_cb, st);
	msgpack_pack_array(pk, 0);
	if (rpc_client_call_end(ctl) == -1) {
		bench_fail("status: connection lost");
		return;
	}
	status_pending++;
}

/* The window is over: stop sending, wait for what is in flight. */
static void
bench_stop_sending(void)
{
	if (phase != PHASE_MEASURE)
		return;
	phase = PHASE_DRAIN;
	stop_ns = now_ns();
	cpu_at1 = stop_ns;
	cpu_daemon1 = cpu_pid_ns(daemon_pid);
	cpu_self1 = cpu_self_ns();
	cpu_all1 = cpu_all_ns();
	bench_status_call(&st_end);
	bench_maybe_done();
}

/* Timer: the end of the warm-up, then the end of the window. */
static void
bench_phase_cb(int fd, short events, void *arg)
{
	struct timeval	tv;

	(void)fd;
	(void)events;
	(void)arg;
	if (phase == PHASE_WARMUP) {
		phase = PHASE_MEASURE;
		window_ns = now_ns();
		cpu_at0 = window_ns;
		cpu_daemon0 = cpu_pid_ns(daemon_pid);
		cpu_self0 = cpu_self_ns();
		cpu_all0 = cpu_all_ns();
		bench_status_call(&st_begin);
		if (target_events == 0) {
			tv.tv_sec = (time_t)duration_s;
			tv.tv_usec = (suseconds_t)((duration_s -
			    tv.tv_sec) * 1e6);
			evtimer_add(phase_ev, &tv);
		}
	} else if (phase == PHASE_MEASURE)
		bench_stop_sending();
}

/* Check and record one reply to an append. */
static void
bench_reply_cb(struct msg_reader *r, int64_t code, const char *msg,
    void *arg)
{
	struct slot	*s = arg;
	struct rec	*rc;
	const char	*k, *v;
	size_t		 klen, vlen;
	uint64_t	 first = 0, count = 0;
	uint32_t	 n, i;
	int		 seen = 0;
	int64_t		 t = now_ns();

	inflight--;
	if (phase == PHASE_DONE)
		return;
	if (r == NULL) {
		bench_fail("append: error %" PRId64 ": %s", code, msg);
		return;
	}
	if (msg_get_map(r, &n) == -1)
		goto bad;
	for (i = 0; i < n; i++) {
		if (msg_get_str(r, &k, &klen) == -1)
			goto bad;
		if (klen == 6 && memcmp(k, "stream", 6) == 0) {
			if (msg_get_str(r, &v, &vlen) == -1 ||
			    vlen != strlen(BENCH_STREAM) ||
			    memcmp(v, BENCH_STREAM, vlen) != 0)
				goto bad;
			seen |= 1;
		} else if (klen == 5 && memcmp(k, "first", 5) == 0) {
			if (msg_get_uint(r, &first) == -1)
				goto bad;
			seen |= 2;
		} else if (klen == 5 && memcmp(k, "count", 5) == 0) {
			if (msg_get_uint(r, &count) == -1)
				goto bad;
			seen |= 4;
		} else if (msg_skip(r) == -1)
			goto bad;
	}
	if (seen != 7 || msg_end(r) == -1)
		goto bad;
	if (count != s->count) {
		bench_fail("append: sent %u events, %" PRIu64 " acknowledged",
		    s->count, count);
		return;
	}
	if (nrecs == recs_size) {
		recs_size = recs_size ? 2 * recs_size : 65536;
		recs = xreallocarray(recs, recs_size, sizeof(*recs));
	}
	rc = &recs[nrecs++];
	rc->sent_ns = s->sent_ns;
	rc->done_ns = t;
	rc->first = first;
	rc->count = count;
	rc->bytes = s->bytes;

	if (phase == PHASE_WARMUP || phase == PHASE_MEASURE)
		bench_send(s);
	bench_maybe_done();
	return;
bad:
	bench_fail("append: unexpected reply (%s)",
	    r->error != NULL ? r->error : "missing or extra keys");
}

/* Send the next request from slot s. */
static void
bench_send(struct slot *s)
{
	msgpack_packer	*pk;
	const uint8_t	*p;
	size_t		 n = batch, len;

	if (target_events > 0 && phase == PHASE_MEASURE) {
		if (sent_measured >= target_events) {
			bench_stop_sending();
			return;
		}
		if (n > target_events - sent_measured)
			n = target_events - sent_measured;
	}
	if (phase == PHASE_MEASURE)
		sent_measured += n;
	pk = rpc_client_call_begin(s->cl->rpc, PROTO_APPEND, bench_reply_cb,
	    s);
	msgpack_pack_array(pk, 2);
	msg_pack_str(pk, BENCH_STREAM);
	msgpack_pack_array(pk, n);
	len = bench_take(n, &p);
	pk->callback(pk->data, (const char *)p, len);	/* packed events */
	s->count = n;
	s->bytes = len;
	s->sent_ns = now_ns();
	if (rpc_client_call_end(s->cl->rpc) == -1) {
		bench_fail("append: connection lost");
		return;
	}
	inflight++;
}

static void
bench_close_cb(const char *reason, void *arg)
{
	(void)arg;
	if (phase != PHASE_DONE)
		bench_fail("connection closed by the daemon%s%s",
		    reason ? ": " : "", reason ? reason : "");
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

static int
cmp_rec_first(const void *a, const void *b)
{
	const struct rec	*x = a, *y = b;

	return (x->first < y->first ? -1 : x->first > y->first);
}

/* The value at fraction q of n sorted values (nearest rank). */
static int64_t
quantile(const int64_t *v, size_t n, double q)
{
	size_t	i = (size_t)ceil(q * n);

	if (i > 0)
		i--;
	return (v[i < n ? i : n - 1]);
}

/*
 * Check the replies of the run: the offsets, sorted, must tile 0..total
 * without a gap or a duplicate and end at the daemon's next offset.
 * Then compute the figures.  Returns -1 (with fail_msg) on a mismatch.
 */
static int
bench_analyse(struct result *res)
{
	int64_t		*lat, end_ns;
	uint64_t	 next = 0, events = 0, bytes = 0;
	size_t		 i, nlat = 0;
	double		 span;

	qsort(recs, nrecs, sizeof(*recs), cmp_rec_first);
	for (i = 0; i < nrecs; i++) {
		if (recs[i].first != next) {
			snprintf(fail_msg, sizeof(fail_msg), "offsets: %s at %"
			    PRIu64 ": reply says first %" PRIu64,
			    recs[i].first > next ? "gap" : "overlap", next,
			    recs[i].first);
			return (-1);
		}
		next += recs[i].count;
	}
	if (next != event_seq || next != st_final.next_offset) {
		snprintf(fail_msg, sizeof(fail_msg), "offsets: %" PRIu64
		    " events sent, %" PRIu64 " acknowledged, next offset %"
		    PRIu64 " in the daemon's status", event_seq, next,
		    st_final.next_offset);
		return (-1);
	}

	/* With -n the window ends at the last reply. */
	end_ns = stop_ns;
	if (target_events > 0)
		for (i = 0; i < nrecs; i++)
			if (recs[i].done_ns > end_ns)
				end_ns = recs[i].done_ns;
	span = (end_ns - window_ns) / 1e9;
	lat = xcalloc(nrecs ? nrecs : 1, sizeof(*lat));
	for (i = 0; i < nrecs; i++) {
		if (recs[i].done_ns >= window_ns && recs[i].done_ns <= end_ns) {
			events += recs[i].count;
			bytes += recs[i].bytes;
		}
		if (recs[i].sent_ns >= window_ns && recs[i].sent_ns <= end_ns)
			lat[nlat++] = recs[i].done_ns - recs[i].sent_ns;
	}
	if (nlat == 0 || span <= 0) {
		free(lat);
		snprintf(fail_msg, sizeof(fail_msg), "no request completed "
		    "in the window");
		return (-1);
	}
	qsort(lat, nlat, sizeof(*lat), cmp_i64);
	res->events_s = events / span;
	res->mb_s = bytes / span / 1e6;
	res->p50_ms = quantile(lat, nlat, 0.50) / 1e6;
	res->p99_ms = quantile(lat, nlat, 0.99) / 1e6;
	res->max_ms = lat[nlat - 1] / 1e6;
	res->syncs_s = st_end.at_ns > st_begin.at_ns ?
	    (st_end.fsyncs - st_begin.fsyncs) /
	    ((st_end.at_ns - st_begin.at_ns) / 1e9) : 0;
	res->cpu_daemon = cpu_at1 > cpu_at0 ?
	    (double)(cpu_daemon1 - cpu_daemon0) / (cpu_at1 - cpu_at0) : 0;
	res->cpu_self = cpu_at1 > cpu_at0 ?
	    (double)(cpu_self1 - cpu_self0) / (cpu_at1 - cpu_at0) : 0;
	res->cpu_other = cpu_at1 > cpu_at0 ? (double)((cpu_all1 - cpu_all0) -
	    (cpu_daemon1 - cpu_daemon0) - (cpu_self1 - cpu_self0)) /
	    (cpu_at1 - cpu_at0) : 0;
	if (res->cpu_other < 0)
		res->cpu_other = 0;		/* tick rounding */
	free(lat);
	return (0);
}

/* One run: a fresh daemon, the load, the checks, the figures. */
static void
bench_run(const struct mode *m, struct result *res)
{
	struct timeval	 tv;
	char		*cause;
	int		 i, j, fd, status;

	bench_daemon_start(m);
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	nrecs = 0;
	event_seq = 0;
	pool_next = 0;
	sent_measured = 0;
	inflight = 0;
	status_pending = 0;
	memset(&st_begin, 0, sizeof(st_begin));
	memset(&st_end, 0, sizeof(st_end));
	memset(&st_final, 0, sizeof(st_final));
	phase = PHASE_WARMUP;

	if ((fd = sock_connect_unix(sock_path, &cause)) == -1)
		fatalx("%s", cause);
	ctl = rpc_client_new(base, fd, 1 << 20, NULL, bench_close_cb, NULL);
	clients = xcalloc(nclients, sizeof(*clients));
	for (i = 0; i < nclients; i++) {
		if ((fd = sock_connect_unix(sock_path, &cause)) == -1)
			fatalx("%s", cause);
		clients[i].rpc = rpc_client_new(base, fd, 1 << 20, NULL,
		    bench_close_cb, NULL);
		clients[i].slots = xcalloc(inflight_max,
		    sizeof(*clients[i].slots));
		for (j = 0; j < inflight_max; j++)
			clients[i].slots[j].cl = &clients[i];
	}
	phase_ev = evtimer_new(base, bench_phase_cb, NULL);
	tv.tv_sec = (time_t)warmup_s;
	tv.tv_usec = (suseconds_t)((warmup_s - tv.tv_sec) * 1e6);
	evtimer_add(phase_ev, &tv);
	for (j = 0; j < inflight_max; j++)
		for (i = 0; i < nclients; i++)
			bench_send(&clients[i].slots[j]);

	if (!failed && event_base_dispatch(base) == -1)
		bench_fail("event loop failed");

	phase = PHASE_DONE;
	for (i = 0; i < nclients; i++) {
		rpc_client_free(clients[i].rpc);
		free(clients[i].slots);
	}
	free(clients);
	rpc_client_free(ctl);
	event_free(phase_ev);
	event_base_free(base);
	base = NULL;

	if (failed || bench_analyse(res) == -1)
		fatalx("%s", fail_msg);	/* bench_cleanup shows the log */
	status = bench_daemon_stop();
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		bench_show_log();
		fatalx("%s: did not stop cleanly (status %d)", daemon_path,
		    status);
	}
	bench_dir_remove();
	if (verbose)
		printf("    run: %.0f events/s, %.1f MB/s, p50 %.2f p99 %.2f "
		    "max %.2f ms, %.0f fdatasync/s, %zu requests, cpu "
		    "%.0f%%/%.0f%%/%.0f%%\n", res->events_s, res->mb_s,
		    res->p50_ms, res->p99_ms, res->max_ms, res->syncs_s, nrecs,
		    100 * res->cpu_daemon, 100 * res->cpu_self,
		    100 * res->cpu_other);
}

/* A size: digits with an optional K, M or G (powers of 1024). */
static uint64_t
bench_parse_size(const char *s)
{
	char		*end;
	uint64_t	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		fatalx("bad size: %s", s);
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (strcmp(end, "") != 0 && strcmp(end, "iB") != 0 &&
	    strcmp(end, "B") != 0)
		fatalx("bad size: %s", s);
	return (v);
}

/* -m: always[:SIZE] or never[:SIZE], comma-separated. */
static void
bench_parse_modes(const char *arg)
{
	char	*s, *tok, *sz, *save = NULL;

	s = xstrdup(arg);
	nmodes = 0;
	for (tok = strtok_r(s, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (nmodes == BENCH_MAX_LIST)
			fatalx("-m: at most %d modes", BENCH_MAX_LIST);
		modes[nmodes].prealloc = 4 << 20;
		if ((sz = strchr(tok, ':')) != NULL) {
			*sz++ = '\0';
			modes[nmodes].prealloc = bench_parse_size(sz);
		}
		if (strcmp(tok, "always") == 0)
			modes[nmodes].always = 1;
		else if (strcmp(tok, "never") == 0)
			modes[nmodes].always = 0;
		else
			fatalx("-m: %s: expected always or never", tok);
		nmodes++;
	}
	if (nmodes == 0)
		fatalx("-m: no mode");
	free(s);
}

/* A comma-separated list of integers in [lo, hi]. */
static int
bench_parse_list(const char *arg, int *v, int lo, int hi, const char *what)
{
	char		*s, *tok, *end, *save = NULL;
	long		 x;
	int		 n = 0;

	s = xstrdup(arg);
	for (tok = strtok_r(s, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		errno = 0;
		x = strtol(tok, &end, 10);
		if (errno != 0 || *end != '\0' || x < lo || x > hi)
			fatalx("%s: %s: expected %d to %d", what, tok, lo, hi);
		if (n == BENCH_MAX_LIST)
			fatalx("%s: at most %d values", what, BENCH_MAX_LIST);
		v[n++] = (int)x;
	}
	if (n == 0)
		fatalx("%s: no value", what);
	free(s);
	return (n);
}

/*
 * The baseline: 4 KiB pwrite + fdatasync in a loop for a second, either
 * over blocks written beforehand (prealloc) or extending the file.
 */
static void
bench_raw_sync(const char *dir, int prealloc, double *per_s, double *us)
{
	static uint8_t	 block[4096];
	char		 path[PATH_MAX];
	int64_t		 t0, t;
	uint64_t	 n = 0, off = 0;
	int		 fd;

	memset(block, 'x', sizeof(block));
	if (snprintf(path, sizeof(path), "%s/raw.bin", dir) >=
	    (int)sizeof(path))
		fatalx("%s: path too long", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("%s", path);
	if (prealloc && (file_write_zeros(fd, 0, 64 << 20) == -1 ||
	    fsync(fd) == -1))
		fatal("%s: zero fill", path);
	t0 = now_ns();
	do {
		if (file_pwrite_all(fd, block, sizeof(block), off) == -1)
			fatal("%s: pwrite", path);
		if (fdatasync(fd) == -1)
			fatal("%s: fdatasync", path);
		n++;
		off = (off + sizeof(block)) % (64 << 20);
		t = now_ns() - t0;
	} while (t < 1000000000);
	close(fd);
	unlink(path);
	*per_s = n / (t / 1e9);
	*us = t / 1e3 / n;
}

/* The file system type of dir, for the header. */
static const char *
bench_fstype(const char *dir)
{
	struct statfs	sfs;

	if (statfs(dir, &sfs) == -1)
		return ("?");
	switch ((unsigned long)sfs.f_type) {
	case 0xef53:
		return ("ext4");
	case 0x58465342:
		return ("xfs");
	case 0x9123683e:
		return ("btrfs");
	case 0x01021994:
		return ("tmpfs: fdatasync does nothing");
	case 0x794c7630:
		return ("overlayfs");
	default:
		return ("other");
	}
}

/* Run one configuration -r times and print the medians as a row. */
static void
bench_row(const struct mode *m, int c, int p, int b)
{
	struct result	 res[BENCH_MAX_RUNS], med;
	double		 v[BENCH_MAX_RUNS];
	char		 label[64];
	int		 i;

	nclients = c;
	inflight_max = p;
	batch = b;
	for (i = 0; i < runs; i++)
		bench_run(m, &res[i]);
#define MEDIAN_OF(f) do {						\
	for (i = 0; i < runs; i++)					\
		v[i] = res[i].f;					\
	med.f = median(v, runs);					\
} while (0)
	MEDIAN_OF(events_s);
	MEDIAN_OF(mb_s);
	MEDIAN_OF(p50_ms);
	MEDIAN_OF(p99_ms);
	MEDIAN_OF(max_ms);
	MEDIAN_OF(syncs_s);
	MEDIAN_OF(cpu_daemon);
	MEDIAN_OF(cpu_self);
	MEDIAN_OF(cpu_other);
#undef MEDIAN_OF
	if (m->prealloc == 0)
		snprintf(label, sizeof(label), "%s, prealloc 0",
		    m->always ? "always" : "never");
	else if (m->prealloc % (1 << 20) == 0)
		snprintf(label, sizeof(label), "%s, prealloc %" PRIu64 "M",
		    m->always ? "always" : "never", m->prealloc >> 20);
	else
		snprintf(label, sizeof(label), "%s, prealloc %" PRIu64 "K",
		    m->always ? "always" : "never", m->prealloc >> 10);
	printf("%-20s %5d %8d %5d %10.0f %7.1f %7.2f %7.2f %7.2f ", label,
	    c, p, b, med.events_s, med.mb_s, med.p50_ms, med.p99_ms,
	    med.max_ms);
	if (m->always)
		printf("%8.0f", med.syncs_s);
	else
		printf("%8s", "-");
	printf(" %7.0f%%/%.0f%%/%.0f%%\n", 100 * med.cpu_daemon,
	    100 * med.cpu_self, 100 * med.cpu_other);
	fflush(stdout);
}

/*
 * SIGINT, SIGTERM: stop the daemon and leave.  Only async-signal-safe
 * calls here; the directory is left for the user to remove.
 */
static void
bench_signal(int sig)
{
	static const char	 msg[] = "bench_ingest: interrupted; left ";
	int			 status;

	if (daemon_pid != -1) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, &status, 0);
	}
	if (tmp_dir[0] != '\0') {
		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)!write(STDERR_FILENO, tmp_dir, strlen(tmp_dir));
		(void)!write(STDERR_FILENO, "\n", 1);
	}
	_exit(128 + sig);
}

static void __attribute__((__noreturn__))
usage(void)
{
	fprintf(stderr, "usage: bench_ingest [-sv] [-x daemon] [-d dir] "
	    "[-m modes] [-c clients]\n"
	    "    [-p inflight] [-b batch] [-t seconds] [-w seconds] "
	    "[-n events] [-r runs]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	double		 sync_s[2], sync_us[2];
	uint64_t	 payload;
	char		*self, dflt[PATH_MAX], *end;
	int		 ch, mi, ci, pi, bi, i;

	log_init("bench_ingest", 0);
	signal(SIGPIPE, SIG_IGN);
	self = xstrdup(argv[0]);
	snprintf(dflt, sizeof(dflt), "%s/lamina-ingestd", dirname(self));
	daemon_path = dflt;
	parent_dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/var/tmp";
	bench_parse_modes("always,always:0,never");
	clients_list[nclients_list++] = 32;
	inflight_list[ninflight_list++] = 4;
	batch_list[nbatch_list++] = 100;
	while ((ch = getopt(argc, argv, "b:c:d:m:n:p:r:st:vw:x:")) != -1) {
		switch (ch) {
		case 'b':
			nbatch_list = bench_parse_list(optarg, batch_list, 1,
			    BENCH_MAX_BATCH, "-b");
			break;
		case 'c':
			nclients_list = bench_parse_list(optarg, clients_list,
			    1, 1000, "-c");
			break;
		case 'd':
			parent_dir = optarg;
			break;
		case 'm':
			bench_parse_modes(optarg);
			break;
		case 'n':
			target_events = strtoull(optarg, &end, 10);
			if (*end != '\0')
				fatalx("-n: %s: expected a number", optarg);
			break;
		case 'p':
			ninflight_list = bench_parse_list(optarg,
			    inflight_list, 1, 512, "-p");
			break;
		case 'r':
			runs = atoi(optarg);
			if (runs < 1 || runs > BENCH_MAX_RUNS)
				fatalx("-r: 1 to %d", BENCH_MAX_RUNS);
			break;
		case 's':
			no_baseline = 1;
			break;
		case 't':
			duration_s = strtod(optarg, &end);
			if (*end != '\0' || !(duration_s > 0) ||
			    duration_s > 3600)
				fatalx("-t: %s: expected seconds", optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		case 'w':
			warmup_s = strtod(optarg, &end);
			if (*end != '\0' || !(warmup_s >= 0) ||
			    warmup_s > 3600)
				fatalx("-w: %s: expected seconds", optarg);
			break;
		case 'x':
			daemon_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (access(daemon_path, X_OK) == -1)
		fatal("%s", daemon_path);
	atexit(bench_cleanup);
	signal(SIGINT, bench_signal);
	signal(SIGTERM, bench_signal);

	for (bi = 0, i = 0; bi < nbatch_list; bi++)
		if (batch_list[bi] > i)
			i = batch_list[bi];
	payload = bench_make_pool(BENCH_POOL_MIN > 4 * i ? BENCH_POOL_MIN :
	    4 * (size_t)i);

	/* The baseline, on the file system the daemons will use. */
	bench_dir_make();
	printf("lamina-ingestd under load: %s, data in %s (%s), %ld cores "
	    "shared by the load generator and the daemon\n", daemon_path,
	    parent_dir, bench_fstype(tmp_dir), sysconf(_SC_NPROCESSORS_ONLN));
	if (!no_baseline) {
		bench_raw_sync(tmp_dir, 1, &sync_s[0], &sync_us[0]);
		bench_raw_sync(tmp_dir, 0, &sync_s[1], &sync_us[1]);
		printf("baseline, 4 KiB pwrite + fdatasync for 1 s: %.0f "
		    "syncs/s (%.0f us) over written blocks, %.0f syncs/s "
		    "(%.0f us) appending\n", sync_s[0], sync_us[0], sync_s[1],
		    sync_us[1]);
	}
	bench_dir_remove();
	printf("events: %s, %.0f bytes packed on average; ", BENCH_STREAM,
	    (double)payload / npool);
	if (target_events > 0)
		printf("%" PRIu64 " events after %.1f s warm-up", target_events,
		    warmup_s);
	else
		printf("%.1f s after %.1f s warm-up", duration_s, warmup_s);
	printf("; median of %d run%s, one daemon each\n", runs,
	    runs > 1 ? "s" : "");
	printf("%-20s %5s %8s %5s %10s %7s %7s %7s %7s %8s %s\n", "fsync",
	    "conns", "inflight", "batch", "events/s", "MB/s", "p50 ms",
	    "p99 ms", "max ms", "syncs/s", "cpu ingestd/bench/other");
	fflush(stdout);

	for (mi = 0; mi < nmodes; mi++)
		for (ci = 0; ci < nclients_list; ci++)
			for (pi = 0; pi < ninflight_list; pi++)
				for (bi = 0; bi < nbatch_list; bi++)
					bench_row(&modes[mi], clients_list[ci],
					    inflight_list[pi], batch_list[bi]);
	free(self);
	free(pool);
	free(pool_off);
	free(pool_time);
	free(recs);
	return (0);
}
