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
 * Tests for common/ddsketch.c: relative accuracy against exact quantiles
 * (sorted data, same rank definition) on a million values from several
 * distributions, signs and zeros; merges over random splits and random
 * merge orders and trees that must equal the sketch that saw everything,
 * state and bytes, with and without collapse; the collapse itself on a
 * tiny store; the exact sum; hostile serialized input, each refusal
 * checked by its text; and sketches in an arena, byte for byte the same as
 * those on the heap.
 */

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>

#include "arena.h"
#include "ddsketch.h"
#include "msg.h"

#define NBIG		1000000
#define ALPHA		DDS_DEFAULT_ALPHA
#define BINS		DDS_DEFAULT_MAX_BINS

static const double	 qs[] = { 0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95,
			    0.99, 0.999, 1 };

static uint64_t		 rng = 0x9e3779b97f4a7c15ULL;

/* splitmix64: reproducible runs. */
static uint64_t
rnd(void)
{
	uint64_t	z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

/* Uniform in (0, 1). */
static double
unif(void)
{
	return (((rnd() >> 11) + 0.5) * 0x1p-53);
}

static double
gauss(void)
{
	return (sqrt(-2 * log(unif())) * cos(2 * M_PI * unif()));
}

enum dist { D_UNIFORM, D_EXP, D_LOGNORMAL, D_PARETO, D_MIXED, D_ZEROS,
	    D_LATENCY, D_NEGATIVE, D_COUNT };

static double
draw(enum dist d)
{
	double	u;

	switch (d) {
	case D_UNIFORM:
		return (unif() * 1000);
	case D_EXP:
		return (-log(unif()));
	case D_LOGNORMAL:
		return (exp(2 * gauss()));
	case D_PARETO:
		return (1 / pow(unif(), 1 / 1.2));
	case D_MIXED:
		u = exp(3 * gauss());
		return (rnd() & 1 ? u : -u);
	case D_ZEROS:
		if (unif() < 0.3)
			return (rnd() & 1 ? 0.0 : -0.0);
		return (gauss() * 100);
	case D_LATENCY:		/* 1e-3 .. 1e7 */
		return (pow(10, -3 + 10 * unif()));
	case D_NEGATIVE:
		return (-exp(2 * gauss()));
	default:
		abort();
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* The exact quantile of sorted v with the sketch's rank definition. */
static double
exact_quantile(const double *v, size_t n, double q)
{
	return (v[(size_t)floor(q * (double)(n - 1))]);
}

static void
check_accuracy(const struct ddsketch *d, double *v, size_t n, double alpha,
    const char *what)
{
	double	est, ex;
	size_t	i;

	qsort(v, n, sizeof(*v), cmp_double);
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		est = dds_quantile(d, qs[i]);
		ex = exact_quantile(v, n, qs[i]);
		if (fabs(est - ex) > alpha * fabs(ex) * (1 + 1e-9))
			ck_abort_msg("%s: q %g: estimate %.17g, exact %.17g",
			    what, qs[i], est, ex);
	}
	ck_assert(dds_min(d) == v[0]);
	ck_assert(dds_max(d) == v[n - 1]);
	ck_assert(dds_quantile(d, 0) == v[0]);
	ck_assert(dds_quantile(d, 1) == v[n - 1]);
}

/* Pack into a fresh buffer; the caller destroys it. */
static void
pack(const struct ddsketch *d, msgpack_sbuffer *sb)
{
	msgpack_packer	pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	dds_pack(d, &pk);
}

/* Equal state, identical bytes and the same answers. */
static void
assert_same(const struct ddsketch *a, const struct ddsketch *b)
{
	msgpack_sbuffer	sa, sb;
	double		qa, qb;
	size_t		i;

	ck_assert(dds_equal(a, b));
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		qa = dds_quantile(a, qs[i]);
		qb = dds_quantile(b, qs[i]);
		ck_assert(qa == qb || (isnan(qa) && isnan(qb)));
	}
	ck_assert(dds_sum(a) == dds_sum(b));
	pack(a, &sa);
	pack(b, &sb);
	ck_assert_uint_eq(sa.size, sb.size);
	ck_assert(memcmp(sa.data, sb.data, sa.size) == 0);
	msgpack_sbuffer_destroy(&sa);
	msgpack_sbuffer_destroy(&sb);
}

/* Unpack bytes; NULL with *cause on refusal (which the caller frees). */
static struct ddsketch *
unpack(const void *buf, size_t len, char **cause)
{
	struct msg_reader	 r;
	struct ddsketch		*d;

	*cause = NULL;
	msg_reader_init(&r, buf, len);
	d = dds_unpack(&r, cause);
	if (d != NULL && msg_end(&r) == -1) {	/* the caller's check */
		dds_free(d);
		d = NULL;
		*cause = strdup(msg_error(&r));
	}
	if (d == NULL)
		ck_assert_ptr_nonnull(*cause);
	return (d);
}

/* Pack, unpack, and expect the same sketch and the same bytes again. */
static void
assert_roundtrip(const struct ddsketch *d)
{
	msgpack_sbuffer	 sb;
	struct ddsketch	*back;
	char		*cause;

	pack(d, &sb);
	back = unpack(sb.data, sb.size, &cause);
	if (back == NULL)
		ck_abort_msg("roundtrip refused: %s", cause);
	assert_same(d, back);
	dds_free(back);
	msgpack_sbuffer_destroy(&sb);
}

/* The LEB128 varint at b[*j], moving *j past it. */
static uint64_t
varint(const uint8_t *b, size_t len, size_t *j)
{
	uint64_t	v = 0;
	int		sh = 0;

	for (; *j < len; sh += 7) {
		v |= (uint64_t)(b[*j] & 0x7f) << sh;
		if ((b[(*j)++] & 0x80) == 0)
			return (v);
	}
	ck_abort_msg("truncated varint");
	return (0);
}

/*
 * Pack d into sb and set r on its serialized form, past the five fields
 * before the sum.
 */
static void
read_to_sum(const struct ddsketch *d, msgpack_sbuffer *sb,
    struct msg_reader *r)
{
	uint64_t	u;
	uint32_t	n, i;
	double		f;

	pack(d, sb);
	msg_reader_init(r, sb->data, sb->size);
	ck_assert_int_eq(msg_get_array(r, &n), 0);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(msg_get_uint(r, &u) == 0 ||
		    msg_get_float(r, &f) == 0, 1);
}

/* The widths of both stores, read from the serialized form. */
static void
store_widths(const struct ddsketch *d, size_t *pos, size_t *neg)
{
	msgpack_sbuffer		 sb;
	struct msg_reader	 r;
	const uint8_t		*b;
	int64_t			 off;
	uint32_t		 n, i;
	size_t			 len, j, *w;
	uint64_t		 v;
	double			 f;

	read_to_sum(d, &sb, &r);
	ck_assert_int_eq(msg_skip(&r), 0);		/* sum */
	ck_assert_int_eq(msg_get_float(&r, &f), 0);
	ck_assert_int_eq(msg_get_float(&r, &f), 0);
	for (i = 0; i < 2; i++) {
		w = i == 0 ? pos : neg;
		ck_assert_int_eq(msg_get_array(&r, &n), 0);
		ck_assert_int_eq(msg_get_int(&r, &off), 0);
		ck_assert_int_eq(msg_get_bin(&r, &b, &len), 0);
		/* A count is one bucket, 0 and r a run of r. */
		for (*w = 0, j = 0; j < len; ) {
			v = varint(b, len, &j);
			*w += v != 0 ? 1 : varint(b, len, &j);
		}
	}
	ck_assert_int_eq(msg_end(&r), 0);
	msgpack_sbuffer_destroy(&sb);
}

/* The bucket of one positive value x, read from the serialized form. */
static int64_t
one_index(double alpha, double x)
{
	struct ddsketch		*d;
	msgpack_sbuffer		 sb;
	struct msg_reader	 r;
	int64_t			 idx;
	uint32_t		 n;
	double			 f;

	ck_assert_ptr_nonnull(d = dds_new(alpha, BINS));
	dds_add(d, x);
	read_to_sum(d, &sb, &r);
	ck_assert_int_eq(msg_skip(&r), 0);		/* sum */
	ck_assert_int_eq(msg_get_float(&r, &f), 0);
	ck_assert_int_eq(msg_get_float(&r, &f), 0);
	ck_assert_int_eq(msg_get_array(&r, &n), 0);
	ck_assert_int_eq(msg_get_int(&r, &idx), 0);
	msgpack_sbuffer_destroy(&sb);
	dds_free(d);
	return (idx);
}

/*
 * A value's bucket is ceil(log(x) / log(gamma)), the quotient rounded as
 * the C library rounds it, exactly: also for the doubles around the
 * bucket boundaries gamma^k (64 either side), where a product by
 * 1 / log(gamma) rounds the other way for about one in ten; for alphas
 * from the smallest allowed, and buckets over the whole range of doubles.
 */
START_TEST(test_index_boundaries)
{
	static const double	 alphas[] = { DDS_ALPHA_MIN, 1e-4, 0.01, 0.2,
				    0.49 };
	double			 alpha, lng, x;
	int64_t			 k, kmax, step, want, got;
	size_t			 a, j, checked = 0;

	for (a = 0; a < sizeof(alphas) / sizeof(alphas[0]); a++) {
		alpha = alphas[a];
		lng = log1p(2 * alpha / (1 - alpha));
		kmax = (int64_t)(log(DBL_MAX) / lng);
		step = kmax / 40 + 1;
		for (k = -kmax; k <= kmax; k += step) {
			x = exp((double)k * lng);
			if (!isnormal(x))
				continue;
			for (j = 0; j < 64; j++)
				x = nextafter(x, 0);
			for (j = 0; j < 128; j++, x = nextafter(x, INFINITY)) {
				want = (int64_t)ceil(log(x) / lng);
				got = one_index(alpha, x);
				ck_assert_msg(got == want, "alpha %g, x %a: "
				    "bucket %lld, want %lld", alpha, x,
				    (long long)got, (long long)want);
				checked++;
			}
		}
	}
	ck_assert_uint_gt(checked, 5 * 70 * 128);
}
END_TEST

START_TEST(test_empty_and_params)
{
	struct ddsketch	*d, *e;
	char		*cause = NULL;

	ck_assert_ptr_null(dds_new(0, BINS));
	ck_assert_ptr_null(dds_new(0.5, BINS));
	ck_assert_ptr_null(dds_new(NAN, BINS));
	ck_assert_ptr_null(dds_new(ALPHA, 0));
	ck_assert_ptr_null(dds_new(ALPHA, DDS_MAX_BINS_MAX + 1));
	ck_assert_ptr_nonnull(d = dds_new(DDS_ALPHA_MIN, DDS_MAX_BINS_MAX));
	dds_free(d);
	dds_free(NULL);

	d = dds_new(ALPHA, BINS);
	ck_assert_uint_eq(dds_count(d), 0);
	ck_assert(isnan(dds_quantile(d, 0.5)));
	ck_assert(isnan(dds_min(d)) && isnan(dds_max(d)));
	ck_assert(dds_sum(d) == 0);
	ck_assert(dds_alpha(d) == ALPHA && dds_max_bins(d) == BINS);
	assert_roundtrip(d);

	/* Non-finite values are ignored; quantiles outside [0, 1] are NaN. */
	dds_add(d, NAN);
	dds_add(d, INFINITY);
	dds_add(d, -INFINITY);
	ck_assert_uint_eq(dds_count(d), 0);
	dds_add(d, 5);
	ck_assert(isnan(dds_quantile(d, -0.1)));
	ck_assert(isnan(dds_quantile(d, 1.1)));
	ck_assert(isnan(dds_quantile(d, NAN)));
	ck_assert(dds_quantile(d, 0.5) == 5);	/* clamped to min = max */

	/* Merging an empty sketch changes nothing; nor does its pack. */
	e = dds_new(ALPHA, BINS);
	ck_assert_int_eq(dds_merge(d, e, &cause), 0);
	ck_assert_uint_eq(dds_count(d), 1);
	ck_assert_int_eq(dds_merge(e, d, &cause), 0);
	assert_same(d, e);
	ck_assert(dds_bytes(d) >= sizeof(void *));
	dds_free(d);
	dds_free(e);
}
END_TEST

/* One million values of each distribution, within alpha everywhere. */
START_TEST(test_accuracy)
{
	struct ddsketch	*d;
	double		*v;
	enum dist	 k;
	size_t		 i, wp, wn;
	char		 what[32];

	v = malloc(NBIG * sizeof(*v));
	for (k = 0; k < D_COUNT; k++) {
		d = dds_new(ALPHA, BINS);
		for (i = 0; i < NBIG; i++) {
			v[i] = draw(k);
			dds_add(d, v[i]);
		}
		ck_assert_uint_eq(dds_count(d), NBIG);
		for (i = 0; i < NBIG; i++)	/* the sketch keeps +0.0 */
			v[i] += 0.0;
		snprintf(what, sizeof(what), "distribution %d", (int)k);
		check_accuracy(d, v, NBIG, ALPHA, what);
		/* Nothing realistic collapses with the defaults. */
		store_widths(d, &wp, &wn);
		ck_assert_uint_lt(wp, BINS);
		ck_assert_uint_lt(wn, BINS);
		if (k == D_LATENCY)
			ck_assert_uint_le(wp, 1152);
		assert_roundtrip(d);
		dds_free(d);
	}
	free(v);
}
END_TEST

/* Other alphas, down to coarse ones, keep their own guarantee. */
START_TEST(test_accuracy_alphas)
{
	static const double	 alphas[] = { 0.001, 0.05, 0.2, 0.49 };
	struct ddsketch		*d;
	double			*v;
	size_t			 i, j, n = 100000;

	v = malloc(n * sizeof(*v));
	for (j = 0; j < sizeof(alphas) / sizeof(alphas[0]); j++) {
		d = dds_new(alphas[j], DDS_MAX_BINS_MAX);
		for (i = 0; i < n; i++) {
			v[i] = draw(D_MIXED);
			dds_add(d, v[i]);
		}
		check_accuracy(d, v, n, alphas[j], "alpha");
		assert_roundtrip(d);
		dds_free(d);
	}
	free(v);
}
END_TEST

/* Every value of the double range, subnormals included, maps and packs. */
START_TEST(test_extremes)
{
	static const double	 ext[] = { DBL_TRUE_MIN, DBL_MIN, 1e-300,
				    1, 1e300, DBL_MAX, -DBL_TRUE_MIN,
				    -DBL_MAX, 0.0, -0.0 };
	struct ddsketch		*d;
	double			 v[sizeof(ext) / sizeof(ext[0])];
	size_t			 i, n = sizeof(ext) / sizeof(ext[0]);

	/* 0.02 spans the whole double range in 36,352 buckets per sign. */
	d = dds_new(0.02, DDS_MAX_BINS_MAX);
	for (i = 0; i < n; i++) {
		dds_add(d, ext[i]);
		v[i] = ext[i] + 0.0;
	}
	check_accuracy(d, v, n, 0.02, "extremes");
	ck_assert(dds_max(d) == DBL_MAX && dds_min(d) == -DBL_MAX);
	ck_assert(dds_quantile(d, 0.25) == 0);
	ck_assert(!signbit(dds_quantile(d, 0.25)));
	assert_roundtrip(d);
	dds_free(d);
}
END_TEST

/*
 * dds_add_bucket() with dds_bucket() is dds_add(): one bucket for x and
 * -x, found once for sketches of one alpha whatever their max_bins.
 */
START_TEST(test_add_bucket)
{
	static const double	 odd[] = { 0.0, -0.0, INFINITY, -INFINITY, NAN,
				    DBL_TRUE_MIN, -DBL_MAX };
	struct ddsketch		*a[2], *b[2];
	double			*v;
	int64_t			 i;
	int			 n, j, nv = 20000;

	v = malloc(nv * sizeof(*v));
	for (n = 0; n < nv; n++)
		v[n] = n < 7 ? odd[n] : draw(D_MIXED);
	for (j = 0; j < 2; j++) {
		a[j] = dds_new(ALPHA, j == 0 ? 64 : 4096);
		b[j] = dds_new(ALPHA, j == 0 ? 64 : 4096);
	}
	for (n = 0; n < nv; n++) {
		i = 12345;		/* not looked at for 0 (nor NaN, inf) */
		if (isfinite(v[n]) && v[n] != 0) {
			i = dds_bucket(a[0], v[n]);
			ck_assert_int_eq(dds_bucket(a[1], -v[n]), i);
		}
		for (j = 0; j < 2; j++) {
			dds_add(a[j], v[n]);
			dds_add_bucket(b[j], v[n], i);
		}
	}
	for (j = 0; j < 2; j++) {
		ck_assert(dds_equal(a[j], b[j]));
		ck_assert_uint_eq(dds_count(b[j]), nv - 3);
		dds_free(a[j]);
		dds_free(b[j]);
	}
	free(v);
}
END_TEST

/* Build the sketch of v[lo..hi) into a new sketch. */
static struct ddsketch *
build(const double *v, size_t lo, size_t hi, double alpha, int bins)
{
	struct ddsketch	*d = dds_new(alpha, bins);

	for (; lo < hi; lo++)
		dds_add(d, v[lo]);
	return (d);
}

/* Merge parts[0..n) in a random tree; frees all but the result. */
static struct ddsketch *
merge_tree(struct ddsketch **parts, size_t n)
{
	struct ddsketch	*t;
	char		*cause = NULL;
	size_t		 a, b;

	while (n > 1) {
		a = rnd() % n;
		b = rnd() % (n - 1);
		if (b >= a)
			b++;
		ck_assert_int_eq(dds_merge(parts[a], parts[b], &cause), 0);
		dds_free(parts[b]);
		parts[b] = parts[--n];
		if (a == n)
			a = b;
		t = parts[a];
		parts[a] = parts[0];
		parts[0] = t;
	}
	return (parts[0]);
}

static void
merge_trials(int bins, int trials, size_t n)
{
	struct ddsketch	*all, *m, *parts[8];
	double		*v, **pv;
	size_t		 np, i, j, cnt[8];
	enum dist	 k;
	int		 t;

	v = malloc(n * sizeof(*v));
	pv = malloc(8 * sizeof(*pv));
	for (i = 0; i < 8; i++)
		pv[i] = malloc(n * sizeof(**pv));
	for (t = 0; t < trials; t++) {
		k = (enum dist)(t % D_COUNT);
		for (i = 0; i < n; i++)
			v[i] = draw(k);
		all = build(v, 0, n, ALPHA, bins);
		np = 2 + rnd() % 7;
		memset(cnt, 0, sizeof(cnt));
		for (i = 0; i < n; i++) {
			j = rnd() % np;
			pv[j][cnt[j]++] = v[i];
		}
		for (j = 0; j < np; j++)
			parts[j] = build(pv[j], 0, cnt[j], ALPHA, bins);
		m = merge_tree(parts, np);
		assert_same(all, m);
		dds_free(m);
		/* Folding a's stream then b's equals merge(a, b), both ways. */
		j = rnd() % n;
		parts[0] = build(v, 0, j, ALPHA, bins);
		parts[1] = build(v, j, n, ALPHA, bins);
		m = dds_copy(parts[1]);
		ck_assert_int_eq(dds_merge(m, parts[0], NULL), 0);
		ck_assert_int_eq(dds_merge(parts[0], parts[1], NULL), 0);
		assert_same(all, parts[0]);
		assert_same(all, m);
		dds_free(parts[0]);
		dds_free(parts[1]);
		dds_free(m);
		dds_free(all);
	}
	for (i = 0; i < 8; i++)
		free(pv[i]);
	free(pv);
	free(v);
}

START_TEST(test_merge_equal)
{
	merge_trials(BINS, 24, 50000);
}
END_TEST

/* Collapse never breaks equality: the state is a function of the data. */
START_TEST(test_merge_equal_collapsing)
{
	merge_trials(16, 24, 20000);
	merge_trials(1, 8, 5000);
}
END_TEST

START_TEST(test_merge_self)
{
	struct ddsketch	*a, *b;
	size_t		 i;
	double		 x;

	a = dds_new(ALPHA, 32);
	b = dds_new(ALPHA, 32);
	for (i = 0; i < 10000; i++) {
		x = draw(D_ZEROS);
		dds_add(a, x);
		dds_add(b, x);
		dds_add(b, x);
	}
	ck_assert_int_eq(dds_merge(a, a, NULL), 0);
	assert_same(a, b);
	dds_free(a);
	dds_free(b);
}
END_TEST

START_TEST(test_merge_refused)
{
	struct ddsketch	*a, *b, *c;
	char		*cause = NULL;

	a = dds_new(0.01, 100);
	b = dds_new(0.02, 100);
	c = dds_new(0.01, 200);
	dds_add(a, 1);
	dds_add(b, 1);
	dds_add(c, 1);
	ck_assert_int_eq(dds_merge(a, b, &cause), -1);
	ck_assert_str_eq(cause, "ddsketch: cannot merge alpha 0.02 into 0.01");
	free(cause);
	ck_assert_int_eq(dds_merge(a, c, &cause), -1);
	ck_assert_str_eq(cause, "ddsketch: cannot merge max_bins 200 into 100");
	free(cause);
	ck_assert_uint_eq(dds_count(a), 1);
	dds_free(a);
	dds_free(b);
	dds_free(c);
}
END_TEST

/*
 * A store of 16 buckets: the lowest buckets fold into the lowest kept one,
 * the top quantiles stay accurate, the bottom ones come out too large in
 * magnitude; for negatives the values nearest zero fold outward.  The
 * order of adds does not matter.
 */
START_TEST(test_collapse)
{
	struct ddsketch	*up, *down, *neg;
	double		 v[101], nv[101], gamma, est, ex, q;
	size_t		 i, wp, wn;

	gamma = (1 + ALPHA) / (1 - ALPHA);
	up = dds_new(ALPHA, 16);
	down = dds_new(ALPHA, 16);
	neg = dds_new(ALPHA, 16);
	for (i = 0; i <= 100; i++) {
		v[i] = pow(10, (double)i / 10);		/* 1 .. 1e10 */
		nv[100 - i] = -v[i];			/* sorted */
	}
	for (i = 0; i <= 100; i++) {
		dds_add(up, v[i]);
		dds_add(down, v[100 - i]);
		dds_add(neg, -v[i]);
	}
	assert_same(up, down);
	store_widths(up, &wp, &wn);
	ck_assert_uint_eq(wp, 16);
	ck_assert_uint_eq(wn, 0);
	store_widths(neg, &wp, &wn);
	ck_assert_uint_eq(wp, 0);
	ck_assert_uint_eq(wn, 16);

	/* 16 buckets span gamma^15 = 1.35: 1e10 and 10^9.9 only. */
	ck_assert(pow(gamma, 15) > pow(10, 0.1));
	ck_assert(pow(gamma, 16) < pow(10, 0.2));
	ck_assert(dds_quantile(up, 1) == 1e10);
	est = dds_quantile(up, 0.999);		/* rank 99: 10^9.9 */
	ck_assert(fabs(est - v[99]) <= ALPHA * v[99]);
	/* Everything else is in the lowest kept bucket, 1e10 / gamma^16. */
	for (i = 1; i < 98; i++) {
		q = (double)i / 100;
		est = dds_quantile(up, q);
		ex = v[(size_t)floor(q * 100)];
		ck_assert(est > ex * (1 + ALPHA));
		ck_assert(est >= 1e10 / pow(gamma, 16) && est <= 1e10);
	}
	ck_assert(dds_quantile(up, 0) == 1);	/* min stays exact */

	/* Negatives: the most negative stay accurate, those near 0 fall. */
	ck_assert(dds_quantile(neg, 0) == -1e10);
	est = dds_quantile(neg, 0.01);		/* rank 1: -10^9.9 */
	ck_assert(fabs(est - nv[1]) <= ALPHA * v[99]);
	for (i = 3; i < 100; i++) {
		q = (double)i / 100;
		est = dds_quantile(neg, q);
		ex = nv[(size_t)floor(q * 100)];
		ck_assert(est < ex * (1 + ALPHA));
		ck_assert(est <= -1e10 / pow(gamma, 16) && est >= -1e10);
	}
	ck_assert(dds_quantile(neg, 1) == -1);
	ck_assert_uint_eq(dds_count(neg), 101);
	assert_roundtrip(up);
	assert_roundtrip(neg);
	dds_free(up);
	dds_free(down);
	dds_free(neg);
}
END_TEST

/*
 * The packed sum of d: 0 and its value in *f when it is a float64, 1 and
 * its exponent in *e when it is [e, m].
 */
static int
sum_form(const struct ddsketch *d, double *f, int64_t *e)
{
	msgpack_sbuffer		 sb;
	struct msg_reader	 r;
	uint32_t		 n;
	int			 form;

	read_to_sum(d, &sb, &r);
	if (msg_get_float(&r, f) == 0)
		form = 0;
	else {
		ck_assert_int_eq(msg_get_array(&r, &n), 0);
		ck_assert_uint_eq(n, 2);
		ck_assert_int_eq(msg_get_int(&r, e), 0);
		form = 1;
	}
	msgpack_sbuffer_destroy(&sb);
	return (form);
}

/*
 * A sum is packed as a float64 exactly when it is one: 53 significant
 * bits or fewer and below 2^1024 in magnitude, of either sign.
 */
START_TEST(test_sum_form)
{
	struct ddsketch	*a;
	double		 f;
	int64_t		 e;

	a = dds_new(ALPHA, BINS);
	ck_assert_int_eq(sum_form(a, &f, &e), 0);
	ck_assert(f == 0 && !signbit(f));
	dds_add(a, -1.5);
	ck_assert_int_eq(sum_form(a, &f, &e), 0);
	ck_assert(f == -1.5);
	dds_add(a, 0x1p-1074);
	ck_assert_int_eq(sum_form(a, &f, &e), 1);	/* 1074 + 1 bits */
	ck_assert_int_eq(e, -1074);
	dds_add(a, -0x1p-1074);
	dds_add(a, 0x1p52);		/* 2^52 - 1.5: 53 bits */
	ck_assert_int_eq(sum_form(a, &f, &e), 0);
	ck_assert(f == 0x1p52 - 1.5);
	dds_add(a, 0x1p52);		/* 2^53 - 1.5: 54 bits */
	ck_assert_int_eq(sum_form(a, &f, &e), 1);
	ck_assert_int_eq(e, -1);
	dds_add(a, 0.5);		/* 2^53 - 1: 53 bits */
	ck_assert_int_eq(sum_form(a, &f, &e), 0);
	ck_assert(f == 0x1p53 - 1);
	assert_roundtrip(a);
	dds_free(a);

	a = dds_new(ALPHA, BINS);
	dds_add(a, -DBL_MAX);
	ck_assert_int_eq(sum_form(a, &f, &e), 0);
	ck_assert(f == -DBL_MAX);
	dds_add(a, -0x1p971);		/* -2^1024: past the range */
	ck_assert_int_eq(sum_form(a, &f, &e), 1);
	ck_assert_int_eq(e, 1024);
	assert_roundtrip(a);
	dds_add(a, DBL_MIN);		/* subnormal-sized bits far below */
	ck_assert_int_eq(sum_form(a, &f, &e), 1);
	ck_assert_int_eq(e, -1022);
	assert_roundtrip(a);
	dds_free(a);

	a = dds_new(ALPHA, BINS);
	dds_add(a, 3 * DBL_TRUE_MIN);
	dds_add(a, DBL_TRUE_MIN);
	ck_assert_int_eq(sum_form(a, &f, &e), 0);
	ck_assert(f == 4 * DBL_TRUE_MIN);
	dds_free(a);
}
END_TEST

/* The sum is exact, whatever the order, and rounded once. */
START_TEST(test_sum_exact)
{
	struct ddsketch	*a, *b;
	double		*v, x;
	size_t		 i, j, n = 100000;
	long double	 ref = 0;

	a = dds_new(ALPHA, BINS);
	dds_add(a, 1e100);
	dds_add(a, 1.0);
	dds_add(a, -1e100);
	ck_assert(dds_sum(a) == 1.0);
	assert_roundtrip(a);
	dds_free(a);

	/* Ties round to even; a sticky bit far below breaks the tie. */
	a = dds_new(ALPHA, BINS);
	dds_add(a, 1.0);
	dds_add(a, 0x1p-53);
	ck_assert(dds_sum(a) == 1.0);
	assert_roundtrip(a);
	dds_add(a, 0x1p-900);
	ck_assert(dds_sum(a) == 1.0 + 0x1p-52);
	assert_roundtrip(a);
	dds_add(a, -0x1p-900);
	dds_add(a, 0x1p-52);
	ck_assert(dds_sum(a) == 1.0 + 0x1p-51);	/* 1 + 3 * 2^-53: up */
	dds_free(a);

	/* Subnormals, and sums beyond the double range. */
	a = dds_new(ALPHA, BINS);
	for (i = 0; i < 3; i++)
		dds_add(a, DBL_TRUE_MIN);
	ck_assert(dds_sum(a) == 3 * DBL_TRUE_MIN);
	dds_add(a, -DBL_MAX);
	dds_add(a, -DBL_MAX);
	ck_assert(dds_sum(a) == -INFINITY);
	assert_roundtrip(a);
	dds_add(a, DBL_MAX);
	ck_assert(dds_sum(a) == -DBL_MAX);
	assert_roundtrip(a);
	dds_free(a);

	/* Integers: exact by construction. */
	a = dds_new(ALPHA, BINS);
	for (i = 1; i <= n; i++)
		dds_add(a, (double)i);
	ck_assert(dds_sum(a) == (double)n * (n + 1) / 2);
	dds_free(a);

	/* Shuffled floats give the same state, near the long double sum. */
	v = malloc(n * sizeof(*v));
	a = dds_new(ALPHA, BINS);
	for (i = 0; i < n; i++) {
		v[i] = draw(D_MIXED) * 1e-3;
		ref += v[i];
		dds_add(a, v[i]);
	}
	for (i = n - 1; i > 0; i--) {
		j = rnd() % (i + 1);
		x = v[i];
		v[i] = v[j];
		v[j] = x;
	}
	b = build(v, 0, n, ALPHA, BINS);
	assert_same(a, b);
	ref = 0;
	for (i = 0; i < n; i++)
		ref += v[i];
	ck_assert(fabsl(dds_sum(a) - ref) <= 1e-9 * fabsl(ref) + 1e-12);
	assert_roundtrip(a);
	free(v);
	dds_free(a);
	dds_free(b);
}
END_TEST

/*
 * Hostile input.  A raw sketch is packed field by field so that each can
 * be wrong on its own.
 */
struct raw {
	uint64_t	 version;
	double		 alpha;
	uint64_t	 bins;
	uint64_t	 zero;
	uint64_t	 count;
	int		 sum_form;	/* 0 float, 1 [e, m], 2 string */
	double		 sum;
	int64_t		 sum_e;
	const char	*sum_m;
	size_t		 sum_mlen;
	double		 min;
	double		 max;
	int64_t		 off[2];
	const char	*bin[2];
	size_t		 binlen[2];
	int		 nfields;
};

static struct raw
raw_default(void)
{
	struct raw	r;

	memset(&r, 0, sizeof(r));
	r.version = 1;
	r.alpha = 0.01;
	r.bins = 4;
	r.zero = 1;
	r.count = 4;			/* 0, and 3 values in bucket 0, 1 */
	r.sum = 2.0;
	r.min = 0;
	r.max = 1.015;			/* bucket 1: (1, 1.0202] */
	r.off[0] = 0;
	r.bin[0] = "\x02\x01";
	r.binlen[0] = 2;
	r.off[1] = 0;
	r.bin[1] = "";
	r.binlen[1] = 0;
	r.nfields = 10;
	return (r);
}

static void
raw_pack(const struct raw *r, msgpack_sbuffer *sb)
{
	msgpack_packer	pk;
	int		i;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, r->nfields);
	msgpack_pack_uint64(&pk, r->version);
	msgpack_pack_double(&pk, r->alpha);
	msgpack_pack_uint64(&pk, r->bins);
	msgpack_pack_uint64(&pk, r->zero);
	msgpack_pack_uint64(&pk, r->count);
	if (r->sum_form == 0)
		msgpack_pack_double(&pk, r->sum);
	else if (r->sum_form == 1) {
		msgpack_pack_array(&pk, 2);
		msgpack_pack_int64(&pk, r->sum_e);
		msgpack_pack_bin(&pk, r->sum_mlen);
		msgpack_pack_bin_body(&pk, r->sum_m, r->sum_mlen);
	} else
		msgpack_pack_str_with_body(&pk, "1", 1);
	msgpack_pack_double(&pk, r->min);
	msgpack_pack_double(&pk, r->max);
	for (i = 0; i < 2; i++) {
		msgpack_pack_array(&pk, 2);
		msgpack_pack_int64(&pk, r->off[i]);
		msgpack_pack_bin(&pk, r->binlen[i]);
		msgpack_pack_bin_body(&pk, r->bin[i], r->binlen[i]);
	}
}

