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
 * DDSketch (Masson, Rim, Lee, VLDB 2019): the state of the quantile metric.
 * Every quantile comes back within relative accuracy alpha of the exact one
 * (same rank definition: the element at 0-based rank floor(q * (n - 1))),
 * as long as its bucket was not collapsed (see ddsketch.c).  count, min,
 * max and sum are exact; the sum is kept as an exact fixed-point number, so
 * it does not depend on the order values were added in.
 *
 * The state is a pure function of the multiset of values added, collapse
 * included: dds_merge() in any order or tree gives a sketch dds_equal() to
 * the one that saw every value, and dds_pack() gives identical bytes.
 *
 * Serialized form, a msgpack array of ten:
 *
 *   [2, alpha, max_bins, zero_count, count, sum, min, max, positive, negative]
 *
 *   alpha	float64, the relative accuracy (gamma = (1+alpha)/(1-alpha))
 *   max_bins	buckets per store, 1..65536
 *   sum	float64 if the exact sum is a double, else [e, m]: the sum is
 *		m * 2^e with m a bin holding a big-endian two's complement
 *		integer (odd, shortest form)
 *   min, max	float64; 0.0 for an empty sketch; zeros are stored as +0.0
 *   stores	[offset, counts]: counts is a bin of unsigned LEB128 varints
 *		for the buckets from index offset upward (bucket i holds |x|
 *		in (gamma^(i-1), gamma^i]): the count of each non-zero one,
 *		and between two of them a run of r zero buckets as 0, r
 *		(r >= 1, a count after it); the first and last buckets are
 *		non-zero, and an empty store is [0, ""].  The negative store
 *		is indexed by |x|.  Version 1, still read, had a varint for
 *		every bucket from the first to the last, zeros included.
 *
 * dds_unpack() checks the fields against each other: the buckets and the
 * zero count add up to count, the signs of min and max are those of the
 * lowest and highest non-empty buckets, a positive max and a negative min
 * are in their stores' highest buckets, and the exact sum lies between
 * count * min and count * max (the sum of count values in [min, max]).
 *
 * The _in functions put the sketch and everything it later grows into an
 * arena (arena.h), NULL meaning the heap as the plain ones do; dds_free()
 * of an arena sketch releases nothing, arena_reset() does.
 */

#ifndef LAMINA_DDSKETCH_H
#define LAMINA_DDSKETCH_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define DDS_VERSION		2
#define DDS_ALPHA_MIN		1e-6	/* keeps bucket indices in 32 bits */
#define DDS_ALPHA_MAX		0.5	/* exclusive */
#define DDS_MAX_BINS_MAX	65536
#define DDS_DEFAULT_ALPHA	0.01
#define DDS_DEFAULT_MAX_BINS	4096	/* 35.5 decades per sign at 0.01 */

struct arena;
struct ddsketch;
struct msg_reader;

struct ddsketch *dds_new(double, int);
struct ddsketch *dds_new_in(struct arena *, double, int);
void	 dds_free(struct ddsketch *);
struct ddsketch *dds_copy(const struct ddsketch *);
struct ddsketch *dds_copy_in(struct arena *, const struct ddsketch *);
void	 dds_add(struct ddsketch *, double);
int64_t	 dds_bucket(const struct ddsketch *, double);
void	 dds_add_bucket(struct ddsketch *, double, int64_t);
int	 dds_merge(struct ddsketch *, const struct ddsketch *, char **);
double	 dds_quantile(const struct ddsketch *, double);
uint64_t dds_count(const struct ddsketch *);
double	 dds_min(const struct ddsketch *);
double	 dds_max(const struct ddsketch *);
double	 dds_sum(const struct ddsketch *);
double	 dds_alpha(const struct ddsketch *);
int	 dds_max_bins(const struct ddsketch *);
int	 dds_equal(const struct ddsketch *, const struct ddsketch *);
void	 dds_pack(const struct ddsketch *, msgpack_packer *);
struct ddsketch *dds_unpack(struct msg_reader *, char **);
struct ddsketch *dds_unpack_in(struct arena *, struct msg_reader *, char **);
size_t	 dds_bytes(const struct ddsketch *);
int	 dds_is_dense(const struct ddsketch *);
void	 dds_prefetch(const struct ddsketch *);

#endif
