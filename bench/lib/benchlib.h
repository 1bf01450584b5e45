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
 * What the benchmarks share: a fixed-seed generator, Zipf draws, medians
 * and a monotonic clock.  Deterministic, so every run sees the same data.
 */

#ifndef LAMINA_BENCHLIB_H
#define LAMINA_BENCHLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

uint64_t	 rng_next(void);
double		 rng_unit(void);
double		*zipf_new(size_t, double);
size_t		 zipf_draw(const double *, size_t);
uint32_t	 bench_hash(uint32_t);
double		 median(double *, int);
int64_t		 now_ns(void);
int64_t		 cpu_pid_ns(pid_t);
int64_t		 cpu_all_ns(void);
int64_t		 cpu_self_ns(void);
int64_t		 mem_peak_kib(pid_t);

#endif