/* Expect r to be refused with exactly want. */
static void
refuse(const struct raw *r, const char *want)
{
	msgpack_sbuffer	 sb;
	struct ddsketch	*d;
	char		*cause;

	raw_pack(r, &sb);
	d = unpack(sb.data, sb.size, &cause);
	if (d != NULL)
		ck_abort_msg("accepted, expected \"%s\"", want);
	ck_assert_str_eq(cause, want);
	free(cause);
	msgpack_sbuffer_destroy(&sb);
}

static void
admit(const struct raw *r)
{
	msgpack_sbuffer	 sb;
	struct ddsketch	*d;
	char		*cause;

	raw_pack(r, &sb);
	if ((d = unpack(sb.data, sb.size, &cause)) == NULL)
		ck_abort_msg("refused: %s", cause);
	assert_roundtrip(d);
	dds_free(d);
	msgpack_sbuffer_destroy(&sb);
}

START_TEST(test_hostile_fields)
{
	struct raw	 r;
	char		 want[160], big[4096];
	double		 lng;
	long long	 imin, imax;

	r = raw_default();
	admit(&r);
	r.nfields = 9;
	refuse(&r, "ddsketch: 9 fields, expected 10");
	r = raw_default();
	r.version = 3;
	refuse(&r, "ddsketch: unsupported version 3");
	r = raw_default();
	r.alpha = 0.5;
	refuse(&r, "ddsketch: alpha 0.5 out of range");
	r.alpha = NAN;
	refuse(&r, "ddsketch: alpha nan out of range");
	r.alpha = 0;
	refuse(&r, "ddsketch: alpha 0 out of range");
	r = raw_default();
	r.bins = 0;
	refuse(&r, "ddsketch: max_bins 0 out of range");
	r.bins = 65537;
	refuse(&r, "ddsketch: max_bins 65537 out of range");
	r = raw_default();
	r.bins = 1;
	refuse(&r, "ddsketch: positive store: wider than max_bins 1");
	r = raw_default();
	r.count = 5;
	refuse(&r, "ddsketch: buckets do not sum to count 5");
	r.count = 3;
	refuse(&r, "ddsketch: buckets do not sum to count 3");
	r = raw_default();
	r.min = NAN;
	refuse(&r, "ddsketch: min or max not finite");
	r = raw_default();
	r.max = INFINITY;
	refuse(&r, "ddsketch: min or max not finite");
	r = raw_default();
	r.sum = INFINITY;
	refuse(&r, "ddsketch: sum: not finite");
	r = raw_default();
	r.sum_form = 2;
	refuse(&r, "ddsketch: sum: expected float or array, got string");
	r = raw_default();
	r.min = 0.5;
	refuse(&r, "ddsketch: min 0.5 and max 1.015 do not match the "
	    "buckets");
	r = raw_default();
	r.max = 1e10;
	refuse(&r, "ddsketch: min 0 or max 1e+10 outside its bucket");
	r = raw_default();
	r.zero = 0;
	r.count = 3;
	r.min = -1.0;
	refuse(&r, "ddsketch: min -1 and max 1.015 do not match the "
	    "buckets");
	r.max = r.min = 2.0;
	refuse(&r, "ddsketch: min 2 or max 2 outside its bucket");
	r.min = 0.99;
	r.max = 1.015;
	r.sum = 3.0;			/* in [3 * 0.99, 3 * 1.015] */
	admit(&r);

	/* Stores: trimmed, shortest varints, within 64 bits, in range. */
	r = raw_default();
	r.bin[0] = "\x02\x01\x00";
	r.binlen[0] = 3;
	refuse(&r, "ddsketch: positive store: zero bucket at an end");
	r.bin[0] = "\x00\x02\x01";
	refuse(&r, "ddsketch: positive store: zero bucket at an end");
	r.bin[0] = "\x82\x00\x01";
	refuse(&r, "ddsketch: positive store: count not in shortest form");
	r.bin[0] = "\x02\x81";
	r.binlen[0] = 2;
	refuse(&r, "ddsketch: positive store: truncated count");
	r.bin[0] = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02";
	r.binlen[0] = 10;
	refuse(&r, "ddsketch: positive store: count over 64 bits");
	r.bin[0] = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x01";
	r.binlen[0] = 11;
	refuse(&r, "ddsketch: positive store: counts overflow");
	r.binlen[0] = 10;		/* 2^64 - 1 alone is fine here */
	refuse(&r, "ddsketch: buckets do not sum to count 4");

	/*
	 * Version 2: a count is never 0; 0, r is a run of r >= 1 zero
	 * buckets between two counts.  Version 1 (every bucket a count) is
	 * still read, and packed again as version 2.
	 */
	r = raw_default();
	r.version = 2;
	admit(&r);
	r.max = 1.03;			/* bucket 2: (1.0202, 1.0408] */
	r.bin[0] = "\x02\x00\x01\x01";	/* 2, one zero bucket, 1 */
	r.binlen[0] = 4;
	admit(&r);
	r.version = 1;
	r.bin[0] = "\x02\x00\x01";		/* the same in version 1 */
	r.binlen[0] = 3;
	admit(&r);
	r.version = 2;
	refuse(&r, "ddsketch: positive store: zero bucket at an end");
	r.bin[0] = "\x00\x01\x02\x01";
	r.binlen[0] = 4;
	refuse(&r, "ddsketch: positive store: zero bucket at an end");
	r.bin[0] = "\x02\x00\x00\x01";
	refuse(&r, "ddsketch: positive store: run of no zero buckets");
	r.bin[0] = "\x02\x00\x01\x00\x01\x01";
	r.binlen[0] = 6;
	refuse(&r, "ddsketch: positive store: two runs of zero buckets in "
	    "a row");
	r.bin[0] = "\x02\x00";
	r.binlen[0] = 2;
	refuse(&r, "ddsketch: positive store: truncated count");
	r.bin[0] = "\x02\x00\x03\x01";	/* 5 buckets, max_bins 4 */
	r.binlen[0] = 4;
	refuse(&r, "ddsketch: positive store: wider than max_bins 4");
	r.bin[0] = "\x02\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x01";
	r.binlen[0] = 13;		/* a run of 2^64 - 1: no overflow */
	refuse(&r, "ddsketch: positive store: wider than max_bins 4");
	r = raw_default();
	r.off[1] = 5;
	refuse(&r, "ddsketch: negative store: empty with offset 5");
	r = raw_default();
	memset(big, 1, sizeof(big));
	r.bin[0] = big;
	r.binlen[0] = sizeof(big);
	r.bins = 4095;
	refuse(&r, "ddsketch: positive store: wider than max_bins 4095");

	lng = log1p(2 * 0.01 / 0.99);
	imin = (long long)ceil(log(DBL_TRUE_MIN) / lng);
	imax = (long long)ceil(log(DBL_MAX) / lng);
	r = raw_default();
	r.off[0] = imax;
	snprintf(want, sizeof(want), "ddsketch: positive store: 2 buckets "
	    "from %lld outside %lld..%lld", imax, imin, imax);
	refuse(&r, want);
	r.off[0] = INT64_MAX;
	snprintf(want, sizeof(want), "ddsketch: positive store: 2 buckets "
	    "from %lld outside %lld..%lld", (long long)INT64_MAX, imin, imax);
	refuse(&r, want);
	r.off[0] = INT64_MIN;
	snprintf(want, sizeof(want), "ddsketch: positive store: 2 buckets "
	    "from %lld outside %lld..%lld", (long long)INT64_MIN, imin, imax);
	refuse(&r, want);
	r.off[0] = imin - 1;
	snprintf(want, sizeof(want), "ddsketch: positive store: 2 buckets "
	    "from %lld outside %lld..%lld", imin - 1, imin, imax);
	refuse(&r, want);
	ck_assert_int_eq(imin, -37220);	/* alpha 0.01 covers the doubles */
	ck_assert_int_eq(imax, 35488);

	/* The empty sketch has zeros everywhere. */
	r = raw_default();
	r.zero = 0;
	r.count = 0;
	r.binlen[0] = 0;
	r.sum = 0;
	r.min = 0;
	r.max = 0;
	admit(&r);
	r.sum = 1;
	refuse(&r, "ddsketch: empty sketch with non-zero sum, min or max");
	r.sum = 0;
	r.max = 1;
	refuse(&r, "ddsketch: empty sketch with non-zero sum, min or max");
}
END_TEST

