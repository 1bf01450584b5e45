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
 * HyperLogLog++: S. Heule, M. Nunkesser and A. Hall, "HyperLogLog in
 * Practice: Algorithmic Engineering of a State of The Art Cardinality
 * Estimation Algorithm", EDBT 2013 (doi:10.1145/2452376.2452456), on top of
 * P. Flajolet, E. Fusy, O. Gandouet and F. Meunier, "HyperLogLog", AofA
 * 2007.  With precision p there are m = 2^p registers; the standard error
 * is about 1.04/sqrt(m), 0.81% at p = 14.
 *
 * Hashes are 64 bits (hash64), so no large-range correction is needed.
 * The top p bits choose a register, which keeps the largest rank (1 + the
 * number of leading zeros of the other 64 - p bits, at most 65 - p).
 *
 * Sparse form.  While few registers would be set, the sketch keeps a list
 * of entries at the higher precision p' = 25 instead, as in the paper's
 * EncodeHash: for a hash x with idx' its top 25 bits, when the bits of idx'
 * below the top p are not all zero they already determine the rank at
 * precision p and the entry is idx' alone; when they are zero the entry
 * also carries r', the rank of the remaining 39 bits (1..40).  We lay an
 * entry out as the 31-bit integer idx' << 6 | r', with r' = 0 standing for
 * the paper's flag bit 0, so that integer order sorts by idx' and, for one
 * idx', by rank.  The list is sorted with one entry per idx' (the largest);
 * new entries go to an unsorted buffer first, which is sorted and merged in
 * batches (hll_flush) of at least a quarter of the list, so an add costs
 * O(log n) amortised.  An add is not looked up in the list (a binary
 * search, a cache miss or two, for a value that is mostly new): the merge
 * keeps the largest entry of each idx' anyway.  While sparse, the
 * estimate is LinearCounting over the m' = 2^25 registers of precision p',
 * essentially exact at the cardinalities involved (see the error table).
 *
 * The sparse/dense rule is canonical.  A sketch is dense if and only if the
 * hashes added to it (or to anything merged into it) have more than
 * HLL_SPARSE_MAX(p) = m/4 distinct idx'.  That count only grows as hashes
 * are added, so "converted at some point" equals "over the limit at the
 * end", whatever the order, and a merge is dense if either side is (a dense
 * side was over the limit) or the union of two sparse lists is over it.
 * Converting writes each entry's rank at precision p into its register;
 * that rank equals the one the hash would have written directly, so the
 * dense registers are the maximum over all hashes either way.  Hence the
 * state, and its serialized form, depends only on the set of hashes: merge
 * equals recomputation.  Observers (estimate, pack, equal) of a sketch with
 * buffered entries work on a settled copy (hll_settled) and leave the
 * sketch as it is.
 *
 * Sizes: dense registers take one byte each in memory (m bytes) and 6 bits
 * each when serialized (3m/4 bytes).  The sparse limit of m/4 entries makes
 * the sorted list at most m bytes in memory (4 bytes an entry) and, with
 * varint deltas of about 3 bytes an entry at p = 14, about 3m/4 bytes on
 * the wire: the conversion happens where the sparse form stops being
 * smaller.  The buffer adds at most max(32, m/16) entries.
 *
 * Estimate (dense), as in the paper's final algorithm: the raw estimate
 * E = alpha_m m^2 / sum(2^-M[j]); for E <= 5m, E is bias-corrected; if some
 * registers are zero, the LinearCounting estimate H = m ln(m / V) is used
 * instead when H is at most the paper's threshold for p (from its
 * appendix, reproduced in hll_thresholds).  The paper's empirical bias
 * tables are not reproduced here; we derived our own the same way
 * (hll_bias_raw, produced by the generator at the end of this file): for
 * each p, the mean raw estimate over many simulated random streams at
 * evenly spaced cardinalities n_i from 0 to 5m.  The correction inverts
 * that mean curve by linear interpolation: E maps to the n at which the
 * mean raw estimate is E, i.e. E minus the bias interpolated at E (the
 * paper averages the 6 nearest neighbours instead; interpolation has no
 * edge effects).  Measured error of the whole estimator: see the table
 * before the bias tables.
 *
 * Serialized form (hll_pack), version HLL_FORMAT = 1: the msgpack array
 * [1, p, sparse, payload] with sparse 0 or 1 and payload a bin:
 *   sparse: the sorted entries as unsigned LEB128 varints of the
 *	differences between consecutive entries (the first from 0), each in
 *	its shortest form;
 *   dense: the m registers packed 6 bits each, little-endian: registers
 *	4k..4k+3 fill bytes 3k..3k+2 as r0 | r1 << 6 | r2 << 12 | r3 << 18.
 * Equal states give identical bytes; hll_unpack accepts only that canonical
 * form, checking every field before it allocates (at most m bytes).
 *
 * Memory.  A sketch, its registers, list and buffer all come from its arena
 * (NULL: the heap), growth included, and a merge grows the destination in
 * the destination's.  Scratch that does not outlive a call (the sort
 * buffer, settled copies, pack output) is on the heap instead: an arena
 * would hold it until reset, and the observers, which make settled copies,
 * take a const sketch that readers may share, so they must not allocate
 * from its arena.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "arena.h"
#include "hash.h"
#include "hll.h"
#include "log.h"
#include "msg.h"
#include "xmalloc.h"

#define HLL_PP		25		/* p', the sparse precision */
#define HLL_RANK_PP	(64 - HLL_PP + 1)	/* largest r' */
#define HLL_ENTRY_MAX	((1U << (HLL_PP + 6)) - 1)
#define HLL_BUF_MIN	32

#define HLL_M(p)		((size_t)1 << (p))
#define HLL_RANK_MAX(p)		(64 - (p) + 1)
#define HLL_SPARSE_MAX(p)	((size_t)1 << ((p) - 2))
#define HLL_DENSE_BYTES(p)	(HLL_M(p) / 4 * 3)

struct hll {
	struct arena	*a;		/* where it lives; NULL: the heap */
	int		 p;
	int		 sparse;	/* list/buf in use, else regs */
	uint8_t		*regs;		/* dense: m registers */
	uint32_t	*list;		/* sparse: sorted, one per idx' */
	size_t		 nlist;
	size_t		 listcap;
	uint32_t	*buf;		/* sparse: entries not yet merged */
	size_t		 nbuf;
	size_t		 bufcap;
};

/*
 * The paper's LinearCounting switch-over points, for p = 4..18 (Heule et
 * al. 2013, appendix): use H = m ln(m/V) while H is at most this.
 */
static const double hll_thresholds[HLL_P_MAX - HLL_P_MIN + 1] = {
	10, 20, 40, 80, 220, 400, 900, 1800, 3100, 6500, 11500, 20000,
	50000, 120000, 350000
};

static const double	*hll_bias_curve(int, size_t *);

/* The register and rank of hash x at precision p. */
static inline void
hll_dense_hash(int p, uint64_t x, uint32_t *idx, uint8_t *rank)
{
	*idx = (uint32_t)(x >> (64 - p));
	*rank = (uint8_t)(__builtin_clzll(x << p | 1ULL << (p - 1)) + 1);
}

/* The sparse entry of hash x (the paper's EncodeHash). */
static inline uint32_t
hll_encode(int p, uint64_t x)
{
	uint32_t	idx = (uint32_t)(x >> (64 - HLL_PP)), r;

	if ((idx & ((1U << (HLL_PP - p)) - 1)) != 0)
		return (idx << 6);
	r = (uint32_t)__builtin_clzll(x << HLL_PP | 1ULL << (HLL_PP - 1)) + 1;
	return (idx << 6 | r);
}

/* The register and rank at precision p of an entry (DecodeHash). */
static inline void
hll_decode(int p, uint32_t e, uint32_t *idx, uint8_t *rank)
{
	uint32_t	ip = e >> 6, r = e & 63, low;

	*idx = ip >> (HLL_PP - p);
	if (r != 0)
		*rank = (uint8_t)(HLL_PP - p + r);
	else {
		low = ip & ((1U << (HLL_PP - p)) - 1);
		*rank = (uint8_t)(HLL_PP - p - (32 - __builtin_clz(low)) + 1);
	}
}

/*
 * Create an empty sketch with precision p in arena a (NULL: the heap); p
 * out of range is our bug.
 */
struct hll *
hll_new_in(struct arena *a, int p)
{
	struct hll	*h;

	if (p < HLL_P_MIN || p > HLL_P_MAX)
		fatalx("hll_new: precision %d out of range", p);
	h = arena_calloc(a, 1, sizeof(*h));
	h->a = a;
	h->p = p;
	h->sparse = 1;
	return (h);
}

struct hll *
hll_new(int p)
{
	return (hll_new_in(NULL, p));
}

/* Free a heap sketch; one in an arena waits for arena_reset. */
void
hll_free(struct hll *h)
{
	if (h == NULL)
		return;
	arena_free(h->a, h->regs);
	arena_free(h->a, h->list);
	arena_free(h->a, h->buf);
	arena_free(h->a, h);
}

/* Switch a sparse sketch to registers; its buffer must be empty. */
static void
hll_to_dense(struct hll *h)
{
	uint32_t	idx;
	uint8_t		rank;
	size_t		i;

	h->regs = arena_calloc(h->a, HLL_M(h->p), 1);
	for (i = 0; i < h->nlist; i++) {
		hll_decode(h->p, h->list[i], &idx, &rank);
		if (rank > h->regs[idx])
			h->regs[idx] = rank;
	}
	arena_free(h->a, h->list);
	arena_free(h->a, h->buf);
	h->list = h->buf = NULL;
	h->nlist = h->listcap = h->nbuf = h->bufcap = 0;
	h->sparse = 0;
}

/*
 * Merge two ascending runs of entries, keeping the largest entry of each
 * idx': the na at the front of v, which has room for cap >= na + nb, and
 * the nb of b; b may repeat an idx', v may not.  The merge runs from the
 * top down and writes from the end of v, so a write never reaches an
 * unread entry of v (the write position stays at or above the count of
 * entries still to read).  Returns where the result starts; it ends at
 * cap.
 */
