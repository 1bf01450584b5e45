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
 * Exact summation of doubles (see xsum.h).  The idea is the "long
 * accumulator" of Kulisch and of Neal ("Fast exact summation using small
 * and large superaccumulators", 2015): every double is an integer times a
 * power of two, so a wide enough fixed-point integer holds any sum of them
 * exactly.  A double m * 2^e (m < 2^53, -1074 <= e <= 971) lands at bit
 * e + 1074 of the accumulator; 68 digits of 32 bits cover every position
 * plus room for carries.  Digits are kept in int64 words so additions need
 * no carry propagation until 2^29 of them have accumulated.
 *
 * The digits come from the sum's arena (NULL: the heap).  An arena frees
 * nothing until reset, so the array is replaced only when the window
 * outgrows it; when the window merely moves (normalisation trims zero
 * digits, later additions widen it again) the digits move within it.  The
 * copy a merge normalises is scratch, on the heap.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "arena.h"
#include "log.h"
#include "msg.h"
#include "xmalloc.h"
#include "xsum.h"

#define XSUM_DIGITS	70		/* positions 0 .. 2^(32*70) */
#define XSUM_RENORM	(1u << 29)	/* additions between carries */
#define DIGIT		((int64_t)1 << 32)

/* An empty sum on the heap. */
void
xsum_init(struct xsum *x)
{
	memset(x, 0, sizeof(*x));
}

/* An empty sum whose digits will come from a (NULL: the heap). */
void
xsum_init_in(struct xsum *x, struct arena *a)
{
	memset(x, 0, sizeof(*x));
	x->a = a;
}

/* Free the digits (in an arena, they wait for reset); keeps the arena. */
void
xsum_clear(struct xsum *x)
{
	struct arena	*a = x->a;

	arena_free(a, x->w);
	xsum_init_in(x, a);
}

/*
 * Make digits [d, d + k) part of the window: a new array (two digits to
 * spare) if it no longer fits, else the digits shift up within the array
 * by however far lo moves down.
 */
static void
xsum_cover(struct xsum *x, int32_t d, int k)
{
	int32_t	 lo, hi, shift;
	int64_t	*w;

	if (x->n == 0) {
		lo = d;
		hi = d + k;
	} else {
		lo = d < x->lo ? d : x->lo;
		hi = d + k > x->lo + x->n ? d + k : x->lo + x->n;
	}
	if (x->n != 0 && lo == x->lo && hi == x->lo + x->n)
		return;
	if (hi - lo > XSUM_DIGITS + 2)
		fatalx("xsum: window of %d digits", hi - lo);
	shift = x->n == 0 ? 0 : x->lo - lo;
	if ((uint32_t)(hi - lo) > x->cap) {
		w = arena_calloc(x->a, hi - lo + 2, sizeof(*w));
		if (x->n > 0)
			memcpy(w + shift, x->w, x->n * sizeof(*w));
		arena_free(x->a, x->w);
		x->w = w;
		x->cap = (uint16_t)(hi - lo + 2);
	} else {
		if (shift > 0)
			memmove(x->w + shift, x->w, x->n * sizeof(*x->w));
		memset(x->w, 0, shift * sizeof(*x->w));
		memset(x->w + shift + x->n, 0,
		    (hi - lo - shift - x->n) * sizeof(*x->w));
	}
	x->lo = lo;
	x->n = (uint16_t)(hi - lo);
}

/*
 * Propagate carries so that every digit but the top one is in [0, 2^32)
 * and the top one in [-2^31, 2^31), then trim zero digits at both ends:
 * the canonical form.
 */
