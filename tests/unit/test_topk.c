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
 * Tests for common/topk.c: exact counts while at most k distinct items are
 * seen, where merging must equal one sketch fed both streams (state and
 * bytes, in any order); the Space-Saving guarantees on a million Zipf
 * events over 100,000 items, alone and after merging 2 to 8 random
 * partitions; deterministic eviction; the item length cap; hostile
 * serialized input, each refusal checked by its text; and sketches in an
 * arena, byte for byte the same as those on the heap.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <msgpack.h>

#include "arena.h"
#include "msg.h"
#include "topk.h"

#define NITEMS		100000
#define NEVENTS		1000000

static uint64_t		 rng = 0x2545f4914f6cdd1dULL;

/* splitmix64: reproducible runs. */
static uint64_t
rnd(void)
{
	uint64_t	z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static int	*zipf_stream(double, size_t);

static char	 names[NITEMS][12];
static size_t	 namelen[NITEMS];

static void
setup(void)
{
	int	i;

	for (i = 0; i < NITEMS; i++)
		namelen[i] = (size_t)snprintf(names[i], sizeof(names[i]),
		    "item%d", i);
}

static void
add(struct topk *t, int i, uint64_t w)
{
	topk_add(t, names[i], namelen[i], w);
}

static void
pack(const struct topk *t, msgpack_sbuffer *sb)
{
	msgpack_packer	pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	topk_pack(t, &pk);
}

/* Equal state and identical bytes. */
static void
assert_same(const struct topk *a, const struct topk *b)
{
	msgpack_sbuffer	sa, sb;

	ck_assert(topk_equal(a, b));
	ck_assert(topk_equal(b, a));
	pack(a, &sa);
	pack(b, &sb);
	ck_assert_uint_eq(sa.size, sb.size);
	ck_assert(memcmp(sa.data, sb.data, sa.size) == 0);
	msgpack_sbuffer_destroy(&sa);
	msgpack_sbuffer_destroy(&sb);
}

static struct topk *
unpack(const void *buf, size_t len, char **cause)
{
	struct msg_reader	 r;
	struct topk		*t;

	*cause = NULL;
	msg_reader_init(&r, buf, len);
	t = topk_unpack(&r, cause);
	if (t != NULL && msg_end(&r) == -1) {	/* the caller's check */
		topk_free(t);
		t = NULL;
		*cause = strdup(msg_error(&r));
	}
	if (t == NULL)
		ck_assert_ptr_nonnull(*cause);
	return (t);
}

static void
assert_roundtrip(const struct topk *t)
{
	msgpack_sbuffer	 sb;
	struct topk	*back;
	char		*cause;

	pack(t, &sb);
	if ((back = unpack(sb.data, sb.size, &cause)) == NULL)
		ck_abort_msg("roundtrip refused: %s", cause);
	assert_same(t, back);
	topk_free(back);
	msgpack_sbuffer_destroy(&sb);
}

/* The item number of a listed name. */
static int
item_of(const struct topk_item *it)
{
	char	buf[16];

	ck_assert_uint_lt(it->len, sizeof(buf));
	memcpy(buf, it->item, it->len);
	buf[it->len] = '\0';
	return (atoi(buf + 4));
}

/*
 * The guarantees against true frequencies f: the bound is at most n / k,
 * every item above it is listed, every listed count is in [f, f + error].
 */
static void
check_guarantees(const struct topk *t, const uint64_t *f, uint64_t n)
{
	struct topk_item	*out;
	uint64_t		 bound;
	size_t			 m, i, j;
	char			*listed;
	int			 k = topk_k(t), it;

	ck_assert_uint_eq(topk_total(t), n);
	bound = topk_error_bound(t);
	ck_assert_uint_le(bound, n / k);
	out = calloc(k, sizeof(*out));
	listed = calloc(NITEMS, 1);
	m = topk_list(t, out, k);
	ck_assert_uint_eq(m, topk_size(t));
	for (i = 0; i < m; i++) {
		it = item_of(&out[i]);
		listed[it] = 1;
		ck_assert_uint_ge(out[i].count, f[it]);
		ck_assert_uint_le(out[i].count - out[i].error, f[it]);
		ck_assert_uint_le(out[i].error, bound);
		if (i > 0)
			ck_assert_uint_ge(out[i - 1].count, out[i].count);
	}
	for (j = 0; j < NITEMS; j++)
		if (f[j] > bound && !listed[j])
			ck_abort_msg("item %zu, frequency %llu > bound %llu, "
			    "not listed", j, (unsigned long long)f[j],
			    (unsigned long long)bound);
	free(listed);
	free(out);
}

START_TEST(test_basic)
{
	struct topk		*t;
	struct topk_item	 out[4];
	int			 i;

	ck_assert_ptr_null(topk_new(0));
	ck_assert_ptr_null(topk_new(TOPK_K_MAX + 1));
	t = topk_new(TOPK_K_MAX);
	ck_assert_ptr_nonnull(t);
	/* Memory grows with the items seen, not with k. */
	ck_assert_uint_lt(topk_bytes(t), 512);
	topk_add(t, "a", 1, 1);
	ck_assert_uint_lt(topk_bytes(t), 512);
	for (i = 0; i < 1000; i++)
		topk_add(t, &i, sizeof(i), 1);
	ck_assert_uint_gt(topk_bytes(t), 1000 * 3 * sizeof(uint64_t));
	ck_assert_uint_lt(topk_bytes(t), 1024 * 128);
	ck_assert_uint_eq(topk_size(t), 1001);
	assert_roundtrip(t);
	topk_free(t);
	topk_free(NULL);

	t = topk_new(3);
	ck_assert_uint_eq(topk_list(t, out, 4), 0);
	assert_roundtrip(t);
	topk_add(t, "b", 1, 2);
	topk_add(t, "a", 1, 2);
	topk_add(t, "", 0, 1);
	topk_add(t, NULL, 0, 1);
	topk_add(t, "c", 1, 0);			/* weight 0: nothing */
	topk_add(t, "ab", 2, 3);
	ck_assert_uint_eq(topk_total(t), 9);
	ck_assert_uint_eq(topk_size(t), 3);
	ck_assert_uint_eq(topk_error_bound(t), 2);
	ck_assert_uint_eq(topk_list(t, out, 4), 3);
	/*
	 * "ab" replaced "", ranked last of three at count 2 by its hash;
	 * the others are listed by their bytes.
	 */
	ck_assert_uint_gt(topk_hash("", 0), topk_hash("a", 1));
	ck_assert_uint_gt(topk_hash("a", 1), topk_hash("b", 1));
	ck_assert(out[0].len == 2 && memcmp(out[0].item, "ab", 2) == 0);
	ck_assert(out[0].count == 5 && out[0].error == 2);
	ck_assert(out[1].len == 1 && memcmp(out[1].item, "a", 1) == 0);
	ck_assert(out[1].count == 2 && out[1].error == 0);
	ck_assert(out[2].len == 1 && memcmp(out[2].item, "b", 1) == 0);
	ck_assert(out[2].count == 2 && out[2].error == 0);
	ck_assert_uint_eq(topk_list(t, out, 1), 1);
	assert_roundtrip(t);
	ck_assert_uint_gt(topk_bytes(t), 3);
	topk_free(t);
}
END_TEST

/*
 * A full sketch evicts the counter ranked last: lowest count, then the
 * greatest hash (topk_hash, pinned here: a change of it changes results).
 */
START_TEST(test_eviction_order)
{
	struct topk		*t, *u;
	struct topk_item	 out[2];

	ck_assert_uint_eq(topk_hash("", 0), UINT64_C(0xe5523d98ebcc5adb));
	ck_assert_uint_eq(topk_hash("a", 1), UINT64_C(0x707b917557c4ef1e));
	ck_assert_uint_eq(topk_hash("b", 1), UINT64_C(0x2e49c94a4f4b4ccb));
	t = topk_new(2);
	topk_add(t, "a", 1, 1);
	topk_add(t, "b", 1, 1);
	topk_add(t, "c", 1, 1);			/* evicts a */
	ck_assert_uint_eq(topk_list(t, out, 2), 2);
	ck_assert(out[0].len == 1 && *(const char *)out[0].item == 'c');
	ck_assert(out[0].count == 2 && out[0].error == 1);
	ck_assert(out[1].len == 1 && *(const char *)out[1].item == 'b');
	ck_assert(out[1].count == 1 && out[1].error == 0);
	ck_assert_uint_eq(topk_error_bound(t), 1);
	topk_add(t, "d", 1, 5);			/* evicts b, at count 1 */
	ck_assert_uint_eq(topk_list(t, out, 2), 2);
	ck_assert(*(const char *)out[0].item == 'd' && out[0].count == 6 &&
	    out[0].error == 1);
	ck_assert(*(const char *)out[1].item == 'c' && out[1].count == 2);
	ck_assert_uint_eq(topk_error_bound(t), 2);

	/* The same sequence gives the same state. */
	u = topk_new(2);
	topk_add(u, "a", 1, 1);
	topk_add(u, "b", 1, 1);
	topk_add(u, "c", 1, 1);
	topk_add(u, "d", 1, 5);
	assert_same(t, u);
	assert_roundtrip(t);
	topk_free(t);
	topk_free(u);
}
END_TEST

/*
 * A model of the rules, written the slow obvious way: counters in an
 * array, the one ranked last (lowest count, then greatest topk_hash, then
 * greatest bytes) found by a scan, merges as at the top of topk.c.  Items
 * are numbers (names[]).
 */
struct model {
	int		 k;
	int		 n;
	uint64_t	 total;
	int		 item[128];
	uint64_t	 count[128];
	uint64_t	 error[128];
};

/* Negative if counter a of m ranks before counter b of o. */
static int
model_rank(const struct model *m, int a, const struct model *o, int b)
{
	uint64_t	ha, hb;
	int		c;

	if (m->count[a] != o->count[b])
		return (m->count[a] > o->count[b] ? -1 : 1);
	ha = topk_hash(names[m->item[a]], namelen[m->item[a]]);
	hb = topk_hash(names[o->item[b]], namelen[o->item[b]]);
	if (ha != hb)
		return (ha < hb ? -1 : 1);
	c = strcmp(names[m->item[a]], names[o->item[b]]);
	return (c);
}

static int
model_find(const struct model *m, int item)
{
	int	i;

	for (i = 0; i < m->n; i++)
		if (m->item[i] == item)
			return (i);
	return (-1);
}

static void
model_add(struct model *m, int item, uint64_t w)
{
	int	c, i;

	m->total += w;
	if ((c = model_find(m, item)) != -1) {
		m->count[c] += w;
		return;
	}
	if (m->n < m->k) {
		c = m->n++;
		m->item[c] = item;
		m->count[c] = w;
		m->error[c] = 0;
		return;
	}
	for (c = 0, i = 1; i < m->n; i++)
		if (model_rank(m, i, m, c) > 0)
			c = i;
	m->item[c] = item;
	m->error[c] = m->count[c];
	m->count[c] += w;
}

static uint64_t
model_floor(const struct model *m)
{
	uint64_t	f = UINT64_MAX;
	int		i;

	if (m->n < m->k)
		return (0);
	for (i = 0; i < m->n; i++)
		if (m->count[i] < f)
			f = m->count[i];
	return (f);
}

static void
model_merge(struct model *m, const struct model *o)
{
	struct model	c;
	uint64_t	dm = model_floor(m), dox = model_floor(o);
	int		i, j, best, keep;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < m->n; i++, c.n++) {
		j = model_find(o, m->item[i]);
		c.item[c.n] = m->item[i];
		c.count[c.n] = m->count[i] + (j != -1 ? o->count[j] : dox);
		c.error[c.n] = m->error[i] + (j != -1 ? o->error[j] : dox);
	}
	for (i = 0; i < o->n; i++) {
		if (model_find(m, o->item[i]) != -1)
			continue;
		c.item[c.n] = o->item[i];
		c.count[c.n] = o->count[i] + dm;
		c.error[c.n] = o->error[i] + dm;
		c.n++;
	}
	/* Keep the k ranked first, by selection. */
	keep = c.n < m->k ? c.n : m->k;
	for (m->n = 0; m->n < keep; m->n++) {
		for (best = m->n, i = m->n + 1; i < c.n; i++)
			if (model_rank(&c, i, &c, best) < 0)
				best = i;
		m->item[m->n] = c.item[best];
		m->count[m->n] = c.count[best];
		m->error[m->n] = c.error[best];
		c.item[best] = c.item[m->n];
		c.count[best] = c.count[m->n];
		c.error[best] = c.error[m->n];
	}
	m->total += o->total;
}

