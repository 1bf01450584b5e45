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
 * Tests for common/schema.c: events packed with msgpack-c (or written byte
 * by byte when the bytes must be wrong) are checked against streams built
 * by hand, as conf_load() would build them.  A valid event's stored form is
 * compared byte for byte with what msgpack-c packs for the expected map and
 * read back with msg_reader; every refusal is compared with its exact text,
 * and must leave the output buffer as it was.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>

#include "conf.h"
#include "msg.h"
#include "schema.h"

#define INGEST_NS	1111111111000000000LL
#define GIVEN_NS	1222222222333333333LL

static struct conf_field pv_fields[] = {
	{ .name = "url",	.namelen = 3, .type = CONF_FT_STRING,	.required = 1 },
	{ .name = "user",	.namelen = 4, .type = CONF_FT_STRING,	.required = 1 },
	{ .name = "referrer",	.namelen = 8, .type = CONF_FT_STRING,	.required = 0 },
	{ .name = "status",	.namelen = 6, .type = CONF_FT_INT,	.required = 0 },
	{ .name = "bytes",	.namelen = 5, .type = CONF_FT_INT,	.required = 0 },
	{ .name = "latency_ms",	.namelen = 10, .type = CONF_FT_FLOAT,	.required = 0 },
	{ .name = "time",	.namelen = 4, .type = CONF_FT_FLOAT,	.required = 1 },
	{ .name = "bot",	.namelen = 3, .type = CONF_FT_BOOL,	.required = 0 },
};

/* pageviews: a required float time field. */
static const struct conf_stream pageviews = {
	.name = "pageviews",
	.fields = pv_fields,
	.nfields = sizeof(pv_fields) / sizeof(pv_fields[0]),
	.time_field = "time",
	.time_idx = 6,
};

static struct conf_field ck_fields[] = {
	{ .name = "id",		.namelen = 2, .type = CONF_FT_INT,	.required = 1 },
	{ .name = "ts",		.namelen = 2, .type = CONF_FT_INT,	.required = 0 },
};

/* clicks: an optional int time field. */
static const struct conf_stream clicks = {
	.name = "clicks",
	.fields = ck_fields,
	.nfields = sizeof(ck_fields) / sizeof(ck_fields[0]),
	.time_field = "ts",
	.time_idx = 1,
};

/* notime: no time field at all. */
static const struct conf_stream notime = {
	.name = "notime",
	.fields = ck_fields,
	.nfields = 1,
	.time_field = NULL,
	.time_idx = -1,
};

static msgpack_sbuffer	 in, out;
static msgpack_packer	 ipk, opk;
static char		 err[SCHEMA_ERR_MAX];
static int64_t		 ens;

static void
setup(void)
{
	msgpack_sbuffer_init(&in);
	msgpack_packer_init(&ipk, &in, msgpack_sbuffer_write);
	msgpack_sbuffer_init(&out);
	msgpack_packer_init(&opk, &out, msgpack_sbuffer_write);
	err[0] = '\0';
	ens = 0;
}

static void
teardown(void)
{
	msgpack_sbuffer_destroy(&in);
	msgpack_sbuffer_destroy(&out);
}

/* Check the event in the input buffer against st. */
static int
run(const struct conf_stream *st, int64_t given, int64_t ingest)
{
	struct msg_reader	r;

	msg_reader_init(&r, in.data, in.size);
	return (schema_pack_event(st, &r, given, ingest, &opk, &ens, err,
	    sizeof(err)));
}

/* Refused with exactly want, with this given time, packing nothing. */
static void
refused_at(const struct conf_stream *st, int64_t given, const char *want)
{
	size_t	before;

	msgpack_pack_nil(&opk);		/* earlier output stays as it is */
	before = out.size;
	ens = 42;
	ck_assert_int_eq(run(st, given, INGEST_NS), -1);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(out.size, before);
	ck_assert_int_eq(ens, 42);
}

/* The event must be refused with exactly want, packing nothing. */
static void
refused(const struct conf_stream *st, const char *want)
{
	size_t	before;

	msgpack_pack_nil(&opk);		/* earlier output stays as it is */
	before = out.size;
	ens = 42;
	ck_assert_int_eq(run(st, GIVEN_NS, INGEST_NS), -1);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(out.size, before);
	ck_assert_int_eq(ens, 42);
}

/* The event must be accepted; returns its event time. */
static int64_t
accepted(const struct conf_stream *st, int64_t given)
{
	ck_assert_msg(run(st, given, INGEST_NS) == 0, "refused: %s", err);
	return (ens);
}

/* Input helpers. */
static void
kv_str(const char *k, const char *v)
{
	msg_pack_kv_str(&ipk, k, v);
}

static void
kv_int(const char *k, int64_t v)
{
	msg_pack_kv_int(&ipk, k, v);
}

static void
kv_dbl(const char *k, double v)
{
	msg_pack_kv_double(&ipk, k, v);
}

static void
kv_nil(const char *k)
{
	msg_pack_str(&ipk, k);
	msgpack_pack_nil(&ipk);
}

static void
raw(const void *p, size_t len)
{
	msgpack_sbuffer_write(&in, p, len);
}