static size_t
hll_union_down(uint32_t *v, size_t na, const uint32_t *b, size_t nb,
    size_t cap)
{
	size_t		i = na, j = nb, w = cap, fresh, ta;
	uint32_t	x, xa, xb, last = UINT32_MAX;

	/*
	 * Descending: the first entry of an idx' is its largest.  Which
	 * side goes next, and whether its idx' is new, are coin tosses:
	 * decided without branches.
	 */
	while (i > 0 && j > 0) {
		xa = v[i - 1];
		xb = b[j - 1];
		ta = xa >= xb;
		x = ta ? xa : xb;
		i -= ta;
		j -= 1 - ta;
		fresh = x >> 6 != last;
		w -= fresh;
		v[w] = fresh ? x : v[w];
		last = x >> 6;
	}
	while (j > 0) {
		x = b[--j];
		if (x >> 6 != last)
			v[--w] = x;
		last = x >> 6;
	}
	while (i > 0) {
		x = v[--i];
		if (x >> 6 != last)
			v[--w] = x;
		last = x >> 6;
	}
	return (w);
}

#define HLL_SORT_FEW	16		/* entries: insertion sort */
#define HLL_SORT_SPREAD	1024		/* entries: spread, then insertion */

/* Insert each of the n entries at src into place in v[0..n). */
static void
hll_insertion(uint32_t *v, const uint32_t *src, size_t n)
{
	size_t		i, j;
	uint32_t	c;

	for (i = 0; i < n; i++) {
		c = src[i];
		for (j = i; j > 0 && v[j - 1] > c; j--)
			v[j] = v[j - 1];
		v[j] = c;
	}
}

/*
 * Sort n entries.  A few: insertion sort.  Up to HLL_SORT_SPREAD: spread
 * them over about n slots by their top bits (a counting sort; entries
 * are hashes, so nearly one to a slot), then an insertion sort, which
 * finds them almost in order.  More: LSD radix sort, 8 bits a pass.
 */
static void
hll_sort(uint32_t *v, size_t n)
{
	uint32_t	*tmp, *src = v, *dst, *t, few[HLL_SORT_SPREAD];
	size_t		 count[HLL_SORT_SPREAD + 1], i, sum, c;
	int		 shift, bits;

	if (n <= HLL_SORT_FEW) {
		hll_insertion(v, v, n);
		return;
	}
	if (n <= HLL_SORT_SPREAD) {
		for (bits = 1; ((size_t)1 << bits) < n; bits++)
			;
		shift = HLL_PP + 6 - bits;	/* entries have 31 bits */
		memset(count, 0, (((size_t)1 << bits) + 1) * sizeof(*count));
		for (i = 0; i < n; i++)
			count[(v[i] >> shift) + 1]++;
		for (i = 0; i < ((size_t)1 << bits); i++)
			count[i + 1] += count[i];
		for (i = 0; i < n; i++)
			few[count[v[i] >> shift]++] = v[i];
		hll_insertion(v, few, n);
		return;
	}
	tmp = dst = xreallocarray(NULL, n, sizeof(*tmp));
	for (shift = 0; shift < 32; shift += 8) {
		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i] >> shift) & 0xff]++;
		for (i = 0, sum = 0; i < 256; i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 0xff]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	free(tmp);		/* an even number of passes: v is sorted */
}

/*
 * Union the sorted entries in add (which may repeat an idx') into the
 * list, then apply the canonical rule: over the limit means dense.  The
 * list is resized, not replaced, so that in an arena it can grow in place
 * and otherwise leaves one dead copy rather than one per flush.
 */
static void
hll_union_list(struct hll *h, const uint32_t *add, size_t nadd)
{
	size_t	cap, w;

	if (nadd == 0)
		return;
	cap = h->nlist + nadd;
	h->list = arena_reallocarray(h->a, h->list, h->listcap, cap,
	    sizeof(*h->list));
	h->listcap = cap;
	w = hll_union_down(h->list, h->nlist, add, nadd, cap);
	h->nlist = cap - w;
	memmove(h->list, h->list + w, h->nlist * sizeof(*h->list));
	if (h->nlist > HLL_SPARSE_MAX(h->p))
		hll_to_dense(h);
	else if (h->listcap > h->nlist + h->nlist / 4 + 8) {
		h->list = arena_reallocarray(h->a, h->list, h->listcap,
		    h->nlist, sizeof(*h->list));
		h->listcap = h->nlist;
	}
}

/* Merge the buffer into the list; may make the sketch dense. */
static void
hll_flush(struct hll *h)
{
	uint32_t	*list;
	size_t		 nbuf = h->nbuf, i, n, cap;

	if (!h->sparse || nbuf == 0)
		return;
	hll_sort(h->buf, nbuf);
	h->nbuf = 0;
	if (h->nlist > 0) {
		hll_union_list(h, h->buf, nbuf);
		return;
	}
	/*
	 * An empty list (most sketches, one per row, never hold more than
	 * a buffer): the buffer, its repeats dropped, becomes the list, and
	 * the list's array the buffer.  Sorted, an idx' ends with its
	 * largest entry.
	 */
	for (n = 0, i = 0; i < nbuf; i++) {
		if (n > 0 && h->buf[n - 1] >> 6 == h->buf[i] >> 6)
			n--;
		h->buf[n++] = h->buf[i];
	}
	list = h->list;
	cap = h->listcap;
	h->list = h->buf;
	h->listcap = h->bufcap;
	h->nlist = n;
	h->buf = list;
	h->bufcap = cap;
	if (h->nlist > HLL_SPARSE_MAX(h->p))
		hll_to_dense(h);
}

/* Add a 64-bit hash; hashes should be uniform, as hash64's are. */
void
hll_add_hash(struct hll *h, uint64_t x)
{
	uint32_t	idx, e;
	uint8_t		rank;
	size_t		limit, cap;

	if (h->sparse) {
		e = hll_encode(h->p, x);
		if (h->nbuf == h->bufcap) {
			limit = h->nlist / 4;
			if (limit < HLL_BUF_MIN)
				limit = HLL_BUF_MIN;
			/* Full at its limit: flushed (arrays may swap). */
			if (h->bufcap >= limit)
				hll_flush(h);
			if (h->sparse && h->nbuf == h->bufcap) {
				cap = h->bufcap == 0 ? 8 : h->bufcap * 2;
				if (cap > limit)
					cap = limit;
				h->buf = arena_reallocarray(h->a, h->buf,
				    h->bufcap, cap, sizeof(*h->buf));
				h->bufcap = cap;
			}
		}
		if (h->sparse) {
			h->buf[h->nbuf++] = e;
			return;
		}
	}
	hll_dense_hash(h->p, x, &idx, &rank);
	if (rank > h->regs[idx])
		h->regs[idx] = rank;
}

/* Add len bytes at buf: hash64 with seed 0. */
void
hll_add(struct hll *h, const void *buf, size_t len)
{
	hll_add_hash(h, hash64(buf, len, 0));
}

/*
 * A settled copy in arena a (NULL: the heap): buffer merged, so in
 * canonical form.  h is not changed, and its arena not touched.
 */
struct hll *
hll_copy_in(struct arena *a, const struct hll *h)
{
	struct hll	*c;
	uint32_t	*tmp;

	c = hll_new_in(a, h->p);
	if (!h->sparse) {
		c->sparse = 0;
		c->regs = arena_alloc(a, HLL_M(h->p));
		memcpy(c->regs, h->regs, HLL_M(h->p));
		return (c);
	}
	if (h->nlist > 0) {
		c->list = arena_reallocarray(a, NULL, 0, h->nlist,
		    sizeof(*c->list));
		memcpy(c->list, h->list, h->nlist * sizeof(*c->list));
		c->nlist = c->listcap = h->nlist;
	}
	if (h->nbuf > 0) {
		/* Sorted in scratch: the copy keeps no buffer. */
		tmp = xreallocarray(NULL, h->nbuf, sizeof(*tmp));
		memcpy(tmp, h->buf, h->nbuf * sizeof(*tmp));
		hll_sort(tmp, h->nbuf);
		hll_union_list(c, tmp, h->nbuf);
		free(tmp);
	}
	return (c);
}

struct hll *
hll_copy(const struct hll *h)
{
	return (hll_copy_in(NULL, h));
}

/*
 * h if it is in canonical form (nothing buffered), else a settled copy,
 * which is also left in *tmp for the caller to free.
 */
static const struct hll *
hll_settled(const struct hll *h, struct hll **tmp)
{
	*tmp = NULL;
	if (!h->sparse || h->nbuf == 0)
		return (h);
	*tmp = hll_copy(h);
	return (*tmp);
}

/*
 * Merge src into dst (src is unchanged): dst becomes the sketch of the
 * union.  Fails if the precisions differ.
 */
int
hll_merge(struct hll *dst, const struct hll *src, char **cause)
{
	const uint32_t	*add;
	uint32_t	*tmp = NULL, idx;
	uint8_t		 rank;
	size_t		 i, nadd;

	if (dst->p != src->p) {
		xasprintf(cause, "hll: cannot merge precision %d into %d",
		    src->p, dst->p);
		return (-1);
	}
	if (dst == src)
		return (0);
	hll_flush(dst);
	if (dst->sparse && src->sparse) {
		/* src's list and buffer, sorted, into dst's list. */
		if (src->nbuf == 0) {
			add = src->list;
			nadd = src->nlist;
		} else {
			nadd = src->nlist + src->nbuf;
			tmp = xreallocarray(NULL, nadd, sizeof(*tmp));
			if (src->nlist > 0)
				memcpy(tmp, src->list,
				    src->nlist * sizeof(*tmp));
			memcpy(tmp + src->nlist, src->buf,
			    src->nbuf * sizeof(*tmp));
			hll_sort(tmp, nadd);
			add = tmp;
		}
		hll_union_list(dst, add, nadd);
		free(tmp);
		return (0);
	}
	if (dst->sparse)
		hll_to_dense(dst);
	if (!src->sparse) {
		for (i = 0; i < HLL_M(dst->p); i++) {
			if (src->regs[i] > dst->regs[i])
				dst->regs[i] = src->regs[i];
		}
		return (0);
	}
	for (i = 0; i < src->nlist + src->nbuf; i++) {
		if (i < src->nlist)
			hll_decode(dst->p, src->list[i], &idx, &rank);
		else
			hll_decode(dst->p, src->buf[i - src->nlist], &idx,
			    &rank);
		if (rank > dst->regs[idx])
			dst->regs[idx] = rank;
	}
	return (0);
}