void
xsum_normalize(struct xsum *x)
{
	int64_t	carry;
	size_t	i, skip;

	x->adds = 0;
	if (x->n == 0)
		return;
	for (i = 0; i + 1 < x->n; i++) {
		carry = x->w[i] >> 32;		/* floor division */
		x->w[i] -= carry * DIGIT;
		x->w[i + 1] += carry;
	}
	while (x->w[x->n - 1] >= DIGIT / 2 || x->w[x->n - 1] < -DIGIT / 2) {
		xsum_cover(x, x->lo + x->n, 1);
		carry = x->w[x->n - 2] >> 32;
		x->w[x->n - 2] -= carry * DIGIT;
		x->w[x->n - 1] += carry;
	}
	/*
	 * Drop top digits that only repeat the sign: 0 above a digit below
	 * 2^31, -1 above one of 2^31 or more (which then turns negative).  A
	 * 0 above a digit of 2^31 or more stays: the top digit is signed.
	 */
	while (x->n > 1) {
		if (x->w[x->n - 1] == 0 && x->w[x->n - 2] < DIGIT / 2)
			x->n--;
		else if (x->w[x->n - 1] == -1 && x->w[x->n - 2] >= DIGIT / 2) {
			x->w[x->n - 2] -= DIGIT;
			x->n--;
		} else
			break;
	}
	if (x->n == 1 && x->w[0] == 0)
		x->n = 0;
	for (skip = 0; skip < x->n && x->w[skip] == 0; skip++)
		;
	if (skip > 0) {
		memmove(x->w, x->w + skip, (x->n - skip) * sizeof(*x->w));
		x->n -= skip;
		x->lo += skip;
	}
	if (x->n == 0)
		x->lo = 0;
}

/* Add a finite double. */
void
xsum_add(struct xsum *x, double v)
{
	uint64_t		 bits, m;
	int			 e, neg, d, s;
	unsigned __int128	 t;

	memcpy(&bits, &v, sizeof(bits));
	neg = (int)(bits >> 63);
	e = (int)((bits >> 52) & 0x7ff);
	m = bits & ((UINT64_C(1) << 52) - 1);
	if (e == 0x7ff)
		fatalx("xsum: not a finite number");
	if (e == 0) {
		if (m == 0)
			return;
		e = 1;			/* subnormal: m * 2^-1074 */
	} else
		m |= UINT64_C(1) << 52;
	/* v = m * 2^(e - 1075): bit position e - 1075 + 1074 = e - 1. */
	d = (e - 1) / 32;
	s = (e - 1) % 32;
	t = (unsigned __int128)m << s;
	/* Mostly the digits are there already: no call. */
	if (x->n == 0 || d < x->lo || d + 3 > x->lo + x->n)
		xsum_cover(x, d, 3);
	d -= x->lo;
	if (neg) {
		x->w[d] -= (int64_t)(uint32_t)t;
		x->w[d + 1] -= (int64_t)(uint32_t)(t >> 32);
		x->w[d + 2] -= (int64_t)(uint32_t)(t >> 64);
	} else {
		x->w[d] += (int64_t)(uint32_t)t;
		x->w[d + 1] += (int64_t)(uint32_t)(t >> 32);
		x->w[d + 2] += (int64_t)(uint32_t)(t >> 64);
	}
	if (++x->adds >= XSUM_RENORM)
		xsum_normalize(x);
}

/* dst += src. */
void
xsum_merge(struct xsum *dst, const struct xsum *src)
{
	struct xsum	s;
	size_t		i;

	if (src->n == 0)
		return;
	xsum_init(&s);
	xsum_copy(&s, src);
	xsum_normalize(&s);
	xsum_normalize(dst);
	xsum_cover(dst, s.lo, s.n);
	for (i = 0; i < s.n; i++)
		dst->w[s.lo - dst->lo + i] += s.w[i];
	xsum_normalize(dst);
	xsum_clear(&s);
}

/*
 * dst = src, in dst's arena (dst initialised or zeroed); dst's array is
 * kept if src's digits fit in it.
 */
void
xsum_copy(struct xsum *dst, const struct xsum *src)
{
	if (dst == src)
		return;
	if (src->n > dst->cap) {
		xsum_clear(dst);
		dst->w = arena_reallocarray(dst->a, NULL, 0, src->n,
		    sizeof(*dst->w));
		dst->cap = src->n;
	}
	if (src->n > 0)
		memcpy(dst->w, src->w, src->n * sizeof(*dst->w));
	dst->lo = src->lo;
	dst->n = src->n;
	dst->adds = src->adds;
}