/* An extension value in msgpack-c's smallest encoding. */
static void
pack_ext(int8_t type, const uint8_t *body, size_t len)
{
	msgpack_pack_ext(&ipk, len, type);
	msgpack_pack_ext_body(&ipk, body, len);
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	while (n-- > 0) {
		p[n] = v & 0xff;
		v >>= 8;
	}
}

/* MessagePack timestamp 32: ext -1, 4 bytes of seconds. */
static void
pack_ts32(uint32_t sec)
{
	uint8_t	b[4];

	put_be(b, sec, 4);
	pack_ext(-1, b, 4);
}

/* Timestamp 64: 30 bits of nanoseconds, then 34 bits of seconds. */
static void
pack_ts64(uint64_t sec, uint32_t nsec)
{
	uint8_t	b[8];

	put_be(b, (uint64_t)nsec << 34 | sec, 8);
	pack_ext(-1, b, 8);
}

/* Timestamp 96: uint32 nanoseconds, then int64 seconds. */
static void
pack_ts96(int64_t sec, uint32_t nsec)
{
	uint8_t	b[12];

	put_be(b, nsec, 4);
	put_be(b + 4, (uint64_t)sec, 8);
	pack_ext(-1, b, 12);
}

/* Fluentd EventTime: ext 0, uint32 seconds, uint32 nanoseconds. */
static void
pack_eventtime(uint32_t sec, uint32_t nsec)
{
	uint8_t	b[8];

	put_be(b, sec, 4);
	put_be(b + 4, nsec, 4);
	pack_ext(0, b, 8);
}

/* Start a pageviews event of n pairs with url, user and time (3 pairs). */
static void
pv_begin(uint32_t n)
{
	msgpack_pack_map(&ipk, n);
	kv_str("url", "/index.html");
	kv_str("user", "alice");
	kv_dbl("time", 1700000000.5);
}

/* The stored form must be a map of exactly these keys, in this order. */
static void
expect_keys(const char *const *keys, uint32_t nkeys)
{
	struct msg_reader	 r;
	const char		*k;
	size_t			 klen;
	uint32_t		 n, i;

	msg_reader_init(&r, out.data, out.size);
	ck_assert_int_eq(msg_get_map(&r, &n), 0);
	ck_assert_uint_eq(n, nkeys);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(msg_get_str(&r, &k, &klen), 0);
		ck_assert_uint_eq(klen, strlen(keys[i]));
		ck_assert_mem_eq(k, keys[i], klen);
		ck_assert_int_eq(msg_skip(&r), 0);
	}
	ck_assert_int_eq(msg_end(&r), 0);
}

/* The value stored for key, as a reader positioned on it. */
static void
stored(const char *key, struct msg_reader *r)
{
	const char	*k;
	size_t		 klen;
	uint32_t	 n;

	msg_reader_init(r, out.data, out.size);
	ck_assert_int_eq(msg_get_map(r, &n), 0);
	while (n-- > 0) {
		ck_assert_int_eq(msg_get_str(r, &k, &klen), 0);
		if (klen == strlen(key) && memcmp(k, key, klen) == 0)
			return;
		ck_assert_int_eq(msg_skip(r), 0);
	}
	ck_abort_msg("%s not stored", key);
}

/*
 * A valid event, its fields out of order and in odd encodings: the stored
 * form has the schema's order, ints re-encoded by msgpack_pack_int64,
 * floats (and an int given for a float) as float64, nil left out.
 */
START_TEST(test_valid_exact)
{
	static const uint8_t	 status_i64[] = {	/* 200 as int 64 */
		0xd3, 0, 0, 0, 0, 0, 0, 0, 0xc8 };
	msgpack_sbuffer		 want;
	msgpack_packer		 wpk;
	struct msg_reader	 r;
	const char		*s;
	size_t			 len;
	int64_t			 i;
	double			 d;
	uint32_t		 n;
	int			 b;

	msgpack_pack_map(&ipk, 8);
	kv_dbl("time", 1700000000.5);
	msg_pack_str(&ipk, "status");
	raw(status_i64, sizeof(status_i64));
	kv_str("user", "alice");
	msg_pack_str(&ipk, "latency_ms");
	msgpack_pack_float(&ipk, 12.5f);
	msg_pack_str(&ipk, "bytes");
	msgpack_pack_uint32(&ipk, 70000);
	kv_nil("referrer");
	msg_pack_str(&ipk, "bot");
	msgpack_pack_false(&ipk);
	kv_str("url", "/caf\xc3\xa9.html");
	ck_assert_int_eq(accepted(&pageviews, GIVEN_NS),
	    1700000000500000000LL);

	/* Byte for byte what msgpack-c packs for the expected map. */
	msgpack_sbuffer_init(&want);
	msgpack_packer_init(&wpk, &want, msgpack_sbuffer_write);
	msgpack_pack_map(&wpk, 7);
	msg_pack_kv_str(&wpk, "url", "/caf\xc3\xa9.html");
	msg_pack_kv_str(&wpk, "user", "alice");
	msg_pack_str(&wpk, "status");
	msgpack_pack_int64(&wpk, 200);
	msg_pack_str(&wpk, "bytes");
	msgpack_pack_int64(&wpk, 70000);
	msg_pack_str(&wpk, "latency_ms");
	msgpack_pack_double(&wpk, 12.5);
	msg_pack_str(&wpk, "time");
	msgpack_pack_double(&wpk, 1700000000.5);
	msg_pack_str(&wpk, "bot");
	msgpack_pack_false(&wpk);
	ck_assert_uint_eq(out.size, want.size);
	ck_assert_mem_eq(out.data, want.data, want.size);
	msgpack_sbuffer_destroy(&want);

	/* And read back value by value. */
	msg_reader_init(&r, out.data, out.size);
	ck_assert_int_eq(msg_get_map(&r, &n), 0);
	ck_assert_uint_eq(n, 7);
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(s, "url", 3);
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert_uint_eq(len, 11);
	ck_assert_mem_eq(s, "/caf\xc3\xa9.html", 11);
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert_mem_eq(s, "user", 4);
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(s, "alice", 5);
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert_mem_eq(s, "status", 6);
	ck_assert_uint_eq((uint8_t)r.p[0], 0xcc);	/* uint 8 */
	ck_assert_int_eq(msg_get_int(&r, &i), 0);
	ck_assert_int_eq(i, 200);
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert_mem_eq(s, "bytes", 5);
	ck_assert_uint_eq((uint8_t)r.p[0], 0xce);	/* uint 32 */
	ck_assert_int_eq(msg_get_int(&r, &i), 0);
	ck_assert_int_eq(i, 70000);
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert_mem_eq(s, "latency_ms", 10);
	ck_assert_uint_eq((uint8_t)r.p[0], 0xcb);	/* float 64 */
	ck_assert_int_eq(msg_get_float(&r, &d), 0);
	ck_assert(d == 12.5);
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert_mem_eq(s, "time", 4);
	ck_assert_uint_eq((uint8_t)r.p[0], 0xcb);
	ck_assert_int_eq(msg_get_float(&r, &d), 0);
	ck_assert(d == 1700000000.5);
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert_mem_eq(s, "bot", 3);
	ck_assert_int_eq(msg_get_bool(&r, &b), 0);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(msg_end(&r), 0);
}
END_TEST