/* LinearCounting: m buckets of which v are empty. */
static double
hll_linear(double m, double v)
{
	return (m * log(m / v));
}

/* The constant alpha_m of the raw estimate (Flajolet et al. 2007). */
static double
hll_alpha(size_t m)
{
	switch (m) {
	case 16:
		return (0.673);
	case 32:
		return (0.697);
	case 64:
		return (0.709);
	default:
		return (0.7213 / (1 + 1.079 / m));
	}
}

/* 2^-r exactly, for r <= 64, without ldexp: the IEEE 754 exponent field. */
static inline double
hll_pow2neg(uint8_t r)
{
	uint64_t	bits = (uint64_t)(1023 - r) << 52;
	double		d;

	memcpy(&d, &bits, sizeof(d));
	return (d);
}

/* The raw HyperLogLog estimate and the number of zero registers. */
static double
hll_raw(const struct hll *h, size_t *zeros)
{
	size_t	 m = HLL_M(h->p), j, v = 0;
	double	 sum = 0;

	for (j = 0; j < m; j++) {
		sum += hll_pow2neg(h->regs[j]);
		v += h->regs[j] == 0;
	}
	*zeros = v;
	return (hll_alpha(m) * m * m / sum);
}

/*
 * Correct a raw estimate e <= 5m: the cardinality at which the mean raw
 * estimate is e, by linear interpolation in the table for p.
 */
static double
hll_correct(int p, double e)
{
	const double	*raw;
	size_t		 n, lo, hi, mid;
	double		 m = (double)HLL_M(p), x0, x1, n0, n1;

	raw = hll_bias_curve(p, &n);
	if (e <= raw[0] * m)
		return (e - raw[0] * m);	/* bias at n = 0 */
	if (e >= raw[n - 1] * m)
		return (e - (raw[n - 1] * m - 5 * m));
	lo = 0;
	hi = n - 1;
	while (hi - lo > 1) {		/* raw[lo] * m <= e < raw[hi] * m */
		mid = lo + (hi - lo) / 2;
		if (raw[mid] * m <= e)
			lo = mid;
		else
			hi = mid;
	}
	x0 = raw[lo] * m;
	x1 = raw[hi] * m;
	n0 = 5 * m * (double)lo / (double)(n - 1);
	n1 = 5 * m * (double)hi / (double)(n - 1);
	return (n0 + (e - x0) / (x1 - x0) * (n1 - n0));
}

/* The estimate of a settled sketch. */
static double
hll_estimate_settled(const struct hll *h)
{
	double	m, e, lc;
	size_t	zeros;

	if (h->sparse) {
		m = (double)((size_t)1 << HLL_PP);
		return (hll_linear(m, m - (double)h->nlist));
	}
	m = (double)HLL_M(h->p);
	e = hll_raw(h, &zeros);
	if (e <= 5 * m)
		e = hll_correct(h->p, e);
	if (zeros > 0) {
		lc = hll_linear(m, (double)zeros);
		if (lc <= hll_thresholds[h->p - HLL_P_MIN])
			return (lc);
	}
	return (e);
}

/* The estimated number of distinct hashes added. */
double
hll_estimate(const struct hll *h)
{
	const struct hll	*s;
	struct hll		*tmp;
	double			 e;

	s = hll_settled(h, &tmp);
	e = hll_estimate_settled(s);
	hll_free(tmp);
	return (e);
}

/*
 * The estimate rounded to an integer, saturating: a dense state read from
 * disk with all registers at their maximum estimates about 2.5e19.
 */
uint64_t
hll_count(const struct hll *h)
{
	double	e = hll_estimate(h);

	if (e >= 18446744073709551615.0)
		return (UINT64_MAX);
	if (e >= 4611686018427387904.0)
		return ((uint64_t)e);
	return ((uint64_t)llround(e));
}

/* Whether two sketches have the same state (hence the same bytes). */
int
hll_equal(const struct hll *a, const struct hll *b)
{
	const struct hll	*sa, *sb;
	struct hll		*ta, *tb;
	int			 eq;

	if (a->p != b->p)
		return (0);
	sa = hll_settled(a, &ta);
	sb = hll_settled(b, &tb);
	if (sa->sparse != sb->sparse)
		eq = 0;
	else if (sa->sparse)
		eq = sa->nlist == sb->nlist && (sa->nlist == 0 ||
		    memcmp(sa->list, sb->list,
		    sa->nlist * sizeof(*sa->list)) == 0);
	else
		eq = memcmp(sa->regs, sb->regs, HLL_M(sa->p)) == 0;
	hll_free(ta);
	hll_free(tb);
	return (eq);
}

/* Serialize: [HLL_FORMAT, p, sparse, payload], described at the top. */
void
hll_pack(const struct hll *h, msgpack_packer *pk)
{
	const struct hll	*s;
	struct hll		*tmp;
	uint8_t			 small[256], *out, *o;
	uint32_t		 prev, d, v;
	size_t			 i, len;

	s = hll_settled(h, &tmp);
	if (s->sparse) {
		/*
		 * One pass, into room for the longest varints (5 bytes for
		 * 31 bits); most lists are short: no allocation for them.
		 */
		len = 5 * s->nlist + 1;
		out = len <= sizeof(small) ? small : xmalloc(len);
		o = out;
		for (i = 0, prev = 0; i < s->nlist; prev = s->list[i++]) {
			for (d = s->list[i] - prev; d >= 0x80; d >>= 7)
				*o++ = (uint8_t)(d | 0x80);
			*o++ = (uint8_t)d;
		}
		len = (size_t)(o - out);
	} else {
		len = HLL_DENSE_BYTES(s->p);
		out = xmalloc(len);
		o = out;
		for (i = 0; i < HLL_M(s->p); i += 4) {
			v = (uint32_t)s->regs[i] |
			    (uint32_t)s->regs[i + 1] << 6 |
			    (uint32_t)s->regs[i + 2] << 12 |
			    (uint32_t)s->regs[i + 3] << 18;
			*o++ = (uint8_t)v;
			*o++ = (uint8_t)(v >> 8);
			*o++ = (uint8_t)(v >> 16);
		}
	}
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint32(pk, HLL_FORMAT);
	msgpack_pack_uint32(pk, (uint32_t)s->p);
	msgpack_pack_uint32(pk, (uint32_t)s->sparse);
	msgpack_pack_bin(pk, len);
	msgpack_pack_bin_body(pk, out, len);
	if (out != small)
		free(out);
	hll_free(tmp);
}

/* Read a canonical sparse payload into h; every entry is checked. */
static int
hll_unpack_sparse(struct hll *h, const uint8_t *b, size_t len, char **cause)
{
	uint64_t	 v, prev = 0;
	uint32_t	 r, low, mask = (1U << (HLL_PP - h->p)) - 1;
	size_t		 n = 0, i, k, pos;
	int		 shift;

	for (i = 0; i < len; i++) {
		if ((b[i] & 0x80) == 0)
			n++;
	}
	if (n > HLL_SPARSE_MAX(h->p)) {
		xasprintf(cause, "hll: sparse list has %zu entries, more than "
		    "%zu for precision %d", n, HLL_SPARSE_MAX(h->p), h->p);
		return (-1);
	}
	if (len > 0 && (b[len - 1] & 0x80) != 0) {
		xasprintf(cause, "hll: sparse entry %zu is truncated", n);
		return (-1);
	}
	if (n == 0)
		return (0);
	h->list = arena_reallocarray(h->a, NULL, 0, n, sizeof(*h->list));
	h->listcap = n;
	for (k = 0, pos = 0; k < n; k++) {
		v = 0;
		shift = 0;
		for (i = pos; ; i++) {
			if (shift > 28 || (i > pos && b[i] == 0)) {
				xasprintf(cause, "hll: sparse entry %zu is "
				    "badly encoded", k);
				return (-1);
			}
			v |= (uint64_t)(b[i] & 0x7f) << shift;
			shift += 7;
			if ((b[i] & 0x80) == 0)
				break;
		}
		pos = i + 1;
		v += prev;
		if (v > HLL_ENTRY_MAX) {
			xasprintf(cause, "hll: sparse entry %zu is out of "
			    "range", k);
			return (-1);
		}
		if (k > 0 && v >> 6 == prev >> 6) {
			xasprintf(cause, "hll: sparse entry %zu repeats index "
			    "%u", k, (uint32_t)(v >> 6));
			return (-1);
		}
		r = (uint32_t)v & 63;
		low = (uint32_t)(v >> 6) & mask;
		if (r > HLL_RANK_PP || (r == 0) != (low != 0)) {
			xasprintf(cause, "hll: sparse entry %zu has bad "
			    "rank %u", k, r);
			return (-1);
		}
		h->list[h->nlist++] = (uint32_t)v;
		prev = v;
	}
	return (0);
}

/* Read a dense payload into h; every register is checked. */
static int
hll_unpack_dense(struct hll *h, const uint8_t *b, size_t len, char **cause)
{
	size_t		i, j;
	uint32_t	v;
	uint8_t		r;

	if (len != HLL_DENSE_BYTES(h->p)) {
		xasprintf(cause, "hll: dense payload is %zu bytes, expected "
		    "%zu for precision %d", len, HLL_DENSE_BYTES(h->p), h->p);
		return (-1);
	}
	h->sparse = 0;
	h->regs = arena_alloc(h->a, HLL_M(h->p));
	for (i = 0; i < HLL_M(h->p); i += 4) {
		v = (uint32_t)b[i / 4 * 3] | (uint32_t)b[i / 4 * 3 + 1] << 8 |
		    (uint32_t)b[i / 4 * 3 + 2] << 16;
		for (j = 0; j < 4; j++) {
			r = (v >> (6 * j)) & 63;
			if (r > HLL_RANK_MAX(h->p)) {
				xasprintf(cause, "hll: register %zu is %u, "
				    "more than %d for precision %d", i + j, r,
				    HLL_RANK_MAX(h->p), h->p);
				return (-1);
			}
			h->regs[i + j] = r;
		}
	}
	return (0);
}