START_TEST(test_hostile_sum)
{
	struct ddsketch	*d;
	struct raw	 r;
	char		 m[300];

	/* 2 = 1 * 2^1, as [e, m]: accepted, repacked as the float 2.0. */
	r = raw_default();
	r.sum_form = 1;
	r.sum_e = 1;
	r.sum_m = "\x01";
	r.sum_mlen = 1;
	admit(&r);
	r.sum_e = -1074;
	r.sum_m = "\x01";		/* tiny but fine */
	admit(&r);
	r.sum_m = "\xff";		/* -2^-1074: below 4 * min = 0 */
	refuse(&r, "ddsketch: sum -4.9406564584124654e-324 is not within "
	    "count 4 times min 0 and max 1.0149999999999999");
	r.sum_e = -1075;
	refuse(&r, "ddsketch: sum: exponent -1075 out of range");
	r.sum_e = INT64_MAX;
	refuse(&r, "ddsketch: sum: exponent 9223372036854775807 out of "
	    "range");
	r.sum_e = 1095;			/* 1095 + 1074 + 8 bits > 2176 */
	refuse(&r, "ddsketch: sum: exponent 1095 out of range");
	r.sum_e = 1094;			/* fits the limbs, not the values */
	refuse(&r, "ddsketch: sum -inf is not within count 4 times min 0 "
	    "and max 1.0149999999999999");
	r.sum_mlen = 0;
	r.sum_e = 0;
	refuse(&r, "ddsketch: sum: mantissa of 0 bytes");
	memset(m, 0x11, sizeof(m));
	r.sum_m = m;
	r.sum_mlen = 273;
	refuse(&r, "ddsketch: sum: mantissa of 273 bytes");
	r.sum_mlen = 1;
	r.sum_m = "\x01";
	r.sum_e = 1026;
	refuse(&r, "ddsketch: sum inf is not within count 4 times min 0 and "
	    "max 1.0149999999999999");

	/*
	 * The bounds are exact: count * max = 4.06 (times 4 is exact) and
	 * one unit above it; with no zero, min 127/128 and count 3, 381/128
	 * and one unit below it.
	 */
	r = raw_default();
	r.sum = 4 * r.max;
	admit(&r);
	r.sum = nextafter(4 * r.max, INFINITY);
	refuse(&r, "ddsketch: sum 4.0600000000000005 is not within count 4 "
	    "times min 0 and max 1.0149999999999999");
	r.sum = 0;
	admit(&r);
	/* 2^60 values: a product over 128 bits once shifted into place. */
	r.count = (uint64_t)1 << 60;
	r.zero = r.count - 3;
	r.sum = ldexp(r.max, 60);
	admit(&r);
	r.sum = nextafter(r.sum, INFINITY);
	refuse(&r, "ddsketch: sum 1.1702153271759498e+18 is not within count "
	    "1152921504606846976 times min 0 and max 1.0149999999999999");
	r = raw_default();
	r.zero = 0;
	r.count = 3;
	r.min = 127.0 / 128;
	r.sum = 381.0 / 128;
	admit(&r);
	r.sum = nextafter(381.0 / 128, 0);
	refuse(&r, "ddsketch: sum 2.9765624999999996 is not within count 3 "
	    "times min 0.9921875 and max 1.0149999999999999");
	/*
	 * As [e, m], 381/128 - 2^-60 = (381 * 2^53 - 1) 2^-60: no double
	 * (it rounds to 381/128), and still refused.
	 */
	r.sum_form = 1;
	r.sum_e = -60;
	r.sum_m = "\x2f\x9f\xff\xff\xff\xff\xff\xff";
	r.sum_mlen = 8;
	refuse(&r, "ddsketch: sum 2.9765625 is not within count 3 times min "
	    "0.9921875 and max 1.0149999999999999");
	r.sum_m = "\x2f\xa0\x00\x00\x00\x00\x00\x00";
	admit(&r);

	/* Subnormal min and max: their bits below 2^-1074 are zeros. */
	d = dds_new(ALPHA, 64);
	dds_add(d, DBL_TRUE_MIN);
	dds_add(d, 2 * DBL_TRUE_MIN);
	dds_add(d, 3 * DBL_TRUE_MIN);
	assert_roundtrip(d);
	dds_free(d);
}
END_TEST

