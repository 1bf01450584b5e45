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
 * The master dataset on a real directory: writing, sealing by size and by
 * age, reopening, reading back from any offset, following a growing log;
 * and what recovery does with a torn or bit-flipped active segment (cut at
 * every byte of its last records), a torn catalog entry, a damaged sealed
 * segment or catalog, and a failed write.  The lazy record decoder and
 * the lazy reader agree with the full ones on every record.
 */

#include <sys/resource.h>
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "crc32c.h"
#include "master.h"
#include "msg.h"
#include "segment.h"
#include "testlib.h"
#include "xmalloc.h"

#define T0	((int64_t)1700000000 * 1000000000)	/* an event time */

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

static char	tmpdir[256];

/* A fresh data directory per test. */
static void
setup(void)
{
	const char	*base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/lamina-master-XXXXXX",
	    base != NULL ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char	cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct master_opts
opts_small(void)
{
	struct master_opts	o;

	memset(&o, 0, sizeof(o));
	o.segment_max_bytes = 4096;
	o.segment_max_age_ms = 3600 * 1000;
	o.preallocate = 0;
	o.verify_full = 1;
	return (o);
}

/* The fields of event i: {"i": i, "url": "/page/<i % 7>"}. */
static void
pack_fields(msgpack_sbuffer *sb, uint64_t i)
{
	msgpack_packer	pk;
	char		url[32];

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msg_pack_str(&pk, "i");
	msgpack_pack_uint64(&pk, i);
	snprintf(url, sizeof(url), "/page/%" PRIu64, i % 7);
	msg_pack_kv_str(&pk, "url", url);
}

/* Append events [from, to) and write them; sync if asked. */
static void
append_range(struct master_stream *ms, uint64_t from, uint64_t to, int sync)
{
	msgpack_sbuffer	 sb;
	uint64_t	 i, off;
	char		*cause = NULL;
	int		 rc;

	msgpack_sbuffer_init(&sb);
	for (i = from; i < to; i++) {
		pack_fields(&sb, i);
		rc = master_append(ms, T0 + (int64_t)i * 1000, T0 + 5,
		    sb.data, sb.size, NULL, 0, &off, &cause);
		ck_assert_msg(rc == 0, "append: %s", cause);
		ck_assert_uint_eq(off, i);
	}
	msgpack_sbuffer_destroy(&sb);
	rc = master_write(ms, &cause);
	ck_assert_msg(rc == 0, "write: %s", cause);
	if (sync) {
		rc = master_sync(ms, &cause);
		ck_assert_msg(rc == 0, "sync: %s", cause);
	}
}

/* Check that record rec is event i. */
static void
check_record(const struct master_record *rec, uint64_t i)
{
	struct msg_reader	 r;
	uint32_t		 n;
	const char		*s;
	size_t			 len;
	uint64_t		 v;

	ck_assert_uint_eq(rec->offset, i);
	ck_assert_int_eq(rec->event_ns, T0 + (int64_t)i * 1000);
	ck_assert_int_eq(rec->ingest_ns, T0 + 5);
	msg_reader_init(&r, rec->fields, rec->fields_len);
	ck_assert_int_eq(msg_get_map(&r, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert_int_eq(msg_get_uint(&r, &v), 0);
	ck_assert_uint_eq(v, i);
}

/* Read the stream from offset from and expect exactly [from, to). */
static void
read_expect(const char *stream, uint64_t from, uint64_t to)
{
	struct master_reader	*r;
	struct master_record	 rec;
	uint64_t		 i = from;
	char			*cause = NULL;
	int			 rc;

	r = master_reader_open(tmpdir, stream, from, &cause);
	ck_assert_ptr_nonnull(r);
	while ((rc = master_reader_next(r, &rec, &cause)) == 1)
		check_record(&rec, i++);
	ck_assert_msg(rc == 0, "reader: %s", cause);
	ck_assert_uint_eq(i, to > from ? to : from);
	master_reader_free(r);
}

static struct master_stream *
open_ok(const char *stream, const struct master_opts *o,
    struct master_recovery *rep)
{
	struct master_stream	*ms;
	char			*cause = NULL;

	ms = master_open(tmpdir, stream, o, rep, &cause);
	ck_assert_msg(ms != NULL, "open: %s", cause);
	return (ms);
}

static char *
open_fail(const char *stream, const struct master_opts *o)
{
	struct master_recovery	 rep;
	char			*cause = NULL;

	ck_assert_ptr_null(master_open(tmpdir, stream, o, &rep, &cause));
	ck_assert_ptr_nonnull(cause);
	return (cause);
}

static char *
seg_path(const char *stream, uint64_t first)
{
	char	 name[64], *p;

	seg_filename(name, sizeof(name), first);
	if (asprintf(&p, "%s/master/%s/%s", tmpdir, stream, name) == -1)
		abort();
	return (p);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	struct stat	 sb;
	uint8_t		*buf;
	int		 fd;

	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	buf = malloc(sb.st_size + 1);
	ck_assert_int_eq(read(fd, buf, sb.st_size), sb.st_size);
	close(fd);
	*len = sb.st_size;
	return (buf);
}

static void
spew(const char *path, const uint8_t *buf, size_t len)
{
	int	fd;

	ck_assert_int_ne(fd = open(path, O_WRONLY | O_TRUNC), -1);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* The byte offsets of the records of a segment file, and its end. */
static size_t
record_starts(const uint8_t *buf, size_t len, uint64_t *starts, size_t max)
{
	struct seg_record	 rec;
	const char		*why;
	size_t			 pos = SEG_HEADER_SIZE, n = 0;

	while (n < max && seg_record_decode(buf + pos, len - pos, &rec,
	    &why) == SEG_OK) {
		starts[n++] = pos;
		pos += rec.size;
	}
	starts[n] = pos;
	return (n);
}

START_TEST(test_crc32c_vectors)
{
	uint8_t	buf[32];
	int	i;

	/* RFC 3720, appendix B.4, and the common check value. */
	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283);
	memset(buf, 0, sizeof(buf));
	ck_assert_uint_eq(crc32c(0, buf, 32), 0x8a9136aa);
	memset(buf, 0xff, sizeof(buf));
	ck_assert_uint_eq(crc32c(0, buf, 32), 0x62a8ab43);
	for (i = 0; i < 32; i++)
		buf[i] = i;
	ck_assert_uint_eq(crc32c(0, buf, 32), 0x46dd794e);
	for (i = 0; i < 32; i++)
		buf[i] = 31 - i;
	ck_assert_uint_eq(crc32c(0, buf, 32), 0x113fdb5c);
	ck_assert_uint_eq(crc32c_sw(0, "123456789", 9), 0xe3069283);
	/* Chaining equals one pass, at every split and alignment. */
	for (i = 0; i <= 9; i++)
		ck_assert_uint_eq(crc32c(crc32c(0, "123456789", i),
		    "123456789" + i, 9 - i), 0xe3069283);
}
END_TEST

START_TEST(test_crc32c_hw_matches_sw)
{
	static const uint32_t	starts[] = { 0, 0x12345678, 0xffffffff };
	uint8_t			buf[4099];
	uint64_t		x = 0x9e3779b97f4a7c15ULL;
	size_t			i, off, k;

	/* Bytes that do not repeat (xorshift64). */
	for (i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)(x >> 32);
	}
	for (off = 0; off < 9; off++)
		for (i = 0; i + off <= sizeof(buf); i += 97)
			ck_assert_uint_eq(crc32c(0, buf + off, i),
			    crc32c_sw(0, buf + off, i));
	/* Every length around the three-lane blocks, from several CRCs. */
	for (k = 0; k < sizeof(starts) / sizeof(starts[0]); k++)
		for (off = 0; off < 9; off++)
			for (i = 0; i < 800; i++)
				ck_assert_uint_eq(crc32c(starts[k], buf + off,
				    i), crc32c_sw(starts[k], buf + off, i));
}
END_TEST

START_TEST(test_write_seal_reopen_read)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	struct master_stats	 st;
	struct cat_entry	*cat;
	size_t			 ncat, valid, i;
	char			*cause = NULL, *dir;
	int			 sealed;
	uint64_t		 from;

	ms = open_ok("pageviews", &o, &rep);
	ck_assert_uint_eq(rep.next_offset, 0);
	ck_assert_uint_eq(rep.segments, 0);
	for (from = 0; from < 1000; from += 50) {
		append_range(ms, from, from + 50, 1);
		ck_assert_int_eq(master_maybe_seal(ms, T0, &sealed, &cause), 0);
	}
	master_stats(ms, &st);
	ck_assert_uint_eq(st.next_offset, 1000);
	ck_assert_uint_eq(st.committed, 1000);
	ck_assert_uint_gt(st.sealed_segments, 5);
	master_close(ms);

	/* The catalog lists consecutive, whole segments. */
	dir = master_stream_dir(tmpdir, "pageviews");
	ck_assert_int_eq(master_catalog_read(dir, &cat, &ncat, &valid,
	    &cause), 0);
	ck_assert_uint_eq(ncat, st.sealed_segments);
	ck_assert_uint_eq(cat[0].first, 0);
	for (i = 0; i < ncat; i++) {
		ck_assert_uint_eq(cat[i].count, cat[i].last - cat[i].first + 1);
		ck_assert_int_eq(cat[i].min_event_ns,
		    T0 + (int64_t)cat[i].first * 1000);
		ck_assert_int_eq(cat[i].max_event_ns,
		    T0 + (int64_t)cat[i].last * 1000);
		if (i > 0)
			ck_assert_uint_eq(cat[i].first, cat[i - 1].last + 1);
	}
	free(cat);
	free(dir);

	ms = open_ok("pageviews", &o, &rep);
	ck_assert_uint_eq(rep.next_offset, 1000);
	ck_assert_uint_eq(rep.dropped_bytes, 0);
	ck_assert_uint_eq(rep.segments, st.sealed_segments);
	append_range(ms, 1000, 1010, 1);
	master_close(ms);

	for (from = 0; from <= 1010; from += 37)
		read_expect("pageviews", from, 1010);
	read_expect("pageviews", 999, 1010);
	read_expect("pageviews", 1009, 1010);
	read_expect("pageviews", 1010, 1010);
	read_expect("pageviews", 5000, 5000);
}
END_TEST

START_TEST(test_seal_by_age)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	struct master_stats	 st;
	char			*cause = NULL;
	int			 sealed;

	o.segment_max_bytes = 1 << 20;
	o.segment_max_age_ms = 1000;
	ms = open_ok("s", &o, &rep);
	/* Empty segments are never sealed, whatever their age. */
	ck_assert_int_eq(master_maybe_seal(ms, T0 + 10 * 1000000000LL,
	    &sealed, &cause), 0);
	ck_assert_int_eq(sealed, 0);
	append_range(ms, 0, 3, 1);		/* ingest time T0 + 5 */
	ck_assert_int_eq(master_maybe_seal(ms, T0 + 999000000LL, &sealed,
	    &cause), 0);
	ck_assert_int_eq(sealed, 0);
	ck_assert_int_eq(master_maybe_seal(ms, T0 + 1000000005LL, &sealed,
	    &cause), 0);
	ck_assert_int_eq(sealed, 1);
	master_stats(ms, &st);
	ck_assert_uint_eq(st.sealed_segments, 1);
	ck_assert_uint_eq(st.active_first, 3);
	master_close(ms);
	read_expect("s", 0, 3);
}
END_TEST