/*
 * Read a sketch written by hll_pack into arena a (NULL: the heap).  On bad
 * input returns NULL with *cause set; the reader is then somewhere inside
 * the value, and what was allocated in a stays there until reset.
 */
struct hll *
hll_unpack_in(struct arena *a, struct msg_reader *r, char **cause)
{
	struct hll	*h;
	const uint8_t	*b;
	uint64_t	 version, p, sparse;
	uint32_t	 n;
	size_t		 len;

	if (msg_get_array(r, &n) == -1) {
		xasprintf(cause, "hll: %s", msg_error(r));
		return (NULL);
	}
	if (n != 4) {
		xasprintf(cause, "hll: expected 4 elements, got %u", n);
		return (NULL);
	}
	if (msg_get_uint(r, &version) == -1) {
		xasprintf(cause, "hll: version: %s", msg_error(r));
		return (NULL);
	}
	if (version != HLL_FORMAT) {
		xasprintf(cause, "hll: unsupported format version %llu",
		    (unsigned long long)version);
		return (NULL);
	}
	if (msg_get_uint(r, &p) == -1) {
		xasprintf(cause, "hll: precision: %s", msg_error(r));
		return (NULL);
	}
	if (p < HLL_P_MIN || p > HLL_P_MAX) {
		xasprintf(cause, "hll: precision %llu out of range %d..%d",
		    (unsigned long long)p, HLL_P_MIN, HLL_P_MAX);
		return (NULL);
	}
	if (msg_get_uint(r, &sparse) == -1) {
		xasprintf(cause, "hll: sparse flag: %s", msg_error(r));
		return (NULL);
	}
	if (sparse > 1) {
		xasprintf(cause, "hll: sparse flag %llu is not 0 or 1",
		    (unsigned long long)sparse);
		return (NULL);
	}
	if (msg_get_bin(r, &b, &len) == -1) {
		xasprintf(cause, "hll: payload: %s", msg_error(r));
		return (NULL);
	}
	h = hll_new_in(a, (int)p);
	if ((sparse ? hll_unpack_sparse(h, b, len, cause) :
	    hll_unpack_dense(h, b, len, cause)) == -1) {
		hll_free(h);
		return (NULL);
	}
	return (h);
}

struct hll *
hll_unpack(struct msg_reader *r, char **cause)
{
	return (hll_unpack_in(NULL, r, cause));
}

/* Memory held by the sketch, for stats. */
size_t
hll_bytes(const struct hll *h)
{
	return (sizeof(*h) + (h->regs != NULL ? HLL_M(h->p) : 0) +
	    (h->listcap + h->bufcap) * sizeof(uint32_t));
}

int
hll_precision(const struct hll *h)
{
	return (h->p);
}

/* Whether the sketch is (canonically) in sparse form. */
/*
 * Merge what is buffered into the sparse list now, in place (the state
 * is the same): done once before a sketch is both estimated and packed,
 * which would each settle a copy otherwise.
 */
void
hll_settle(struct hll *h)
{
	hll_flush(h);
}

/* Ask for the arrays packing h will read (a hint; reads nothing else). */
void
hll_prefetch(const struct hll *h)
{
	__builtin_prefetch(h->sparse ? (const void *)h->list : h->regs);
	__builtin_prefetch(h->buf);
}

int
hll_is_sparse(const struct hll *h)
{
	const struct hll	*s;
	struct hll		*tmp;
	int			 sparse;

	if (!h->sparse || h->nlist + h->nbuf <= HLL_SPARSE_MAX(h->p))
		return (h->sparse);
	s = hll_settled(h, &tmp);
	sparse = s->sparse;
	hll_free(tmp);
	return (sparse);
}

/* Points of the bias curve for p: n_i = 5m i / HLL_BIAS_POINTS(p). */
#define HLL_BIAS_POINTS(p)	((p) == 4 ? 80 : 160)

/*
 * Error of hll_estimate as measured by "hllgen error p trials" (random
 * hashes; 20000, 3000, 1000 and 100 trials): the root mean square of the
 * relative error in standard errors 1.04/sqrt(m), then the mean relative
 * error in percent.  Up to n = m/4 the sketch is sparse and the error is
 * below 0.02% (0.00 se: exact in most trials); the LinearCounting to
 * bias-corrected switch is near n = 0.7-0.9m (1.3m at p = 18).  p = 6, 8,
 * 12 and 16 look the same: RMS at most 0.99 se, |mean| at most 0.9% at
 * p = 6 and 0.36% at p = 8, 0.05% from p = 12.  At p = 4 (16 registers)
 * LinearCounting is biased by up to +4% at n = 5 or 6.
 *
 *	n/m	p = 4		p = 10		p = 14		p = 18
 *	0.1	0.00 +0.00	0.00 +0.00	0.02 +0.00	0.05 +0.00
 *	0.3	0.69 +4.03	0.71 +0.06	0.71 -0.00	0.73 +0.02
 *	0.5	0.68 +2.51	0.74 +0.08	0.76 +0.02	0.75 +0.01
 *	0.7	0.73 -0.79	0.77 +0.03	0.74 -0.04	0.79 +0.01
 *	0.9	0.76 -0.57	0.80 -0.21	0.77 +0.01	0.89 +0.02
 *	1	0.76 -0.53	0.75 -0.06	0.79 +0.00	0.86 +0.02
 *	1.5	0.80 -0.50	0.78 -0.02	0.77 +0.02	0.73 +0.01
 *	2	0.84 -0.51	0.79 -0.02	0.79 +0.02	0.78 +0.01
 *	3	0.91 -0.26	0.85 -0.10	0.83 +0.01	0.88 +0.00
 *	4	0.95 +0.27	0.88 -0.07	0.87 +0.01	0.90 +0.00
 *	5	0.98 +0.32	0.91 -0.07	0.92 +0.04	1.05 +0.04
 *	6	0.99 +0.10	0.92 -0.04	0.89 +0.02	0.91 +0.04
 *	10	1.00 -0.13	0.95 -0.02	0.96 +0.02	0.87 -0.00
 *
 * Without the correction the raw estimate's mean error is +31% at n = m.
 */

/*
 * BIAS TABLES: hll_bias_p<p>[i] is the mean raw estimate, divided by m, of
 * random streams of n_i = 5m i / HLL_BIAS_POINTS(p) distinct hashes; the
 * bias at n_i is m hll_bias_p<p>[i] - n_i.  Produced by "hllgen table p"
 * (the generator at the end of this file) with max(5000, 2^30 / 5m)
 * streams per precision.
 */
static const double hll_bias_p4[81] = {
	0.673000, 0.702357, 0.732673, 0.763956, 0.796209, 0.829436, 0.863660,
	0.898868, 0.935062, 0.972260, 1.010421, 1.049586, 1.089719, 1.130820,
	1.172879, 1.215865, 1.259791, 1.304643, 1.350386, 1.396992, 1.444442,
	1.492775, 1.541879, 1.591756, 1.642432, 1.693843, 1.745941, 1.798669,
	1.852067, 1.906116, 1.960737, 2.015937, 2.071657, 2.127902, 2.184582,
	2.241745, 2.299336, 2.357278, 2.415542, 2.474242, 2.533213, 2.592527,
	2.652173, 2.711966, 2.772044, 2.832319, 2.892757, 2.953427, 3.014292,
	3.075248, 3.136344, 3.197576, 3.259027, 3.320575, 3.382174, 3.443932,
	3.505742, 3.567536, 3.629538, 3.691568, 3.753553, 3.815632, 3.877759,
	3.939995, 4.002164, 4.064333, 4.126577, 4.188814, 4.251030, 4.313277,
	4.375652, 4.437867, 4.500245, 4.562582, 4.624953, 4.687344, 4.749736,
	4.812194, 4.874506, 4.936903, 4.999384,
};

static const double hll_bias_p5[161] = {
	0.697000, 0.711856, 0.726941, 0.742255, 0.757804, 0.773581, 0.789602,
	0.805850, 0.822335, 0.839058, 0.856009, 0.873200, 0.890626, 0.908288,
	0.926174, 0.944304, 0.962661, 0.981253, 1.000087, 1.019145, 1.038442,
	1.057974, 1.077730, 1.097723, 1.117934, 1.138379, 1.159048, 1.179940,
	1.201054, 1.222399, 1.243952, 1.265724, 1.287707, 1.309913, 1.332335,
	1.354969, 1.377798, 1.400789, 1.424024, 1.447465, 1.471076, 1.494889,
	1.518903, 1.543116, 1.567498, 1.592079, 1.616845, 1.641768, 1.666882,
	1.692173, 1.717618, 1.743231, 1.768989, 1.794938, 1.821024, 1.847312,
	1.873685, 1.900257, 1.926954, 1.953812, 1.980797, 2.007933, 2.035185,
	2.062586, 2.090124, 2.117798, 2.145563, 2.173452, 2.201479, 2.229583,
	2.257798, 2.286112, 2.314552, 2.343075, 2.371684, 2.400399, 2.429216,
	2.458166, 2.487143, 2.516200, 2.545373, 2.574581, 2.603881, 2.633253,
	2.662724, 2.692252, 2.721863, 2.751523, 2.781264, 2.811019, 2.840882,
	2.870812, 2.900773, 2.930798, 2.960887, 2.991045, 3.021240, 3.051409,
	3.081709, 3.112054, 3.142410, 3.172795, 3.203213, 3.233629, 3.264097,
	3.294656, 3.325197, 3.355785, 3.386384, 3.417046, 3.447726, 3.478472,
	3.509197, 3.539962, 3.570705, 3.601507, 3.632333, 3.663219, 3.694127,
	3.725049, 3.755965, 3.786913, 3.817786, 3.848781, 3.879821, 3.910763,
	3.941768, 3.972755, 4.003783, 4.034828, 4.065874, 4.096917, 4.127989,
	4.159052, 4.190178, 4.221289, 4.252368, 4.283462, 4.314509, 4.345613,
	4.376797, 4.407957, 4.439072, 4.470218, 4.501418, 4.532597, 4.563765,
	4.594906, 4.626018, 4.657187, 4.688364, 4.719452, 4.750600, 4.781742,
	4.812944, 4.844141, 4.875257, 4.906409, 4.937616, 4.968825, 4.999985,
};