/* Every prefix of valid bytes is refused, and random damage is safe. */
START_TEST(test_hostile_bytes)
{
	struct ddsketch	*d, *back;
	msgpack_sbuffer	 sb;
	uint8_t		*buf;
	size_t		 i, len;
	char		*cause;
	int		 t, accepted = 0;

	d = dds_new(ALPHA, 64);
	for (i = 0; i < 2000; i++)
		dds_add(d, draw(D_MIXED) * 0.1234567);
	dds_add(d, 0);
	pack(d, &sb);
	for (len = 0; len < sb.size; len++) {
		ck_assert_ptr_null(back = unpack(sb.data, len, &cause));
		free(cause);
	}
	buf = malloc(sb.size);
	for (t = 0; t < 20000; t++) {
		memcpy(buf, sb.data, sb.size);
		for (i = 0; i < 1 + rnd() % 3; i++)
			buf[rnd() % sb.size] ^= (uint8_t)(1 + rnd() % 255);
		if ((back = unpack(buf, sb.size, &cause)) == NULL) {
			free(cause);
			continue;
		}
		accepted++;
		assert_roundtrip(back);
		(void)dds_quantile(back, 0.5);
		dds_free(back);
	}
	ck_assert_int_lt(accepted, 20000);
	free(buf);
	msgpack_sbuffer_destroy(&sb);
	dds_free(d);
}
END_TEST

