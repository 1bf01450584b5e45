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
 * Tests for common/forward.c: Fluentd Forward v1 messages in every mode,
 * packed with msgpack-c as Fluentd and Fluent Bit send them (or written
 * byte by byte when they must be broken), gzip data made with zlib.  Each
 * entry's time is compared to the nanosecond and its record byte for byte
 * with what was packed.  Failures of a whole message are compared with
 * their exact cause; entries of the wrong shape must be kept with an error
 * while the rest of the message is still accepted.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>
#include <zlib.h>

#include "forward.h"
#include "msg.h"

#define TAG		"app.access"
#define T0		1700000000LL
#define NS		1000000000LL
#define MAX_INFLATE	(1024 * 1024)
#define MAX_ENTRIES	1000
#define CHUNK_ID	"p8n9gmxTQVC8/nh2wlKKeQ=="

static msgpack_sbuffer	 sb;		/* the message */
static msgpack_packer	 pk;
static msgpack_sbuffer	 ent;		/* packed entries */
static msgpack_packer	 epk;
static struct fwd_msg	 m;
static char		*cause;

static void
setup(void)
{
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_sbuffer_init(&ent);
	msgpack_packer_init(&epk, &ent, msgpack_sbuffer_write);
	fwd_msg_init(&m);
	cause = NULL;
}

static void
teardown(void)
{
	fwd_msg_clear(&m);
	free(m.entries);
	free(cause);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&ent);
}

/* Parse the message buffer into m. */
static int
parse(size_t max_inflate, size_t max_entries)
{
	free(cause);
	cause = NULL;
	return (fwd_parse((const uint8_t *)sb.data, sb.size, max_inflate,
	    max_entries, &m, &cause));
}

/* The message must be accepted. */
static void
ok(void)
{
	ck_assert_msg(parse(MAX_INFLATE, MAX_ENTRIES) == 0, "refused: %s",
	    cause);
	ck_assert_ptr_null(cause);
}

/* The message must be refused as a whole with exactly want. */
static void
fails(size_t max_inflate, size_t max_entries, const char *want)
{
	ck_assert_int_eq(parse(max_inflate, max_entries), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(cause, want);
}

static void
raw(msgpack_sbuffer *b, const void *p, size_t len)
{
	msgpack_sbuffer_write(b, p, len);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Fluentd EventTime, as fixext8 (d7 00 ...). */
static void
pack_eventtime(msgpack_packer *p, uint32_t sec, uint32_t nsec)
{
	uint8_t	b[8];

	put_be32(b, sec);
	put_be32(b + 4, nsec);
	msgpack_pack_ext(p, 8, 0);
	msgpack_pack_ext_body(p, b, 8);
}

/* Record i: {"msg": "hello i", "n": i}. */
static void
pack_record(msgpack_packer *p, int i)
{
	char	s[32];

	snprintf(s, sizeof(s), "hello %d", i);
	msgpack_pack_map(p, 2);
	msg_pack_kv_str(p, "msg", s);
	msg_pack_kv_int(p, "n", i);
}

/* Fluent Bit's metadata for entry i. */
static void
pack_meta(msgpack_packer *p, int i)
{
	msgpack_pack_map(p, 2);
	msg_pack_kv_str(p, "source", "fluent-bit");
	msg_pack_kv_int(p, "i", i);
}

/*
 * Entry i's time slot, by i % 3: an integer, an EventTime, or
 * [EventTime, metadata].
 */
static void
pack_time(msgpack_packer *p, int i)
{
	switch (i % 3) {
	case 0:
		msgpack_pack_int64(p, T0 + i);
		break;
	case 1:
		pack_eventtime(p, T0 + i, i * 1000 + 7);
		break;
	default:
		msgpack_pack_array(p, 2);
		pack_eventtime(p, T0 + i, 999999999);
		pack_meta(p, i);
		break;
	}
}

static int64_t
time_ns(int i)
{
	switch (i % 3) {
	case 0:
		return ((T0 + i) * NS);
	case 1:
		return ((T0 + i) * NS + i * 1000 + 7);
	default:
		return ((T0 + i) * NS + 999999999);
	}
}

/* Entry i: [time, record]. */
static void
pack_entry(msgpack_packer *p, int i)
{
	msgpack_pack_array(p, 2);
	pack_time(p, i);
	pack_record(p, i);
}

/* ent gets entries first .. first + n - 1, one after another. */
static void
pack_entries(int first, int n)
{
	int	i;

	for (i = first; i < first + n; i++)
		pack_entry(&epk, i);
}

/* The bytes of v packed by fn must be exactly p[0..len). */
static void
same_bytes(const uint8_t *p, size_t len, void (*fn)(msgpack_packer *, int),
    int i)
{
	msgpack_sbuffer	w;
	msgpack_packer	wpk;

	msgpack_sbuffer_init(&w);
	msgpack_packer_init(&wpk, &w, msgpack_sbuffer_write);
	fn(&wpk, i);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, w.size);
	ck_assert_mem_eq(p, w.data, w.size);
	msgpack_sbuffer_destroy(&w);
}

/* Entry e must be entry i, valid, with its metadata if it has some. */
static void
check_entry(const struct fwd_entry *e, int i)
{
	ck_assert_msg(e->error == NULL, "entry %d: %s", i, e->error);
	ck_assert_int_eq(e->time_ns, time_ns(i));
	same_bytes(e->record, e->record_len, pack_record, i);
	if (i % 3 == 2)
		same_bytes(e->meta, e->meta_len, pack_meta, i);
	else {
		ck_assert_ptr_null(e->meta);
		ck_assert_uint_eq(e->meta_len, 0);
	}
}

/* m must hold entries first .. first + n - 1 under TAG. */
static void
check_msg(enum fwd_mode mode, int first, int n)
{
	int	i;

	ck_assert_int_eq(m.mode, mode);
	ck_assert_uint_eq(m.taglen, strlen(TAG));
	ck_assert_mem_eq(m.tag, TAG, m.taglen);
	ck_assert_uint_eq(m.nentries, n);
	for (i = 0; i < n; i++)
		check_entry(&m.entries[i], first + i);
}

static void
check_chunk(const char *want)
{
	if (want == NULL) {
		ck_assert_ptr_null(m.chunk);
		return;
	}
	ck_assert_ptr_nonnull(m.chunk);
	ck_assert_uint_eq(m.chunklen, strlen(want));
	ck_assert_mem_eq(m.chunk, want, m.chunklen);
}

/* Append one gzip member of p[0..len) to out. */
static void
gzip_member(msgpack_sbuffer *out, const void *p, size_t len)
{
	z_stream	 zs;
	uint8_t		*buf;
	size_t		 cap;

	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED,
	    16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	cap = deflateBound(&zs, len);
	buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	zs.next_in = (Bytef *)(uintptr_t)p;
	zs.avail_in = len;
	zs.next_out = buf;
	zs.avail_out = cap;
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	raw(out, buf, cap - zs.avail_out);
	deflateEnd(&zs);
	free(buf);
}

/* Pack the option map: chunk (if any), then "compressed" (if any). */
static void
pack_options(const char *chunk, const char *compressed)
{
	msgpack_pack_map(&pk, (chunk != NULL) + (compressed != NULL));
	if (chunk != NULL)
		msg_pack_kv_str(&pk, "chunk", chunk);
	if (compressed != NULL)
		msg_pack_kv_str(&pk, "compressed", compressed);
}

/* [TAG, bin, options] as CompressedPackedForward. */
static void
pack_compressed(const msgpack_sbuffer *gz, const char *chunk)
{
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, gz->size);
	msgpack_pack_bin_body(&pk, gz->data, gz->size);
	pack_options(chunk, "gzip");
}

