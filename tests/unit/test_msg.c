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
 * Tests for common/msg.c: the scanner on every type at every boundary of
 * its encodings, fed whole, byte by byte and cut at every position; hostile
 * lengths, counts and nesting; the typed getters and their exact errors;
 * UTF-8 validation; and a cross-check against msgpack-c's own unpacker on
 * random objects.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>

#include "msg.h"
#include "testlib.h"

#define BIG	(1 << 20)

static msgpack_sbuffer	 sb;
static msgpack_packer	 pk;

static void
setup(void)
{
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
}

static void
teardown(void)
{
	msgpack_sbuffer_destroy(&sb);
}

/* Scan buf from a fresh state. */
static int
scan(const void *buf, size_t avail, size_t max, size_t *len,
    const char **cause)
{
	struct msg_scan	 st;

	msg_scan_init(&st);
	*len = 0;
	*cause = NULL;
	return (msg_scan(&st, buf, avail, max, len, cause));
}

/*
 * Pack boundary case i into pk; returns the expected first byte, or -1
 * past the last case.
 */
static int
pack_case(int i)
{
	static char	 data[65536 + 1];
	size_t		 j;

	switch (i) {
	case 0: msgpack_pack_nil(&pk); return (0xc0);
	case 1: msgpack_pack_true(&pk); return (0xc3);
	case 2: msgpack_pack_false(&pk); return (0xc2);
	case 3: msgpack_pack_uint64(&pk, 0); return (0x00);
	case 4: msgpack_pack_uint64(&pk, 127); return (0x7f);
	case 5: msgpack_pack_uint64(&pk, 128); return (0xcc);
	case 6: msgpack_pack_uint64(&pk, 255); return (0xcc);
	case 7: msgpack_pack_uint64(&pk, 256); return (0xcd);
	case 8: msgpack_pack_uint64(&pk, 65535); return (0xcd);
	case 9: msgpack_pack_uint64(&pk, 65536); return (0xce);
	case 10: msgpack_pack_uint64(&pk, 0xffffffffULL); return (0xce);
	case 11: msgpack_pack_uint64(&pk, 0x100000000ULL); return (0xcf);
	case 12: msgpack_pack_uint64(&pk, UINT64_MAX); return (0xcf);
	case 13: msgpack_pack_int64(&pk, -1); return (0xff);
	case 14: msgpack_pack_int64(&pk, -32); return (0xe0);
	case 15: msgpack_pack_int64(&pk, -33); return (0xd0);
	case 16: msgpack_pack_int64(&pk, -128); return (0xd0);
	case 17: msgpack_pack_int64(&pk, -129); return (0xd1);
	case 18: msgpack_pack_int64(&pk, -32768); return (0xd1);
	case 19: msgpack_pack_int64(&pk, -32769); return (0xd2);
	case 20: msgpack_pack_int64(&pk, INT32_MIN); return (0xd2);
	case 21: msgpack_pack_int64(&pk, (int64_t)INT32_MIN - 1);
		return (0xd3);
	case 22: msgpack_pack_int64(&pk, INT64_MIN); return (0xd3);
	case 23: msgpack_pack_float(&pk, 1.5f); return (0xca);
	case 24: msgpack_pack_double(&pk, 1.5); return (0xcb);
	}
	memset(data, 'a', sizeof(data));
	switch (i) {
	case 25: case 26: case 27: case 28: case 29: case 30: case 31: {
		static const size_t	 n[] = { 0, 31, 32, 255, 256, 65535,
		    65536 };
		static const int	 b[] = { 0xa0, 0xbf, 0xd9, 0xd9, 0xda,
		    0xda, 0xdb };

		msgpack_pack_str(&pk, n[i - 25]);
		msgpack_pack_str_body(&pk, data, n[i - 25]);
		return (b[i - 25]);
	}
	case 32: case 33: case 34: case 35: case 36: {
		static const size_t	 n[] = { 0, 255, 256, 65535, 65536 };
		static const int	 b[] = { 0xc4, 0xc4, 0xc5, 0xc5, 0xc6 };

		msgpack_pack_bin(&pk, n[i - 32]);
		msgpack_pack_bin_body(&pk, data, n[i - 32]);
		return (b[i - 32]);
	}
	case 37: case 38: case 39: case 40: case 41: {
		static const size_t	 n[] = { 0, 15, 16, 65535, 65536 };
		static const int	 b[] = { 0x90, 0x9f, 0xdc, 0xdc, 0xdd };

		msgpack_pack_array(&pk, n[i - 37]);
		for (j = 0; j < n[i - 37]; j++)
			msgpack_pack_nil(&pk);
		return (b[i - 37]);
	}
	case 42: case 43: case 44: case 45: {
		static const size_t	 n[] = { 0, 15, 16, 65536 };
		static const int	 b[] = { 0x80, 0x8f, 0xde, 0xdf };

		msgpack_pack_map(&pk, n[i - 42]);
		for (j = 0; j < n[i - 42]; j++) {
			msgpack_pack_uint64(&pk, j);
			msgpack_pack_nil(&pk);
		}
		return (b[i - 42]);
	}
	case 46: case 47: case 48: case 49: case 50: case 51: case 52:
	case 53: case 54: case 55: {
		static const size_t	 n[] = { 1, 2, 4, 8, 16, 3, 255, 256,
		    65535, 65536 };
		static const int	 b[] = { 0xd4, 0xd5, 0xd6, 0xd7, 0xd8,
		    0xc7, 0xc7, 0xc8, 0xc8, 0xc9 };

		msgpack_pack_ext(&pk, n[i - 46], 7);
		msgpack_pack_ext_body(&pk, data, n[i - 46]);
		return (b[i - 46]);
	}
	}
	return (-1);
}

