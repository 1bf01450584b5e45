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
 * Exact sums of doubles: cancellation, order independence to the bit,
 * agreement with an independent exact computation (a 128-bit fixed-point
 * sum, converted with the compiler's correctly rounded conversion),
 * subnormals and the ends of the range, merging, serialization,
 * hostile serialized input, and sums in an arena, byte for byte the same
 * as those on the heap.
 */

#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "arena.h"
#include "msg.h"
#include "xsum.h"

static uint64_t	rng = 88172645463325252ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng);
}

static double
sum_of(const double *v, size_t n)
{
	struct xsum	x;
	double		r;
	size_t		i;

	xsum_init(&x);
	for (i = 0; i < n; i++)
		xsum_add(&x, v[i]);
	r = xsum_value(&x);
	xsum_clear(&x);
	return (r);
}

START_TEST(test_cancellation)
{
	double	v[] = { 1e100, 1.0, -1e100 };
	double	w[] = { 0.1, 0.2, -0.3 };
	double	z[] = { 1e308, 1e308, -1e308 };

	ck_assert(sum_of(v, 3) == 1.0);
	/* 0.1 + 0.2 - 0.3 exactly: 2^-55 + ..., not 0 and not 5.55e-17 */
	ck_assert(sum_of(w, 3) == 2.7755575615628914e-17);
	/* An intermediate past DBL_MAX is no problem. */
	ck_assert(sum_of(z, 3) == 1e308);
	ck_assert(sum_of(v, 0) == 0.0);
}
END_TEST

/* Values that are multiples of 2^-40 below 2^50: an exact int128 sum. */
START_TEST(test_against_fixed_point)
{
	static double	v[20000];
	__int128	ref = 0;
	double		want;
	size_t		i, n = sizeof(v) / sizeof(v[0]);
	int		round;

	for (round = 0; round < 20; round++) {
		ref = 0;
		for (i = 0; i < n; i++) {
			int64_t	k = (int64_t)(next() >> (14 + round)) -
			    (int64_t)(next() >> (14 + round));

			v[i] = ldexp((double)k, -40);	/* exact */
			ref += k;
		}
		want = ldexp((double)ref, -40);	/* correctly rounded */
		ck_assert_msg(sum_of(v, n) == want, "round %d: %a != %a",
		    round, sum_of(v, n), want);
	}
}
END_TEST

START_TEST(test_order_independent)
{
	static double	v[5000];
	double		first, r;
	size_t		i, j, n = sizeof(v) / sizeof(v[0]);
	int		k;

	for (i = 0; i < n; i++)
		v[i] = ldexp((double)(int64_t)next(), (int)(next() % 200) -
		    100 - 63);
	first = sum_of(v, n);
	for (k = 0; k < 10; k++) {
		for (i = n - 1; i > 0; i--) {	/* shuffle */
			double	t;

			j = next() % (i + 1);
			t = v[i];
			v[i] = v[j];
			v[j] = t;
		}
		r = sum_of(v, n);
		ck_assert(memcmp(&r, &first, sizeof(r)) == 0);
	}
}
END_TEST

START_TEST(test_merge_equals_fold)
{
	struct xsum	all, part[4], m;
	double		v;
	int		i, p;

	xsum_init(&all);
	xsum_init(&m);
	for (p = 0; p < 4; p++)
		xsum_init(&part[p]);
	for (i = 0; i < 100000; i++) {
		v = ldexp((double)(int64_t)next(), (int)(next() % 40) - 80);
		xsum_add(&all, v);
		xsum_add(&part[next() % 4], v);
	}
	xsum_merge(&m, &part[3]);
	xsum_merge(&m, &part[1]);
	xsum_merge(&part[0], &part[2]);
	xsum_merge(&m, &part[0]);
	ck_assert(xsum_equal(&m, &all));
	ck_assert(xsum_value(&m) == xsum_value(&all));
	xsum_clear(&all);
	xsum_clear(&m);
	for (p = 0; p < 4; p++)
		xsum_clear(&part[p]);
}
END_TEST