/* Message: [tag, int time, record]. */
START_TEST(test_message_int)
{
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 0);
	pack_record(&pk, 0);
	ok();
	check_msg(FWD_MESSAGE, 0, 1);
	check_chunk(NULL);
	ck_assert_ptr_null(m.inflated);
}
END_TEST

/* Message: [tag, EventTime, record, option]. */
START_TEST(test_message_eventtime)
{
	msgpack_pack_array(&pk, 4);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 1);
	pack_record(&pk, 1);
	msgpack_pack_map(&pk, 2);
	msg_pack_kv_str(&pk, "chunk", CHUNK_ID);
	msg_pack_kv_int(&pk, "size", 1);
	ok();
	check_msg(FWD_MESSAGE, 1, 1);
	check_chunk(CHUNK_ID);

	/* Without the option map. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 4);
	pack_record(&pk, 4);
	ok();
	check_msg(FWD_MESSAGE, 4, 1);
	check_chunk(NULL);

	/* A nil option is no option. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 7);
	pack_record(&pk, 7);
	msgpack_pack_nil(&pk);
	ok();
	check_msg(FWD_MESSAGE, 7, 1);
}
END_TEST

/* EventTime in its ext 8 encoding (c7 08 00 ...) and before the epoch. */
START_TEST(test_message_eventtime_ext8)
{
	static const uint8_t	et[] = { 0xc7, 0x08, 0x00,
	    0x65, 0x53, 0xf1, 0x00, 0x3b, 0x9a, 0xc9, 0xff };

	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	raw(&sb, et, sizeof(et));
	pack_record(&pk, 0);
	ok();
	ck_assert_int_eq(m.mode, FWD_MESSAGE);
	ck_assert_uint_eq(m.nentries, 1);
	ck_assert_ptr_null(m.entries[0].error);
	ck_assert_int_eq(m.entries[0].time_ns, T0 * NS + 999999999);
	same_bytes(m.entries[0].record, m.entries[0].record_len,
	    pack_record, 0);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_int(&pk, -86400);
	pack_record(&pk, 0);
	ok();
	ck_assert_int_eq(m.entries[0].time_ns, -86400 * NS);
}
END_TEST

/*
 * A Message whose time slot is [EventTime, metadata] (v1.5): the second
 * element is an array, which would mean Forward, but Forward's entries
 * are arrays and this one starts with a time, so it is a Message.
 */
START_TEST(test_message_metadata_time)
{
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 2);
	pack_record(&pk, 2);
	ok();
	check_msg(FWD_MESSAGE, 2, 1);
	check_chunk(NULL);

	/* With an option map. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 2);
	pack_record(&pk, 2);
	pack_options(CHUNK_ID, NULL);
	ok();
	check_msg(FWD_MESSAGE, 2, 1);
	check_chunk(CHUNK_ID);
}
END_TEST

/* Forward: [tag, [entry...], option], all three time-slot forms. */
START_TEST(test_forward)
{
	int	i;

	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 7);
	for (i = 0; i < 7; i++)
		pack_entry(&pk, i);
	pack_options(CHUNK_ID, NULL);
	ok();
	check_msg(FWD_FORWARD, 0, 7);
	check_chunk(CHUNK_ID);
	ck_assert_ptr_null(m.inflated);

	/* No option map; and no entries at all. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 2);
	pack_entry(&pk, 5);
	pack_entry(&pk, 6);
	ok();
	check_msg(FWD_FORWARD, 5, 2);
	check_chunk(NULL);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 0);
	pack_options(CHUNK_ID, NULL);
	ok();
	check_msg(FWD_FORWARD, 0, 0);
	check_chunk(CHUNK_ID);
}
END_TEST

/* [tag, [[time-slot, record]]] for one time slot given as raw bytes. */
static void
pack_one_slot(const uint8_t *slot, size_t len)
{
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2);
	raw(&sb, slot, len);
	pack_record(&pk, 0);
}

