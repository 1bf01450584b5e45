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
 * DDSketch, the quantile metric's state: a logarithmic bucket mapping, two
 * stores of bucket counts (positive values, and negative values by
 * magnitude) and a count of zeros, with exact count, min, max and sum kept
 * alongside.
 *
 * Mapping.  gamma = (1 + alpha) / (1 - alpha); a value x > 0 goes to bucket
 * i = ceil(log(x) / log(gamma)), which holds (gamma^(i-1), gamma^i], and is
 * reported as 2 gamma^i / (gamma + 1) = (1 - alpha) gamma^i, within alpha
 * of every value in the bucket.  log(gamma) is computed once, as
 * log1p(2 alpha / (1 - alpha)), and every index and value derives from it,
 * with the C library's log and exp and no approximation: the same input
 * gives the same buckets.  Every finite double maps into
 * [index(DBL_TRUE_MIN), index(DBL_MAX)], about +-37,000 at alpha 0.01 and
 * within 32 bits for alpha >= DDS_ALPHA_MIN; dds_unpack() refuses stores
 * outside that range.  An estimate is clamped to [min, max], which are
 * exact, so clamping only ever reduces the error.
 *
 * Collapse.  A store never spans more than m = max_bins buckets.  With H
 * the highest bucket it has seen, every index i is counted in bucket
 * max(i, H - m + 1): the lowest buckets fold into the lowest kept one, the
 * paper's strategy for preserving upper quantiles.  The negative store is
 * indexed by |x| and collapses the same way, its smallest magnitudes (the
 * values nearest zero) folding outward: on both sides the buckets of
 * largest magnitude survive, so the guarantee stays scale-free and
 * symmetric (and matches the reference implementations).  A value keeps
 * its alpha guarantee iff its bucket was not folded, which holds whenever
 * |x| >= M / gamma^(m-1), M the largest magnitude of its sign; a folded
 * value is reported too large in magnitude (positive ones too high,
 * negative ones too low), by at most a factor M / |x|.  With the defaults
 * (alpha 0.01, 4096 buckets) gamma^4095 = 3.7e35: values spanning 35.5
 * decades per sign never collapse, and latencies from 1e-3 to 1e7 take
 * 1,152 buckets.  (Subnormal values map like any other, but an estimate
 * among them is itself rounded to a subnormal, coarser than alpha.)
 *
 * Stores.  Most sketches (one per row of a view) see a handful of values,
 * so a store starts sparse: a sorted array of (bucket, count) pairs for
 * the non-zero buckets, allocated 4, 8, 16, then 32 pairs (of 32-bit
 * bucket and count).  The add that would need a 33rd bucket, or take the
 * total past 2^32 - 1, turns it dense for good: one array of counts
 * over a window around lo..hi, grown as the range widens (never past 2m
 * counters).  Both forms apply the collapse rule above through the same
 * lo, hi and total, so the form is invisible: a store's contents, and so
 * dds_equal() and the bytes of dds_pack(), depend only on the values it
 * counted, never on whether it went dense, and merges mix forms freely.
 * dds_unpack() builds whichever form the bucket count and total call for.
 *
 * Merging.  Because H only grows and max(max(i, a), b) = max(i, max(a,b)),
 * the state after any sequence of adds and merges is the function above of
 * the multiset of indices, with H the largest index of the multiset: it
 * does not depend on order, on the merge tree, or on whether collapse
 * happened.  So collapse never breaks equality: merged sketches are
 * dds_equal() to, and pack to the same bytes as, the sketch that saw every
 * value, for every alpha and max_bins (same on both sides, or dds_merge()
 * refuses).  Collapse costs accuracy only, as above.
 *
 * Sum.  Floating-point addition is not associative, so a double running
 * sum would depend on the order of values and merges.  The sum is instead
 * exact: a fixed-point integer in units of 2^-1074 (the smallest
 * subnormal), every double being a multiple of 2^-1074 below 2^1024.  The
 * sketch keeps it as a long accumulator (xsum.c) whose digits cover only
 * the positions its values reached, a few words in the sketch's arena;
 * packing, unpacking and comparing go through 34 limbs of 64 bits of two's
 * complement (struct dds_sum, on the stack), where 2^64 values fit with a
 * sign bit to spare.  dds_sum() rounds it to the nearest double once, when
 * asked.  (34 limbs in every sketch made most of its memory: a row's
 * sketch touched more cache lines than its values did.)
 *
 * Memory.  A sketch and its stores' arrays come from its arena (NULL: the
 * heap), growth included; a merge grows the destination in its own.  The
 * store functions that may grow take the sketch, for its arena and
 * max_bins, so an add that does not grow costs nothing more.  Scratch of
 * one call (the packing buffer, the copy for a merge into itself) is on
 * the heap: an arena would hold it until reset.
 */

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "arena.h"
#include "ddsketch.h"
#include "msg.h"
#include "xmalloc.h"
#include "xsum.h"

#define SUM_LIMBS	34		/* 2176 bits */
#define SUM_BITS	(SUM_LIMBS * 64)
#define SUM_SHIFT	1074		/* limbs hold sum * 2^1074 */
#define SUM_TOP		2098		/* |double| * 2^1074 < 2^2098 */
#define SUM_BYTES_MAX	(SUM_LIMBS * 8)

#define VARINT_MAX	10		/* bytes of a LEB128 uint64 */

/* An exact sum as two's complement limbs, least significant first. */
struct dds_sum {
	uint64_t	l[SUM_LIMBS];
};

#define STORE_SPARSE_MIN	4	/* bins first allocated */
#define STORE_SPARSE_MAX	32	/* bins before a store turns dense */

/*
 * A non-zero bucket of a sparse store.  Bucket indices fit in 32 bits (see
 * Mapping), and so do the counts of a sparse store, whose total is kept
 * at most UINT32_MAX (a store that would pass it turns dense).
 */
struct dds_bin {
	int32_t		 idx;
	uint32_t	 n;
};

/*
 * A store, sparse while counts is NULL (bins[0..nbins) in increasing
 * bucket order, all non-zero), else dense (counts[j] is bucket offset + j).
 */