/* Negative ints, an int for a float field, true, an empty string. */
START_TEST(test_valid_other_values)
{
	static const char *const keys[] = { "url", "user", "referrer",
	    "status", "bytes", "latency_ms", "time", "bot" };
	struct msg_reader	r;
	int64_t			i;
	double			d;
	int			b;

	pv_begin(8);
	kv_int("status", -3);
	kv_int("bytes", INT64_MIN);
	kv_int("latency_ms", 12);
	kv_str("referrer", "");
	msg_pack_str(&ipk, "bot");
	msgpack_pack_true(&ipk);
	accepted(&pageviews, SCHEMA_NO_TIME);
	expect_keys(keys, 8);
	stored("status", &r);
	ck_assert_uint_eq((uint8_t)r.p[0], 0xfd);	/* negative fixint */
	ck_assert_int_eq(msg_get_int(&r, &i), 0);
	ck_assert_int_eq(i, -3);
	stored("bytes", &r);
	ck_assert_uint_eq((uint8_t)r.p[0], 0xd3);	/* int 64 */
	ck_assert_int_eq(msg_get_int(&r, &i), 0);
	ck_assert_int_eq(i, INT64_MIN);
	stored("latency_ms", &r);
	ck_assert_uint_eq((uint8_t)r.p[0], 0xcb);
	ck_assert_int_eq(msg_get_float(&r, &d), 0);
	ck_assert(d == 12.0);
	stored("bot", &r);
	ck_assert_int_eq(msg_get_bool(&r, &b), 0);
	ck_assert_int_eq(b, 1);
}
END_TEST

/* Only the required fields: a map of three. */
START_TEST(test_valid_minimal)
{
	static const char *const keys[] = { "url", "user", "time" };

	pv_begin(3);
	ck_assert_int_eq(accepted(&pageviews, GIVEN_NS),
	    1700000000500000000LL);
	expect_keys(keys, 3);
}
END_TEST

/* Wrong types, for fields of each kind. */
START_TEST(test_wrong_types)
{
	static const uint8_t	bin[] = { 0xc4, 0x01, 'x' };
	static const uint8_t	arr[] = { 0x91, 0x01 };
	static const uint8_t	map[] = { 0x81, 0xa1, 'a', 0x01 };

	pv_begin(4);
	kv_str("status", "200");
	refused(&pageviews, "field status: expected int, got string");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_dbl("status", 200.0);
	refused(&pageviews, "field status: expected int, got float");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_str(&ipk, "bytes");
	msgpack_pack_true(&ipk);
	refused(&pageviews, "field bytes: expected int, got boolean");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_int("url", 7);
	kv_str("user", "alice");
	kv_dbl("time", 1.0);
	refused(&pageviews, "field url: expected string, got integer");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_str(&ipk, "referrer");
	raw(bin, sizeof(bin));
	refused(&pageviews, "field referrer: expected string, got binary");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_str(&ipk, "referrer");
	raw(arr, sizeof(arr));
	refused(&pageviews, "field referrer: expected string, got array");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_str(&ipk, "referrer");
	raw(map, sizeof(map));
	refused(&pageviews, "field referrer: expected string, got map");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_str("latency_ms", "12.5");
	refused(&pageviews, "field latency_ms: expected float, got string");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_str(&ipk, "latency_ms");
	msgpack_pack_false(&ipk);
	refused(&pageviews, "field latency_ms: expected float, got boolean");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_int("bot", 1);
	refused(&pageviews, "field bot: expected bool, got integer");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_str("bot", "true");
	refused(&pageviews, "field bot: expected bool, got string");

	/* An extension is a time only in the time field. */
	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_str(&ipk, "status");
	pack_eventtime(1, 0);
	refused(&pageviews, "field status: expected int, got extension");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_str(&ipk, "latency_ms");
	pack_ts32(1);
	refused(&pageviews, "field latency_ms: expected float, got "
	    "extension");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	kv_str("time", "1700000000");
	refused(&pageviews, "field time: expected float, got string");
}
END_TEST

