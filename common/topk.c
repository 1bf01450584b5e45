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
 * Space-Saving top-k: k counters in a hash table (linear probing) and a
 * binary heap whose top is the counter that ranks last, kept only once all
 * k counters are in use (it finds the one to replace).  An add to a listed
 * item is O(1) (the heap catches up lazily), one that replaces a counter
 * O(log k) amortised.
 *
 * Ranking is one total order: count descending, then the item's hash
 * (topk_hash(), hash64 with seed 0, stable across versions and machines)
 * ascending, then item bytes ascending for the rare equal hashes.  An add
 * on a full sketch evicts the counter ranked last, and a merge keeps the k
 * ranked first; so the state (the set of items, counts and errors) is a
 * function of the input sequence, and is kept in no particular order.
 * Ties on count are the rule in a full sketch (most counters sit at the
 * minimum), and the hash breaks them without reading item bytes.  What
 * users see, topk_list() and the serialized form, is in another order:
 * count descending, then item bytes ascending.
 *
 * Add (weight w).  A listed item gains w.  An unlisted one takes a free
 * counter with count w, error 0, or, when all k are used, replaces the one
 * ranked last, of count m: count m + w, error m.
 *
 * Merge (Agarwal et al. 2012, section 3, via the isomorphism of
 * Space-Saving with Misra-Gries).  Let D_A be A's minimum count if A is
 * full, else 0: an item not in A occurred at most D_A times in A's input.
 * Every item of A or B becomes a candidate with
 *	count = cA + cB,  error = eA + eB,
 * where a side that does not list the item contributes D for both.  Keep
 * the k candidates ranked first.
 *
 * Why it holds.  Write S = sum of counts, n = total weight.
 *  (1) S <= n.  An add raises S and n by w.  In a merge, the sum over all
 *	candidates of (count - D_A - D_B) is (S_A - |A| D_A) + (S_B - |B|
 *	D_B), and |A| D_A = k D_A whenever D_A > 0; the k kept candidates
 *	have count >= D_A + D_B each, so S' <= S_A + S_B <= n_A + n_B.
 *  (2) Bounds.  count >= true frequency: by induction, as D bounds the
 *	side that does not list the item.  An item no longer listed has true
 *	frequency <= the new minimum count: dropped candidates rank below
 *	it, an item in neither input had at most D_A + D_B, and every
 *	candidate has count >= D_A + D_B.  count - error is a sum of lower
 *	bounds (0 for an unlisted side).
 *  (3) The guarantee.  topk_error_bound() is the minimum count when all k
 *	counters are used, else 0, and by (1) k * min <= S <= n: it is at
 *	most n / k, for the combined n after any merges.  An item with true
 *	frequency above it is listed.
 *  (4) Errors.  error <= minimum count (by induction: evictions set error
 *	to the old minimum, merges give eA + eB <= D_A + D_B <= the k-th
 *	count), and a sketch that does not use all k counters has errors 0
 *	and S = n.
 * When A and B together list at most k items (hence at most k distinct
 * items were seen), no D is ever non-zero: counts are exact and the merge
 * equals adding both inputs to one sketch, in any order.
 *
 * Memory.  The counters and the table start small (TOPK_CAP_MIN) and
 * grow fourfold up to k as items come: most sketches, one per row of a
 * view, see a few items.  The heap is allocated when the last counter is
 * taken.  (Outgrown arrays stay in an arena until it is reset.)
 * A sketch, its arrays and its items' bytes come from its arena
 * (NULL: the heap); a merge puts the items it takes from the other side
 * in the destination's.  An arena frees nothing until reset, so an add
 * that evicts a counter writes the new item over the old one's bytes when
 * they are long enough (they are allocated in multiples of 16, what an
 * arena takes anyway): a full sketch seeing new items does not grow its
 * arena by an item per add.  Scratch of one call (the merge's candidates,
 * sorted views) is on the heap.
 */

#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "arena.h"
#include "hash.h"
#include "msg.h"
#include "topk.h"
#include "xmalloc.h"