/* The v1.5 time slot [time, metadata...] in its variants. */
START_TEST(test_time_slot_forms)
{
	static const uint8_t	int_meta[] = { 0x92, 0xce, 0x65, 0x53, 0xf1,
	    0x00, 0x81, 0xa1, 'k', 0xa1, 'v' };
	static const uint8_t	alone[] = { 0x91, 0xd7, 0x00,
	    0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x05 };
	static const uint8_t	two_maps[] = { 0x93, 0x01,
	    0x81, 0xa1, 'k', 0xa1, 'v', 0x81, 0xa1, 'x', 0x02 };
	static const uint8_t	not_map[] = { 0x92, 0x01, 0xa1, 'v' };
	static const uint8_t	empty[] = { 0x90 };
	static const uint8_t	nested[] = { 0x92, 0x91, 0x01, 0x80 };
	static const uint8_t	str[] = { 0x92, 0xa1, '1', 0x80 };
	static const uint8_t	flt[] = { 0x92, 0xcb,
	    0x41, 0xd9, 0x54, 0xfc, 0x40, 0x00, 0x00, 0x00, 0x80 };
	static const uint8_t	kv[] = { 0x81, 0xa1, 'k', 0xa1, 'v' };
	const struct fwd_entry	*e;

	pack_one_slot(int_meta, sizeof(int_meta));
	ok();
	e = &m.entries[0];
	ck_assert_ptr_null(e->error);
	ck_assert_int_eq(e->time_ns, T0 * NS);
	ck_assert_uint_eq(e->meta_len, sizeof(kv));
	ck_assert_mem_eq(e->meta, kv, sizeof(kv));
	same_bytes(e->record, e->record_len, pack_record, 0);

	pack_one_slot(alone, sizeof(alone));
	ok();
	e = &m.entries[0];
	ck_assert_ptr_null(e->error);
	ck_assert_int_eq(e->time_ns, T0 * NS + 5);
	ck_assert_ptr_null(e->meta);
	same_bytes(e->record, e->record_len, pack_record, 0);

	/* Further metadata maps are skipped; the first is kept. */
	pack_one_slot(two_maps, sizeof(two_maps));
	ok();
	e = &m.entries[0];
	ck_assert_ptr_null(e->error);
	ck_assert_int_eq(e->time_ns, NS);
	ck_assert_uint_eq(e->meta_len, sizeof(kv));
	ck_assert_mem_eq(e->meta, kv, sizeof(kv));
	same_bytes(e->record, e->record_len, pack_record, 0);

	/* Metadata that is not a map is dropped. */
	pack_one_slot(not_map, sizeof(not_map));
	ok();
	e = &m.entries[0];
	ck_assert_ptr_null(e->error);
	ck_assert_int_eq(e->time_ns, NS);
	ck_assert_ptr_null(e->meta);
	same_bytes(e->record, e->record_len, pack_record, 0);

	pack_one_slot(empty, sizeof(empty));
	ok();
	ck_assert_str_eq(m.entries[0].error,
	    "time: expected [time, metadata]");
	same_bytes(m.entries[0].record, m.entries[0].record_len,
	    pack_record, 0);

	pack_one_slot(nested, sizeof(nested));
	ok();
	ck_assert_str_eq(m.entries[0].error,
	    "time: expected [time, metadata]");

	pack_one_slot(str, sizeof(str));
	ok();
	ck_assert_str_eq(m.entries[0].error,
	    "time: expected an integer or EventTime");

	/* A float is no more a time inside the array than outside it. */
	pack_one_slot(flt, sizeof(flt));
	ok();
	ck_assert_str_eq(m.entries[0].error,
	    "time: a float is not a valid Forward time");
	same_bytes(m.entries[0].record, m.entries[0].record_len,
	    pack_record, 0);
}
END_TEST