/*
 * The sum, correctly rounded to the nearest double (ties to even).  The
 * magnitude's top 64 bits and a sticky bit for everything below decide the
 * rounding; ldexp() places the result (and gives infinity past the range).
 */
double
xsum_value(struct xsum *x)
{
	uint32_t		 mag[XSUM_DIGITS + 4];
	unsigned __int128	 acc;
	uint64_t		 top64, mant, rem;
	int64_t			 carry, v;
	int			 neg, t, i, n, b, shift, sticky = 0;
	int64_t			 exp2;
	double			 r;

	xsum_normalize(x);
	if (x->n == 0)
		return (0.0);
	neg = x->w[x->n - 1] < 0;
	/* The magnitude, as unsigned 32-bit digits: negate, carry again. */
	carry = 0;
	for (i = 0; i < x->n; i++) {
		v = (neg ? -x->w[i] : x->w[i]) + carry;
		carry = v >> 32;
		mag[i] = (uint32_t)(v - carry * DIGIT);
	}
	n = x->n;
	if (carry != 0)
		mag[n++] = (uint32_t)carry;	/* the top digit was -2^31 */
	for (t = n - 1; t >= 0 && mag[t] == 0; t--)
		;
	if (t < 0)
		return (0.0);
	b = 32 * t + (31 - __builtin_clz(mag[t]));	/* top bit, relative */
	acc = (unsigned __int128)mag[t] << 64;
	if (t >= 1)
		acc |= (unsigned __int128)mag[t - 1] << 32;
	if (t >= 2)
		acc |= mag[t - 2];
	for (i = 0; i < t - 2; i++)
		if (mag[i] != 0)
			sticky = 1;
	/* acc holds bits [32(t-2), 32t+31]; take the 64 from bit b down. */
	shift = b - 63 - 32 * (t - 2);
	if (shift >= 0) {
		top64 = (uint64_t)(acc >> shift);
		if (shift > 0 && (acc & (((unsigned __int128)1 << shift) - 1)))
			sticky = 1;
	} else
		top64 = (uint64_t)(acc << -shift);
	/* The value is top64 * 2^exp2, exp2 in absolute terms. */
	exp2 = (int64_t)b - 63 + 32 * (int64_t)x->lo - 1074;
	if (exp2 + 63 < -1022) {
		/* Subnormal: exact, an integer count of 2^-1074 below 2^53 */
		r = ldexp((double)(top64 >> (-1074 - exp2)), -1074);
		return (neg ? -r : r);
	}
	mant = top64 >> 11;
	rem = top64 & 0x7ff;
	if (rem > 0x400 || (rem == 0x400 && (sticky || (mant & 1))))
		mant++;
	r = ldexp((double)mant, (int)(exp2 + 11));
	return (neg ? -r : r);
}

/* Or 32-bit digit v into position p of limbs l[nl] (dropped past them). */
static void
xsum_put32(uint64_t *l, size_t nl, size_t p, uint32_t v)
{
	if (p / 2 < nl)
		l[p / 2] |= (uint64_t)v << (32 * (p % 2));
}

/*
 * The accumulator (the sum in units of 2^-1074) as a two's complement
 * integer of nl 64-bit limbs, least significant first: the digits are
 * carried into 32-bit ones as they are written, so x need not be
 * normalised, and the sign fills the limbs above.  Bits past the last limb
 * are dropped: the caller makes nl wide enough for its sums.
 */
void
xsum_get_limbs(const struct xsum *x, uint64_t *l, size_t nl)
{
	int64_t	v, c = 0;
	size_t	i, p;

	memset(l, 0, nl * sizeof(*l));
	for (i = 0, p = (size_t)x->lo; i < x->n || (c != 0 && c != -1);
	    i++, p++) {
		v = (i < x->n ? x->w[i] : 0) + c;
		c = v >> 32;			/* floor division */
		xsum_put32(l, nl, p, (uint32_t)v);
	}
	if (c == -1)
		for (; p < 2 * nl; p++)
			xsum_put32(l, nl, p, UINT32_MAX);
}

/* Digit p (32 bits) of limbs l. */
static uint32_t
xsum_get32(const uint64_t *l, size_t p)
{
	return ((uint32_t)(l[p / 2] >> (32 * (p % 2))));
}