struct topk_entry {
	uint8_t		*item;		/* cap bytes allocated */
	uint64_t	 count;
	uint64_t	 error;
	uint64_t	 hash;
	int		 from;		/* merge scratch: counter of t, -1 */
	uint16_t	 len;		/* up to TOPK_ITEM_MAX */
	uint16_t	 cap;		/* 16 to TOPK_ITEM_MAX, 16 apart */
};

#define TOPK_CAP_MIN	4	/* counters first allocated; then x4 */

/*
 * A heap node: counter c with a copy of its count and of its hash's high
 * half, so that ordering the heap mostly reads the heap alone.  The copy
 * of the count may be stale (lower): an add to a listed item changes only
 * the counter, and the heap catches up when that node reaches the top
 * (topk_last).
 */
struct topk_node {
	uint64_t	 count;
	uint32_t	 hhi;		/* hash >> 32 */
	int		 c;
};

struct topk {
	struct arena		*a;	/* where it lives; NULL: the heap */
	int			 k;
	int			 n;	/* counters in use */
	int			 cap;	/* counters allocated, n to k */
	uint64_t		 total;
	struct topk_entry	*e;	/* cap counters, 0..n-1 in use */
	struct topk_node	*heap;	/* the last ranked on top; NULL
					   until n first reaches k */
	int			*table;	/* counter number + 1, 0 if free */
	size_t			 mask;	/* table size - 1, at least 2 cap */
};

/*
 * An item's hash: it breaks ties in the ranking, so it is part of what a
 * sketch computes and must not change.  agg.c hashes field values the same
 * way, and hands the hash over with topk_add_hashed().
 */
uint64_t
topk_hash(const void *buf, size_t len)
{
	return (hash64(buf, len, 0));
}

/* Compare item bytes: memcmp order, a prefix first. */
static int
item_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t		n = alen < blen ? alen : blen;
	uint64_t	x, y;

	/* Eight bytes at a time, as big-endian numbers: no call. */
	for (; n >= 8; a += 8, b += 8, n -= 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y) {
			x = be64toh(x);
			y = be64toh(y);
			return (x < y ? -1 : 1);
		}
	}
	for (; n > 0; a++, b++, n--)
		if (*a != *b)
			return (*a < *b ? -1 : 1);
	return (alen < blen ? -1 : alen > blen);
}

/* The ranking: negative if a ranks before b. */
static inline int
entry_rank(const struct topk_entry *a, const struct topk_entry *b)
{
	if (a->count != b->count)
		return (a->count > b->count ? -1 : 1);
	if (a->hash != b->hash)
		return (a->hash < b->hash ? -1 : 1);
	return (item_cmp(a->item, a->len, b->item, b->len));
}

/* The listing order: negative if a is listed before b. */
static int
entry_cmp(const struct topk_entry *a, const struct topk_entry *b)
{
	if (a->count != b->count)
		return (a->count > b->count ? -1 : 1);
	return (item_cmp(a->item, a->len, b->item, b->len));
}

static int
entry_rank_qsort_cmp(const void *a, const void *b)
{
	return (entry_rank(a, b));
}

static int
entry_ptr_qsort_cmp(const void *a, const void *b)
{
	const struct topk_entry	*const *x = a, *const *y = b;

	return (entry_cmp(*x, *y));
}

/* The counter of an item, or -1. */
static int
topk_find(const struct topk *t, const void *item, size_t len, uint64_t hash)
{
	const struct topk_entry	*e;
	size_t			 i;

	for (i = hash & t->mask; t->table[i] != 0; i = (i + 1) & t->mask) {
		e = &t->e[t->table[i] - 1];
		if (e->hash == hash && e->len == len &&
		    item_cmp(e->item, len, item, len) == 0)
			return (t->table[i] - 1);
	}
	return (-1);
}

static void
table_insert(struct topk *t, int c)
{
	size_t	i;

	for (i = t->e[c].hash & t->mask; t->table[i] != 0;
	    i = (i + 1) & t->mask)
		;
	t->table[i] = c + 1;
}