/*
 * Store forms.  ddsketch.c keeps a store sparse, in (bucket, count) pairs
 * of 16 bytes, up to 32 buckets, and dense past that, in 8-byte counters
 * over twice the width (up to 2 max_bins).  The dense sketches of these
 * tests have one sign and span more than 32 buckets when they switch,
 * under a max_bins over 32, so their arrays take more than the 32 * 16
 * bytes of a full sparse store, and dds_bytes() tells the forms apart.
 */
#define SPARSE_MAX	32

/* A value in the middle of bucket k (k >= 1) at ALPHA; sign s. */
static double
in_bucket(int k, int s)
{
	double	lng = log1p(2 * ALPHA / (1 - ALPHA));

	return (s * exp(((double)k - 0.5) * lng));
}

/* Add count c of bucket k, sign s. */
static void
add_bucket(struct ddsketch *d, int k, int s, int c)
{
	while (c-- > 0)
		dds_add(d, in_bucket(k, s));
}

/* Shuffle ks[0..n). */
static void
shuffle(int *ks, size_t n)
{
	size_t	i, j;
	int	t;

	for (i = n; i > 1; i--) {
		j = rnd() % i;
		t = ks[i - 1];
		ks[i - 1] = ks[j];
		ks[j] = t;
	}
}

/*
 * Across the switch: n distinct buckets (three apart, so that max_bins
 * matters only when asked) added in rising, falling and shuffled order,
 * with repeats, as many values again by merge of halves, and through
 * pack and unpack: one state and one byte string for every route, sparse
 * up to 32 buckets and dense past them.
 */