START_TEST(test_reader_follows_and_limits)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	struct master_reader	*r, *sr;
	struct master_record	 rec;
	char			*cause = NULL;
	uint64_t		 i = 0;
	int			 rc, sealed;

	/* A reader opened before the stream exists sees nothing yet. */
	r = master_reader_open(tmpdir, "f", 0, &cause);
	ck_assert_int_eq(master_reader_next(r, &rec, &cause), 0);

	ms = open_ok("f", &o, &rep);
	append_range(ms, 0, 10, 0);		/* written, not synced */
	while ((rc = master_reader_next(r, &rec, &cause)) == 1)
		check_record(&rec, i++);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(i, 10);

	/* Seal under the reader's feet, then go on in the next segment. */
	append_range(ms, 10, 200, 1);
	ck_assert_int_eq(master_maybe_seal(ms, T0, &sealed, &cause), 0);
	ck_assert_int_eq(sealed, 1);
	append_range(ms, 200, 210, 1);
	while ((rc = master_reader_next(r, &rec, &cause)) == 1)
		check_record(&rec, i++);
	ck_assert_msg(rc == 0, "%s", cause);
	ck_assert_uint_eq(i, 210);
	ck_assert_uint_eq(master_reader_position(r), 210);

	/* A limit stops before it and resumes when raised. */
	master_reader_set_limit(r, 215);
	append_range(ms, 210, 230, 1);
	while ((rc = master_reader_next(r, &rec, &cause)) == 1)
		check_record(&rec, i++);
	ck_assert_uint_eq(i, 215);
	master_reader_set_limit(r, UINT64_MAX);
	while ((rc = master_reader_next(r, &rec, &cause)) == 1)
		check_record(&rec, i++);
	ck_assert_uint_eq(i, 230);
	master_reader_free(r);

	/* Sealed only: stops at the end of the last sealed segment. */
	sr = master_reader_open(tmpdir, "f", 0, &cause);
	master_reader_sealed_only(sr, 1);
	i = 0;
	while ((rc = master_reader_next(sr, &rec, &cause)) == 1)
		check_record(&rec, i++);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(i, 200);
	master_reader_free(sr);
	master_close(ms);
}
END_TEST

/*
 * Cut the active segment at every byte of its last three records: each
 * time recovery keeps exactly the whole records before the cut, reports
 * the bytes it dropped, and the log goes on from there.
 */
START_TEST(test_torn_tail_every_byte)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	uint8_t			*orig;
	uint64_t		 starts[64], n, keep, cut;
	size_t			 len, nrec;
	char			*path;

	o.segment_max_bytes = 1 << 20;
	ms = open_ok("t", &o, &rep);
	append_range(ms, 0, 20, 1);
	master_close(ms);
	path = seg_path("t", 0);
	orig = slurp(path, &len);
	nrec = record_starts(orig, len, starts, 63);
	ck_assert_uint_eq(nrec, 20);
	ck_assert_uint_eq(starts[nrec], len);

	for (cut = starts[nrec - 3]; cut < len; cut++) {
		spew(path, orig, cut);
		for (n = 0; n < nrec && starts[n + 1] <= cut; n++)
			;
		keep = starts[n];
		ms = open_ok("t", &o, &rep);
		ck_assert_uint_eq(rep.next_offset, n);
		ck_assert_uint_eq(rep.records, n);
		if (cut > keep) {
			ck_assert_uint_eq(rep.dropped_bytes, cut - keep);
			ck_assert_uint_eq(rep.dropped_at, keep);
			ck_assert_str_eq(rep.reason,
			    "record runs past the end of the file");
		} else
			ck_assert_uint_eq(rep.dropped_bytes, 0);
		master_close(ms);
		read_expect("t", 0, n);
		/* The file now ends at the last whole record... */
		free(slurp(path, &len));
		ck_assert_uint_eq(len, keep);
		/* ...and the next append takes the next offset. */
		ms = open_ok("t", &o, &rep);
		ck_assert_uint_eq(rep.dropped_bytes, 0);
		append_range(ms, n, n + 1, 1);
		master_close(ms);
		read_expect("t", 0, n + 1);
		free(slurp(path, &len));
	}
	free(orig);
	free(path);
}
END_TEST