/* PackedForward with the entries as bin. */
START_TEST(test_packed_bin)
{
	pack_entries(0, 9);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, ent.size);
	msgpack_pack_bin_body(&pk, ent.data, ent.size);
	pack_options(CHUNK_ID, NULL);
	ok();
	check_msg(FWD_PACKED, 0, 9);
	check_chunk(CHUNK_ID);
	ck_assert_ptr_null(m.inflated);

	/* Without options, and with no entries. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, ent.size);
	msgpack_pack_bin_body(&pk, ent.data, ent.size);
	ok();
	check_msg(FWD_PACKED, 0, 9);
	check_chunk(NULL);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, 0);
	ok();
	check_msg(FWD_PACKED, 0, 0);
}
END_TEST

/* PackedForward as Fluentd's out_forward sends it: str with a raw32 head. */
START_TEST(test_packed_str)
{
	uint8_t	head[5] = { 0xdb };

	pack_entries(3, 5);
	put_be32(head + 1, ent.size);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	raw(&sb, head, sizeof(head));
	raw(&sb, ent.data, ent.size);
	msgpack_pack_map(&pk, 2);
	msg_pack_kv_int(&pk, "size", 5);
	msg_pack_kv_str(&pk, "chunk", CHUNK_ID);
	ok();
	check_msg(FWD_PACKED, 3, 5);
	check_chunk(CHUNK_ID);

	/* And in msgpack-c's own str encoding. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msg_pack_strn(&pk, ent.data, ent.size);
	ok();
	check_msg(FWD_PACKED, 3, 5);
}
END_TEST

/* CompressedPackedForward, one gzip member. */
START_TEST(test_compressed_one)
{
	msgpack_sbuffer	gz;

	msgpack_sbuffer_init(&gz);
	pack_entries(0, 12);
	gzip_member(&gz, ent.data, ent.size);
	pack_compressed(&gz, CHUNK_ID);
	ok();
	check_msg(FWD_COMPRESSED, 0, 12);
	check_chunk(CHUNK_ID);
	ck_assert_ptr_nonnull(m.inflated);
	ck_assert_uint_eq(m.inflated_len, ent.size);
	ck_assert_mem_eq(m.inflated, ent.data, ent.size);
	ck_assert(m.entries[0].record >= m.inflated &&
	    m.entries[0].record < m.inflated + m.inflated_len);

	/* "compressed" first, "chunk" after it. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, gz.size);
	msgpack_pack_bin_body(&pk, gz.data, gz.size);
	msgpack_pack_map(&pk, 2);
	msg_pack_kv_str(&pk, "compressed", "gzip");
	msg_pack_kv_str(&pk, "chunk", CHUNK_ID);
	ok();
	check_msg(FWD_COMPRESSED, 0, 12);
	check_chunk(CHUNK_ID);
	msgpack_sbuffer_destroy(&gz);
}
END_TEST

/* CompressedPackedForward, three gzip members one after another. */
START_TEST(test_compressed_three)
{
	msgpack_sbuffer	gz;
	size_t		a, b;

	msgpack_sbuffer_init(&gz);
	pack_entries(0, 4);
	a = ent.size;
	pack_entries(4, 1);
	b = ent.size;
	pack_entries(5, 6);
	gzip_member(&gz, ent.data, a);
	gzip_member(&gz, ent.data + a, b - a);
	gzip_member(&gz, ent.data + b, ent.size - b);
	pack_compressed(&gz, NULL);
	ok();
	check_msg(FWD_COMPRESSED, 0, 11);
	check_chunk(NULL);
	ck_assert_uint_eq(m.inflated_len, ent.size);

	/* A member may even cut an entry in two, and may be empty. */
	msgpack_sbuffer_clear(&gz);
	gzip_member(&gz, ent.data, 3);
	gzip_member(&gz, "", 0);
	gzip_member(&gz, ent.data + 3, ent.size - 3);
	msgpack_sbuffer_clear(&sb);
	pack_compressed(&gz, CHUNK_ID);
	ok();
	check_msg(FWD_COMPRESSED, 0, 11);
	msgpack_sbuffer_destroy(&gz);
}
END_TEST

/* fwd_gunzip on its own. */
START_TEST(test_gunzip)
{
	msgpack_sbuffer	 gz;
	uint8_t		*out = NULL;
	size_t		 len = 99;

	msgpack_sbuffer_init(&gz);
	gzip_member(&gz, "abc", 3);
	gzip_member(&gz, "", 0);
	gzip_member(&gz, "defg", 4);
	ck_assert_int_eq(fwd_gunzip((const uint8_t *)gz.data, gz.size, 100,
	    &out, &len, &cause), 0);
	ck_assert_uint_eq(len, 7);
	ck_assert_mem_eq(out, "abcdefg", 7);
	free(out);

	/* The limit counts every member together. */
	out = NULL;
	ck_assert_int_eq(fwd_gunzip((const uint8_t *)gz.data, gz.size, 6,
	    &out, &len, &cause), -1);
	ck_assert_str_eq(cause, "gzip: data expands beyond 6 bytes");
	ck_assert_ptr_null(out);
	free(cause);
	cause = NULL;

	ck_assert_int_eq(fwd_gunzip((const uint8_t *)"", 0, 100, &out, &len,
	    &cause), -1);
	ck_assert_str_eq(cause, "gzip: data truncated");
	msgpack_sbuffer_destroy(&gz);
}
END_TEST

/* Options: text means uncompressed; size, unknown keys are ignored. */
START_TEST(test_options_liberal)
{
	static const uint8_t	intkey[] = { 0x01, 0xa1, 'x' };

	pack_entries(0, 3);

	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, ent.size);
	msgpack_pack_bin_body(&pk, ent.data, ent.size);
	pack_options(CHUNK_ID, "text");
	ok();
	check_msg(FWD_PACKED, 0, 3);
	check_chunk(CHUNK_ID);
	ck_assert_ptr_null(m.inflated);

	/*
	 * fluent-logger-node puts a byte count in "size"; other keys,
	 * keys that are not strings, chunk and compressed of other types
	 * are ignored too.
	 */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, ent.size);
	msgpack_pack_bin_body(&pk, ent.data, ent.size);
	msgpack_pack_map(&pk, 6);
	msg_pack_kv_uint(&pk, "size", ent.size);
	msg_pack_kv_int(&pk, "fluent_signal", 0);
	msg_pack_str(&pk, "extra");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_nil(&pk);
	msgpack_pack_map(&pk, 0);
	raw(&sb, intkey, sizeof(intkey));
	msg_pack_kv_int(&pk, "chunk", 12);
	msg_pack_kv_int(&pk, "compressed", 1);
	ok();
	check_msg(FWD_PACKED, 0, 3);
	check_chunk(NULL);

	/* "size" in a Forward message that disagrees with the entries. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 1);
	pack_entry(&pk, 1);
	msgpack_pack_map(&pk, 1);
	msg_pack_kv_int(&pk, "size", 1000);
	ok();
	check_msg(FWD_FORWARD, 1, 1);

	/* A chunk of 1 byte. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 0);
	pack_options("x", NULL);
	ok();
	check_chunk("x");
}
END_TEST

/* Options refused: other compressions, chunks of bad length, non-maps. */
START_TEST(test_options_refused)
{
	char	long_chunk[130];

	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, 0);
	pack_options(NULL, "zstd");
	fails(MAX_INFLATE, MAX_ENTRIES, "option compressed: zstd is not "
	    "supported (gzip or text)");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, 0);
	pack_options(NULL, "GZIP");
	fails(MAX_INFLATE, MAX_ENTRIES, "option compressed: GZIP is not "
	    "supported (gzip or text)");

	/* Long values are cut to 16 bytes in the cause. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, 0);
	pack_options(NULL, "gzip-but-much-longer-than-that");
	fails(MAX_INFLATE, MAX_ENTRIES, "option compressed: gzip-but-much-lo "
	    "is not supported (gzip or text)");

	/* The same in Forward and Message modes. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 0);
	pack_options(NULL, "zstd");
	fails(MAX_INFLATE, MAX_ENTRIES, "option compressed: zstd is not "
	    "supported (gzip or text)");
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 0);
	pack_record(&pk, 0);
	pack_options(NULL, "zstd");
	fails(MAX_INFLATE, MAX_ENTRIES, "option compressed: zstd is not "
	    "supported (gzip or text)");

	memset(long_chunk, 'A', 128);
	long_chunk[128] = '\0';
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 0);
	pack_options(long_chunk, NULL);
	ok();
	check_chunk(long_chunk);

	long_chunk[128] = 'A';
	long_chunk[129] = '\0';
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 0);
	pack_options(long_chunk, NULL);
	fails(MAX_INFLATE, MAX_ENTRIES, "option chunk: 129 bytes, expected "
	    "1 to 128");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 0);
	pack_options("", NULL);
	fails(MAX_INFLATE, MAX_ENTRIES, "option chunk: 0 bytes, expected "
	    "1 to 128");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 0);
	msg_pack_str(&pk, "gzip");
	fails(MAX_INFLATE, MAX_ENTRIES, "option: expected map, got string");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 0);
	pack_record(&pk, 0);
	msgpack_pack_array(&pk, 0);
	fails(MAX_INFLATE, MAX_ENTRIES, "option: expected map, got array");
}
END_TEST

/*
 * Entries of the wrong shape are kept with an error, in their place; the
 * good ones around them are still accepted.
 */