struct dds_store {
	uint64_t	*counts;
	struct dds_bin	*bins;
	uint64_t	 total;		/* 0: empty, lo, hi meaningless */
	int32_t		 offset;
	int32_t		 lo;		/* lowest non-zero bucket */
	int32_t		 hi;		/* highest non-zero bucket */
	uint32_t	 cap;
	uint16_t	 nbins;
	uint16_t	 bincap;
};

/*
 * What an add reads and writes comes first (two cache lines), the
 * negative store and what only merging and reporting read after.
 */
struct ddsketch {
	double		 invlngamma;	/* 1 / lngamma, rounded */
	int		 max_bins;
	uint64_t	 count;
	uint64_t	 zero;
	double		 min;		/* +inf when empty */
	double		 max;		/* -inf when empty */
	struct xsum	 sum;		/* exact, in a's memory */
	struct dds_store pos;
	struct dds_store neg;
	struct arena	*a;		/* where it is; NULL: the heap */
	double		 alpha;
	double		 lngamma;	/* log(gamma) */
};

/* The bucket of x > 0. */
static int64_t
dds_index(const struct ddsketch *d, double x)
{
	double	l = log(x), r = l * d->invlngamma, c = ceil(r);
	double	eps = (fabs(r) + 1) * 0x1p-44;

	/*
	 * The product is within a few units in the last place (2^-52
	 * relative) of the quotient, so unless it is within eps of an
	 * integer its ceiling is the quotient's: the division, slow, only
	 * then.
	 */
	if (c - r > eps && c - r < 1 - eps)
		return ((int64_t)c);
	return ((int64_t)ceil(l / d->lngamma));
}

/* The representative value of bucket i: 2 gamma^i / (gamma + 1). */
static double
dds_value(const struct ddsketch *d, int64_t i)
{
	return (exp((double)i * d->lngamma) * (1 - d->alpha));
}

/* Add v (1 <= v) at limb w, carrying or borrowing upward. */
static void
sum_add_at(struct dds_sum *s, int w, uint64_t v, int neg)
{
	uint64_t	o;

	for (; w < SUM_LIMBS && v != 0; w++) {
		o = s->l[w];
		if (!neg) {
			s->l[w] = o + v;
			v = s->l[w] < o;
		} else {
			s->l[w] = o - v;
			v = o < v;
		}
	}
}

static int
sum_isneg(const struct dds_sum *s)
{
	return ((int)(s->l[SUM_LIMBS - 1] >> 63));
}

static void
sum_negate(struct dds_sum *s)
{
	int	i;

	for (i = 0; i < SUM_LIMBS; i++)
		s->l[i] = ~s->l[i];
	sum_add_at(s, 0, 1, 0);
}

/* The highest set bit of a non-negative sum, -1 for zero. */
static int
sum_top(const struct dds_sum *s)
{
	int	i;

	for (i = SUM_LIMBS - 1; i >= 0; i--)
		if (s->l[i] != 0)
			return (i * 64 + 63 - __builtin_clzll(s->l[i]));
	return (-1);
}

/* The lowest set bit, -1 for zero. */
static int
sum_bottom(const struct dds_sum *s)
{
	int	i;

	for (i = 0; i < SUM_LIMBS; i++)
		if (s->l[i] != 0)
			return (i * 64 + __builtin_ctzll(s->l[i]));
	return (-1);
}

/* Bits b .. b+63, sign-extended past the top. */
static uint64_t
sum_get64(const struct dds_sum *s, int b)
{
	uint64_t	fill = sum_isneg(s) ? UINT64_MAX : 0, lo, hi;
	int		w = b / 64, sh = b % 64;

	lo = w < SUM_LIMBS ? s->l[w] : fill;
	hi = w + 1 < SUM_LIMBS ? s->l[w + 1] : fill;
	return (sh == 0 ? lo : (lo >> sh) | (hi << (64 - sh)));
}

/* The sum rounded to the nearest double, ties to even; +-inf past range. */
static double
sum_to_double(const struct dds_sum *s)
{
	struct dds_sum	 m = *s;
	uint64_t	 t, t2, q, r;
	double		 v;
	int		 neg, h, sticky, i;

	if ((neg = sum_isneg(&m)))
		sum_negate(&m);
	if ((h = sum_top(&m)) < 0)
		return (0.0);
	if (h < 53)
		v = ldexp((double)m.l[0], -SUM_SHIFT);
	else {
		if (h < 63) {
			t = m.l[0] << (63 - h);
			sticky = 0;
		} else {
			t = sum_get64(&m, h - 63);
			sticky = 0;
			for (i = 0; i < (h - 63) / 64; i++)
				sticky |= m.l[i] != 0;
			if ((h - 63) % 64 != 0) {
				t2 = UINT64_C(1) << ((h - 63) % 64);
				sticky |= (m.l[(h - 63) / 64] & (t2 - 1)) != 0;
			}
		}
		q = t >> 11;
		r = t & 0x7ff;
		if (r > 0x400 || (r == 0x400 && (sticky || (q & 1))))
			q++;
		v = ldexp((double)q, h - 52 - SUM_SHIFT);
	}
	return (neg ? -v : v);
}

/* s = n x, exactly (x finite: |n x| < 2^64 2^1024 fits). */
static void
sum_product(struct dds_sum *s, uint64_t n, double x)
{
	unsigned __int128	p;
	uint64_t		m;
	int			e, b, w, sh;

	memset(s, 0, sizeof(*s));
	if (n == 0 || x == 0)
		return;
	m = (uint64_t)ldexp(frexp(fabs(x), &e), 53);	/* |x| = m 2^(e-53) */
	if ((b = e - 53 + SUM_SHIFT) < 0) {
		m >>= -b;		/* subnormal: those bits are 0 */
		b = 0;
	}
	p = (unsigned __int128)m * n;		/* under 2^117 */
	w = b / 64;
	sh = b % 64;
	s->l[w] = (uint64_t)p << sh;
	s->l[w + 1] = sh == 0 ? (uint64_t)(p >> 64) :
	    (uint64_t)(p >> (64 - sh));
	if (sh != 0)
		s->l[w + 2] = (uint64_t)(p >> (128 - sh));
	if (x < 0)
		sum_negate(s);
}

