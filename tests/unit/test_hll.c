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
 * Tests for common/hash.c and common/hll.c.  The hash: values pinned
 * forever (persisted sketches depend on them), avalanche, no collisions
 * over 10 million short keys, alignment and length independence.  The
 * HyperLogLog++ sketch: accuracy from 1 to 10 million distinct values, the
 * bias correction's mean error, the exact sparse/dense boundary, merges in
 * random splits, orders and tree shapes equal to the directly built sketch
 * (state and bytes), serialization round trips, every refusal of hostile
 * input with its exact cause, and random corruption.  Sketches in an
 * arena agree to the byte with those on the heap.
 *
 * LAMINA_TEST_QUICK=1 (set for valgrind runs) shrinks the two 10-million
 * cases to 1 million.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>

#include "arena.h"
#include "hash.h"
#include "hll.h"
#include "msg.h"
#include "testlib.h"

/* A deterministic random stream (SplitMix64), so failures reproduce. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t	z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static size_t
rnd_below(uint64_t *s, size_t n)
{
	return ((size_t)(rnd(s) % n));
}

static int
quick(void)
{
	const char	*v = getenv("LAMINA_TEST_QUICK");

	return (v != NULL && *v != '\0' && strcmp(v, "0") != 0);
}

/* The 7-digit key "user-NNNNNNN" for i, without printf. */
static void
user_key(char *buf, uint32_t i)
{
	int	d;

	memcpy(buf, "user-", 5);
	for (d = 11; d >= 5; d--) {
		buf[d] = (char)('0' + i % 10);
		i /= 10;
	}
}

/* Sort n values with a 4-pass 16-bit radix sort (tmp holds n). */
static void
sort_u64(uint64_t *v, uint64_t *tmp, size_t n)
{
	static size_t	 count[65536];
	uint64_t	*src = v, *dst = tmp, *t;
	size_t		 i, sum, c;
	int		 pass;

	for (pass = 0; pass < 4; pass++) {
		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i] >> (16 * pass)) & 0xffff]++;
		for (i = 0, sum = 0; i < 65536; i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i] >> (16 * pass)) & 0xffff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
}

/* hll_pack into a fresh buffer; the caller destroys it. */
static void
pack(const struct hll *h, msgpack_sbuffer *sb)
{
	msgpack_packer	pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	hll_pack(h, &pk);
}

/* Whether two sketches serialize to the same bytes. */
static int
same_bytes(const struct hll *a, const struct hll *b)
{
	msgpack_sbuffer	sa, sb;
	int		eq;

	pack(a, &sa);
	pack(b, &sb);
	eq = sa.size == sb.size && memcmp(sa.data, sb.data, sa.size) == 0;
	msgpack_sbuffer_destroy(&sa);
	msgpack_sbuffer_destroy(&sb);
	return (eq);
}

/* Unpack len bytes; returns the sketch, or NULL with *cause set. */
static struct hll *
unpack(const void *buf, size_t len, char **cause)
{
	struct msg_reader	r;

	*cause = NULL;
	msg_reader_init(&r, buf, len);
	return (hll_unpack(&r, cause));
}

/* Round trip through hll_pack/hll_unpack; checks state and bytes. */
static void
check_roundtrip(const struct hll *h)
{
	msgpack_sbuffer		 sb, sb2;
	struct msg_reader	 r;
	struct hll		*u;
	char			*cause = NULL;

	pack(h, &sb);
	msg_reader_init(&r, sb.data, sb.size);
	u = hll_unpack(&r, &cause);
	ck_assert_msg(u != NULL, "unpack: %s", cause);
	ck_assert_int_eq(msg_end(&r), 0);
	ck_assert(hll_equal(h, u));
	ck_assert_int_eq(hll_is_sparse(h), hll_is_sparse(u));
	ck_assert_int_eq(hll_precision(h), hll_precision(u));
	ck_assert(hll_estimate(h) == hll_estimate(u));
	pack(u, &sb2);
	ck_assert_uint_eq(sb.size, sb2.size);
	ck_assert(memcmp(sb.data, sb2.data, sb.size) == 0);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&sb2);
	hll_free(u);
}

/* The hash */

/*
 * Frozen outputs.  The value of every persisted sketch depends on these:
 * if this test fails, hash64 has changed and old data is silently wrong.
 */
START_TEST(test_hash_pinned)
{
	static const struct {
		const char	*s;
		uint64_t	 seed;
		uint64_t	 h;
	} pins[] = {
		{ "", 0, 0xe5523d98ebcc5adbULL },
		{ "", 1, 0x3a1de47198dd1fcbULL },
		{ "a", 0, 0x707b917557c4ef1eULL },
		{ "a", 1, 0x061a74ab49275c80ULL },
		{ "abc", 0, 0xbff16efc46562a09ULL },
		{ "abc", 1, 0xdf10cd234f52dc7fULL },
		{ "user-0000001", 0, 0xb763d7acf02663ebULL },
		{ "user-0000001", 1, 0xa9d8fe3fc467e387ULL },
		{ "k12345", 0, 0x35afcfb65ccaedffULL },
		{ "k12345", 1, 0x69d6cb3be85c59b3ULL },
		{ "0123456789abcdef", 0, 0x5328af201e98daffULL },
		{ "0123456789abcdef", 1, 0x7e9256bde967dee3ULL },
		{ "The quick brown fox jumps over the lazy dog", 0,
		    0xb50139c71bd45dbdULL },
		{ "The quick brown fox jumps over the lazy dog", 1,
		    0x20593ecf4963b9bfULL },
	};
	static const struct {
		uint64_t	x;
		uint64_t	h;
	} upins[] = {
		{ 0, 0x83916c6e186a52cbULL },
		{ 1, 0x2f327b42f3587fbaULL },
		{ 2, 0xded8dda3b9dd6932ULL },
		{ 12345, 0x15e51b918a256274ULL },
		{ UINT64_MAX, 0x34a538b8b5ca7254ULL },
	};
	uint8_t	b[100];
	size_t	i;

	for (i = 0; i < sizeof(pins) / sizeof(pins[0]); i++)
		ck_assert_msg(hash64(pins[i].s, strlen(pins[i].s),
		    pins[i].seed) == pins[i].h, "hash64(\"%s\", %llu)",
		    pins[i].s, (unsigned long long)pins[i].seed);
	for (i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 37 + 11);
	ck_assert(hash64(b, 100, 0) == 0x6db21739ce7b14d2ULL);
	ck_assert(hash64(b, 100, 0xdeadbeef) == 0x4c06fd27eb713cf8ULL);
	ck_assert(hash64(b, 33, 0) == 0x53546e63893eebb8ULL);
	for (i = 0; i < sizeof(upins) / sizeof(upins[0]); i++)
		ck_assert_msg(hash64_u64(upins[i].x) == upins[i].h,
		    "hash64_u64(%llu)", (unsigned long long)upins[i].x);
}
END_TEST