/* Strict UTF-8 in string values. */
START_TEST(test_bad_utf8)
{
	static const char *const bad[] = {
		"\xff",			/* never valid */
		"ab\xc3",		/* truncated sequence */
		"\xc0\xaf",		/* overlong '/' */
		"\xed\xa0\x80",		/* surrogate U+D800 */
		"\xf4\x90\x80\x80",	/* above U+10FFFF */
		"\x80",			/* lone continuation byte */
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msgpack_sbuffer_clear(&in);
		msgpack_pack_map(&ipk, 3);
		kv_str("url", bad[i]);
		kv_str("user", "alice");
		kv_dbl("time", 1.0);
		refused(&pageviews, "field url: invalid UTF-8");
	}
	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_str("referrer", "http://x/\xe2\x82");
	refused(&pageviews, "field referrer: invalid UTF-8");

	/* Valid 4-byte sequences pass. */
	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_str("referrer", "\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
	accepted(&pageviews, SCHEMA_NO_TIME);
}
END_TEST

/* Keys that are not fields: echoed only when short, clean UTF-8. */
START_TEST(test_unknown_fields)
{
	static const char	 nul[] = { 'u', 'r', 'l', '\0', 'x' };
	char			 name[80], want[SCHEMA_ERR_MAX];

	pv_begin(4);
	kv_int("foo", 1);
	refused(&pageviews, "field foo: not in the schema of stream "
	    "pageviews");

	/* Case matters, and a prefix of a name is not the name. */
	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_str("URL", "/");
	refused(&pageviews, "field URL: not in the schema of stream "
	    "pageviews");
	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_str("ur", "/");
	refused(&pageviews, "field ur: not in the schema of stream "
	    "pageviews");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_int("\xff\xfe", 1);
	refused(&pageviews, "field name not in the schema of stream "
	    "pageviews (not shown: invalid or too long)");

	/* 64 bytes is echoed, 65 is not. */
	memset(name, 'a', 64);
	name[64] = '\0';
	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_int(name, 1);
	snprintf(want, sizeof(want), "field %s: not in the schema of stream "
	    "pageviews", name);
	refused(&pageviews, want);
	memset(name, 'a', 65);
	name[65] = '\0';
	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_int(name, 1);
	refused(&pageviews, "field name not in the schema of stream "
	    "pageviews (not shown: invalid or too long)");

	/* "url\0x" is not url, and a NUL is not echoed. */
	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_strn(&ipk, nul, sizeof(nul));
	msgpack_pack_int(&ipk, 1);
	refused(&pageviews, "field name not in the schema of stream "
	    "pageviews (not shown: invalid or too long)");
	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_strn(&ipk, nul, 4);
	msgpack_pack_int(&ipk, 1);
	refused(&pageviews, "field name not in the schema of stream "
	    "pageviews (not shown: invalid or too long)");

	/* The empty name. */
	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_int("", 1);
	refused(&pageviews, "field name not in the schema of stream pageviews (not shown: invalid or too long)");
}
END_TEST

/* Keys that are not strings. */
START_TEST(test_key_not_string)
{
	static const uint8_t	binkey[] = { 0xc4, 0x03, 'u', 'r', 'l' };

	pv_begin(4);
	msgpack_pack_int(&ipk, 1);
	msgpack_pack_int(&ipk, 2);
	refused(&pageviews, "field name: expected string, got integer");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msgpack_pack_nil(&ipk);
	msgpack_pack_int(&ipk, 2);
	refused(&pageviews, "field name: expected string, got nil");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 1);
	raw(binkey, sizeof(binkey));
	msgpack_pack_int(&ipk, 1);
	refused(&pageviews, "field name: expected string, got binary");
}
END_TEST

START_TEST(test_duplicate)
{
	pv_begin(4);
	kv_str("url", "/again");
	refused(&pageviews, "field url: given twice");

	/* nil then a value is still twice, and so is a value then nil. */
	msgpack_sbuffer_clear(&in);
	pv_begin(5);
	kv_nil("referrer");
	kv_str("referrer", "x");
	refused(&pageviews, "field referrer: given twice");
	msgpack_sbuffer_clear(&in);
	pv_begin(5);
	kv_int("status", 200);
	kv_nil("status");
	refused(&pageviews, "field status: given twice");

	/* The time field twice, the second as a timestamp. */
	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_str(&ipk, "time");
	pack_ts32(5);
	refused(&pageviews, "field time: given twice");
}
END_TEST