/*
 * Flip each bit of the last two records in turn: recovery truncates at the
 * damaged record, whatever the bit hit (length, checksum or payload).
 */
START_TEST(test_bit_flips_in_tail)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	uint8_t			*orig, *copy;
	uint64_t		 starts[64], n, byte;
	size_t			 len, nrec, bit;
	char			*path;

	o.segment_max_bytes = 1 << 20;
	ms = open_ok("b", &o, &rep);
	append_range(ms, 0, 12, 1);
	master_close(ms);
	path = seg_path("b", 0);
	orig = slurp(path, &len);
	nrec = record_starts(orig, len, starts, 63);
	copy = malloc(len);

	for (byte = starts[nrec - 2]; byte < len; byte++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(copy, orig, len);
			copy[byte] ^= 1u << bit;
			spew(path, copy, len);
			n = byte < starts[nrec - 1] ? nrec - 2 : nrec - 1;
			ms = open_ok("b", &o, &rep);
			ck_assert_msg(rep.next_offset == n,
			    "byte %" PRIu64 " bit %zu: next %" PRIu64, byte,
			    bit, rep.next_offset);
			ck_assert_uint_eq(rep.dropped_at, starts[n]);
			ck_assert_uint_eq(rep.dropped_bytes, len - starts[n]);
			ck_assert(rep.reason[0] != '\0');
			master_close(ms);
			read_expect("b", 0, n);
		}
	}
	/* A flipped checksum byte reads as such. */
	memcpy(copy, orig, len);
	copy[starts[nrec - 1] + 5] ^= 0x10;
	spew(path, copy, len);
	ms = open_ok("b", &o, &rep);
	ck_assert_str_eq(rep.reason, "checksum mismatch");
	master_close(ms);
	free(copy);
	free(orig);
	free(path);
}
END_TEST

/* Zero fill ahead of the data is not a torn tail; garbage after it is. */
START_TEST(test_preallocated_zeros)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	struct stat		 sb;
	uint8_t			*buf;
	size_t			 len, data;
	char			*path;
	int			 fd;

	o.segment_max_bytes = 1 << 20;
	o.preallocate = 65536;
	ms = open_ok("z", &o, &rep);
	append_range(ms, 0, 30, 1);
	master_close(ms);
	path = seg_path("z", 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_gt(sb.st_size, 65536);	/* zeros written ahead */

	ms = open_ok("z", &o, &rep);
	ck_assert_uint_eq(rep.next_offset, 30);
	ck_assert_uint_eq(rep.dropped_bytes, 0);
	append_range(ms, 30, 40, 1);
	master_close(ms);
	read_expect("z", 0, 40);

	/* Garbage far into the zero fill: reported and dropped. */
	buf = slurp(path, &len);
	{
		uint64_t	starts[64];

		ck_assert_uint_eq(record_starts(buf, len, starts, 63), 40);
		data = starts[40];
	}
	ck_assert_int_ne(fd = open(path, O_WRONLY), -1);
	ck_assert_int_eq(pwrite(fd, "junk", 4, len + 1000), 4);
	close(fd);
	free(buf);
	ms = open_ok("z", &o, &rep);
	ck_assert_uint_eq(rep.next_offset, 40);
	ck_assert_uint_eq(rep.dropped_at, data);
	ck_assert_uint_eq(rep.dropped_bytes, len + 1004 - data);
	ck_assert_str_eq(rep.reason, "zero length followed by data");
	master_close(ms);
	read_expect("z", 0, 40);
	free(path);
}
END_TEST

/* Sealed segments are never repaired: the stream refuses to open. */
START_TEST(test_corrupt_sealed_refused)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	struct master_reader	*r;
	struct master_record	 rec;
	uint8_t			*buf;
	uint64_t		 starts[256];
	size_t			 len, nrec;
	char			*path, *cause, want[512];
	int			 sealed, rc;

	ms = open_ok("c", &o, &rep);
	append_range(ms, 0, 100, 1);
	ck_assert_int_eq(master_maybe_seal(ms, T0, &sealed, &cause), 0);
	ck_assert_int_eq(sealed, 1);
	append_range(ms, 100, 110, 1);
	master_close(ms);

	path = seg_path("c", 0);
	buf = slurp(path, &len);
	nrec = record_starts(buf, len, starts, 255);
	ck_assert_uint_eq(nrec, 100);
	buf[starts[40] + 20] ^= 0x01;
	spew(path, buf, len);

	cause = open_fail("c", &o);
	snprintf(want, sizeof(want), "%s: byte %" PRIu64 ": checksum mismatch",
	    path, starts[40]);
	ck_assert_str_eq(cause, want);
	free(cause);

	/* Quick verification opens, but the reader stops at the damage. */
	o.verify_full = 0;
	ms = open_ok("c", &o, &rep);
	master_close(ms);
	r = master_reader_open(tmpdir, "c", 0, &cause);
	while ((rc = master_reader_next(r, &rec, &cause)) == 1)
		;
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(cause, want);
	free(cause);
	master_reader_free(r);

	/* A sealed segment cut short is refused even by a quick check. */
	buf[starts[40] + 20] ^= 0x01;
	spew(path, buf, len - 3);
	cause = open_fail("c", &o);
	snprintf(want, sizeof(want), "%s: sealed segment is %zu bytes, the "
	    "catalog says %zu", path, len - 3, len);
	ck_assert_str_eq(cause, want);
	free(cause);

	/* And a missing one. */
	ck_assert_int_eq(unlink(path), 0);
	cause = open_fail("c", &o);
	snprintf(want, sizeof(want), "%s: sealed segment missing (listed in "
	    "the catalog)", path);
	ck_assert_str_eq(cause, want);
	free(cause);
	free(buf);
	free(path);
}
END_TEST

/* A torn catalog append is cut; a damaged earlier entry is refused. */
START_TEST(test_catalog_damage)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	uint8_t			*buf;
	size_t			 len;
	char			*catpath, *cause, want[512];
	uint64_t		 i;
	int			 fd;

	ms = open_ok("k", &o, &rep);
	for (i = 0; i < 400; i += 100) {
		append_range(ms, i, i + 100, 1);
		ck_assert_int_eq(master_seal(ms, T0, &cause), 0);
	}
	master_close(ms);
	if (asprintf(&catpath, "%s/master/k/catalog", tmpdir) == -1)
		abort();

	/* Half an entry at the end: a torn append. */
	ck_assert_int_ne(fd = open(catpath, O_WRONLY | O_APPEND), -1);
	ck_assert_int_eq(write(fd, "0123456789abcdef", 16), 16);
	close(fd);
	ms = open_ok("k", &o, &rep);
	ck_assert_int_eq(rep.catalog_repaired, 1);
	ck_assert_uint_eq(rep.next_offset, 400);
	master_close(ms);
	read_expect("k", 0, 400);

	/* A flipped bit in the first of several entries. */
	buf = slurp(catpath, &len);
	ck_assert_uint_gt(len, CAT_HEADER_SIZE + 2 * CAT_ENTRY_SIZE);
	buf[CAT_HEADER_SIZE + 3] ^= 0x80;
	spew(catpath, buf, len);
	cause = open_fail("k", &o);
	snprintf(want, sizeof(want), "%s: entry 0 at byte 32: checksum "
	    "mismatch", catpath);
	ck_assert_str_eq(cause, want);
	free(cause);

	/* A bad magic number. */
	buf[CAT_HEADER_SIZE + 3] ^= 0x80;
	buf[0] = 'X';
	spew(catpath, buf, len);
	cause = open_fail("k", &o);
	snprintf(want, sizeof(want), "%s/master/k: catalog: bad magic number",
	    tmpdir);
	ck_assert_msg(strstr(cause, "catalog: bad magic number") != NULL,
	    "%s", cause);
	free(cause);
	free(buf);
	free(catpath);
}
END_TEST