START_TEST(test_extremes)
{
	struct xsum	x;
	int		i;

	xsum_init(&x);
	for (i = 0; i < 3; i++)
		xsum_add(&x, 4.9406564584124654e-324);	/* 2^-1074 */
	ck_assert(xsum_value(&x) == 3 * 4.9406564584124654e-324);
	xsum_add(&x, -3 * 4.9406564584124654e-324);
	ck_assert(xsum_value(&x) == 0.0);
	xsum_add(&x, DBL_MAX);
	xsum_add(&x, DBL_MAX);
	ck_assert(isinf(xsum_value(&x)));
	xsum_add(&x, -DBL_MAX);
	ck_assert(xsum_value(&x) == DBL_MAX);
	xsum_add(&x, -DBL_MAX);
	xsum_add(&x, -DBL_MAX);
	ck_assert(xsum_value(&x) == -DBL_MAX);
	xsum_clear(&x);
	/* Many additions: carries past the renormalisation threshold. */
	xsum_init(&x);
	for (i = 0; i < 3000000; i++)
		xsum_add(&x, 0.75);
	ck_assert(xsum_value(&x) == 2250000.0);
	xsum_clear(&x);
}
END_TEST

START_TEST(test_pack_roundtrip)
{
	struct xsum		 x, y;
	msgpack_sbuffer		 sb, sb2;
	msgpack_packer		 pk;
	struct msg_reader	 r;
	char			*cause = NULL;
	int			 i;

	xsum_init(&x);
	xsum_init(&y);
	for (i = 0; i < 1000; i++)
		xsum_add(&x, (double)(int64_t)next() / 1e9);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	xsum_pack(&x, &pk);
	msg_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(xsum_unpack(&y, &r, &cause), 0);
	ck_assert(xsum_equal(&x, &y));
	msgpack_sbuffer_init(&sb2);
	msgpack_packer_init(&pk, &sb2, msgpack_sbuffer_write);
	xsum_pack(&y, &pk);
	ck_assert_uint_eq(sb.size, sb2.size);
	ck_assert(memcmp(sb.data, sb2.data, sb.size) == 0);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&sb2);
	xsum_clear(&x);
	xsum_clear(&y);
}
END_TEST

/* Values at every digit boundary, both signs: normal form and back. */
START_TEST(test_digit_boundaries)
{
	struct xsum		 x, y;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	struct msg_reader	 r;
	char			*cause = NULL;
	double			 v;
	int			 e, sign, k;

	for (e = -1074; e < 1000; e += 7) {
		for (sign = -1; sign <= 1; sign += 2) {
			for (k = 1; k <= 3; k++) {
				v = sign * ldexp(1.0 + k * 0.25, e);
				xsum_init(&x);
				xsum_init(&y);
				xsum_add(&x, v);
				xsum_add(&x, v);
				ck_assert(xsum_value(&x) == 2 * v);
				msgpack_sbuffer_init(&sb);
				msgpack_packer_init(&pk, &sb,
				    msgpack_sbuffer_write);
				xsum_pack(&x, &pk);
				msg_reader_init(&r, sb.data, sb.size);
				ck_assert_msg(xsum_unpack(&y, &r, &cause) == 0,
				    "%a: %s", v, cause);
				ck_assert(xsum_equal(&x, &y));
				ck_assert(xsum_value(&y) == 2 * v);
				msgpack_sbuffer_destroy(&sb);
				xsum_clear(&x);
				xsum_clear(&y);
			}
		}
	}
}
END_TEST

static void
expect_bad(const uint8_t *buf, size_t len, const char *want)
{
	struct xsum		 x;
	struct msg_reader	 r;
	char			*cause = NULL;

	xsum_init(&x);
	msg_reader_init(&r, buf, len);
	ck_assert_int_eq(xsum_unpack(&x, &r, &cause), -1);
	ck_assert_str_eq(cause, want);
	free(cause);
	xsum_clear(&x);
}