START_TEST(test_required)
{
	msgpack_pack_map(&ipk, 2);
	kv_str("url", "/");
	kv_dbl("time", 1.0);
	refused(&pageviews, "field user: required but missing");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 2);
	kv_str("url", "/");
	kv_str("user", "alice");
	refused_at(&pageviews, SCHEMA_NO_TIME,
	    "field time: required but missing");
	/* A time given with the event (Forward's slot) fills the field. */
	msgpack_sbuffer_clear(&out);
	ck_assert_int_eq(run(&pageviews, GIVEN_NS, INGEST_NS), 0);
	ck_assert_int_eq(ens, GIVEN_NS);

	/* The first missing field in schema order is named. */
	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 0);
	refused(&pageviews, "field url: required but missing");

	/* nil means absent. */
	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_nil("user");
	kv_dbl("time", 1.0);
	refused(&pageviews, "field user: required but missing");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	kv_nil("time");
	refused_at(&pageviews, SCHEMA_NO_TIME,
	    "field time: required but missing");
}
END_TEST

/* nil for optional fields: accepted and left out of the stored form. */
START_TEST(test_nil_optional)
{
	static const char *const keys[] = { "url", "user", "time" };

	pv_begin(8);
	kv_nil("referrer");
	kv_nil("status");
	kv_nil("latency_ms");
	kv_nil("bot");
	kv_nil("bytes");
	ck_assert_int_eq(accepted(&pageviews, SCHEMA_NO_TIME),
	    1700000000500000000LL);
	expect_keys(keys, 3);
}
END_TEST

/* Integers beyond int64 and floats that are not finite. */
START_TEST(test_number_range)
{
	pv_begin(4);
	msg_pack_str(&ipk, "status");
	msgpack_pack_uint64(&ipk, UINT64_MAX);
	refused(&pageviews, "field status: integer out of range");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_str(&ipk, "bytes");
	msgpack_pack_uint64(&ipk, (uint64_t)INT64_MAX + 1);
	refused(&pageviews, "field bytes: integer out of range");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_str(&ipk, "bytes");
	msgpack_pack_uint64(&ipk, INT64_MAX);
	accepted(&pageviews, SCHEMA_NO_TIME);

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_dbl("latency_ms", NAN);
	refused(&pageviews, "field latency_ms: not a finite number");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	kv_dbl("latency_ms", INFINITY);
	refused(&pageviews, "field latency_ms: not a finite number");

	msgpack_sbuffer_clear(&in);
	pv_begin(4);
	msg_pack_str(&ipk, "latency_ms");
	msgpack_pack_float(&ipk, -INFINITY);
	refused(&pageviews, "field latency_ms: not a finite number");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	kv_dbl("time", NAN);
	refused(&pageviews, "field time: not a finite number");
}
END_TEST

/* The event itself must be a complete map. */
START_TEST(test_not_a_map)
{
	static const uint8_t	trunc_map[] = { 0xde, 0x03, 0xe8, 0xa1, 'a' };
	static const uint8_t	trunc_key[] = { 0x81, 0xd9, 0x20, 'u', 'r' };
	static const uint8_t	trunc_val[] = { 0x81, 0xa3, 'u', 'r', 'l',
	    0xd9, 0x32, '/', 'a', 'b' };
	static const uint8_t	trunc_time[] = { 0x83,
	    0xa3, 'u', 'r', 'l', 0xa1, '/',
	    0xa4, 'u', 's', 'e', 'r', 0xa1, 'a',
	    0xa4, 't', 'i', 'm', 'e', 0xd7, 0x00, 0, 0, 0 };

	msgpack_pack_array(&ipk, 1);
	msgpack_pack_int(&ipk, 1);
	refused(&pageviews, "event: expected map, got array");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_nil(&ipk);
	refused(&pageviews, "event: expected map, got nil");

	msgpack_sbuffer_clear(&in);
	msg_pack_str(&ipk, "{\"url\": \"/\"}");
	refused(&pageviews, "event: expected map, got string");

	msgpack_sbuffer_clear(&in);
	refused(&pageviews, "event: expected map, got end of data");

	msgpack_sbuffer_clear(&in);
	raw(trunc_map, sizeof(trunc_map));
	refused(&pageviews, "event: map count exceeds the data");

	msgpack_sbuffer_clear(&in);
	raw(trunc_key, sizeof(trunc_key));
	refused(&pageviews, "field name: truncated value");

	msgpack_sbuffer_clear(&in);
	raw(trunc_val, sizeof(trunc_val));
	refused(&pageviews, "field url: truncated value");

	msgpack_sbuffer_clear(&in);
	raw(trunc_time, sizeof(trunc_time));
	refused(&pageviews, "field time: truncated value");
}
END_TEST