/* A segment whose creation was cut short is made again. */
START_TEST(test_torn_new_segment_header)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	uint8_t			*buf;
	size_t			 len;
	char			*path, *cause;

	ms = open_ok("h", &o, &rep);
	append_range(ms, 0, 100, 1);
	ck_assert_int_eq(master_seal(ms, T0, &cause), 0);
	master_close(ms);
	path = seg_path("h", 100);
	buf = slurp(path, &len);
	ck_assert_uint_eq(len, SEG_HEADER_SIZE);
	spew(path, buf, 50);
	ms = open_ok("h", &o, &rep);
	ck_assert_int_eq(rep.header_rewritten, 1);
	ck_assert_uint_eq(rep.next_offset, 100);
	append_range(ms, 100, 105, 1);
	master_close(ms);
	read_expect("h", 0, 105);

	/* A header that is garbage with data after it is refused. */
	free(buf);
	buf = slurp(path, &len);
	buf[0] = 'Q';
	spew(path, buf, len);
	cause = open_fail("h", &o);
	ck_assert_msg(strstr(cause, "00000000000000000100.seg: byte 0: bad "
	    "magic number") != NULL, "%s", cause);
	free(cause);
	free(buf);
	free(path);
}
END_TEST

/* An uncatalogued segment that is not the last one is refused. */
START_TEST(test_stray_segment_refused)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	char			*path, *cause, *stray, want[512];
	int			 fd;

	ms = open_ok("x", &o, &rep);
	append_range(ms, 0, 10, 1);
	master_close(ms);
	stray = seg_path("x", 500);
	ck_assert_int_ne(fd = open(stray, O_CREAT | O_WRONLY, 0600), -1);
	close(fd);
	path = seg_path("x", 0);
	cause = open_fail("x", &o);
	snprintf(want, sizeof(want), "%s: segment is not in the catalog but "
	    "is not the last one", path);
	ck_assert_str_eq(cause, want);
	free(cause);
	free(path);
	free(stray);
}
END_TEST

/*
 * A write that fails (here: over RLIMIT_FSIZE) gives back its offsets and
 * leaves nothing of its records behind once the limit is lifted.
 */
START_TEST(test_write_failure_rolls_back)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	struct master_stats	 st;
	struct rlimit		 rl, saved;
	msgpack_sbuffer		 sb;
	uint64_t		 off, i;
	char			*cause = NULL;

	o.segment_max_bytes = 1 << 20;
	signal(SIGXFSZ, SIG_IGN);
	ms = open_ok("w", &o, &rep);
	append_range(ms, 0, 10, 1);
	master_stats(ms, &st);

	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
	rl = saved;
	rl.rlim_cur = st.active_bytes + 100;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	msgpack_sbuffer_init(&sb);
	for (i = 0; i < 50; i++) {
		pack_fields(&sb, 1000 + i);
		ck_assert_int_eq(master_append(ms, T0, T0, sb.data, sb.size,
		    NULL, 0, &off, &cause), 0);
	}
	msgpack_sbuffer_destroy(&sb);
	ck_assert_int_eq(master_write(ms, &cause), -1);
	ck_assert_msg(strstr(cause, "00000000000000000000.seg: write: File "
	    "too large") != NULL, "%s", cause);
	free(cause);
	master_stats(ms, &st);
	ck_assert_uint_eq(st.next_offset, 10);
	ck_assert_uint_eq(st.buffered_bytes, 0);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);

	append_range(ms, 10, 20, 1);
	master_close(ms);
	ms = open_ok("w", &o, &rep);
	ck_assert_uint_eq(rep.next_offset, 20);
	master_close(ms);
	read_expect("w", 0, 20);
}
END_TEST

/* The meta map travels with its record. */
START_TEST(test_meta_roundtrip)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	struct master_reader	*r;
	struct master_record	 rec;
	msgpack_sbuffer		 f, m;
	msgpack_packer		 pk;
	struct msg_reader	 mr;
	uint32_t		 n;
	const char		*s;
	size_t			 len;
	uint64_t		 off;
	char			*cause = NULL;

	msgpack_sbuffer_init(&f);
	msgpack_sbuffer_init(&m);
	pack_fields(&f, 0);
	msgpack_packer_init(&pk, &m, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msg_pack_kv_str(&pk, "chunk", "p8n9gmxTQVC8/ukPbHfA4w==");
	ms = open_ok("m", &o, &rep);
	ck_assert_int_eq(master_append(ms, T0, T0 + 5, f.data, f.size, m.data,
	    m.size, &off, &cause), 0);
	ck_assert_int_eq(master_write(ms, &cause), 0);
	ck_assert_int_eq(master_sync(ms, &cause), 0);
	master_close(ms);

	r = master_reader_open(tmpdir, "m", 0, &cause);
	ck_assert_int_eq(master_reader_next(r, &rec, &cause), 1);
	check_record(&rec, 0);
	ck_assert_ptr_nonnull(rec.meta);
	msg_reader_init(&mr, rec.meta, rec.meta_len);
	ck_assert_int_eq(msg_get_map(&mr, &n), 0);
	ck_assert_int_eq(msg_get_str(&mr, &s, &len), 0);
	ck_assert_int_eq(msg_get_str(&mr, &s, &len), 0);
	ck_assert_int_eq(len, 24);
	ck_assert_int_eq(memcmp(s, "p8n9gmxTQVC8/ukPbHfA4w==", 24), 0);
	master_reader_free(r);
	msgpack_sbuffer_destroy(&f);
	msgpack_sbuffer_destroy(&m);
}
END_TEST

/*
 * A batch (its first record's meta says n) is kept whole or not at all:
 * cut anywhere inside it, recovery drops all of it, reports why, and keeps
 * the records before it.
 */
START_TEST(test_incomplete_batch_dropped)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	msgpack_sbuffer		 sb, meta;
	msgpack_packer		 pk;
	uint8_t			*orig;
	uint64_t		 starts[64], off, i, cut;
	size_t			 len, nrec;
	char			*path, *cause = NULL, want[128];

	o.segment_max_bytes = 1 << 20;
	ms = open_ok("bt", &o, &rep);
	append_range(ms, 0, 5, 1);		/* five single records */
	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_init(&meta);
	msgpack_packer_init(&pk, &meta, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msg_pack_kv_uint(&pk, "n", 10);
	for (i = 5; i < 15; i++) {
		pack_fields(&sb, i);
		ck_assert_int_eq(master_append(ms, T0 + (int64_t)i * 1000,
		    T0 + 5, sb.data, sb.size, i == 5 ? meta.data : NULL,
		    meta.size, &off, &cause), 0);
	}
	ck_assert_int_eq(master_write(ms, &cause), 0);
	ck_assert_int_eq(master_sync(ms, &cause), 0);
	master_close(ms);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&meta);

	path = seg_path("bt", 0);
	orig = slurp(path, &len);
	nrec = record_starts(orig, len, starts, 63);
	ck_assert_uint_eq(nrec, 15);

	/* Whole: all 15 stay. */
	ms = open_ok("bt", &o, &rep);
	ck_assert_uint_eq(rep.next_offset, 15);
	master_close(ms);

	for (cut = starts[6]; cut < len; cut += 7) {
		spew(path, orig, cut);
		ms = open_ok("bt", &o, &rep);
		ck_assert_uint_eq(rep.next_offset, 5);
		ck_assert_uint_eq(rep.dropped_at, starts[5]);
		ck_assert_uint_eq(rep.dropped_bytes, cut - starts[5]);
		for (i = 0; i < 10 && starts[5 + i + 1] <= cut; i++)
			;
		snprintf(want, sizeof(want), "incomplete batch: %" PRIu64
		    " of 10 records", i);
		ck_assert_str_eq(rep.reason, want);
		master_close(ms);
		read_expect("bt", 0, 5);
	}
	free(orig);
	free(path);
}
END_TEST