/* The sketch holds exactly the model's counters. */
static void
assert_model(const struct topk *t, const struct model *m)
{
	struct topk_item	 out[128];
	char			 buf[16];
	size_t			 n, i;
	int			 c, item;

	ck_assert_uint_eq(topk_total(t), m->total);
	n = topk_list(t, out, 128);
	ck_assert_uint_eq(n, (size_t)m->n);
	for (i = 0; i < n; i++) {
		ck_assert_uint_lt(out[i].len, sizeof(buf));
		memcpy(buf, out[i].item, out[i].len);
		buf[out[i].len] = '\0';
		ck_assert(sscanf(buf, "item%d", &item) == 1);
		ck_assert_uint_eq(namelen[item], out[i].len);
		ck_assert((c = model_find(m, item)) != -1);
		ck_assert_uint_eq(out[i].count, m->count[c]);
		ck_assert_uint_eq(out[i].error, m->error[c]);
	}
}

/*
 * Random adds (hits, free counters, evictions), merges of sketches at
 * different fills, merges into itself, copies and unpacking, heap and
 * arena, for k from 1 to 100: always the model's counters.
 */
START_TEST(test_model)
{
	static const int	 ks[] = { 1, 2, 3, 4, 5, 8, 10, 17, 64, 100 };
	struct arena		 a;
	struct model		 m[3], tmp;
	struct topk		*t[3], *u;
	msgpack_sbuffer		 sb;
	char			*cause;
	size_t			 r, step;
	int			 k, s, o, item, distinct;
	uint64_t		 w;

	arena_init(&a);
	for (r = 0; r < 100; r++) {
		k = ks[r % (sizeof(ks) / sizeof(ks[0]))];
		distinct = 1 + (int)(rnd() % (uint64_t)(3 * k + 2));
		for (s = 0; s < 3; s++) {
			memset(&m[s], 0, sizeof(m[s]));
			m[s].k = k;
			t[s] = s == 2 ? topk_new_in(&a, k) : topk_new(k);
		}
		for (step = 0; step < 300; step++) {
			s = (int)(rnd() % 3);
			o = (int)(rnd() % 3);
			switch (rnd() % 20) {
			case 0:
				/* Merge o into s, through a copy if o is s. */
				tmp = m[o];
				model_merge(&m[s], &tmp);
				ck_assert_int_eq(topk_merge(t[s], t[o], &cause),
				    0);
				break;
			case 1:
				/* Replace s by a copy or an unpacked copy. */
				if (s == 2)
					break;
				if (rnd() % 2)
					u = topk_copy(t[s]);
				else {
					pack(t[s], &sb);
					u = unpack(sb.data, sb.size, &cause);
					ck_assert_ptr_nonnull(u);
					msgpack_sbuffer_destroy(&sb);
				}
				topk_free(t[s]);
				t[s] = u;
				break;
			default:
				/* Squared: a few items come back often. */
				item = (int)(rnd() % (uint64_t)distinct);
				item = (int)((uint64_t)item *
				    (rnd() % (uint64_t)distinct) / distinct);
				w = rnd() % 5 == 0 ? 1 + rnd() % 4 : 1;
				model_add(&m[s], item, w);
				if (rnd() % 2)
					add(t[s], item, w);
				else
					topk_add_hashed(t[s], names[item],
					    namelen[item], topk_hash(names[item],
					    namelen[item]), w);
				break;
			}
			if (step % 8 == 0)
				assert_model(t[s], &m[s]);
		}
		for (s = 0; s < 3; s++) {
			assert_model(t[s], &m[s]);
			topk_free(t[s]);
		}
		arena_reset(&a);
	}
}
END_TEST