/* Remove counter c, shifting back the entries of its probe run. */
static void
table_remove(struct topk *t, int c)
{
	size_t	i, j, home;

	for (i = t->e[c].hash & t->mask; t->table[i] != c + 1;
	    i = (i + 1) & t->mask)
		;
	t->table[i] = 0;
	for (j = (i + 1) & t->mask; t->table[j] != 0; j = (j + 1) & t->mask) {
		home = t->e[t->table[j] - 1].hash & t->mask;
		/* Move j back to i unless its home lies in (i, j]. */
		if (i <= j ? (home <= i || home > j) :
		    (home <= i && home > j)) {
			t->table[i] = t->table[j];
			t->table[j] = 0;
			i = j;
		}
	}
}

/*
 * Node a ranks after node b, by the nodes' counts (which may be stale),
 * then the counters' hashes and bytes.
 */
static inline int
node_worse(const struct topk *t, const struct topk_node *a,
    const struct topk_node *b)
{
	const struct topk_entry	*x, *y;

	if (__builtin_expect(a->count == b->count && a->hhi == b->hhi, 0)) {
		x = &t->e[a->c];
		y = &t->e[b->c];
		if (x->hash != y->hash)
			return (x->hash > y->hash);
		return (item_cmp(x->item, x->len, y->item, y->len) > 0);
	}
	/* Without branches: these outcomes are coin tosses. */
	return ((a->count < b->count) |
	    ((a->count == b->count) & (a->hhi > b->hhi)));
}

/* Move node i down to its place. */
static void
heap_down(struct topk *t, int i)
{
	struct topk_node	 x = t->heap[i];
	int			 l, w;

	for (;;) {
		l = 2 * i + 1;
		if (l >= t->n)
			break;
		w = l + (l + 1 < t->n && node_worse(t, &t->heap[l + 1],
		    &t->heap[l]));
		if (!node_worse(t, &t->heap[w], &x))
			break;
		t->heap[i] = t->heap[w];
		i = w;
	}
	t->heap[i] = x;
}

/*
 * The counter ranked last, of a full sketch.  Counts only grow, so no
 * counter ranks after its node; once the top node is up to date, its
 * counter ranks after every node, and so after every counter.  A stale
 * top is brought up to date and moved down first: at most once per add
 * that made it stale.
 */
static int
topk_last(struct topk *t)
{
	int	c;

	while (t->heap[0].count != t->e[(c = t->heap[0].c)].count) {
		t->heap[0].count = t->e[c].count;
		heap_down(t, 0);
	}
	return (c);
}

/* Build the heap of a full sketch. */
static void
heap_build(struct topk *t)
{
	int	i;

	if (t->heap == NULL)
		t->heap = arena_calloc(t->a, t->k, sizeof(*t->heap));
	for (i = 0; i < t->n; i++) {
		t->heap[i].count = t->e[i].count;
		t->heap[i].hhi = (uint32_t)(t->e[i].hash >> 32);
		t->heap[i].c = i;
	}
	for (i = t->n / 2 - 1; i >= 0; i--)
		heap_down(t, i);
}

/* Rebuild the table, and the heap if every counter is used. */
static void
topk_reindex(struct topk *t)
{
	int	i;

	memset(t->table, 0, (t->mask + 1) * sizeof(*t->table));
	for (i = 0; i < t->n; i++)
		table_insert(t, i);
	if (t->n == t->k)
		heap_build(t);
}

/*
 * Room for at least want (<= k) counters: the counters grown fourfold up
 * to k, the table kept at least twice their number (refilled when it
 * grows).
 */
static void
topk_reserve(struct topk *t, int want)
{
	size_t	size = 4;
	int	cap, i;

	if (want <= t->cap)
		return;
	for (cap = t->cap; cap < want; cap *= 4)
		;
	if (cap > t->k)
		cap = t->k;
	t->e = arena_reallocarray(t->a, t->e, t->cap, cap, sizeof(*t->e));
	t->cap = cap;
	while (size < 2 * (size_t)cap)
		size *= 2;
	if (size == t->mask + 1)
		return;
	arena_free(t->a, t->table);
	t->table = arena_calloc(t->a, size, sizeof(*t->table));
	t->mask = size - 1;
	for (i = 0; i < t->n; i++)
		table_insert(t, i);
}