/*
 * The lazy record decoder against the full one.  decode_both() decodes a
 * copy of buf[len] in a heap block of its exact size (so that ASan sees
 * any read past it) both ways and checks they agree on the status, the
 * cause and every member of the record; it returns the status, the cause
 * and the record with its pointers moved back into buf.
 */
static enum seg_status
decode_both(const uint8_t *buf, size_t len, struct seg_record *out,
    const char **why)
{
	struct seg_record	 a, b;
	const char		*wa = NULL, *wb = NULL;
	enum seg_status		 sa, sb;
	uint8_t			*copy;

	ck_assert_ptr_nonnull(copy = malloc(len));
	memcpy(copy, buf, len);
	memset(&a, 0xa5, sizeof(a));
	memset(&b, 0x5a, sizeof(b));
	sa = seg_record_decode(copy, len, &a, &wa);
	sb = seg_record_decode_lazy(copy, len, &b, &wb);
	ck_assert_msg(sa == sb, "full: %d %s, lazy: %d %s", sa,
	    sa == SEG_BAD ? wa : "", sb, sb == SEG_BAD ? wb : "");
	*why = NULL;
	if (sa == SEG_BAD) {
		ck_assert_ptr_nonnull(wa);
		ck_assert_ptr_nonnull(wb);
		ck_assert_str_eq(wa, wb);
		*why = wa;
	}
	if (sa == SEG_OK) {
		ck_assert_uint_eq(a.offset, b.offset);
		ck_assert_int_eq(a.event_ns, b.event_ns);
		ck_assert_int_eq(a.ingest_ns, b.ingest_ns);
		ck_assert_ptr_eq(a.fields, b.fields);
		ck_assert_uint_eq(a.fields_len, b.fields_len);
		ck_assert_ptr_eq(a.meta, b.meta);
		ck_assert_uint_eq(a.meta_len, b.meta_len);
		ck_assert_uint_eq(a.size, b.size);
		*out = a;
		out->fields = buf + (a.fields - copy);
		if (a.meta != NULL)
			out->meta = buf + (a.meta - copy);
	}
	free(copy);
	return (sa);
}

/* A record around payload p[plen], framed as seg_record_encode does. */
static size_t
frame_record(uint8_t *buf, const void *p, size_t plen)
{
	seg_put_le32(buf, (uint32_t)plen);
	memcpy(buf + REC_HEADER_SIZE, p, plen);
	seg_put_le32(buf + 4, crc32c(crc32c(0, buf, 4), buf + REC_HEADER_SIZE,
	    plen));
	return (REC_HEADER_SIZE + plen);
}

/* A fields map of n entries {"k0": 0, ...}: a map 16 from 16 on. */
static void
pack_wide(msgpack_sbuffer *sb, uint32_t n)
{
	msgpack_packer	pk;
	char		k[16];
	uint32_t	i;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k%u", i);
		msg_pack_str(&pk, k);
		msgpack_pack_uint32(&pk, i * 1000);
	}
}

/*
 * Records as lamina writes them, with and without a meta map and with
 * fields maps of every shape, decode the same both ways, whole, cut at
 * every byte, next to another record, and with any byte of the checksum
 * or the payload changed.
 */