START_TEST(test_hostile)
{
	static const uint8_t	notarr[] = { 0x01 };
	static const uint8_t	toomany[] = { 0x92, 0x00, 0xdc, 0x00, 0x50 };
	static const uint8_t	range[] = { 0x92, 0x45, 0x92, 0x01, 0x01 };
	static const uint8_t	zerotop[] = { 0x92, 0x01, 0x92, 0x01, 0x00 };
	static const uint8_t	signonly[] = { 0x92, 0x01, 0x92, 0xce, 0x80,
	    0x00, 0x00, 0x00, 0xff };
	static const uint8_t	bigdigit[] = { 0x92, 0x01, 0x92, 0xcf, 0x00,
	    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01 };

	expect_bad(notarr, sizeof(notarr), "xsum: expected [lo, [digits]]");
	expect_bad(toomany, sizeof(toomany), "xsum: expected [lo, [digits]]");
	expect_bad(range, sizeof(range),
	    "xsum: 2 digits from 69 out of range");
	expect_bad(zerotop, sizeof(zerotop), "xsum: digit 1 out of range");
	expect_bad(signonly, sizeof(signonly), "xsum: digit 1 out of range");
	expect_bad(bigdigit, sizeof(bigdigit), "xsum: digit 0 out of range");
}
END_TEST

/* Arenas */

#define ARENA_NVALS	4000

static double	arena_vals[ARENA_NVALS];

/* Pack x into a fresh buffer; the caller destroys it. */
static void
pack_sum(struct xsum *x, msgpack_sbuffer *sb)
{
	msgpack_packer	pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	xsum_pack(x, &pk);
}

/* Equal sums: the same value and the same packed bytes. */
static void
assert_same_sum(struct xsum *a, struct xsum *b)
{
	msgpack_sbuffer	sa, sb;

	ck_assert(xsum_equal(a, b));
	ck_assert(xsum_value(a) == xsum_value(b));
	pack_sum(a, &sa);
	pack_sum(b, &sb);
	ck_assert_uint_eq(sa.size, sb.size);
	ck_assert(memcmp(sa.data, sb.data, sa.size) == 0);
	msgpack_sbuffer_destroy(&sa);
	msgpack_sbuffer_destroy(&sb);
}

/* Order by magnitude. */
static int
cmp_magnitude(const void *a, const void *b)
{
	double	x = fabs(*(const double *)a), y = fabs(*(const double *)b);

	return (x < y ? -1 : x > y);
}

/* Add arena_vals[lo..hi) to x. */
static void
arena_feed(struct xsum *x, int lo, int hi)
{
	int	i;

	for (i = lo; i < hi; i++)
		xsum_add(x, arena_vals[i]);
}

/* Pack x and unpack it into y, in arena a; the same sum. */
static void
arena_reload(struct xsum *y, struct arena *a, struct xsum *x)
{
	msgpack_sbuffer		 sb;
	struct msg_reader	 r;
	char			*cause = NULL;

	pack_sum(x, &sb);
	msg_reader_init(&r, sb.data, sb.size);
	ck_assert_msg(xsum_unpack_in(y, a, &r, &cause) == 0, "%s", cause);
	ck_assert(y->a == a);
	msgpack_sbuffer_destroy(&sb);
	assert_same_sum(x, y);
}

/*
 * Sums whose digits live in an arena agree to the byte with heap ones:
 * the window growing both ways, trimmed by normalisation and grown again,
 * merged either way and across arenas, copied, cleared and unpacked into
 * an arena.  Under ASan every arena allocation is a heap block of its
 * own, so overruns, and reads of an arena after its reset, are caught.
 */
