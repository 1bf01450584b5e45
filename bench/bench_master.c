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
 * Micro-benchmark of the master dataset: appending realistic events (a
 * dozen fields, about 200 bytes) with an fdatasync every N KiB, with and
 * without zero fill written ahead, and scanning them back with the reader.
 * Beside each figure, the same bytes written raw (no encoding, no CRC) with
 * the same sync pattern, as the baseline of this machine in this run.
 * Each figure is the median of -r runs.
 *
 *   bench_master [-d DIR] [-n EVENTS] [-r RUNS]
 */

#include <sys/stat.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "file.h"
#include "benchlib.h"
#include "log.h"
#include "master.h"
#include "msg.h"
#include "xmalloc.h"

static char	 *dir;
static uint8_t	**events;
static size_t	 *lens;
static size_t	  nevents;
static uint64_t	  total_bytes;

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Realistic pageview events: 12 fields, about 200 bytes packed. */
static void
make_events(size_t n)
{
	static const char	*methods[] = { "GET", "POST", "PUT" };
	static const char	*countries[] = { "de", "us", "fr", "jp", "br" };
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	char			 s[128];
	size_t			 i;
	uint64_t		 x = 88172645463325252ULL;

	events = xcalloc(n, sizeof(*events));
	lens = xcalloc(n, sizeof(*lens));
	msgpack_sbuffer_init(&sb);
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		msgpack_sbuffer_clear(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 12);
		snprintf(s, sizeof(s), "/products/%" PRIu64 "/reviews",
		    x % 5000);
		msg_pack_kv_str(&pk, "url", s);
		snprintf(s, sizeof(s), "user-%06" PRIu64, (x >> 12) % 200000);
		msg_pack_kv_str(&pk, "user", s);
		msg_pack_kv_str(&pk, "referrer", "https://www.example.com/");
		msg_pack_kv_uint(&pk, "status", x % 10 ? 200 : 404);
		msg_pack_kv_uint(&pk, "bytes", 512 + x % 40000);
		msg_pack_kv_double(&pk, "latency_ms", (x % 10000) / 37.0);
		msg_pack_kv_double(&pk, "time", 1.7e9 + i / 1000.0);
		msg_pack_kv_str(&pk, "method", methods[x % 3]);
		msg_pack_kv_str(&pk, "country", countries[(x >> 5) % 5]);
		msg_pack_kv_str(&pk, "ua", "Mozilla/5.0 (X11; Linux x86_64)");
		snprintf(s, sizeof(s), "%016" PRIx64, x);
		msg_pack_kv_str(&pk, "session", s);
		msg_pack_kv_uint(&pk, "region", x % 17);
		events[i] = xmalloc(sb.size);
		memcpy(events[i], sb.data, sb.size);
		lens[i] = sb.size;
		total_bytes += sb.size;
	}
	msgpack_sbuffer_destroy(&sb);
	nevents = n;
}

/* Append every event, syncing each time sync_every bytes were added. */
static double
run_append(const char *stream, uint64_t sync_every, uint64_t prealloc,
    uint64_t *bytes)
{
	struct master_opts	 o;
	struct master_recovery	 rep;
	struct master_stream	*ms;
	struct master_stats	 st;
	uint64_t		 off, since = 0;
	char			*cause, cmd[1024];
	double			 t0, t;
	size_t			 i;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/master/%s'", dir, stream);
	if (system(cmd) != 0)
		fatalx("%s failed", cmd);
	memset(&o, 0, sizeof(o));
	o.segment_max_bytes = (uint64_t)1 << 30;
	o.segment_max_age_ms = 3600 * 1000;
	o.preallocate = prealloc;
	if ((ms = master_open(dir, stream, &o, &rep, &cause)) == NULL)
		fatalx("%s", cause);
	t0 = now();
	for (i = 0; i < nevents; i++) {
		if (master_append(ms, 0, 0, events[i], lens[i], NULL, 0, &off,
		    &cause) == -1)
			fatalx("%s", cause);
		since += lens[i] + 35;
		if (since >= sync_every || i == nevents - 1) {
			if (master_write(ms, &cause) == -1)
				fatalx("%s", cause);
			if (sync_every != UINT64_MAX &&
			    master_sync(ms, &cause) == -1)
				fatalx("%s", cause);
			since = 0;
		}
	}
	t = now() - t0;
	master_stats(ms, &st);
	*bytes = st.active_bytes;
	master_close(ms);
	return (t);
}