START_TEST(test_lazy_decode)
{
	static const struct {
		uint64_t	off;
		int64_t		ev, in;
	} heads[] = {
		{ 0, 0, 0 },
		{ 1, T0, T0 + 5 },
		{ (uint64_t)INT64_MAX + 1, -1, 1 },
		{ UINT64_MAX, INT64_MIN, INT64_MAX },
	};
	static const uint32_t	 widths[] = { 0, 1, 2, 15, 16, 40 };
	msgpack_sbuffer		 f, m;
	msgpack_packer		 pk;
	struct seg_record	 rec;
	const char		*why;
	uint8_t			*buf;
	size_t			 k, h, w, withmeta, size, size2, cut, at;
	size_t			 mlen;
	const void		*meta;
	unsigned int		 flip;

	msgpack_sbuffer_init(&f);
	msgpack_sbuffer_init(&m);
	msgpack_packer_init(&pk, &m, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msg_pack_kv_uint(&pk, "n", 3);
	msg_pack_kv_str(&pk, "chunk", "p8n9gmxTQVC8/ukPbHfA4w==");
	for (k = 0; k < nitems(heads) * nitems(widths) * 2; k++) {
		h = k / (nitems(widths) * 2);
		w = k / 2 % nitems(widths);
		withmeta = k % 2;
		pack_wide(&f, widths[w]);
		meta = withmeta ? m.data : NULL;
		mlen = withmeta ? m.size : 0;
		size = seg_record_size(f.size, mlen);
		/* Room for a second record behind it. */
		buf = malloc(2 * size);
		ck_assert_uint_eq(seg_record_encode(buf, heads[h].off,
		    heads[h].ev, heads[h].in, f.data, f.size, meta, mlen), size);

		ck_assert_int_eq(decode_both(buf, size, &rec, &why), SEG_OK);
		ck_assert_uint_eq(rec.offset, heads[h].off);
		ck_assert_int_eq(rec.event_ns, heads[h].ev);
		ck_assert_int_eq(rec.ingest_ns, heads[h].in);
		ck_assert_ptr_eq(rec.fields, buf + REC_HEADER_SIZE + 28);
		ck_assert_uint_eq(rec.fields_len, f.size);
		ck_assert_int_eq(memcmp(rec.fields, f.data, f.size), 0);
		if (withmeta) {
			ck_assert_ptr_eq(rec.meta, rec.fields + f.size);
			ck_assert_uint_eq(rec.meta_len, m.size);
		} else {
			ck_assert_ptr_null(rec.meta);
			ck_assert_uint_eq(rec.meta_len, 0);
		}
		ck_assert_uint_eq(rec.size, size);

		/* Cut anywhere: the end of data, or a short record. */
		for (cut = 0; cut < size; cut++)
			ck_assert_int_eq(decode_both(buf, cut, &rec, &why),
			    cut == 0 ? SEG_END : SEG_SHORT);

		/* Followed by another record: the fields stop at its own. */
		size2 = seg_record_encode(buf + size, heads[h].off + 1,
		    heads[h].ev, heads[h].in, f.data, f.size, meta, mlen);
		ck_assert_int_eq(decode_both(buf, size + size2, &rec, &why),
		    SEG_OK);
		ck_assert_uint_eq(rec.fields_len, f.size);
		ck_assert_uint_eq(rec.size, size);
		ck_assert_int_eq(decode_both(buf + size, size2, &rec, &why),
		    SEG_OK);
		ck_assert_uint_eq(rec.offset, heads[h].off + 1);

		/* Any byte of the checksum or the payload wrong. */
		for (at = 4; at < size; at++) {
			for (flip = 0x01; flip <= 0x80; flip <<= 7) {
				buf[at] ^= flip;
				ck_assert_int_eq(decode_both(buf, size, &rec,
				    &why), SEG_BAD);
				ck_assert_str_eq(why, "checksum mismatch");
				buf[at] ^= flip;
			}
		}
		/* A wrong length: whatever it means, the same both ways. */
		for (at = 0; at < 4; at++) {
			buf[at] ^= 0x01;
			(void)decode_both(buf, 2 * size, &rec, &why);
			buf[at] ^= 0x01;
		}
		free(buf);
	}
	msgpack_sbuffer_destroy(&f);
	msgpack_sbuffer_destroy(&m);
}
END_TEST

/*
 * Payloads not as lamina writes them: the lazy decoder leaves them to the
 * full one, with the same result, well-formed or not.  Only a record in
 * lamina's own layout with a fixmap is taken without walking the map, and
 * then the map is taken to run to the end of the payload (the caller
 * checks it, see seg_record_decode_lazy).
 */
START_TEST(test_lazy_decode_other_forms)
{
	static const struct {
		const char	*hex;
		const char	*why;	/* NULL: decodes */
		uint64_t	 off;
		int64_t		 ev, in;
		size_t		 flen, mlen;
	} cases[] = {
		/* Small integers in place of the fixed-width ones. */
		{ "94 05 07 ff 80", NULL, 5, 7, -1, 1, 0 },
		{ "94 05 07 ff 81 a1 61 01", NULL, 5, 7, -1, 4, 0 },
		{ "95 05 07 ff 80 81 a1 6e 03", NULL, 5, 7, -1, 1, 4 },
		/* The layout but for one integer's width. */
		{ "94 ce 00000005 d3 0000000000000007 d3 ffffffffffffffff "
		  "81 a1 61 01", NULL, 5, 7, -1, 4, 0 },
		{ "94 cf 0000000000000005 d2 00000007 d3 ffffffffffffffff "
		  "81 a1 61 01", NULL, 5, 7, -1, 4, 0 },
		{ "94 cf 0000000000000005 d3 0000000000000007 cc ff "
		  "81 a1 61 01", NULL, 5, 7, 255, 4, 0 },
		{ "94 cf 0000000000000005 cf 0000000000000007 "
		  "d3 ffffffffffffffff 81 a1 61 01", NULL, 5, 7, -1, 4, 0 },
		{ "94 d3 0000000000000005 d3 0000000000000007 "
		  "d3 ffffffffffffffff 81 a1 61 01", NULL, 5, 7, -1, 4, 0 },
		/* The layout with a map 16 or map 32. */
		{ "94 cf 0000000000000005 d3 0000000000000007 "
		  "d3 ffffffffffffffff de 0001 a1 61 01", NULL, 5, 7, -1, 6,
		  0 },
		{ "94 cf 0000000000000005 d3 0000000000000007 "
		  "d3 ffffffffffffffff df 00000000", NULL, 5, 7, -1, 5, 0 },
		/* Not records. */
		{ "93 05 07 ff", "malformed record", 0, 0, 0, 0, 0 },
		{ "96 05 07 ff 80 80 80", "malformed record", 0, 0, 0, 0, 0 },
		{ "94 ff 07 ff 80", "malformed record", 0, 0, 0, 0, 0 },
		{ "94 05 07 ff 90", "malformed record", 0, 0, 0, 0, 0 },
		{ "94 05 07 ff 81 a1 61", "malformed record", 0, 0, 0, 0, 0 },
		{ "94 05 07 ff 80 00", "malformed record", 0, 0, 0, 0, 0 },
		{ "95 05 07 ff 80 90", "malformed record", 0, 0, 0, 0, 0 },
		{ "94 cf 0000000000000005 d3 0000000000000007 "
		  "d3 ffffffffffffffff 90", "malformed record", 0, 0, 0, 0, 0 },
		{ "94 cf 0000000000000005 d3 0000000000000007 "
		  "d3 ffffffffffffffff de 0001 a1 61", "malformed record", 0,
		  0, 0, 0, 0 },
		{ "95 cf 0000000000000005 d3 0000000000000007 "
		  "d3 ffffffffffffffff 80", "malformed record", 0, 0, 0, 0, 0 },
		{ "94 cf 0000000000000005 d3 0000000000000007 "
		  "d3 ffffffffffffffff", "malformed record", 0, 0, 0, 0, 0 },
		/* Lamina's layout but for a type: not lazily taken. */
		{ "94 cb 3ff0000000000000 d3 0000000000000007 "
		  "d3 ffffffffffffffff 81 a1 61 01", "malformed record", 0, 0,
		  0, 0, 0 },
		{ "94 d3 ffffffffffffffff d3 0000000000000007 "
		  "d3 ffffffffffffffff 81 a1 61 01", "malformed record", 0, 0,
		  0, 0, 0 },
		{ "94 cf 0000000000000005 cb 3ff0000000000000 "
		  "d3 ffffffffffffffff 81 a1 61 01", "malformed record", 0, 0,
		  0, 0, 0 },
		{ "94 cf 0000000000000005 d3 0000000000000007 "
		  "cb 3ff0000000000000 81 a1 61 01", "malformed record", 0, 0,
		  0, 0, 0 },
		{ "94 cf 0000000000000005 d3 0000000000000007 "
		  "cf 8000000000000000 81 a1 61 01", "malformed record", 0, 0,
		  0, 0, 0 },
		{ "95 cf 0000000000000005 d3 0000000000000007 "
		  "d3 ffffffffffffffff 81 a1 61 01", "malformed record", 0, 0,
		  0, 0, 0 },
	};
	struct seg_record	 rec, lazy;
	const char		*why;
	uint8_t			 payload[256], buf[512];
	size_t			 i, plen, len;

	for (i = 0; i < nitems(cases); i++) {
		plen = testlib_unhex(cases[i].hex, payload);
		len = frame_record(buf, payload, plen);
		if (cases[i].why != NULL) {
			ck_assert_msg(decode_both(buf, len, &rec, &why) ==
			    SEG_BAD, "case %zu: accepted", i);
			ck_assert_str_eq(why, cases[i].why);
			continue;
		}
		ck_assert_msg(decode_both(buf, len, &rec, &why) == SEG_OK,
		    "case %zu: %s", i, why);
		ck_assert_uint_eq(rec.offset, cases[i].off);
		ck_assert_int_eq(rec.event_ns, cases[i].ev);
		ck_assert_int_eq(rec.ingest_ns, cases[i].in);
		ck_assert_uint_eq(rec.fields_len, cases[i].flen);
		ck_assert_uint_eq(rec.meta_len, cases[i].mlen);
		ck_assert_int_eq(rec.meta == NULL, cases[i].mlen == 0);
		ck_assert_ptr_eq(rec.fields + rec.fields_len + rec.meta_len,
		    buf + len);
	}

	/*
	 * Lamina's layout, a fixmap, and then bytes the map does not hold:
	 * the full decoder refuses it; the lazy one takes them all as the
	 * fields, for agg_decode to refuse.
	 */
	plen = testlib_unhex("94 cf 0000000000000005 d3 0000000000000007 "
	    "d3 ffffffffffffffff 81 a1 61 01 c0", payload);
	len = frame_record(buf, payload, plen);
	ck_assert_int_eq(seg_record_decode(buf, len, &rec, &why), SEG_BAD);
	ck_assert_str_eq(why, "malformed record");
	ck_assert_int_eq(seg_record_decode_lazy(buf, len, &lazy, &why),
	    SEG_OK);
	ck_assert_uint_eq(lazy.offset, 5);
	ck_assert_int_eq(lazy.event_ns, 7);
	ck_assert_int_eq(lazy.ingest_ns, -1);
	ck_assert_ptr_eq(lazy.fields, buf + REC_HEADER_SIZE + 28);
	ck_assert_uint_eq(lazy.fields_len, 5);
	ck_assert_ptr_null(lazy.meta);
	ck_assert_uint_eq(lazy.size, len);
}
END_TEST

/*
 * A lazy reader over sealed segments returns what a normal reader does,
 * from any offset, records with a meta map and wide fields maps included,
 * on into the active segment; and stops at a damaged record with the same
 * cause.
 */
static void
append_mixed(struct master_stream *ms, uint64_t from, uint64_t to)
{
	msgpack_sbuffer	 sb, meta;
	msgpack_packer	 pk;
	uint64_t	 i, off;
	char		*cause = NULL;

	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_init(&meta);
	msgpack_packer_init(&pk, &meta, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msg_pack_kv_uint(&pk, "n", 1);
	for (i = from; i < to; i++) {
		if (i % 11 == 3)
			pack_wide(&sb, 16 + i % 5);
		else
			pack_fields(&sb, i);
		ck_assert_msg(master_append(ms, T0 + (int64_t)i * 1000,
		    T0 - (int64_t)i, sb.data, sb.size, i % 7 == 0 ?
		    meta.data : NULL, meta.size, &off, &cause) == 0,
		    "append: %s", cause);
		ck_assert_uint_eq(off, i);
	}
	ck_assert_msg(master_write(ms, &cause) == 0, "write: %s", cause);
	ck_assert_msg(master_sync(ms, &cause) == 0, "sync: %s", cause);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&meta);
}

/* The fields of event i as pack_fields() made them. */
static void
check_fields(const uint8_t *fields, size_t len, uint64_t i)
{
	struct msg_reader	 r;
	uint32_t		 n;
	const char		*s;
	size_t			 slen;
	uint64_t		 v;

	msg_reader_init(&r, fields, len);
	ck_assert_int_eq(msg_get_map(&r, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(msg_get_str(&r, &s, &slen), 0);
	ck_assert_int_eq(msg_get_uint(&r, &v), 0);
	ck_assert_uint_eq(v, i);
	ck_assert_int_eq(msg_get_str(&r, &s, &slen), 0);
	ck_assert_int_eq(msg_get_str(&r, &s, &slen), 0);
	ck_assert_int_eq(msg_end(&r), 0);
}

/* Read stream from from with a normal and a lazy reader side by side. */
static uint64_t
read_both(const char *stream, uint64_t from, int sealed_only,
    uint64_t limit, char **cause_out)
{
	struct master_reader	*r, *lr;
	struct master_record	 a, b;
	char			*ca = NULL, *cb = NULL;
	uint64_t		 n = 0;
	int			 ra, rb;

	ck_assert_ptr_nonnull(r = master_reader_open(tmpdir, stream, from,
	    &ca));
	ck_assert_ptr_nonnull(lr = master_reader_open(tmpdir, stream, from,
	    &cb));
	master_reader_lazy(lr, 1);
	master_reader_sealed_only(r, sealed_only);
	master_reader_sealed_only(lr, sealed_only);
	master_reader_set_limit(r, limit);
	master_reader_set_limit(lr, limit);
	for (;;) {
		ra = master_reader_next(r, &a, &ca);
		rb = master_reader_next(lr, &b, &cb);
		ck_assert_int_eq(ra, rb);
		if (ra != 1)
			break;
		ck_assert_uint_eq(a.offset, b.offset);
		ck_assert_int_eq(a.event_ns, b.event_ns);
		ck_assert_int_eq(a.ingest_ns, b.ingest_ns);
		ck_assert_uint_eq(a.fields_len, b.fields_len);
		ck_assert_int_eq(memcmp(a.fields, b.fields, a.fields_len), 0);
		ck_assert_int_eq(a.meta == NULL, b.meta == NULL);
		ck_assert_uint_eq(a.meta_len, b.meta_len);
		if (a.meta != NULL)
			ck_assert_int_eq(memcmp(a.meta, b.meta, a.meta_len),
			    0);
		/* And both are the record written. */
		ck_assert_uint_eq(a.offset, from + n);
		ck_assert_int_eq(a.event_ns, T0 + (int64_t)a.offset * 1000);
		ck_assert_int_eq(a.ingest_ns, T0 - (int64_t)a.offset);
		ck_assert_int_eq(a.meta != NULL, a.offset % 7 == 0);
		if (a.offset % 11 != 3)
			check_fields(a.fields, a.fields_len, a.offset);
		n++;
	}
	ck_assert_uint_eq(master_reader_position(r),
	    master_reader_position(lr));
	if (ra == -1) {
		ck_assert_str_eq(ca, cb);
		free(cb);
		*cause_out = ca;
	} else
		*cause_out = NULL;
	master_reader_free(r);
	master_reader_free(lr);
	return (n);
}

START_TEST(test_lazy_reader)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	struct master_stats	 st;
	uint64_t		 from, starts[256];
	uint8_t			*buf;
	size_t			 len, nrec;
	char			*cause = NULL, *path, want[512];
	int			 sealed;

	ms = open_ok("lz", &o, &rep);
	for (from = 0; from < 600; from += 20) {
		append_mixed(ms, from, from + 20);
		ck_assert_int_eq(master_maybe_seal(ms, T0, &sealed, &cause), 0);
	}
	ck_assert_int_eq(master_seal(ms, T0, &cause), 0);
	append_mixed(ms, 600, 620);		/* the active segment */
	master_stats(ms, &st);
	ck_assert_uint_ge(st.sealed_segments, 5);
	ck_assert_uint_eq(st.active_first, 600);
	master_close(ms);

	for (from = 0; from < 630; from += 41) {
		ck_assert_uint_eq(read_both("lz", from, 0, UINT64_MAX, &cause),
		    from < 620 ? 620 - from : 0);
		ck_assert_ptr_null(cause);
		ck_assert_uint_eq(read_both("lz", from, 1, UINT64_MAX, &cause),
		    from < 600 ? 600 - from : 0);
		ck_assert_uint_eq(read_both("lz", from, 0, from + 45, &cause),
		    from < 620 ? (from + 45 < 620 ? 45 : 620 - from) : 0);
	}

	/* A damaged record in a sealed segment stops both the same way. */
	path = seg_path("lz", 0);
	buf = slurp(path, &len);
	nrec = record_starts(buf, len, starts, 255);
	ck_assert_uint_gt(nrec, 10);
	buf[starts[5] + 30] ^= 0x40;
	spew(path, buf, len);
	ck_assert_uint_eq(read_both("lz", 0, 0, UINT64_MAX, &cause), 5);
	snprintf(want, sizeof(want), "%s: byte %" PRIu64 ": checksum mismatch",
	    path, starts[5]);
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(cause, want);
	free(cause);
	free(buf);
	free(path);
}
END_TEST

/* Record i of test_reader_buffer: {"i": i, "pad": a string of its size}. */
static size_t
big_pad(uint64_t i)
{
	if (i == 50 || i == 250)	/* larger than the reader's buffer, */
		return (700 << 10);	/* sealed and active */
	if (i == 51)
		return (300 << 10);
	return ((size_t)(i * 7919 % 6000));
}

static void
pack_big(msgpack_sbuffer *sb, uint64_t i, char *pad)
{
	msgpack_packer	pk;
	size_t		n = big_pad(i);

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "i", 1);
	msgpack_pack_uint64(&pk, i);
	msgpack_pack_str_with_body(&pk, "pad", 3);
	memset(pad, 'a' + (int)(i % 26), n);
	msgpack_pack_str_with_body(&pk, pad, n);
}

/* Read stream "bg" with a reader (lazy or not): every record as written. */
static uint64_t
read_big(int lazy, char **cause)
{
	struct master_reader	*r;
	struct master_record	 rec;
	msgpack_sbuffer		 sb;
	char			*pad = xmalloc(1 << 20);
	uint64_t		 n = 0;
	int			 rc;

	msgpack_sbuffer_init(&sb);
	ck_assert_ptr_nonnull(r = master_reader_open(tmpdir, "bg", 0, cause));
	master_reader_lazy(r, lazy);
	*cause = NULL;
	while ((rc = master_reader_next(r, &rec, cause)) == 1) {
		ck_assert_uint_eq(rec.offset, n);
		pack_big(&sb, n, pad);
		ck_assert_uint_eq(rec.fields_len, sb.size);
		ck_assert_int_eq(memcmp(rec.fields, sb.data, sb.size), 0);
		n++;
	}
	ck_assert_int_eq(rc, *cause == NULL ? 0 : -1);
	master_reader_free(r);
	msgpack_sbuffer_destroy(&sb);
	free(pad);
	return (n);
}

/*
 * Segments are read through a buffer: records that straddle its end, and
 * records larger than it, in sealed and active segments alike; a damaged
 * length is not trusted to size the buffer.
 */
START_TEST(test_reader_buffer)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	msgpack_sbuffer		 sb;
	uint64_t		 i, off, starts[300];
	uint8_t			*buf;
	size_t			 len, nrec;
	char			*pad = xmalloc(1 << 20), *path;
	char			*cause = NULL;
	char			 want[512];
	int			 lazy;

	o.segment_max_bytes = 4 << 20;
	ms = open_ok("bg", &o, &rep);
	msgpack_sbuffer_init(&sb);
	for (i = 0; i < 260; i++) {
		if (i == 200)
			ck_assert_int_eq(master_seal(ms, T0, &cause), 0);
		pack_big(&sb, i, pad);
		ck_assert_int_eq(master_append(ms, T0, T0, sb.data, sb.size,
		    NULL, 0, &off, &cause), 0);
		ck_assert_int_eq(master_write(ms, &cause), 0);
	}
	master_close(ms);
	for (lazy = 0; lazy < 2; lazy++) {
		ck_assert_uint_eq(read_big(lazy, &cause), 260);
		ck_assert_ptr_null(cause);
	}

	/*
	 * A record past the first buffer says it is 768 MiB long: the
	 * segment ends inside it, found without reading that much.
	 */
	path = seg_path("bg", 0);
	buf = slurp(path, &len);
	nrec = record_starts(buf, len, starts, 299);
	ck_assert_uint_eq(nrec, 200);
	ck_assert_uint_gt(starts[120], 1 << 20);
	seg_put_le32(buf + starts[120], 768u << 20);
	spew(path, buf, len);
	snprintf(want, sizeof(want), "%s: byte %" PRIu64 ": sealed segment "
	    "ends inside a record", path, starts[120]);
	for (lazy = 0; lazy < 2; lazy++) {
		ck_assert_uint_eq(read_big(lazy, &cause), 120);
		ck_assert_str_eq(cause, want);
		free(cause);
	}
	msgpack_sbuffer_destroy(&sb);
	free(buf);
	free(path);
	free(pad);
}
END_TEST