/* A copy of an item's bytes in a, with room for *cap (set here). */
static uint8_t *
item_dup(struct arena *a, const void *item, size_t len, uint16_t *cap)
{
	uint8_t	*p;
	size_t	 n;

	n = len == 0 ? 16 : (len + 15) & ~(size_t)15;
	p = arena_alloc(a, n);
	if (len > 0)
		memcpy(p, item, len);
	*cap = (uint16_t)n;
	return (p);
}

/*
 * An empty sketch of k counters in arena a (NULL: the heap); NULL if k is
 * out of 1..TOPK_K_MAX.
 */
struct topk *
topk_new_in(struct arena *a, int k)
{
	struct topk	*t;
	size_t		 size = 4;

	if (k < 1 || k > TOPK_K_MAX)
		return (NULL);
	t = arena_calloc(a, 1, sizeof(*t));
	t->a = a;
	t->k = k;
	t->cap = k < TOPK_CAP_MIN ? k : TOPK_CAP_MIN;
	while (size < 2 * (size_t)t->cap)
		size *= 2;
	t->e = arena_calloc(a, t->cap, sizeof(*t->e));
	t->table = arena_calloc(a, size, sizeof(*t->table));
	t->mask = size - 1;
	return (t);
}

struct topk *
topk_new(int k)
{
	return (topk_new_in(NULL, k));
}

/* Free a heap sketch; one in an arena waits for arena_reset. */
void
topk_free(struct topk *t)
{
	int	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		arena_free(t->a, t->e[i].item);
	arena_free(t->a, t->e);
	arena_free(t->a, t->heap);
	arena_free(t->a, t->table);
	arena_free(t->a, t);
}

/* A copy in arena a (NULL: the heap), sharing nothing with o. */
struct topk *
topk_copy_in(struct arena *a, const struct topk *o)
{
	struct topk	*t;
	int		 i;

	t = topk_new_in(a, o->k);
	topk_reserve(t, o->n);
	t->n = o->n;
	t->total = o->total;
	memcpy(t->e, o->e, o->n * sizeof(*t->e));
	for (i = 0; i < o->n; i++)
		t->e[i].item = item_dup(a, o->e[i].item, o->e[i].len,
		    &t->e[i].cap);
	if (o->heap != NULL && o->n == o->k) {
		t->heap = arena_alloc(a, t->k * sizeof(*t->heap));
		memcpy(t->heap, o->heap, o->n * sizeof(*t->heap));
	}
	for (i = 0; i < t->n; i++)
		table_insert(t, i);
	return (t);
}

struct topk *
topk_copy(const struct topk *o)
{
	return (topk_copy_in(NULL, o));
}

/*
 * Count an item weight times (weight 0 does nothing).  Items longer than
 * TOPK_ITEM_MAX are cut to it.  The total saturates at 2^64 - 1: weight
 * beyond that is dropped, keeping the bounds true.
 */
void
topk_add(struct topk *t, const void *item, size_t len, uint64_t weight)
{
	if (len > TOPK_ITEM_MAX)
		len = TOPK_ITEM_MAX;
	if (len == 0)
		item = "";
	topk_add_hashed(t, item, len, topk_hash(item, len), weight);
}

/*
 * topk_add() for a caller that has the item's topk_hash() already; an
 * item longer than TOPK_ITEM_MAX is hashed again once cut.
 */
void
topk_add_hashed(struct topk *t, const void *item, size_t len, uint64_t hash,
    uint64_t weight)
{
	struct topk_entry	*e;
	uint64_t		 m;
	int			 c;

	if (len > TOPK_ITEM_MAX) {
		len = TOPK_ITEM_MAX;
		hash = topk_hash(item, len);
	}
	if (len == 0)
		item = "";
	if (weight > UINT64_MAX - t->total)
		weight = UINT64_MAX - t->total;
	if (weight == 0)
		return;
	t->total += weight;
	if ((c = topk_find(t, item, len, hash)) != -1) {
		t->e[c].count += weight;	/* its node catches up later */
		return;
	}
	if (t->n < t->k) {
		if (t->n == t->cap)
			topk_reserve(t, t->n + 1);
		c = t->n++;
		e = &t->e[c];
		e->item = item_dup(t->a, item, len, &e->cap);
		e->len = (uint16_t)len;
		e->count = weight;
		e->error = 0;
		e->hash = hash;
		table_insert(t, c);
		/*
		 * The heap only matters once every counter is in use (it
		 * finds the one to replace): built then, not kept before.
		 */
		if (t->n == t->k)
			heap_build(t);
		return;
	}
	c = topk_last(t);
	e = &t->e[c];
	m = e->count;
	table_remove(t, c);
	if (len > e->cap) {
		arena_free(t->a, e->item);
		e->item = item_dup(t->a, item, len, &e->cap);
	} else
		memcpy(e->item, item, len);
	e->len = (uint16_t)len;
	e->count = m + weight;
	e->error = m;
	e->hash = hash;
	table_insert(t, c);
	t->heap[0].count = e->count;
	t->heap[0].hhi = (uint32_t)(hash >> 32);
	heap_down(t, 0);
}