START_TEST(test_sparse_switch)
{
	static const size_t	 ns[] = { 1, 2, 8, 16, 31, 32, 33, 34, 100 };
	struct ddsketch		*up, *down, *mix, *half[2], *m;
	int			 ks[100], sign;
	size_t			 t, i, n;

	for (t = 0; t < 2 * sizeof(ns) / sizeof(ns[0]); t++) {
		n = ns[t / 2];
		sign = t % 2 ? -1 : 1;
		up = dds_new(ALPHA, BINS);
		down = dds_new(ALPHA, BINS);
		mix = dds_new(ALPHA, BINS);
		half[0] = dds_new(ALPHA, BINS);
		half[1] = dds_new(ALPHA, BINS);
		for (i = 0; i < n; i++) {
			ks[i] = 1 + 3 * (int)i;
			add_bucket(up, ks[i], sign, 1 + (int)(i % 3));
			add_bucket(down, 1 + 3 * (int)(n - 1 - i), sign,
			    1 + (int)((n - 1 - i) % 3));
		}
		shuffle(ks, n);
		for (i = 0; i < n; i++) {
			add_bucket(mix, ks[i], sign, 1 + (ks[i] - 1) / 3 % 3);
			add_bucket(half[i % 2], ks[i], sign,
			    1 + (ks[i] - 1) / 3 % 3);
		}
		ck_assert_int_eq(dds_is_dense(up), n > SPARSE_MAX);
		ck_assert_int_eq(dds_is_dense(down), n > SPARSE_MAX);
		ck_assert_int_eq(dds_is_dense(mix), n > SPARSE_MAX);
		assert_same(up, down);
		assert_same(up, mix);
		m = dds_copy(half[0]);
		ck_assert_int_eq(dds_merge(m, half[1], NULL), 0);
		assert_same(up, m);
		dds_free(m);
		m = dds_copy(half[1]);
		ck_assert_int_eq(dds_merge(m, half[0], NULL), 0);
		assert_same(up, m);
		dds_free(m);
		m = dds_copy(up);
		assert_same(up, m);
		assert_roundtrip(up);
		ck_assert(dds_quantile(up, 0.5) ==
		    dds_quantile(down, 0.5));
		dds_free(m);
		dds_free(up);
		dds_free(down);
		dds_free(mix);
		dds_free(half[0]);
		dds_free(half[1]);
	}
}
END_TEST

/*
 * Collapse in both forms.  At max_bins up to 32 a store never goes dense;
 * above, it may collapse either way.  A store that went dense and then saw
 * everything fold into a few buckets must equal the sparse one that
 * folded the same values as they came.
 */