/* Scan the stream back with the reader. */
static double
run_scan(const char *stream)
{
	struct master_reader	*r;
	struct master_record	 rec;
	char			*cause;
	double			 t0;
	size_t			 n = 0;
	int			 rc;

	t0 = now();
	r = master_reader_open(dir, stream, 0, &cause);
	while ((rc = master_reader_next(r, &rec, &cause)) == 1)
		n++;
	if (rc == -1)
		fatalx("%s", cause);
	if (n != nevents)
		fatalx("scan: %zu events, expected %zu", n, nevents);
	master_reader_free(r);
	return (now() - t0);
}

/* The baseline: the same bytes, raw, in chunks of sync_every. */
static double
run_raw(uint64_t bytes, uint64_t sync_every, int prezero)
{
	static uint8_t	 chunk[1 << 20];
	char		 path[1024];
	uint64_t	 off = 0, n;
	double		 t0, t;
	int		 fd;

	memset(chunk, 'x', sizeof(chunk));
	snprintf(path, sizeof(path), "%s/raw.bin", dir);
	unlink(path);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("%s", path);
	if (prezero) {
		if (file_write_zeros(fd, 0, bytes) == -1 || fsync(fd) == -1)
			fatal("%s: zero", path);
	}
	t0 = now();
	while (off < bytes) {
		n = bytes - off < sync_every ? bytes - off : sync_every;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		if (file_pwrite_all(fd, chunk, n, off) == -1)
			fatal("%s: write", path);
		off += n;
		if (off % sync_every == 0 || off == bytes)
			if (fdatasync(fd) == -1)
				fatal("%s: fdatasync", path);
	}
	t = now() - t0;
	close(fd);
	unlink(path);
	return (t);
}

int
main(int argc, char **argv)
{
	static const struct {
		const char	*name;
		uint64_t	 sync_every;
		uint64_t	 prealloc;
	} modes[] = {
		{ "fdatasync every 64 KiB", 64 << 10, 0 },
		{ "fdatasync every 64 KiB, zero fill 4 MiB", 64 << 10, 4 << 20 },
		{ "fdatasync every 1 MiB", 1 << 20, 0 },
		{ "no fdatasync", UINT64_MAX, 0 },
	};
	double		 t[32], r[32], s[32];
	uint64_t	 bytes = 0;
	int		 ch, runs = 5, i, m;
	size_t		 n = 500000;

	log_init("bench_master", 0);
	dir = xstrdup("build/bench-data");
	while ((ch = getopt(argc, argv, "d:n:r:")) != -1) {
		switch (ch) {
		case 'd':
			free(dir);
			dir = xstrdup(optarg);
			break;
		case 'n':
			n = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			runs = atoi(optarg);
			if (runs < 1 || runs > 32)
				fatalx("-r: 1 to 32");
			break;
		default:
			fprintf(stderr, "usage: bench_master [-d dir] "
			    "[-n events] [-r runs]\n");
			return (1);
		}
	}
	if (file_mkdirs(dir, 0755) == -1)
		fatal("%s", dir);
	make_events(n);
	printf("master dataset: %zu events of %.0f bytes on average, "
	    "median of %d runs, in %s\n", nevents,
	    (double)total_bytes / nevents, runs, dir);
	printf("%-42s %12s %10s %14s %8s\n", "append", "events/s", "MB/s",
	    "raw same MB/s", "ratio");
	for (m = 0; m < (int)(sizeof(modes) / sizeof(modes[0])); m++) {
		for (i = 0; i < runs; i++) {
			t[i] = run_append("bench", modes[m].sync_every,
			    modes[m].prealloc, &bytes);
			r[i] = modes[m].sync_every == UINT64_MAX ? 0 :
			    run_raw(bytes, modes[m].sync_every,
			    modes[m].prealloc > 0);
		}
		{
			double	tm = median(t, runs), rm = median(r, runs);

			printf("%-42s %12.0f %10.1f ", modes[m].name,
			    nevents / tm, bytes / tm / 1e6);
			if (rm > 0)
				printf("%14.1f %7.2fx\n", bytes / rm / 1e6,
				    (bytes / tm) / (bytes / rm));
			else
				printf("%14s %8s\n", "-", "-");
		}
	}
	for (i = 0; i < runs; i++)
		s[i] = run_scan("bench");
	printf("%-42s %12.0f %10.1f\n", "scan with the reader (page cache)",
	    nevents / median(s, runs), bytes / median(s, runs) / 1e6);
	return (0);
}