static void
pack_bad_entries(msgpack_packer *p)
{
	pack_entry(p, 0);
	msgpack_pack_array(p, 2);		/* float time */
	msgpack_pack_double(p, 1700000000.5);
	pack_record(p, 1);
	msgpack_pack_array(p, 2);		/* string time */
	msg_pack_str(p, "1700000000");
	pack_record(p, 2);
	msgpack_pack_array(p, 2);		/* record not a map */
	msgpack_pack_int(p, 1);
	msg_pack_str(p, "{\"msg\": \"x\"}");
	msgpack_pack_array(p, 1);		/* a 1-array */
	msgpack_pack_int(p, 1);
	msgpack_pack_array(p, 3);		/* a 3-array */
	msgpack_pack_int(p, 1);
	pack_record(p, 5);
	msgpack_pack_nil(p);
	msgpack_pack_map(p, 0);			/* not an array at all */
	msgpack_pack_array(p, 2);		/* time and record both bad */
	msgpack_pack_true(p);
	msgpack_pack_int(p, 5);
	pack_entry(p, 8);
}

#define NBAD	9

static void
check_bad_entries(enum fwd_mode mode)
{
	static const char *const errors[NBAD] = {
		NULL,
		"time: a float is not a valid Forward time",
		"time: expected an integer or EventTime",
		"record: expected a map",
		"entry: expected [time, record]",
		"entry: expected [time, record]",
		"entry: expected [time, record]",
		"time: expected an integer or EventTime",
		NULL,
	};
	int	i;

	ck_assert_int_eq(m.mode, mode);
	ck_assert_uint_eq(m.nentries, NBAD);
	for (i = 0; i < NBAD; i++) {
		if (errors[i] == NULL)
			check_entry(&m.entries[i], i);
		else {
			ck_assert_ptr_nonnull(m.entries[i].error);
			ck_assert_str_eq(m.entries[i].error, errors[i]);
		}
	}
	/* A bad time does not lose the record that follows it. */
	same_bytes(m.entries[1].record, m.entries[1].record_len,
	    pack_record, 1);
	same_bytes(m.entries[2].record, m.entries[2].record_len,
	    pack_record, 2);
	ck_assert_ptr_null(m.entries[3].record);
}

START_TEST(test_entry_errors_forward)
{
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, NBAD);
	pack_bad_entries(&pk);
	pack_options(CHUNK_ID, NULL);
	ok();
	check_bad_entries(FWD_FORWARD);
	check_chunk(CHUNK_ID);
}
END_TEST

START_TEST(test_entry_errors_packed)
{
	msgpack_sbuffer	gz;

	pack_bad_entries(&epk);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, ent.size);
	msgpack_pack_bin_body(&pk, ent.data, ent.size);
	pack_options(CHUNK_ID, NULL);
	ok();
	check_bad_entries(FWD_PACKED);

	msgpack_sbuffer_init(&gz);
	gzip_member(&gz, ent.data, ent.size);
	msgpack_sbuffer_clear(&sb);
	pack_compressed(&gz, CHUNK_ID);
	ok();
	check_bad_entries(FWD_COMPRESSED);
	msgpack_sbuffer_destroy(&gz);
}
END_TEST