static const double hll_bias_p6[161] = {
	0.709000, 0.723994, 0.739218, 0.754669, 0.770350, 0.786260, 0.802400,
	0.818771, 0.835370, 0.852194, 0.869250, 0.886535, 0.904052, 0.921803,
	0.939780, 0.957986, 0.976419, 0.995077, 1.013970, 1.033084, 1.052433,
	1.071994, 1.091768, 1.111767, 1.132001, 1.152452, 1.173141, 1.194022,
	1.215117, 1.236428, 1.257956, 1.279695, 1.301630, 1.323793, 1.346159,
	1.368722, 1.391488, 1.414440, 1.437584, 1.460930, 1.484477, 1.508214,
	1.532111, 1.556203, 1.580499, 1.604973, 1.629608, 1.654413, 1.679377,
	1.704519, 1.729836, 1.755307, 1.780920, 1.806705, 1.832677, 1.858798,
	1.885040, 1.911449, 1.937972, 1.964623, 1.991419, 2.018347, 2.045447,
	2.072647, 2.099973, 2.127443, 2.155043, 2.182723, 2.210572, 2.238492,
	2.266509, 2.294654, 2.322878, 2.351214, 2.379702, 2.408245, 2.436844,
	2.465562, 2.494430, 2.523309, 2.552285, 2.581352, 2.610481, 2.639735,
	2.669030, 2.698373, 2.727809, 2.757317, 2.786832, 2.816454, 2.846129,
	2.875899, 2.905710, 2.935526, 2.965434, 2.995432, 3.025407, 3.055479,
	3.085643, 3.115847, 3.146091, 3.176296, 3.206568, 3.236947, 3.267242,
	3.297643, 3.328053, 3.358489, 3.389050, 3.419589, 3.450160, 3.480776,
	3.511409, 3.542113, 3.572816, 3.603487, 3.634252, 3.665036, 3.695846,
	3.726617, 3.757451, 3.788247, 3.819069, 3.849964, 3.880815, 3.911693,
	3.942616, 3.973525, 4.004421, 4.035404, 4.066378, 4.097357, 4.128361,
	4.159372, 4.190373, 4.221394, 4.252467, 4.283559, 4.314548, 4.345654,
	4.376721, 4.407839, 4.438940, 4.470000, 4.501094, 4.532186, 4.563308,
	4.594428, 4.625469, 4.656618, 4.687764, 4.718859, 4.749997, 4.781148,
	4.812331, 4.843473, 4.874608, 4.905812, 4.936936, 4.968112, 4.999273,
};

static const double hll_bias_p7[161] = {
	0.715270, 0.730340, 0.745633, 0.761153, 0.776903, 0.792883, 0.809084,
	0.825522, 0.842181, 0.859060, 0.876172, 0.893518, 0.911082, 0.928871,
	0.946895, 0.965142, 0.983615, 1.002327, 1.021248, 1.040394, 1.059764,
	1.079346, 1.099159, 1.119186, 1.139412, 1.159871, 1.180540, 1.201433,
	1.222546, 1.243856, 1.265385, 1.287118, 1.309052, 1.331195, 1.353535,
	1.376070, 1.398808, 1.421735, 1.444882, 1.468194, 1.491708, 1.515401,
	1.539275, 1.563345, 1.587575, 1.611969, 1.636562, 1.661328, 1.686261,
	1.711324, 1.736567, 1.761982, 1.787542, 1.813265, 1.839153, 1.865181,
	1.891353, 1.917672, 1.944129, 1.970729, 1.997477, 2.024347, 2.051343,
	2.078476, 2.105728, 2.133124, 2.160582, 2.188224, 2.215943, 2.243768,
	2.271741, 2.299824, 2.327994, 2.356203, 2.384600, 2.413049, 2.441602,
	2.470243, 2.498955, 2.527822, 2.556727, 2.585672, 2.614730, 2.643877,
	2.673098, 2.702375, 2.731709, 2.761035, 2.790529, 2.820064, 2.849699,
	2.879376, 2.909112, 2.938895, 2.968747, 2.998645, 3.028653, 3.058609,
	3.088694, 3.118803, 3.148952, 3.179179, 3.209424, 3.239734, 3.270027,
	3.300386, 3.330762, 3.361243, 3.391671, 3.422253, 3.452726, 3.483305,
	3.513896, 3.544524, 3.575129, 3.605778, 3.636485, 3.667200, 3.697925,
	3.728697, 3.759545, 3.790357, 3.821123, 3.851960, 3.882794, 3.913574,
	3.944474, 3.975418, 4.006400, 4.037321, 4.068279, 4.099285, 4.130249,
	4.161249, 4.192273, 4.223249, 4.254222, 4.285324, 4.316316, 4.347388,
	4.378466, 4.409517, 4.440633, 4.471715, 4.502818, 4.533965, 4.565085,
	4.596263, 4.627388, 4.658469, 4.689606, 4.720717, 4.751898, 4.783084,
	4.814271, 4.845411, 4.876595, 4.907748, 4.938945, 4.970106, 5.001329,
};

static const double hll_bias_p8[161] = {
	0.718273, 0.733379, 0.748707, 0.764262, 0.780048, 0.796058, 0.812293,
	0.828750, 0.845436, 0.862348, 0.879490, 0.896861, 0.914454, 0.932274,
	0.950319, 0.968590, 0.987076, 1.005788, 1.024733, 1.043895, 1.063281,
	1.082893, 1.102711, 1.122746, 1.143004, 1.163486, 1.184169, 1.205060,
	1.226178, 1.247494, 1.269009, 1.290732, 1.312663, 1.334791, 1.357125,
	1.379649, 1.402373, 1.425291, 1.448399, 1.471705, 1.495167, 1.518839,
	1.542689, 1.566720, 1.590941, 1.615321, 1.639893, 1.664595, 1.689479,
	1.714539, 1.739776, 1.765155, 1.790685, 1.816352, 1.842186, 1.868182,
	1.894348, 1.920609, 1.947024, 1.973583, 2.000261, 2.027095, 2.054043,
	2.081162, 2.108381, 2.135696, 2.163177, 2.190738, 2.218416, 2.246203,
	2.274110, 2.302126, 2.330262, 2.358475, 2.386801, 2.415203, 2.443733,
	2.472319, 2.501005, 2.529782, 2.558635, 2.587548, 2.616545, 2.645596,
	2.674750, 2.703993, 2.733310, 2.762690, 2.792201, 2.821767, 2.851309,
	2.880924, 2.910592, 2.940404, 2.970163, 3.000033, 3.029940, 3.059897,
	3.089927, 3.119959, 3.150066, 3.180206, 3.210412, 3.240660, 3.271002,
	3.301367, 3.331702, 3.362069, 3.392458, 3.422936, 3.453406, 3.483928,
	3.514463, 3.545078, 3.575675, 3.606293, 3.636962, 3.667659, 3.698421,
	3.729218, 3.759976, 3.790751, 3.821587, 3.852362, 3.883224, 3.914126,
	3.945047, 3.975903, 4.006820, 4.037821, 4.068795, 4.099709, 4.130685,
	4.161666, 4.192691, 4.223711, 4.254743, 4.285809, 4.316892, 4.347959,
	4.379006, 4.410059, 4.441061, 4.472131, 4.503182, 4.534277, 4.565345,
	4.596507, 4.627625, 4.658737, 4.689959, 4.721155, 4.752342, 4.783435,
	4.814556, 4.845710, 4.876901, 4.908085, 4.939234, 4.970391, 5.001556,
};

static const double hll_bias_p9[161] = {
	0.719783, 0.734906, 0.750253, 0.765821, 0.781622, 0.797642, 0.813885,
	0.830361, 0.847064, 0.863990, 0.881146, 0.898527, 0.916127, 0.933951,
	0.951998, 0.970281, 0.988786, 1.007522, 1.026469, 1.045638, 1.065034,
	1.084642, 1.104472, 1.124493, 1.144745, 1.165221, 1.185902, 1.206799,
	1.227898, 1.249229, 1.270750, 1.292464, 1.314388, 1.336524, 1.358855,
	1.381392, 1.404101, 1.427008, 1.450114, 1.473400, 1.496880, 1.520528,
	1.544353, 1.568379, 1.592581, 1.616950, 1.641499, 1.666207, 1.691102,
	1.716157, 1.741369, 1.766729, 1.792253, 1.817941, 1.843768, 1.869737,
	1.895856, 1.922099, 1.948495, 1.975037, 2.001752, 2.028542, 2.055449,
	2.082546, 2.109774, 2.137066, 2.164470, 2.191995, 2.219708, 2.247442,
	2.275307, 2.303281, 2.331324, 2.359502, 2.387800, 2.416144, 2.444653,
	2.473206, 2.501828, 2.530584, 2.559437, 2.588391, 2.617370, 2.646411,
	2.675554, 2.704795, 2.734116, 2.763471, 2.792898, 2.822422, 2.851952,
	2.881573, 2.911274, 2.941061, 2.970874, 3.000742, 3.030669, 3.060628,
	3.090601, 3.120646, 3.150782, 3.180937, 3.211097, 3.241290, 3.271579,
	3.301902, 3.332212, 3.362599, 3.392974, 3.423384, 3.453883, 3.484373,
	3.514909, 3.545489, 3.576118, 3.606733, 3.637386, 3.668110, 3.698803,
	3.729532, 3.760298, 3.791093, 3.821879, 3.852667, 3.883564, 3.914436,
	3.945332, 3.976277, 4.007208, 4.038129, 4.069064, 4.100031, 4.130996,
	4.161984, 4.193034, 4.224047, 4.255082, 4.286129, 4.317125, 4.348124,
	4.379193, 4.410272, 4.441296, 4.472359, 4.503402, 4.534466, 4.565519,
	4.596634, 4.627643, 4.658783, 4.689895, 4.721061, 4.752195, 4.783403,
	4.814542, 4.845735, 4.876865, 4.908105, 4.939269, 4.970423, 5.001585,
};