/*
 * x = the two's complement integer of limbs l[nl] (nl at most
 * XSUM_DIGITS / 2), as xsum_get_limbs writes it: the digits from the
 * lowest non-zero one to the highest that is not the sign's fill, and a
 * digit of -1 above them when negative.
 */
void
xsum_set_limbs(struct xsum *x, const uint64_t *l, size_t nl)
{
	size_t		lo, hi, p;
	uint32_t	fill;
	int		neg;

	xsum_clear(x);
	if (nl == 0)
		return;
	neg = (int)(l[nl - 1] >> 63);
	fill = neg ? UINT32_MAX : 0;
	for (lo = 0; lo < 2 * nl && xsum_get32(l, lo) == 0; lo++)
		;
	if (lo == 2 * nl)
		return;				/* zero */
	for (hi = 2 * nl - 1; hi > lo && xsum_get32(l, hi) == fill; hi--)
		;
	xsum_cover(x, (int32_t)lo, (int)(hi + 1 - lo) + neg);
	for (p = lo; p <= hi; p++)
		x->w[p - lo] = xsum_get32(l, p);
	if (neg)
		x->w[hi + 1 - lo] = -1;
	xsum_normalize(x);
}

int
xsum_equal(struct xsum *a, struct xsum *b)
{
	xsum_normalize(a);
	xsum_normalize(b);
	return (a->n == b->n && (a->n == 0 || (a->lo == b->lo &&
	    memcmp(a->w, b->w, a->n * sizeof(*a->w)) == 0)));
}

/*
 * Serialized form: [lo, [digit...]] in the canonical form, digits as
 * integers (the top one signed).  An empty sum is [0, []].
 */
void
xsum_pack(struct xsum *x, msgpack_packer *pk)
{
	size_t	i;

	xsum_normalize(x);
	msgpack_pack_array(pk, 2);
	msgpack_pack_int32(pk, x->lo);
	msgpack_pack_array(pk, x->n);
	for (i = 0; i < x->n; i++)
		msgpack_pack_int64(pk, x->w[i]);
}

/*
 * Read a serialized sum into x (initialised or zeroed), its digits in
 * arena a (NULL: the heap); refuse anything not in the canonical form.
 */
int
xsum_unpack_in(struct xsum *x, struct arena *a, struct msg_reader *r,
    char **cause)
{
	uint32_t	n, i;
	int64_t		lo, d;

	if (x->a != a) {
		xsum_clear(x);
		x->a = a;
	}
	x->lo = 0;		/* empty; an array from a is reused */
	x->n = 0;
	x->adds = 0;
	if (msg_get_array(r, &n) == -1 || n != 2 ||
	    msg_get_int(r, &lo) == -1 || msg_get_array(r, &n) == -1) {
		xasprintf(cause, "xsum: expected [lo, [digits]]");
		return (-1);
	}
	if (n > XSUM_DIGITS || lo < 0 || lo + n > XSUM_DIGITS) {
		xasprintf(cause, "xsum: %u digits from %lld out of range", n,
		    (long long)lo);
		return (-1);
	}
	if (n == 0)
		return (0);
	xsum_cover(x, (int32_t)lo, (int)n);
	for (i = 0; i < n; i++) {
		if (msg_get_int(r, &d) == -1 ||
		    (i + 1 < n && (d < 0 || d >= DIGIT)) ||
		    (i + 1 == n && (d < -DIGIT / 2 || d >= DIGIT / 2 ||
		    (d == 0 && (n == 1 || x->w[i - 1] < DIGIT / 2)) ||
		    (d == -1 && n > 1 && x->w[i - 1] >= DIGIT / 2))) ||
		    (i == 0 && d == 0)) {
			xsum_clear(x);
			xasprintf(cause, "xsum: digit %u out of range", i);
			return (-1);
		}
		x->w[i] = d;
	}
	return (0);
}

int
xsum_unpack(struct xsum *x, struct msg_reader *r, char **cause)
{
	return (xsum_unpack_in(x, NULL, r, cause));
}