/* a < b. */
static int
sum_less(const struct dds_sum *a, const struct dds_sum *b)
{
	int	i;

	if (sum_isneg(a) != sum_isneg(b))
		return (sum_isneg(a));
	for (i = SUM_LIMBS - 1; i >= 0; i--)
		if (a->l[i] != b->l[i])
			return (a->l[i] < b->l[i]);
	return (0);
}

/*
 * Pack the sum: a float64 when it is one exactly, else [e, m] with m a
 * big-endian two's complement bin, odd and as short as possible.
 */
static void
sum_pack(const struct dds_sum *s, msgpack_packer *pk)
{
	const struct dds_sum	*mag = s;
	struct dds_sum		 t;
	uint8_t			 buf[SUM_BYTES_MAX];
	uint64_t		 fill, w;
	double			 d;
	int			 low, high, bits, nb, nl, j, i;

	/*
	 * A double exactly when the magnitude's significant bits span at
	 * most 53 and it is below 2^1024; the lowest set bit is the same in
	 * x and -x.
	 */
	if ((low = sum_bottom(s)) < 0) {
		msgpack_pack_double(pk, 0.0);
		return;
	}
	if (sum_isneg(s)) {
		t = *s;
		sum_negate(&t);
		mag = &t;
	}
	high = sum_top(mag);
	if (high - low <= 52 && high < SUM_TOP) {
		d = ldexp((double)sum_get64(mag, low), low - SUM_SHIFT);
		msgpack_pack_double(pk, mag == s ? d : -d);
		return;
	}
	/*
	 * m = s >> low, two's complement, needs at most high - low + 2
	 * bits: only its nl lowest limbs are read.  Its length in bits is
	 * that of m (of ~m >= 0 if negative) plus a sign bit.
	 */
	nl = (high - low + 2) / 64 + 1;
	for (i = 0; i < nl; i++)
		t.l[i] = sum_get64(s, low + i * 64);
	fill = sum_isneg(s) ? UINT64_MAX : 0;
	for (i = nl - 1; i > 0 && (t.l[i] ^ fill) == 0; i--)
		;
	w = t.l[i] ^ fill;
	bits = w == 0 ? 1 : i * 64 + 63 - __builtin_clzll(w) + 2;
	nb = (bits + 7) / 8;
	for (j = 0; j < nb; j++)
		buf[nb - 1 - j] = (uint8_t)(t.l[j / 8] >> (8 * (j % 8)));
	msgpack_pack_array(pk, 2);
	msgpack_pack_int64(pk, (int64_t)low - SUM_SHIFT);
	msgpack_pack_bin(pk, nb);
	msgpack_pack_bin_body(pk, buf, nb);
}

/* Read the sum in either form; the caller checks its range. */
static int
sum_unpack(struct msg_reader *r, struct dds_sum *s, char **cause)
{
	struct dds_sum	 m;
	struct xsum	 x;
	const uint8_t	*b;
	size_t		 nb, j;
	uint32_t	 n;
	int64_t		 e;
	double		 d;
	int		 sh, i;

	memset(s, 0, sizeof(*s));
	if (msg_peek(r) == MSG_T_FLOAT) {
		if (msg_get_float(r, &d) == -1)
			goto bad;
		if (!isfinite(d)) {
			xasprintf(cause, "ddsketch: sum: not finite");
			return (-1);
		}
		xsum_init(&x);
		xsum_add(&x, d);
		xsum_get_limbs(&x, s->l, SUM_LIMBS);
		xsum_clear(&x);
		return (0);
	}
	if (msg_peek(r) != MSG_T_ARRAY) {
		xasprintf(cause, "ddsketch: sum: expected float or array, "
		    "got %s", msg_type_name(msg_peek(r)));
		return (-1);
	}
	if (msg_get_array(r, &n) == -1)
		goto bad;
	if (n != 2) {
		xasprintf(cause, "ddsketch: sum: %u fields, expected 2", n);
		return (-1);
	}
	if (msg_get_int(r, &e) == -1 || msg_get_bin(r, &b, &nb) == -1)
		goto bad;
	if (nb == 0 || nb > SUM_BYTES_MAX) {
		xasprintf(cause, "ddsketch: sum: mantissa of %zu bytes", nb);
		return (-1);
	}
	if (e < -SUM_SHIFT || e > SUM_BITS ||
	    e + SUM_SHIFT + 8 * (int64_t)nb > SUM_BITS) {
		xasprintf(cause, "ddsketch: sum: exponent %lld out of range",
		    (long long)e);
		return (-1);
	}
	memset(&m, (b[0] & 0x80) ? 0xff : 0, sizeof(m));
	for (j = 0; j < nb; j++) {
		m.l[j / 8] &= ~((uint64_t)0xff << (8 * (j % 8)));
		m.l[j / 8] |= (uint64_t)b[nb - 1 - j] << (8 * (j % 8));
	}
	sh = (int)(e + SUM_SHIFT);
	for (i = SUM_LIMBS - 1; i >= 0; i--) {
		s->l[i] = 0;
		if (i - sh / 64 >= 0) {
			s->l[i] = m.l[i - sh / 64] << (sh % 64);
			if (sh % 64 != 0 && i - sh / 64 - 1 >= 0)
				s->l[i] |= m.l[i - sh / 64 - 1] >>
				    (64 - sh % 64);
		}
	}
	return (0);

bad:
	xasprintf(cause, "ddsketch: sum: %s", msg_error(r));
	return (-1);
}

static void
store_init(struct dds_store *s)
{
	memset(s, 0, sizeof(*s));
}

static void
store_free(struct arena *a, struct dds_store *s)
{
	arena_free(a, s->bins);
	arena_free(a, s->counts);
}

/*
 * The first sparse bin whose bucket is >= i, or nbins: a binary search
 * whose halving steps take no branch (their outcomes are coin tosses).
 */
static size_t
store_find(const struct dds_store *s, int64_t i)
{
	const struct dds_bin	*base = s->bins;
	size_t			 n = s->nbins, half;

	if (n == 0)
		return (0);
	while (n > 1) {
		half = n / 2;
		base = base[half].idx < i ? base + half : base;
		n -= half;
	}
	return ((size_t)(base - s->bins) + (base->idx < i));
}