/*
 * Strict avalanche: flipping any one input bit must flip each output bit
 * with probability 1/2.  For every bit of inputs of many lengths (all the
 * code paths: tails of 1-7 bytes, 8- and 16-byte steps, the 32-byte
 * rounds) and for the seed, over N random inputs, each of the 64 output
 * bits must flip in N/2 +- 0.04 N cases: 6.2 standard deviations at
 * N = 6000, so an ideal function fails with probability about 1e-4 over
 * the 245,000 (input bit, output bit) pairs, while a bit off by 0.05 fails
 * almost surely.  The inputs are random with a fixed seed; the worst pair
 * measured is 0.029 (4.5 sd, as expected of the maximum over 245,000).
 */
START_TEST(test_hash_avalanche)
{
	static const size_t	 lens[] = { 1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16,
	    17, 24, 31, 32, 33, 47, 64, 100 };
	const size_t		 nlens = sizeof(lens) / sizeof(lens[0]);
	const int		 n = 6000;
	const double		 tol = 0.04;
	static uint32_t		 cnt[800][64];
	uint64_t		 s = 42, h0, h1, d, seed;
	uint8_t			 in[128];
	size_t			 li, len, bit, k, wlen = 0, wbit = 0;
	double			 dev, worst = 0;
	int			 t, o, wout = 0;

	/* The last round flips the bits of the seed, and of hash64_u64. */
	for (li = 0; li <= nlens; li++) {
		len = li < nlens ? lens[li] : 8;
		memset(cnt, 0, sizeof(cnt));
		for (t = 0; t < n; t++) {
			for (k = 0; k < len; k += 8) {
				d = rnd(&s);
				memcpy(in + k, &d, len - k < 8 ? len - k : 8);
			}
			seed = rnd(&s);
			if (li < nlens)
				h0 = hash64(in, len, seed);
			else
				h0 = t % 2 ? hash64_u64(seed) :
				    hash64(in, 12, seed);
			for (bit = 0; bit < len * 8; bit++) {
				if (li < nlens) {
					in[bit / 8] ^= 1 << (bit % 8);
					h1 = hash64(in, len, seed);
					in[bit / 8] ^= 1 << (bit % 8);
				} else
					h1 = t % 2 ? hash64_u64(seed ^
					    1ULL << bit) : hash64(in, 12,
					    seed ^ 1ULL << bit);
				for (d = h0 ^ h1; d != 0; d &= d - 1)
					cnt[bit][__builtin_ctzll(d)]++;
			}
		}
		for (bit = 0; bit < len * 8; bit++) {
			for (o = 0; o < 64; o++) {
				dev = fabs((double)cnt[bit][o] / n - 0.5);
				if (dev > worst) {
					worst = dev;
					wlen = len;
					wbit = bit;
					wout = o;
				}
			}
		}
	}
	ck_assert_msg(worst < tol, "length %zu bit %zu: output bit %d flips "
	    "with probability 0.5 +- %.4f", wlen, wbit, wout, worst);
}
END_TEST

/*
 * No collisions among 10 million keys "user-0000000".."user-9999999", the
 * shape of real user ids (a random 64-bit function collides here with
 * probability 3e-6), and their hashes spread evenly over 4096 buckets of
 * the top and of the bottom 12 bits (chi-square, 4095 degrees of freedom:
 * mean 4095, sd 90.5; we allow 4095 + 6 sd).
 */
START_TEST(test_hash_collisions)
{
	size_t		 n = quick() ? 1000000 : 10000000, i, dups;
	uint64_t	*v, *tmp, top[4096], bot[4096];
	double		 e, chi_top = 0, chi_bot = 0;
	char		 key[12];

	v = malloc(n * sizeof(*v));
	tmp = malloc(n * sizeof(*tmp));
	ck_assert(v != NULL && tmp != NULL);
	memset(top, 0, sizeof(top));
	memset(bot, 0, sizeof(bot));
	for (i = 0; i < n; i++) {
		user_key(key, (uint32_t)i);
		v[i] = hash64(key, sizeof(key), 0);
		top[v[i] >> 52]++;
		bot[v[i] & 4095]++;
	}
	e = (double)n / 4096;
	for (i = 0; i < 4096; i++) {
		chi_top += (top[i] - e) * (top[i] - e) / e;
		chi_bot += (bot[i] - e) * (bot[i] - e) / e;
	}
	ck_assert_msg(chi_top < 4095 + 6 * 90.5, "top chi2 %.1f", chi_top);
	ck_assert_msg(chi_bot < 4095 + 6 * 90.5, "bottom chi2 %.1f", chi_bot);
	/* No ck_assert in these loops: each passing one costs a write. */
	sort_u64(v, tmp, n);
	for (i = 1, dups = 0; i < n; i++)
		dups += v[i] == v[i - 1];
	ck_assert_msg(dups == 0, "%zu collisions", dups);
	/* hash64_u64 is a bijection: check it on the same count. */
	for (i = 0; i < n; i++)
		v[i] = hash64_u64(i);
	sort_u64(v, tmp, n);
	for (i = 1, dups = 0; i < n; i++)
		dups += v[i] == v[i - 1];
	ck_assert_msg(dups == 0, "hash64_u64: %zu collisions", dups);
	free(v);
	free(tmp);
}
END_TEST

/*
 * Length and position: every prefix of a buffer (including those that
 * differ only by trailing zero bytes) hashes differently, seeds give
 * different functions, and the result does not depend on alignment.
 */
START_TEST(test_hash_lengths)
{
	uint8_t		 buf[300], zeros[300], *al;
	uint64_t	 h[301], hz[301], s = 7;
	size_t		 i, j, off;
	int		 bad = 0;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd(&s);
	memset(zeros, 0, sizeof(zeros));
	for (i = 0; i <= sizeof(buf); i++) {
		h[i] = hash64(buf, i, 0);
		hz[i] = hash64(zeros, i, 0);
		bad += hash64(buf, i, 0) == hash64(buf, i, 1);
	}
	for (i = 0; i <= sizeof(buf); i++) {
		for (j = 0; j < i; j++)
			bad += h[i] == h[j] || hz[i] == hz[j];
	}
	al = malloc(sizeof(buf) + 8);
	ck_assert(al != NULL);
	for (off = 0; off < 8; off++) {
		memcpy(al + off, buf, sizeof(buf));
		for (i = 0; i <= sizeof(buf); i++)
			bad += hash64(al + off, i, 0) != h[i];
	}
	free(al);
	ck_assert_int_eq(bad, 0);
}
END_TEST