static const double hll_bias_p10[161] = {
	0.720541, 0.735670, 0.751025, 0.766601, 0.782407, 0.798442, 0.814704,
	0.831188, 0.847895, 0.864831, 0.881985, 0.899367, 0.916976, 0.934805,
	0.952871, 0.971152, 0.989655, 1.008379, 1.027327, 1.046502, 1.065895,
	1.085509, 1.105334, 1.125380, 1.145632, 1.166094, 1.186774, 1.207659,
	1.228759, 1.250074, 1.271582, 1.293283, 1.315211, 1.337336, 1.359657,
	1.382171, 1.404896, 1.427780, 1.450881, 1.474162, 1.497633, 1.521283,
	1.545123, 1.569125, 1.593324, 1.617676, 1.642213, 1.666918, 1.691790,
	1.716839, 1.742049, 1.767385, 1.792909, 1.818575, 1.844383, 1.870357,
	1.896461, 1.922716, 1.949121, 1.975631, 2.002280, 2.029103, 2.056027,
	2.083088, 2.110273, 2.137564, 2.164971, 2.192530, 2.220189, 2.247921,
	2.275802, 2.303798, 2.331888, 2.360080, 2.388353, 2.416763, 2.445256,
	2.473841, 2.502482, 2.531206, 2.560041, 2.588915, 2.617868, 2.646912,
	2.676068, 2.705269, 2.734588, 2.763917, 2.793352, 2.822836, 2.852418,
	2.882030, 2.911684, 2.941389, 2.971182, 3.001053, 3.030937, 3.060902,
	3.090900, 3.120966, 3.151065, 3.181217, 3.211391, 3.241687, 3.271926,
	3.302235, 3.332607, 3.362991, 3.393396, 3.423832, 3.454298, 3.484812,
	3.515362, 3.545914, 3.576521, 3.607185, 3.637862, 3.668554, 3.699248,
	3.729996, 3.760727, 3.791469, 3.822253, 3.853083, 3.883922, 3.914799,
	3.945719, 3.976540, 4.007465, 4.038427, 4.069344, 4.100297, 4.131223,
	4.162155, 4.193169, 4.224200, 4.255173, 4.286217, 4.317251, 4.348295,
	4.379371, 4.410479, 4.441555, 4.472645, 4.503761, 4.534848, 4.565911,
	4.597085, 4.628267, 4.659397, 4.690481, 4.721629, 4.752706, 4.783848,
	4.815040, 4.846223, 4.877403, 4.908591, 4.939677, 4.970860, 5.002110,
};

static const double hll_bias_p11[161] = {
	0.720920, 0.736055, 0.751415, 0.766998, 0.782805, 0.798844, 0.815101,
	0.831586, 0.848297, 0.865240, 0.882404, 0.899792, 0.917413, 0.935252,
	0.953306, 0.971590, 0.990096, 1.008833, 1.027780, 1.046958, 1.066352,
	1.085959, 1.105793, 1.125836, 1.146088, 1.166544, 1.187230, 1.208129,
	1.229225, 1.250541, 1.272044, 1.293771, 1.315684, 1.337807, 1.360118,
	1.382641, 1.405358, 1.428281, 1.451385, 1.474674, 1.498134, 1.521782,
	1.545612, 1.569631, 1.593813, 1.618175, 1.642704, 1.667419, 1.692293,
	1.717334, 1.742489, 1.767881, 1.793397, 1.819072, 1.844887, 1.870851,
	1.896945, 1.923197, 1.949566, 1.976052, 2.002724, 2.029498, 2.056449,
	2.083491, 2.110662, 2.137971, 2.165355, 2.192926, 2.220516, 2.248254,
	2.276127, 2.304086, 2.332121, 2.360286, 2.388570, 2.416952, 2.445393,
	2.473963, 2.502602, 2.531356, 2.560163, 2.589046, 2.618011, 2.647048,
	2.676160, 2.705383, 2.734629, 2.763969, 2.793369, 2.822838, 2.852367,
	2.881999, 2.911645, 2.941341, 2.971090, 3.000951, 3.030830, 3.060736,
	3.090745, 3.120846, 3.150920, 3.181031, 3.211187, 3.241391, 3.271647,
	3.301935, 3.332258, 3.362658, 3.393047, 3.423505, 3.453989, 3.484443,
	3.515015, 3.545576, 3.576164, 3.606835, 3.637472, 3.668128, 3.698859,
	3.729549, 3.760319, 3.791061, 3.821803, 3.852573, 3.883441, 3.914226,
	3.945130, 3.975958, 4.006860, 4.037826, 4.068811, 4.099724, 4.130662,
	4.161648, 4.192649, 4.223659, 4.254666, 4.285693, 4.316718, 4.347736,
	4.378694, 4.409763, 4.440780, 4.471832, 4.502945, 4.533997, 4.565110,
	4.596210, 4.627348, 4.658512, 4.689653, 4.720779, 4.751931, 4.783087,
	4.814121, 4.845269, 4.876422, 4.907529, 4.938668, 4.969790, 5.001029,
};

static const double hll_bias_p12[161] = {
	0.721110, 0.736243, 0.751604, 0.767189, 0.782994, 0.799029, 0.815291,
	0.831775, 0.848493, 0.865432, 0.882601, 0.899986, 0.917598, 0.935440,
	0.953496, 0.971792, 0.990300, 1.009033, 1.027976, 1.047148, 1.066529,
	1.086138, 1.105962, 1.125995, 1.146254, 1.166716, 1.187406, 1.208313,
	1.229413, 1.250729, 1.272244, 1.293966, 1.315899, 1.338009, 1.360310,
	1.382825, 1.405557, 1.428465, 1.451578, 1.474846, 1.498310, 1.521987,
	1.545822, 1.569825, 1.594009, 1.618351, 1.642902, 1.667612, 1.692486,
	1.717536, 1.742713, 1.768031, 1.793536, 1.819206, 1.845027, 1.870986,
	1.897101, 1.923368, 1.949770, 1.976318, 2.002969, 2.029778, 2.056697,
	2.083755, 2.110941, 2.138227, 2.165635, 2.193166, 2.220789, 2.248568,
	2.276424, 2.304380, 2.332441, 2.360610, 2.388875, 2.417263, 2.445742,
	2.474300, 2.502921, 2.531662, 2.560464, 2.589343, 2.618326, 2.647347,
	2.676499, 2.705689, 2.734943, 2.764309, 2.793731, 2.823214, 2.852730,
	2.882352, 2.912037, 2.941774, 2.971492, 3.001274, 3.031125, 3.061096,
	3.091094, 3.121133, 3.151184, 3.181320, 3.211485, 3.241709, 3.271941,
	3.302238, 3.332568, 3.362975, 3.393340, 3.423732, 3.454209, 3.484664,
	3.515181, 3.545790, 3.576369, 3.607059, 3.637689, 3.668365, 3.699047,
	3.729801, 3.760570, 3.791315, 3.822097, 3.852907, 3.883732, 3.914542,
	3.945368, 3.976242, 4.007147, 4.038057, 4.068983, 4.099952, 4.130936,
	4.161891, 4.192918, 4.223977, 4.254993, 4.286034, 4.317042, 4.348031,
	4.379071, 4.410108, 4.441175, 4.472214, 4.503319, 4.534381, 4.565440,
	4.596612, 4.627696, 4.658878, 4.689980, 4.721060, 4.752202, 4.783387,
	4.814484, 4.845594, 4.876702, 4.907841, 4.938983, 4.970125, 5.001296,
};

static const double hll_bias_p13[161] = {
	0.721205, 0.736344, 0.751705, 0.767295, 0.783103, 0.799136, 0.815394,
	0.831881, 0.848592, 0.865534, 0.882697, 0.900088, 0.917703, 0.935544,
	0.953592, 0.971872, 0.990370, 1.009098, 1.028048, 1.047224, 1.066619,
	1.086218, 1.106039, 1.126079, 1.146328, 1.166817, 1.187501, 1.208396,
	1.229495, 1.250789, 1.272299, 1.294016, 1.315935, 1.338052, 1.360367,
	1.382883, 1.405592, 1.428487, 1.451572, 1.474848, 1.498311, 1.521948,
	1.545793, 1.569794, 1.593992, 1.618347, 1.642894, 1.667596, 1.692457,
	1.717468, 1.742653, 1.767982, 1.793465, 1.819115, 1.844946, 1.870880,
	1.897003, 1.923253, 1.949646, 1.976140, 2.002773, 2.029553, 2.056479,
	2.083508, 2.110694, 2.138010, 2.165412, 2.192935, 2.220595, 2.248340,
	2.276195, 2.304149, 2.332240, 2.360427, 2.388681, 2.417064, 2.445489,
	2.474045, 2.502692, 2.531397, 2.560171, 2.589086, 2.618048, 2.647111,
	2.676246, 2.705454, 2.734754, 2.764101, 2.793492, 2.823000, 2.852532,
	2.882137, 2.911748, 2.941467, 2.971235, 3.001079, 3.030988, 3.060902,
	3.090882, 3.120915, 3.151033, 3.181128, 3.211296, 3.241477, 3.271762,
	3.302045, 3.332355, 3.362690, 3.393073, 3.423505, 3.454002, 3.484541,
	3.515100, 3.545632, 3.576182, 3.606796, 3.637490, 3.668148, 3.698848,
	3.729533, 3.760268, 3.791030, 3.821819, 3.852611, 3.883432, 3.914311,
	3.945181, 3.976030, 4.006950, 4.037816, 4.068728, 4.099740, 4.130771,
	4.161718, 4.192662, 4.223602, 4.254635, 4.285631, 4.316624, 4.347648,
	4.378724, 4.409718, 4.440789, 4.471801, 4.502852, 4.533945, 4.565053,
	4.596178, 4.627264, 4.658373, 4.689495, 4.720658, 4.751792, 4.782931,
	4.814072, 4.845233, 4.876325, 4.907546, 4.938758, 4.969943, 5.001100,
};