START_TEST(test_arena)
{
	static const uint8_t	 bad[] = { 0x92, 0x01, 0x92, 0x01, 0x00 };
	struct arena		 ar, ar2;
	static double		 sorted[2000];
	struct xsum		 xa, xh, d, s, ref, y;
	struct msg_reader	 r;
	msgpack_sbuffer		 sb;
	int64_t			*w;
	char			*cause = NULL;
	double			 v;
	int			 i, way;

	/* Every magnitude, both signs: the window grows both ways. */
	for (i = 0; i < ARENA_NVALS; i++) {
		v = ldexp((double)(next() >> 11), (int)(next() % 2090) - 1127);
		arena_vals[i] = next() & 1 ? -v : v;
	}
	arena_init(&ar);
	arena_init(&ar2);

	/* The same additions; reading normalises, trimming the window. */
	xsum_init_in(&xa, &ar);
	xsum_init(&xh);
	for (i = 0; i < 2000; i += 1 + i % 5) {
		arena_feed(&xa, i, i + 1 + i % 5);
		arena_feed(&xh, i, i + 1 + i % 5);
		if (i % 7 == 0)
			assert_same_sum(&xa, &xh);
	}
	assert_same_sum(&xa, &xh);
	ck_assert(xa.a == &ar && xh.a == NULL);
	/*
	 * Both moved their windows down within their arrays; exactly the sum
	 * whose window only grew upwards, unread, in order of magnitude.
	 */
	memcpy(sorted, arena_vals, sizeof(sorted));
	qsort(sorted, 2000, sizeof(sorted[0]), cmp_magnitude);
	xsum_init(&ref);
	for (i = 0; i < 2000; i++)
		xsum_add(&ref, sorted[i]);
	assert_same_sum(&xa, &ref);
	xsum_clear(&ref);

	/* Merges: arena <- heap, heap <- arena, across and within arenas. */
	for (way = 0; way < 4; way++) {
		xsum_init_in(&d, way == 1 ? NULL : &ar);
		xsum_init_in(&s, way == 0 ? NULL : way == 3 ? &ar : &ar2);
		xsum_init(&ref);
		arena_feed(&d, 2000, 2050);
		arena_feed(&s, 2050, 2400);
		arena_feed(&ref, 2000, 2400);
		xsum_merge(&d, &s);
		xsum_clear(&s);
		if (way == 1 || way == 2)
			arena_reset(&ar2);
		assert_same_sum(&d, &ref);
		arena_feed(&d, 2400, 2500);
		arena_feed(&ref, 2400, 2500);
		assert_same_sum(&d, &ref);
		xsum_merge(&d, &d);
		xsum_merge(&ref, &ref);
		assert_same_sum(&d, &ref);
		xsum_clear(&d);
		xsum_clear(&ref);
	}

	/* A carry past the top digit widens the window, in the arena too. */
	xsum_init_in(&d, &ar);
	xsum_init(&ref);
	for (i = 0; i < 20000; i++) {
		xsum_add(&d, 0x1.fffffffffffffp+993);
		xsum_add(&ref, 0x1.fffffffffffffp+993);
	}
	assert_same_sum(&d, &ref);
	xsum_clear(&d);
	xsum_clear(&ref);

	/* Copies keep the destination's arena, and its digits if they fit. */
	xsum_init_in(&d, &ar2);
	xsum_add(&d, 1.0);			/* one digit: too small */
	xsum_copy(&d, &xh);
	ck_assert(d.a == &ar2);
	assert_same_sum(&d, &xh);
	xsum_clear(&d);
	ck_assert(d.a == &ar2 && d.n == 0 && d.w == NULL);
	xsum_add(&d, DBL_MAX);
	xsum_add(&d, 4.9406564584124654e-324);	/* every digit */
	w = d.w;
	xsum_copy(&d, &xh);
	ck_assert(d.w == w);
	assert_same_sum(&d, &xh);
	xsum_init(&y);
	xsum_copy(&y, &xa);			/* heap from arena */
	ck_assert(y.a == NULL);
	assert_same_sum(&y, &xh);

	/* Unpacking into an arena: an empty sum, over digits, off the heap. */
	xsum_init(&s);
	arena_reload(&s, &ar2, &xh);
	arena_reload(&d, &ar2, &xa);
	ck_assert(d.w == w);
	arena_reload(&y, &ar2, &xa);
	arena_feed(&s, 2500, ARENA_NVALS);
	arena_feed(&xh, 2500, ARENA_NVALS);
	assert_same_sum(&s, &xh);
	msg_reader_init(&r, bad, sizeof(bad));
	ck_assert_int_eq(xsum_unpack_in(&s, &ar2, &r, &cause), -1);
	free(cause);
	ck_assert(s.a == &ar2 && s.n == 0);
	xsum_add(&s, 3.5);
	ck_assert(xsum_value(&s) == 3.5);
	/* The plain xsum_unpack reads onto the heap. */
	pack_sum(&xa, &sb);
	msg_reader_init(&r, sb.data, sb.size);
	ck_assert_int_eq(xsum_unpack(&s, &r, &cause), 0);
	msgpack_sbuffer_destroy(&sb);
	ck_assert(s.a == NULL);
	assert_same_sum(&s, &xa);

	/* Sums read out of an arena outlive it. */
	xsum_clear(&xa);
	arena_reset(&ar);
	assert_same_sum(&d, &s);
	assert_same_sum(&y, &s);
	xsum_clear(&d);
	xsum_clear(&y);
	arena_reset(&ar2);
	arena_feed(&s, 0, 10);
	xsum_clear(&s);
	xsum_clear(&xh);
	arena_pool_trim();
}
END_TEST