/* Accuracy */

/* Relative error of h against the true count n. */
static double
rel_error(const struct hll *h, uint64_t n)
{
	return (fabs(hll_estimate(h) - (double)n) / (double)n);
}

/*
 * Add keys "k<i>" (strings) and hash64_u64(i) (integers) for i < max to
 * sketches of precision p, checking at each checkpoint n: while the sketch
 * is sparse (n <= m/4), hll_count must be within 1 + n/2048 of n, that is
 * 1 up to n = 2047 (LinearCounting over m' = 2^25 registers: its standard
 * deviation is about n / sqrt(2m') = n/8192); otherwise the relative error
 * must be within 3 standard errors, 3 * 1.04 / sqrt(m).
 */
static void
check_accuracy(int p, uint64_t max_str, uint64_t max_int)
{
	static const uint64_t	 at[] = { 1, 2, 10, 100, 1000, 10000,
	    100000, 1000000, 10000000 };
	struct hll		*hs, *hi;
	double			 bound = 3 * 1.04 / sqrt((double)(1 << p));
	char			 key[32];
	uint64_t		 i = 0;
	size_t			 k;
	int			 len;

	hs = hll_new(p);
	hi = hll_new(p);
	for (k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		if (at[k] > max_int)
			break;
		for (; i < at[k]; i++) {
			if (i < max_str) {
				len = snprintf(key, sizeof(key), "k%llu",
				    (unsigned long long)i);
				hll_add(hs, key, (size_t)len);
			}
			hll_add_hash(hi, hash64_u64(i));
		}
		if (hll_is_sparse(hi)) {
			ck_assert_msg(llabs((long long)hll_count(hi) -
			    (long long)at[k]) <= 1 + (long long)at[k] / 2048,
			    "p %d int n %llu: %llu",
			    p, (unsigned long long)at[k],
			    (unsigned long long)hll_count(hi));
		} else
			ck_assert_msg(rel_error(hi, at[k]) < bound,
			    "p %d int n %llu: estimate %.1f", p,
			    (unsigned long long)at[k], hll_estimate(hi));
		if (at[k] > max_str)
			continue;
		if (hll_is_sparse(hs)) {
			ck_assert_msg(llabs((long long)hll_count(hs) -
			    (long long)at[k]) <= 1 + (long long)at[k] / 2048,
			    "p %d str n %llu: %llu",
			    p, (unsigned long long)at[k],
			    (unsigned long long)hll_count(hs));
		} else
			ck_assert_msg(rel_error(hs, at[k]) < bound,
			    "p %d str n %llu: estimate %.1f", p,
			    (unsigned long long)at[k], hll_estimate(hs));
	}
	hll_free(hs);
	hll_free(hi);
}

START_TEST(test_hll_accuracy_p14)
{
	struct hll	*h;
	int		 i;

	check_accuracy(14, 1000000, quick() ? 1000000 : 10000000);
	/* Sparse up to m/4 = 4096 distinct: exact there. */
	h = hll_new(14);
	for (i = 0; i < 1000; i++)
		hll_add_hash(h, hash64_u64((uint64_t)i));
	ck_assert(hll_is_sparse(h));
	ck_assert_uint_eq(hll_count(h), 1000);
	for (i = 0; i < 1000; i++)		/* repeats change nothing */
		hll_add_hash(h, hash64_u64((uint64_t)i));
	ck_assert_uint_eq(hll_count(h), 1000);
	hll_free(h);
	h = hll_new(14);
	ck_assert(hll_estimate(h) == 0);
	ck_assert_uint_eq(hll_count(h), 0);
	hll_free(h);
}
END_TEST

START_TEST(test_hll_accuracy_spot)
{
	check_accuracy(10, 100000, 1000000);
	check_accuracy(16, 100000, 1000000);
	check_accuracy(4, 10000, 100000);
	check_accuracy(18, 10000, 1000000);
}
END_TEST

/*
 * The bias correction: over 400 independent streams at p = 10, around
 * the range where it applies (n from 0.3m to 6m, across the switch from
 * LinearCounting), the mean relative error must stay below 0.5% (the
 * generator measured at most 0.21%; 4 sd of the mean is 0.5%), and the
 * RMS below 1.1 standard errors (measured at most 0.96).  Without the
 * correction the mean error of the raw estimate at n = m is +31%.
 */
START_TEST(test_hll_bias)
{
	static const uint64_t	 at[] = { 300, 700, 900, 1000, 1500, 2500,
	    4000, 6000 };
	const int		 trials = 400;
	const size_t		 nat = sizeof(at) / sizeof(at[0]);
	double			 sum[8], sq[8], e, se = 1.04 / 32;
	struct hll		*h;
	uint64_t		 i, s;
	size_t			 k;
	int			 t;

	memset(sum, 0, sizeof(sum));
	memset(sq, 0, sizeof(sq));
	for (t = 0; t < trials; t++) {
		h = hll_new(10);
		s = 1000 + (uint64_t)t;
		for (k = 0, i = 0; k < nat; k++) {
			for (; i < at[k]; i++)
				hll_add_hash(h, rnd(&s));
			e = (hll_estimate(h) - (double)at[k]) / (double)at[k];
			sum[k] += e;
			sq[k] += e * e;
		}
		hll_free(h);
	}
	for (k = 0; k < nat; k++) {
		ck_assert_msg(fabs(sum[k] / trials) < 0.005,
		    "n %llu: mean error %.3f%%", (unsigned long long)at[k],
		    100 * sum[k] / trials);
		ck_assert_msg(sqrt(sq[k] / trials) < 1.1 * se,
		    "n %llu: rms error %.3f%%", (unsigned long long)at[k],
		    100 * sqrt(sq[k] / trials));
	}
}
END_TEST

/* Sparse and dense */

/*
 * A hash whose top 25 bits (the sparse index idx') are i, with the rest
 * from r.
 */
static uint64_t
with_index(uint64_t i, uint64_t r)
{
	return (i << 39 | (r & ((1ULL << 39) - 1)));
}

/*
 * The sketch turns dense exactly when it has more than m/4 distinct
 * sparse indexes, whatever the repeats, order and buffering.
 */