static const double hll_bias_p14[161] = {
	0.721253, 0.736391, 0.751754, 0.767341, 0.783152, 0.799190, 0.815449,
	0.831935, 0.848653, 0.865594, 0.882761, 0.900151, 0.917762, 0.935609,
	0.953660, 0.971957, 0.990469, 1.009197, 1.028153, 1.047319, 1.066708,
	1.086325, 1.106163, 1.126201, 1.146463, 1.166938, 1.187635, 1.208525,
	1.229636, 1.250944, 1.272479, 1.294198, 1.316120, 1.338248, 1.360584,
	1.383096, 1.405797, 1.428723, 1.451827, 1.475116, 1.498570, 1.522201,
	1.546037, 1.570056, 1.594221, 1.618601, 1.643125, 1.667848, 1.692714,
	1.717736, 1.742916, 1.768267, 1.793770, 1.819448, 1.845257, 1.871222,
	1.897309, 1.923552, 1.949925, 1.976458, 2.003129, 2.029934, 2.056866,
	2.083907, 2.111122, 2.138403, 2.165817, 2.193334, 2.220987, 2.248741,
	2.276611, 2.304553, 2.332601, 2.360766, 2.389030, 2.417367, 2.445836,
	2.474404, 2.503039, 2.531775, 2.560633, 2.589519, 2.618501, 2.647579,
	2.676729, 2.705930, 2.735184, 2.764540, 2.793975, 2.823445, 2.852950,
	2.882513, 2.912174, 2.941865, 2.971630, 3.001392, 3.031288, 3.061251,
	3.091224, 3.121273, 3.151409, 3.181539, 3.211703, 3.241994, 3.272265,
	3.302490, 3.332813, 3.363180, 3.393573, 3.423929, 3.454410, 3.484953,
	3.515484, 3.546092, 3.576677, 3.607278, 3.637894, 3.668608, 3.699303,
	3.730085, 3.760789, 3.791546, 3.822343, 3.853119, 3.883992, 3.914827,
	3.945693, 3.976605, 4.007477, 4.038391, 4.069327, 4.100281, 4.131198,
	4.162206, 4.193172, 4.224094, 4.255105, 4.286116, 4.317155, 4.348160,
	4.379272, 4.410398, 4.441524, 4.472565, 4.503620, 4.534710, 4.565809,
	4.596906, 4.628021, 4.659062, 4.690131, 4.721228, 4.752386, 4.783547,
	4.814651, 4.845779, 4.876966, 4.908127, 4.939241, 4.970429, 5.001589,
};

static const double hll_bias_p15[161] = {
	0.721276, 0.736414, 0.751776, 0.767368, 0.783182, 0.799219, 0.815486,
	0.831978, 0.848698, 0.865641, 0.882799, 0.900185, 0.917801, 0.935641,
	0.953704, 0.971986, 0.990492, 1.009223, 1.028175, 1.047350, 1.066738,
	1.086351, 1.106178, 1.126214, 1.146467, 1.166952, 1.187640, 1.208525,
	1.229629, 1.250950, 1.272454, 1.294169, 1.316087, 1.338211, 1.360526,
	1.383023, 1.405751, 1.428653, 1.451720, 1.474998, 1.498455, 1.522097,
	1.545917, 1.569923, 1.594091, 1.618458, 1.642996, 1.667675, 1.692550,
	1.717599, 1.742790, 1.768142, 1.793613, 1.819266, 1.845079, 1.871038,
	1.897158, 1.923404, 1.949770, 1.976286, 2.002918, 2.029682, 2.056576,
	2.083632, 2.110777, 2.138076, 2.165497, 2.192989, 2.220608, 2.248351,
	2.276177, 2.304141, 2.332241, 2.360415, 2.388685, 2.417028, 2.445505,
	2.474080, 2.502739, 2.531463, 2.560285, 2.589171, 2.618141, 2.647199,
	2.676358, 2.705544, 2.734835, 2.764177, 2.793589, 2.823105, 2.852665,
	2.882287, 2.912010, 2.941759, 2.971565, 3.001387, 3.031234, 3.061173,
	3.091157, 3.121170, 3.151220, 3.181336, 3.211475, 3.241701, 3.271920,
	3.302197, 3.332487, 3.362854, 3.393211, 3.423650, 3.454168, 3.484674,
	3.515203, 3.545814, 3.576342, 3.606949, 3.637673, 3.668373, 3.699128,
	3.729838, 3.760585, 3.791326, 3.822139, 3.852992, 3.883804, 3.914647,
	3.945524, 3.976370, 4.007268, 4.038106, 4.069006, 4.099985, 4.130888,
	4.161819, 4.192843, 4.223840, 4.254844, 4.285833, 4.316912, 4.347944,
	4.378979, 4.409986, 4.440975, 4.472016, 4.503017, 4.534122, 4.565210,
	4.596338, 4.627510, 4.658660, 4.689689, 4.720879, 4.752036, 4.783148,
	4.814333, 4.845510, 4.876681, 4.907896, 4.939018, 4.970221, 5.001396,
};

static const double hll_bias_p16[161] = {
	0.721288, 0.736424, 0.751787, 0.767378, 0.783191, 0.799224, 0.815488,
	0.831985, 0.848703, 0.865647, 0.882816, 0.900205, 0.917823, 0.935660,
	0.953721, 0.972009, 0.990517, 1.009247, 1.028194, 1.047365, 1.066752,
	1.086367, 1.106199, 1.126232, 1.146483, 1.166955, 1.187632, 1.208536,
	1.229639, 1.250954, 1.272466, 1.294183, 1.316099, 1.338213, 1.360525,
	1.383058, 1.405764, 1.428662, 1.451748, 1.475033, 1.498515, 1.522170,
	1.546004, 1.570011, 1.594206, 1.618549, 1.643077, 1.667787, 1.692644,
	1.717697, 1.742909, 1.768252, 1.793765, 1.819422, 1.845230, 1.871191,
	1.897304, 1.923556, 1.949938, 1.976477, 2.003134, 2.029927, 2.056846,
	2.083887, 2.111098, 2.138385, 2.165808, 2.193345, 2.220994, 2.248727,
	2.276574, 2.304528, 2.332633, 2.360815, 2.389060, 2.417441, 2.445924,
	2.474465, 2.503082, 2.531828, 2.560670, 2.589548, 2.618517, 2.647578,
	2.676687, 2.705870, 2.735130, 2.764467, 2.793848, 2.823340, 2.852916,
	2.882539, 2.912187, 2.941892, 2.971688, 3.001553, 3.031392, 3.061333,
	3.091308, 3.121345, 3.151450, 3.181578, 3.211730, 3.241966, 3.272207,
	3.302473, 3.332807, 3.363224, 3.393649, 3.424098, 3.454586, 3.485098,
	3.515637, 3.546190, 3.576747, 3.607375, 3.638070, 3.668709, 3.699392,
	3.730166, 3.760928, 3.791676, 3.822458, 3.853270, 3.884135, 3.914965,
	3.945822, 3.976673, 4.007568, 4.038445, 4.069361, 4.100300, 4.131262,
	4.162241, 4.193209, 4.224210, 4.255200, 4.286191, 4.317212, 4.348242,
	4.379259, 4.410328, 4.441358, 4.472426, 4.503528, 4.534551, 4.565667,
	4.596759, 4.627847, 4.658976, 4.690041, 4.721174, 4.752304, 4.783432,
	4.814569, 4.845757, 4.876904, 4.908062, 4.939118, 4.970250, 5.001419,
};

static const double hll_bias_p17[161] = {
	0.721294, 0.736432, 0.751795, 0.767382, 0.783195, 0.799231, 0.815496,
	0.831986, 0.848699, 0.865635, 0.882802, 0.900188, 0.917805, 0.935644,
	0.953708, 0.971997, 0.990507, 1.009242, 1.028195, 1.047365, 1.066765,
	1.086374, 1.106204, 1.126256, 1.146511, 1.166983, 1.187667, 1.208564,
	1.229660, 1.250972, 1.272488, 1.294216, 1.316148, 1.338271, 1.360603,
	1.383117, 1.405833, 1.428741, 1.451836, 1.475118, 1.498579, 1.522226,
	1.546056, 1.570071, 1.594250, 1.618606, 1.643127, 1.667832, 1.692701,
	1.717728, 1.742923, 1.768281, 1.793786, 1.819440, 1.845242, 1.871198,
	1.897296, 1.923543, 1.949929, 1.976459, 2.003119, 2.029896, 2.056805,
	2.083863, 2.111045, 2.138310, 2.165729, 2.193252, 2.220889, 2.248638,
	2.276491, 2.304476, 2.332522, 2.360697, 2.388962, 2.417339, 2.445789,
	2.474326, 2.502961, 2.531669, 2.560457, 2.589353, 2.618327, 2.647375,
	2.676493, 2.705688, 2.734957, 2.764311, 2.793732, 2.823207, 2.852770,
	2.882384, 2.912049, 2.941802, 2.971587, 3.001439, 3.031336, 3.061276,
	3.091273, 3.121316, 3.151401, 3.181540, 3.211711, 3.241952, 3.272205,
	3.302465, 3.332779, 3.363128, 3.393529, 3.423953, 3.454427, 3.484960,
	3.515512, 3.546075, 3.576703, 3.607308, 3.637964, 3.668624, 3.699293,
	3.730010, 3.760723, 3.791490, 3.822243, 3.853045, 3.883878, 3.914709,
	3.945566, 3.976442, 4.007328, 4.038228, 4.069174, 4.100127, 4.131055,
	4.162022, 4.193010, 4.224029, 4.255021, 4.286000, 4.316982, 4.348034,
	4.379061, 4.410095, 4.441127, 4.472200, 4.503299, 4.534379, 4.565455,
	4.596579, 4.627681, 4.658815, 4.689952, 4.721097, 4.752207, 4.783399,
	4.814543, 4.845664, 4.876802, 4.908004, 4.939165, 4.970315, 5.001457,
};