/*
 * A sealed segment shorter than its catalog entry says (a damaged catalog
 * whose entry still checks): the reader fails naming the segment, rather
 * than opening it again and again for the offsets it lacks.
 */
START_TEST(test_segment_short_of_catalog)
{
	struct master_opts	 o = opts_small();
	struct master_recovery	 rep;
	struct master_stream	*ms;
	struct master_reader	*r;
	struct master_record	 rec;
	struct cat_entry	*cat;
	uint8_t			 ent[CAT_ENTRY_SIZE];
	size_t			 ncat, valid;
	char			*dir, *catpath, *cause = NULL, want[512];
	uint64_t		 n = 0;
	int			 fd, rc, lazy;

	ms = open_ok("k", &o, &rep);
	append_range(ms, 0, 10, 1);
	ck_assert_int_eq(master_seal(ms, T0, &cause), 0);
	master_close(ms);
	dir = master_stream_dir(tmpdir, "k");
	ck_assert_int_eq(master_catalog_read(dir, &cat, &ncat, &valid,
	    &cause), 0);
	ck_assert_uint_eq(ncat, 1);
	ck_assert_uint_eq(cat[0].last, 9);
	cat[0].last++;
	cat[0].count++;
	cat_entry_encode(ent, &cat[0]);
	if (asprintf(&catpath, "%s/catalog", dir) == -1)
		abort();
	ck_assert_int_ne(fd = open(catpath, O_WRONLY), -1);
	ck_assert_int_eq(pwrite(fd, ent, sizeof(ent), CAT_HEADER_SIZE),
	    (ssize_t)sizeof(ent));
	close(fd);
	for (lazy = 0; lazy < 2; lazy++) {
		r = master_reader_open(tmpdir, "k", 0, &cause);
		ck_assert_ptr_nonnull(r);
		master_reader_sealed_only(r, 1);
		master_reader_lazy(r, lazy);
		master_reader_set_limit(r, 11);
		for (n = 0; (rc = master_reader_next(r, &rec, &cause)) == 1;
		    n++)
			ck_assert_uint_lt(n, 10);
		ck_assert_int_eq(rc, -1);
		ck_assert_uint_eq(n, 10);
		snprintf(want, sizeof(want), "%s/%020d.seg: sealed segment "
		    "ends at offset 10, the catalog says its last is 10", dir,
		    0);
		ck_assert_str_eq(cause, want);
		free(cause);
		master_reader_free(r);
	}
	free(cat);
	free(catpath);
	free(dir);
}
END_TEST

