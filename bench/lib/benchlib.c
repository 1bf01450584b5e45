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

#include <sys/resource.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Monotonic wall time in ns. */
int64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* CPU time (user + system) of process pid, all threads, in ns. */
int64_t
cpu_pid_ns(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	ssize_t		 n;
	int		 fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return (0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	/* After "pid (comm)": state is field 3, utime 14, stime 15. */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
	    &st) != 2)
		return (0);
	return ((int64_t)(ut + st) * (1000000000 / sysconf(_SC_CLK_TCK)));
}

/* The largest resident memory of process pid so far (VmHWM), in KiB. */
int64_t
mem_peak_kib(pid_t pid)
{
	char		 path[64], line[256];
	long long	 kib = 0;
	FILE		*f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %lld kB", &kib) == 1)
			break;
	fclose(f);
	return (kib);
}

/* CPU time spent by the whole machine (all cores, not idle) in ns. */
int64_t
cpu_all_ns(void)
{
	unsigned long long	 v[8];
	FILE			*f;
	int			 n;

	if ((f = fopen("/proc/stat", "r")) == NULL)
		return (0);
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return (0);
	/* user nice system [idle iowait] irq softirq steal */
	return ((int64_t)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) *
	    (1000000000 / sysconf(_SC_CLK_TCK)));
}

/* CPU time of this process in ns. */
int64_t
cpu_self_ns(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	    1000000000 + (int64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) *
	    1000);
}