/* Items are cut at TOPK_ITEM_MAX bytes. */
START_TEST(test_item_cap)
{
	struct topk		*t, *u;
	struct topk_item	 out[2];
	char			 big[2000];

	memset(big, 'x', sizeof(big));
	t = topk_new(4);
	topk_add(t, big, sizeof(big), 1);
	big[1500] = 'y';
	topk_add(t, big, sizeof(big), 1);	/* same first 1024 bytes */
	topk_add(t, big, TOPK_ITEM_MAX, 1);
	ck_assert_uint_eq(topk_list(t, out, 2), 1);
	ck_assert_uint_eq(out[0].len, TOPK_ITEM_MAX);
	ck_assert_uint_eq(out[0].count, 3);
	big[10] = 'y';
	topk_add(t, big, sizeof(big), 1);
	ck_assert_uint_eq(topk_size(t), 2);
	assert_roundtrip(t);

	/*
	 * topk_add_hashed: with the item's hash, the same as topk_add; a
	 * long item's hash (of all its bytes) is taken again once it is cut.
	 */
	u = topk_new(4);
	memset(big, 'x', sizeof(big));
	topk_add_hashed(u, big, sizeof(big), topk_hash(big, sizeof(big)), 1);
	big[1500] = 'y';
	topk_add_hashed(u, big, sizeof(big), 0, 1);
	topk_add_hashed(u, big, TOPK_ITEM_MAX, topk_hash(big, TOPK_ITEM_MAX),
	    1);
	big[10] = 'y';
	topk_add_hashed(u, big, sizeof(big), UINT64_MAX, 1);
	assert_same(t, u);
	topk_free(t);
	topk_free(u);
}
END_TEST