/* A schema over the field limit is refused, not overrun. */
START_TEST(test_too_many_fields)
{
	struct conf_field	*f;
	struct conf_stream	 big;
	size_t			 i;

	f = calloc(257, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	for (i = 0; i < 257; i++) {
		f[i].name = "x";
		f[i].type = CONF_FT_INT;
	}
	memset(&big, 0, sizeof(big));
	big.name = "big";
	big.fields = f;
	big.nfields = 257;
	msgpack_pack_map(&ipk, 0);
	refused(&big, "stream big has too many fields");
	free(f);
}
END_TEST

/* Epoch seconds as an integer in a float time field. */
START_TEST(test_time_int_seconds)
{
	struct msg_reader	r;
	double			d;

	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	kv_int("time", 1700000000);
	ck_assert_int_eq(accepted(&pageviews, GIVEN_NS),
	    1700000000000000000LL);
	stored("time", &r);
	ck_assert_uint_eq((uint8_t)r.p[0], 0xcb);
	ck_assert_int_eq(msg_get_float(&r, &d), 0);
	ck_assert(d == 1700000000.0);

	/* Before the epoch. */
	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	kv_int("time", -86400);
	ck_assert_int_eq(accepted(&pageviews, GIVEN_NS),
	    -86400000000000LL);
}
END_TEST

/* Float seconds round to the nearest nanosecond of the double's value. */
START_TEST(test_time_float_rounding)
{
	static const struct {
		double	secs;
		int64_t	ns;
	} t[] = {
		{ 1700000000.25,	1700000000250000000LL },
		/* 1700000000.1234567165374755859375 exactly */
		{ 1700000000.1234567,	1700000000123456717LL },
		/* 1234.567890123599909... : rounds up, not truncated */
		{ 1234.5678901236,	1234567890124LL },
		/* 1234.567890123399... : rounds down */
		{ 1234.5678901234,	1234567890123LL },
		{ -1.25,		-1250000000LL },
		{ 0.0,			0 },
		{ 9223372035.0,		9223372035000000000LL },
		{ -9223372035.0,	-9223372035000000000LL },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		msgpack_sbuffer_clear(&in);
		msgpack_pack_map(&ipk, 3);
		kv_str("url", "/");
		kv_str("user", "alice");
		kv_dbl("time", t[i].secs);
		ck_assert_msg(accepted(&pageviews, GIVEN_NS) == t[i].ns,
		    "%.17g: got %lld, want %lld", t[i].secs, (long long)ens,
		    (long long)t[i].ns);
	}

	/* A float32 works too. */
	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	msg_pack_str(&ipk, "time");
	msgpack_pack_float(&ipk, 0.5f);
	ck_assert_int_eq(accepted(&pageviews, GIVEN_NS), 500000000);
}
END_TEST

/* A float time cut short (the input ends inside it): refused, not read. */
START_TEST(test_time_truncated)
{
	static const char	cut[] = { (char)0xcb, 0x41, (char)0xd9 };

	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	msg_pack_str(&ipk, "time");
	msgpack_sbuffer_write(&in, cut, sizeof(cut));
	msgpack_pack_nil(&opk);
	ens = 42;
	ck_assert_int_eq(run(&pageviews, GIVEN_NS, INGEST_NS), -1);
	ck_assert_str_eq(err, "field time: expected float, got nothing");
	ck_assert_int_eq(ens, 42);
}
END_TEST

/* Times too far from the epoch for int64 nanoseconds. */
START_TEST(test_time_out_of_range)
{
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	kv_dbl("time", 1e10);
	refused(&pageviews, "field time: time out of range");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	kv_dbl("time", -9223372036.0);
	refused(&pageviews, "field time: time out of range");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	kv_int("time", INT64_MAX);
	refused(&pageviews, "field time: time out of range");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 2);
	kv_int("id", 1);
	kv_int("ts", 9223372036LL);
	refused(&clicks, "field ts: time out of range");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 2);
	kv_int("id", 1);
	kv_int("ts", -9223372036LL);
	refused(&clicks, "field ts: time out of range");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 2);
	kv_int("id", 1);
	kv_int("ts", 9223372035LL);
	ck_assert_int_eq(accepted(&clicks, GIVEN_NS),
	    9223372035000000000LL);

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	msg_pack_str(&ipk, "time");
	pack_ts96(INT64_MAX, 0);
	refused(&pageviews, "field time: time out of range");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	msg_pack_str(&ipk, "time");
	pack_ts96(-9223372036LL, 0);
	refused(&pageviews, "field time: time out of range");
}
END_TEST

/* An extension time in the pageviews time field; *ns gets the time. */
static void
pv_ext_time(void (*pack)(void), int64_t want_ns)
{
	struct msg_reader	r;
	double			d;

	msgpack_sbuffer_clear(&in);
	msgpack_sbuffer_clear(&out);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	msg_pack_str(&ipk, "time");
	pack();
	kv_str("user", "alice");
	ck_assert_int_eq(accepted(&pageviews, GIVEN_NS), want_ns);
	stored("time", &r);
	ck_assert_uint_eq((uint8_t)r.p[0], 0xcb);
	ck_assert_int_eq(msg_get_float(&r, &d), 0);
	ck_assert(d == (double)want_ns / 1e9);
}

static void
ts32(void)
{
	pack_ts32(1700000000);
}

static void
ts32_max(void)
{
	pack_ts32(UINT32_MAX);
}

static void
ts64(void)
{
	pack_ts64(1700000000, 123456789);
}

static void
ts64_wide(void)
{
	pack_ts64(5000000000ULL, 999999999);	/* needs all 34 bits */
}

static void
ts96(void)
{
	pack_ts96(1700000000, 7);
}

static void
ts96_negative(void)
{
	pack_ts96(-2, 500000000);		/* -1.5 s */
}

static void
eventtime(void)
{
	pack_eventtime(1700000000, 123456789);
}

static void
eventtime_ext8(void)
{
	static const uint8_t	b[] = { 0xc7, 0x08, 0x00,
	    0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x2a };

	raw(b, sizeof(b));
}