/* The same errors in a Message's single entry. */
START_TEST(test_entry_errors_message)
{
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_double(&pk, 1700000000.5);
	pack_record(&pk, 0);
	ok();
	ck_assert_int_eq(m.mode, FWD_MESSAGE);
	ck_assert_uint_eq(m.nentries, 1);
	ck_assert_str_eq(m.entries[0].error,
	    "time: a float is not a valid Forward time");
	same_bytes(m.entries[0].record, m.entries[0].record_len,
	    pack_record, 0);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msg_pack_str(&pk, TAG);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_array(&pk, 0);
	pack_options(CHUNK_ID, NULL);
	ok();
	ck_assert_int_eq(m.mode, FWD_MESSAGE);
	ck_assert_uint_eq(m.nentries, 1);
	ck_assert_str_eq(m.entries[0].error, "record: expected a map");
	check_chunk(CHUNK_ID);

	/* An extension that is not a time; a uint64 beyond int64. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_ext(&pk, 4, 9);
	msgpack_pack_ext_body(&pk, "abcd", 4);
	pack_record(&pk, 0);
	ok();
	ck_assert_str_eq(m.entries[0].error,
	    "time: expected an integer or EventTime");
	same_bytes(m.entries[0].record, m.entries[0].record_len,
	    pack_record, 0);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	pack_record(&pk, 0);
	ok();
	ck_assert_str_eq(m.entries[0].error,
	    "time: expected an integer or EventTime");
	same_bytes(m.entries[0].record, m.entries[0].record_len,
	    pack_record, 0);
}
END_TEST

/* Messages refused as a whole, by their shape. */
START_TEST(test_bad_shape)
{
	int	i;

	msgpack_pack_array(&pk, 1);
	msg_pack_str(&pk, TAG);
	fails(MAX_INFLATE, MAX_ENTRIES, "expected an array of 2 to 4 "
	    "elements, got 1");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 0);
	fails(MAX_INFLATE, MAX_ENTRIES, "expected an array of 2 to 4 "
	    "elements, got 0");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 5);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 0);
	pack_record(&pk, 0);
	msgpack_pack_map(&pk, 0);
	msgpack_pack_nil(&pk);
	fails(MAX_INFLATE, MAX_ENTRIES, "expected an array of 2 to 4 "
	    "elements, got 5");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, 7);
	pack_time(&pk, 0);
	pack_record(&pk, 0);
	fails(MAX_INFLATE, MAX_ENTRIES, "tag: expected string, got integer");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_bin(&pk, 3);
	msgpack_pack_bin_body(&pk, "app", 3);
	pack_time(&pk, 0);
	pack_record(&pk, 0);
	fails(MAX_INFLATE, MAX_ENTRIES, "tag: expected string, got binary");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	pack_record(&pk, 0);
	pack_record(&pk, 1);
	fails(MAX_INFLATE, MAX_ENTRIES, "second element: expected time, "
	    "entries or packed entries, got map");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_nil(&pk);
	fails(MAX_INFLATE, MAX_ENTRIES, "second element: expected time, "
	    "entries or packed entries, got nil");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 0);
	fails(MAX_INFLATE, MAX_ENTRIES, "message: expected [tag, time, "
	    "record]");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, 0);
	msgpack_pack_map(&pk, 0);
	msgpack_pack_map(&pk, 0);
	fails(MAX_INFLATE, MAX_ENTRIES, "expected an array of 2 or 3 "
	    "elements, got 4");

	/* Bytes after the message. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 0);
	pack_record(&pk, 0);
	msgpack_pack_nil(&pk);
	fails(MAX_INFLATE, MAX_ENTRIES, "malformed message: unexpected data "
	    "after the end");

	/* More entries than allowed, in each mode. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_array(&pk, 4);
	for (i = 0; i < 4; i++)
		pack_entry(&pk, i);
	fails(MAX_INFLATE, 3, "more than 3 entries");
	ck_assert_int_eq(parse(MAX_INFLATE, 4), 0);
	check_msg(FWD_FORWARD, 0, 4);

	pack_entries(0, 4);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, ent.size);
	msgpack_pack_bin_body(&pk, ent.data, ent.size);
	fails(MAX_INFLATE, 3, "more than 3 entries");
	ck_assert_int_eq(parse(MAX_INFLATE, 4), 0);
	check_msg(FWD_PACKED, 0, 4);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 3);
	msg_pack_str(&pk, TAG);
	pack_time(&pk, 0);
	pack_record(&pk, 0);
	fails(MAX_INFLATE, 0, "more than 0 entries");
}
END_TEST

/* Packed entries that are not a clean stream of msgpack objects. */
START_TEST(test_bad_packed)
{
	static const uint8_t	c1[] = { 0xc1 };
	static const uint8_t	half_head[] = { 0xcd, 0x01 };
	static const uint8_t	long_str[] = { 0x92, 0x01, 0xa5, 'a' };

	/* A truncated entry after a good one. */
	pack_entry(&epk, 0);
	pack_entry(&epk, 1);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, ent.size - 3);
	msgpack_pack_bin_body(&pk, ent.data, ent.size - 3);
	fails(MAX_INFLATE, MAX_ENTRIES, "packed entries: truncated value");

	/* Cut inside the header of the entry's first value. */
	msgpack_sbuffer_clear(&ent);
	pack_entry(&epk, 0);
	raw(&ent, "\x92", 1);
	raw(&ent, half_head, sizeof(half_head));
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, ent.size);
	msgpack_pack_bin_body(&pk, ent.data, ent.size);
	fails(MAX_INFLATE, MAX_ENTRIES, "packed entries: truncated value");

	/* A string longer than what is left. */
	msgpack_sbuffer_clear(&ent);
	pack_entry(&epk, 0);
	raw(&ent, long_str, sizeof(long_str));
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, ent.size);
	msgpack_pack_bin_body(&pk, ent.data, ent.size);
	fails(MAX_INFLATE, MAX_ENTRIES, "packed entries: truncated value");

	/* Garbage after the last entry. */
	msgpack_sbuffer_clear(&ent);
	pack_entries(0, 2);
	raw(&ent, c1, sizeof(c1));
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, ent.size);
	msgpack_pack_bin_body(&pk, ent.data, ent.size);
	fails(MAX_INFLATE, MAX_ENTRIES, "packed entries: invalid msgpack "
	    "byte 0xc1");

	/* Trailing bytes that are msgpack but not an entry: an entry error. */
	msgpack_sbuffer_clear(&ent);
	pack_entries(0, 2);
	raw(&ent, "\x00", 1);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	msg_pack_str(&pk, TAG);
	msgpack_pack_bin(&pk, ent.size);
	msgpack_pack_bin_body(&pk, ent.data, ent.size);
	ok();
	ck_assert_uint_eq(m.nentries, 3);
	check_entry(&m.entries[0], 0);
	check_entry(&m.entries[1], 1);
	ck_assert_str_eq(m.entries[2].error, "entry: expected [time, record]");
}
END_TEST