/* Make room for a sparse bin at k; the caller checked STORE_SPARSE_MAX. */
static void
store_insert(struct arena *a, struct dds_store *s, size_t k, int64_t i)
{
	size_t	cap;

	if (s->nbins == s->bincap) {
		cap = s->bincap == 0 ? STORE_SPARSE_MIN : s->bincap * 2;
		s->bins = arena_reallocarray(a, s->bins, s->bincap, cap,
		    sizeof(*s->bins));
		s->bincap = cap;
	}
	memmove(s->bins + k + 1, s->bins + k,
	    (s->nbins - k) * sizeof(*s->bins));
	s->bins[k].idx = i;
	s->bins[k].n = 0;
	s->nbins++;
}

/*
 * Count n values in bucket i of a sparse store, by the rule of store_add.
 * Returns -1, having at most folded, if i needs a bin past
 * STORE_SPARSE_MAX or the total would pass UINT32_MAX; the caller then
 * turns the store dense.
 */
static int
store_sparse_add(const struct ddsketch *d, struct dds_store *s, int64_t i,
    uint64_t n)
{
	int64_t		floor;
	uint64_t	folded = 0;
	size_t		f, k;
	int		m = d->max_bins;

	if (n > UINT32_MAX - s->total)
		return (-1);		/* past a sparse bin's count */
	floor = (s->total == 0 || i > s->hi ? i : s->hi) - m + 1;
	if (s->total > 0 && s->lo < floor) {
		for (f = 0; f < s->nbins && s->bins[f].idx < floor; f++)
			folded += s->bins[f].n;
		s->nbins -= f;
		memmove(s->bins, s->bins + f, s->nbins * sizeof(*s->bins));
		if (s->nbins == 0 || s->bins[0].idx != floor)
			store_insert(d->a, s, 0, floor); /* f >= 1 freed one */
		s->bins[0].n += folded;
		s->lo = floor;
		s->hi = s->bins[s->nbins - 1].idx;
	}
	if (i < floor)
		i = floor;
	k = store_find(s, i);
	if (k == s->nbins || s->bins[k].idx != i) {
		if (s->nbins == STORE_SPARSE_MAX)
			return (-1);
		store_insert(d->a, s, k, i);
	}
	s->bins[k].n += n;
	s->total += n;
	s->lo = s->bins[0].idx;
	s->hi = s->bins[s->nbins - 1].idx;
	return (0);
}

/*
 * Make the array cover buckets lo..hi (at most max_bins wide), keeping the
 * counts of the old range that overlap it; the caller has already folded
 * the rest.  dir says where to leave room: 1 above, -1 below, 0 both sides.
 */
static void
store_reserve(const struct ddsketch *d, struct dds_store *s, int64_t lo,
    int64_t hi, int dir)
{
	uint64_t	*counts;
	size_t		 width, cap;
	int64_t		 offset, from, to;
	int		 m = d->max_bins;

	if (s->counts != NULL && lo >= s->offset &&
	    hi < s->offset + (int64_t)s->cap)
		return;
	width = (size_t)(hi - lo + 1);
	cap = width * 2;
	if (cap < 32)
		cap = 32;
	if (cap > 2 * (size_t)m)
		cap = 2 * (size_t)m;
	if (dir > 0)
		offset = lo;
	else if (dir < 0)
		offset = hi - (int64_t)cap + 1;
	else
		offset = lo - (int64_t)(cap - width) / 2;
	counts = arena_calloc(d->a, cap, sizeof(*counts));
	if (s->counts != NULL && s->total > 0) {
		from = s->lo > lo ? s->lo : lo;
		to = s->hi < hi ? s->hi : hi;
		if (from <= to)
			memcpy(counts + (from - offset),
			    s->counts + (from - s->offset),
			    (size_t)(to - from + 1) * sizeof(*counts));
	}
	arena_free(d->a, s->counts);
	s->counts = counts;
	s->cap = cap;
	s->offset = offset;
}

/* Turn a sparse store dense, same contents. */
static void
store_densify(const struct ddsketch *d, struct dds_store *s)
{
	size_t	k;

	store_reserve(d, s, s->lo, s->hi, 0);
	for (k = 0; k < s->nbins; k++)
		s->counts[s->bins[k].idx - s->offset] = s->bins[k].n;
	arena_free(d->a, s->bins);
	s->bins = NULL;
	s->nbins = s->bincap = 0;
}

/*
 * Count n values in bucket i of a store of d, keeping it within
 * m = max_bins buckets: i goes to max(i, H - m + 1), H the highest bucket,
 * and when H rises the buckets that fall below H - m + 1 fold into it.
 */
static void
store_add(const struct ddsketch *d, struct dds_store *s, int64_t i,
    uint64_t n)
{
	int64_t		floor, newlo, top, j;
	uint64_t	folded = 0;
	int		m = d->max_bins;

	if (s->counts == NULL) {
		if (store_sparse_add(d, s, i, n) == 0)
			return;
		store_densify(d, s);
	}
	if (s->total == 0) {
		store_reserve(d, s, i, i, 0);
		s->counts[i - s->offset] = n;
		s->lo = s->hi = i;
	} else if (i > s->hi) {
		floor = i - m + 1;
		newlo = s->lo;
		if (floor > s->lo) {
			top = s->hi < floor - 1 ? s->hi : floor - 1;
			for (j = s->lo; j <= top; j++) {
				folded += s->counts[j - s->offset];
				s->counts[j - s->offset] = 0;
			}
			newlo = floor;
		}
		store_reserve(d, s, newlo, i, 1);
		s->counts[i - s->offset] += n;
		s->counts[newlo - s->offset] += folded;
		s->lo = newlo;
		s->hi = i;
	} else if (i < s->lo) {
		j = i > s->hi - m + 1 ? i : s->hi - m + 1;
		store_reserve(d, s, j, s->hi, -1);
		s->counts[j - s->offset] += n;
		s->lo = j;
	} else
		s->counts[i - s->offset] += n;
	s->total += n;
}