START_TEST(test_hll_sparse_boundary)
{
	struct hll	*h, *d, *c;
	uint64_t	 s = 3, i;
	int		 p;

	for (p = HLL_P_MIN; p <= HLL_P_MAX; p++) {
		h = hll_new(p);
		for (i = 0; i < (1ULL << (p - 2)); i++) {
			hll_add_hash(h, with_index(i * 7 + 1, rnd(&s)));
			hll_add_hash(h, with_index(i * 7 + 1, rnd(&s)));
		}
		ck_assert(hll_is_sparse(h));
		check_roundtrip(h);
		/* LinearCounting at m' = 2^25 adds about n^2 / 2m'. */
		ck_assert_uint_ge(hll_count(h), 1ULL << (p - 2));
		ck_assert_uint_le(hll_count(h), (1ULL << (p - 2)) +
		    (1ULL << (2 * p - 4)) / (1ULL << 26) + 1);
		d = hll_copy(h);
		hll_add_hash(d, with_index(0, rnd(&s)));
		ck_assert(!hll_is_sparse(d));
		ck_assert_int_eq(hll_precision(d), p);
		check_roundtrip(d);
		/* Settled, dense memory is one byte a register. */
		c = hll_copy(d);
		ck_assert_uint_ge(hll_bytes(c), (size_t)1 << p);
		ck_assert_uint_lt(hll_bytes(c), ((size_t)1 << p) + 256);
		hll_free(c);
		hll_free(d);
		hll_free(h);
	}
}
END_TEST

/*
 * The form of a sketch is fixed by its contents: the same hashes added in
 * any order, any number of times, give equal sketches and equal bytes.
 */
START_TEST(test_hll_order)
{
	static const size_t	 sizes[] = { 0, 1, 5, 60, 300, 1100, 5000 };
	struct hll		*a, *b;
	uint64_t		*v, s = 11, t;
	size_t			 k, i, j, n;

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		n = sizes[k];
		v = malloc((n + 1) * sizeof(*v));
		ck_assert(v != NULL);
		for (i = 0; i < n; i++)
			v[i] = rnd(&s);
		a = hll_new(10);
		b = hll_new(10);
		for (i = 0; i < n; i++)
			hll_add_hash(a, v[i]);
		for (i = n; i > 1; i--) {
			j = rnd_below(&s, i);
			t = v[i - 1];
			v[i - 1] = v[j];
			v[j] = t;
		}
		for (i = 0; i < 3 * n; i++)
			hll_add_hash(b, v[rnd_below(&s, n)]);
		for (i = 0; i < n; i++)
			hll_add_hash(b, v[i]);
		ck_assert(hll_equal(a, b));
		ck_assert(same_bytes(a, b));
		ck_assert(hll_estimate(a) == hll_estimate(b));
		hll_free(a);
		hll_free(b);
		free(v);
	}
}
END_TEST

/* Merge */

static int	combos[2][2];	/* [dst sparse][src sparse] merges seen */

/*
 * Split v[0..n) into k parts (some values in two parts, some repeated),
 * merge the parts in a random tree, and compare with the direct sketch.
 */
static void
check_split(int p, const uint64_t *v, size_t n, size_t k, uint64_t *s)
{
	struct hll	*direct, *parts[8], *c;
	size_t		 i, a, b, left;
	char		*cause = NULL;

	direct = hll_new(p);
	for (i = 0; i < n; i++)
		hll_add_hash(direct, v[i]);
	for (i = 0; i < k; i++)
		parts[i] = hll_new(p);
	for (i = 0; i < n; i++) {
		hll_add_hash(parts[rnd_below(s, k)], v[i]);
		if (rnd_below(s, 5) == 0)
			hll_add_hash(parts[rnd_below(s, k)], v[i]);
		if (rnd_below(s, 5) == 0)
			hll_add_hash(parts[rnd_below(s, k)],
			    v[rnd_below(s, i + 1)]);
	}
	for (left = k; left > 1; left--) {
		a = rnd_below(s, left);
		b = rnd_below(s, left - 1);
		if (b >= a)
			b++;
		combos[hll_is_sparse(parts[a])][hll_is_sparse(parts[b])]++;
		if (rnd_below(s, 4) == 0) {	/* through a settled copy */
			c = hll_copy(parts[b]);
			ck_assert(hll_merge(parts[a], c, &cause) == 0);
			hll_free(c);
		} else
			ck_assert(hll_merge(parts[a], parts[b], &cause) == 0);
		hll_free(parts[b]);
		parts[b] = parts[left - 1];
	}
	ck_assert_msg(hll_equal(parts[0], direct), "p %d n %zu k %zu", p, n,
	    k);
	ck_assert_msg(same_bytes(parts[0], direct), "p %d n %zu k %zu", p, n,
	    k);
	ck_assert(hll_estimate(parts[0]) == hll_estimate(direct));
	ck_assert_int_eq(hll_is_sparse(parts[0]), hll_is_sparse(direct));
	hll_free(parts[0]);
	hll_free(direct);
}

/*
 * Merging the parts of a stream, split at random into 2-8 parts and merged
 * in a random tree, gives the sketch of the whole stream, state and bytes,
 * at sizes where parts and result are sparse, dense or mixed; all four
 * sparse/dense combinations must have been merged.
 */
START_TEST(test_hll_merge_fold)
{
	static const int	 ps[] = { 4, 8, 12 };
	static const double	 sizes[] = { 0, 0.01, 0.1, 0.2, 0.24, 0.26,
	    0.4, 0.6, 1, 3, 20 };
	uint64_t		*v, s = 99;
	size_t			 pi, si, n, i, rep;

	memset(combos, 0, sizeof(combos));
	for (pi = 0; pi < sizeof(ps) / sizeof(ps[0]); pi++) {
		for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
			n = (size_t)(sizes[si] * (1 << ps[pi]));
			v = malloc((n + 1) * sizeof(*v));
			ck_assert(v != NULL);
			for (rep = 0; rep < 6; rep++) {
				for (i = 0; i < n; i++)
					v[i] = rnd(&s);
				check_split(ps[pi], v, n, 2 + rnd_below(&s, 7),
				    &s);
			}
			free(v);
		}
	}
	ck_assert_int_gt(combos[0][0], 0);
	ck_assert_int_gt(combos[0][1], 0);
	ck_assert_int_gt(combos[1][0], 0);
	ck_assert_int_gt(combos[1][1], 0);
}
END_TEST

