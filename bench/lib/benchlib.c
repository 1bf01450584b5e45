/*
 * Copyright (c) 2026 The lamina authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES.
 */

/* Shared by the benchmarks (see benchlib.h). */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "benchlib.h"
#include "xmalloc.h"

static uint64_t	rng_state = 88172645463325252ULL;

/* The fixed-seed generator: xorshift64 (Marsaglia 2003). */
uint64_t
rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (rng_state);
}

/* Uniform in [0, 1). */
double
rng_unit(void)
{
	return ((rng_next() >> 11) * (1.0 / 9007199254740992.0));
}

/* The CDF of Zipf(s) over n ranks: cdf[i] = P(rank <= i). */
double *
zipf_new(size_t n, double s)
{
	double	*cdf, sum = 0;
	size_t	 i;

	cdf = xcalloc(n, sizeof(*cdf));
	for (i = 0; i < n; i++) {
		sum += 1.0 / pow((double)(i + 1), s);
		cdf[i] = sum;
	}
	for (i = 0; i < n; i++)
		cdf[i] /= sum;
	cdf[n - 1] = 1.0;
	return (cdf);
}

/* A rank drawn from cdf by binary search: the first i with cdf[i] > u. */
size_t
zipf_draw(const double *cdf, size_t n)
{
	double	u = rng_unit();
	size_t	lo = 0, hi = n - 1, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (lo);
}

/* Scramble a rank so that popular keys are not simply the small ids. */
uint32_t
bench_hash(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return (x);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* The median of v[0..n), sorting v. */
double
median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}