START_TEST(test_scan_boundaries)
{
	struct msg_reader	 r;
	const char		*cause;
	size_t			 len, cut, step;
	int			 i, first;

	for (i = 0; (first = (msgpack_sbuffer_clear(&sb), pack_case(i))) !=
	    -1; i++) {
		ck_assert_msg((uint8_t)sb.data[0] == first,
		    "case %d: first byte %02x, want %02x", i,
		    (uint8_t)sb.data[0], first);
		ck_assert_int_eq(scan(sb.data, sb.size, sb.size, &len, &cause),
		    1);
		ck_assert_uint_eq(len, sb.size);
		/* Followed by more bytes: still one object. */
		ck_assert_int_eq(scan(sb.data, sb.size, BIG, &len, &cause), 1);
		ck_assert_uint_eq(len, sb.size);

		/* Every cut needs more; big objects at sampled cuts. */
		step = sb.size < 2048 ? 1 : 997;
		for (cut = 0; cut < sb.size; cut += step) {
			ck_assert_msg(scan(sb.data, cut, sb.size, &len,
			    &cause) == 0, "case %d cut %zu", i, cut);
		}
		for (cut = sb.size > 16 ? sb.size - 16 : 0; cut < sb.size;
		    cut++)
			ck_assert_int_eq(scan(sb.data, cut, sb.size, &len,
			    &cause), 0);

		msg_reader_init(&r, sb.data, sb.size);
		ck_assert_int_eq(msg_skip(&r), 0);
		ck_assert_int_eq(msg_end(&r), 0);
	}
	ck_assert_int_eq(i, 56);
}
END_TEST

/* Every boundary case read back with its own getter. */
START_TEST(test_reader_each_type)
{
	struct msg_reader	 r;
	const char		*s;
	const uint8_t		*b;
	uint64_t		 u;
	int64_t			 v;
	double			 d;
	size_t			 len;
	uint32_t		 n;
	int8_t			 et;
	int			 i, t;

	for (i = 0; (msgpack_sbuffer_clear(&sb), pack_case(i)) != -1; i++) {
		msg_reader_init(&r, sb.data, sb.size);
		switch (i) {
		case 0:
			ck_assert_int_eq(msg_peek(&r), MSG_T_NIL);
			ck_assert_int_eq(msg_get_nil(&r), 0);
			break;
		case 1: case 2:
			ck_assert_int_eq(msg_get_bool(&r, &t), 0);
			ck_assert_int_eq(t, i == 1);
			break;
		case 3: case 4: case 5: case 6: case 7: case 8: case 9:
		case 10: case 11: case 12: {
			static const uint64_t	 want[] = { 0, 127, 128, 255,
			    256, 65535, 65536, 0xffffffffULL, 0x100000000ULL,
			    UINT64_MAX };

			ck_assert_int_eq(msg_peek(&r), MSG_T_UINT);
			ck_assert_int_eq(msg_get_uint(&r, &u), 0);
			ck_assert(u == want[i - 3]);
			break;
		}
		case 13: case 14: case 15: case 16: case 17: case 18:
		case 19: case 20: case 21: case 22: {
			static const int64_t	 want[] = { -1, -32, -33, -128,
			    -129, -32768, -32769, INT32_MIN,
			    (int64_t)INT32_MIN - 1, INT64_MIN };

			ck_assert_int_eq(msg_peek(&r), MSG_T_INT);
			ck_assert_int_eq(msg_get_int(&r, &v), 0);
			ck_assert(v == want[i - 13]);
			break;
		}
		case 23: case 24:
			ck_assert_int_eq(msg_get_float(&r, &d), 0);
			ck_assert(d == 1.5);
			msg_reader_init(&r, sb.data, sb.size);
			ck_assert_int_eq(msg_get_number(&r, &d), 0);
			ck_assert(d == 1.5);
			break;
		case 25: case 26: case 27: case 28: case 29: case 30: case 31:
			ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
			ck_assert_uint_eq(len, ((const size_t[]){ 0, 31, 32,
			    255, 256, 65535, 65536 })[i - 25]);
			ck_assert(len == 0 || s[0] == 'a');
			msg_reader_init(&r, sb.data, sb.size);
			ck_assert_int_eq(msg_get_strbin(&r, &b, &len), 0);
			break;
		case 32: case 33: case 34: case 35: case 36:
			ck_assert_int_eq(msg_get_bin(&r, &b, &len), 0);
			msg_reader_init(&r, sb.data, sb.size);
			ck_assert_int_eq(msg_get_strbin(&r, &b, &len), 0);
			break;
		case 37: case 38: case 39: case 40: case 41:
			ck_assert_int_eq(msg_get_array(&r, &n), 0);
			while (n-- > 0)
				ck_assert_int_eq(msg_get_nil(&r), 0);
			break;
		case 42: case 43: case 44: case 45:
			ck_assert_int_eq(msg_get_map(&r, &n), 0);
			for (u = 0; u < n; u++) {
				ck_assert_int_eq(msg_get_int(&r, &v), 0);
				ck_assert(v == (int64_t)u);
				ck_assert_int_eq(msg_get_nil(&r), 0);
			}
			break;
		default:
			ck_assert_int_eq(msg_get_ext(&r, &et, &b, &len), 0);
			ck_assert_int_eq(et, 7);
			ck_assert_uint_gt(len, 0);
			break;
		}
		ck_assert_msg(msg_end(&r) == 0, "case %d: %s", i,
		    msg_error(&r));
	}
}
END_TEST