/* Merging with itself or its copy changes nothing; precisions must match. */
START_TEST(test_hll_merge_self)
{
	static const int	 sizes[] = { 0, 10, 5000 };
	struct hll		*h, *c, *o;
	char			*cause = NULL;
	size_t			 k;
	int			 i;

	for (k = 0; k < 3; k++) {
		h = hll_new(12);
		for (i = 0; i < sizes[k]; i++)
			hll_add_hash(h, hash64_u64((uint64_t)i));
		c = hll_copy(h);
		ck_assert(hll_merge(h, h, &cause) == 0);
		ck_assert(hll_equal(h, c) && same_bytes(h, c));
		ck_assert(hll_merge(h, c, &cause) == 0);
		ck_assert(hll_equal(h, c) && same_bytes(h, c));
		ck_assert(hll_merge(c, h, &cause) == 0);
		ck_assert(hll_equal(h, c) && same_bytes(h, c));
		o = hll_new(14);
		ck_assert(hll_merge(o, h, &cause) == -1);
		ck_assert_str_eq(cause, "hll: cannot merge precision 12 into "
		    "14");
		free(cause);
		cause = NULL;
		ck_assert(hll_merge(h, o, &cause) == -1);
		ck_assert_str_eq(cause, "hll: cannot merge precision 14 into "
		    "12");
		free(cause);
		cause = NULL;
		ck_assert(hll_equal(h, c));
		ck_assert(!hll_equal(h, o));
		hll_free(o);
		hll_free(c);
		hll_free(h);
	}
}
END_TEST

/* Serialization */

/* Round trips of empty, sparse and dense sketches; copies; stats. */
START_TEST(test_hll_roundtrip)
{
	static const int	 sizes[] = { 0, 1, 2, 50, 1000, 4096, 4097,
	    20000 };
	struct hll		*h, *c;
	msgpack_sbuffer		 sb;
	size_t			 k;
	int			 i, p;

	for (p = HLL_P_MIN; p <= HLL_P_MAX; p += 7) {
		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			h = hll_new(p);
			for (i = 0; i < sizes[k]; i++)
				hll_add_hash(h, hash64_u64((uint64_t)i));
			check_roundtrip(h);	/* with the buffer pending */
			c = hll_copy(h);
			ck_assert(hll_equal(h, c) && same_bytes(h, c));
			check_roundtrip(c);
			ck_assert_int_eq(hll_precision(c), p);
			ck_assert_uint_gt(hll_bytes(c), 0);
			hll_free(c);
			hll_free(h);
		}
	}
	/* The exact bytes of an empty and a one-value sketch. */
	h = hll_new(14);
	pack(h, &sb);
	ck_assert_uint_eq(sb.size, 6);
	ck_assert(memcmp(sb.data, "\x94\x01\x0e\x01\xc4\x00", 6) == 0);
	msgpack_sbuffer_destroy(&sb);
	hll_add_hash(h, 0x0000008000000000ULL);	/* idx' 1: entry 1 << 6 */
	pack(h, &sb);
	ck_assert_uint_eq(sb.size, 7);
	ck_assert(memcmp(sb.data, "\x94\x01\x0e\x01\xc4\x01\x40", 7) == 0);
	msgpack_sbuffer_destroy(&sb);
	hll_free(h);
	hll_free(NULL);
}
END_TEST

/* Append the LEB128 form of v. */
static void
put_varint(uint8_t *buf, size_t *len, uint64_t v)
{
	while (v >= 0x80) {
		buf[(*len)++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	buf[(*len)++] = (uint8_t)v;
}

/* Set register j of a dense payload: 6 bits at bit 6j, little-endian. */
static void
set_reg(uint8_t *pl, size_t j, unsigned v)
{
	size_t	bit;

	for (bit = 0; bit < 6; bit++) {
		if (v & 1U << bit)
			pl[(6 * j + bit) / 8] |= 1 << ((6 * j + bit) % 8);
		else
			pl[(6 * j + bit) / 8] &= ~(1 << ((6 * j + bit) % 8));
	}
}

/* [version, p, sparse, bin payload]; then expect cause (NULL: accept). */
static void
expect(uint64_t version, uint64_t p, uint64_t sparse, const uint8_t *pl,
    size_t len, const char *want)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	struct hll	*h;
	char		*cause;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, version);
	msgpack_pack_uint64(&pk, p);
	msgpack_pack_uint64(&pk, sparse);
	msgpack_pack_bin(&pk, len);
	msgpack_pack_bin_body(&pk, pl, len);
	h = unpack(sb.data, sb.size, &cause);
	if (want == NULL) {
		ck_assert_msg(h != NULL, "refused: %s", cause);
		check_roundtrip(h);
	} else {
		ck_assert_msg(h == NULL, "accepted, wanted \"%s\"", want);
		ck_assert_str_eq(cause, want);
		free(cause);
	}
	hll_free(h);
	msgpack_sbuffer_destroy(&sb);
}

/* [version, p, sparse, bin payload], which must be accepted. */
static struct hll *
unpack_ok(uint64_t version, uint64_t p, uint64_t sparse, const uint8_t *pl,
    size_t len)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	struct hll	*h;
	char		*cause;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, version);
	msgpack_pack_uint64(&pk, p);
	msgpack_pack_uint64(&pk, sparse);
	msgpack_pack_bin(&pk, len);
	msgpack_pack_bin_body(&pk, pl, len);
	h = unpack(sb.data, sb.size, &cause);
	ck_assert_msg(h != NULL, "refused: %s", cause);
	msgpack_sbuffer_destroy(&sb);
	return (h);
}

/* Packed msgpack built by fn; expect the cause. */
static void
expect_raw(void (*fn)(msgpack_packer *), const char *want)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	struct hll	*h;
	char		*cause;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	fn(&pk);
	h = unpack(sb.data, sb.size, &cause);
	ck_assert_msg(h == NULL, "accepted, wanted \"%s\"", want);
	ck_assert_str_eq(cause, want);
	free(cause);
	msgpack_sbuffer_destroy(&sb);
}

static void
raw_str(msgpack_packer *pk)
{
	msg_pack_str(pk, "hll");
}

static void
raw_nil(msgpack_packer *pk)
{
	msgpack_pack_nil(pk);
}

static void
raw_short(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_uint32(pk, 14);
	msgpack_pack_uint32(pk, 1);
}

static void
raw_version_str(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 4);
	msg_pack_str(pk, "1");
	msgpack_pack_uint32(pk, 14);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_bin(pk, 0);
}

static void
raw_version_neg(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_int32(pk, -1);
	msgpack_pack_uint32(pk, 14);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_bin(pk, 0);
}

static void
raw_p_float(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_double(pk, 14);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_bin(pk, 0);
}

static void
raw_flag_bool(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_uint32(pk, 14);
	msgpack_pack_true(pk);
	msgpack_pack_bin(pk, 0);
}