/* Fold a stream of item numbers with weights into t. */
static void
feed(struct topk *t, const int *items, const uint64_t *w, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		add(t, items[i], w[i]);
}

/* Merge parts[0..n) in a random tree; frees all but the result. */
static struct topk *
merge_tree(struct topk **parts, size_t n)
{
	struct topk	*t;
	char		*cause = NULL;
	size_t		 a, b;

	while (n > 1) {
		a = rnd() % n;
		b = rnd() % (n - 1);
		if (b >= a)
			b++;
		ck_assert_int_eq(topk_merge(parts[a], parts[b], &cause), 0);
		topk_free(parts[b]);
		parts[b] = parts[--n];
		if (a == n)
			a = b;
		t = parts[a];
		parts[a] = parts[0];
		parts[0] = t;
	}
	return (parts[0]);
}

/*
 * At most k distinct items: exact counts, errors 0, and merging equals
 * feeding both streams to one sketch, whatever the split and order.
 */
START_TEST(test_exact_merge)
{
	struct topk		*all, *a, *b, *parts[8];
	struct topk_item	*out;
	int			*items, trial, k, distinct, np, j;
	uint64_t		*w, f[300];
	size_t			 n = 5000, i, cut, m;

	items = malloc(n * sizeof(*items));
	w = malloc(n * sizeof(*w));
	out = calloc(300, sizeof(*out));
	for (trial = 0; trial < 40; trial++) {
		k = 1 + (int)(rnd() % 300);
		distinct = 1 + (int)(rnd() % (uint64_t)k);
		memset(f, 0, sizeof(f));
		for (i = 0; i < n; i++) {
			items[i] = (int)(rnd() % (uint64_t)distinct);
			w[i] = 1 + rnd() % 4;
			f[items[i]] += w[i];
		}
		all = topk_new(k);
		feed(all, items, w, n);
		ck_assert_uint_eq(topk_error_bound(all), 0);
		m = topk_list(all, out, 300);
		for (i = 0; i < m; i++) {
			ck_assert_uint_eq(out[i].count, f[item_of(&out[i])]);
			ck_assert_uint_eq(out[i].error, 0);
		}

		/* a's stream then b's, merged both ways. */
		cut = rnd() % n;
		a = topk_new(k);
		b = topk_new(k);
		feed(a, items, w, cut);
		feed(b, items + cut, w + cut, n - cut);
		ck_assert_int_eq(topk_merge(b, a, NULL), 0);
		assert_same(all, b);
		topk_free(b);
		b = topk_new(k);
		feed(b, items + cut, w + cut, n - cut);
		ck_assert_int_eq(topk_merge(a, b, NULL), 0);
		assert_same(all, a);
		topk_free(a);
		topk_free(b);

		/* Random partitions, random merge trees. */
		np = 2 + (int)(rnd() % 7);
		for (j = 0; j < np; j++)
			parts[j] = topk_new(k);
		for (i = 0; i < n; i++)
			add(parts[rnd() % (uint64_t)np], items[i], w[i]);
		a = merge_tree(parts, np);
		assert_same(all, a);
		assert_roundtrip(a);
		topk_free(a);
		topk_free(all);
	}
	free(out);
	free(w);
	free(items);
}
END_TEST

/*
 * The merge rule by hand.  A (k 2) saw a a a b b c: {a 3/0, c 3/2}, min 3.
 * B saw a d d d d d: {d 5/0, a 1/0}, min 1.  Candidates: a 3+1 = 4/0,
 * c 3+1 = 4/2+1, d 5+3 = 8/0+3; the first two ranked are kept.
 */
START_TEST(test_merge_rule)
{
	struct topk		*a, *b;
	struct topk_item	 out[2];

	a = topk_new(2);
	b = topk_new(2);
	topk_add(a, "a", 1, 3);
	topk_add(a, "b", 1, 2);
	topk_add(a, "c", 1, 1);
	topk_add(b, "a", 1, 1);
	topk_add(b, "d", 1, 5);
	ck_assert_uint_eq(topk_error_bound(a), 3);
	ck_assert_uint_eq(topk_error_bound(b), 1);
	ck_assert_int_eq(topk_merge(a, b, NULL), 0);
	ck_assert_uint_eq(topk_list(a, out, 2), 2);
	ck_assert(*(const char *)out[0].item == 'd' && out[0].count == 8 &&
	    out[0].error == 3);
	ck_assert(*(const char *)out[1].item == 'a' && out[1].count == 4 &&
	    out[1].error == 0);
	ck_assert_uint_eq(topk_error_bound(a), 4);	/* <= 12 / 2 */
	ck_assert_uint_eq(topk_total(a), 12);

	/* The other way round gives the same here (no ties at the cut). */
	topk_free(a);
	a = topk_new(2);
	topk_add(a, "a", 1, 3);
	topk_add(a, "b", 1, 2);
	topk_add(a, "c", 1, 1);
	ck_assert_int_eq(topk_merge(b, a, NULL), 0);
	ck_assert_uint_eq(topk_list(b, out, 2), 2);
	ck_assert(*(const char *)out[0].item == 'd' && out[0].count == 8);
	ck_assert(*(const char *)out[1].item == 'a' && out[1].count == 4);
	topk_free(a);
	topk_free(b);
}
END_TEST