/* A big nested object, fed one byte at a time to one resumed scan. */
START_TEST(test_scan_incremental)
{
	static char	 data[256];
	struct msg_scan	 st;
	const char	*cause;
	size_t		 len, avail, once;
	int		 i, j, r;

	msgpack_pack_array(&pk, 200);
	for (i = 0; i < 200; i++) {
		msgpack_pack_map(&pk, 3);
		msg_pack_kv_str(&pk, "name", "some string value");
		msg_pack_kv_int(&pk, "n", -i * 1000003LL);
		msg_pack_str(&pk, "list");
		msgpack_pack_array(&pk, 5);
		for (j = 0; j < 5; j++) {
			msgpack_pack_bin(&pk, j * 50);
			msgpack_pack_bin_body(&pk, data, j * 50);
		}
	}
	ck_assert_int_eq(scan(sb.data, sb.size, BIG, &once, &cause), 1);
	ck_assert_uint_eq(once, sb.size);

	msg_scan_init(&st);
	for (avail = 0; avail < sb.size; avail++) {
		r = msg_scan(&st, sb.data, avail, BIG, &len, &cause);
		ck_assert_msg(r == 0, "complete at %zu of %zu", avail,
		    sb.size);
		/* Resuming never moves back. */
		ck_assert_uint_le(st.pos, avail);
	}
	ck_assert_int_eq(msg_scan(&st, sb.data, avail, BIG, &len, &cause), 1);
	ck_assert_uint_eq(len, once);
}
END_TEST

START_TEST(test_scan_huge_lengths)
{
	static const struct {
		uint8_t		 b[6];
		size_t		 n;
		const char	*cause;
	} t[] = {
		{ { 0xdb, 0xff, 0xff, 0xff, 0xff }, 5,
		    "declared length exceeds the maximum message size" },
		{ { 0xc6, 0xff, 0xff, 0xff, 0xff }, 5,
		    "declared length exceeds the maximum message size" },
		{ { 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01 }, 6,
		    "declared length exceeds the maximum message size" },
		{ { 0xdd, 0xff, 0xff, 0xff, 0xff }, 5,
		    "declared item count exceeds the maximum message size" },
		{ { 0xdf, 0xff, 0xff, 0xff, 0xff }, 5,
		    "declared item count exceeds the maximum message size" },
		{ { 0xda, 0xff, 0xff }, 3,
		    "declared length exceeds the maximum message size" },
		{ { 0xdc, 0xff, 0xff }, 3,
		    "declared item count exceeds the maximum message size" },
	};
	const char	*cause;
	size_t		 i, len;

	/* Only the header is at hand: rejected before any payload. */
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_int_eq(scan(t[i].b, t[i].n, 1000, &len, &cause), -1);
		ck_assert_str_eq(cause, t[i].cause);
	}
	/* Inside a container, too. */
	{
		uint8_t	 b[] = { 0x92, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff };

		ck_assert_int_eq(scan(b, sizeof(b), BIG, &len, &cause), -1);
		ck_assert_str_eq(cause,
		    "declared length exceeds the maximum message size");
	}
	/* A count that cannot fit after its own header. */
	{
		uint8_t	 b[] = { 0xdc, 0x00, 0x08 };

		ck_assert_int_eq(scan(b, sizeof(b), 10, &len, &cause), -1);
		ck_assert_str_eq(cause,
		    "declared item count exceeds the maximum message size");
		ck_assert_int_eq(scan(b, sizeof(b), 11, &len, &cause), 0);
	}
}
END_TEST