/* MessagePack timestamps of 4, 8 and 12 bytes and Fluentd's EventTime. */
START_TEST(test_time_ext)
{
	pv_ext_time(ts32, 1700000000000000000LL);
	pv_ext_time(ts32_max, 4294967295000000000LL);
	pv_ext_time(ts64, 1700000000123456789LL);
	pv_ext_time(ts64_wide, 5000000000999999999LL);
	pv_ext_time(ts96, 1700000000000000007LL);
	pv_ext_time(ts96_negative, -1500000000LL);
	pv_ext_time(eventtime, 1700000000123456789LL);
	pv_ext_time(eventtime_ext8, 1700000000000000042LL);
}
END_TEST

/* An int time field given a timestamp stores whole seconds. */
START_TEST(test_time_ext_int_field)
{
	struct msg_reader	r;
	int64_t			i;

	msgpack_pack_map(&ipk, 2);
	kv_int("id", 1);
	msg_pack_str(&ipk, "ts");
	pack_eventtime(1700000000, 999999999);
	ck_assert_int_eq(accepted(&clicks, GIVEN_NS), 1700000000999999999LL);
	stored("ts", &r);
	ck_assert_int_eq(msg_get_int(&r, &i), 0);
	ck_assert_int_eq(i, 1700000000);
}
END_TEST

/*
 * Extensions that are not times, and times whose nanoseconds reach a
 * second (msg_ext_time refuses both alike).
 */
START_TEST(test_time_ext_bad)
{
	static const uint8_t	 b16[16] = { 0 };
	static const uint8_t	 b8[8] = { 0 };
	static const uint8_t	 b4[4] = { 0 };

	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	msg_pack_str(&ipk, "time");
	pack_ext(5, b8, 8);
	refused(&pageviews, "field time: expected a time, got extension "
	    "type 5 of 8 bytes");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	msg_pack_str(&ipk, "time");
	pack_ext(0, b4, 4);
	refused(&pageviews, "field time: expected a time, got extension "
	    "type 0 of 4 bytes");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	msg_pack_str(&ipk, "time");
	pack_ext(-1, b16, 16);
	refused(&pageviews, "field time: expected a time, got extension "
	    "type -1 of 16 bytes");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	msg_pack_str(&ipk, "time");
	pack_eventtime(1, 1000000000);
	refused(&pageviews, "field time: expected a time, got extension "
	    "type 0 of 8 bytes");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	msg_pack_str(&ipk, "time");
	pack_ts64(1, 1000000000);
	refused(&pageviews, "field time: expected a time, got extension "
	    "type -1 of 8 bytes");

	msgpack_sbuffer_clear(&in);
	msgpack_pack_map(&ipk, 3);
	kv_str("url", "/");
	kv_str("user", "alice");
	msg_pack_str(&ipk, "time");
	pack_ts96(1, UINT32_MAX);
	refused(&pageviews, "field time: expected a time, got extension "
	    "type -1 of 12 bytes");
}
END_TEST

/* Without a time field value: the given time, else the ingest time. */
START_TEST(test_time_fallback)
{
	static const char *const keys[] = { "id", "ts" };

	/* Optional time field absent: the given time fills it. */
	msgpack_pack_map(&ipk, 1);
	kv_int("id", 1);
	ck_assert_int_eq(accepted(&clicks, GIVEN_NS), GIVEN_NS);
	expect_keys(keys, 2);
	msgpack_sbuffer_clear(&out);
	ck_assert_int_eq(accepted(&clicks, SCHEMA_NO_TIME), INGEST_NS);

	/* nil is absent. */
	msgpack_sbuffer_clear(&in);
	msgpack_sbuffer_clear(&out);
	msgpack_pack_map(&ipk, 2);
	kv_int("id", 1);
	kv_nil("ts");
	ck_assert_int_eq(accepted(&clicks, GIVEN_NS), GIVEN_NS);
	expect_keys(keys, 2);
	msgpack_sbuffer_clear(&out);
	ck_assert_int_eq(accepted(&clicks, SCHEMA_NO_TIME), INGEST_NS);

	/* Present, it wins over the given time. */
	msgpack_sbuffer_clear(&in);
	msgpack_sbuffer_clear(&out);
	msgpack_pack_map(&ipk, 2);
	kv_int("ts", -5);
	kv_int("id", 1);
	ck_assert_int_eq(accepted(&clicks, GIVEN_NS), -5000000000LL);

	/* A stream without a time field. */
	msgpack_sbuffer_clear(&in);
	msgpack_sbuffer_clear(&out);
	msgpack_pack_map(&ipk, 1);
	kv_int("id", 1);
	ck_assert_int_eq(accepted(&notime, GIVEN_NS), GIVEN_NS);
	msgpack_sbuffer_clear(&out);
	ck_assert_int_eq(accepted(&notime, SCHEMA_NO_TIME), INGEST_NS);
}
END_TEST