/* The count of bucket i, in either form. */
static uint64_t
store_get(const struct dds_store *s, int64_t i)
{
	size_t	k;

	if (s->total == 0 || i < s->lo || i > s->hi)
		return (0);
	if (s->counts != NULL)
		return (s->counts[i - s->offset]);
	k = store_find(s, i);
	return (k < s->nbins && s->bins[k].idx == i ? s->bins[k].n : 0);
}

/*
 * Fold o into s, a store of d, highest bucket first so that H is settled
 * at once.
 */
static void
store_merge(const struct ddsketch *d, struct dds_store *s,
    const struct dds_store *o)
{
	int64_t	j;
	size_t	k;

	if (o->total == 0)
		return;
	if (o->counts == NULL) {
		for (k = o->nbins; k > 0; k--)
			store_add(d, s, o->bins[k - 1].idx, o->bins[k - 1].n);
		return;
	}
	for (j = o->hi; j >= o->lo; j--)
		if (o->counts[j - o->offset] != 0)
			store_add(d, s, j, o->counts[j - o->offset]);
}

/*
 * The bucket holding the element of 0-based rank r < total, ranks
 * counted from the lowest bucket, or from the highest if down.
 */
static int64_t
store_at_rank(const struct dds_store *s, uint64_t r, int down)
{
	uint64_t	cum = 0;
	int64_t		j;
	size_t		k;

	if (s->counts == NULL) {
		for (k = 0; k < s->nbins; k++)
			if ((cum += s->bins[down ? s->nbins - 1 - k : k].n) > r)
				break;
		return (s->bins[down ? s->nbins - 1 - k : k].idx);
	}
	if (down) {
		for (j = s->hi; j > s->lo; j--)
			if ((cum += s->counts[j - s->offset]) > r)
				break;
	} else {
		for (j = s->lo; j < s->hi; j++)
			if ((cum += s->counts[j - s->offset]) > r)
				break;
	}
	return (j);
}

/* The same buckets and counts, whatever the form of each. */
static int
store_equal(const struct dds_store *a, const struct dds_store *b)
{
	int64_t	j;

	if (a->total != b->total)
		return (0);
	if (a->total == 0)
		return (1);
	if (a->lo != b->lo || a->hi != b->hi)
		return (0);
	for (j = a->lo; j <= a->hi; j++)
		if (store_get(a, j) != store_get(b, j))
			return (0);
	return (1);
}

/* Copy o into s, with arrays from a. */
static void
store_copy(struct arena *a, struct dds_store *s, const struct dds_store *o)
{
	*s = *o;
	if (o->bins != NULL) {
		s->bins = arena_reallocarray(a, NULL, 0, o->bincap,
		    sizeof(*s->bins));
		memcpy(s->bins, o->bins, o->nbins * sizeof(*s->bins));
	}
	if (o->counts != NULL) {
		s->counts = arena_calloc(a, o->cap, sizeof(*s->counts));
		memcpy(s->counts, o->counts, o->cap * sizeof(*s->counts));
	}
}

/* Memory held by the arrays. */
static size_t
store_bytes(const struct dds_store *s)
{
	return (s->bincap * sizeof(*s->bins) + s->cap * sizeof(*s->counts));
}

/* v as an unsigned LEB128 varint at p; returns its length. */
static size_t
varint_put(uint8_t *p, uint64_t v)
{
	size_t	n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return (n);
}

/*
 * Bucket j's count n (not 0) at p, after the run of zero buckets since
 * *prev, the bucket put before; returns the bytes written.
 */
static size_t
store_put(uint8_t *p, int64_t *prev, int64_t j, uint64_t n)
{
	size_t	len = 0;

	if (j > *prev + 1) {
		p[len++] = 0;
		len += varint_put(p + len, (uint64_t)(j - *prev - 1));
	}
	len += varint_put(p + len, n);
	*prev = j;
	return (len);
}

/*
 * Pack as [lowest bucket, counts]: LEB128 varints, the count of each
 * non-zero bucket up to the highest, a run of r zero buckets between two
 * written as 0, r.
 */
static void
store_pack(const struct dds_store *s, msgpack_packer *pk)
{
	uint8_t		 small[512], *buf;
	size_t		 len = 0, k = 0, need, nnz;
	int64_t		 j, prev;

	msgpack_pack_array(pk, 2);
	if (s->total == 0) {
		msgpack_pack_int64(pk, 0);
		msgpack_pack_bin(pk, 0);
		return;
	}
	/* Each non-zero bucket, and the run of zeros before it: 0, r. */
	nnz = s->counts != NULL ? (size_t)(s->hi - s->lo + 1) : s->nbins;
	need = nnz * (2 * VARINT_MAX + 1);
	buf = need <= sizeof(small) ? small : xmalloc(need);	/* most */
	prev = s->lo - 1;
	if (s->counts == NULL)
		for (k = 0; k < s->nbins; k++)
			len += store_put(buf + len, &prev, s->bins[k].idx,
			    s->bins[k].n);
	else
		for (j = s->lo; j <= s->hi; j++)
			if (s->counts[j - s->offset] != 0)
				len += store_put(buf + len, &prev, j,
				    s->counts[j - s->offset]);
	msgpack_pack_int64(pk, s->lo);
	msgpack_pack_bin(pk, len);
	msgpack_pack_bin_body(pk, buf, len);
	if (buf != small)
		free(buf);
}

/* One shortest-form LEB128 varint; NULL or a static reason. */
static const char *
varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t	*p = *pp;
	int		 i;

	*v = 0;
	for (i = 0; i < VARINT_MAX; i++) {
		if (p == end)
			return ("truncated count");
		if (i == VARINT_MAX - 1 && *p > 1)
			return ("count over 64 bits");
		*v |= (uint64_t)(*p & 0x7f) << (7 * i);
		if ((*p++ & 0x80) == 0) {
			if (i > 0 && p[-1] == 0)
				return ("count not in shortest form");
			*pp = p;
			return (NULL);
		}
	}
	return ("count over 64 bits");
}

/*
 * One entry of a store's counts at *pp: the zero buckets before the next
 * bucket in *zeros and its count in *v.  In version 1 every bucket is a
 * count, zeros included; from version 2 a count is never 0, and 0, r
 * stands for a run of r zero buckets, always followed by a count.  NULL,
 * or what is wrong.
 */