START_TEST(test_sparse_collapse)
{
	static const int	 bins[] = { 1, 2, 3, 5, 16, 32, 33, 40, 100 };
	struct ddsketch		*up, *down, *mix, *m, *parts[8];
	int			 ks[120];
	size_t			 b, i, np, n = 120;

	for (b = 0; b < sizeof(bins) / sizeof(bins[0]); b++) {
		up = dds_new(ALPHA, bins[b]);
		down = dds_new(ALPHA, bins[b]);
		mix = dds_new(ALPHA, bins[b]);
		np = 2 + b % 7;
		for (i = 0; i < np; i++)
			parts[i] = dds_new(ALPHA, bins[b]);
		for (i = 0; i < n; i++) {
			ks[i] = 1 + 2 * (int)i;
			add_bucket(up, ks[i], 1, 1);
			add_bucket(down, 1 + 2 * (int)(n - 1 - i), 1, 1);
		}
		shuffle(ks, n);
		for (i = 0; i < n; i++) {
			add_bucket(mix, ks[i], 1, 1);
			add_bucket(parts[i % np], ks[i], 1, 1);
		}
		if (bins[b] <= SPARSE_MAX)
			ck_assert(!dds_is_dense(up) && !dds_is_dense(mix));
		if (bins[b] == 100)
			ck_assert(dds_is_dense(up) && dds_is_dense(down));
		assert_same(up, down);
		assert_same(up, mix);
		m = merge_tree(parts, np);
		assert_same(up, m);
		assert_roundtrip(up);
		dds_free(m);
		dds_free(up);
		dds_free(down);
		dds_free(mix);
	}

	/* Dense, then folded to two buckets; sparse, folded on the way. */
	up = dds_new(ALPHA, 80);
	down = dds_new(ALPHA, 80);
	for (i = 0; i < 33; i++)
		add_bucket(up, 1 + 2 * (int)i, 1, 2);
	ck_assert(dds_is_dense(up));
	add_bucket(up, 1000, 1, 1);
	add_bucket(down, 1000, 1, 1);
	for (i = 33; i > 0; i--)
		add_bucket(down, 2 * (int)i - 1, 1, 2);
	ck_assert(dds_is_dense(up) && !dds_is_dense(down));
	assert_same(up, down);
	/* 66 values in bucket 1000 - 80 + 1, one in 1000. */
	ck_assert(dds_quantile(up, 0.5) ==
	    exp(921 * log1p(2 * ALPHA / (1 - ALPHA))) * (1 - ALPHA));
	assert_roundtrip(up);
	dds_free(up);
	dds_free(down);
}
END_TEST

/* One input of test_merge_forms: counts c of buckets k, up to 48. */
struct form {
	int	 n;
	int	 k[48];
	int	 c[48];
	int	 dense;		/* the form it must end up in */
};

static struct ddsketch *
form_build(const struct form *f, int sign, int bins)
{
	struct ddsketch	*d = dds_new(ALPHA, bins);
	int		 i;

	for (i = 0; i < f->n; i++)
		add_bucket(d, f->k[i], sign, f->c[i]);
	return (d);
}

/* Pack and unpack: dds_unpack() picks its own form. */
static struct ddsketch *
form_reload(const struct ddsketch *d)
{
	msgpack_sbuffer	 sb;
	struct ddsketch	*back;
	char		*cause;

	pack(d, &sb);
	back = unpack(sb.data, sb.size, &cause);
	ck_assert_ptr_nonnull(back);
	msgpack_sbuffer_destroy(&sb);
	return (back);
}

/*
 * Merge b (sign sb) into a (sign sa) and a into b, as built and after a
 * round trip through dds_unpack(): each equals the sketch folded directly.
 */
static void
merge_forms_check(const struct form *fa, int sa, const struct form *fb,
    int sb, int bins)
{
	struct ddsketch	*a, *b, *all, *m, *ra, *rb;
	int		 i;

	a = form_build(fa, sa, bins);
	b = form_build(fb, sb, bins);
	ck_assert_int_eq(dds_is_dense(a), fa->dense);
	ck_assert_int_eq(dds_is_dense(b), fb->dense);
	all = form_build(fa, sa, bins);
	for (i = 0; i < fb->n; i++)
		add_bucket(all, fb->k[i], sb, fb->c[i]);
	m = dds_copy(a);
	ck_assert_int_eq(dds_merge(m, b, NULL), 0);
	assert_same(all, m);
	dds_free(m);
	m = dds_copy(b);
	ck_assert_int_eq(dds_merge(m, a, NULL), 0);
	assert_same(all, m);
	dds_free(m);
	ra = form_reload(a);
	rb = form_reload(b);
	assert_same(a, ra);
	assert_same(b, rb);
	ck_assert_int_eq(dds_merge(ra, b, NULL), 0);
	ck_assert_int_eq(dds_merge(rb, a, NULL), 0);
	assert_same(all, ra);
	assert_same(all, rb);
	dds_free(ra);
	dds_free(rb);
	dds_free(all);
	dds_free(a);
	dds_free(b);
}

/*
 * Every pair of forms merges to the sketch folded directly: sparse and
 * dense, dense holding few buckets after a fold, the union crossing the
 * switch, merges that collapse, on either sign and across signs.
 */
START_TEST(test_merge_forms)
{
	struct form	fs[7];
	int		seen[2][2] = { { 0 } };
	int		i, j, x, y, sa, sb;

	memset(fs, 0, sizeof(fs));
	fs[0].n = 3;				/* sparse, few */
	fs[0].k[0] = 5; fs[0].k[1] = 9; fs[0].k[2] = 20;
	fs[1].n = 20;				/* sparse, 1..39 */
	fs[2].n = 40;				/* dense, 1..79 */
	fs[3].n = 34;				/* dense, folds to 9 */
	fs[4].n = 40;				/* dense, 200..278 */
	fs[5].n = 4;				/* sparse, far above */
	fs[6].n = 32;				/* sparse, full */
	for (i = 0; i < 20; i++)
		fs[1].k[i] = 1 + 2 * i;
	for (i = 0; i < 40; i++)
		fs[2].k[i] = 1 + 2 * i;
	for (i = 0; i < 33; i++)
		fs[3].k[i] = 1 + 2 * i;
	fs[3].k[33] = 150;
	for (i = 0; i < 40; i++)
		fs[4].k[i] = 200 + 2 * i;
	for (i = 0; i < 4; i++)
		fs[5].k[i] = 400 + i;
	for (i = 0; i < 32; i++)
		fs[6].k[i] = 10 + i;
	fs[2].dense = fs[3].dense = fs[4].dense = 1;
	for (i = 0; i < 7; i++)
		for (j = 0; j < fs[i].n; j++)
			fs[i].c[j] = 1 + (int)(rnd() % 4);

	for (x = 0; x < 7; x++)
		for (y = 0; y < 7; y++)
			for (sa = -1; sa <= 1; sa += 2)
				for (sb = -1; sb <= 1; sb += 2) {
					merge_forms_check(&fs[x], sa, &fs[y],
					    sb, 100);
					seen[fs[x].dense][fs[y].dense] = 1;
				}
	ck_assert(seen[0][0] && seen[0][1] && seen[1][0] && seen[1][1]);
}
END_TEST

/* A row of 8 latencies costs a few hundred bytes, not a dense window. */
START_TEST(test_sparse_bytes)
{
	struct ddsketch	*d, *e;
	msgpack_sbuffer	 sb;
	size_t		 i, base, wp, wn;

	e = dds_new(ALPHA, BINS);
	base = dds_bytes(e);
	d = dds_new(ALPHA, BINS);
	for (i = 0; i < 8; i++)
		dds_add(d, pow(10, -3 + 3 * (double)i / 7));	/* 1ms .. 1s */
	/*
	 * Dense, 1ms .. 1s spans 350 buckets: 2.8 KB at least.  Sparse, 8
	 * bins of 16 bytes, and the sum's digits: 1ms .. 1s span 10 binary
	 * exponents, 3 to 4 digits of 32 bits (and 2 to spare) of 8 bytes.
	 */
	ck_assert(!dds_is_dense(d));
	ck_assert_uint_le(dds_bytes(d), base + 8 * 16 + 6 * 8);
	ck_assert_uint_lt(dds_bytes(d), 1024);
	ck_assert_uint_eq(dds_count(d), 8);
	ck_assert(dds_min(d) == 1e-3 && dds_max(d) == 1);
	dds_free(e);
	e = dds_copy(d);
	/* No spare digits in the copy. */
	ck_assert_uint_le(dds_bytes(e), dds_bytes(d));
	assert_same(d, e);
	dds_free(e);
	e = form_reload(d);		/* a stored partial, read back */
	ck_assert(!dds_is_dense(e));
	ck_assert_uint_le(dds_bytes(e), base + 8 * 16 + 6 * 8);
	assert_same(d, e);
	/*
	 * Packed, the zero buckets between them are runs: about 2 bytes a
	 * value, where a varint per bucket took 346.
	 */
	pack(d, &sb);
	store_widths(d, &wp, &wn);
	ck_assert_uint_eq(wp, 346);
	ck_assert_uint_lt(sb.size, 100);
	msgpack_sbuffer_destroy(&sb);
	dds_free(d);
	dds_free(e);
}
END_TEST

/*
 * A sparse store's counts are 32 bits: a store whose total would pass
 * 2^32 - 1 turns dense, by merging or when read back, and nothing else
 * changes: its quantiles, and its bytes, are those of any other form.
 */