#define NL	34		/* limbs of ddsketch's packed sum */

/* Limbs of x; the same with x normalised first; x rebuilt from them. */
static void
limbs_roundtrip(struct xsum *x, uint64_t *l)
{
	struct xsum	y;
	uint64_t	l2[NL], l3[NL];

	xsum_get_limbs(x, l, NL);
	xsum_normalize(x);
	xsum_get_limbs(x, l2, NL);
	ck_assert_int_eq(memcmp(l, l2, sizeof(l2)), 0);
	xsum_init(&y);
	xsum_set_limbs(&y, l, NL);
	ck_assert(xsum_equal(x, &y));
	ck_assert(xsum_value(x) == xsum_value(&y));
	xsum_get_limbs(&y, l3, NL);
	ck_assert_int_eq(memcmp(l, l3, sizeof(l3)), 0);
	xsum_clear(&y);
}

/*
 * The accumulator as two's complement limbs (ddsketch's packed form) and
 * back: exact bits for known values, and the same sum back for any.
 */
START_TEST(test_limbs)
{
	struct xsum	x;
	uint64_t	l[NL];
	size_t		i, r, n;
	double		v;
	int		k;

	xsum_init(&x);
	limbs_roundtrip(&x, l);			/* zero */
	for (i = 0; i < NL; i++)
		ck_assert_uint_eq(l[i], 0);

	xsum_add(&x, 1.0);			/* 2^1074: limb 16, bit 50 */
	limbs_roundtrip(&x, l);
	for (i = 0; i < NL; i++)
		ck_assert_uint_eq(l[i], i == 16 ? UINT64_C(1) << 50 : 0);
	xsum_add(&x, -2.0);			/* -1: ones from bit 1074 up */
	limbs_roundtrip(&x, l);
	for (i = 0; i < NL; i++)
		ck_assert_uint_eq(l[i], i < 16 ? 0 : i == 16 ?
		    ~((UINT64_C(1) << 50) - 1) : UINT64_MAX);
	xsum_clear(&x);

	xsum_add(&x, -DBL_TRUE_MIN);		/* -1 unit: every bit set */
	limbs_roundtrip(&x, l);
	for (i = 0; i < NL; i++)
		ck_assert_uint_eq(l[i], UINT64_MAX);
	xsum_clear(&x);

	/* 2^20 times DBL_MAX, either sign: 2^2118 units and more. */
	for (k = -1; k <= 1; k += 2) {
		for (i = 0; i < (1u << 20); i++)
			xsum_add(&x, k * DBL_MAX);
		limbs_roundtrip(&x, l);
		ck_assert(xsum_value(&x) == k * INFINITY);
		xsum_clear(&x);
	}

	/* Random sums, with carries pending, across the whole range. */
	for (r = 0; r < 300; r++) {
		n = 1 + next() % 200;
		for (i = 0; i < n; i++) {
			do {
				v = ldexp((double)(next() >> 11),
				    (int)(next() % 2098) - 1127);
			} while (!isfinite(v));
			if (r % 3 == 1)
				v = ldexp(v, -(int)(next() % 64) - 900);
			xsum_add(&x, next() & 1 ? -v : v);
		}
		limbs_roundtrip(&x, l);
		xsum_clear(&x);
	}
}
END_TEST

static Suite *
xsum_suite(void)
{
	Suite	*s = suite_create("xsum");
	TCase	*tc = tcase_create("xsum");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cancellation);
	tcase_add_test(tc, test_against_fixed_point);
	tcase_add_test(tc, test_order_independent);
	tcase_add_test(tc, test_merge_equals_fold);
	tcase_add_test(tc, test_extremes);
	tcase_add_test(tc, test_pack_roundtrip);
	tcase_add_test(tc, test_digit_boundaries);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_arena);
	tcase_add_test(tc, test_limbs);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(xsum_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? 1 : 0);
}