static void
raw_payload_str(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_uint32(pk, 14);
	msgpack_pack_uint32(pk, 1);
	msg_pack_str(pk, "");
}

static void
raw_missing_payload(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_uint32(pk, 14);
	msgpack_pack_uint32(pk, 1);
}

/* Every refusal, with its cause; and the edges that must be accepted. */
START_TEST(test_hll_unpack_hostile)
{
	uint8_t		 pl[4097], dense[768];
	struct hll	*h;
	char		*cause;
	size_t		 len, i;
	const uint32_t	 big = 2048 << 6;	/* idx' 2048: low bits zero */

	/* Outer structure. */
	ck_assert(unpack("", 0, &cause) == NULL);
	ck_assert_str_eq(cause, "hll: expected array, got end of data");
	free(cause);
	ck_assert(unpack("\xc1", 1, &cause) == NULL);
	ck_assert_str_eq(cause, "hll: expected array, got malformed msgpack");
	free(cause);
	ck_assert(unpack("\xdd\xff\xff\xff\xff", 5, &cause) == NULL);
	ck_assert_str_eq(cause, "hll: array count exceeds the data");
	free(cause);
	ck_assert(unpack("\x94\x01\x0e\x01\xc4\x05\x40", 7, &cause) == NULL);
	ck_assert_str_eq(cause, "hll: payload: truncated value");
	free(cause);
	expect_raw(raw_str, "hll: expected array, got string");
	expect_raw(raw_nil, "hll: expected array, got nil");
	expect_raw(raw_short, "hll: expected 4 elements, got 3");
	expect_raw(raw_version_str,
	    "hll: version: expected unsigned integer, got string");
	expect_raw(raw_version_neg,
	    "hll: version: expected unsigned integer, got negative integer");
	expect_raw(raw_p_float,
	    "hll: precision: expected unsigned integer, got float");
	expect_raw(raw_flag_bool,
	    "hll: sparse flag: expected unsigned integer, got boolean");
	expect_raw(raw_payload_str, "hll: payload: expected binary, got "
	    "string");
	expect_raw(raw_missing_payload, "hll: array count exceeds the data");

	/* Header fields. */
	expect(7, 14, 1, pl, 0, "hll: unsupported format version 7");
	expect(0, 14, 1, pl, 0, "hll: unsupported format version 0");
	expect(1, 3, 1, pl, 0, "hll: precision 3 out of range 4..18");
	expect(1, 19, 1, pl, 0, "hll: precision 19 out of range 4..18");
	expect(1, 1ULL << 40, 1, pl, 0,
	    "hll: precision 1099511627776 out of range 4..18");
	expect(1, 14, 2, pl, 0, "hll: sparse flag 2 is not 0 or 1");
	expect(1, 4, 1, pl, 0, NULL);
	expect(1, 18, 1, pl, 0, NULL);

	/* Dense payloads: size and register range (at most 65 - p). */
	memset(dense, 0, sizeof(dense));
	expect(1, 10, 0, dense, 768, NULL);
	expect(1, 10, 0, dense, 767, "hll: dense payload is 767 bytes, "
	    "expected 768 for precision 10");
	expect(1, 10, 0, dense, 0, "hll: dense payload is 0 bytes, expected "
	    "768 for precision 10");
	expect(1, 4, 0, dense, 768, "hll: dense payload is 768 bytes, "
	    "expected 12 for precision 4");
	set_reg(dense, 5, 55);		/* the largest rank at p = 10 */
	expect(1, 10, 0, dense, 768, NULL);
	set_reg(dense, 5, 56);
	expect(1, 10, 0, dense, 768, "hll: register 5 is 56, more than 55 "
	    "for precision 10");
	memset(dense, 0xff, sizeof(dense));	/* all 63 */
	expect(1, 4, 0, dense, 12, "hll: register 0 is 63, more than 61 "
	    "for precision 4");
	memset(dense, 0, sizeof(dense));
	for (i = 0; i < 16; i++)	/* every register at its maximum */
		set_reg(dense, i, 61);
	h = unpack_ok(1, 4, 0, dense, 12);
	ck_assert_uint_eq(hll_count(h), UINT64_MAX);
	hll_free(h);
	memset(dense, 0, sizeof(dense));
	set_reg(dense, 1023, 63);
	expect(1, 10, 0, dense, 768, "hll: register 1023 is 63, more than 55 "
	    "for precision 10");

	/* Sparse payloads at p = 14. */
	len = 0;
	put_varint(pl, &len, 1 << 6);			/* idx' 1 */
	put_varint(pl, &len, big + 5 - (1 << 6));	/* idx' 2048, r' 5 */
	put_varint(pl, &len, (1 << 6) - 5);		/* idx' 2049 */
	expect(1, 14, 1, pl, len, NULL);
	pl[len++] = 0x81;
	expect(1, 14, 1, pl, len, "hll: sparse entry 3 is truncated");
	len = 0;
	pl[len++] = 0x80;
	expect(1, 14, 1, pl, len, "hll: sparse entry 0 is truncated");
	len = 0;
	put_varint(pl, &len, 1 << 6);
	pl[len++] = 0xc0;			/* 0x40, overlong */
	pl[len++] = 0x00;
	expect(1, 14, 1, pl, len, "hll: sparse entry 1 is badly encoded");
	len = 0;
	for (i = 0; i < 5; i++)
		pl[len++] = 0x80;
	pl[len++] = 0x01;			/* six bytes */
	expect(1, 14, 1, pl, len, "hll: sparse entry 0 is badly encoded");
	len = 0;
	put_varint(pl, &len, 1ULL << 31);
	expect(1, 14, 1, pl, len, "hll: sparse entry 0 is out of range");
	len = 0;
	put_varint(pl, &len, ((1U << 25) - 1) << 6);	/* the last idx' */
	expect(1, 14, 1, pl, len, NULL);
	put_varint(pl, &len, 64);
	expect(1, 14, 1, pl, len, "hll: sparse entry 1 is out of range");
	/* Going backwards needs a wrapping delta: also out of range. */
	len = 0;
	put_varint(pl, &len, 3 << 6);
	put_varint(pl, &len, (1ULL << 32) - 64);
	expect(1, 14, 1, pl, len, "hll: sparse entry 1 is out of range");
	len = 0;
	put_varint(pl, &len, 1 << 6);
	put_varint(pl, &len, 0);
	expect(1, 14, 1, pl, len, "hll: sparse entry 1 repeats index 1");
	len = 0;
	put_varint(pl, &len, big + 5);
	put_varint(pl, &len, 1);
	expect(1, 14, 1, pl, len, "hll: sparse entry 1 repeats index 2048");
	len = 0;
	put_varint(pl, &len, big);
	expect(1, 14, 1, pl, len, "hll: sparse entry 0 has bad rank 0");
	len = 0;
	put_varint(pl, &len, 1 << 6 | 3);
	expect(1, 14, 1, pl, len, "hll: sparse entry 0 has bad rank 3");
	len = 0;
	put_varint(pl, &len, big + 40);
	expect(1, 14, 1, pl, len, NULL);
	len = 0;
	put_varint(pl, &len, big + 41);
	expect(1, 14, 1, pl, len, "hll: sparse entry 0 has bad rank 41");
	/* At most m/4 entries: 4 at p = 4. */
	len = 0;
	for (i = 0; i < 4; i++)
		put_varint(pl, &len, 1 << 6);
	expect(1, 4, 1, pl, len, NULL);
	put_varint(pl, &len, 1 << 6);
	expect(1, 4, 1, pl, len, "hll: sparse list has 5 entries, more than "
	    "4 for precision 4");
	memset(pl, 0, sizeof(pl));
	expect(1, 14, 1, pl, sizeof(pl), "hll: sparse list has 4097 entries, "
	    "more than 4096 for precision 14");
}
END_TEST