START_TEST(test_scan_depth)
{
	uint8_t		 b[80];
	const char	*cause;
	size_t		 len;
	int		 i;

	for (i = 0; i < 32; i++)
		b[i] = 0x91;
	b[32] = 0x01;
	ck_assert_int_eq(scan(b, 33, BIG, &len, &cause), 1);
	ck_assert_uint_eq(len, 33);

	for (i = 0; i < 33; i++)
		b[i] = 0x91;
	b[33] = 0x01;
	ck_assert_int_eq(scan(b, 34, BIG, &len, &cause), -1);
	ck_assert_str_eq(cause, "nesting deeper than 32 levels");

	/* Rejected as soon as the 33rd header is seen. */
	ck_assert_int_eq(scan(b, 33, BIG, &len, &cause), -1);
	ck_assert_str_eq(cause, "nesting deeper than 32 levels");

	/* Maps and array16 count the same. */
	for (i = 0; i < 33; i++) {
		b[2 * i] = 0x81;
		b[2 * i + 1] = 0x00;
	}
	ck_assert_int_eq(scan(b, 66, BIG, &len, &cause), -1);
	ck_assert_str_eq(cause, "nesting deeper than 32 levels");
}
END_TEST

START_TEST(test_scan_invalid_byte)
{
	uint8_t		 b1[] = { 0xc1 };
	uint8_t		 b2[] = { 0x93, 0x01, 0x02, 0xc1 };
	uint8_t		 b3[] = { 0x81, 0xc1, 0x01 };
	const char	*cause;
	size_t		 len;

	ck_assert_int_eq(scan(b1, 1, BIG, &len, &cause), -1);
	ck_assert_str_eq(cause, "invalid msgpack byte 0xc1");
	ck_assert_int_eq(scan(b2, sizeof(b2), BIG, &len, &cause), -1);
	ck_assert_str_eq(cause, "invalid msgpack byte 0xc1");
	ck_assert_int_eq(scan(b3, sizeof(b3), BIG, &len, &cause), -1);
	ck_assert_str_eq(cause, "invalid msgpack byte 0xc1");
}
END_TEST