/* A message cut short, as a client that lies about lengths sends it. */
START_TEST(test_truncated_message)
{
	static const uint8_t	big_array[] = { 0xdd, 0xff, 0xff, 0xff, 0xff,
	    0xa1, 't' };
	static const uint8_t	big_entries[] = { 0x92, 0xa1, 't',
	    0xdd, 0x00, 0x01, 0x00, 0x00, 0x90 };
	static const uint8_t	big_entry[] = { 0x92, 0xa1, 't',
	    0x91, 0xdd, 0x00, 0x01, 0x00, 0x00, 0x01 };
	static const uint8_t	big_bin[] = { 0x92, 0xa1, 't',
	    0xc6, 0x00, 0x10, 0x00, 0x00, 0x01, 0x02 };
	static const uint8_t	big_str[] = { 0x92, 0xa1, 't',
	    0xdb, 0x00, 0x10, 0x00, 0x00, 0x01, 0x02 };
	static const uint8_t	big_tag[] = { 0x93, 0xd9, 0x40, 't', 0x01,
	    0x80 };
	static const uint8_t	big_ext[] = { 0x93, 0xa1, 't',
	    0xc7, 0x40, 0x00, 0x01, 0x80 };
	static const uint8_t	big_option[] = { 0x93, 0xa1, 't', 0x90,
	    0x81, 0xd9, 0x40, 'c', 'h' };
	static const uint8_t	big_chunk[] = { 0x93, 0xa1, 't', 0x90,
	    0x81, 0xa5, 'c', 'h', 'u', 'n', 'k', 0xd9, 0x40, 'x' };
	static const uint8_t	big_compressed[] = { 0x93, 0xa1, 't', 0x90,
	    0x81, 0xaa, 'c', 'o', 'm', 'p', 'r', 'e', 's', 's', 'e', 'd',
	    0xd9, 0x40, 'g' };
	static const uint8_t	short_forward[] = { 0x92, 0xa1, 't',
	    0x92, 0x92, 0x01, 0x80 };
	static const struct {
		const uint8_t	*p;
		size_t		 len;
		const char	*cause;
	} t[] = {
		{ big_array, sizeof(big_array), "malformed message: array "
		    "count exceeds the data" },
		{ big_entries, sizeof(big_entries), "malformed message: array "
		    "count exceeds the data" },
		{ big_entry, sizeof(big_entry), "malformed message: array "
		    "count exceeds the data" },
		{ big_bin, sizeof(big_bin), "malformed message: truncated "
		    "value" },
		{ big_str, sizeof(big_str), "malformed message: truncated "
		    "value" },
		{ big_tag, sizeof(big_tag), "tag: truncated value" },
		{ big_ext, sizeof(big_ext), "malformed message: truncated "
		    "value" },
		{ big_option, sizeof(big_option), "option: truncated value" },
		{ big_chunk, sizeof(big_chunk), "option: truncated value" },
		{ big_compressed, sizeof(big_compressed), "option: truncated value" },
		{ short_forward, sizeof(short_forward), "malformed message: "
		    "expected a value, got end of data" },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		msgpack_sbuffer_clear(&sb);
		raw(&sb, t[i].p, t[i].len);
		ck_assert_msg(parse(MAX_INFLATE, MAX_ENTRIES) == -1,
		    "case %zu accepted", i);
		ck_assert_ptr_nonnull(cause);
		ck_assert_msg(strcmp(cause, t[i].cause) == 0,
		    "case %zu: \"%s\", want \"%s\"", i, cause, t[i].cause);
	}
}
END_TEST

/* Broken gzip data. */
START_TEST(test_bad_gzip)
{
	msgpack_sbuffer	gz;

	msgpack_sbuffer_init(&gz);
	pack_entries(0, 5);
	gzip_member(&gz, ent.data, ent.size);

	/* Truncated: the trailer and then half the member missing. */
	gz.size -= 4;
	pack_compressed(&gz, CHUNK_ID);
	fails(MAX_INFLATE, MAX_ENTRIES, "gzip: data truncated");
	gz.size /= 2;
	msgpack_sbuffer_clear(&sb);
	pack_compressed(&gz, CHUNK_ID);
	fails(MAX_INFLATE, MAX_ENTRIES, "gzip: data truncated");

	/* Not gzip at all. */
	msgpack_sbuffer_clear(&sb);
	msgpack_sbuffer_clear(&gz);
	raw(&gz, ent.data, ent.size);
	pack_compressed(&gz, CHUNK_ID);
	fails(MAX_INFLATE, MAX_ENTRIES, "gzip: incorrect header check");

	/* A damaged CRC. */
	msgpack_sbuffer_clear(&gz);
	gzip_member(&gz, ent.data, ent.size);
	gz.data[gz.size - 8] ^= 0x55;
	msgpack_sbuffer_clear(&sb);
	pack_compressed(&gz, CHUNK_ID);
	fails(MAX_INFLATE, MAX_ENTRIES, "gzip: incorrect data check");

	/* A damaged length. */
	gz.data[gz.size - 8] ^= 0x55;
	gz.data[gz.size - 1] ^= 0x01;
	msgpack_sbuffer_clear(&sb);
	pack_compressed(&gz, CHUNK_ID);
	fails(MAX_INFLATE, MAX_ENTRIES, "gzip: incorrect length check");

	/* Garbage after a good member. */
	gz.data[gz.size - 1] ^= 0x01;
	raw(&gz, "garbage!", 8);
	msgpack_sbuffer_clear(&sb);
	pack_compressed(&gz, CHUNK_ID);
	fails(MAX_INFLATE, MAX_ENTRIES, "gzip: incorrect header check");

	/* Empty data said to be gzip. */
	msgpack_sbuffer_clear(&gz);
	msgpack_sbuffer_clear(&sb);
	pack_compressed(&gz, CHUNK_ID);
	fails(MAX_INFLATE, MAX_ENTRIES, "gzip: data truncated");

	/* Good gzip of data that is not packed entries. */
	msgpack_sbuffer_clear(&gz);
	gzip_member(&gz, "\xc1", 1);
	msgpack_sbuffer_clear(&sb);
	pack_compressed(&gz, CHUNK_ID);
	fails(MAX_INFLATE, MAX_ENTRIES, "packed entries: invalid msgpack "
	    "byte 0xc1");
	msgpack_sbuffer_destroy(&gz);
}
END_TEST

/* A gzip bomb: 10 MB of zeros in about 10 KB, against a 1 MB limit. */
START_TEST(test_gzip_bomb)
{
	msgpack_sbuffer	 gz;
	uint8_t		*zeros;
	size_t		 n = 10 * 1024 * 1024;

	zeros = calloc(1, n);
	ck_assert_ptr_nonnull(zeros);
	msgpack_sbuffer_init(&gz);
	gzip_member(&gz, zeros, n);
	free(zeros);
	ck_assert_uint_lt(gz.size, 64 * 1024);
	pack_compressed(&gz, CHUNK_ID);
	fails(1048576, MAX_ENTRIES, "gzip: data expands beyond 1048576 "
	    "bytes");
	ck_assert_ptr_null(m.inflated);

	/* Many small members that add up past the limit. */
	msgpack_sbuffer_clear(&gz);
	zeros = calloc(1, 300 * 1024);
	ck_assert_ptr_nonnull(zeros);
	gzip_member(&gz, zeros, 300 * 1024);
	gzip_member(&gz, zeros, 300 * 1024);
	gzip_member(&gz, zeros, 300 * 1024);
	gzip_member(&gz, zeros, 300 * 1024);
	free(zeros);
	msgpack_sbuffer_clear(&sb);
	pack_compressed(&gz, CHUNK_ID);
	fails(1048576, MAX_ENTRIES, "gzip: data expands beyond 1048576 "
	    "bytes");
	msgpack_sbuffer_destroy(&gz);
}
END_TEST