/*
 * Partitions with different heavy hitters: items heavy in one part are
 * missing from the others' summaries, which is where the merge rule's
 * minimum-count term matters.
 */
START_TEST(test_merge_skewed_parts)
{
	struct topk	*parts[8], *t;
	uint64_t	*f;
	int		*ev[8], np, j, k;
	size_t		 i, cnt = 60000, trial;

	f = malloc(NITEMS * sizeof(*f));
	for (trial = 0; trial < 6; trial++) {
		np = 2 + (int)(trial % 7);
		k = trial % 2 ? 20 : 50;
		memset(f, 0, NITEMS * sizeof(*f));
		for (j = 0; j < np; j++) {
			ev[j] = zipf_stream(0.8 + 0.1 * j, cnt);
			parts[j] = topk_new(k);
			for (i = 0; i < cnt; i++) {
				add(parts[j], ev[j][i], 1);
				f[ev[j][i]]++;
			}
			free(ev[j]);
		}
		t = merge_tree(parts, np);
		check_guarantees(t, f, cnt * np);
		topk_free(t);
	}
	free(f);
}
END_TEST

START_TEST(test_merge_self)
{
	struct topk	*a, *b;
	int		 i, it;

	a = topk_new(10);
	b = topk_new(10);
	for (i = 0; i < 8; i++) {
		it = (int)(rnd() % 8);
		add(a, it, 3);
		add(b, it, 6);
	}
	ck_assert_int_eq(topk_merge(a, a, NULL), 0);
	assert_same(a, b);
	for (i = 0; i < 1000; i++)
		add(a, (int)(rnd() % 100), 1);
	ck_assert_int_eq(topk_merge(a, a, NULL), 0);
	ck_assert_uint_eq(topk_total(a), 2 * (48 + 1000));
	topk_free(a);
	topk_free(b);
}
END_TEST

START_TEST(test_merge_refused)
{
	struct topk	*a, *b;
	char		*cause = NULL;

	a = topk_new(10);
	b = topk_new(11);
	add(a, 1, 1);
	ck_assert_int_eq(topk_merge(a, b, &cause), -1);
	ck_assert_str_eq(cause, "topk: cannot merge k 11 into k 10");
	free(cause);
	topk_free(b);
	b = topk_new(10);
	add(b, 1, UINT64_MAX);			/* saturates: total 2^64 - 1 */
	ck_assert_uint_eq(topk_total(b), UINT64_MAX);
	add(b, 2, 5);
	ck_assert_uint_eq(topk_total(b), UINT64_MAX);
	ck_assert_uint_eq(topk_size(b), 1);
	ck_assert_int_eq(topk_merge(a, b, &cause), -1);
	ck_assert_str_eq(cause, "topk: merged total overflows");
	free(cause);
	ck_assert_uint_eq(topk_total(a), 1);
	assert_roundtrip(b);
	topk_free(a);
	topk_free(b);
}
END_TEST