static Suite *
master_suite(void)
{
	Suite	*s = suite_create("master");
	TCase	*tc = tcase_create("master");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_crc32c_vectors);
	tcase_add_test(tc, test_crc32c_hw_matches_sw);
	tcase_add_test(tc, test_write_seal_reopen_read);
	tcase_add_test(tc, test_seal_by_age);
	tcase_add_test(tc, test_reader_follows_and_limits);
	tcase_add_test(tc, test_torn_tail_every_byte);
	tcase_add_test(tc, test_bit_flips_in_tail);
	tcase_add_test(tc, test_preallocated_zeros);
	tcase_add_test(tc, test_corrupt_sealed_refused);
	tcase_add_test(tc, test_catalog_damage);
	tcase_add_test(tc, test_torn_new_segment_header);
	tcase_add_test(tc, test_stray_segment_refused);
	tcase_add_test(tc, test_write_failure_rolls_back);
	tcase_add_test(tc, test_meta_roundtrip);
	tcase_add_test(tc, test_incomplete_batch_dropped);
	tcase_add_test(tc, test_lazy_decode);
	tcase_add_test(tc, test_lazy_decode_other_forms);
	tcase_add_test(tc, test_lazy_reader);
	tcase_add_test(tc, test_segment_short_of_catalog);
	tcase_add_test(tc, test_reader_buffer);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(master_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? 1 : 0);
}