START_TEST(test_sparse_large_counts)
{
	struct ddsketch	*d, *e, *f;
	int		 i;

	d = dds_new(ALPHA, BINS);
	dds_add(d, 3.0);
	dds_add(d, 5.0);
	dds_add(d, 70.0);
	for (i = 0; i < 30; i++) {		/* 3 * 2^30 values */
		ck_assert_int_eq(dds_merge(d, d, NULL), 0);
		ck_assert(!dds_is_dense(d));
	}
	e = form_reload(d);
	ck_assert(!dds_is_dense(e));
	assert_same(d, e);
	ck_assert_int_eq(dds_merge(d, d, NULL), 0);	/* 3 * 2^31 */
	ck_assert(dds_is_dense(d));
	ck_assert_uint_eq(dds_count(d), UINT64_C(3) << 31);
	ck_assert(fabs(dds_quantile(d, 0.5) - 5.0) <= 5.0 * ALPHA);
	f = form_reload(d);
	ck_assert(dds_is_dense(f));
	assert_same(d, f);
	/* The sparse copy merged the other way round: the same state. */
	ck_assert_int_eq(dds_merge(e, e, NULL), 0);
	ck_assert(dds_is_dense(e));
	assert_same(d, e);
	dds_free(d);
	dds_free(e);
	dds_free(f);
}
END_TEST

/* Arenas */

#define ARENA_NVALS	4000

/* A value: a tenth zeros, a third negative, 40 e-folds of magnitude. */
static double
arena_value(void)
{
	double	x;

	if (unif() < 0.1)
		return (rnd() & 1 ? 0.0 : -0.0);
	x = exp(40 * unif() - 20);
	return (unif() < 0.35 ? -x : x);
}

/* A sketch of v[lo..hi) in a (NULL: the heap). */
static struct ddsketch *
arena_build(struct arena *a, const double *v, size_t lo, size_t hi, int bins)
{
	struct ddsketch	*d;
	size_t		 i;

	d = dds_new_in(a, ALPHA, bins);
	ck_assert_ptr_nonnull(d);
	for (i = lo; i < hi; i++)
		dds_add(d, v[i]);
	return (d);
}

/* Unpack the packed bytes of d into a; the same sketch as d. */
static struct ddsketch *
arena_reload(struct arena *a, const struct ddsketch *d)
{
	msgpack_sbuffer		 sb;
	struct msg_reader	 r;
	struct ddsketch		*u;
	char			*cause = NULL;

	pack(d, &sb);
	msg_reader_init(&r, sb.data, sb.size);
	u = dds_unpack_in(a, &r, &cause);
	ck_assert_msg(u != NULL, "%s", cause);
	ck_assert_int_eq(msg_end(&r), 0);
	msgpack_sbuffer_destroy(&sb);
	assert_same(u, d);
	return (u);
}

/*
 * Merge v[slo..shi) built in sa into v[dlo..dhi) built in da (either may
 * be NULL, the heap) and expect one heap sketch of both.  When sa is an
 * arena of its own it is reset before the result is read: nothing of the
 * result may live there.
 */
static void
arena_merge_check(struct arena *da, struct arena *sa, const double *v,
    const size_t *r, int bins)
{
	struct ddsketch	*d, *s, *ref;
	size_t		 i;

	d = arena_build(da, v, r[0], r[1], bins);
	s = arena_build(sa, v, r[2], r[3], bins);
	ref = arena_build(NULL, v, r[0], r[1], bins);
	for (i = r[2]; i < r[3]; i++)
		dds_add(ref, v[i]);
	ck_assert_int_eq(dds_merge(d, s, NULL), 0);
	dds_free(s);
	if (sa != NULL && sa != da)
		arena_reset(sa);
	assert_same(d, ref);
	/* It keeps growing in its own arena. */
	for (i = 0; i < ARENA_NVALS; i += 5) {
		dds_add(d, v[i] * 3);
		dds_add(ref, v[i] * 3);
	}
	assert_same(d, ref);
	ck_assert_int_eq(dds_merge(d, d, NULL), 0);
	ck_assert_int_eq(dds_merge(ref, ref, NULL), 0);
	assert_same(d, ref);
	dds_free(d);
	dds_free(ref);
}

/*
 * Sketches in an arena and on the heap from the same input agree to the
 * byte: sparse stores, their switch to dense and the dense window's growth
 * both ways, with and without collapse, merged either way and across
 * arenas, copied and unpacked into an arena.  Under ASan every arena
 * allocation is a heap block of its own, so overruns, and reads of an
 * arena after its reset, are caught.
 */
START_TEST(test_arena)
{
	static const size_t	 merges[][4] = {
		{ 0, 10, 10, 20 },	/* sparse + sparse: sparse */
		{ 0, 25, 25, 80 },	/* sparse + sparse: dense */
		{ 0, 2000, 2000, 2020 },	/* dense + sparse */
		{ 0, 20, 20, 2000 },	/* sparse + dense */
		{ 0, 2500, 1500, 4000 },	/* dense + dense */
	};
	static const int	 bins[] = { BINS, 64 };
	static double		 v[ARENA_NVALS];
	struct arena		 ar, ar2;
	struct ddsketch		*da, *dh, *c, *u, *ref;
	size_t			 i, k, b;

	arena_init(&ar);
	arena_init(&ar2);
	for (i = 0; i < ARENA_NVALS; i++)
		v[i] = arena_value();

	for (b = 0; b < sizeof(bins) / sizeof(bins[0]); b++) {
		/* The same adds, checked often while the stores are small. */
		da = dds_new_in(&ar, ALPHA, bins[b]);
		dh = dds_new(ALPHA, bins[b]);
		for (i = 0; i < ARENA_NVALS; i++) {
			dds_add(da, v[i]);
			dds_add(dh, v[i]);
			if (i < 200 || i % 100 == 0) {
				assert_same(da, dh);
				ck_assert_uint_eq(dds_bytes(da), dds_bytes(dh));
			}
		}
		assert_same(da, dh);

		/* Merges: arena <- heap, heap <- arena, across arenas. */
		for (k = 0; k < sizeof(merges) / sizeof(merges[0]); k++) {
			arena_merge_check(&ar, NULL, v, merges[k], bins[b]);
			arena_merge_check(NULL, &ar2, v, merges[k], bins[b]);
			arena_merge_check(&ar, &ar2, v, merges[k], bins[b]);
			arena_merge_check(&ar, &ar, v, merges[k], bins[b]);
		}

		/* Copies and unpacking into an arena, then grown. */
		for (k = 0; k < 2; k++) {
			ref = arena_build(NULL, v, 0, k == 0 ? 15 : 3000,
			    bins[b]);
			c = dds_copy_in(&ar2, ref);
			assert_same(c, ref);
			u = arena_reload(&ar2, ref);
			for (i = 3000; i < ARENA_NVALS; i++) {
				dds_add(c, v[i] / 7);
				dds_add(u, v[i] / 7);
				dds_add(ref, v[i] / 7);
			}
			assert_same(c, ref);
			assert_same(u, ref);
			dds_free(ref);
		}

		/* Copies out of an arena outlive it. */
		c = dds_copy_in(&ar2, da);
		u = arena_reload(&ar2, da);
		ref = dds_copy(da);
		dds_free(da);
		arena_reset(&ar);
		assert_same(c, dh);
		assert_same(u, dh);
		assert_same(ref, dh);
		dds_free(ref);
		dds_free(dh);
		arena_reset(&ar2);
	}
	arena_pool_trim();
}
END_TEST

static Suite *
ddsketch_suite(void)
{
	Suite	*s = suite_create("ddsketch");
	TCase	*tc = tcase_create("ddsketch");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_empty_and_params);
	tcase_add_test(tc, test_index_boundaries);
	tcase_add_test(tc, test_accuracy);
	tcase_add_test(tc, test_accuracy_alphas);
	tcase_add_test(tc, test_extremes);
	tcase_add_test(tc, test_add_bucket);
	tcase_add_test(tc, test_merge_equal);
	tcase_add_test(tc, test_merge_equal_collapsing);
	tcase_add_test(tc, test_merge_self);
	tcase_add_test(tc, test_merge_refused);
	tcase_add_test(tc, test_collapse);
	tcase_add_test(tc, test_sum_form);
	tcase_add_test(tc, test_sum_exact);
	tcase_add_test(tc, test_sparse_switch);
	tcase_add_test(tc, test_sparse_collapse);
	tcase_add_test(tc, test_merge_forms);
	tcase_add_test(tc, test_sparse_bytes);
	tcase_add_test(tc, test_sparse_large_counts);
	tcase_add_test(tc, test_hostile_fields);
	tcase_add_test(tc, test_hostile_sum);
	tcase_add_test(tc, test_hostile_bytes);
	tcase_add_test(tc, test_arena);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(ddsketch_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failures ? 1 : 0);
}