/* Zipf(s) ranks over NITEMS items, shuffled to item numbers. */
static int *
zipf_stream(double s, size_t n)
{
	double	*cdf, acc = 0, u;
	int	*perm, *ev, t;
	size_t	 i, j, lo, hi;

	cdf = malloc(NITEMS * sizeof(*cdf));
	perm = malloc(NITEMS * sizeof(*perm));
	for (i = 0; i < NITEMS; i++) {
		acc += 1 / pow((double)(i + 1), s);
		cdf[i] = acc;
		perm[i] = (int)i;
	}
	for (i = NITEMS - 1; i > 0; i--) {
		j = rnd() % (i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	ev = malloc(n * sizeof(*ev));
	for (i = 0; i < n; i++) {
		u = (double)(rnd() >> 11) * 0x1p-53 * acc;
		for (lo = 0, hi = NITEMS - 1; lo < hi;) {
			j = (lo + hi) / 2;
			if (cdf[j] > u)
				hi = j;
			else
				lo = j + 1;
		}
		ev[i] = perm[lo];
	}
	free(cdf);
	free(perm);
	return (ev);
}

START_TEST(test_zipf)
{
	static const double	 ss[] = { 1.0, 1.2 };
	static const int	 ks[] = { 10, 100 };
	struct topk		*t, *parts[8];
	uint64_t		*f;
	int			*ev, np, j;
	size_t			 si, ki, i;

	f = malloc(NITEMS * sizeof(*f));
	for (si = 0; si < 2; si++) {
		ev = zipf_stream(ss[si], NEVENTS);
		memset(f, 0, NITEMS * sizeof(*f));
		for (i = 0; i < NEVENTS; i++)
			f[ev[i]]++;
		for (ki = 0; ki < 2; ki++) {
			t = topk_new(ks[ki]);
			for (i = 0; i < NEVENTS; i++)
				add(t, ev[i], 1);
			check_guarantees(t, f, NEVENTS);
			ck_assert_uint_eq(topk_size(t), ks[ki]);
			assert_roundtrip(t);
			topk_free(t);

			/* Random partitions of 2..8, merged in random trees. */
			np = 2 + (int)(si * 2 + ki) % 3;
			for (; np <= 8; np += 3) {
				for (j = 0; j < np; j++)
					parts[j] = topk_new(ks[ki]);
				for (i = 0; i < NEVENTS; i++)
					add(parts[rnd() % (uint64_t)np], ev[i],
					    1);
				t = merge_tree(parts, np);
				check_guarantees(t, f, NEVENTS);
				assert_roundtrip(t);
				topk_free(t);
			}
		}
		free(ev);
	}
	free(f);
}
END_TEST

/* Weighted events: the same guarantees with n the total weight. */
START_TEST(test_zipf_weighted)
{
	struct topk	*t, *parts[8];
	uint64_t	*f, *w, n = 0;
	int		*ev, np = 5, j;
	size_t		 i, cnt = NEVENTS / 4;

	ev = zipf_stream(1.1, cnt);
	f = calloc(NITEMS, sizeof(*f));
	w = malloc(cnt * sizeof(*w));
	for (i = 0; i < cnt; i++) {
		w[i] = 1 + rnd() % 10;
		f[ev[i]] += w[i];
		n += w[i];
	}
	for (j = 0; j < np; j++)
		parts[j] = topk_new(50);
	for (i = 0; i < cnt; i++)
		add(parts[rnd() % (uint64_t)np], ev[i], w[i]);
	t = merge_tree(parts, np);
	check_guarantees(t, f, n);
	topk_free(t);
	free(w);
	free(f);
	free(ev);
}
END_TEST

/* Hostile input: a sketch packed item by item, each field wrong alone. */
struct rawitem {
	const char	*item;
	size_t		 len;
	uint64_t	 count;
	uint64_t	 error;
};

static void
raw_pack(msgpack_sbuffer *sb, uint64_t version, uint64_t k, uint64_t total,
    const struct rawitem *it, size_t n)
{
	msgpack_packer	pk;
	size_t		i;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, version);
	msgpack_pack_uint64(&pk, k);
	msgpack_pack_uint64(&pk, total);
	msgpack_pack_array(&pk, n);
	for (i = 0; i < n; i++) {
		msgpack_pack_array(&pk, 3);
		msgpack_pack_bin(&pk, it[i].len);
		msgpack_pack_bin_body(&pk, it[i].item, it[i].len);
		msgpack_pack_uint64(&pk, it[i].count);
		msgpack_pack_uint64(&pk, it[i].error);
	}
}

static void
expect(uint64_t version, uint64_t k, uint64_t total,
    const struct rawitem *it, size_t n, const char *want)
{
	msgpack_sbuffer	 sb;
	struct topk	*t;
	char		*cause;

	raw_pack(&sb, version, k, total, it, n);
	t = unpack(sb.data, sb.size, &cause);
	if (want == NULL) {
		if (t == NULL)
			ck_abort_msg("refused: %s", cause);
		assert_roundtrip(t);
		topk_free(t);
	} else {
		if (t != NULL)
			ck_abort_msg("accepted, expected \"%s\"", want);
		ck_assert_str_eq(cause, want);
		free(cause);
	}
	msgpack_sbuffer_destroy(&sb);
}

START_TEST(test_hostile_fields)
{
	static char	 big[TOPK_ITEM_MAX + 1];
	struct rawitem	 ok[3] = {
		{ "b", 1, 5, 2 }, { "a", 1, 3, 0 }, { "c", 1, 3, 3 } };
	struct rawitem	 it[3];

	expect(1, 3, 11, ok, 3, NULL);
	expect(1, 3, 10, ok, 3, "topk: counts sum to more than total 10");
	expect(1, 3, 100, ok, 3, NULL);		/* merges drop weight */
	expect(2, 3, 12, ok, 3, "topk: unsupported version 2");
	expect(1, 0, 12, ok, 3, "topk: k 0 out of range");
	expect(1, 65537, 12, ok, 3, "topk: k 65537 out of range");
	expect(1, 2, 12, ok, 3, "topk: 3 items, more than k 2");
	expect(1, 3, 12, ok, 0, "topk: 0 of 3 counters used but counts sum "
	    "to 0, not total 12");
	expect(1, 3, 0, ok, 0, NULL);

	memcpy(it, ok, sizeof(it));
	it[2].error = 4;
	expect(1, 3, 12, it, 3, "topk: item 2: error 4 over count 3");
	memcpy(it, ok, sizeof(it));
	it[0].error = 4;
	expect(1, 3, 12, it, 3, "topk: item 0: error 4 over the minimum "
	    "count 3");
	memcpy(it, ok, sizeof(it));
	it[1].count = 0;
	it[1].error = 0;
	expect(1, 3, 12, it, 3, "topk: item 1: count 0");
	memcpy(it, ok, sizeof(it));
	it[2].item = "a";
	expect(1, 3, 12, it, 3, "topk: item 2: duplicate");
	it[2].item = "b";
	expect(1, 3, 12, it, 3, "topk: item 2: duplicate");
	memcpy(it, ok, sizeof(it));
	it[1].item = "d";
	expect(1, 3, 12, it, 3, "topk: item 2: out of order");
	memcpy(it, ok, sizeof(it));
	it[0].count = 3;
	expect(1, 3, 12, it, 3, "topk: item 1: out of order");
	memcpy(it, ok, sizeof(it));
	memset(big, 'x', sizeof(big));
	it[2].item = big;
	it[2].len = TOPK_ITEM_MAX + 1;
	expect(1, 3, 12, it, 3, "topk: item 2: 1025 bytes, more than 1024");
	it[2].len = TOPK_ITEM_MAX;
	expect(1, 3, 12, it, 3, NULL);

	/* Not all counters used: no errors, and the counts are the total. */
	expect(1, 4, 12, ok, 3, "topk: item 0: error 2 over the minimum "
	    "count 0");
	memcpy(it, ok, sizeof(it));
	it[0].error = it[2].error = 0;
	expect(1, 4, 10, it, 3, "topk: counts sum to more than total 10");
	expect(1, 4, 13, it, 3, "topk: 3 of 4 counters used but counts sum "
	    "to 11, not total 13");
	expect(1, 4, 11, it, 3, NULL);
}
END_TEST

/* Wrong shapes and types, every prefix, random damage. */
START_TEST(test_hostile_bytes)
{
	struct topk	*t, *back;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	uint8_t		*buf;
	size_t		 i, len;
	char		*cause;
	int		 n, accepted = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_nil(&pk);
	msgpack_pack_nil(&pk);
	msgpack_pack_nil(&pk);
	ck_assert_ptr_null(unpack(sb.data, sb.size, &cause));
	ck_assert_str_eq(cause, "topk: 3 fields, expected 4");
	free(cause);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_str_with_body(&pk, "x", 1);
	ck_assert_ptr_null(unpack(sb.data, sb.size, &cause));
	ck_assert_str_eq(cause, "topk: array: expected array, got string");
	free(cause);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_int64(&pk, -1);
	msgpack_pack_array(&pk, 0);
	ck_assert_ptr_null(unpack(sb.data, sb.size, &cause));
	ck_assert_str_eq(cause, "topk: total: expected unsigned integer, got "
	    "negative integer");
	free(cause);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_nil(&pk);
	msgpack_pack_nil(&pk);
	ck_assert_ptr_null(unpack(sb.data, sb.size, &cause));
	ck_assert_str_eq(cause, "topk: item 0: 2 fields, expected 3");
	free(cause);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_str_with_body(&pk, "s", 1);	/* strings accepted */
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_double(&pk, 0);
	ck_assert_ptr_null(unpack(sb.data, sb.size, &cause));
	ck_assert_str_eq(cause, "topk: item 0: expected unsigned integer, "
	    "got float");
	free(cause);
	msgpack_sbuffer_destroy(&sb);

	t = topk_new(64);
	for (n = 0; n < 5000; n++)
		add(t, (int)(rnd() % 500), 1 + rnd() % 3);
	pack(t, &sb);
	for (len = 0; len < sb.size; len++) {
		ck_assert_ptr_null(back = unpack(sb.data, len, &cause));
		free(cause);
	}
	buf = malloc(sb.size);
	for (n = 0; n < 20000; n++) {
		memcpy(buf, sb.data, sb.size);
		for (i = 0; i < 1 + rnd() % 3; i++)
			buf[rnd() % sb.size] ^= (uint8_t)(1 + rnd() % 255);
		if ((back = unpack(buf, sb.size, &cause)) == NULL) {
			free(cause);
			continue;
		}
		accepted++;
		assert_roundtrip(back);
		topk_free(back);
	}
	ck_assert_int_lt(accepted, 20000);
	free(buf);
	msgpack_sbuffer_destroy(&sb);
	topk_free(t);
}
END_TEST

/* Arenas */

#define ARENA_K		16
#define ARENA_NEV	3000

/*
 * Item j of the arena tests: its number and 0 to 60 bytes of padding, so
 * that an evicted counter's bytes are sometimes long enough for the next
 * item and sometimes not; item 0 is empty, item 1 is cut.
 */
static const char *
arena_item(int j, size_t *len)
{
	static char	buf[TOPK_ITEM_MAX + 100];
	int		n;

	if (j == 0) {
		*len = 0;
		return ("");
	}
	if (j == 1) {
		memset(buf, 'z', sizeof(buf));
		*len = sizeof(buf);
		return (buf);
	}
	n = snprintf(buf, sizeof(buf), "a%d-", j);
	memset(buf + n, 'p', (size_t)(j * 37 % 61));
	*len = (size_t)n + (size_t)(j * 37 % 61);
	return (buf);
}

/* A sketch of events [lo, hi) in a (NULL: the heap). */
static struct topk *
arena_build(struct arena *a, const int *ev, const uint64_t *w, size_t lo,
    size_t hi)
{
	struct topk	*t;
	const char	*item;
	size_t		 i, len;

	t = topk_new_in(a, ARENA_K);
	ck_assert_ptr_nonnull(t);
	for (i = lo; i < hi; i++) {
		item = arena_item(ev[i], &len);
		topk_add(t, item, len, w[i]);
	}
	return (t);
}

/* Unpack the packed bytes of t into a; the same sketch as t. */
static struct topk *
arena_reload(struct arena *a, const struct topk *t)
{
	msgpack_sbuffer		 sb;
	struct msg_reader	 r;
	struct topk		*u;
	char			*cause = NULL;

	pack(t, &sb);
	msg_reader_init(&r, sb.data, sb.size);
	u = topk_unpack_in(a, &r, &cause);
	ck_assert_msg(u != NULL, "%s", cause);
	ck_assert_int_eq(msg_end(&r), 0);
	msgpack_sbuffer_destroy(&sb);
	assert_same(u, t);
	return (u);
}

/*
 * Merge events r[2]..r[3] built in sa into r[0]..r[1] built in da (either
 * may be NULL, the heap) and expect what the same merge gives on the heap.
 * When sa is an arena of its own it is reset before the result is read:
 * the items taken from it must have been copied.
 */
static void
arena_merge_check(struct arena *da, struct arena *sa, const int *ev,
    const uint64_t *w, const size_t *r)
{
	struct topk	*d, *s, *ref, *rs;
	const char	*item;
	size_t		 i, len;

	d = arena_build(da, ev, w, r[0], r[1]);
	s = arena_build(sa, ev, w, r[2], r[3]);
	ref = arena_build(NULL, ev, w, r[0], r[1]);
	rs = arena_build(NULL, ev, w, r[2], r[3]);
	ck_assert_int_eq(topk_merge(d, s, NULL), 0);
	ck_assert_int_eq(topk_merge(ref, rs, NULL), 0);
	topk_free(s);
	topk_free(rs);
	if (sa != NULL && sa != da)
		arena_reset(sa);
	assert_same(d, ref);
	/* It keeps evicting in its own arena. */
	for (i = 0; i < ARENA_NEV; i += 3) {
		item = arena_item(ev[i] + 7, &len);
		topk_add(d, item, len, w[i]);
		topk_add(ref, item, len, w[i]);
	}
	assert_same(d, ref);
	ck_assert_int_eq(topk_merge(d, d, NULL), 0);
	ck_assert_int_eq(topk_merge(ref, ref, NULL), 0);
	assert_same(d, ref);
	topk_free(d);
	topk_free(ref);
}

/*
 * Sketches in an arena and on the heap from the same input agree to the
 * byte: new counters, evictions into longer and shorter items, merges
 * either way and across arenas, copies and unpacking into an arena.
 * Under ASan every arena allocation is a heap block of its own, so
 * overruns, and reads of an arena after its reset, are caught.
 */
START_TEST(test_arena)
{
	static const size_t	 merges[][4] = {
		{ 0, 8, 8, 16 },	/* neither full: exact */
		{ 0, 8, 8, 600 },	/* into a full one */
		{ 0, 600, 600, 610 },	/* a full one takes a few */
		{ 0, 1500, 1000, 3000 },	/* both full */
	};
	static int		 ev[ARENA_NEV];
	static uint64_t		 w[ARENA_NEV];
	struct arena		 ar, ar2;
	struct topk		*ta, *th, *c, *u, *ref;
	const char		*item;
	size_t			 i, k, len, before;

	arena_init(&ar);
	arena_init(&ar2);
	for (i = 0; i < ARENA_NEV; i++) {
		ev[i] = (int)(rnd() % 300);
		if (rnd() & 1)
			ev[i] %= 20;		/* some heavy hitters */
		w[i] = 1 + rnd() % 3;
	}

	/* The same adds, checked as the counters fill and turn over. */
	ta = topk_new_in(&ar, ARENA_K);
	th = topk_new(ARENA_K);
	for (i = 0; i < ARENA_NEV; i++) {
		item = arena_item(ev[i], &len);
		topk_add(ta, item, len, w[i]);
		topk_add(th, item, len, w[i]);
		if (i < 100 || i % 50 == 0) {
			assert_same(ta, th);
			ck_assert_uint_eq(topk_bytes(ta), topk_bytes(th));
		}
	}
	assert_same(ta, th);
	ck_assert_uint_eq(topk_error_bound(ta), topk_error_bound(th));

	/* Evictions by items that fit the evicted bytes take no space. */
	before = arena_bytes(&ar);
	for (i = 0; i < 1000; i++)
		topk_add(ta, "x", 1 + i % 2, 1);
	ck_assert_uint_eq(arena_bytes(&ar), before);

	/* Merges: arena <- heap, heap <- arena, across arenas. */
	for (k = 0; k < sizeof(merges) / sizeof(merges[0]); k++) {
		arena_merge_check(&ar, NULL, ev, w, merges[k]);
		arena_merge_check(NULL, &ar2, ev, w, merges[k]);
		arena_merge_check(&ar, &ar2, ev, w, merges[k]);
		arena_merge_check(&ar, &ar, ev, w, merges[k]);
	}

	/* Copies and unpacking into an arena, then evicting. */
	for (k = 0; k < 2; k++) {
		ref = arena_build(NULL, ev, w, 0, k == 0 ? 10 : 2000);
		c = topk_copy_in(&ar2, ref);
		assert_same(c, ref);
		u = arena_reload(&ar2, ref);
		for (i = 2000; i < ARENA_NEV; i++) {
			item = arena_item(ev[i] * 3, &len);
			topk_add(c, item, len, w[i]);
			topk_add(u, item, len, w[i]);
			topk_add(ref, item, len, w[i]);
		}
		assert_same(c, ref);
		assert_same(u, ref);
		topk_free(ref);
	}

	/* Copies out of an arena outlive it. */
	topk_free(th);
	th = topk_copy(ta);
	c = topk_copy_in(&ar2, ta);
	u = arena_reload(&ar2, ta);
	topk_free(ta);
	arena_reset(&ar);
	assert_same(c, th);
	assert_same(u, th);
	topk_free(th);
	arena_reset(&ar2);
	arena_pool_trim();
}
END_TEST

static Suite *
topk_suite(void)
{
	Suite	*s = suite_create("topk");
	TCase	*tc = tcase_create("topk");

	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_eviction_order);
	tcase_add_test(tc, test_model);
	tcase_add_test(tc, test_item_cap);
	tcase_add_test(tc, test_exact_merge);
	tcase_add_test(tc, test_merge_rule);
	tcase_add_test(tc, test_merge_skewed_parts);
	tcase_add_test(tc, test_merge_self);
	tcase_add_test(tc, test_merge_refused);
	tcase_add_test(tc, test_zipf);
	tcase_add_test(tc, test_zipf_weighted);
	tcase_add_test(tc, test_hostile_fields);
	tcase_add_test(tc, test_hostile_bytes);
	tcase_add_test(tc, test_arena);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(topk_suite());
	int	 failures;

	srunner_run_all(sr, CK_NORMAL);
	failures = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failures ? 1 : 0);
}