/* Data of exactly the limit passes; one byte less does not. */
START_TEST(test_gzip_limit_exact)
{
	msgpack_sbuffer	gz;
	char		want[64];

	msgpack_sbuffer_init(&gz);
	pack_entries(0, 3000);
	gzip_member(&gz, ent.data, ent.size);
	pack_compressed(&gz, NULL);
	ck_assert_int_eq(parse(ent.size, MAX_ENTRIES * 10), 0);
	check_msg(FWD_COMPRESSED, 0, 3000);
	snprintf(want, sizeof(want), "gzip: data expands beyond %zu bytes",
	    ent.size - 1);
	fails(ent.size - 1, MAX_ENTRIES * 10, want);
	msgpack_sbuffer_destroy(&gz);
}
END_TEST

/* Heartbeats and non-arrays are ignored without an error. */
START_TEST(test_heartbeat)
{
	msgpack_pack_nil(&pk);
	ok();
	ck_assert_int_eq(m.mode, FWD_NONE);
	ck_assert_uint_eq(m.nentries, 0);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 1);
	msg_pack_kv_str(&pk, "ack", CHUNK_ID);
	ok();
	ck_assert_int_eq(m.mode, FWD_NONE);
	ck_assert_uint_eq(m.nentries, 0);
	check_chunk(NULL);

	msgpack_sbuffer_clear(&sb);
	msg_pack_str(&pk, TAG);
	ok();
	ck_assert_int_eq(m.mode, FWD_NONE);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_int(&pk, 0);
	ok();
	ck_assert_int_eq(m.mode, FWD_NONE);
}
END_TEST

/*
 * One fwd_msg through many parses of every kind, good and bad: each parse
 * starts clean, and nothing leaks (the sanitizer and valgrind runs check).
 */
START_TEST(test_reuse)
{
	msgpack_sbuffer	gz;
	int		round, kind;

	msgpack_sbuffer_init(&gz);
	for (round = 0; round < 60; round++) {
		kind = round % 6;
		msgpack_sbuffer_clear(&sb);
		msgpack_sbuffer_clear(&ent);
		msgpack_sbuffer_clear(&gz);
		switch (kind) {
		case 0:		/* compressed, with a chunk */
			pack_entries(round, 3 + round);
			gzip_member(&gz, ent.data, ent.size);
			pack_compressed(&gz, CHUNK_ID);
			ok();
			check_msg(FWD_COMPRESSED, round, 3 + round);
			check_chunk(CHUNK_ID);
			break;
		case 1:		/* the same, refused for its gzip */
			pack_entries(round, 3);
			gzip_member(&gz, ent.data, ent.size);
			gz.size -= 5;
			pack_compressed(&gz, CHUNK_ID);
			fails(MAX_INFLATE, MAX_ENTRIES,
			    "gzip: data truncated");
			break;
		case 2:		/* a message, no chunk */
			msgpack_pack_array(&pk, 3);
			msg_pack_str(&pk, TAG);
			pack_time(&pk, round + 1);	/* not [time, meta] */
			pack_record(&pk, round + 1);
			ok();
			check_msg(FWD_MESSAGE, round + 1, 1);
			check_chunk(NULL);
			ck_assert_ptr_null(m.inflated);
			break;
		case 3:		/* compressed, refused after inflating */
			pack_entries(round, 4);
			gzip_member(&gz, ent.data, ent.size);
			pack_compressed(&gz, CHUNK_ID);
			fails(MAX_INFLATE, 2, "more than 2 entries");
			break;
		case 4:		/* heartbeat */
			msgpack_pack_nil(&pk);
			ok();
			ck_assert_int_eq(m.mode, FWD_NONE);
			ck_assert_uint_eq(m.nentries, 0);
			ck_assert_ptr_null(m.inflated);
			check_chunk(NULL);
			break;
		default:	/* forward, more entries than ever before */
			msgpack_pack_array(&pk, 2);
			msg_pack_str(&pk, TAG);
			msgpack_pack_array(&pk, 70 + round);
			for (kind = 0; kind < 70 + round; kind++)
				pack_entry(&pk, kind);
			ok();
			check_msg(FWD_FORWARD, 0, 70 + round);
			break;
		}
	}
	fwd_msg_clear(&m);
	ck_assert_uint_eq(m.nentries, 0);
	ck_assert_ptr_null(m.inflated);
	ck_assert_ptr_null(m.chunk);
	ck_assert_ptr_null(m.tag);
	msgpack_sbuffer_destroy(&gz);
}
END_TEST

static Suite *
forward_suite(void)
{
	Suite	*s = suite_create("forward");
	TCase	*tc = tcase_create("forward");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_message_int);
	tcase_add_test(tc, test_message_eventtime);
	tcase_add_test(tc, test_message_eventtime_ext8);
	tcase_add_test(tc, test_message_metadata_time);
	tcase_add_test(tc, test_forward);
	tcase_add_test(tc, test_time_slot_forms);
	tcase_add_test(tc, test_packed_bin);
	tcase_add_test(tc, test_packed_str);
	tcase_add_test(tc, test_compressed_one);
	tcase_add_test(tc, test_compressed_three);
	tcase_add_test(tc, test_gunzip);
	tcase_add_test(tc, test_options_liberal);
	tcase_add_test(tc, test_options_refused);
	tcase_add_test(tc, test_entry_errors_forward);
	tcase_add_test(tc, test_entry_errors_packed);
	tcase_add_test(tc, test_entry_errors_message);
	tcase_add_test(tc, test_bad_shape);
	tcase_add_test(tc, test_bad_packed);
	tcase_add_test(tc, test_truncated_message);
	tcase_add_test(tc, test_bad_gzip);
	tcase_add_test(tc, test_gzip_bomb);
	tcase_add_test(tc, test_gzip_limit_exact);
	tcase_add_test(tc, test_heartbeat);
	tcase_add_test(tc, test_reuse);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(forward_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? 1 : 0);
}
