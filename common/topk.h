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
 * Space-Saving (Metwally, Agrawal, El Abbadi 2005) with the merge of
 * Agarwal et al., "Mergeable Summaries" (PODS 2012): the state of the top
 * metric, heavy hitters of a string field with error bounds.  With k
 * counters and total weight n, every item whose true frequency exceeds
 * topk_error_bound() <= n / k is listed, and each listed item's true
 * frequency lies in [count - error, count].  While at most k distinct
 * items were seen, counts are exact and errors 0, and merging equals
 * adding every item to one sketch.  Beyond that merging is the one
 * approximate merge in lamina: its answers carry the bound above, for the
 * combined n, but depend on the merge order.
 *
 * Items are byte strings; only their first TOPK_ITEM_MAX bytes count, so
 * values that share those are one item, reported by that prefix.
 *
 * Serialized form, canonical (equal states give equal bytes):
 *
 *   [1, k, total, [[item (bin), count, error], ...]]
 *
 * with the items in topk_list() order: count descending, then item bytes
 * ascending (shorter first on a common prefix).
 *
 * The _in functions put the sketch and everything it later grows into an
 * arena (arena.h), NULL meaning the heap as the plain ones do; topk_free()
 * of an arena sketch releases nothing, arena_reset() does.
 */

#ifndef LAMINA_TOPK_H
#define LAMINA_TOPK_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define TOPK_VERSION	1
#define TOPK_K_MAX	65536
#define TOPK_ITEM_MAX	1024		/* bytes of an item that count */

/* One listed item; item is borrowed until the sketch next changes. */
struct topk_item {
	const void	*item;
	size_t		 len;
	uint64_t	 count;		/* upper bound of the true frequency */
	uint64_t	 error;		/* count - error is a lower bound */
};

struct arena;
struct topk;
struct msg_reader;

struct topk	*topk_new(int);
struct topk	*topk_new_in(struct arena *, int);
void		 topk_free(struct topk *);
struct topk	*topk_copy(const struct topk *);
struct topk	*topk_copy_in(struct arena *, const struct topk *);
void		 topk_add(struct topk *, const void *, size_t, uint64_t);
void		 topk_add_hashed(struct topk *, const void *, size_t, uint64_t,
		    uint64_t);
uint64_t	 topk_hash(const void *, size_t);
int		 topk_merge(struct topk *, const struct topk *, char **);
uint64_t	 topk_total(const struct topk *);
int		 topk_k(const struct topk *);
size_t		 topk_size(const struct topk *);
size_t		 topk_list(const struct topk *, struct topk_item *, size_t);
uint64_t	 topk_error_bound(const struct topk *);
int		 topk_equal(const struct topk *, const struct topk *);
void		 topk_pack(const struct topk *, msgpack_packer *);
struct topk	*topk_unpack(struct msg_reader *, char **);
struct topk	*topk_unpack_in(struct arena *, struct msg_reader *, char **);
size_t		 topk_bytes(const struct topk *);
void		 topk_prefetch(const struct topk *);

#endif