static const char *
store_entry(const uint8_t **pp, const uint8_t *end, uint64_t version,
    uint64_t *zeros, uint64_t *v)
{
	const char	*why;

	*zeros = 0;
	if ((why = varint_get(pp, end, v)) != NULL)
		return (why);
	if (version == 1 || *v != 0)
		return (NULL);
	if ((why = varint_get(pp, end, zeros)) != NULL)
		return (why);
	if (*zeros == 0)
		return ("run of no zero buckets");
	if (*pp == end)
		return ("zero bucket at an end");
	if ((why = varint_get(pp, end, v)) != NULL)
		return (why);
	if (*v == 0)
		return ("two runs of zero buckets in a row");
	return (NULL);
}

/*
 * Read a store: the bin is walked once to check it before anything is
 * allocated, so a hostile width costs nothing.  Up to STORE_SPARSE_MAX
 * non-zero buckets make a sparse store, more a dense one.
 */
static int
store_unpack(struct msg_reader *r, struct ddsketch *d, struct dds_store *s,
    uint64_t version, const char *name, char **cause)
{
	const uint8_t	*b, *p, *end;
	const char	*why;
	size_t		 len, width = 0, nonzero = 0;
	uint64_t	 v, zeros, first = 0, last = 0, total = 0;
	int64_t		 offset, idxmin, idxmax, j;
	uint32_t	 n;

	if (msg_get_array(r, &n) == -1)
		goto bad;
	if (n != 2) {
		xasprintf(cause, "ddsketch: %s store: %u fields, expected 2",
		    name, n);
		return (-1);
	}
	if (msg_get_int(r, &offset) == -1 || msg_get_bin(r, &b, &len) == -1)
		goto bad;
	if (len == 0) {
		if (offset != 0) {
			xasprintf(cause, "ddsketch: %s store: empty with "
			    "offset %lld", name, (long long)offset);
			return (-1);
		}
		return (0);
	}
	for (p = b, end = b + len; p < end; width++) {
		if ((why = store_entry(&p, end, version, &zeros, &v)) !=
		    NULL) {
			xasprintf(cause, "ddsketch: %s store: %s", name, why);
			return (-1);
		}
		if (zeros >= (size_t)d->max_bins - width) {
			xasprintf(cause, "ddsketch: %s store: wider than "
			    "max_bins %d", name, d->max_bins);
			return (-1);
		}
		if (width == 0)
			first = zeros > 0 ? 0 : v;	/* a run first: no */
		width += zeros;
		if (v > UINT64_MAX - total) {
			xasprintf(cause, "ddsketch: %s store: counts overflow",
			    name);
			return (-1);
		}
		total += v;
		nonzero += v != 0;
		last = v;
	}
	if (first == 0 || last == 0) {
		xasprintf(cause, "ddsketch: %s store: zero bucket at an end",
		    name);
		return (-1);
	}
	idxmin = dds_index(d, DBL_TRUE_MIN);
	idxmax = dds_index(d, DBL_MAX);
	if (offset < idxmin || offset > idxmax - (int64_t)width + 1) {
		xasprintf(cause, "ddsketch: %s store: %zu buckets from %lld "
		    "outside %lld..%lld", name, width, (long long)offset,
		    (long long)idxmin, (long long)idxmax);
		return (-1);
	}
	s->lo = offset;
	s->hi = offset + (int64_t)width - 1;
	if (nonzero > STORE_SPARSE_MAX || total > UINT32_MAX)
		store_reserve(d, s, s->lo, s->hi, 0);
	for (p = b, j = offset; p < end; j++) {
		store_entry(&p, end, version, &zeros, &v);
		j += (int64_t)zeros;
		if (s->counts != NULL)
			s->counts[j - s->offset] = v;
		else if (v != 0) {
			store_insert(d->a, s, s->nbins, j);
			s->bins[s->nbins - 1].n = v;
		}
	}
	s->total = total;
	return (0);

bad:
	xasprintf(cause, "ddsketch: %s store: %s", name, msg_error(r));
	return (-1);
}

/*
 * An empty sketch in arena a (NULL: the heap); NULL if alpha or max_bins
 * is out of range.
 */
struct ddsketch *
dds_new_in(struct arena *a, double alpha, int max_bins)
{
	struct ddsketch	*d;

	if (!(alpha >= DDS_ALPHA_MIN && alpha < DDS_ALPHA_MAX) ||
	    max_bins < 1 || max_bins > DDS_MAX_BINS_MAX)
		return (NULL);
	d = arena_calloc(a, 1, sizeof(*d));
	d->a = a;
	d->alpha = alpha;
	d->lngamma = log1p(2 * alpha / (1 - alpha));
	d->invlngamma = 1 / d->lngamma;
	d->max_bins = max_bins;
	d->min = INFINITY;
	d->max = -INFINITY;
	xsum_init_in(&d->sum, a);
	store_init(&d->pos);
	store_init(&d->neg);
	return (d);
}

struct ddsketch *
dds_new(double alpha, int max_bins)
{
	return (dds_new_in(NULL, alpha, max_bins));
}

/* Free a heap sketch; one in an arena waits for arena_reset. */
void
dds_free(struct ddsketch *d)
{
	if (d == NULL)
		return;
	store_free(d->a, &d->pos);
	store_free(d->a, &d->neg);
	xsum_clear(&d->sum);
	arena_free(d->a, d);
}

/* A copy in arena a (NULL: the heap), sharing nothing with o. */
struct ddsketch *
dds_copy_in(struct arena *a, const struct ddsketch *o)
{
	struct ddsketch	*d;

	d = arena_alloc(a, sizeof(*d));
	*d = *o;
	d->a = a;
	xsum_init_in(&d->sum, a);
	xsum_copy(&d->sum, &o->sum);
	store_copy(a, &d->pos, &o->pos);
	store_copy(a, &d->neg, &o->neg);
	return (d);
}

struct ddsketch *
dds_copy(const struct ddsketch *o)
{
	return (dds_copy_in(NULL, o));
}

/* Add one value; NaN and infinities are ignored (callers validate). */
void
dds_add(struct ddsketch *d, double x)
{
	dds_add_bucket(d, x, isfinite(x) && x != 0 ? dds_bucket(d, x) : 0);
}

