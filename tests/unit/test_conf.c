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
 * The config module: every key with its default and bounds, path
 * resolution, the stream schemas, and the exact message, line and column
 * for broken YAML and broken configs of every kind.  Most cases are rows
 * of tables (a file and the messages it must produce) run as Check loop
 * tests.  Each test writes its files into a fresh temporary directory.
 * Also the size, duration and name parsers, and conf/lamina.yaml itself.
 */

#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "xmalloc.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* The two required keys, lines 1 and 2 of most test files. */
#define BASE		"data_dir: /d\nrun_dir: /r\n"
#define NAME_RULE	"1 to 64 letters, digits, '_', '.' or '-', " \
			"starting with a letter"
#define LOOPBACK	"host must be a loopback address: 127.x.x.x, ::1 " \
			"or localhost"

static char	 tmpdir[1024];
static char	 cfg[PATH_MAX];		/* tmpdir/t.yaml */

static void
setup(void)
{
	const char	*base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/lamina-conf-XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(cfg, sizeof(cfg), "%s/t.yaml", tmpdir);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return (remove(path));
}

static void
teardown(void)
{
	ck_assert_int_eq(nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Write len bytes of text to path. */
static void
write_bytes(const char *path, const char *text, size_t len)
{
	FILE	*f;

	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void
write_text(const char *path, const char *text)
{
	write_bytes(path, text, strlen(text));
}

/* All messages, one per line, for failure output. */
static char *
joined(char **errs, size_t n)
{
	char	*out = xstrdup(""), *tmp;
	size_t	 i;

	for (i = 0; i < n; i++) {
		xasprintf(&tmp, "%s  %s\n", out, errs[i]);
		free(out);
		out = tmp;
	}
	return (out);
}

/* Load path, which must succeed. */
static struct conf *
load_path_ok(const char *path)
{
	struct conf	*c;
	char		**errs, *all;
	size_t		 n;

	c = conf_load(path, &errs, &n);
	all = joined(errs, n);
	ck_assert_msg(c != NULL && n == 0 && errs == NULL,
	    "%s: unexpected errors:\n%s", path, all);
	free(all);
	return (c);
}

/* Write text to cfg and load it, which must succeed. */
static struct conf *
load_ok(const char *text)
{
	write_text(cfg, text);
	return (load_path_ok(cfg));
}

/*
 * Load path, which must fail with exactly the messages want[0..nwant),
 * each given without the leading file name (which must be prefix).
 */
static void
expect_path(const char *path, const char *prefix, const char *const *want,
    size_t nwant)
{
	struct conf	*c;
	char		**errs, *all, *w;
	size_t		 i, n;
	int		 ok;

	c = conf_load(path, &errs, &n);
	ck_assert_ptr_null(c);
	ok = n == nwant && (n == 0) == (errs == NULL);
	for (i = 0; ok && i < n; i++) {
		xasprintf(&w, "%s%s", prefix, want[i]);
		ok = strcmp(errs[i], w) == 0;
		free(w);
	}
	all = joined(errs, n);
	ck_assert_msg(ok, "%s: got %zu messages:\n%swanted %zu, first %s%s",
	    path, n, all, nwant, prefix, nwant > 0 ? want[0] : "(none)");
	free(all);
	conf_free_errors(errs, n);
}

/* Write text to cfg; loading it must fail with the NULL-ended messages. */
static void
expect_errors(const char *text, ...)
{
	const char	*want[256];
	va_list		 ap;
	size_t		 n = 0;

	va_start(ap, text);
	while ((want[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	write_text(cfg, text);
	expect_path(cfg, cfg, want, n);
}

/* A file and the messages it must produce, in order. */
struct bad_case {
	const char	*yaml;
	const char	*want[6];
};

static void
run_case(const struct bad_case *bc)
{
	size_t	 n;

	for (n = 0; n < nitems(bc->want) && bc->want[n] != NULL; n++)
		;
	write_text(cfg, bc->yaml);
	expect_path(cfg, cfg, bc->want, n);
}

/*
 * The tables.
 */

/* YAML the parser refuses, and YAML features we refuse. */
static const struct bad_case bad_yaml[] = {
	/* An unclosed quote: reported at the end, with where it began. */
	{ BASE "log:\n  verbose: \"3\n", {
	    ":5:1: yaml: found unexpected end of stream (while scanning a "
	    "quoted scalar at 4:12)" } },
	{ BASE "sockets:\n  ingest: 'in.sock\nlog: {}\n", {
	    ":6:1: yaml: found unexpected end of stream (while scanning a "
	    "quoted scalar at 4:11)" } },
	/* Bad indentation. */
	{ BASE "ingest:\n  fsync: always\n verify: full\n", {
	    ":5:2: yaml: did not find expected key (while parsing a block "
	    "mapping at 1:1)" } },
	{ BASE "ingest:\n  fsync: always\n    verify: full\n", {
	    ":5:11: yaml: mapping values are not allowed in this context" } },
	/* A tab for indentation. */
	{ BASE "ingest:\n\tfsync: always\n", {
	    ":4:1: yaml: found character that cannot start any token (a tab: "
	    "indent with spaces)" } },
	{ BASE "ingest:\n  fsync: always\n\tverify: full\n", {
	    ":5:1: yaml: found a tab character that violates indentation "
	    "(while scanning a plain scalar at 4:10)" } },
	/* A mapping inside a plain scalar. */
	{ BASE "log: verbose: 1\n", {
	    ":3:13: yaml: mapping values are not allowed in this context" } },
	/* Unclosed flow collections. */
	{ BASE "streams: [a, b\n", {
	    ":4:1: yaml: did not find expected ',' or ']' (while parsing a "
	    "flow sequence at 3:10)" } },
	{ BASE "log: {verbose: 1\n", {
	    ":4:1: yaml: did not find expected ',' or '}' (while parsing a "
	    "flow mapping at 3:6)" } },
	/* Bytes that are not UTF-8, and control characters. */
	{ BASE "streams:\n  caf\xff:\n", {
	    ":4:6: yaml: invalid leading UTF-8 octet (0xff)" } },
	{ BASE "streams:\n  \xc3\x28x: {}\n", {
	    ":4:4: yaml: invalid trailing UTF-8 octet (0x28)" } },
	{ BASE "log:\n  verbose: 1\x01\n", {
	    ":4:13: yaml: control characters are not allowed (0x01)" } },
	/* Aliases, tags, NUL, a second document. */
	{ BASE "batch:\n  workers: &w 4\n  interval: *w\n", {
	    ":5:13: yaml: aliases are not supported (*w)" } },
	{ BASE "batch:\n  workers: !!int 4\n", {
	    ":4:12: yaml: tags are not supported (tag:yaml.org,2002:int)" } },
	{ BASE "ingest: !mine {fsync: never}\n", {
	    ":3:9: yaml: tags are not supported (!mine)" } },
	{ BASE "ingest:\n  verify: \"fu\\0ll\"\n", {
	    ":4:11: yaml: NUL characters are not supported" } },
	{ BASE "---\nlog: {}\n", {
	    ":3:1: yaml: only one document is allowed" } },
	/* The walk goes on after a refused node. */
	{ BASE "batch:\n  workers: &w 4\n  interval: *w\n  bogus: 1\n", {
	    ":5:13: yaml: aliases are not supported (*w)",
	    ":6:3: batch.bogus: unknown key" } },
};

/* Files that are not a mapping, and missing required keys. */
static const struct bad_case bad_top[] = {
	{ "", { ":1:1: expected a mapping at the top level" } },
	{ "# nothing but a comment\n\n", {
	    ":1:1: expected a mapping at the top level" } },
	{ "---\n", { ":2:1: expected a mapping at the top level" } },
	{ "hello\n", { ":1:1: expected a mapping at the top level" } },
	{ "\n\n- data_dir: /d\n", {
	    ":3:1: expected a mapping at the top level" } },
	{ "[data_dir, run_dir]\n", {
	    ":1:1: expected a mapping at the top level" } },
	{ "log: {}\n", {
	    ":1:1: data_dir: missing required key",
	    ":1:1: run_dir: missing required key" } },
	{ "# comment\ndata_dir: /d\n", {
	    ":1:1: run_dir: missing required key" } },
	{ "data_dir:\nrun_dir: /r\n", {
	    ":1:1: data_dir: missing value" } },
	{ "data_dir: ~\nrun_dir: /r\n", {
	    ":1:11: data_dir: missing value" } },
	{ "data_dir: /d\nrun_dir: null\n", {
	    ":2:10: run_dir: missing value" } },
	{ "data_dir: \"\"\nrun_dir: /r\n", {
	    ":1:11: data_dir: must not be empty" } },
	{ "data_dir: [a]\nrun_dir: {b: c}\n", {
	    ":1:11: data_dir: expected a path",
	    ":2:10: run_dir: expected a path" } },
};

/* Unknown and duplicate keys, at every level. */
static const struct bad_case bad_keys[] = {
	{ BASE "data_dirs: /x\n", { ":3:1: data_dirs: unknown key" } },
	{ BASE "Log: {}\n", { ":3:1: Log: unknown key" } },
	{ BASE "view: {}\n", { ":3:1: view: unknown key" } },
	{ BASE "sockets:\n  query: q.sock\n", {
	    ":4:3: sockets.query: unknown key" } },
	{ BASE "log:\n  level: debug\n", { ":4:3: log.level: unknown key" } },
	{ BASE "ingest:\n  segment_size: 1MiB\n", {
	    ":4:3: ingest.segment_size: unknown key" } },
	{ BASE "batch: {interval: 1m, threads: 4}\n", {
	    ":3:23: batch.threads: unknown key" } },
	{ BASE "streams:\n  s:\n    fields: {a: int}\n    index: a\n", {
	    ":6:5: streams.s.index: unknown key" } },
	{ BASE "streams:\n  s:\n    fields:\n"
	    "      a: {type: int, optional: true}\n", {
	    ":6:22: streams.s.fields.a.optional: unknown key" } },
	/* A key with bytes that must not reach a terminal raw. */
	{ BASE "\"a\\tb\\e\": 1\n", { ":3:1: a\\x09b\\x1b: unknown key" } },
	{ BASE "? [a, b]\n: 1\n", { ":3:3: keys must be plain strings" } },
	{ BASE "data_dir: /e\n", {
	    ":3:1: data_dir: duplicate key, first at line 1" } },
	{ BASE "ingest:\n  fsync: never\n  fsync: always\n", {
	    ":5:3: ingest.fsync: duplicate key, first at line 4" } },
	{ BASE "log: {}\nlog: {verbose: 9}\nlog:\n", {
	    ":4:1: log: duplicate key, first at line 3",
	    ":5:1: log: duplicate key, first at line 3" } },
	{ BASE "streams:\n  s: {fields: {a: int, b: int, a: float}}\n", {
	    ":4:32: streams.s.fields.a: duplicate key, first at line 4" } },
	{ BASE "streams:\n  s: {fields: {a: int}}\n  t: {fields: {a: int}}\n"
	    "  s: {fields: {a: int}}\n", {
	    ":6:3: streams.s: duplicate key, first at line 4" } },
	/* Quoting does not make a different key. */
	{ BASE "\"run_dir\": /s\n", {
	    ":3:1: run_dir: duplicate key, first at line 2" } },
};

/* A value of the wrong type, for every kind of key. */
static const struct bad_case bad_types[] = {
	/* size */
	{ BASE "ingest:\n  segment_max_bytes: big\n", {
	    ":4:22: ingest.segment_max_bytes: expected a size such as 64MiB "
	    "(big)" } },
	{ BASE "ingest:\n  segment_max_bytes: -1MiB\n", {
	    ":4:22: ingest.segment_max_bytes: expected a size such as 64MiB "
	    "(-1MiB)" } },
	{ BASE "ingest:\n  segment_max_bytes: 1.5GiB\n", {
	    ":4:22: ingest.segment_max_bytes: expected a size such as 64MiB "
	    "(1.5GiB)" } },
	{ BASE "ingest:\n  segment_max_bytes: 64 MiBs\n", {
	    ":4:22: ingest.segment_max_bytes: expected a size such as 64MiB "
	    "(64 MiBs)" } },
	{ BASE "sockets:\n  max_message_bytes: 99999999999999999999TiB\n", {
	    ":4:22: sockets.max_message_bytes: expected a size such as 64MiB "
	    "(99999999999999999999TiB)" } },
	{ BASE "ingest:\n  segment_max_bytes: {a: 1}\n", {
	    ":4:22: ingest.segment_max_bytes: expected a size such as 64MiB" }
	    },
	/* duration */
	{ BASE "ingest:\n  segment_max_age: soon\n", {
	    ":4:20: ingest.segment_max_age: expected a duration such as 30s "
	    "or 1h30m (soon)" } },
	{ BASE "ingest:\n  segment_max_age: 30\n", {
	    ":4:20: ingest.segment_max_age: missing unit: ms, s, m, h or d "
	    "(30)" } },
	{ BASE "ingest:\n  segment_max_age: 1.5h\n", {
	    ":4:20: ingest.segment_max_age: expected a duration such as 30s "
	    "or 1h30m (1.5h)" } },
	{ BASE "batch:\n  interval: 1h30\n", {
	    ":4:13: batch.interval: expected a duration such as 30s or 1h30m "
	    "(1h30)" } },
	{ BASE "batch:\n  interval: [1m]\n", {
	    ":4:13: batch.interval: expected a duration such as 30s or 1h30m" }
	    },
	/* integer */
	{ BASE "batch:\n  workers: many\n", {
	    ":4:12: batch.workers: expected an integer (many)" } },
	{ BASE "batch:\n  workers: 2.5\n", {
	    ":4:12: batch.workers: expected an integer (2.5)" } },
	{ BASE "batch:\n  workers: 0x10\n", {
	    ":4:12: batch.workers: expected an integer (0x10)" } },
	{ BASE "log:\n  verbose: [1]\n", {
	    ":4:12: log.verbose: expected an integer" } },
	{ BASE "log:\n  verbose:\n", {
	    ":4:3: log.verbose: missing value" } },
	/* boolean */
	{ BASE "streams:\n  s:\n    fields:\n"
	    "      a: {type: int, required: maybe}\n", {
	    ":6:32: streams.s.fields.a.required: expected true or false "
	    "(maybe)" } },
	{ BASE "streams:\n  s:\n    fields:\n"
	    "      a: {type: int, required: yes}\n", {
	    ":6:32: streams.s.fields.a.required: expected true or false "
	    "(yes)" } },
	{ BASE "streams:\n  s:\n    fields:\n"
	    "      a: {type: int, required: [true]}\n", {
	    ":6:32: streams.s.fields.a.required: expected true or false" } },
	/* enumeration */
	{ BASE "ingest:\n  fsync: sometimes\n", {
	    ":4:10: ingest.fsync: must be one of always, interval, never "
	    "(sometimes)" } },
	{ BASE "ingest:\n  fsync: Always\n", {
	    ":4:10: ingest.fsync: must be one of always, interval, never "
	    "(Always)" } },
	{ BASE "ingest:\n  verify: {full: true}\n", {
	    ":4:11: ingest.verify: must be one of full, quick" } },
	/* mode */
	{ BASE "sockets:\n  mode: rw-rw----\n", {
	    ":4:9: sockets.mode: expected an octal mode such as 0660 "
	    "(rw-rw----)" } },
	{ BASE "sockets:\n  mode: 0689\n", {
	    ":4:9: sockets.mode: expected an octal mode such as 0660 (0689)" }
	    },
	{ BASE "sockets:\n  mode: -1\n", {
	    ":4:9: sockets.mode: expected an octal mode such as 0660 (-1)" } },
	/* string */
	{ BASE "ingest:\n  forward_tcp: {host: localhost}\n", {
	    ":4:16: ingest.forward_tcp: expected a string" } },
	{ BASE "sockets:\n  ingest: [a.sock]\n", {
	    ":4:11: sockets.ingest: expected a path" } },
	{ BASE "sockets:\n  ingest: ''\n", {
	    ":4:11: sockets.ingest: must not be empty" } },
	/* mapping (lists and scalars where a mapping belongs) */
	{ BASE "ingest: 5\n", { ":3:9: ingest: expected a mapping" } },
	{ BASE "ingest: [fsync, always]\n", {
	    ":3:9: ingest: expected a mapping" } },
	{ BASE "streams: [pageviews]\n", {
	    ":3:10: streams: expected a mapping" } },
	{ BASE "streams:\n  - pageviews\n", {
	    ":4:3: streams: expected a mapping" } },
	{ BASE "streams:\n  s: 5\n", { ":4:6: streams.s: expected a mapping" } },
	{ BASE "streams:\n  s: {fields: [a, b]}\n", {
	    ":4:15: streams.s.fields: expected a mapping" } },
	{ BASE "streams:\n  s: {fields: a}\n", {
	    ":4:15: streams.s.fields: expected a mapping" } },
};

/* Values out of range, on both sides. */
static const struct bad_case bad_ranges[] = {
	{ BASE "ingest:\n  segment_max_bytes: 4095\n", {
	    ":4:22: ingest.segment_max_bytes: must be between 4KiB and 4GiB "
	    "(4095)" } },
	{ BASE "ingest:\n  segment_max_bytes: 4294967297\n", {
	    ":4:22: ingest.segment_max_bytes: must be between 4KiB and 4GiB "
	    "(4294967297)" } },
	{ BASE "ingest:\n  segment_max_bytes: 1T\n", {
	    ":4:22: ingest.segment_max_bytes: must be between 4KiB and 4GiB "
	    "(1T)" } },
	{ BASE "ingest:\n  segment_max_age: 99ms\n", {
	    ":4:20: ingest.segment_max_age: must be between 100ms and 30d "
	    "(99ms)" } },
	{ BASE "ingest:\n  segment_max_age: 30d1ms\n", {
	    ":4:20: ingest.segment_max_age: must be between 100ms and 30d "
	    "(30d1ms)" } },
	{ BASE "ingest:\n  segment_max_age: 0\n", {
	    ":4:20: ingest.segment_max_age: must be between 100ms and 30d "
	    "(0)" } },
	{ BASE "ingest:\n  preallocate: 1KiB\n", {
	    ":4:16: ingest.preallocate: must be 0 or between 64KiB and 1GiB "
	    "(1KiB)" } },
	{ BASE "ingest:\n  preallocate: 2GiB\n  segment_max_bytes: 4GiB\n", {
	    ":4:16: ingest.preallocate: must be 0 or between 64KiB and 1GiB "
	    "(2GiB)" } },
	{ BASE "ingest:\n  fsync: interval\n  fsync_interval: 0\n", {
	    ":5:19: ingest.fsync_interval: must be between 1ms and 1h (0)" } },
	{ BASE "ingest:\n  fsync: interval\n  fsync_interval: 61m\n", {
	    ":5:19: ingest.fsync_interval: must be between 1ms and 1h (61m)" }
	    },
	{ BASE "ingest:\n  chunk_id_ttl: 999ms\n", {
	    ":4:17: ingest.chunk_id_ttl: must be between 1s and 30d (999ms)" }
	    },
	{ BASE "ingest:\n  chunk_id_ttl: 31d\n", {
	    ":4:17: ingest.chunk_id_ttl: must be between 1s and 30d (31d)" } },
	{ BASE "batch:\n  interval: 500ms\n", {
	    ":4:13: batch.interval: must be between 1s and 1d (500ms)" } },
	{ BASE "batch:\n  interval: 1d1s\n", {
	    ":4:13: batch.interval: must be between 1s and 1d (1d1s)" } },
	{ BASE "batch:\n  workers: 0\n", {
	    ":4:12: batch.workers: must be between 1 and 64 (0)" } },
	{ BASE "batch:\n  workers: 65\n", {
	    ":4:12: batch.workers: must be between 1 and 64 (65)" } },
	{ BASE "log:\n  verbose: 4\n", {
	    ":4:12: log.verbose: must be between 0 and 3 (4)" } },
	{ BASE "log:\n  verbose: -1\n", {
	    ":4:12: log.verbose: must be between 0 and 3 (-1)" } },
	{ BASE "sockets:\n  max_clients: 0\n", {
	    ":4:16: sockets.max_clients: must be between 1 and 65536 (0)" } },
	{ BASE "sockets:\n  max_clients: 65537\n", {
	    ":4:16: sockets.max_clients: must be between 1 and 65536 (65537)" }
	    },
	{ BASE "sockets:\n  max_clients: 99999999999999999999\n", {
	    ":4:16: sockets.max_clients: must be between 1 and 65536 "
	    "(99999999999999999999)" } },
	{ BASE "sockets:\n  max_clients: -99999999999999999999\n", {
	    ":4:16: sockets.max_clients: must be between 1 and 65536 "
	    "(-99999999999999999999)" } },
	{ BASE "sockets:\n  max_message_bytes: 1023\n", {
	    ":4:22: sockets.max_message_bytes: must be between 1KiB and 1GiB "
	    "(1023)" } },
	{ BASE "sockets:\n  max_client_buffer: 32KiB\n  max_message_bytes: 1KiB\n",
	    { ":4:22: sockets.max_client_buffer: must be between 64KiB and "
	    "4GiB (32KiB)" } },
	{ BASE "sockets:\n  mode: 01000\n", {
	    ":4:9: sockets.mode: must be at most 0777 (01000)" } },
	{ BASE "sockets:\n  mode: 0o7777\n", {
	    ":4:9: sockets.mode: must be at most 0777 (0o7777)" } },
};

/* Keys that are fine alone but not together. */
static const struct bad_case bad_combos[] = {
	{ BASE "ingest:\n  preallocate: 64MiB\n", {
	    ":4:16: ingest.preallocate: must be smaller than "
	    "ingest.segment_max_bytes, 64MiB (64MiB)" } },
	{ BASE "ingest:\n  segment_max_bytes: 1MiB\n  preallocate: 2MiB\n", {
	    ":5:16: ingest.preallocate: must be smaller than "
	    "ingest.segment_max_bytes, 1MiB (2MiB)" } },
	{ BASE "ingest:\n  fsync_interval: 5s\n", {
	    ":4:19: ingest.fsync_interval: fsync_interval is only used with "
	    "fsync: interval (5s)" } },
	{ BASE "ingest:\n  fsync_interval: 5s\n  fsync: never\n", {
	    ":4:19: ingest.fsync_interval: fsync_interval is only used with "
	    "fsync: interval (5s)" } },
	{ BASE "sockets:\n  max_client_buffer: 1MiB\n", {
	    ":4:22: sockets.max_client_buffer: must be at least "
	    "sockets.max_message_bytes, 16MiB (1MiB)" } },
	{ BASE "sockets:\n  max_message_bytes: 128MiB\n", {
	    ":4:22: sockets.max_message_bytes: must be at most "
	    "sockets.max_client_buffer, 64MiB (128MiB)" } },
	{ BASE "sockets:\n  batch: ingest.sock\n", {
	    ":4:10: sockets.batch: same path as sockets.ingest "
	    "(/r/ingest.sock)" } },
	{ BASE "sockets:\n  serve: /r/speed.sock\n", {
	    ":4:10: sockets.serve: same path as sockets.speed "
	    "(/r/speed.sock)" } },
	/* No combination error about a value that is itself wrong. */
	{ BASE "ingest:\n  fsync_interval: 5s\n  fsync: sometimes\n", {
	    ":5:10: ingest.fsync: must be one of always, interval, never "
	    "(sometimes)" } },
	{ BASE "ingest:\n  segment_max_bytes: 1MiB\n  preallocate: 1KiB\n", {
	    ":5:16: ingest.preallocate: must be 0 or between 64KiB and 1GiB "
	    "(1KiB)" } },
};

/* ingest.forward_tcp. */
static const struct bad_case bad_forward[] = {
	{ BASE "ingest: {forward_tcp: 10.0.0.1:24224}\n", {
	    ":3:23: ingest.forward_tcp: " LOOPBACK " (10.0.0.1:24224)" } },
	{ BASE "ingest: {forward_tcp: 0.0.0.0:24224}\n", {
	    ":3:23: ingest.forward_tcp: " LOOPBACK " (0.0.0.0:24224)" } },
	{ BASE "ingest: {forward_tcp: example.com:24224}\n", {
	    ":3:23: ingest.forward_tcp: " LOOPBACK " (example.com:24224)" } },
	{ BASE "ingest: {forward_tcp: \":24224\"}\n", {
	    ":3:23: ingest.forward_tcp: " LOOPBACK " (:24224)" } },
	{ BASE "ingest: {forward_tcp: \"[::2]:24224\"}\n", {
	    ":3:23: ingest.forward_tcp: " LOOPBACK " ([::2]:24224)" } },
	{ BASE "ingest: {forward_tcp: 127.0.0.1}\n", {
	    ":3:23: ingest.forward_tcp: expected HOST:PORT such as "
	    "127.0.0.1:24224 (127.0.0.1)" } },
	{ BASE "ingest: {forward_tcp: \"[::1]\"}\n", {
	    ":3:23: ingest.forward_tcp: expected HOST:PORT such as "
	    "127.0.0.1:24224 ([::1])" } },
	{ BASE "ingest: {forward_tcp: \"::1:24224\"}\n", {
	    ":3:23: ingest.forward_tcp: write an IPv6 address in brackets, "
	    "such as [::1]:24224 (::1:24224)" } },
	{ BASE "ingest: {forward_tcp: \"127.0.0.1:0\"}\n", {
	    ":3:23: ingest.forward_tcp: port must be between 1 and 65535 "
	    "(127.0.0.1:0)" } },
	{ BASE "ingest: {forward_tcp: \"127.0.0.1:65536\"}\n", {
	    ":3:23: ingest.forward_tcp: port must be between 1 and 65535 "
	    "(127.0.0.1:65536)" } },
	{ BASE "ingest: {forward_tcp: \"localhost:fluent\"}\n", {
	    ":3:23: ingest.forward_tcp: port must be between 1 and 65535 "
	    "(localhost:fluent)" } },
	{ BASE "ingest: {forward_tcp: \"localhost:\"}\n", {
	    ":3:23: ingest.forward_tcp: port must be between 1 and 65535 "
	    "(localhost:)" } },
	{ BASE "ingest: {forward_tcp: \"localhost:-1\"}\n", {
	    ":3:23: ingest.forward_tcp: port must be between 1 and 65535 "
	    "(localhost:-1)" } },
};

/* Stream and field definitions. */
static const struct bad_case bad_streams[] = {
	{ BASE "streams:\n  9lives: {fields: {a: int}}\n", {
	    ":4:3: streams: bad stream name: " NAME_RULE " (9lives)" } },
	{ BASE "streams:\n  _s: {fields: {a: int}}\n", {
	    ":4:3: streams: bad stream name: " NAME_RULE " (_s)" } },
	{ BASE "streams:\n  \"a b\": {fields: {a: int}}\n", {
	    ":4:3: streams: bad stream name: " NAME_RULE " (a b)" } },
	{ BASE "streams:\n  \"\": {fields: {a: int}}\n", {
	    ":4:3: streams: bad stream name: " NAME_RULE " ()" } },
	{ BASE "streams:\n  a/b: {fields: {a: int}}\n", {
	    ":4:3: streams: bad stream name: " NAME_RULE " (a/b)" } },
	/* Non-ASCII (valid UTF-8) and escaped control bytes. */
	{ BASE "streams:\n  caf\xc3\xa9: {fields: {a: int}}\n", {
	    ":4:3: streams: bad stream name: " NAME_RULE " (caf\\xc3\\xa9)" } },
	{ BASE "streams:\n  \"ab\\x01\\x1b[2J\": {fields: {a: int}}\n", {
	    ":4:3: streams: bad stream name: " NAME_RULE
	    " (ab\\x01\\x1b[2J)" } },
	/* 65 bytes. */
	{ BASE "streams:\n  "
	    "a1234567890123456789012345678901234567890123456789012345678901234"
	    ": {fields: {a: int}}\n", {
	    ":4:3: streams: bad stream name: " NAME_RULE
	    " (a1234567890123456789012345678901234567890123456789012345678901234)"
	    } },
	{ BASE "streams:\n  s:\n    fields:\n      1st: int\n", {
	    ":6:7: streams.s.fields: bad field name: " NAME_RULE " (1st)" } },
	{ BASE "streams:\n  s:\n    fields:\n      \"a\\xffb\": int\n", {
	    ":6:7: streams.s.fields: bad field name: " NAME_RULE
	    " (a\\xc3\\xbfb)" } },
	{ BASE "streams:\n  s:\n    fields:\n      a: integer\n", {
	    ":6:10: streams.s.fields.a: must be one of string, int, float, "
	    "bool (integer)" } },
	{ BASE "streams:\n  s:\n    fields:\n      a: String\n", {
	    ":6:10: streams.s.fields.a: must be one of string, int, float, "
	    "bool (String)" } },
	{ BASE "streams:\n  s:\n    fields:\n      a:\n", {
	    ":6:7: streams.s.fields.a: missing value" } },
	{ BASE "streams:\n  s:\n    fields:\n      a: [int]\n", {
	    ":6:10: streams.s.fields.a: expected a type or a mapping such as "
	    "{type: string}" } },
	{ BASE "streams:\n  s:\n    fields:\n      a: {required: false}\n", {
	    ":6:7: streams.s.fields.a.type: missing required key" } },
	{ BASE "streams:\n  s:\n    fields:\n      a: {type: text}\n", {
	    ":6:17: streams.s.fields.a.type: must be one of string, int, "
	    "float, bool (text)" } },
	{ BASE "streams:\n  s: {time: t}\n", {
	    ":4:3: streams.s.fields: missing required key" } },
	{ BASE "streams:\n  s:\n", {
	    ":4:3: streams.s.fields: missing required key" } },
	{ BASE "streams:\n  s: {fields: {}}\n", {
	    ":4:7: streams.s.fields: a stream needs at least one field" } },
	{ BASE "streams:\n  s:\n    fields:\n    time: t\n", {
	    ":5:5: streams.s.fields: a stream needs at least one field" } },
	/* The time field. */
	{ BASE "streams:\n  s:\n    fields: {a: int}\n    time: ts\n", {
	    ":6:11: streams.s.time: time field is not a field of the stream "
	    "(ts)" } },
	{ BASE "streams:\n  s:\n    time: a\n    fields: {a: string}\n", {
	    ":5:11: streams.s.time: time field must be int or float, not "
	    "string (a)" } },
	{ BASE "streams:\n  s:\n    fields: {a: {type: bool}}\n    time: a\n", {
	    ":6:11: streams.s.time: time field must be int or float, not "
	    "bool (a)" } },
	{ BASE "streams:\n  s:\n    fields: {a: int}\n    time: [a]\n", {
	    ":6:11: streams.s.time: expected a field name" } },
	{ BASE "streams:\n  s:\n    fields: {a: int}\n    time:\n", {
	    ":6:5: streams.s.time: missing value" } },
	/* A field with a problem is not then also "not a field". */
	{ BASE "streams:\n  s:\n    fields: {a: date}\n    time: a\n", {
	    ":5:17: streams.s.fields.a: must be one of string, int, float, "
	    "bool (date)" } },
};

/* Views: keys, bucket, group_by, where, metrics, with positions. */
#define VHEAD		BASE "streams:\n  pv: {fields: {url: string, " \
			"user: string, status: int, bytes: int, lat: float, " \
			"bot: bool}}\nviews:\n  v:\n"
static const struct bad_case bad_views[] = {
	/* Names equal but for case: their SQLite tables would be one. */
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "  V: {stream: pv, bucket: 1d, metrics: {n: count}}\n", {
	    ":10:3: views: view V differs from view v only in case (V)" } },
	/* The keys of a view; without a stream nothing else is checked. */
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    color: red\n", {
	    ":10:5: views.v.color: unknown key" } },
	{ VHEAD
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n", {
	    ":6:3: views.v.stream: missing required key" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    metrics: {n: count}\n", {
	    ":6:3: views.v.bucket: missing required key" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n", {
	    ":6:3: views.v.metrics: missing required key" } },
	{ VHEAD
	    "    stream: pv\n", {
	    ":6:3: views.v.bucket: missing required key",
	    ":6:3: views.v.metrics: missing required key" } },
	{ VHEAD
	    "    stream: pw\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n", {
	    ":7:13: views.v.stream: no stream named pw (pw)" } },
	{ VHEAD
	    "    stream: [pv]\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n", {
	    ":7:13: views.v.stream: expected a stream name" } },
	/* bucket: whole seconds, from 1s to 366d. */
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1500ms\n"
	    "    metrics: {n: count}\n", {
	    ":8:13: views.v.bucket: must be a whole number of seconds "
	    "(1500ms)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 0\n"
	    "    metrics: {n: count}\n", {
	    ":8:13: views.v.bucket: must be a whole number of seconds (0)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 367d\n"
	    "    metrics: {n: count}\n", {
	    ":8:13: views.v.bucket: must be at most 366d (367d)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 366d1s\n"
	    "    metrics: {n: count}\n", {
	    ":8:13: views.v.bucket: must be at most 366d (366d1s)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1x\n"
	    "    metrics: {n: count}\n", {
	    ":8:13: views.v.bucket: expected a duration such as 1h (1x)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 3600\n"
	    "    metrics: {n: count}\n", {
	    ":8:13: views.v.bucket: expected a duration such as 1h (3600)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket:\n"
	    "    metrics: {n: count}\n", {
	    ":8:5: views.v.bucket: missing value" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: [1h]\n"
	    "    metrics: {n: count}\n", {
	    ":8:13: views.v.bucket: expected a duration such as 1h" } },
	/* group_by: at most 8 distinct fields, not float. */
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    group_by: [lat]\n", {
	    ":10:16: views.v.group_by: cannot group by a float field (lat)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    group_by: lat\n", {
	    ":10:15: views.v.group_by: cannot group by a float field (lat)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    group_by: [url, nope]\n", {
	    ":10:21: views.v.group_by: no field nope in stream pv (nope)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    group_by: [url, url]\n", {
	    ":10:21: views.v.group_by: given twice (url)" } },
	/* Names equal but for case: their SQLite columns would be one. */
	{ BASE "streams:\n  pv: {fields: {url: string, URL: string}}\n"
	    "views:\n  v:\n"
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    group_by: [url, URL]\n", {
	    ":10:21: views.v.group_by: dimension URL differs from dimension "
	    "url only in case (URL)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count, N: count}\n", {
	    ":9:25: views.v.metrics.N: metric N differs from metric n only "
	    "in case (N)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    group_by: [url, user, status, bytes, bot, url, user, "
	    "status, bytes]\n", {
	    ":10:15: views.v.group_by: at most 8 dimensions" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    group_by: {url: 1}\n", {
	    ":10:15: views.v.group_by: expected a field name or a list of "
	    "them" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    group_by: [[url]]\n", {
	    ":10:16: views.v.group_by: expected a field name" } },
	/* where: constants of the field's type; an empty value is no value. */
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {nope: 1}\n", {
	    ":10:13: views.v.where.nope: no field nope in stream pv (nope)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {status: abc}\n", {
	    ":10:21: views.v.where.status: expected an integer (abc)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {status: 9223372036854775808}\n", {
	    ":10:21: views.v.where.status: out of range "
	    "(9223372036854775808)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {lat: fast}\n", {
	    ":10:18: views.v.where.lat: expected a number (fast)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {lat: {lt: 1e999}}\n", {
	    ":10:23: views.v.where.lat.lt: expected a number (1e999)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {bot: maybe}\n", {
	    ":10:18: views.v.where.bot: expected true or false (maybe)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {url: [a, b]}\n", {
	    ":10:18: views.v.where.url: expected a value or a mapping "
	    "such as {in: [a, b]}" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {url: {gt: a}}\n", {
	    ":10:19: views.v.where.url.gt: gt needs an int or float "
	    "field, url is string" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {url: {lte: a}}\n", {
	    ":10:19: views.v.where.url.lte: lte needs an int or float "
	    "field, url is string" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {url: {in: []}}\n", {
	    ":10:23: views.v.where.url.in: expected a non-empty list of "
	    "values" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {url: {not_in: b}}\n", {
	    ":10:27: views.v.where.url.not_in: expected a non-empty list "
	    "of values" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {bot: {gt: true}}\n", {
	    ":10:19: views.v.where.bot.gt: gt needs an int or float "
	    "field, bot is bool" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {bot: {in: [true]}}\n", {
	    ":10:19: views.v.where.bot.in: a bool field takes eq or ne" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {status: {like: 2}}\n", {
	    ":10:22: views.v.where.status.like: unknown operator: "
	    "expected eq, ne, in, not_in, gt, gte, lt or lte" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {status: {in: [1, x]}}\n", {
	    ":10:30: views.v.where.status.in: expected an integer (x)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {status: {eq: }}\n", {
	    ":10:22: views.v.where.status.eq: expected an int value" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {url: }\n", {
	    ":10:13: views.v.where.url: expected a string value" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {url: {eq: }}\n", {
	    ":10:19: views.v.where.url.eq: expected a string value" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {url: {ne: ~}}\n", {
	    ":10:23: views.v.where.url.ne: expected a string value" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: {lat: {in: [1, [2]]}}\n", {
	    ":10:27: views.v.where.lat.in: expected a float value" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {n: count}\n"
	    "    where: [status]\n", {
	    ":10:12: views.v.where: expected a mapping" } },
	/* metrics: one kind each, its own parameters within bounds. */
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {s: {sum: url}}\n", {
	    ":9:24: views.v.metrics.s.sum: sum needs an int or float "
	    "field, url is string (url)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {s: {min: user}}\n", {
	    ":9:24: views.v.metrics.s.min: min needs an int or float "
	    "field, user is string (user)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {q: {quantile: bot}}\n", {
	    ":9:29: views.v.metrics.q.quantile: quantile needs an int or "
	    "float field, bot is bool (bot)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {s: {sum: nope}}\n", {
	    ":9:24: views.v.metrics.s.sum: no field nope in stream pv "
	    "(nope)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {s: {sum: }}\n", {
	    ":9:19: views.v.metrics.s.sum: missing value" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {d: {distinct: user, precision: 3}}\n", {
	    ":9:46: views.v.metrics.d.precision: must be between 4 and 18 "
	    "(3)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {d: {distinct: user, precision: 19}}\n", {
	    ":9:46: views.v.metrics.d.precision: must be between 4 and 18 "
	    "(19)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {d: {distinct: user, precision: high}}\n", {
	    ":9:46: views.v.metrics.d.precision: expected an integer "
	    "(high)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {d: {distinct: user, k: 5}}\n", {
	    ":9:35: views.v.metrics.d.k: not a parameter of distinct" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {t: {top: user, accuracy: 0.1}}\n", {
	    ":9:30: views.v.metrics.t.accuracy: not a parameter of top" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {s: {sum: bytes, max_bins: 100}}\n", {
	    ":9:31: views.v.metrics.s.max_bins: not a parameter of sum" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {q: {quantile: lat, accuracy: 0.5}}\n", {
	    ":9:44: views.v.metrics.q.accuracy: must be a number between "
	    "0.0001 and 0.2 (0.5)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {q: {quantile: lat, accuracy: 0.00001}}\n", {
	    ":9:44: views.v.metrics.q.accuracy: must be a number between "
	    "0.0001 and 0.2 (0.00001)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {q: {quantile: lat, max_bins: 63}}\n", {
	    ":9:44: views.v.metrics.q.max_bins: must be between 64 and "
	    "65536 (63)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {t: {top: user, k: 0}}\n", {
	    ":9:33: views.v.metrics.t.k: must be between 1 and 65536 (0)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {t: {top: user, k: 65537}}\n", {
	    ":9:33: views.v.metrics.t.k: must be between 1 and 65536 "
	    "(65537)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {x: {sum: bytes, max: bytes}}\n", {
	    ":9:15: views.v.metrics.x: expected exactly one of sum, min, "
	    "max, distinct, quantile, top" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {x: {precision: 12}}\n", {
	    ":9:15: views.v.metrics.x: expected exactly one of sum, min, "
	    "max, distinct, quantile, top" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {a: {avg: bytes}}\n", {
	    ":9:15: views.v.metrics.a: expected exactly one of sum, min, max, "
	    "distinct, quantile, top",
	    ":9:19: views.v.metrics.a.avg: unknown key: expected one of "
	    "sum, min, max, distinct, quantile, top and its parameters" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {a: avg}\n", {
	    ":9:18: views.v.metrics.a: expected count, or a mapping such "
	    "as {sum: FIELD} (avg)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {a: [count]}\n", {
	    ":9:18: views.v.metrics.a: expected count, or a mapping such "
	    "as {sum: FIELD}" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {9x: count}\n", {
	    ":9:15: views.v.metrics.9x: bad metric name: " NAME_RULE
	    " (9x)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: {}\n", {
	    ":9:5: views.v.metrics: a view needs at least one metric" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics:\n", {
	    ":9:5: views.v.metrics: a view needs at least one metric" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    metrics: [n]\n", {
	    ":9:14: views.v.metrics: expected a mapping" } },
	/* The view's name; every problem of a view, collected. */
	{ BASE "streams:\n  pv: {fields: {url: string}}\nviews:\n"
	    "  9v: {stream: pv, bucket: 1h, metrics: {n: count}}\n", {
	    ":6:3: views: bad view name: " NAME_RULE
	    " (9v)" } },
	{ VHEAD
	    "    stream: pv\n"
	    "    bucket: 90ms\n"
	    "    group_by: [lat]\n"
	    "    where: {status: {gt: x}}\n"
	    "    metrics: {s: {sum: url}, d: {distinct: user, k: 2}}\n", {
	    ":8:13: views.v.bucket: must be a whole number of seconds (90ms)",
	    ":9:16: views.v.group_by: cannot group by a float field (lat)",
	    ":10:26: views.v.where.status.gt: expected an integer (x)",
	    ":11:24: views.v.metrics.s.sum: sum needs an int or float field, "
	    "url is string (url)",
	    ":11:50: views.v.metrics.d.k: not a parameter of distinct" } },
};

/* Table runners. */
START_TEST(test_bad_yaml)	{ run_case(&bad_yaml[_i]); }	END_TEST
START_TEST(test_bad_top)	{ run_case(&bad_top[_i]); }	END_TEST
START_TEST(test_bad_keys)	{ run_case(&bad_keys[_i]); }	END_TEST
START_TEST(test_bad_types)	{ run_case(&bad_types[_i]); }	END_TEST
START_TEST(test_bad_ranges)	{ run_case(&bad_ranges[_i]); }	END_TEST
START_TEST(test_bad_combos)	{ run_case(&bad_combos[_i]); }	END_TEST
START_TEST(test_bad_forward)	{ run_case(&bad_forward[_i]); }	END_TEST
START_TEST(test_bad_streams)	{ run_case(&bad_streams[_i]); }	END_TEST
START_TEST(test_bad_views)	{ run_case(&bad_views[_i]); }	END_TEST

/*
 * Loading good files.
 */

/* The smallest file: everything else takes its default. */
START_TEST(test_defaults)
{
	struct conf	*c;

	c = load_ok(BASE);
	ck_assert_str_eq(c->file, cfg);
	ck_assert_str_eq(c->data_dir, "/d");
	ck_assert_str_eq(c->run_dir, "/r");
	ck_assert_int_eq(c->verbose, 0);
	ck_assert_uint_eq(c->socket_mode, 0660);
	ck_assert_ptr_null(c->socket_group);
	ck_assert_uint_eq(c->socket_gid, (gid_t)-1);
	ck_assert_str_eq(c->ingest_sock.path, "/r/ingest.sock");
	ck_assert_str_eq(c->forward_sock.path, "/r/forward.sock");
	ck_assert_str_eq(c->batch_sock.path, "/r/batch.sock");
	ck_assert_str_eq(c->speed_sock.path, "/r/speed.sock");
	ck_assert_str_eq(c->serve_sock.path, "/r/serve.sock");
	ck_assert_uint_eq(c->max_message_bytes, 16 << 20);
	ck_assert_uint_eq(c->max_clients, 1024);
	ck_assert_uint_eq(c->max_client_buffer, 64 << 20);
	ck_assert_uint_eq(c->segment_max_bytes, 64 << 20);
	ck_assert_uint_eq(c->segment_max_age_ms, 3600 * 1000);
	ck_assert_uint_eq(c->preallocate_bytes, 0);
	ck_assert_int_eq(c->fsync, CONF_FSYNC_ALWAYS);
	ck_assert_uint_eq(c->fsync_interval_ms, 1000);
	ck_assert_int_eq(c->verify, CONF_VERIFY_FULL);
	ck_assert_ptr_null(c->forward_tcp);
	ck_assert_uint_eq(c->chunk_id_ttl_ms, 3600 * 1000);
	ck_assert_uint_eq(c->batch_interval_ms, 60 * 1000);
	ck_assert_int_eq(c->batch_workers, 2);
	ck_assert_uint_eq(c->nstreams, 0);
	ck_assert_ptr_null(c->streams);
	ck_assert_ptr_null(conf_find_stream(c, "pageviews"));
	conf_free(c);
}
END_TEST

/* Every key set to something other than its default. */
START_TEST(test_every_key)
{
	struct conf	*c;

	c = load_ok(
	    "data_dir: /var/lib/x\n"
	    "run_dir: /run/x\n"
	    "sockets:\n"
	    "  ingest: i.sock\n"
	    "  forward: /tmp/f.sock\n"
	    "  batch: sub/b.sock\n"
	    "  speed: ./s.sock\n"
	    "  serve: q.sock\n"
	    "  mode: 0600\n"
	    "  max_message_bytes: 1KiB\n"
	    "  max_clients: 65536\n"
	    "  max_client_buffer: 4GiB\n"
	    "log:\n"
	    "  verbose: 3\n"
	    "ingest:\n"
	    "  segment_max_bytes: 4GiB\n"
	    "  segment_max_age: 1s\n"
	    "  preallocate: 1GiB\n"
	    "  fsync: interval\n"
	    "  fsync_interval: 250ms\n"
	    "  verify: quick\n"
	    "  forward_tcp: 127.0.0.1:24224\n"
	    "  chunk_id_ttl: 30d\n"
	    "batch:\n"
	    "  interval: 1d\n"
	    "  workers: 64\n");
	ck_assert_str_eq(c->data_dir, "/var/lib/x");
	ck_assert_str_eq(c->run_dir, "/run/x");
	ck_assert_str_eq(c->ingest_sock.path, "/run/x/i.sock");
	ck_assert_str_eq(c->forward_sock.path, "/tmp/f.sock");
	ck_assert_str_eq(c->batch_sock.path, "/run/x/sub/b.sock");
	ck_assert_str_eq(c->speed_sock.path, "/run/x/s.sock");
	ck_assert_str_eq(c->serve_sock.path, "/run/x/q.sock");
	ck_assert_uint_eq(c->socket_mode, 0600);
	ck_assert_uint_eq(c->max_message_bytes, 1024);
	ck_assert_uint_eq(c->max_clients, 65536);
	ck_assert_uint_eq(c->max_client_buffer, (size_t)4 << 30);
	ck_assert_int_eq(c->verbose, 3);
	ck_assert_uint_eq(c->segment_max_bytes, (size_t)4 << 30);
	ck_assert_uint_eq(c->segment_max_age_ms, 1000);
	ck_assert_uint_eq(c->preallocate_bytes, 1 << 30);
	ck_assert_int_eq(c->fsync, CONF_FSYNC_INTERVAL);
	ck_assert_uint_eq(c->fsync_interval_ms, 250);
	ck_assert_int_eq(c->verify, CONF_VERIFY_QUICK);
	ck_assert_str_eq(c->forward_tcp, "127.0.0.1:24224");
	ck_assert_uint_eq(c->chunk_id_ttl_ms, 30ULL * 86400 * 1000);
	ck_assert_uint_eq(c->batch_interval_ms, 86400 * 1000);
	ck_assert_int_eq(c->batch_workers, 64);
	conf_free(c);
}
END_TEST

/* The lower bounds, flow style, quoting and empty sections. */
START_TEST(test_bounds_and_forms)
{
	struct conf	*c;

	c = load_ok(BASE
	    "sockets: {max_message_bytes: 1GiB, max_client_buffer: \"1 GiB\","
	    " max_clients: 1}\n"
	    "log: {verbose: \"0\"}\n"
	    "ingest: {segment_max_bytes: 4KiB, segment_max_age: 100ms,"
	    " preallocate: 0, fsync: 'never', chunk_id_ttl: 1s}\n"
	    "batch: {interval: 1s, workers: 1}\n");
	ck_assert_uint_eq(c->max_message_bytes, 1 << 30);
	ck_assert_uint_eq(c->max_client_buffer, 1 << 30);
	ck_assert_uint_eq(c->max_clients, 1);
	ck_assert_uint_eq(c->segment_max_bytes, 4096);
	ck_assert_uint_eq(c->segment_max_age_ms, 100);
	ck_assert_uint_eq(c->preallocate_bytes, 0);
	ck_assert_int_eq(c->fsync, CONF_FSYNC_NEVER);
	ck_assert_uint_eq(c->chunk_id_ttl_ms, 1000);
	ck_assert_uint_eq(c->batch_interval_ms, 1000);
	ck_assert_int_eq(c->batch_workers, 1);
	conf_free(c);

	/* Sections left empty, as when every key is commented out. */
	c = load_ok(BASE "sockets:\nlog:\ningest: {}\nbatch: ~\nstreams:\n");
	ck_assert_uint_eq(c->nstreams, 0);
	ck_assert_uint_eq(c->segment_max_bytes, 64 << 20);
	conf_free(c);

	/* Windows line ends and a byte order mark. */
	c = load_ok("\xef\xbb\xbf" "data_dir: /d\r\nrun_dir: /r\r\n"
	    "log:\r\n  verbose: 2\r\n");
	ck_assert_int_eq(c->verbose, 2);
	conf_free(c);
}
END_TEST

/* sockets.mode: octal however it is written. */
START_TEST(test_mode_forms)
{
	static const struct {
		const char	*text;
		mode_t		 mode;
	} t[] = {
		{ "0660", 0660 }, { "\"0660\"", 0660 }, { "'0640'", 0640 },
		{ "660", 0660 }, { "0o600", 0600 }, { "0777", 0777 },
		{ "0", 0 }, { "00", 0 }, { "0007", 07 },
	};
	struct conf	*c;
	char		*text;
	size_t		 i;

	for (i = 0; i < nitems(t); i++) {
		xasprintf(&text, BASE "sockets:\n  mode: %s\n", t[i].text);
		c = load_ok(text);
		ck_assert_msg(c->socket_mode == t[i].mode, "%s: got 0%o",
		    t[i].text, (unsigned)c->socket_mode);
		conf_free(c);
		free(text);
	}
}
END_TEST

/* ingest.forward_tcp values that are accepted. */
START_TEST(test_forward_tcp_ok)
{
	static const char *const ok[] = {
		"127.0.0.1:24224", "127.1.2.3:1", "127.255.255.255:65535",
		"localhost:24224", "LocalHost:5", "\"[::1]:24224\"",
		"\"[0:0:0:0:0:0:0:1]:80\"",
	};
	struct conf	*c;
	char		*text;
	size_t		 i;

	for (i = 0; i < nitems(ok); i++) {
		xasprintf(&text, BASE "ingest:\n  forward_tcp: %s\n", ok[i]);
		c = load_ok(text);
		ck_assert_ptr_nonnull(c->forward_tcp);
		conf_free(c);
		free(text);
	}
}
END_TEST

/* sockets.group: looked up at load. */
START_TEST(test_group)
{
	struct group	*gr;
	struct conf	*c;
	char		*text;

	gr = getgrgid(getgid());
	ck_assert_ptr_nonnull(gr);
	xasprintf(&text, BASE "sockets:\n  group: \"%s\"\n", gr->gr_name);
	c = load_ok(text);
	free(text);
	ck_assert_str_eq(c->socket_group, gr->gr_name);
	ck_assert_uint_eq(c->socket_gid, getgid());
	conf_free(c);

	expect_errors(BASE "sockets:\n  group: no-such-group-lamina\n",
	    ":4:10: sockets.group: unknown group (no-such-group-lamina)",
	    NULL);
	expect_errors(BASE "sockets:\n  group: ''\n",
	    ":4:10: sockets.group: must not be empty", NULL);
}
END_TEST

/* Relative data_dir, run_dir and config path. */
START_TEST(test_relative_paths)
{
	struct conf	*c;
	char		 sub[PATH_MAX], path[PATH_MAX], cwd[PATH_MAX];
	char		*want;
	int		 dot;

	snprintf(sub, sizeof(sub), "%s/etc", tmpdir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/etc/lamina.yaml", tmpdir);
	write_text(path, "data_dir: ../var/data\nrun_dir: ./run//x/\n"
	    "sockets: {ingest: in.sock, batch: /abs/b.sock}\n");

	c = load_path_ok(path);
	xasprintf(&want, "%s/etc/../var/data", tmpdir);
	ck_assert_str_eq(c->data_dir, want);
	free(want);
	xasprintf(&want, "%s/etc/run/x", tmpdir);
	ck_assert_str_eq(c->run_dir, want);
	free(want);
	xasprintf(&want, "%s/etc/run/x/in.sock", tmpdir);
	ck_assert_str_eq(c->ingest_sock.path, want);
	free(want);
	ck_assert_str_eq(c->batch_sock.path, "/abs/b.sock");
	conf_free(c);

	/* Loaded by a relative path: against the working directory. */
	ck_assert_int_ne(dot = open(".", O_RDONLY | O_DIRECTORY), -1);
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	c = load_path_ok("etc/lamina.yaml");
	ck_assert_int_eq(fchdir(dot), 0);
	close(dot);
	ck_assert_str_eq(c->file, "etc/lamina.yaml");
	xasprintf(&want, "%s/etc/../var/data", cwd);
	ck_assert_str_eq(c->data_dir, want);
	free(want);
	conf_free(c);

	/* Nothing was created. */
	snprintf(path, sizeof(path), "%s/etc/run", tmpdir);
	ck_assert_int_eq(access(path, F_OK), -1);

	/* Absolute paths are cleaned but ".." is left alone. */
	c = load_ok("data_dir: /a//b/./c/\nrun_dir: /x/../y\n");
	ck_assert_str_eq(c->data_dir, "/a/b/c");
	ck_assert_str_eq(c->run_dir, "/x/../y");
	conf_free(c);
	c = load_ok("data_dir: /\nrun_dir: //\n");
	ck_assert_str_eq(c->data_dir, "/");
	ck_assert_str_eq(c->run_dir, "/");
	ck_assert_str_eq(c->ingest_sock.path, "/ingest.sock");
	conf_free(c);
}
END_TEST

/* Socket paths against the 107-byte sun_path limit. */
START_TEST(test_socket_path_length)
{
	struct conf	*c;
	char		 p107[108], p108[109], dir96[97], *text;

	memset(p107, 'x', sizeof(p107));
	p107[0] = '/';
	p107[107] = '\0';
	memset(p108, 'y', sizeof(p108));
	p108[0] = '/';
	p108[108] = '\0';
	memset(dir96, 'r', sizeof(dir96));
	dir96[0] = '/';
	dir96[96] = '\0';

	xasprintf(&text, BASE "sockets:\n  serve: %s\n", p107);
	c = load_ok(text);
	ck_assert_str_eq(c->serve_sock.path, p107);
	conf_free(c);
	free(text);

	xasprintf(&text, BASE "sockets:\n  serve: %s\n", p108);
	write_text(cfg, text);
	free(text);
	xasprintf(&text, ":4:10: sockets.serve: socket path longer than 107 "
	    "bytes (%s)", p108);
	expect_path(cfg, cfg, (const char *const *)&text, 1);
	free(text);

	/*
	 * A long run_dir: ingest.sock and forward.sock do not fit, the
	 * others (10 bytes) just do.  The default takes the blame at
	 * run_dir.
	 */
	xasprintf(&text, "data_dir: /d\nrun_dir: %s\n", dir96);
	write_text(cfg, text);
	free(text);
	{
		char	*want[2];

		xasprintf(&want[0], ":2:10: sockets.ingest: socket path "
		    "longer than 107 bytes (%s/ingest.sock)", dir96);
		xasprintf(&want[1], ":2:10: sockets.forward: socket path "
		    "longer than 107 bytes (%s/forward.sock)", dir96);
		expect_path(cfg, cfg, (const char *const *)want, 2);
		free(want[0]);
		free(want[1]);
	}
	xasprintf(&text, "data_dir: /d\nrun_dir: %s\nsockets:\n"
	    "  ingest: /i.sock\n  forward: f\n", dir96);
	c = load_ok(text);
	free(text);
	ck_assert_uint_eq(strlen(c->batch_sock.path), 107);
	conf_free(c);
}
END_TEST

/* The demo stream, short and long field forms, lookups. */
START_TEST(test_streams)
{
	const struct conf_field	*f;
	struct conf_stream	*st;
	struct conf		*c;

	c = load_ok(BASE
	    "streams:\n"
	    "  pageviews:\n"
	    "    time: ts\n"
	    "    fields:\n"
	    "      url: string\n"
	    "      referrer: {type: string, required: false}\n"
	    "      status: {type: int, required: true}\n"
	    "      latency_ms: float\n"
	    "      bot: {type: bool}\n"
	    "      ts: int\n"
	    "  myapp.access-log_2:\n"
	    "    fields: {\"Msg\": string}\n"
	    "  Z: {fields: {x: float}, time: x}\n");
	ck_assert_uint_eq(c->nstreams, 3);

	st = conf_find_stream(c, "pageviews");
	ck_assert_ptr_eq(st, &c->streams[0]);
	ck_assert_str_eq(st->name, "pageviews");
	ck_assert_int_eq(st->line, 4);
	ck_assert_int_eq(st->column, 3);
	ck_assert_str_eq(st->time_field, "ts");
	ck_assert_uint_eq(st->nfields, 6);
	ck_assert_str_eq(st->fields[0].name, "url");
	ck_assert_int_eq(st->fields[0].type, CONF_FT_STRING);
	ck_assert_int_eq(st->fields[0].required, 1);
	ck_assert_str_eq(st->fields[1].name, "referrer");
	ck_assert_int_eq(st->fields[1].required, 0);
	ck_assert_str_eq(st->fields[5].name, "ts");

	f = conf_find_field(st, "status");
	ck_assert_ptr_eq(f, &st->fields[2]);
	ck_assert_int_eq(f->type, CONF_FT_INT);
	ck_assert_int_eq(f->required, 1);
	f = conf_find_field(st, "latency_ms");
	ck_assert_int_eq(f->type, CONF_FT_FLOAT);
	f = conf_find_field(st, "bot");
	ck_assert_int_eq(f->type, CONF_FT_BOOL);
	ck_assert_int_eq(f->required, 1);
	ck_assert_ptr_null(conf_find_field(st, "Status"));
	ck_assert_ptr_null(conf_find_field(st, ""));

	st = conf_find_stream(c, "myapp.access-log_2");
	ck_assert_ptr_nonnull(st);
	ck_assert_ptr_null(st->time_field);
	ck_assert_ptr_nonnull(conf_find_field(st, "Msg"));
	st = conf_find_stream(c, "Z");
	ck_assert_str_eq(st->time_field, "x");
	ck_assert_ptr_null(conf_find_stream(c, "z"));
	ck_assert_ptr_null(conf_find_stream(c, "pageview"));

	ck_assert_str_eq(conf_ftype_name(CONF_FT_STRING), "string");
	ck_assert_str_eq(conf_ftype_name(CONF_FT_INT), "int");
	ck_assert_str_eq(conf_ftype_name(CONF_FT_FLOAT), "float");
	ck_assert_str_eq(conf_ftype_name(CONF_FT_BOOL), "bool");
	conf_free(c);
}
END_TEST

/* Names of exactly 64 bytes are fine; 1024 streams, 256 fields. */
START_TEST(test_stream_limits)
{
	struct conf	*c;
	char		*text, *p, name[65];
	size_t		 i, len;

	memset(name, 'n', 64);
	name[64] = '\0';
	xasprintf(&text, BASE "streams:\n  %s: {fields: {%s: int}}\n", name,
	    name);
	c = load_ok(text);
	free(text);
	ck_assert_ptr_nonnull(conf_find_field(conf_find_stream(c, name),
	    name));
	conf_free(c);

	/* CONF_STREAMS_MAX streams, then one more. */
	len = 64 + (CONF_STREAMS_MAX + 1) * 40;
	text = p = xmalloc(len);
	p += sprintf(p, BASE "streams:\n");
	for (i = 0; i < CONF_STREAMS_MAX; i++)
		p += sprintf(p, "  s%zu: {fields: {a: int}}\n", i);
	c = load_ok(text);
	ck_assert_uint_eq(c->nstreams, CONF_STREAMS_MAX);
	ck_assert_ptr_nonnull(conf_find_stream(c, "s1023"));
	conf_free(c);
	p += sprintf(p, "  extra: {fields: {a: int}}\n");
	p += sprintf(p, "  extra2: {fields: {a: int}}\n");
	expect_errors(text, ":1028:3: streams: too many streams, the limit "
	    "is 1024", NULL);
	free(text);

	/* CONF_FIELDS_MAX fields, then one more. */
	len = 64 + (CONF_FIELDS_MAX + 2) * 20;
	text = p = xmalloc(len);
	p += sprintf(p, BASE "streams:\n  s:\n    fields:\n");
	for (i = 0; i < CONF_FIELDS_MAX; i++)
		p += sprintf(p, "      f%zu: int\n", i);
	c = load_ok(text);
	ck_assert_uint_eq(c->streams[0].nfields, CONF_FIELDS_MAX);
	conf_free(c);
	p += sprintf(p, "      extra: int\n");
	p += sprintf(p, "      extra2: int\n");
	expect_errors(text, ":262:7: streams.s.fields: too many fields, the "
	    "limit is 256", NULL);
	free(text);
}
END_TEST

/*
 * Views.
 */

/* A full view: every part parsed, in the file's order, with defaults. */
START_TEST(test_views)
{
	const struct conf_view		*v;
	const struct conf_filter	*f;
	const struct conf_metric	*m;
	struct conf			*c;

	c = load_ok(BASE
	    "streams:\n"
	    "  pv:\n"
	    "    time: ts\n"
	    "    fields:\n"
	    "      url: string\n"
	    "      referrer: {type: string, required: false}\n"
	    "      status: int\n"
	    "      bytes: int\n"
	    "      latency_ms: float\n"
	    "      bot: bool\n"
	    "      user: string\n"
	    "      ts: int\n"
	    "views:\n"
	    "  pages_hourly:\n"
	    "    stream: pv\n"
	    "    bucket: 1h\n"
	    "    group_by: [url, status]\n"
	    "    where:\n"
	    "      status: 200\n"
	    "      latency_ms: {gte: 0, lt: 60000.5}\n"
	    "      url: {in: [/a, \"/b\", \"\"]}\n"
	    "      bot: false\n"
	    "      referrer: {not_in: [x]}\n"
	    "      bytes: {ne: -5, gt: -9223372036854775808}\n"
	    "    metrics:\n"
	    "      hits: count\n"
	    "      bytes: {sum: bytes}\n"
	    "      lat_min: {min: latency_ms}\n"
	    "      big: {max: bytes}\n"
	    "      users: {distinct: user}\n"
	    "      users12: {distinct: user, precision: 12}\n"
	    "      latency: {quantile: latency_ms}\n"
	    "      lat2: {quantile: bytes, accuracy: 0.05, max_bins: 128}\n"
	    "      referrers: {top: referrer}\n"
	    "      refs3: {top: referrer, k: 3}\n"
	    "  by_day: {stream: pv, bucket: 1d, group_by: bot, "
	    "metrics: {n: count}}\n"
	    "  all: {stream: pv, bucket: 366d, group_by: [], where: {}, "
	    "metrics: {n: count}}\n");
	ck_assert_uint_eq(c->nviews, 3);
	ck_assert_ptr_null(conf_find_view(c, "pages"));
	ck_assert_ptr_eq(conf_find_view(c, "by_day"), &c->views[1]);

	v = conf_find_view(c, "pages_hourly");
	ck_assert_ptr_eq(v, &c->views[0]);
	ck_assert_str_eq(v->name, "pages_hourly");
	ck_assert_str_eq(v->stream, "pv");
	ck_assert_int_eq(v->stream_idx, 0);
	ck_assert_int_eq(v->line, 16);
	ck_assert_int_eq(v->column, 3);
	ck_assert_uint_eq(v->bucket_ms, 3600 * 1000);
	ck_assert_uint_eq(v->ngroup, 2);
	ck_assert_str_eq(v->group_by[0], "url");
	ck_assert_int_eq(v->group_idx[0], 0);
	ck_assert_str_eq(v->group_by[1], "status");
	ck_assert_int_eq(v->group_idx[1], 2);

	/* Filters: in the file's order, constants of the field's type. */
	ck_assert_uint_eq(v->nfilters, 8);
	f = &v->filters[0];
	ck_assert_str_eq(f->field, "status");
	ck_assert_int_eq(f->field_idx, 2);
	ck_assert_int_eq(f->type, CONF_FT_INT);
	ck_assert_int_eq(f->op, CONF_OP_EQ);
	ck_assert_uint_eq(f->nvals, 1);
	ck_assert_int_eq(f->vals[0].i, 200);
	f = &v->filters[1];
	ck_assert_str_eq(f->field, "latency_ms");
	ck_assert_int_eq(f->field_idx, 4);
	ck_assert_int_eq(f->type, CONF_FT_FLOAT);
	ck_assert_int_eq(f->op, CONF_OP_GE);
	ck_assert(f->vals[0].f == 0.0);
	f = &v->filters[2];
	ck_assert_int_eq(f->op, CONF_OP_LT);
	ck_assert(f->vals[0].f == 60000.5);
	f = &v->filters[3];
	ck_assert_str_eq(f->field, "url");
	ck_assert_int_eq(f->type, CONF_FT_STRING);
	ck_assert_int_eq(f->op, CONF_OP_IN);
	ck_assert_uint_eq(f->nvals, 3);
	ck_assert_str_eq(f->vals[0].s, "/a");
	ck_assert_uint_eq(f->vals[0].len, 2);
	ck_assert_str_eq(f->vals[1].s, "/b");
	ck_assert_str_eq(f->vals[2].s, "");
	ck_assert_uint_eq(f->vals[2].len, 0);
	f = &v->filters[4];
	ck_assert_str_eq(f->field, "bot");
	ck_assert_int_eq(f->field_idx, 5);
	ck_assert_int_eq(f->type, CONF_FT_BOOL);
	ck_assert_int_eq(f->op, CONF_OP_EQ);
	ck_assert_int_eq(f->vals[0].i, 0);
	f = &v->filters[5];
	ck_assert_str_eq(f->field, "referrer");
	ck_assert_int_eq(f->field_idx, 1);
	ck_assert_int_eq(f->op, CONF_OP_NOT_IN);
	ck_assert_uint_eq(f->nvals, 1);
	ck_assert_str_eq(f->vals[0].s, "x");
	f = &v->filters[6];
	ck_assert_str_eq(f->field, "bytes");
	ck_assert_int_eq(f->op, CONF_OP_NE);
	ck_assert_int_eq(f->vals[0].i, -5);
	f = &v->filters[7];
	ck_assert_int_eq(f->op, CONF_OP_GT);
	ck_assert_int_eq(f->vals[0].i, INT64_MIN);

	/* Metrics: kinds, fields, parameters and their defaults. */
	ck_assert_uint_eq(v->nmetrics, 10);
	m = &v->metrics[0];
	ck_assert_str_eq(m->name, "hits");
	ck_assert_int_eq(m->kind, CONF_M_COUNT);
	ck_assert_ptr_null(m->field);
	ck_assert_int_eq(m->field_idx, -1);
	m = &v->metrics[1];
	ck_assert_str_eq(m->name, "bytes");
	ck_assert_int_eq(m->kind, CONF_M_SUM);
	ck_assert_str_eq(m->field, "bytes");
	ck_assert_int_eq(m->field_idx, 3);
	m = &v->metrics[2];
	ck_assert_int_eq(m->kind, CONF_M_MIN);
	ck_assert_str_eq(m->field, "latency_ms");
	ck_assert_int_eq(m->field_idx, 4);
	m = &v->metrics[3];
	ck_assert_int_eq(m->kind, CONF_M_MAX);
	ck_assert_int_eq(m->field_idx, 3);
	m = &v->metrics[4];
	ck_assert_str_eq(m->name, "users");
	ck_assert_int_eq(m->kind, CONF_M_DISTINCT);
	ck_assert_str_eq(m->field, "user");
	ck_assert_int_eq(m->field_idx, 6);
	ck_assert_int_eq(m->precision, 14);
	ck_assert_int_eq(v->metrics[5].precision, 12);
	m = &v->metrics[6];
	ck_assert_int_eq(m->kind, CONF_M_QUANTILE);
	ck_assert_int_eq(m->field_idx, 4);
	ck_assert(m->accuracy == 0.01);
	ck_assert_int_eq(m->max_bins, 4096);
	m = &v->metrics[7];
	ck_assert_int_eq(m->kind, CONF_M_QUANTILE);
	ck_assert_int_eq(m->field_idx, 3);
	ck_assert(m->accuracy == 0.05);
	ck_assert_int_eq(m->max_bins, 128);
	m = &v->metrics[8];
	ck_assert_str_eq(m->name, "referrers");
	ck_assert_int_eq(m->kind, CONF_M_TOP);
	ck_assert_int_eq(m->field_idx, 1);
	ck_assert_int_eq(m->k, 10);
	ck_assert_int_eq(v->metrics[9].k, 3);
	ck_assert_ptr_nonnull(v->canonical);
	ck_assert_str_eq(conf_mkind_name(CONF_M_COUNT), "count");
	ck_assert_str_eq(conf_mkind_name(CONF_M_TOP), "top");

	/* A scalar group_by; the canonical text is pinned (format 2). */
	v = &c->views[1];
	ck_assert_str_eq(v->name, "by_day");
	ck_assert_uint_eq(v->bucket_ms, 86400 * 1000);
	ck_assert_uint_eq(v->ngroup, 1);
	ck_assert_int_eq(v->group_idx[0], 5);
	ck_assert_uint_eq(v->nfilters, 0);
	ck_assert_str_eq(v->canonical, "lamina-view/2|stream=2:pv|bucket=86400"
	    "|group=3:bot/bool,|where=|metrics=1:n/count;");

	/* No dimensions, no filters, the largest bucket. */
	v = &c->views[2];
	ck_assert_uint_eq(v->bucket_ms, (uint64_t)366 * 86400 * 1000);
	ck_assert_uint_eq(v->ngroup, 0);
	ck_assert_uint_eq(v->nfilters, 0);
	ck_assert_uint_eq(v->nmetrics, 1);
	conf_free(c);
}
END_TEST

/* Views may come before the streams they use; positions stay right. */
START_TEST(test_views_before_streams)
{
	struct conf		*c;
	const struct conf_view	*v;

	c = load_ok(BASE
	    "views:\n"
	    "  v: {stream: s, bucket: 1m, group_by: a, "
	    "metrics: {n: count, t: {sum: b}}}\n"
	    "streams:\n"
	    "  s: {fields: {a: string, b: float}}\n");
	ck_assert_uint_eq(c->nviews, 1);
	v = &c->views[0];
	ck_assert_int_eq(v->stream_idx, 0);
	ck_assert_int_eq(v->group_idx[0], 0);
	ck_assert_int_eq(v->metrics[1].field_idx, 1);
	ck_assert_uint_eq(v->bucket_ms, 60 * 1000);
	conf_free(c);

	/* Errors of both sections, in the file's order. */
	expect_errors(BASE
	    "views:\n"
	    "  v: {stream: s, bucket: 1m, metrics: {t: {sum: zz}}}\n"
	    "streams:\n"
	    "  s: {fields: {a: text}}\n",
	    ":4:49: views.v.metrics.t.sum: no field zz in stream s (zz)",
	    ":6:19: streams.s.fields.a: must be one of string, int, float, "
	    "bool (text)", NULL);
	expect_errors(BASE
	    "views:\n"
	    "  v: {stream: t, bucket: 1m, metrics: {n: count}}\n"
	    "streams:\n"
	    "  s: {fields: {a: int}}\n",
	    ":4:15: views.v.stream: no stream named t (t)", NULL);
}
END_TEST

/* The fingerprint of view name in text (and its canonical text). */
static uint64_t
view_fp(const char *text, const char *name, char **canonical)
{
	struct conf		*c;
	const struct conf_view	*v;
	uint64_t		 fp;

	c = load_ok(text);
	v = conf_find_view(c, name);
	ck_assert_msg(v != NULL, "no view %s", name);
	fp = v->fingerprint;
	*canonical = xstrdup(v->canonical);
	conf_free(c);
	return (fp);
}

#define FP_VIEW	"{stream: pv, bucket: 1h, group_by: [url, status], " \
		"where: {status: 200, url: {in: [x, y]}}, metrics: " \
		"{n: count, l: {sum: lat}, d: {distinct: user}, " \
		"t: {top: user}}}"

/*
 * Fingerprints: what alters a view's results changes it, nothing else
 * does (not the view's name, not the order of filters in the file).
 */
START_TEST(test_view_fingerprints)
{
	static const struct {
		const char	*def;
		int		 same;	/* as view a */
	} defs[] = {
		{ FP_VIEW, 1 },
		{ "{stream: pv, bucket: 1h, group_by: [url, status], "
		    "where: {url: {in: [x, y]}, status: {eq: 200}}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user}, "
		    "t: {top: user}}}", 1 },
		{ "{stream: pv, bucket: 60m, group_by: [url, status], "
		    "where: {status: 200, url: {in: [x, y]}}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user, "
		    "precision: 14}, t: {top: user, k: 10}}}", 1 },
		{ "{stream: pv, bucket: 2h, group_by: [url, status], "
		    "where: {status: 200, url: {in: [x, y]}}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user}, "
		    "t: {top: user}}}", 0 },
		{ "{stream: pv, bucket: 1h, group_by: [status, url], "
		    "where: {status: 200, url: {in: [x, y]}}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user}, "
		    "t: {top: user}}}", 0 },
		{ "{stream: pv, bucket: 1h, group_by: [url], "
		    "where: {status: 200, url: {in: [x, y]}}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user}, "
		    "t: {top: user}}}", 0 },
		{ "{stream: pv, bucket: 1h, group_by: [url, status], "
		    "where: {status: 201, url: {in: [x, y]}}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user}, "
		    "t: {top: user}}}", 0 },
		{ "{stream: pv, bucket: 1h, group_by: [url, status], "
		    "where: {status: {ne: 200}, url: {in: [x, y]}}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user}, "
		    "t: {top: user}}}", 0 },
		{ "{stream: pv, bucket: 1h, group_by: [url, status], "
		    "where: {status: 200, url: {in: [x, yy]}}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user}, "
		    "t: {top: user}}}", 0 },
		{ "{stream: pv, bucket: 1h, group_by: [url, status], "
		    "where: {status: 200}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user}, "
		    "t: {top: user}}}", 0 },
		{ "{stream: pv, bucket: 1h, group_by: [url, status], "
		    "where: {status: 200, url: {in: [x, y]}}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user, "
		    "precision: 13}, t: {top: user}}}", 0 },
		{ "{stream: pv, bucket: 1h, group_by: [url, status], "
		    "where: {status: 200, url: {in: [x, y]}}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user}, "
		    "t: {top: user, k: 11}}}", 0 },
		{ "{stream: pv, bucket: 1h, group_by: [url, status], "
		    "where: {status: 200, url: {in: [x, y]}}, metrics: "
		    "{n: count, l: {max: lat}, d: {distinct: user}, "
		    "t: {top: user}}}", 0 },
		{ "{stream: pv, bucket: 1h, group_by: [url, status], "
		    "where: {status: 200, url: {in: [x, y]}}, metrics: "
		    "{hits: count, l: {sum: lat}, d: {distinct: user}, "
		    "t: {top: user}}}", 0 },
		{ "{stream: pv, bucket: 1h, group_by: [url, status], "
		    "where: {status: 200, url: {in: [x, y]}}, metrics: "
		    "{l: {sum: lat}, n: count, d: {distinct: user}, "
		    "t: {top: user}}}", 0 },
		{ "{stream: pw, bucket: 1h, group_by: [url, status], "
		    "where: {status: 200, url: {in: [x, y]}}, metrics: "
		    "{n: count, l: {sum: lat}, d: {distinct: user}, "
		    "t: {top: user}}}", 0 },
	};
	static const char *const streams =
	    "streams:\n"
	    "  pv: {fields: {url: string, status: int, lat: float, "
	    "user: string, other: int}}\n"
	    "  pw: {fields: {url: string, status: int, lat: float, "
	    "user: string, other: int}}\n";
	char		*text, *tmp, *ca, *cb;
	uint64_t	 fa, fb;
	size_t		 i, j;
	char		 name[32];

	/* Every definition in one file, as views d0, d1, ... */
	xasprintf(&text, BASE "%sviews:\n", streams);
	for (i = 0; i < nitems(defs); i++) {
		xasprintf(&tmp, "%s  d%zu: %s\n", text, i, defs[i].def);
		free(text);
		text = tmp;
	}
	fa = view_fp(text, "d0", &ca);
	for (i = 1; i < nitems(defs); i++) {
		snprintf(name, sizeof(name), "d%zu", i);
		fb = view_fp(text, name, &cb);
		ck_assert_msg((fa == fb) == defs[i].same &&
		    (strcmp(ca, cb) == 0) == defs[i].same,
		    "d%zu: %s\n  canonical %s\n  against   %s", i,
		    defs[i].same ? "should equal d0" : "should differ", cb,
		    ca);
		/* Distinct definitions, distinct fingerprints. */
		for (j = 1; j < i && !defs[i].same; j++) {
			char	*cc;
			uint64_t fc;

			if (defs[j].same)
				continue;
			snprintf(name, sizeof(name), "d%zu", j);
			fc = view_fp(text, name, &cc);
			ck_assert_msg(fc != fb, "d%zu and d%zu collide", i, j);
			free(cc);
		}
		free(cb);
	}
	free(text);

	/* Float constants: the value counts, not its spelling. */
	fb = view_fp(BASE "streams:\n  pv: {fields: {lat: float}}\nviews:\n"
	    "  v: {stream: pv, bucket: 1h, where: {lat: {gt: 0.10}}, "
	    "metrics: {n: count}}\n", "v", &cb);
	ck_assert_uint_eq(fb, view_fp(BASE "streams:\n  pv: {fields: "
	    "{lat: float}}\nviews:\n  v: {stream: pv, bucket: 1h, where: "
	    "{lat: {gt: 1e-1}}, metrics: {n: count}}\n", "v", &tmp));
	free(tmp);
	ck_assert_uint_ne(fb, view_fp(BASE "streams:\n  pv: {fields: "
	    "{lat: float}}\nviews:\n  v: {stream: pv, bucket: 1h, where: "
	    "{lat: {gt: 0.1000000000000001}}, metrics: {n: count}}\n", "v",
	    &tmp));
	free(tmp);
	free(cb);

	/* The order of an in list does not count, its members do. */
	fb = view_fp(BASE "streams:\n  pv: {fields: {url: string}}\nviews:\n"
	    "  v: {stream: pv, bucket: 1h, where: {url: {in: [a, b, c]}}, "
	    "metrics: {n: count}}\n", "v", &cb);
	ck_assert_uint_eq(fb, view_fp(BASE "streams:\n  pv: {fields: "
	    "{url: string}}\nviews:\n  v: {stream: pv, bucket: 1h, where: "
	    "{url: {in: [c, a, b]}}, metrics: {n: count}}\n", "v", &tmp));
	free(tmp);
	ck_assert_uint_ne(fb, view_fp(BASE "streams:\n  pv: {fields: "
	    "{url: string}}\nviews:\n  v: {stream: pv, bucket: 1h, where: "
	    "{url: {in: [a, b, d]}}, metrics: {n: count}}\n", "v", &tmp));
	free(tmp);
	free(cb);

	/* The types of the fields the view uses, and only those. */
	xasprintf(&text, BASE "streams:\n  pv: {fields: {url: string, "
	    "status: int, lat: float, user: string, other: string}}\n"
	    "views:\n  d0: %s\n", FP_VIEW);
	fb = view_fp(text, "d0", &cb);
	free(text);
	ck_assert_uint_eq(fa, fb);
	ck_assert_str_eq(ca, cb);
	free(cb);
	xasprintf(&text, BASE "streams:\n  pv: {fields: {url: string, "
	    "status: int, lat: int, user: string, other: int}}\n"
	    "views:\n  d0: %s\n", FP_VIEW);
	ck_assert_uint_ne(fa, view_fp(text, "d0", &cb));
	free(text);
	free(cb);
	xasprintf(&text, BASE "streams:\n  pv: {fields: {url: string, "
	    "status: string, lat: float, user: string, other: int}}\n"
	    "views:\n  d0: %s\n", FP_VIEW);
	ck_assert_uint_ne(fa, view_fp(text, "d0", &cb));
	free(text);
	free(cb);
	xasprintf(&text, BASE "streams:\n  pv: {fields: {url: string, "
	    "status: int, lat: float, user: int, other: int}}\n"
	    "views:\n  d0: %s\n", FP_VIEW);
	ck_assert_uint_ne(fa, view_fp(text, "d0", &cb));
	free(text);
	free(cb);
	/* Required or not, the stream's time field: no difference. */
	xasprintf(&text, BASE "streams:\n  pv:\n    time: other\n    fields: "
	    "{url: string, status: {type: int, required: false}, lat: float, "
	    "user: string, other: int}\nviews:\n  d0: %s\n", FP_VIEW);
	ck_assert_uint_eq(fa, view_fp(text, "d0", &cb));
	free(text);
	free(cb);
	free(ca);
}
END_TEST

/*
 * Files that cannot be read or hold nothing.
 */

START_TEST(test_missing_file)
{
	char	 path[PATH_MAX];
	char	*want = ": No such file or directory";

	snprintf(path, sizeof(path), "%s/nonexistent.yaml", tmpdir);
	expect_path(path, path, (const char *const *)&want, 1);
	want = ": Is a directory";
	expect_path(tmpdir, tmpdir, (const char *const *)&want, 1);
	snprintf(path, sizeof(path), "%s/t.yaml/x", tmpdir);
	write_text(cfg, BASE);
	want = ": Not a directory";
	expect_path(path, path, (const char *const *)&want, 1);
}
END_TEST

START_TEST(test_unreadable_file)
{
	char	*want = ": Permission denied";

	if (geteuid() == 0)
		return;			/* root reads anything */
	write_text(cfg, BASE);
	ck_assert_int_eq(chmod(cfg, 0), 0);
	expect_path(cfg, cfg, (const char *const *)&want, 1);
}
END_TEST

START_TEST(test_huge_file)
{
	char	*text, *want = ": larger than 16MiB";
	size_t	 len = (16 << 20) + 100;

	text = xmalloc(len);
	memset(text, '#', len);
	text[0] = '\n';
	write_bytes(cfg, text, len);
	free(text);
	expect_path(cfg, cfg, (const char *const *)&want, 1);
}
END_TEST

/* Deep nesting stops the parse rather than the stack. */
START_TEST(test_deep_nesting)
{
	char	 text[256], *p;
	int	 i;

	p = text + sprintf(text, BASE "x: ");
	for (i = 0; i < 40; i++)
		*p++ = '[';
	for (i = 0; i < 40; i++)
		*p++ = ']';
	strcpy(p, "\n");
	expect_errors(text, ":3:35: yaml: nested deeper than 32 levels", NULL);

	/* 31 levels under the top are fine for the parser. */
	p = text + sprintf(text, BASE "x: ");
	for (i = 0; i < 31; i++)
		*p++ = '[';
	for (i = 0; i < 31; i++)
		*p++ = ']';
	strcpy(p, "\n");
	expect_errors(text, ":3:1: x: unknown key", NULL);
}
END_TEST

/*
 * Collecting.
 */

/* Every problem in one file, sorted by position. */
START_TEST(test_many_errors)
{
	expect_errors(
	    "log:\n"
	    "  verbose: 9\n"
	    "ingest:\n"
	    "  preallocate: 1KiB\n"
	    "  fsync: never\n"
	    "  fsync_interval: 2s\n"
	    "  verfy: full\n"
	    "  fsync: always\n"
	    "sockets: {max_clients: lots, mode: 0660, speed: \"\"}\n"
	    "streams:\n"
	    "  pageviews:\n"
	    "    time: when\n"
	    "    fields:\n"
	    "      url: str\n"
	    "      when: string\n"
	    "  9: {fields: {a: int}}\n"
	    "batch: 1m\n",
	    ":1:1: data_dir: missing required key",
	    ":1:1: run_dir: missing required key",
	    ":2:12: log.verbose: must be between 0 and 3 (9)",
	    ":4:16: ingest.preallocate: must be 0 or between 64KiB and 1GiB "
	    "(1KiB)",
	    ":6:19: ingest.fsync_interval: fsync_interval is only used with "
	    "fsync: interval (2s)",
	    ":7:3: ingest.verfy: unknown key",
	    ":8:3: ingest.fsync: duplicate key, first at line 5",
	    ":9:24: sockets.max_clients: expected an integer (lots)",
	    ":9:49: sockets.speed: must not be empty",
	    ":12:11: streams.pageviews.time: time field must be int or "
	    "float, not string (when)",
	    ":14:12: streams.pageviews.fields.url: must be one of string, "
	    "int, float, bool (str)",
	    ":16:3: streams: bad stream name: " NAME_RULE " (9)",
	    ":17:8: batch: expected a mapping",
	    NULL);
}
END_TEST

/* A file with hundreds of problems gives a bounded list. */
START_TEST(test_too_many_errors)
{
	struct conf	*c;
	char		*text, *p, **errs, *want;
	size_t		 i, n;

	text = p = xmalloc(64 + 150 * 16);
	p += sprintf(p, BASE);
	for (i = 0; i < 150; i++)
		p += sprintf(p, "bogus%zu: 1\n", i);
	write_text(cfg, text);
	free(text);
	c = conf_load(cfg, &errs, &n);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(n, 101);
	for (i = 0; i < 100; i++) {
		xasprintf(&want, "%s:%zu:1: bogus%zu: unknown key", cfg, i + 3,
		    i);
		ck_assert_str_eq(errs[i], want);
		free(want);
	}
	xasprintf(&want, "%s: 50 more errors not shown", cfg);
	ck_assert_str_eq(errs[100], want);
	free(want);
	conf_free_errors(errs, n);
}
END_TEST

/* The caller may not want the messages; NULL frees are no-ops. */
START_TEST(test_null_arguments)
{
	struct conf	*c;
	char		**errs = (char **)1;
	size_t		 n = 42;

	write_text(cfg, "log: {verbose: 7}\n");
	ck_assert_ptr_null(conf_load(cfg, NULL, NULL));
	write_text(cfg, BASE);
	c = conf_load(cfg, &errs, &n);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(errs);
	ck_assert_uint_eq(n, 0);
	conf_free(c);
	conf_free(NULL);
	conf_free_errors(NULL, 0);
}
END_TEST

/*
 * The parsers.
 */

START_TEST(test_parse_size)
{
	static const struct {
		const char	*s;
		int		 rc;
		uint64_t	 v;
	} t[] = {
		{ "0", 0, 0 },
		{ "1", 0, 1 },
		{ "4096", 0, 4096 },
		{ "0B", 0, 0 },
		{ "10B", 0, 10 },
		{ "1K", 0, 1024 },
		{ "1k", 0, 1024 },
		{ "1KB", 0, 1024 },
		{ "1KiB", 0, 1024 },
		{ "1kib", 0, 1024 },
		{ "64MiB", 0, 64 << 20 },
		{ "64 MiB", 0, 64 << 20 },
		{ "64M", 0, 64 << 20 },
		{ "64MB", 0, 64 << 20 },
		{ "64mb", 0, 64 << 20 },
		{ "3G", 0, 3ULL << 30 },
		{ "3GB", 0, 3ULL << 30 },
		{ "3GiB", 0, 3ULL << 30 },
		{ "2T", 0, 2ULL << 40 },
		{ "2TB", 0, 2ULL << 40 },
		{ "2TiB", 0, 2ULL << 40 },
		{ "007KiB", 0, 7 << 10 },
		{ "16777215TiB", 0, 16777215ULL << 40 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551615B", 0, UINT64_MAX },
		/* overflow */
		{ "18446744073709551616", -1, 0 },
		{ "16777216TiB", -1, 0 },
		{ "99999999999999999999TiB", -1, 0 },
		{ "17179869184GiB", -1, 0 },
		/* garbage */
		{ "", -1, 0 },
		{ " ", -1, 0 },
		{ "MiB", -1, 0 },
		{ "-1", -1, 0 },
		{ "-1MiB", -1, 0 },
		{ "+1MiB", -1, 0 },
		{ "1.5GiB", -1, 0 },
		{ "1,5GiB", -1, 0 },
		{ " 1MiB", -1, 0 },
		{ "1MiB ", -1, 0 },
		{ "1  MiB", -1, 0 },
		{ "1 ", -1, 0 },
		{ "1\tMiB", -1, 0 },
		{ "1PiB", -1, 0 },
		{ "1Mi", -1, 0 },
		{ "1MiBs", -1, 0 },
		{ "1 2", -1, 0 },
		{ "1e6", -1, 0 },
		{ "0x10", -1, 0 },
		{ "1b2", -1, 0 },
		{ "\xff", -1, 0 },
	};
	uint64_t	 v;
	size_t		 i;
	int		 rc;

	for (i = 0; i < nitems(t); i++) {
		v = 12345;
		rc = conf_parse_size(t[i].s, &v);
		ck_assert_msg(rc == t[i].rc, "\"%s\": rc %d", t[i].s, rc);
		if (rc == 0)
			ck_assert_msg(v == t[i].v, "\"%s\": %" PRIu64,
			    t[i].s, v);
		else
			ck_assert_msg(v == 12345, "\"%s\": wrote on error",
			    t[i].s);
	}
	ck_assert_int_eq(conf_parse_size(NULL, &v), -1);
}
END_TEST

START_TEST(test_parse_duration)
{
	static const struct {
		const char	*s;
		int		 rc;
		uint64_t	 v;
	} t[] = {
		{ "0", 0, 0 },
		{ "000", 0, 0 },
		{ "0s", 0, 0 },
		{ "0ms", 0, 0 },
		{ "1ms", 0, 1 },
		{ "500ms", 0, 500 },
		{ "1s", 0, 1000 },
		{ "90s", 0, 90000 },
		{ "1m", 0, 60000 },
		{ "1h", 0, 3600000 },
		{ "1d", 0, 86400000 },
		{ "30d", 0, 30ULL * 86400000 },
		{ "1h30m", 0, 5400000 },
		{ "1d2h3m4s5ms", 0, 93784005 },
		{ "1m1ms", 0, 60001 },
		{ "30m1h", 0, 5400000 },
		{ "213503982334d", 0, 213503982334ULL * 86400000 },
		{ "18446744073709551615ms", 0, UINT64_MAX },
		/* overflow */
		{ "18446744073709551616ms", -1, 0 },
		{ "213503982335d", -1, 0 },
		{ "18446744073709551615ms1ms", -1, 0 },
		{ "99999999999999999999h", -1, 0 },
		/* a bare number, and garbage */
		{ "1", -1, 0 },
		{ "30", -1, 0 },
		{ "1h30", -1, 0 },
		{ "", -1, 0 },
		{ "s", -1, 0 },
		{ "ms", -1, 0 },
		{ "-1s", -1, 0 },
		{ "+1s", -1, 0 },
		{ "1.5h", -1, 0 },
		{ "1 h", -1, 0 },
		{ "1h ", -1, 0 },
		{ " 1h", -1, 0 },
		{ "1h 30m", -1, 0 },
		{ "1H", -1, 0 },
		{ "1M", -1, 0 },
		{ "1w", -1, 0 },
		{ "1y", -1, 0 },
		{ "1us", -1, 0 },
		{ "1mss", -1, 0 },
		{ "1sec", -1, 0 },
		{ "0x", -1, 0 },
		{ "\xff", -1, 0 },
	};
	uint64_t	 v;
	size_t		 i;
	int		 rc;

	for (i = 0; i < nitems(t); i++) {
		v = 12345;
		rc = conf_parse_duration(t[i].s, &v);
		ck_assert_msg(rc == t[i].rc, "\"%s\": rc %d", t[i].s, rc);
		if (rc == 0)
			ck_assert_msg(v == t[i].v, "\"%s\": %" PRIu64,
			    t[i].s, v);
		else
			ck_assert_msg(v == 12345, "\"%s\": wrote on error",
			    t[i].s);
	}
	ck_assert_int_eq(conf_parse_duration(NULL, &v), -1);
}
END_TEST

START_TEST(test_valid_name)
{
	static const struct {
		const char	*s;
		int		 ok;
	} t[] = {
		{ "a", 1 }, { "Z", 1 }, { "pageviews", 1 },
		{ "myapp.access", 1 }, { "a-b_c.d", 1 }, { "A1", 1 },
		{ "a..", 1 }, { "x-", 1 },
		{ "", 0 }, { "1a", 0 }, { "_a", 0 }, { ".a", 0 }, { "-a", 0 },
		{ "a b", 0 }, { "a/b", 0 }, { "a:b", 0 }, { "a*", 0 },
		{ "a\tb", 0 }, { "a\n", 0 }, { "caf\xc3\xa9", 0 },
		{ "\xc3\xa9t\xc3\xa9", 0 }, { "a\xff", 0 }, { "a\x80", 0 },
		{ "\xff", 0 },
	};
	char	 buf[CONF_NAME_MAX + 2];
	size_t	 i;

	for (i = 0; i < nitems(t); i++)
		ck_assert_msg(conf_valid_name(t[i].s, strlen(t[i].s)) ==
		    t[i].ok, "\"%s\"", t[i].s);

	/* Length limits. */
	memset(buf, 'a', sizeof(buf));
	ck_assert_int_eq(conf_valid_name(buf, CONF_NAME_MAX), 1);
	ck_assert_int_eq(conf_valid_name(buf, CONF_NAME_MAX + 1), 0);
	ck_assert_int_eq(conf_valid_name(buf, 0), 0);
	ck_assert_int_eq(conf_valid_name(NULL, 0), 0);
	ck_assert_int_eq(conf_valid_name(NULL, 3), 0);

	/* Not NUL-terminated: only len bytes count, NUL inside is bad. */
	ck_assert_int_eq(conf_valid_name("abc!", 3), 1);
	ck_assert_int_eq(conf_valid_name("abc!", 4), 0);
	ck_assert_int_eq(conf_valid_name("ab\0c", 4), 0);
	ck_assert_int_eq(conf_valid_name("a\xff", 1), 1);
}
END_TEST

/* conf/lamina.yaml loads and declares the demo stream. */
START_TEST(test_sample_config)
{
	static const struct {
		const char	*name;
		enum conf_ftype	 type;
		int		 required;
	} want[] = {
		{ "url", CONF_FT_STRING, 1 },
		{ "user", CONF_FT_STRING, 1 },
		{ "referrer", CONF_FT_STRING, 0 },
		{ "status", CONF_FT_INT, 1 },
		{ "bytes", CONF_FT_INT, 1 },
		{ "latency_ms", CONF_FT_FLOAT, 1 },
		{ "time", CONF_FT_FLOAT, 1 },
	};
	const struct conf_field	*f;
	struct conf_stream	*st;
	struct conf		*c;
	const char		*top = getenv("LAMINA_TOP");
	char			 path[PATH_MAX];
	size_t			 i;

	snprintf(path, sizeof(path), "%s/conf/lamina.yaml",
	    top != NULL ? top : ".");
	c = load_path_ok(path);
	ck_assert_str_eq(c->data_dir, "/var/lib/lamina");
	ck_assert_str_eq(c->run_dir, "/run/lamina");
	ck_assert_str_eq(c->ingest_sock.path, "/run/lamina/ingest.sock");
	ck_assert_str_eq(c->serve_sock.path, "/run/lamina/serve.sock");
	ck_assert_int_eq(c->fsync, CONF_FSYNC_ALWAYS);
	ck_assert_uint_eq(c->nstreams, 1);
	st = conf_find_stream(c, "pageviews");
	ck_assert_ptr_nonnull(st);
	ck_assert_str_eq(st->time_field, "time");
	ck_assert_uint_eq(st->nfields, nitems(want));
	for (i = 0; i < nitems(want); i++) {
		f = conf_find_field(st, want[i].name);
		ck_assert_msg(f != NULL, "no field %s", want[i].name);
		ck_assert_int_eq(f->type, want[i].type);
		ck_assert_int_eq(f->required, want[i].required);
	}
	conf_free(c);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc;

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_bounds_and_forms);
	tcase_add_test(tc, test_mode_forms);
	tcase_add_test(tc, test_forward_tcp_ok);
	tcase_add_test(tc, test_group);
	tcase_add_test(tc, test_relative_paths);
	tcase_add_test(tc, test_socket_path_length);
	tcase_add_test(tc, test_streams);
	tcase_add_test(tc, test_stream_limits);
	tcase_add_test(tc, test_views);
	tcase_add_test(tc, test_views_before_streams);
	tcase_add_test(tc, test_view_fingerprints);
	tcase_add_test(tc, test_sample_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_bad_yaml, 0, nitems(bad_yaml));
	tcase_add_loop_test(tc, test_bad_top, 0, nitems(bad_top));
	tcase_add_loop_test(tc, test_bad_keys, 0, nitems(bad_keys));
	tcase_add_loop_test(tc, test_bad_types, 0, nitems(bad_types));
	tcase_add_loop_test(tc, test_bad_ranges, 0, nitems(bad_ranges));
	tcase_add_loop_test(tc, test_bad_combos, 0, nitems(bad_combos));
	tcase_add_loop_test(tc, test_bad_forward, 0, nitems(bad_forward));
	tcase_add_loop_test(tc, test_bad_streams, 0, nitems(bad_streams));
	tcase_add_loop_test(tc, test_bad_views, 0, nitems(bad_views));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_unreadable_file);
	tcase_add_test(tc, test_huge_file);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_many_errors);
	tcase_add_test(tc, test_too_many_errors);
	tcase_add_test(tc, test_null_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_size);
	tcase_add_test(tc, test_parse_duration);
	tcase_add_test(tc, test_valid_name);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(conf_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? 1 : 0);
}