/*
 * The minimum count when all k counters are used, else 0 (from the
 * counters: the heap's copies may be stale).
 */
static uint64_t
topk_floor(const struct topk *t)
{
	uint64_t	m;
	int		i;

	if (t->n < t->k)
		return (0);
	for (m = t->e[0].count, i = 1; i < t->n; i++)
		if (t->e[i].count < m)
			m = t->e[i].count;
	return (m);
}

/*
 * Fold o into t as described at the top of the file.  Needs the same k;
 * the totals must not overflow.
 */
int
topk_merge(struct topk *t, const struct topk *o, char **cause)
{
	struct topk_entry	*cand, *e;
	struct topk		*tmp;
	uint64_t		 dt, doth;
	int			 nc = 0, keep, i, j, rc;

	if (t->k != o->k) {
		xasprintf(cause, "topk: cannot merge k %d into k %d", o->k,
		    t->k);
		return (-1);
	}
	if (o->total > UINT64_MAX - t->total) {
		xasprintf(cause, "topk: merged total overflows");
		return (-1);
	}
	if (t == o) {
		tmp = topk_copy(o);
		rc = topk_merge(t, tmp, cause);
		topk_free(tmp);
		return (rc);
	}
	dt = topk_floor(t);
	doth = topk_floor(o);
	cand = xcalloc((size_t)t->n + o->n + 1, sizeof(*cand));
	for (i = 0; i < t->n; i++) {
		cand[nc] = t->e[i];
		cand[nc].from = i;		/* where the bytes are */
		j = topk_find(o, t->e[i].item, t->e[i].len, t->e[i].hash);
		cand[nc].count += j != -1 ? o->e[j].count : doth;
		cand[nc].error += j != -1 ? o->e[j].error : doth;
		nc++;
	}
	for (i = 0; i < o->n; i++) {
		if (topk_find(t, o->e[i].item, o->e[i].len,
		    o->e[i].hash) != -1)
			continue;
		cand[nc] = o->e[i];
		cand[nc].from = -1;
		cand[nc].count += dt;
		cand[nc].error += dt;
		nc++;
	}
	qsort(cand, nc, sizeof(*cand), entry_rank_qsort_cmp);
	keep = nc < t->k ? nc : t->k;
	for (i = 0; i < keep; i++) {
		if (cand[i].from >= 0)
			t->e[cand[i].from].item = NULL;	/* taken */
		else
			cand[i].item = item_dup(t->a, cand[i].item,
			    cand[i].len, &cand[i].cap);
	}
	for (i = 0; i < t->n; i++)
		arena_free(t->a, t->e[i].item);
	topk_reserve(t, keep);
	for (i = 0; i < keep; i++) {
		e = &t->e[i];
		*e = cand[i];
	}
	t->n = keep;
	t->total += o->total;
	topk_reindex(t);
	free(cand);
	return (0);
}

uint64_t
topk_total(const struct topk *t)
{
	return (t->total);
}

int
topk_k(const struct topk *t)
{
	return (t->k);
}

size_t
topk_size(const struct topk *t)
{
	return ((size_t)t->n);
}

/*
 * The counters in listing order: in small (TOPK_SMALL) when they fit,
 * else in an array to free.
 */
#define TOPK_SMALL	32