/*
 * The bucket of a finite, non-zero x (of |x|, in the store of its sign):
 * it depends on alpha alone, so a caller adding x to several sketches of
 * one alpha can find it once, for dds_add_bucket().
 */
int64_t
dds_bucket(const struct ddsketch *d, double x)
{
	return (dds_index(d, fabs(x)));
}

/* dds_add() of x, whose bucket i = dds_bucket(d, x) (any i for 0). */
void
dds_add_bucket(struct ddsketch *d, double x, int64_t i)
{
	if (!isfinite(x) || d->count == UINT64_MAX)
		return;
	if (x == 0) {
		x = 0.0;		/* -0.0 too: one canonical zero */
		d->zero++;
	} else
		store_add(d, x > 0 ? &d->pos : &d->neg, i, 1);
	d->count++;
	xsum_add(&d->sum, x);
	if (x < d->min)
		d->min = x;
	if (x > d->max)
		d->max = x;
}

/*
 * Fold o into d.  Both must have the same alpha and max_bins; the result
 * equals a sketch that saw both inputs (see the top of the file).
 */
int
dds_merge(struct ddsketch *d, const struct ddsketch *o, char **cause)
{
	struct ddsketch	*tmp;
	int		 rc;

	if (d->alpha != o->alpha) {
		xasprintf(cause, "ddsketch: cannot merge alpha %g into %g",
		    o->alpha, d->alpha);
		return (-1);
	}
	if (d->max_bins != o->max_bins) {
		xasprintf(cause, "ddsketch: cannot merge max_bins %d into %d",
		    o->max_bins, d->max_bins);
		return (-1);
	}
	if (o->count > UINT64_MAX - d->count) {
		xasprintf(cause, "ddsketch: merged count overflows");
		return (-1);
	}
	if (o->count == 0)
		return (0);
	if (d == o) {
		tmp = dds_copy(o);
		rc = dds_merge(d, tmp, cause);
		dds_free(tmp);
		return (rc);
	}
	store_merge(d, &d->pos, &o->pos);
	store_merge(d, &d->neg, &o->neg);
	d->zero += o->zero;
	d->count += o->count;
	xsum_merge(&d->sum, &o->sum);
	if (o->min < d->min)
		d->min = o->min;
	if (o->max > d->max)
		d->max = o->max;
	return (0);
}

/*
 * The q-quantile: the representative value of the bucket holding the
 * element of 0-based rank floor(q * (n - 1)), clamped to [min, max]; min
 * and max themselves for q = 0 and 1.  NAN when empty or q is outside
 * [0, 1].
 */
double
dds_quantile(const struct ddsketch *d, double q)
{
	uint64_t	rank;
	double		v;

	if (d->count == 0 || !(q >= 0 && q <= 1))
		return (NAN);
	if (q == 0)
		return (d->min);
	if (q == 1)
		return (d->max);
	rank = (uint64_t)floor(q * (double)(d->count - 1));
	if (rank < d->neg.total)		/* most negative first */
		v = -dds_value(d, store_at_rank(&d->neg, rank, 1));
	else if ((rank -= d->neg.total) < d->zero)
		return (0.0);
	else
		v = dds_value(d, store_at_rank(&d->pos, rank - d->zero, 0));
	if (v < d->min)
		v = d->min;
	if (v > d->max)
		v = d->max;
	return (v);
}

uint64_t
dds_count(const struct ddsketch *d)
{
	return (d->count);
}

/* The smallest value added; NAN when empty. */
double
dds_min(const struct ddsketch *d)
{
	return (d->count == 0 ? NAN : d->min);
}

double
dds_max(const struct ddsketch *d)
{
	return (d->count == 0 ? NAN : d->max);
}

/* The exact sum rounded once to the nearest double (+-inf past range). */
double
dds_sum(const struct ddsketch *d)
{
	struct dds_sum	s;

	xsum_get_limbs(&d->sum, s.l, SUM_LIMBS);
	return (sum_to_double(&s));
}

double
dds_alpha(const struct ddsketch *d)
{
	return (d->alpha);
}

int
dds_max_bins(const struct ddsketch *d)
{
	return (d->max_bins);
}

int
dds_equal(const struct ddsketch *a, const struct ddsketch *b)
{
	struct dds_sum	sa, sb;

	xsum_get_limbs(&a->sum, sa.l, SUM_LIMBS);
	xsum_get_limbs(&b->sum, sb.l, SUM_LIMBS);
	return (a->alpha == b->alpha && a->max_bins == b->max_bins &&
	    a->zero == b->zero && a->count == b->count &&
	    a->min == b->min && a->max == b->max &&
	    memcmp(&sa, &sb, sizeof(sa)) == 0 &&
	    store_equal(&a->pos, &b->pos) && store_equal(&a->neg, &b->neg));
}

/* The canonical serialized form described in ddsketch.h. */
void
dds_pack(const struct ddsketch *d, msgpack_packer *pk)
{
	struct dds_sum	s;

	xsum_get_limbs(&d->sum, s.l, SUM_LIMBS);
	msgpack_pack_array(pk, 10);
	msgpack_pack_uint64(pk, DDS_VERSION);
	msgpack_pack_double(pk, d->alpha);
	msgpack_pack_uint64(pk, (uint64_t)d->max_bins);
	msgpack_pack_uint64(pk, d->zero);
	msgpack_pack_uint64(pk, d->count);
	sum_pack(&s, pk);
	msgpack_pack_double(pk, d->count == 0 ? 0.0 : d->min);
	msgpack_pack_double(pk, d->count == 0 ? 0.0 : d->max);
	store_pack(&d->pos, pk);
	store_pack(&d->neg, pk);
}

/* Where x falls: 0 negative, 1 zero, 2 positive. */
static int
dds_sign_class(double x)
{
	return (x < 0 ? 0 : x == 0 ? 1 : 2);
}