/* schema_time_value must refuse the value in the input buffer. */
static void
time_refused(const char *want)
{
	struct msg_reader	r;
	int64_t			ns = 7;

	msg_reader_init(&r, in.data, in.size);
	ck_assert_int_eq(schema_time_value(&r, &ns, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(ns, 7);
	msgpack_sbuffer_clear(&in);
}

/* schema_time_value on its own: the reader moves past the value. */
START_TEST(test_time_value)
{
	struct msg_reader	r;
	int64_t			ns = 7;

	msgpack_pack_int(&ipk, 12);
	pack_eventtime(3, 4);
	msgpack_pack_double(&ipk, 2.5);
	pack_ts32(9);
	msgpack_pack_int(&ipk, -1);
	msg_reader_init(&r, in.data, in.size);
	ck_assert_int_eq(schema_time_value(&r, &ns, err, sizeof(err)), 0);
	ck_assert_int_eq(ns, 12000000000LL);
	ck_assert_int_eq(schema_time_value(&r, &ns, err, sizeof(err)), 0);
	ck_assert_int_eq(ns, 3000000004LL);
	ck_assert_int_eq(schema_time_value(&r, &ns, err, sizeof(err)), 0);
	ck_assert_int_eq(ns, 2500000000LL);
	ck_assert_int_eq(schema_time_value(&r, &ns, err, sizeof(err)), 0);
	ck_assert_int_eq(ns, 9000000000LL);
	ck_assert_int_eq(schema_time_value(&r, &ns, err, sizeof(err)), 0);
	ck_assert_int_eq(ns, -1000000000LL);
	ck_assert_int_eq(msg_end(&r), 0);
	msgpack_sbuffer_clear(&in);

	msg_pack_str(&ipk, "now");
	time_refused("expected a time (epoch seconds or a timestamp), got "
	    "string");
	msgpack_pack_nil(&ipk);
	time_refused("expected a time (epoch seconds or a timestamp), got "
	    "nil");
	time_refused("expected a time (epoch seconds or a timestamp), got "
	    "nothing");
	msgpack_pack_uint64(&ipk, UINT64_MAX);
	time_refused("time out of range");
	msgpack_pack_double(&ipk, INFINITY);
	time_refused("time out of range");
	msgpack_pack_double(&ipk, NAN);
	time_refused("time out of range");
	msgpack_pack_double(&ipk, 9223372036.0);
	time_refused("time out of range");
	pack_ext(7, (const uint8_t *)"abcd", 4);
	time_refused("expected a time, got extension type 7 of 4 bytes");
}
END_TEST

/* A truncated extension is refused, not read past its end. */
START_TEST(test_time_value_truncated)
{
	static const uint8_t	 b[] = { 0xc7, 0x0c, 0xff, 0, 0, 0, 0, 0 };
	struct msg_reader	 r;
	int64_t			 ns = 7;

	msg_reader_init(&r, b, sizeof(b));
	ck_assert_int_eq(schema_time_value(&r, &ns, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "truncated value");
	ck_assert_int_eq(ns, 7);
}
END_TEST

/* The output buffer grows only by accepted events, in order. */
START_TEST(test_output_appends)
{
	msgpack_sbuffer		 want;
	msgpack_packer		 wpk;
	int			 i;

	msgpack_sbuffer_init(&want);
	msgpack_packer_init(&wpk, &want, msgpack_sbuffer_write);
	for (i = 0; i < 20; i++) {
		msgpack_sbuffer_clear(&in);
		msgpack_pack_map(&ipk, 2);
		kv_int("id", i);
		if (i % 3 == 0)
			kv_str("ts", "bad");
		else
			kv_int("ts", i);
		if (i % 3 == 0) {
			ck_assert_int_eq(run(&clicks, SCHEMA_NO_TIME, 0), -1);
			ck_assert_str_eq(err, "field ts: expected int, got "
			    "string");
			continue;
		}
		ck_assert_int_eq(run(&clicks, SCHEMA_NO_TIME, 0), 0);
		ck_assert_int_eq(ens, (int64_t)i * 1000000000);
		msgpack_pack_map(&wpk, 2);
		msg_pack_kv_int(&wpk, "id", i);
		msg_pack_kv_int(&wpk, "ts", i);
	}
	ck_assert_uint_eq(out.size, want.size);
	ck_assert_mem_eq(out.data, want.data, want.size);
	msgpack_sbuffer_destroy(&want);
}
END_TEST

static Suite *
schema_suite(void)
{
	Suite	*s = suite_create("schema");
	TCase	*tc = tcase_create("schema");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_valid_exact);
	tcase_add_test(tc, test_valid_other_values);
	tcase_add_test(tc, test_valid_minimal);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_bad_utf8);
	tcase_add_test(tc, test_unknown_fields);
	tcase_add_test(tc, test_key_not_string);
	tcase_add_test(tc, test_duplicate);
	tcase_add_test(tc, test_required);
	tcase_add_test(tc, test_nil_optional);
	tcase_add_test(tc, test_number_range);
	tcase_add_test(tc, test_not_a_map);
	tcase_add_test(tc, test_too_many_fields);
	tcase_add_test(tc, test_time_int_seconds);
	tcase_add_test(tc, test_time_float_rounding);
	tcase_add_test(tc, test_time_out_of_range);
	tcase_add_test(tc, test_time_truncated);
	tcase_add_test(tc, test_time_ext);
	tcase_add_test(tc, test_time_ext_int_field);
	tcase_add_test(tc, test_time_ext_bad);
	tcase_add_test(tc, test_time_fallback);
	tcase_add_test(tc, test_time_value);
	tcase_add_test(tc, test_time_value_truncated);
	tcase_add_test(tc, test_output_appends);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(schema_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? 1 : 0);
}
