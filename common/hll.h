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
 * HyperLogLog++ distinct counting (Heule, Nunkesser and Hall, "HyperLogLog
 * in Practice", EDBT 2013): the state of a view's "distinct" metric.  The
 * state is a function of the set of hashes added and nothing else: adding
 * in any order, or splitting the input and merging the parts in any order
 * and tree shape, gives equal sketches (hll_equal) with byte-identical
 * hll_pack output.  Functions given a const sketch never change it, so
 * readers may share one; a writer needs it to itself.
 *
 * The _in functions put the sketch and everything it later grows into an
 * arena (arena.h), NULL meaning the heap as the plain ones do; hll_free
 * of an arena sketch releases nothing, arena_reset does.
 */

#ifndef LAMINA_HLL_H
#define LAMINA_HLL_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define HLL_P_MIN	4
#define HLL_P_MAX	18
#define HLL_FORMAT	1	/* version of the hll_pack form */

struct arena;
struct hll;
struct msg_reader;

struct hll	*hll_new(int);
struct hll	*hll_new_in(struct arena *, int);
void		 hll_free(struct hll *);
struct hll	*hll_copy(const struct hll *);
struct hll	*hll_copy_in(struct arena *, const struct hll *);
void		 hll_add_hash(struct hll *, uint64_t);
void		 hll_add(struct hll *, const void *, size_t);
int		 hll_merge(struct hll *, const struct hll *, char **);
double		 hll_estimate(const struct hll *);
uint64_t	 hll_count(const struct hll *);
int		 hll_equal(const struct hll *, const struct hll *);
void		 hll_pack(const struct hll *, msgpack_packer *);
struct hll	*hll_unpack(struct msg_reader *, char **);
struct hll	*hll_unpack_in(struct arena *, struct msg_reader *, char **);
size_t		 hll_bytes(const struct hll *);
int		 hll_precision(const struct hll *);
int		 hll_is_sparse(const struct hll *);
void		 hll_settle(struct hll *);
void		 hll_prefetch(const struct hll *);

#endif