/* Check the fields, and sum s, against each other once all are read. */
static int
dds_check(const struct ddsketch *d, const struct dds_sum *s, char **cause)
{
	struct dds_sum	lo, hi;
	uint64_t	n = d->zero;
	int		lowc, highc;

	if (d->pos.total > UINT64_MAX - n ||
	    d->neg.total > UINT64_MAX - n - d->pos.total ||
	    n + d->pos.total + d->neg.total != d->count) {
		xasprintf(cause, "ddsketch: buckets do not sum to count %llu",
		    (unsigned long long)d->count);
		return (-1);
	}
	if (d->count == 0) {
		if (d->min != 0 || d->max != 0 || sum_top(s) != -1) {
			xasprintf(cause, "ddsketch: empty sketch with non-zero "
			    "sum, min or max");
			return (-1);
		}
		return (0);
	}
	lowc = d->neg.total > 0 ? 0 : d->zero > 0 ? 1 : 2;
	highc = d->pos.total > 0 ? 2 : d->zero > 0 ? 1 : 0;
	if (d->min > d->max || dds_sign_class(d->min) != lowc ||
	    dds_sign_class(d->max) != highc) {
		xasprintf(cause, "ddsketch: min %g and max %g do not match "
		    "the buckets", d->min, d->max);
		return (-1);
	}
	/* The highest bucket of each sign is never folded. */
	if ((d->max > 0 && llabs(dds_index(d, d->max) - d->pos.hi) > 1) ||
	    (d->min < 0 && llabs(dds_index(d, -d->min) - d->neg.hi) > 1)) {
		xasprintf(cause, "ddsketch: min %g or max %g outside its "
		    "bucket", d->min, d->max);
		return (-1);
	}
	/* count values between min and max: their sum is too. */
	sum_product(&lo, d->count, d->min);
	sum_product(&hi, d->count, d->max);
	if (sum_less(s, &lo) || sum_less(&hi, s)) {
		xasprintf(cause, "ddsketch: sum %.17g is not within count %llu "
		    "times min %.17g and max %.17g", sum_to_double(s),
		    (unsigned long long)d->count, d->min, d->max);
		return (-1);
	}
	return (0);
}

/*
 * Read a sketch packed by dds_pack() into arena a (NULL: the heap),
 * refusing anything malformed or inconsistent with a cause naming the
 * field.  Allocates at most two stores of max_bins buckets, after their
 * contents were checked; on failure, what was allocated in a stays there
 * until reset.
 */
struct ddsketch *
dds_unpack_in(struct arena *a, struct msg_reader *r, char **cause)
{
	struct ddsketch	*d = NULL;
	struct dds_sum	 s;
	const char	*field;
	uint64_t	 version, maxbins, zero, count;
	double		 alpha, mn, mx;
	uint32_t	 n;

	field = "array";
	if (msg_get_array(r, &n) == -1)
		goto bad;
	if (n != 10) {
		xasprintf(cause, "ddsketch: %u fields, expected 10", n);
		return (NULL);
	}
	field = "version";
	if (msg_get_uint(r, &version) == -1)
		goto bad;
	if (version != 1 && version != DDS_VERSION) {
		xasprintf(cause, "ddsketch: unsupported version %llu",
		    (unsigned long long)version);
		return (NULL);
	}
	field = "alpha";
	if (msg_get_float(r, &alpha) == -1)
		goto bad;
	if (!(alpha >= DDS_ALPHA_MIN && alpha < DDS_ALPHA_MAX)) {
		xasprintf(cause, "ddsketch: alpha %g out of range", alpha);
		return (NULL);
	}
	field = "max_bins";
	if (msg_get_uint(r, &maxbins) == -1)
		goto bad;
	if (maxbins < 1 || maxbins > DDS_MAX_BINS_MAX) {
		xasprintf(cause, "ddsketch: max_bins %llu out of range",
		    (unsigned long long)maxbins);
		return (NULL);
	}
	field = "zero_count";
	if (msg_get_uint(r, &zero) == -1)
		goto bad;
	field = "count";
	if (msg_get_uint(r, &count) == -1)
		goto bad;
	d = dds_new_in(a, alpha, (int)maxbins);
	d->zero = zero;
	d->count = count;
	if (sum_unpack(r, &s, cause) == -1)
		goto fail;
	field = "min";
	if (msg_get_float(r, &mn) == -1)
		goto bad;
	field = "max";
	if (msg_get_float(r, &mx) == -1)
		goto bad;
	if (!isfinite(mn) || !isfinite(mx)) {
		xasprintf(cause, "ddsketch: min or max not finite");
		goto fail;
	}
	d->min = mn + 0.0;		/* -0.0 becomes +0.0 */
	d->max = mx + 0.0;
	if (store_unpack(r, d, &d->pos, version, "positive", cause) == -1 ||
	    store_unpack(r, d, &d->neg, version, "negative", cause) == -1 ||
	    dds_check(d, &s, cause) == -1)
		goto fail;
	xsum_set_limbs(&d->sum, s.l, SUM_LIMBS);
	if (count == 0) {
		d->min = INFINITY;
		d->max = -INFINITY;
	}
	return (d);

bad:
	xasprintf(cause, "ddsketch: %s: %s", field, msg_error(r));
fail:
	dds_free(d);
	return (NULL);
}

struct ddsketch *
dds_unpack(struct msg_reader *r, char **cause)
{
	return (dds_unpack_in(NULL, r, cause));
}

/* Memory held, for accounting against configured limits. */
size_t
dds_bytes(const struct ddsketch *d)
{
	return (sizeof(*d) + d->sum.cap * sizeof(*d->sum.w) +
	    store_bytes(&d->pos) + store_bytes(&d->neg));
}

/* Has either store turned dense (see Stores, above)? */
int
dds_is_dense(const struct ddsketch *d)
{
	return (d->pos.counts != NULL || d->neg.counts != NULL);
}

/*
 * Ask for what packing d will read: the sketch itself, its sum's digits
 * and its positive store's array (a hint; reads only d).
 */
void
dds_prefetch(const struct ddsketch *d)
{
	const char	*p = (const char *)d;
	size_t		 i;

	for (i = 0; i < sizeof(*d); i += 64)
		__builtin_prefetch(p + i);
	__builtin_prefetch(d->sum.w);
	__builtin_prefetch(d->pos.counts != NULL ? (const void *)d->pos.counts :
	    d->pos.bins);
}