START_TEST(test_scan_max)
{
	char		 data[300];
	const char	*cause;
	size_t		 len, max;

	memset(data, 'x', sizeof(data));
	/* str8 of 200: 202 bytes. */
	msgpack_pack_str(&pk, 200);
	msgpack_pack_str_body(&pk, data, 200);
	ck_assert_uint_eq(sb.size, 202);
	ck_assert_int_eq(scan(sb.data, sb.size, 202, &len, &cause), 1);
	ck_assert_uint_eq(len, 202);
	ck_assert_int_eq(scan(sb.data, sb.size, 201, &len, &cause), -1);
	ck_assert_str_eq(cause,
	    "declared length exceeds the maximum message size");
	/* Rejected from the header alone. */
	ck_assert_int_eq(scan(sb.data, 2, 201, &len, &cause), -1);

	/* An array of 100 small items: 103 bytes. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 100);
	for (len = 0; len < 100; len++)
		msgpack_pack_uint64(&pk, len);
	ck_assert_uint_eq(sb.size, 103);
	max = 103;
	ck_assert_int_eq(scan(sb.data, sb.size, max, &len, &cause), 1);
	ck_assert_uint_eq(len, 103);
	/* 100 items cannot fit in 102 - 3 bytes: known from the header. */
	ck_assert_int_eq(scan(sb.data, 3, max - 1, &len, &cause), -1);
	ck_assert_str_eq(cause,
	    "declared item count exceeds the maximum message size");

	/* Ten uint16s: 31 bytes; the count fits 30, the last item not. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 10);
	for (len = 0; len < 10; len++)
		msgpack_pack_uint16(&pk, 1000);
	ck_assert_uint_eq(sb.size, 31);
	ck_assert_int_eq(scan(sb.data, sb.size, 31, &len, &cause), 1);
	ck_assert_int_eq(scan(sb.data, sb.size, 30, &len, &cause), -1);
	ck_assert_str_eq(cause,
	    "declared length exceeds the maximum message size");
	/* Stalled at max bytes inside a header: over the maximum. */
	ck_assert_int_eq(scan(sb.data, 29, 29, &len, &cause), -1);
	ck_assert_str_eq(cause, "message exceeds the maximum size");
	ck_assert_int_eq(scan(sb.data, 29, 30, &len, &cause), 0);

	/* Two objects back to back: the first one's length. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_uint64(&pk, 1000);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(scan(sb.data, sb.size, BIG, &len, &cause), 1);
	ck_assert_uint_eq(len, 3);
}
END_TEST

START_TEST(test_reader_wrong_types)
{
	static const struct {
		uint8_t		 b[4];
		size_t		 n;
		int		 getter;
		const char	*error;
	} t[] = {
		{ { 0xa1, 'x' }, 2, 0, "expected integer, got string" },
		{ { 0x05 }, 1, 1, "expected string, got integer" },
		{ { 0xc0 }, 1, 2, "expected boolean, got nil" },
		{ { 0x80 }, 1, 3, "expected array, got map" },
		{ { 0x90 }, 1, 4, "expected map, got array" },
		{ { 0xca, 0, 0, 0 }, 4, 0, "truncated value" },
		{ { 0xcb, 0, 0, 0 }, 4, 0, "truncated value" },
		{ { 0xc4, 0x00 }, 2, 1, "expected string, got binary" },
		{ { 0xd4, 0x01, 0x00 }, 3, 5,
		    "expected binary, got extension" },
		{ { 0 }, 0, 0, "expected integer, got end of data" },
		{ { 0xc1 }, 1, 0, "expected integer, got malformed msgpack" },
		{ { 0xa1, 'x' }, 2, 6,
		    "expected unsigned integer, got string" },
		{ { 0xff }, 1, 6,
		    "expected unsigned integer, got negative integer" },
		{ { 0xa1, 'x' }, 2, 7, "expected number, got string" },
		{ { 0x01 }, 1, 8, "expected string or binary, got integer" },
		{ { 0x01 }, 1, 9, "expected nil, got integer" },
		{ { 0xc0 }, 1, 10, "expected float, got nil" },
		{ { 0x05 }, 1, 10, "expected float, got integer" },
		{ { 0xc3 }, 1, 11, "expected extension, got boolean" },
		{ { 0xcc }, 1, 6, "truncated value" },
		{ { 0xa3, 'a', 'b' }, 3, 1, "truncated value" },
		{ { 0xc4, 0x05, 0x00 }, 3, 5, "truncated value" },
	};
	struct msg_reader	 r;
	const char		*s;
	const uint8_t		*b;
	size_t			 len, i;
	int64_t			 v;
	uint64_t		 u;
	uint32_t		 n;
	double			 d;
	int8_t			 et;
	int			 bv, ret = 0;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		msg_reader_init(&r, t[i].b, t[i].n);
		switch (t[i].getter) {
		case 0: ret = msg_get_int(&r, &v); break;
		case 1: ret = msg_get_str(&r, &s, &len); break;
		case 2: ret = msg_get_bool(&r, &bv); break;
		case 3: ret = msg_get_array(&r, &n); break;
		case 4: ret = msg_get_map(&r, &n); break;
		case 5: ret = msg_get_bin(&r, &b, &len); break;
		case 6: ret = msg_get_uint(&r, &u); break;
		case 7: ret = msg_get_number(&r, &d); break;
		case 8: ret = msg_get_strbin(&r, &b, &len); break;
		case 9: ret = msg_get_nil(&r); break;
		case 10: ret = msg_get_float(&r, &d); break;
		case 11: ret = msg_get_ext(&r, &et, &b, &len); break;
		}
		ck_assert_msg(ret == -1, "case %zu succeeded", i);
		ck_assert_str_eq(msg_error(&r), t[i].error);
		/* A failed get does not move the reader. */
		ck_assert_uint_eq(msg_left(&r), t[i].n);
	}
}
END_TEST