/* Bytes after the sketch are the caller's: hll_unpack reads one value. */
START_TEST(test_hll_unpack_one_value)
{
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	struct msg_reader	 r;
	struct hll		*h, *u;
	char			*cause = NULL;

	h = hll_new(8);
	hll_add(h, "x", 1);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	hll_pack(h, &pk);
	msgpack_pack_uint32(&pk, 5);
	msg_reader_init(&r, sb.data, sb.size);
	u = hll_unpack(&r, &cause);
	ck_assert_msg(u != NULL, "%s", cause);
	ck_assert_uint_eq(msg_left(&r), 1);
	ck_assert(hll_equal(h, u));
	hll_free(u);
	hll_free(h);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

/*
 * Random corruption of valid serializations: every truncation fails, and
 * flipped bytes either fail with an "hll: " cause or give a sketch that is
 * itself canonical: it packs back to exactly the bytes it was read from.
 * Run under ASan this also shows nothing is read out of bounds.
 */
START_TEST(test_hll_unpack_fuzz)
{
	static const struct {
		int	p;
		int	n;
	} srcs[] = { { 14, 0 }, { 14, 3 }, { 14, 300 }, { 4, 3 }, { 4, 50 },
	    { 8, 60 }, { 8, 1000 }, { 18, 20 } };
	msgpack_sbuffer	 sb, sb2;
	struct msg_reader r;
	struct hll	*h, *u, *o;
	uint8_t		*buf;
	uint64_t	 s = 5;
	size_t		 k, len, i, pos;
	char		*cause;
	int		 it, flips, accepted = 0, refused = 0;

	for (k = 0; k < sizeof(srcs) / sizeof(srcs[0]); k++) {
		h = hll_new(srcs[k].p);
		for (it = 0; it < srcs[k].n; it++)
			hll_add_hash(h, rnd(&s));
		pack(h, &sb);
		buf = malloc(sb.size);
		ck_assert(buf != NULL);
		for (len = 0; len < sb.size; len++) {
			memcpy(buf, sb.data, len);
			u = unpack(buf, len, &cause);
			ck_assert(u == NULL);
			ck_assert(strncmp(cause, "hll: ", 5) == 0);
			free(cause);
		}
		for (it = 0; it < 3000; it++) {
			memcpy(buf, sb.data, sb.size);
			for (flips = 1 + (int)rnd_below(&s, 3); flips > 0;
			    flips--) {
				pos = rnd_below(&s, sb.size);
				if (rnd_below(&s, 2))
					buf[pos] ^= 1 << rnd_below(&s, 8);
				else
					buf[pos] = (uint8_t)rnd(&s);
			}
			len = sb.size - (rnd_below(&s, 4) == 0 ?
			    rnd_below(&s, sb.size) : 0);
			cause = NULL;
			msg_reader_init(&r, buf, len);
			u = hll_unpack(&r, &cause);
			if (u == NULL) {
				ck_assert(strncmp(cause, "hll: ", 5) == 0);
				free(cause);
				refused++;
				continue;
			}
			accepted++;
			pack(u, &sb2);
			ck_assert_uint_eq(sb2.size, len - msg_left(&r));
			ck_assert(memcmp(sb2.data, buf, sb2.size) == 0);
			msgpack_sbuffer_destroy(&sb2);
			ck_assert(hll_estimate(u) >= 0);
			(void)hll_count(u);
			o = hll_new(hll_precision(u));
			for (i = 0; i < 100; i++)
				hll_add_hash(o, rnd(&s));
			ck_assert(hll_merge(o, u, &cause) == 0);
			ck_assert(hll_merge(u, o, &cause) == 0);
			ck_assert(hll_equal(o, u));
			hll_free(o);
			hll_free(u);
		}
		free(buf);
		msgpack_sbuffer_destroy(&sb);
		hll_free(h);
	}
	ck_assert_int_gt(accepted, 0);
	ck_assert_int_gt(refused, 0);
}
END_TEST

/* Arenas */

#define ARENA_P		10	/* sparse up to 256 entries */
#define ARENA_NVALS	1000

/* A sketch of v[lo..hi) at ARENA_P in a (NULL: the heap). */
static struct hll *
arena_build(struct arena *a, const uint64_t *v, size_t lo, size_t hi)
{
	struct hll	*h;
	size_t		 i;

	h = hll_new_in(a, ARENA_P);
	for (i = lo; i < hi; i++)
		hll_add_hash(h, v[i]);
	return (h);
}

/* Unpack packed bytes of h into a; the same state and bytes as h. */
static struct hll *
arena_reload(struct arena *a, const struct hll *h)
{
	msgpack_sbuffer		 sb;
	struct msg_reader	 r;
	struct hll		*u;
	char			*cause = NULL;

	pack(h, &sb);
	msg_reader_init(&r, sb.data, sb.size);
	u = hll_unpack_in(a, &r, &cause);
	ck_assert_msg(u != NULL, "%s", cause);
	ck_assert_int_eq(msg_end(&r), 0);
	msgpack_sbuffer_destroy(&sb);
	ck_assert(hll_equal(u, h) && same_bytes(u, h));
	return (u);
}

/*
 * Merge v[slo..shi) built in sa into v[dlo..dhi) built in da (either may
 * be NULL, the heap), and expect the bytes of one heap sketch of both.
 * When sa is an arena of its own it is reset before the result is read:
 * nothing of the result may live there.
 */
static void
arena_merge_check(struct arena *da, struct arena *sa, const uint64_t *v,
    size_t dlo, size_t dhi, size_t slo, size_t shi)
{
	struct hll	*d, *s, *ref;
	char		*cause = NULL;
	size_t		 i;

	d = arena_build(da, v, dlo, dhi);
	s = arena_build(sa, v, slo, shi);
	ref = arena_build(NULL, v, dlo, dhi);
	for (i = slo; i < shi; i++)
		hll_add_hash(ref, v[i]);
	ck_assert_int_eq(hll_merge(d, s, &cause), 0);
	hll_free(s);
	if (sa != NULL && sa != da)
		arena_reset(sa);
	ck_assert(hll_equal(d, ref) && same_bytes(d, ref));
	ck_assert_int_eq(hll_is_sparse(d), hll_is_sparse(ref));
	/* It keeps growing in its own arena. */
	for (i = 0; i < ARENA_NVALS; i += 3) {
		hll_add_hash(d, v[i]);
		hll_add_hash(ref, v[i]);
	}
	ck_assert(hll_equal(d, ref) && same_bytes(d, ref));
	hll_free(d);
	hll_free(ref);
}

/*
 * Sketches in an arena and on the heap from the same input agree to the
 * byte: across the buffer's growth, flushes and the sparse to dense switch,
 * merged either way and across arenas, copied and unpacked into an arena.
 * Under ASan every arena allocation is a heap block of its own, so
 * overruns, and reads of an arena after its reset, are caught.
 */
START_TEST(test_hll_arena)
{
	static const size_t	 merges[][4] = {
		{ 0, 100, 60, 200 },	/* sparse + sparse: sparse */
		{ 0, 200, 150, 400 },	/* sparse + sparse: dense */
		{ 0, 600, 500, 700 },	/* dense + sparse */
		{ 0, 100, 50, 800 },	/* sparse + dense */
		{ 0, 500, 300, 900 },	/* dense + dense */
	};
	struct arena		 ar, ar2;
	struct hll		*ha, *hh, *hs, *c, *u, *ref;
	uint64_t		 s = 0xa4e7a, v[ARENA_NVALS], x;
	size_t			 i, k, burst;
	int			 sparse = 0, dense = 0;

	arena_init(&ar);
	arena_init(&ar2);
	for (i = 0; i < ARENA_NVALS; i++)
		v[i] = rnd(&s);

	/* The same adds, with repeats and bursts, sparse to dense. */
	ha = hll_new_in(&ar, ARENA_P);
	hh = hll_new(ARENA_P);
	for (i = 0; i < 3000; i++) {
		x = v[rnd_below(&s, 600)];
		for (burst = 1 + rnd_below(&s, 3); burst > 0; burst--) {
			hll_add_hash(ha, x);
			hll_add_hash(hh, x);
		}
		if (i % 25 == 0) {
			ck_assert(same_bytes(ha, hh));
			sparse |= hll_is_sparse(ha);
			dense |= !hll_is_sparse(ha);
		}
	}
	ck_assert(sparse && dense);
	ck_assert(hll_equal(ha, hh) && same_bytes(ha, hh));
	ck_assert_uint_eq(hll_count(ha), hll_count(hh));
	ck_assert(arena_bytes(&ar) > 0);

	/* Merges: arena <- heap, heap <- arena, across and within arenas. */
	for (k = 0; k < sizeof(merges) / sizeof(merges[0]); k++) {
		arena_merge_check(&ar, NULL, v, merges[k][0], merges[k][1],
		    merges[k][2], merges[k][3]);
		arena_merge_check(NULL, &ar2, v, merges[k][0], merges[k][1],
		    merges[k][2], merges[k][3]);
		arena_merge_check(&ar, &ar2, v, merges[k][0], merges[k][1],
		    merges[k][2], merges[k][3]);
		arena_merge_check(&ar, &ar, v, merges[k][0], merges[k][1],
		    merges[k][2], merges[k][3]);
	}

	/*
	 * Copies and unpacking into an arena: of a sparse heap sketch with
	 * entries still buffered and of a dense one, then grown further.
	 */
	hs = arena_build(NULL, v, 0, 150);
	for (k = 0; k < 2; k++) {
		ref = hll_copy(k == 0 ? hs : hh);
		c = hll_copy_in(&ar2, ref);
		u = arena_reload(&ar2, ref);
		ck_assert(hll_equal(c, ref) && same_bytes(c, ref));
		for (i = 150; i < ARENA_NVALS; i += 2) {
			hll_add_hash(c, v[i]);
			hll_add_hash(u, v[i]);
			hll_add_hash(ref, v[i]);
		}
		ck_assert(hll_equal(c, ref) && same_bytes(c, ref));
		ck_assert(hll_equal(u, ref) && same_bytes(u, ref));
		hll_free(ref);
	}
	hll_free(hs);

	/* Copies out of an arena outlive it. */
	c = hll_copy_in(&ar2, ha);
	u = arena_reload(&ar2, ha);
	ref = hll_copy(ha);
	hll_free(ha);
	arena_reset(&ar);
	ck_assert(same_bytes(c, hh) && same_bytes(u, hh));
	ck_assert(same_bytes(ref, hh));
	hll_free(ref);
	hll_free(hh);
	arena_reset(&ar2);
	arena_pool_trim();
}
END_TEST

static Suite *
hll_suite(void)
{
	Suite	*s = suite_create("hll");
	TCase	*tc = tcase_create("hll");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hash_pinned);
	tcase_add_test(tc, test_hash_avalanche);
	tcase_add_test(tc, test_hash_collisions);
	tcase_add_test(tc, test_hash_lengths);
	tcase_add_test(tc, test_hll_accuracy_p14);
	tcase_add_test(tc, test_hll_accuracy_spot);
	tcase_add_test(tc, test_hll_bias);
	tcase_add_test(tc, test_hll_sparse_boundary);
	tcase_add_test(tc, test_hll_order);
	tcase_add_test(tc, test_hll_merge_fold);
	tcase_add_test(tc, test_hll_merge_self);
	tcase_add_test(tc, test_hll_roundtrip);
	tcase_add_test(tc, test_hll_unpack_hostile);
	tcase_add_test(tc, test_hll_unpack_one_value);
	tcase_add_test(tc, test_hll_unpack_fuzz);
	tcase_add_test(tc, test_hll_arena);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(hll_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failures ? 1 : 0);
}