static const struct topk_entry **
topk_sorted(const struct topk *t, const struct topk_entry **small)
{
	const struct topk_entry	**v, *x;
	int			  i, j;

	v = t->n <= TOPK_SMALL ? small : xcalloc((size_t)t->n + 1,
	    sizeof(*v));
	for (i = 0; i < t->n; i++)
		v[i] = &t->e[i];
	if (t->n > TOPK_SMALL) {
		qsort(v, t->n, sizeof(*v), entry_ptr_qsort_cmp);
		return (v);
	}
	/* A few (every row's sketch is packed): insertion sort. */
	for (i = 1; i < t->n; i++) {
		x = v[i];
		for (j = i; j > 0 && entry_cmp(v[j - 1], x) > 0; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	return (v);
}

/*
 * Fill out with up to max items in listing order; returns how many were
 * written.  The item pointers are borrowed until the sketch next changes.
 */
size_t
topk_list(const struct topk *t, struct topk_item *out, size_t max)
{
	const struct topk_entry	**v, *small[TOPK_SMALL];
	size_t			  i, n;

	n = (size_t)t->n < max ? (size_t)t->n : max;
	if (n == 0)
		return (0);
	v = topk_sorted(t, small);
	for (i = 0; i < n; i++) {
		out[i].item = v[i]->item;
		out[i].len = v[i]->len;
		out[i].count = v[i]->count;
		out[i].error = v[i]->error;
	}
	if (v != small)
		free(v);
	return (n);
}

/* Every item with a true frequency above this is listed; <= total / k. */
uint64_t
topk_error_bound(const struct topk *t)
{
	return (topk_floor(t));
}

int
topk_equal(const struct topk *a, const struct topk *b)
{
	const struct topk_entry	*e;
	int			 i, j;

	if (a->k != b->k || a->total != b->total || a->n != b->n)
		return (0);
	for (i = 0; i < a->n; i++) {
		e = &a->e[i];
		if ((j = topk_find(b, e->item, e->len, e->hash)) == -1 ||
		    b->e[j].count != e->count || b->e[j].error != e->error)
			return (0);
	}
	return (1);
}

/* The canonical serialized form described in topk.h. */
void
topk_pack(const struct topk *t, msgpack_packer *pk)
{
	const struct topk_entry	**v, *small[TOPK_SMALL];
	int			  i;

	v = topk_sorted(t, small);
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint64(pk, TOPK_VERSION);
	msgpack_pack_uint64(pk, (uint64_t)t->k);
	msgpack_pack_uint64(pk, t->total);
	msgpack_pack_array(pk, t->n);
	for (i = 0; i < t->n; i++) {
		msgpack_pack_array(pk, 3);
		msgpack_pack_bin(pk, v[i]->len);
		msgpack_pack_bin_body(pk, v[i]->item, v[i]->len);
		msgpack_pack_uint64(pk, v[i]->count);
		msgpack_pack_uint64(pk, v[i]->error);
	}
	if (v != small)
		free(v);
}

/* Read one [item, count, error] into counter c, checking it alone. */
static int
topk_unpack_item(struct msg_reader *r, struct topk *t, uint32_t c,
    char **cause)
{
	struct topk_entry	*e = &t->e[c];
	const uint8_t		*item;
	size_t			 len;
	uint32_t		 n;

	if (msg_get_array(r, &n) == -1)
		goto bad;
	if (n != 3) {
		xasprintf(cause, "topk: item %u: %u fields, expected 3", c, n);
		return (-1);
	}
	if (msg_get_strbin(r, &item, &len) == -1 ||
	    msg_get_uint(r, &e->count) == -1 ||
	    msg_get_uint(r, &e->error) == -1)
		goto bad;
	if (len > TOPK_ITEM_MAX) {
		xasprintf(cause, "topk: item %u: %zu bytes, more than %d", c,
		    len, TOPK_ITEM_MAX);
		return (-1);
	}
	if (e->count == 0) {
		xasprintf(cause, "topk: item %u: count 0", c);
		return (-1);
	}
	if (e->error > e->count) {
		xasprintf(cause, "topk: item %u: error %llu over count %llu",
		    c, (unsigned long long)e->error,
		    (unsigned long long)e->count);
		return (-1);
	}
	e->hash = topk_hash(item, len);
	if (topk_find(t, item, len, e->hash) != -1) {
		xasprintf(cause, "topk: item %u: duplicate", c);
		return (-1);
	}
	e->item = item_dup(t->a, item, len, &e->cap);
	e->len = (uint16_t)len;
	return (0);

bad:
	xasprintf(cause, "topk: item %u: %s", c, msg_error(r));
	return (-1);
}

/*
 * Read a sketch packed by topk_pack() into arena a (NULL: the heap),
 * refusing anything malformed or inconsistent (see (1) and (4) at the top
 * of the file) with a cause; on failure, what was allocated in a stays
 * there until reset.
 */
struct topk *
topk_unpack_in(struct arena *a, struct msg_reader *r, char **cause)
{
	struct topk	*t = NULL;
	const char	*field;
	uint64_t	 version, k, total, sum = 0, floor;
	uint32_t	 n, i;

	field = "array";
	if (msg_get_array(r, &n) == -1)
		goto bad;
	if (n != 4) {
		xasprintf(cause, "topk: %u fields, expected 4", n);
		return (NULL);
	}
	field = "version";
	if (msg_get_uint(r, &version) == -1)
		goto bad;
	if (version != TOPK_VERSION) {
		xasprintf(cause, "topk: unsupported version %llu",
		    (unsigned long long)version);
		return (NULL);
	}
	field = "k";
	if (msg_get_uint(r, &k) == -1)
		goto bad;
	if (k < 1 || k > TOPK_K_MAX) {
		xasprintf(cause, "topk: k %llu out of range",
		    (unsigned long long)k);
		return (NULL);
	}
	field = "total";
	if (msg_get_uint(r, &total) == -1)
		goto bad;
	field = "items";
	if (msg_get_array(r, &n) == -1)
		goto bad;
	if (n > k) {
		xasprintf(cause, "topk: %u items, more than k %llu", n,
		    (unsigned long long)k);
		return (NULL);
	}
	t = topk_new_in(a, (int)k);
	topk_reserve(t, (int)n);
	t->total = total;
	for (i = 0; i < n; i++) {
		if (topk_unpack_item(r, t, i, cause) == -1)
			goto fail;
		t->n++;
		table_insert(t, i);
		if (i > 0 && entry_cmp(&t->e[i - 1], &t->e[i]) > 0) {
			xasprintf(cause, "topk: item %u: out of order", i);
			goto fail;
		}
		if (t->e[i].count > total - sum) {
			xasprintf(cause, "topk: counts sum to more than total "
			    "%llu", (unsigned long long)total);
			goto fail;
		}
		sum += t->e[i].count;
	}
	topk_reindex(t);
	floor = topk_floor(t);
	for (i = 0; i < n; i++) {
		if (t->e[i].error > floor) {
			xasprintf(cause, "topk: item %u: error %llu over the "
			    "minimum count %llu", i,
			    (unsigned long long)t->e[i].error,
			    (unsigned long long)floor);
			goto fail;
		}
	}
	if (t->n < t->k && sum != total) {
		xasprintf(cause, "topk: %u of %llu counters used but counts "
		    "sum to %llu, not total %llu", n, (unsigned long long)k,
		    (unsigned long long)sum, (unsigned long long)total);
		goto fail;
	}
	return (t);

bad:
	xasprintf(cause, "topk: %s: %s", field, msg_error(r));
fail:
	topk_free(t);
	return (NULL);
}

struct topk *
topk_unpack(struct msg_reader *r, char **cause)
{
	return (topk_unpack_in(NULL, r, cause));
}

/* Memory held, for accounting against configured limits. */
size_t
topk_bytes(const struct topk *t)
{
	size_t	n;
	int	i;

	n = sizeof(*t) + (size_t)t->cap * sizeof(*t->e) +
	    (t->heap != NULL ? (size_t)t->k * sizeof(*t->heap) : 0) +
	    (t->mask + 1) * sizeof(*t->table);
	for (i = 0; i < t->n; i++)
		n += t->e[i].cap;
	return (n);
}

/* Ask for the counters packing t will read (a hint; reads only t). */
void
topk_prefetch(const struct topk *t)
{
	int	i;

	for (i = 0; i < t->n; i += 64 / (int)sizeof(*t->e))
		__builtin_prefetch(&t->e[i]);
}