START_TEST(test_reader_int_ranges)
{
	struct msg_reader	 r;
	int64_t			 v;
	uint64_t		 u;
	double			 d;

	/* uint64 max does not fit an int64. */
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msg_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(msg_get_int(&r, &v), -1);
	ck_assert_str_eq(msg_error(&r), "integer out of range");
	ck_assert_int_eq(msg_get_uint(&r, &u), 0);
	ck_assert(u == UINT64_MAX);
	ck_assert_int_eq(msg_end(&r), 0);

	/* INT64_MAX does, encoded as uint64. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_uint64(&pk, INT64_MAX);
	msgpack_pack_int64(&pk, INT64_MIN);
	msg_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(msg_get_int(&r, &v), 0);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(msg_get_int(&r, &v), 0);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(msg_end(&r), 0);

	/* Positive numbers in signed encodings read as uint and int. */
	{
		static const uint8_t	 b[] = {
			0xd0, 0x05,
			0xd1, 0x01, 0x00,
			0xd2, 0x00, 0x01, 0x00, 0x00,
			0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xd0, 0x00 };
		static const uint64_t	 want[] = { 5, 256, 65536, INT64_MAX,
		    0 };
		int			 i;

		msg_reader_init(&r, b, sizeof(b));
		for (i = 0; i < 5; i++) {
			ck_assert_int_eq(msg_peek(&r), MSG_T_UINT);
			ck_assert_int_eq(msg_get_uint(&r, &u), 0);
			ck_assert(u == want[i]);
		}
		ck_assert_int_eq(msg_end(&r), 0);
		msg_reader_init(&r, b, sizeof(b));
		for (i = 0; i < 5; i++) {
			ck_assert_int_eq(msg_get_int(&r, &v), 0);
			ck_assert(v == (int64_t)want[i]);
		}
	}

	/* Negative into uint, in every encoding. */
	{
		static const uint8_t	 b[] = {
			0xe0,
			0xd0, 0x80,
			0xd1, 0x80, 0x00,
			0xd2, 0x80, 0x00, 0x00, 0x00,
			0xd3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
		int			 i;

		msg_reader_init(&r, b, sizeof(b));
		for (i = 0; i < 5; i++) {
			ck_assert_int_eq(msg_get_uint(&r, &u), -1);
			ck_assert_str_eq(msg_error(&r),
			    "expected unsigned integer, got negative integer");
			ck_assert_int_eq(msg_get_int(&r, &v), 0);
			ck_assert(v < 0);
		}
		ck_assert(v == INT64_MIN);
		ck_assert_int_eq(msg_end(&r), 0);
	}

	/* Numbers of each kind as doubles. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_int64(&pk, -7);
	msgpack_pack_uint64(&pk, 7);
	msgpack_pack_float(&pk, 0.25f);
	msg_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(msg_get_number(&r, &d), 0);
	ck_assert(d == -7.0);
	ck_assert_int_eq(msg_get_number(&r, &d), 0);
	ck_assert(d == 7.0);
	ck_assert_int_eq(msg_get_number(&r, &d), 0);
	ck_assert(d == 0.25);
	ck_assert_int_eq(msg_end(&r), 0);
}
END_TEST

START_TEST(test_reader_counts_and_end)
{
	static const uint8_t	 big_array[] = { 0xdd, 0xff, 0xff, 0xff, 0xff,
	    0x01 };
	static const uint8_t	 big_map[] = { 0x82, 0x01 };
	static const uint8_t	 two[] = { 0x01, 0x02 };
	struct msg_reader	 r;
	uint32_t		 n;
	uint64_t		 u;

	/* A count that cannot fit in the data is refused. */
	msg_reader_init(&r, big_array, sizeof(big_array));
	ck_assert_int_eq(msg_get_array(&r, &n), -1);
	ck_assert_str_eq(msg_error(&r), "array count exceeds the data");
	msg_reader_init(&r, big_map, sizeof(big_map));
	ck_assert_int_eq(msg_get_map(&r, &n), -1);
	ck_assert_str_eq(msg_error(&r), "map count exceeds the data");

	msg_reader_init(&r, two, sizeof(two));
	ck_assert_int_eq(msg_get_uint(&r, &u), 0);
	ck_assert_int_eq(msg_end(&r), -1);
	ck_assert_str_eq(msg_error(&r), "unexpected data after the end");
	ck_assert_uint_eq(msg_left(&r), 1);
	ck_assert_int_eq(msg_get_uint(&r, &u), 0);
	ck_assert(u == 2);
	ck_assert_int_eq(msg_end(&r), 0);
	ck_assert_int_eq(msg_peek(&r), MSG_T_NONE);
}
END_TEST

START_TEST(test_reader_raw_skip)
{
	struct msg_reader	 r;
	const uint8_t		*raw;
	size_t			 rawlen, sublen;
	uint32_t		 n;
	uint64_t		 u;
	uint8_t			 deep[40];
	int			 i;

	/* [ {"a": [1, 2, {"b": "x"}]}, 5 ] */
	msgpack_pack_array(&pk, 2);
	msgpack_pack_map(&pk, 1);
	msg_pack_str(&pk, "a");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_map(&pk, 1);
	msg_pack_kv_str(&pk, "b", "x");
	msgpack_pack_uint64(&pk, 5);
	sublen = sb.size - 2;	/* all but the array header and the 5 */

	msg_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(msg_get_array(&r, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(msg_get_raw(&r, &raw, &rawlen), 0);
	ck_assert_uint_eq(rawlen, sublen);
	ck_assert(raw == (const uint8_t *)sb.data + 1);
	ck_assert_int_eq(msg_get_uint(&r, &u), 0);
	ck_assert(u == 5);
	ck_assert_int_eq(msg_end(&r), 0);

	msg_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(msg_get_array(&r, &n), 0);
	ck_assert_int_eq(msg_skip(&r), 0);
	ck_assert_int_eq(msg_skip(&r), 0);
	ck_assert_int_eq(msg_skip(&r), -1);
	ck_assert_str_eq(msg_error(&r), "expected a value, got end of data");

	/* Truncated anywhere inside: a truncated value, not "too big". */
	for (rawlen = 1; rawlen < sb.size; rawlen++) {
		msg_reader_init(&r, sb.data, rawlen);
		ck_assert_int_eq(msg_skip(&r), -1);
		ck_assert_str_eq(msg_error(&r), "truncated value");
	}

	for (i = 0; i < 33; i++)
		deep[i] = 0x91;
	deep[33] = 0xc0;
	msg_reader_init(&r, deep, 34);
	ck_assert_int_eq(msg_skip(&r), -1);
	ck_assert_str_eq(msg_error(&r), "nesting deeper than 32 levels");
	msg_reader_init(&r, deep + 1, 33);
	ck_assert_int_eq(msg_skip(&r), 0);
	ck_assert_int_eq(msg_end(&r), 0);
}
END_TEST

START_TEST(test_valid_utf8)
{
	static const struct {
		const char	*s;
		size_t		 n;
		int		 ok;
	} t[] = {
		{ "", 0, 1 },
		{ "plain ascii", 11, 1 },
		{ "\x00", 1, 1 },
		{ "\x7f", 1, 1 },
		{ "\xc2\x80", 2, 1 },			/* U+0080 */
		{ "\xdf\xbf", 2, 1 },			/* U+07FF */
		{ "\xe0\xa0\x80", 3, 1 },		/* U+0800 */
		{ "\xef\xbf\xbf", 3, 1 },		/* U+FFFF */
		{ "\xed\x9f\xbf", 3, 1 },		/* U+D7FF */
		{ "\xee\x80\x80", 3, 1 },		/* U+E000 */
		{ "\xf0\x90\x80\x80", 4, 1 },		/* U+10000 */
		{ "\xf4\x8f\xbf\xbf", 4, 1 },		/* U+10FFFF */
		{ "caf\xc3\xa9", 5, 1 },
		{ "\xe2\x82\xac 1", 5, 1 },
		{ "\x80", 1, 0 },			/* lone continuation */
		{ "\xbf", 1, 0 },
		{ "\xc0\x80", 2, 0 },			/* overlong NUL */
		{ "\xc1\xbf", 2, 0 },			/* overlong */
		{ "\xe0\x80\x80", 3, 0 },		/* overlong */
		{ "\xe0\x9f\xbf", 3, 0 },		/* overlong U+07FF */
		{ "\xf0\x80\x80\x80", 4, 0 },		/* overlong */
		{ "\xf0\x8f\xbf\xbf", 4, 0 },		/* overlong U+FFFF */
		{ "\xed\xa0\x80", 3, 0 },		/* U+D800 */
		{ "\xed\xbf\xbf", 3, 0 },		/* U+DFFF */
		{ "\xf4\x90\x80\x80", 4, 0 },		/* U+110000 */
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\xf7\xbf\xbf\xbf", 4, 0 },
		{ "\xf8\x88\x80\x80\x80", 5, 0 },	/* 5-byte form */
		{ "\xfc\x84\x80\x80\x80\x80", 6, 0 },
		{ "\xfe", 1, 0 },
		{ "\xff", 1, 0 },
		{ "\xc3", 1, 0 },			/* truncated */
		{ "\xe2\x82", 2, 0 },
		{ "\xf0\x90\x80", 3, 0 },
		{ "ok\xe2\x82", 4, 0 },
		{ "\xc3\x28", 2, 0 },			/* bad continuation */
		{ "\xe2\x28\xa1", 3, 0 },
		{ "\xf0\x90\x28\xbc", 4, 0 },
		{ "a\xc3\xa9z\x80", 5, 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(msg_valid_utf8(t[i].s, t[i].n) == t[i].ok,
		    "case %zu", i);
}
END_TEST

static uint64_t	 rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (rng_state);
}

/* Pack a random value, nesting at most depth more levels. */
static void
pack_random(int depth)
{
	static const size_t	 sizes[] = { 0, 1, 15, 16, 31, 32, 255, 256,
	    300, 65535, 65536 };
	static char		 data[65536];
	size_t			 n, i;
	int			 kind = (int)(rng() % (depth > 0 ? 12 : 9));

	n = sizes[rng() % (sizeof(sizes) / sizeof(sizes[0]))];
	if (rng() % 4 != 0 && n > 300)
		n = rng() % 40;
	switch (kind) {
	case 0:
		msgpack_pack_nil(&pk);
		break;
	case 1:
		if (rng() & 1)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
		break;
	case 2:
		msgpack_pack_uint64(&pk, rng() >> (rng() % 64));
		break;
	case 3:
		msgpack_pack_int64(&pk, -(int64_t)(rng() >> (1 + rng() % 63)));
		break;
	case 4:
		msgpack_pack_double(&pk, (double)rng() / 3.0);
		break;
	case 5:
		msgpack_pack_float(&pk, (float)(rng() % 1000) / 7.0f);
		break;
	case 6:
		msgpack_pack_str(&pk, n);
		msgpack_pack_str_body(&pk, data, n);
		break;
	case 7:
		msgpack_pack_bin(&pk, n);
		msgpack_pack_bin_body(&pk, data, n);
		break;
	case 8:
		n = n == 0 ? 1 : n;
		msgpack_pack_ext(&pk, n, (int8_t)(rng() % 128));
		msgpack_pack_ext_body(&pk, data, n);
		break;
	case 9:
	case 10:
		n = rng() % 20;
		msgpack_pack_array(&pk, n);
		for (i = 0; i < n; i++)
			pack_random(depth - 1);
		break;
	default:
		n = rng() % 10;
		msgpack_pack_map(&pk, n);
		for (i = 0; i < n; i++) {
			pack_random(0);
			pack_random(depth - 1);
		}
		break;
	}
}

/* Random objects: msg_scan, the reader and msgpack-c agree. */
START_TEST(test_cross_check)
{
	msgpack_unpacked	 u;
	struct msg_reader	 r;
	const char		*cause;
	size_t			 len, off, first;
	int			 i, ret;

	rng_state = 0x9e3779b97f4a7c15ULL;
	msgpack_unpacked_init(&u);
	for (i = 0; i < 500; i++) {
		msgpack_sbuffer_clear(&sb);
		pack_random(1 + i % 6);
		first = sb.size;
		pack_random(2);		/* a second object right after */

		ck_assert_int_eq(scan(sb.data, sb.size, SIZE_MAX, &len,
		    &cause), 1);
		ck_assert_uint_eq(len, first);
		off = 0;
		ret = msgpack_unpack_next(&u, sb.data, sb.size, &off);
		ck_assert_int_eq(ret, MSGPACK_UNPACK_SUCCESS);
		ck_assert_uint_eq(off, first);

		ck_assert_int_eq(scan(sb.data + first, sb.size - first,
		    SIZE_MAX, &len, &cause), 1);
		ck_assert_uint_eq(len, sb.size - first);

		msg_reader_init(&r, sb.data, sb.size);
		ck_assert_int_eq(msg_skip(&r), 0);
		ck_assert_uint_eq(msg_left(&r), sb.size - first);
		ck_assert_int_eq(msg_skip(&r), 0);
		ck_assert_int_eq(msg_end(&r), 0);

		/* One byte short: both need more. */
		ck_assert_int_eq(scan(sb.data, first - 1, SIZE_MAX, &len,
		    &cause), 0);
		off = 0;
		ret = msgpack_unpack_next(&u, sb.data, first - 1, &off);
		ck_assert_int_eq(ret, MSGPACK_UNPACK_CONTINUE);
	}
	msgpack_unpacked_destroy(&u);
}
END_TEST

START_TEST(test_pack_helpers)
{
	struct msg_reader	 r;
	const char		*s;
	size_t			 len;
	uint32_t		 n;
	uint64_t		 u;
	int64_t			 v;
	double			 d;

	msgpack_pack_map(&pk, 4);
	msg_pack_kv_str(&pk, "s", "str");
	msg_pack_kv_uint(&pk, "u", 42);
	msg_pack_kv_int(&pk, "i", -42);
	msg_pack_kv_double(&pk, "d", 0.5);
	msg_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(msg_get_map(&r, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert(len == 1 && s[0] == 's');
	ck_assert_int_eq(msg_get_str(&r, &s, &len), 0);
	ck_assert(len == 3 && memcmp(s, "str", 3) == 0);
	ck_assert_int_eq(msg_skip(&r), 0);
	ck_assert_int_eq(msg_get_uint(&r, &u), 0);
	ck_assert(u == 42);
	ck_assert_int_eq(msg_skip(&r), 0);
	ck_assert_int_eq(msg_get_int(&r, &v), 0);
	ck_assert(v == -42);
	ck_assert_int_eq(msg_skip(&r), 0);
	ck_assert_int_eq(msg_get_float(&r, &d), 0);
	ck_assert(d == 0.5);
	ck_assert_int_eq(msg_end(&r), 0);
	ck_assert_str_eq(msg_type_name(MSG_T_EXT), "extension");
	ck_assert_str_eq(msg_type_name(MSG_T_NONE), "nothing");
	ck_assert_str_eq(msg_error(&r), "no error");
}
END_TEST

static Suite *
msg_suite(void)
{
	Suite	*s = suite_create("msg");
	TCase	*tc = tcase_create("msg");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_scan_boundaries);
	tcase_add_test(tc, test_reader_each_type);
	tcase_add_test(tc, test_scan_incremental);
	tcase_add_test(tc, test_scan_huge_lengths);
	tcase_add_test(tc, test_scan_depth);
	tcase_add_test(tc, test_scan_invalid_byte);
	tcase_add_test(tc, test_scan_max);
	tcase_add_test(tc, test_reader_wrong_types);
	tcase_add_test(tc, test_reader_int_ranges);
	tcase_add_test(tc, test_reader_counts_and_end);
	tcase_add_test(tc, test_reader_raw_skip);
	tcase_add_test(tc, test_valid_utf8);
	tcase_add_test(tc, test_cross_check);
	tcase_add_test(tc, test_pack_helpers);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(msg_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failures ? 1 : 0);
}