static const double hll_bias_p18[161] = {
	0.721297, 0.736435, 0.751799, 0.767387, 0.783199, 0.799238, 0.815501,
	0.831994, 0.848708, 0.865648, 0.882812, 0.900204, 0.917818, 0.935654,
	0.953714, 0.972001, 0.990509, 1.009242, 1.028198, 1.047367, 1.066759,
	1.086373, 1.106200, 1.126244, 1.146503, 1.166978, 1.187660, 1.208557,
	1.229661, 1.250974, 1.272483, 1.294208, 1.316131, 1.338255, 1.360574,
	1.383086, 1.405791, 1.428696, 1.451792, 1.475073, 1.498537, 1.522183,
	1.546008, 1.570014, 1.594192, 1.618541, 1.643067, 1.667773, 1.692635,
	1.717655, 1.742845, 1.768203, 1.793715, 1.819371, 1.845178, 1.871142,
	1.897248, 1.923498, 1.949872, 1.976387, 2.003039, 2.029823, 2.056748,
	2.083795, 2.110966, 2.138259, 2.165669, 2.193194, 2.220831, 2.248571,
	2.276421, 2.304390, 2.332460, 2.360624, 2.388902, 2.417261, 2.445721,
	2.474277, 2.502924, 2.531656, 2.560467, 2.589366, 2.618328, 2.647394,
	2.676523, 2.705715, 2.734990, 2.764328, 2.793735, 2.823197, 2.852740,
	2.882334, 2.911998, 2.941722, 2.971504, 3.001324, 3.031210, 3.061129,
	3.091128, 3.121165, 3.151256, 3.181387, 3.211565, 3.241782, 3.272026,
	3.302308, 3.332632, 3.363001, 3.393399, 3.423824, 3.454279, 3.484782,
	3.515332, 3.545903, 3.576506, 3.607156, 3.637809, 3.668480, 3.699168,
	3.729878, 3.760629, 3.791397, 3.822168, 3.852979, 3.883798, 3.914629,
	3.945475, 3.976350, 4.007193, 4.038087, 4.069001, 4.099923, 4.130855,
	4.161802, 4.192801, 4.223783, 4.254790, 4.285787, 4.316817, 4.347842,
	4.378899, 4.409958, 4.441009, 4.472099, 4.503174, 4.534262, 4.565352,
	4.596454, 4.627584, 4.658677, 4.689787, 4.720895, 4.752065, 4.783198,
	4.814371, 4.845530, 4.876654, 4.907818, 4.938957, 4.970121, 5.001285,
};

static const struct {
	const double	*raw;
	size_t		 n;
} hll_bias_raw[HLL_P_MAX - HLL_P_MIN + 1] = {
	{ hll_bias_p4, sizeof(hll_bias_p4) / sizeof(double) },
	{ hll_bias_p5, sizeof(hll_bias_p5) / sizeof(double) },
	{ hll_bias_p6, sizeof(hll_bias_p6) / sizeof(double) },
	{ hll_bias_p7, sizeof(hll_bias_p7) / sizeof(double) },
	{ hll_bias_p8, sizeof(hll_bias_p8) / sizeof(double) },
	{ hll_bias_p9, sizeof(hll_bias_p9) / sizeof(double) },
	{ hll_bias_p10, sizeof(hll_bias_p10) / sizeof(double) },
	{ hll_bias_p11, sizeof(hll_bias_p11) / sizeof(double) },
	{ hll_bias_p12, sizeof(hll_bias_p12) / sizeof(double) },
	{ hll_bias_p13, sizeof(hll_bias_p13) / sizeof(double) },
	{ hll_bias_p14, sizeof(hll_bias_p14) / sizeof(double) },
	{ hll_bias_p15, sizeof(hll_bias_p15) / sizeof(double) },
	{ hll_bias_p16, sizeof(hll_bias_p16) / sizeof(double) },
	{ hll_bias_p17, sizeof(hll_bias_p17) / sizeof(double) },
	{ hll_bias_p18, sizeof(hll_bias_p18) / sizeof(double) },
};

/* The mean-raw-estimate curve for p, divided by m, and its length. */
static const double *
hll_bias_curve(int p, size_t *n)
{
	*n = hll_bias_raw[p - HLL_P_MIN].n;
	return (hll_bias_raw[p - HLL_P_MIN].raw);
}

#ifdef HLL_BIAS_GENERATOR
/*
 * The generator of hll_bias_raw and of the error table above, kept here so
 * that both can be reproduced.  It is not part of the library.  Build and
 * run it from the top of the tree:
 *
 *	cc -O2 -std=c11 -D_GNU_SOURCE -DHLL_BIAS_GENERATOR -Icommon \
 *	    $(pkg-config --cflags msgpack) -pthread -o hllgen common/hll.c \
 *	    common/arena.c common/hash.c common/msg.c common/xmalloc.c \
 *	    common/log.c -lm
 *	for p in $(seq 4 18); do ./hllgen table $p; done
 *	./hllgen error 14 1000
 *
 * "table p" simulates max(5000, 2^30 / 5m) streams of uniform random
 * 64-bit hashes (SplitMix64), each of 5m distinct values, keeps the
 * registers' sum of 2^-M[j] exactly (in 128-bit fixed point) as values are
 * added, and at each of the HLL_BIAS_POINTS(p) + 1 cardinalities
 * n_i = 5m i / HLL_BIAS_POINTS(p) records the raw estimate.  It prints the
 * mean raw estimate at each n_i, divided by m, and fails if the curve is
 * not strictly increasing (hll_correct inverts it).  Takes about a minute
 * for p = 18, less for the others.
 *
 * "error p trials" adds random hashes to trials sketches through the
 * public API and prints, at cardinalities from 0.01m to 10m, the mean and
 * the root mean square of the relative error of hll_estimate, and the RMS
 * of the bias-corrected raw estimate and of LinearCounting alone (to check
 * the thresholds).
 */
#include <stdio.h>

static uint64_t
gen_random(uint64_t *s)
{
	uint64_t	z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static void
gen_table(int p)
{
	unsigned __int128	 sum, one = (unsigned __int128)1 << 64;
	size_t			 m = HLL_M(p), npts = HLL_BIAS_POINTS(p), i, n;
	uint64_t		 streams, s, rng;
	uint32_t		 idx;
	uint8_t			*regs, rank;
	double			*acc, x;

	streams = ((uint64_t)1 << 30) / (5 * m);
	if (streams < 5000)
		streams = 5000;
	acc = xcalloc(npts + 1, sizeof(*acc));
	regs = xmalloc(m);
	for (s = 0; s < streams; s++) {
		rng = hash64_u64((uint64_t)p << 48 ^ s);
		memset(regs, 0, m);
		sum = (unsigned __int128)m << 64;
		for (i = 0, n = 0; i <= npts; i++) {
			for (; n < 5 * m * i / npts; n++) {
				hll_dense_hash(p, gen_random(&rng), &idx,
				    &rank);
				if (rank <= regs[idx])
					continue;
				sum -= one >> regs[idx];
				sum += one >> rank;
				regs[idx] = rank;
			}
			acc[i] += hll_alpha(m) * m * m / ((double)sum /
			    18446744073709551616.0);
		}
	}
	printf("static const double hll_bias_p%d[%zu] = {", p, npts + 1);
	for (i = 0; i <= npts; i++) {
		x = acc[i] / streams / m;
		if (i > 0 && x <= acc[i - 1] / streams / m)
			fatalx("p %d: mean raw estimate not increasing at %zu",
			    p, i);
		printf("%s%.6f,", i % 7 == 0 ? "\n\t" : " ", x);
	}
	printf("\n};\n");
	free(acc);
	free(regs);
}

static void
gen_error(int p, int trials)
{
	static const double	 at[] = { 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5,
	    0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6,
	    8, 10 };
	const size_t		 nat = sizeof(at) / sizeof(at[0]);
	struct hll		*h, *c;
	double			 m = (double)HLL_M(p), sum[3][24], sq[3][24];
	double			 e, lc, bc, rel;
	uint64_t		 rng, n, want;
	size_t			 i, zeros;
	int			 t;

	memset(sum, 0, sizeof(sum));
	memset(sq, 0, sizeof(sq));
	for (t = 0; t < trials; t++) {
		rng = hash64_u64(0xe770000000000000ULL ^ (uint64_t)p << 40 ^
		    (uint64_t)t);
		h = hll_new(p);
		for (i = 0, n = 0; i < nat; i++) {
			want = (uint64_t)llround(at[i] * m);
			for (; n < want; n++)
				hll_add_hash(h, gen_random(&rng));
			e = hll_estimate(h);
			c = hll_copy(h);
			if (c->sparse)
				hll_to_dense(c);
			bc = hll_raw(c, &zeros);
			if (bc <= 5 * m)
				bc = hll_correct(p, bc);
			lc = zeros > 0 ? hll_linear(m, (double)zeros) : bc;
			hll_free(c);
			rel = (e - want) / want;
			sum[0][i] += rel;
			sq[0][i] += rel * rel;
			rel = (bc - want) / want;
			sum[1][i] += rel;
			sq[1][i] += rel * rel;
			rel = (lc - want) / want;
			sum[2][i] += rel;
			sq[2][i] += rel * rel;
		}
		hll_free(h);
	}
	printf("p %d, %d trials; 1.04/sqrt(m) = %.3f%%\n", p, trials,
	    104 / sqrt(m));
	printf(" n/m    mean%%    rms%%  rms/se  bc-rms%%  lc-rms%%\n");
	for (i = 0; i < nat; i++)
		printf("%5.2f %7.3f %7.3f %7.2f %8.3f %8.3f\n", at[i],
		    100 * sum[0][i] / trials, 100 * sqrt(sq[0][i] / trials),
		    sqrt(sq[0][i] / trials) / (1.04 / sqrt(m)),
		    100 * sqrt(sq[1][i] / trials),
		    100 * sqrt(sq[2][i] / trials));
}

int
main(int argc, char **argv)
{
	int	p;

	if (argc < 3)
		fatalx("usage: hllgen table p | hllgen error p trials");
	p = atoi(argv[2]);
	if (p < HLL_P_MIN || p > HLL_P_MAX)
		fatalx("bad precision %d", p);
	if (strcmp(argv[1], "table") == 0)
		gen_table(p);
	else if (strcmp(argv[1], "error") == 0 && argc == 4)
		gen_error(p, atoi(argv[3]));
	else
		fatalx("usage: hllgen table p | hllgen error p trials");
	return (0);
}
#endif /* HLL_BIAS_GENERATOR */
