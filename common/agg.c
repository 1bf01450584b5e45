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
 * The aggregation engine (see agg.h).
 *
 * Folding an event: its stored fields map (keys in schema order, as
 * ingestd writes it) is decoded once into one struct agg_value per field;
 * the filters are checked (a filter on an absent field is false); the row
 * of its group is found in the partial's hash table (the key is the time
 * bucket and the dimension values' msgpack bytes, which are canonical in
 * the stored form); every metric's state takes the value.  Values are
 * handed to the sketches as their msgpack bytes, so "42" and 42 stay
 * different and any type works for distinct and top.
 *
 * Metric states and the operations on them are switch statements on the
 * metric kind, kept together below: init, fold, merge, pack, unpack,
 * equal, free.
 */

#include <endian.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "agg.h"
#include "arena.h"
#include "conf.h"
#include "ddsketch.h"
#include "hash.h"
#include "hll.h"
#include "log.h"
#include "msg.h"
#include "topk.h"
#include "xmalloc.h"
#include "xsum.h"

#define AGG_KEY_INIT	4096		/* the key buffer's first size */

struct agg_view {
	const struct conf_view	*cv;
	const struct conf_stream *st;
	int64_t			 bucket_s;
	size_t			 nfields;
	size_t			 nmetrics;
	int			*mfloat;	/* metric's field is a float */
	size_t			*fsums;		/* the sums of float fields */
	size_t			 nfsums;
	size_t			 rowsize;
	uint64_t		 nilhash;	/* of an absent key value */
};

/* A slot of the open-addressed row table; row NULL: free. */
struct agg_slot {
	uint64_t		 hash;
	struct agg_row		*row;
};

/* The rows of one bucket: an open-addressed table of them. */
struct agg_btab {
	int64_t			 bucket;
	struct agg_slot		*tab;
	size_t			 size;		/* power of two */
	size_t			 nrows;		/* at most size / 2 */
};

struct agg_partial {
	const struct agg_view	*v;
	struct agg_btab		*bt;		/* one table per bucket */
	size_t			 nbt;
	size_t			 btcap;
	size_t			 cur;		/* bt[cur]: the last used */
	uint32_t		*bmap;		/* bucket to bt index + 1 */
	size_t			 bmapsize;	/* power of two, >= 2 nbt */
	size_t			 nrows;
	uint64_t		 events;	/* folded (after filters) */
	struct arena		 arena;		/* rows, keys, sketches */
	int64_t			 blo, bhi;	/* event ns of the last bucket */
	int64_t			 bucket;	/* ... and its start, seconds */
	struct agg_value	*vals;		/* scratch: one per field */
	uint8_t			*keybuf;	/* scratch, keycap bytes */
	size_t			 keycap;
};

/*
 * A row's hash, from its bucket and the hashes of its key's values, so
 * that folding reuses the hashes distinct and top take of the same values:
 * hash64 with seed 0 of a value's msgpack bytes, or, for the short values
 * of most dimensions (8 bytes or fewer, nil for an absent value among
 * them), something cheaper: their bytes read as one number (hash_tail),
 * and a multiply.  Each value's hash is mixed in with a rotation and a
 * multiply, and the result goes through the finaliser once.  Internal: in
 * no format.
 */
static inline uint64_t
agg_key_value_hash(const uint8_t *p, size_t n)
{
	if (n > 8)
		return (hash64(p, n, 0));
	return ((hash_tail(p, n) ^ (uint64_t)n << 59) * HASH_K4);
}

/* Compile view cv of configuration c. */
struct agg_view *
agg_view_new(const struct conf *c, const struct conf_view *cv)
{
	struct agg_view	*v;
	size_t		 i;

	v = xcalloc(1, sizeof(*v));
	v->cv = cv;
	v->st = &c->streams[cv->stream_idx];
	v->bucket_s = (int64_t)(cv->bucket_ms / 1000);
	v->nfields = v->st->nfields;
	v->nmetrics = cv->nmetrics;
	v->mfloat = xcalloc(v->nmetrics + 1, sizeof(*v->mfloat));
	for (i = 0; i < v->nmetrics; i++)
		v->mfloat[i] = cv->metrics[i].field_idx >= 0 &&
		    v->st->fields[cv->metrics[i].field_idx].type ==
		    CONF_FT_FLOAT;
	v->fsums = xcalloc(v->nmetrics + 1, sizeof(*v->fsums));
	for (i = 0; i < v->nmetrics; i++)
		if (cv->metrics[i].kind == CONF_M_SUM && v->mfloat[i])
			v->fsums[v->nfsums++] = i;
	v->rowsize = sizeof(struct agg_row) + v->nmetrics *
	    sizeof(struct agg_state);
	v->nilhash = agg_key_value_hash((const uint8_t *)"\xc0", 1);
	return (v);
}

void
agg_view_free(struct agg_view *v)
{
	if (v == NULL)
		return;
	free(v->mfloat);
	free(v->fsums);
	free(v);
}

const struct conf_view *
agg_view_conf(const struct agg_view *v)
{
	return (v->cv);
}

const struct conf_stream *
agg_view_stream(const struct agg_view *v)
{
	return (v->st);
}

size_t
agg_view_nmetrics(const struct agg_view *v)
{
	return (v->nmetrics);
}

/*
 * Metric states.
 */

void
agg_state_free(const struct agg_view *v, size_t m, struct agg_state *s)
{
	switch (v->cv->metrics[m].kind) {
	case CONF_M_SUM:
		if (v->mfloat[m])
			xsum_clear(&s->u.fsum);
		break;
	case CONF_M_DISTINCT:
		hll_free(s->u.hll);
		break;
	case CONF_M_QUANTILE:
		dds_free(s->u.dds);
		break;
	case CONF_M_TOP:
		topk_free(s->u.topk);
		break;
	default:
		break;
	}
	memset(s, 0, sizeof(*s));
}

/*
 * A value's hash64 with seed 0, computed once however many metrics and
 * keys use it: what distinct counts (hll) and top ranks (topk_hash) by.
 */
static inline uint64_t
agg_value_hash(struct agg_value *val)
{
	if (!val->hashed) {
		val->hash = hash64(val->raw, val->rawlen, 0);
		val->hashed = 1;
	}
	return (val->hash);
}

/*
 * The DDSketch bucket of a non-zero value for sketches of accuracy alpha:
 * computed once per event, as two quantiles of one field with the same
 * accuracy (in two views) are common, and the logarithm costs.
 */
static inline int64_t
agg_value_bucket(struct agg_value *val, const struct ddsketch *d,
    double alpha)
{
	if (val->qalpha != alpha) {
		val->qbucket = dds_bucket(d, val->f);
		val->qalpha = alpha;
	}
	return (val->qbucket);
}

/* Fold one value (NULL: the event itself, for count) into a state. */
static inline void
state_fold(const struct agg_view *v, struct arena *a, size_t m,
    struct agg_state *s, struct agg_value *val)
{
	const struct conf_metric	*cm = &v->cv->metrics[m];

	if (cm->kind == CONF_M_COUNT) {
		s->u.count++;
		return;
	}
	if (!val->present)
		return;
	switch (cm->kind) {
	case CONF_M_SUM:
		if (v->mfloat[m])
			xsum_add(&s->u.fsum, val->f);
		else
			s->u.isum += val->i;
		break;
	case CONF_M_MIN:
	case CONF_M_MAX:
		if (s->u.mm.n++ == 0) {
			s->u.mm.i = val->i;
			s->u.mm.f = val->f;
		} else if (v->mfloat[m]) {
			if (cm->kind == CONF_M_MIN ? val->f < s->u.mm.f :
			    val->f > s->u.mm.f)
				s->u.mm.f = val->f;
		} else if (cm->kind == CONF_M_MIN ? val->i < s->u.mm.i :
		    val->i > s->u.mm.i)
			s->u.mm.i = val->i;
		break;
	case CONF_M_DISTINCT:
		if (s->u.hll == NULL)
			s->u.hll = hll_new_in(a, cm->precision);
		hll_add_hash(s->u.hll, agg_value_hash(val));
		break;
	case CONF_M_QUANTILE:
		if (s->u.dds == NULL)
			s->u.dds = dds_new_in(a, cm->accuracy, cm->max_bins);
		if (val->f == 0)
			dds_add(s->u.dds, val->f);
		else
			dds_add_bucket(s->u.dds, val->f,
			    agg_value_bucket(val, s->u.dds, cm->accuracy));
		break;
	case CONF_M_TOP:
		if (s->u.topk == NULL)
			s->u.topk = topk_new_in(a, cm->k);
		topk_add_hashed(s->u.topk, val->raw, val->rawlen,
		    agg_value_hash(val), 1);
		break;
	default:
		break;
	}
}

/*
 * dst += src, for one metric; what dst needs to hold more comes from
 * arena a, dst's (NULL: the heap).
 */
int
agg_state_merge(const struct agg_view *v, size_t m, struct arena *a,
    struct agg_state *dst, const struct agg_state *src, char **cause)
{
	const struct conf_metric	*cm = &v->cv->metrics[m];

	switch (cm->kind) {
	case CONF_M_COUNT:
		if (__builtin_add_overflow(dst->u.count, src->u.count,
		    &dst->u.count))
			goto count;
		return (0);
	case CONF_M_SUM:
		if (v->mfloat[m])
			xsum_merge(&dst->u.fsum, &src->u.fsum);
		else if (__builtin_add_overflow(dst->u.isum, src->u.isum,
		    &dst->u.isum)) {
			xasprintf(cause, "%s: sum overflows", cm->name);
			return (-1);
		}
		return (0);
	case CONF_M_MIN:
	case CONF_M_MAX:
		if (src->u.mm.n == 0)
			return (0);
		if (dst->u.mm.n == 0)
			dst->u.mm = src->u.mm;
		else {
			if (__builtin_add_overflow(dst->u.mm.n, src->u.mm.n,
			    &dst->u.mm.n))
				goto count;
			if (v->mfloat[m]) {
				if (cm->kind == CONF_M_MIN ?
				    src->u.mm.f < dst->u.mm.f :
				    src->u.mm.f > dst->u.mm.f)
					dst->u.mm.f = src->u.mm.f;
			} else if (cm->kind == CONF_M_MIN ?
			    src->u.mm.i < dst->u.mm.i :
			    src->u.mm.i > dst->u.mm.i)
				dst->u.mm.i = src->u.mm.i;
		}
		return (0);
	case CONF_M_DISTINCT:
		if (src->u.hll == NULL)
			return (0);
		if (dst->u.hll == NULL) {
			dst->u.hll = hll_copy_in(a, src->u.hll);
			return (0);
		}
		return (hll_merge(dst->u.hll, src->u.hll, cause));
	case CONF_M_QUANTILE:
		if (src->u.dds == NULL)
			return (0);
		if (dst->u.dds == NULL) {
			dst->u.dds = dds_copy_in(a, src->u.dds);
			return (0);
		}
		return (dds_merge(dst->u.dds, src->u.dds, cause));
	case CONF_M_TOP:
		if (src->u.topk == NULL)
			return (0);
		if (dst->u.topk == NULL) {
			dst->u.topk = topk_copy_in(a, src->u.topk);
			return (0);
		}
		return (topk_merge(dst->u.topk, src->u.topk, cause));
	}
	return (0);
count:
	xasprintf(cause, "%s: count overflows", cm->name);
	return (-1);
}

/*
 * The serialized form of one state (docs/FORMAT.md, "View partials"):
 * count: uint; sum of an int field: int, or [high int64, low uint64] past
 * int64; sum of a float field: the exact sum [lo, [digits]]; min, max:
 * nil when no value was seen, else [n, value]; distinct, quantile, top:
 * nil when no value was seen, else the sketch's own form.
 */
void
agg_pack_state(const struct agg_view *v, size_t m, struct agg_state *s,
    msgpack_packer *pk)
{
	switch (v->cv->metrics[m].kind) {
	case CONF_M_COUNT:
		msgpack_pack_uint64(pk, s->u.count);
		break;
	case CONF_M_SUM:
		if (v->mfloat[m])
			xsum_pack(&s->u.fsum, pk);
		else if (s->u.isum >= INT64_MIN && s->u.isum <= INT64_MAX)
			msgpack_pack_int64(pk, (int64_t)s->u.isum);
		else {
			msgpack_pack_array(pk, 2);
			msgpack_pack_int64(pk, (int64_t)(s->u.isum >> 64));
			msgpack_pack_uint64(pk, (uint64_t)s->u.isum);
		}
		break;
	case CONF_M_MIN:
	case CONF_M_MAX:
		if (s->u.mm.n == 0) {
			msgpack_pack_nil(pk);
			break;
		}
		msgpack_pack_array(pk, 2);
		msgpack_pack_uint64(pk, s->u.mm.n);
		if (v->mfloat[m])
			msgpack_pack_double(pk, s->u.mm.f);
		else
			msgpack_pack_int64(pk, s->u.mm.i);
		break;
	case CONF_M_DISTINCT:
		if (s->u.hll == NULL)
			msgpack_pack_nil(pk);
		else
			hll_pack(s->u.hll, pk);
		break;
	case CONF_M_QUANTILE:
		if (s->u.dds == NULL)
			msgpack_pack_nil(pk);
		else
			dds_pack(s->u.dds, pk);
		break;
	case CONF_M_TOP:
		if (s->u.topk == NULL)
			msgpack_pack_nil(pk);
		else
			topk_pack(s->u.topk, pk);
		break;
	}
}

/* Read one state for metric m, checking it fits the metric's definition. */
int
agg_unpack_state(const struct agg_view *v, size_t m, struct agg_state *s,
    struct msg_reader *r, char **cause)
{
	return (agg_unpack_state_in(v, m, NULL, s, r, cause));
}

/* The same, the state's memory taken from arena a (NULL: the heap). */
int
agg_unpack_state_in(const struct agg_view *v, size_t m, struct arena *a,
    struct agg_state *s, struct msg_reader *r, char **cause)
{
	const struct conf_metric	*cm = &v->cv->metrics[m];
	uint32_t			 n;
	int64_t				 hi;
	uint64_t			 lo;

	memset(s, 0, sizeof(*s));
	if (cm->kind >= CONF_M_MIN && msg_peek(r) == MSG_T_NIL)
		return (msg_get_nil(r));
	switch (cm->kind) {
	case CONF_M_COUNT:
		if (msg_get_uint(r, &s->u.count) == -1)
			goto bad;
		return (0);
	case CONF_M_SUM:
		if (v->mfloat[m])
			return (xsum_unpack_in(&s->u.fsum, a, r, cause));
		if (msg_peek(r) == MSG_T_ARRAY) {
			if (msg_get_array(r, &n) == -1 || n != 2 ||
			    msg_get_int(r, &hi) == -1 ||
			    msg_get_uint(r, &lo) == -1)
				goto bad;
			s->u.isum = (__int128)hi * ((__int128)1 << 64) + lo;
			return (0);
		}
		if (msg_get_int(r, &hi) == -1)
			goto bad;
		s->u.isum = hi;
		return (0);
	case CONF_M_MIN:
	case CONF_M_MAX:
		if (msg_get_array(r, &n) == -1 || n != 2 ||
		    msg_get_uint(r, &s->u.mm.n) == -1 || s->u.mm.n == 0)
			goto bad;
		if (v->mfloat[m] ? msg_get_float(r, &s->u.mm.f) == -1 :
		    msg_get_int(r, &s->u.mm.i) == -1)
			goto bad;
		if (v->mfloat[m] && !isfinite(s->u.mm.f))
			goto bad;
		return (0);
	case CONF_M_DISTINCT:
		if ((s->u.hll = hll_unpack_in(a, r, cause)) == NULL)
			return (-1);
		if (hll_precision(s->u.hll) != cm->precision) {
			xasprintf(cause, "%s: precision %d, the view says %d",
			    cm->name, hll_precision(s->u.hll), cm->precision);
			goto fail;
		}
		return (0);
	case CONF_M_QUANTILE:
		if ((s->u.dds = dds_unpack_in(a, r, cause)) == NULL)
			return (-1);
		if (dds_alpha(s->u.dds) != cm->accuracy ||
		    dds_max_bins(s->u.dds) != cm->max_bins) {
			xasprintf(cause, "%s: sketch parameters differ from the "
			    "view's", cm->name);
			goto fail;
		}
		return (0);
	case CONF_M_TOP:
		if ((s->u.topk = topk_unpack_in(a, r, cause)) == NULL)
			return (-1);
		if (topk_k(s->u.topk) != cm->k) {
			xasprintf(cause, "%s: k %d, the view says %d", cm->name,
			    topk_k(s->u.topk), cm->k);
			goto fail;
		}
		return (0);
	}
bad:
	xasprintf(cause, "%s: malformed %s state", cm->name,
	    conf_mkind_name(cm->kind));
fail:
	agg_state_free(v, m, s);
	return (-1);
}

/* Whether two states of metric m are the same state. */
int
agg_state_equal(const struct agg_view *v, size_t m, struct agg_state *a,
    struct agg_state *b)
{
	switch (v->cv->metrics[m].kind) {
	case CONF_M_COUNT:
		return (a->u.count == b->u.count);
	case CONF_M_SUM:
		return (v->mfloat[m] ? xsum_equal(&a->u.fsum, &b->u.fsum) :
		    a->u.isum == b->u.isum);
	case CONF_M_MIN:
	case CONF_M_MAX:
		return (a->u.mm.n == b->u.mm.n && (a->u.mm.n == 0 ||
		    (v->mfloat[m] ? a->u.mm.f == b->u.mm.f :
		    a->u.mm.i == b->u.mm.i)));
	case CONF_M_DISTINCT:
		return (a->u.hll == NULL || b->u.hll == NULL ?
		    a->u.hll == b->u.hll : hll_equal(a->u.hll, b->u.hll));
	case CONF_M_QUANTILE:
		return (a->u.dds == NULL || b->u.dds == NULL ?
		    a->u.dds == b->u.dds : dds_equal(a->u.dds, b->u.dds));
	case CONF_M_TOP:
		return (a->u.topk == NULL || b->u.topk == NULL ?
		    a->u.topk == b->u.topk : topk_equal(a->u.topk, b->u.topk));
	}
	return (0);
}

/*
 * Partials.  Rows live in the partial's arena and are found through an
 * open-addressed table (linear probing, at most half full) that holds
 * each row's hash beside its pointer, so a probe touches the row only when
 * the hash matches.  Each bucket has a table of its own: events mostly
 * come in time order, so folding works in one bucket's table at a time,
 * small enough to stay in the cache, where one table for all the rows of
 * a partial would be touched all over for every event.
 */

#define AGG_BTAB_MIN	4		/* slots of a new bucket's table */
#define AGG_BMAP_MIN	16		/* slots of the bucket map */
#define AGG_BMAP_KEEP	65536		/* kept over a reset, at most */

struct agg_partial *
agg_partial_new(const struct agg_view *v)
{
	struct agg_partial	*p;

	p = xcalloc(1, sizeof(*p));
	p->v = v;
	p->bmapsize = AGG_BMAP_MIN;
	p->bmap = xcalloc(p->bmapsize, sizeof(*p->bmap));
	arena_init(&p->arena);
	p->blo = p->bhi = 0;
	p->vals = xcalloc(v->nfields + 1, sizeof(*p->vals));
	p->keycap = AGG_KEY_INIT;
	p->keybuf = xmalloc(p->keycap);
	return (p);
}

/*
 * Drop every bucket's table; the bucket map and list are kept for the
 * next use, unless grown large.
 */
static void
agg_btabs_clear(struct agg_partial *p)
{
	size_t	i;

	for (i = 0; i < p->nbt; i++)
		free(p->bt[i].tab);
	p->nbt = p->cur = 0;
	if (p->bmapsize > AGG_BMAP_KEEP) {
		free(p->bt);
		p->bt = NULL;
		p->btcap = 0;
		free(p->bmap);
		p->bmapsize = AGG_BMAP_MIN;
		p->bmap = xcalloc(p->bmapsize, sizeof(*p->bmap));
	} else
		memset(p->bmap, 0, p->bmapsize * sizeof(*p->bmap));
}

void
agg_partial_free(struct agg_partial *p)
{
	if (p == NULL)
		return;
	arena_reset(&p->arena);
	agg_btabs_clear(p);
	free(p->bt);
	free(p->bmap);
	free(p->vals);
	free(p->keybuf);
	free(p);
}

/* Empty p. */
void
agg_partial_reset(struct agg_partial *p)
{
	arena_reset(&p->arena);
	agg_btabs_clear(p);
	p->nrows = 0;
	p->events = 0;
	p->blo = p->bhi = 0;
}

size_t
agg_rows(const struct agg_partial *p)
{
	return (p->nrows);
}

uint64_t
agg_events(const struct agg_partial *p)
{
	return (p->events);
}

const struct agg_view *
agg_partial_view(const struct agg_partial *p)
{
	return (p->v);
}

struct arena *
agg_partial_arena(struct agg_partial *p)
{
	return (&p->arena);
}

/* The bytes p holds: tables and arena. */
size_t
agg_partial_bytes(const struct agg_partial *p)
{
	size_t	i, n = p->btcap * sizeof(*p->bt) +
	    p->bmapsize * sizeof(*p->bmap);

	for (i = 0; i < p->nbt; i++)
		n += p->bt[i].size * sizeof(*p->bt[i].tab);
	return (n + arena_bytes(&p->arena));
}

static inline uint64_t
agg_key_start(int64_t bucket)
{
	return ((uint64_t)bucket * HASH_K1);
}

static inline uint64_t
agg_key_mix(uint64_t h, uint64_t vh)
{
	return (((h << 27 | h >> 37) ^ vh) * HASH_K2);
}

static uint64_t
agg_key_hash(int64_t bucket, const uint8_t *key, size_t len)
{
	struct msg_reader	 r;
	const uint8_t		*p;
	size_t			 plen;
	uint64_t		 h = agg_key_start(bucket);
	uint32_t		 n, i;

	msg_reader_init(&r, key, len);
	if (msg_get_array(&r, &n) == -1)
		goto raw;
	for (i = 0; i < n; i++) {
		if (msg_get_raw(&r, &p, &plen) == -1)
			goto raw;
		h = agg_key_mix(h, agg_key_value_hash(p, plen));
	}
	if (msg_left(&r) == 0)
		return (hash_final(h));
raw:
	/* Not a key folding makes: any hash of its bytes will do. */
	return (hash64(key, len, h));
}

static void
agg_grow(struct agg_btab *b)
{
	struct agg_slot	*old = b->tab;
	size_t		 oldsize = b->size, i, j, mask;

	b->size *= 2;
	mask = b->size - 1;
	b->tab = xcalloc(b->size, sizeof(*b->tab));
	for (i = 0; i < oldsize; i++) {
		if (old[i].row == NULL)
			continue;
		for (j = old[i].hash & mask; b->tab[j].row != NULL;
		    j = (j + 1) & mask)
			;
		b->tab[j] = old[i];
	}
	free(old);
}

static inline size_t
agg_bmap_home(const struct agg_partial *p, int64_t bucket)
{
	return (hash64_u64((uint64_t)bucket) & (p->bmapsize - 1));
}

/* Put bt[i] in the bucket map (which has room). */
static void
agg_bmap_put(struct agg_partial *p, size_t i)
{
	size_t	j, mask = p->bmapsize - 1;

	for (j = agg_bmap_home(p, p->bt[i].bucket); p->bmap[j] != 0;
	    j = (j + 1) & mask)
		;
	p->bmap[j] = (uint32_t)(i + 1);
}

/*
 * The table of bucket's rows; NULL if it has none, unless create.  Only
 * folding (create) remembers it as the current one: a lookup alone
 * changes nothing.
 */
static inline struct agg_btab *
agg_btab(struct agg_partial *p, int64_t bucket, int create)
{
	struct agg_btab	*b;
	size_t		 i, j, mask = p->bmapsize - 1;

	if (p->nbt > 0 && p->bt[p->cur].bucket == bucket)
		return (&p->bt[p->cur]);
	for (j = agg_bmap_home(p, bucket); p->bmap[j] != 0;
	    j = (j + 1) & mask)
		if (p->bt[p->bmap[j] - 1].bucket == bucket) {
			if (!create)
				return (&p->bt[p->bmap[j] - 1]);
			p->cur = p->bmap[j] - 1;
			return (&p->bt[p->cur]);
		}
	if (!create)
		return (NULL);
	if (p->nbt >= UINT32_MAX - 1)
		fatalx("agg: too many buckets in one partial");
	if (p->nbt == p->btcap) {
		p->btcap = p->btcap == 0 ? 16 : p->btcap * 2;
		p->bt = xreallocarray(p->bt, p->btcap, sizeof(*p->bt));
	}
	b = &p->bt[p->nbt];
	b->bucket = bucket;
	b->size = AGG_BTAB_MIN;
	b->nrows = 0;
	b->tab = xcalloc(b->size, sizeof(*b->tab));
	p->cur = p->nbt++;
	if (p->nbt * 2 > p->bmapsize) {
		free(p->bmap);
		p->bmapsize *= 2;
		p->bmap = xcalloc(p->bmapsize, sizeof(*p->bmap));
		for (i = 0; i < p->nbt; i++)
			agg_bmap_put(p, i);
	} else
		agg_bmap_put(p, p->cur);
	return (b);
}

/* Are the n bytes at a and b the same?  Short keys: no call to memcmp. */
static inline int
agg_key_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t	x, y;

	for (; n >= 8; a += 8, b += 8, n -= 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return (0);
	}
	for (; n > 0; n--)
		if (*a++ != *b++)
			return (0);
	return (1);
}

/* The row of (bucket, key) with hash h, created empty if create is set. */
static struct agg_row *
agg_lookup(struct agg_partial *p, uint64_t h, int64_t bucket,
    const uint8_t *key, size_t keylen, int create)
{
	const struct agg_view	*v = p->v;
	struct agg_btab		*b;
	struct agg_slot		*s;
	struct agg_row		*row;
	uint8_t			*base;
	size_t			 mask, i, koff, m;

	if ((b = agg_btab(p, bucket, create)) == NULL)
		return (NULL);
	mask = b->size - 1;
	for (i = h & mask;; i = (i + 1) & mask) {
		s = &b->tab[i];
		if (s->row == NULL)
			break;
		row = s->row;
		if (s->hash == h && row->bucket == bucket &&
		    row->keylen == keylen && agg_key_eq(row->key, key, keylen))
			return (row);
	}
	if (!create)
		return (NULL);
	/*
	 * One allocation: the key, padded to keep the row aligned, then
	 * the row and its states.
	 */
	koff = (keylen + 15) & ~(size_t)15;
	base = arena_alloc(&p->arena, koff + v->rowsize);
	row = (struct agg_row *)(base + koff);
	memset(row, 0, v->rowsize);
	row->hash = h;
	row->bucket = bucket;
	row->key = base;
	memcpy(row->key, key, keylen);
	row->keylen = keylen;
	for (m = 0; m < v->nfsums; m++)
		xsum_init_in(&row->st[v->fsums[m]].u.fsum, &p->arena);
	s->hash = h;
	s->row = row;
	p->nrows++;
	if (++b->nrows * 2 > b->size)
		agg_grow(b);
	return (row);
}

struct agg_row *
agg_find_row(struct agg_partial *p, int64_t bucket, const uint8_t *key,
    size_t keylen, int create)
{
	return (agg_lookup(p, agg_key_hash(bucket, key, keylen), bucket, key,
	    keylen, create));
}

/*
 * Decoding a stored fields map.  The common encodings of the stored form
 * (fixstr keys; fixint, int and uint 8 to 64, float 32 and 64,
 * short strings, booleans as values) are read here without the general
 * reader; anything else goes through it, with the same result.
 */

/*
 * An integer at p (before end) in one of the fast encodings: its size in
 * bytes, or 0 if it is not one (or a uint past INT64_MAX).
 */
static inline size_t
agg_fast_int(const uint8_t *p, const uint8_t *end, int64_t *v)
{
	uint8_t		b = p[0];
	uint64_t	u;

	if (b <= 0x7f) {
		*v = b;
		return (1);
	}
	if (b >= 0xe0) {
		*v = (int8_t)b;
		return (1);
	}
	switch (b) {
	case 0xcc:
		if (end - p < 2)
			return (0);
		*v = p[1];
		return (2);
	case 0xcd:
		if (end - p < 3)
			return (0);
		*v = msg_be16(p + 1);
		return (3);
	case 0xce:
		if (end - p < 5)
			return (0);
		*v = msg_be32(p + 1);
		return (5);
	case 0xcf:
		if (end - p < 9 || (u = msg_be64(p + 1)) > INT64_MAX)
			return (0);
		*v = (int64_t)u;
		return (9);
	case 0xd0:
		if (end - p < 2)
			return (0);
		*v = (int8_t)p[1];
		return (2);
	case 0xd1:
		if (end - p < 3)
			return (0);
		*v = (int16_t)msg_be16(p + 1);
		return (3);
	case 0xd2:
		if (end - p < 5)
			return (0);
		*v = (int32_t)msg_be32(p + 1);
		return (5);
	case 0xd3:
		if (end - p < 9)
			return (0);
		*v = (int64_t)msg_be64(p + 1);
		return (9);
	}
	return (0);
}

/*
 * The value at p for a field of type t, in a fast encoding: its size, 0
 * when the general reader must look at it.
 */
static inline size_t
agg_fast_value(enum conf_ftype t, const uint8_t *p, const uint8_t *end,
    struct agg_value *val)
{
	uint8_t		b = p[0];
	size_t		n, len;
	uint64_t	u;
	uint32_t	u32;
	float		f32;

	switch (t) {
	case CONF_FT_STRING:
		if (b >= 0xa0 && b <= 0xbf) {
			n = 1;
			len = b & 0x1f;
		} else if (b == 0xd9 && end - p >= 2) {
			n = 2;
			len = p[1];
		} else
			return (0);
		if ((size_t)(end - p) - n < len)
			return (0);
		val->s = (const char *)p + n;
		val->slen = len;
		val->present = 1;
		return (n + len);
	case CONF_FT_INT:
		if ((n = agg_fast_int(p, end, &val->i)) == 0)
			return (0);
		val->f = (double)val->i;
		val->present = 1;
		return (n);
	case CONF_FT_FLOAT:
		if (b == 0xcb) {
			if (end - p < 9)
				return (0);
			u = msg_be64(p + 1);
			memcpy(&val->f, &u, sizeof(val->f));
			n = 9;
		} else if (b == 0xca) {
			if (end - p < 5)
				return (0);
			u32 = msg_be32(p + 1);
			memcpy(&f32, &u32, sizeof(f32));
			val->f = f32;
			n = 5;
		} else if ((n = agg_fast_int(p, end, &val->i)) != 0)
			val->f = (double)val->i;
		else
			return (0);
		/* -0.0 is 0.0: min and max must not depend on order */
		if (val->f == 0)
			val->f = 0.0;
		val->present = isfinite(val->f);
		return (n);
	case CONF_FT_BOOL:
		if (b != 0xc2 && b != 0xc3)
			return (0);
		val->i = b == 0xc3;
		val->f = (double)val->i;
		val->present = 1;
		return (1);
	}
	return (0);
}

/*
 * Is the key k of klen bytes (before end) field f's name?  Names of up to
 * 16 bytes compare as two numbers when 16 bytes can be read at k.
 */
static inline int
agg_field_is(const struct conf_field *f, const char *k, size_t klen,
    const uint8_t *end)
{
	uint64_t	w[2];

	if (f->namelen != klen)
		return (0);
	if (klen <= 16 && end - (const uint8_t *)k >= 16) {
		memcpy(w, k, sizeof(w));
		w[0] = le64toh(w[0]);
		w[1] = le64toh(w[1]);
		if (klen < 8) {
			w[0] &= ((uint64_t)1 << (8 * klen)) - 1;
			w[1] = 0;
		} else if (klen < 16)
			w[1] &= ((uint64_t)1 << (8 * (klen - 8))) - 1;
		return (w[0] == f->namew[0] && w[1] == f->namew[1]);
	}
	return (memcmp(f->name, k, klen) == 0);
}

/* The general reader's way with one value of field type t. */
static int
agg_slow_value(enum conf_ftype t, struct msg_reader *r,
    struct agg_value *val)
{
	enum msg_type	 ty = msg_peek(r);
	int		 b;

	switch (t) {
	case CONF_FT_STRING:
		if (ty != MSG_T_STR)
			break;
		if (msg_get_str(r, &val->s, &val->slen) == -1)
			return (-1);
		val->present = 1;
		break;
	case CONF_FT_INT:
		if (ty != MSG_T_UINT && ty != MSG_T_INT)
			break;
		if (msg_get_int(r, &val->i) == -1)
			return (-1);
		val->f = (double)val->i;
		val->present = 1;
		break;
	case CONF_FT_FLOAT:
		if (ty != MSG_T_FLOAT && ty != MSG_T_UINT && ty != MSG_T_INT)
			break;
		if (msg_get_number(r, &val->f) == -1)
			return (-1);
		if (val->f == 0)
			val->f = 0.0;
		val->present = isfinite(val->f);
		break;
	case CONF_FT_BOOL:
		if (ty != MSG_T_BOOL)
			break;
		if (msg_get_bool(r, &b) == -1)
			return (-1);
		val->i = b;
		val->f = b;
		val->present = 1;
		break;
	}
	if (!val->present) {
		r->p = val->raw;
		if (msg_skip(r) == -1)
			return (-1);
	}
	return (0);
}

/*
 * Decode a stored fields map of stream st into vals (one per field).
 * Keys come in schema order, so each is looked for from where the last
 * one was found.  A key that is no longer in the schema, or a value whose
 * type no longer matches, is left out (the stream's schema may have
 * changed since the event was stored).
 */
int
agg_decode(const struct conf_stream *st, struct agg_value *vals,
    const uint8_t *fields, size_t len, char **cause)
{
	const struct conf_field		*fl = st->fields;
	struct msg_reader		 r;
	struct agg_value		*val;
	const uint8_t			*end = fields + len;
	const char			*k;
	size_t				 klen, i, at = 0, tries, nf = st->nfields;
	size_t				 vn;
	uint64_t			 u;
	uint32_t			 n;
	uint8_t				 b;

	for (i = 0; i < nf; i++)
		vals[i].present = vals[i].hashed = 0;	/* and qalpha: below */
	msg_reader_init(&r, fields, len);
	if (len > 0 && fields[0] >= 0x80 && fields[0] <= 0x8f) {
		n = fields[0] & 0x0f;
		r.p++;
	} else if (msg_get_map(&r, &n) == -1)
		goto bad;
	while (n-- > 0) {
		if (r.p < end && (b = r.p[0]) >= 0xa0 && b <= 0xbf &&
		    (size_t)(end - r.p) > (size_t)(b & 0x1f)) {
			k = (const char *)r.p + 1;
			klen = b & 0x1f;
			r.p += 1 + klen;
		} else if (msg_get_str(&r, &k, &klen) == -1)
			goto bad;
		for (tries = 0, i = at; tries < nf; tries++, i++) {
			if (i >= nf)
				i = 0;
			if (agg_field_is(&fl[i], k, klen, end))
				break;
		}
		if (tries == nf) {
			if (msg_skip(&r) == -1)
				goto bad;
			continue;
		}
		at = i + 1;
		val = &vals[i];
		/* a repeated key: the last counts */
		val->present = val->hashed = 0;
		val->qalpha = 0;
		val->raw = r.p;
		if (r.p < end && (vn = agg_fast_value(fl[i].type, r.p, end,
		    val)) != 0)
			r.p += vn;
		else if (agg_slow_value(fl[i].type, &r, val) == -1)
			goto bad;
		val->rawlen = r.p - val->raw;
		/*
		 * One number, one form (ingest stores float 64 already): a
		 * float field's raw bytes are its value's float 64, +0.0 for
		 * -0.0, so that distinct and top see one value.
		 */
		if (fl[i].type == CONF_FT_FLOAT && val->present &&
		    (val->raw[0] != 0xcb || val->f == 0)) {
			memcpy(&u, &val->f, sizeof(u));
			u = htobe64(u);
			val->fraw[0] = 0xcb;
			memcpy(val->fraw + 1, &u, sizeof(u));
			val->raw = val->fraw;
			val->rawlen = sizeof(val->fraw);
		}
	}
	if (msg_end(&r) == -1)
		goto bad;
	return (0);
bad:
	xasprintf(cause, "malformed fields map: %s", msg_error(&r));
	return (-1);
}

/* Does value val pass filter f?  An absent value passes none. */
static int
agg_filter(const struct conf_filter *f, const struct agg_value *val)
{
	const struct conf_value	*c;
	size_t			 i;
	int			 hit = 0;

	if (!val->present)
		return (0);
	switch (f->op) {
	case CONF_OP_EQ:
	case CONF_OP_NE:
	case CONF_OP_IN:
	case CONF_OP_NOT_IN:
		for (i = 0; i < f->nvals && !hit; i++) {
			c = &f->vals[i];
			switch (f->type) {
			case CONF_FT_STRING:
				hit = c->len == val->slen &&
				    memcmp(c->s, val->s, val->slen) == 0;
				break;
			case CONF_FT_FLOAT:
				hit = c->f == val->f;
				break;
			default:
				hit = c->i == val->i;
				break;
			}
		}
		return (f->op == CONF_OP_EQ || f->op == CONF_OP_IN ? hit : !hit);
	case CONF_OP_GT:
		return (f->type == CONF_FT_INT ? val->i > f->vals[0].i :
		    val->f > f->vals[0].f);
	case CONF_OP_GE:
		return (f->type == CONF_FT_INT ? val->i >= f->vals[0].i :
		    val->f >= f->vals[0].f);
	case CONF_OP_LT:
		return (f->type == CONF_FT_INT ? val->i < f->vals[0].i :
		    val->f < f->vals[0].f);
	case CONF_OP_LE:
		return (f->type == CONF_FT_INT ? val->i <= f->vals[0].i :
		    val->f <= f->vals[0].f);
	}
	return (0);
}

/* The start of the bucket of event_ns, in seconds (floor, also < 0). */
static inline int64_t
agg_bucket(struct agg_partial *p, int64_t event_ns)
{
	int64_t	secs, b, bs = p->v->bucket_s;

	if (event_ns >= p->blo && event_ns < p->bhi)
		return (p->bucket);
	secs = event_ns / 1000000000;
	if (event_ns % 1000000000 < 0)
		secs--;
	b = secs - (((secs % bs) + bs) % bs);
	p->bucket = b;
	/* The range of event times in that bucket, when it fits int64. */
	if (b > INT64_MIN / 1000000000 + bs &&
	    b < INT64_MAX / 1000000000 - bs) {
		p->blo = b * 1000000000;
		p->bhi = (b + bs) * 1000000000;
	} else
		p->blo = p->bhi = 0;
	return (b);
}

/*
 * Whether an event passes p's filters, and if so the bucket and the hash
 * of the row it goes to.
 */
static inline int
agg_event_row(struct agg_partial *p, int64_t event_ns, struct agg_value *vals,
    int64_t *bucket, uint64_t *hash)
{
	const struct agg_view	*v = p->v;
	const struct conf_view	*cv = v->cv;
	struct agg_value	*val;
	uint64_t		 h;
	size_t			 i;

	for (i = 0; i < cv->nfilters; i++)
		if (!agg_filter(&cv->filters[i],
		    &vals[cv->filters[i].field_idx]))
			return (0);
	*bucket = agg_bucket(p, event_ns);
	h = agg_key_start(*bucket);
	for (i = 0; i < cv->ngroup; i++) {
		val = &vals[cv->group_idx[i]];
		if (!val->present)
			h = agg_key_mix(h, v->nilhash);
		else if (val->rawlen <= 8)
			h = agg_key_mix(h, agg_key_value_hash(val->raw,
			    val->rawlen));
		else
			h = agg_key_mix(h, agg_value_hash(val));
	}
	*hash = hash_final(h);
	return (1);
}

/*
 * Fold one decoded event (agg_decode) into p: filters, group key, metrics.
 * Returns 0, also when the filters leave the event out (-1 and *cause are
 * kept for failures to come: none today).
 */
int
agg_fold_values(struct agg_partial *p, int64_t event_ns,
    struct agg_value *vals, char **cause)
{
	const struct agg_view	*v = p->v;
	const struct conf_view	*cv = v->cv;
	struct agg_value	*val;
	struct agg_row		*row;
	uint8_t			*k;
	size_t			 i, klen;
	uint64_t		 h;
	int64_t			 bucket;
	int			 fi;

	(void)cause;
	if (!agg_event_row(p, event_ns, vals, &bucket, &h))
		return (0);
	/*
	 * The key: a msgpack array of the dimension values (nil: absent).
	 * No limit but memory: an event already stored must always fold
	 * (its values are bounded by ingest's message size).
	 */
	for (klen = 1, i = 0; i < cv->ngroup; i++) {
		val = &vals[cv->group_idx[i]];
		klen += val->present ? val->rawlen : 1;
	}
	if (klen > p->keycap) {
		while (p->keycap < klen)
			p->keycap *= 2;
		free(p->keybuf);
		p->keybuf = xmalloc(p->keycap);
	}
	k = p->keybuf;
	k[0] = 0x90 | (uint8_t)cv->ngroup;
	klen = 1;
	for (i = 0; i < cv->ngroup; i++) {
		val = &vals[cv->group_idx[i]];
		if (!val->present) {
			k[klen++] = 0xc0;
			continue;
		}
		memcpy(k + klen, val->raw, val->rawlen);
		klen += val->rawlen;
	}
	row = agg_lookup(p, h, bucket, k, klen, 1);
	for (i = 0; i < v->nmetrics; i++) {
		fi = cv->metrics[i].field_idx;
		state_fold(v, &p->arena, i, &row->st[i], fi < 0 ? NULL :
		    &vals[fi]);
	}
	p->events++;
	return (0);
}

/* Fold one stored event (its event time and fields map) into p. */
int
agg_fold(struct agg_partial *p, int64_t event_ns, const uint8_t *fields,
    size_t len, char **cause)
{
	if (agg_decode(p->v->st, p->vals, fields, len, cause) == -1)
		return (-1);
	return (agg_fold_values(p, event_ns, p->vals, cause));
}

/* dst's states += src's, row by row; dst's new memory from arena a. */
int
agg_row_merge(const struct agg_view *v, struct arena *a, struct agg_row *dst,
    const struct agg_row *src, char **cause)
{
	size_t	m;

	for (m = 0; m < v->nmetrics; m++)
		if (agg_state_merge(v, m, a, &dst->st[m], &src->st[m],
		    cause) == -1)
			return (-1);
	return (0);
}

/* dst += src: the partial of the union of their events. */
int
agg_merge(struct agg_partial *dst, const struct agg_partial *src,
    char **cause)
{
	const struct agg_btab	*b;
	struct agg_row		*row, *d;
	size_t			 i, j;

	for (j = 0; j < src->nbt; j++) {
		b = &src->bt[j];
		for (i = 0; i < b->size; i++) {
			if ((row = b->tab[i].row) == NULL)
				continue;
			d = agg_lookup(dst, b->tab[i].hash, row->bucket,
			    row->key, row->keylen, 1);
			if (agg_row_merge(dst->v, &dst->arena, d, row,
			    cause) == -1)
				return (-1);
		}
	}
	dst->events += src->events;
	return (0);
}

/*
 * dst += src, then src emptied (also on error, when dst holds what was
 * merged).
 */
int
agg_merge_move(struct agg_partial *dst, struct agg_partial *src,
    char **cause)
{
	int	rc;

	rc = agg_merge(dst, src, cause);
	agg_partial_reset(src);
	return (rc);
}

/* Rows order by bucket, then by their key's bytes. */
int
agg_row_cmp(const struct agg_row *a, const struct agg_row *b)
{
	size_t	n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int	c;

	if (a->bucket != b->bucket)
		return (a->bucket < b->bucket ? -1 : 1);
	if ((c = memcmp(a->key, b->key, n)) != 0)
		return (c);
	return (a->keylen < b->keylen ? -1 : a->keylen > b->keylen);
}

/*
 * Sorting rows: each with its bucket and the first bytes of its key (past
 * the array header) as a big-endian number, so that most comparisons
 * touch neither the row nor the key.
 */
#define AGG_SORT_AHEAD	32	/* table slots */

struct agg_sortkey {
	int64_t		 bucket;
	uint64_t	 prefix[2];
	struct agg_row	*row;
};

static inline int
agg_sortkey_cmp(const struct agg_sortkey *a, const struct agg_sortkey *b)
{
	if (a->bucket != b->bucket)
		return (a->bucket < b->bucket ? -1 : 1);
	if (a->prefix[0] != b->prefix[0])
		return (a->prefix[0] < b->prefix[0] ? -1 : 1);
	if (a->prefix[1] != b->prefix[1])
		return (a->prefix[1] < b->prefix[1] ? -1 : 1);
	return (agg_row_cmp(a->row, b->row));
}

/*
 * Sort n keys: insertion sort of runs of 16, then merges through tmp
 * (bottom up), with the comparison inlined.  Returns where the sorted
 * keys are: v or tmp.
 */
static struct agg_sortkey *
agg_sortkeys(struct agg_sortkey *v, struct agg_sortkey *tmp, size_t n)
{
	struct agg_sortkey	 x, *src = v, *dst = tmp, *t;
	size_t			 i, j, lo, mid, hi, a, b, w;

	for (lo = 0; lo < n; lo += 16) {
		hi = lo + 16 < n ? lo + 16 : n;
		for (i = lo + 1; i < hi; i++) {
			x = v[i];
			for (j = i; j > lo && agg_sortkey_cmp(&v[j - 1], &x) > 0;
			    j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
	}
	for (w = 16; w < n; w *= 2) {
		for (lo = 0; lo < n; lo += 2 * w) {
			mid = lo + w < n ? lo + w : n;
			hi = lo + 2 * w < n ? lo + 2 * w : n;
			for (a = lo, b = mid, i = lo; i < hi; i++) {
				if (a < mid && (b >= hi ||
				    agg_sortkey_cmp(&src[a], &src[b]) <= 0))
					dst[i] = src[a++];
				else
					dst[i] = src[b++];
			}
		}
		t = src;
		src = dst;
		dst = t;
	}
	return (src);
}

static int
agg_btab_cmp(const void *a, const void *b)
{
	const struct agg_btab	*const *x = a, *const *y = b;

	return ((*x)->bucket < (*y)->bucket ? -1 : (*x)->bucket > (*y)->bucket);
}

/* The rows in order, in a new array (free it, not the rows). */
struct agg_row **
agg_sorted_rows(const struct agg_partial *p)
{
	const struct agg_btab	**order, *b;
	struct agg_sortkey	*sk, *tmp, *sorted;
	struct agg_row		**rows, *row;
	uint8_t			  pre[16];
	size_t			  i, j, k, len, first, n = 0;
	uint64_t		  x;

	/* Bucket by bucket, each one's rows sorted by key. */
	order = xcalloc(p->nbt + 1, sizeof(*order));
	for (j = 0; j < p->nbt; j++)
		order[j] = &p->bt[j];
	qsort(order, p->nbt, sizeof(*order), agg_btab_cmp);
	sk = xcalloc(2 * p->nrows + 1, sizeof(*sk));
	tmp = sk + p->nrows;
	rows = xcalloc(p->nrows + 1, sizeof(*rows));
	for (j = 0; j < p->nbt; j++) {
		b = order[j];
		first = n;
		for (i = 0; i < b->size; i++) {
			/* The rows are cold and scattered: ask ahead. */
			if (i + AGG_SORT_AHEAD < b->size &&
			    (row = b->tab[i + AGG_SORT_AHEAD].row) != NULL) {
				/* The key ends where the row starts. */
				__builtin_prefetch(row);
				__builtin_prefetch((const char *)row - 1);
			}
			if ((row = b->tab[i].row) == NULL)
				continue;
			sk[n].bucket = row->bucket;
			/*
			 * Key bytes 1 to 16, zero-padded, as two big-endian
			 * words.
			 */
			len = row->keylen > 1 ? row->keylen - 1 : 0;
			memset(pre, 0, sizeof(pre));
			memcpy(pre, row->key + 1, len < sizeof(pre) ? len :
			    sizeof(pre));
			memcpy(&x, pre, 8);
			sk[n].prefix[0] = be64toh(x);
			memcpy(&x, pre + 8, 8);
			sk[n].prefix[1] = be64toh(x);
			sk[n++].row = row;
		}
		sorted = agg_sortkeys(sk + first, tmp + first, n - first);
		for (k = 0; k < n - first; k++)
			rows[first + k] = sorted[k].row;
	}
	free(sk);
	free(order);
	return (rows);
}

/*
 * Ask for the first AGG_HEAD_BYTES at p, the fields of a sketch that its
 * own prefetch reads (an arena aligns to 16 bytes only: they may straddle
 * two or three lines).
 */
#define AGG_HEAD_BYTES	128

static inline void
agg_prefetch_head(const void *p)
{
	const char	*c = p;

	__builtin_prefetch(c);
	__builtin_prefetch(c + 64);
	__builtin_prefetch(c + AGG_HEAD_BYTES - 1);
}

/*
 * Ask for the memory that packing row will read, a level at a time: 0 the
 * row and its key, 1 its sketches (the row must have been asked for
 * before), 2 the sketches' arrays.  A caller walking rows asks for each
 * level a few rows apart, so that every level's addresses are in cache
 * when read.  Only hints: nothing changes.
 */
void
agg_row_prefetch(const struct agg_view *v, const struct agg_row *row,
    int level)
{
	const struct conf_view	*cv = v->cv;
	const struct agg_state	*s;
	size_t			 m, i;

	if (level == 0) {
		/* Not row->key, a read: the key ends where the row starts. */
		__builtin_prefetch((const char *)row - 1);
		for (i = 0; i < v->rowsize; i += 64)
			__builtin_prefetch((const char *)row + i);
		__builtin_prefetch((const char *)row + v->rowsize - 1);
		return;
	}
	if (level == 1)
		__builtin_prefetch(row->key);
	for (m = 0; m < v->nmetrics; m++) {
		s = &row->st[m];
		switch (cv->metrics[m].kind) {
		case CONF_M_SUM:
			if (v->mfloat[m] && level == 1)
				__builtin_prefetch(s->u.fsum.w);
			break;
		case CONF_M_DISTINCT:
			if (s->u.hll == NULL)
				break;
			if (level == 1)
				agg_prefetch_head(s->u.hll);
			else
				hll_prefetch(s->u.hll);
			break;
		case CONF_M_QUANTILE:
			if (s->u.dds == NULL)
				break;
			if (level == 1)
				agg_prefetch_head(s->u.dds);
			else
				dds_prefetch(s->u.dds);
			break;
		case CONF_M_TOP:
			if (s->u.topk == NULL)
				break;
			if (level == 1)
				agg_prefetch_head(s->u.topk);
			else
				topk_prefetch(s->u.topk);
			break;
		default:
			break;
		}
	}
}

/*
 * A row: [bucket, [dimension values], [state per metric]] — the form of
 * partials on the wire.
 */
void
agg_pack_row(const struct agg_view *v, struct agg_row *row,
    msgpack_packer *pk)
{
	size_t	m;

	msgpack_pack_array(pk, 3);
	msgpack_pack_int64(pk, row->bucket);
	pk->callback(pk->data, (const char *)row->key, row->keylen);
	msgpack_pack_array(pk, v->nmetrics);
	for (m = 0; m < v->nmetrics; m++)
		agg_pack_state(v, m, &row->st[m], pk);
}

/*
 * Read a row and merge it into p.  A row p lacks takes the states as
 * read, in p's arena; one p has merges them in.
 */
int
agg_unpack_row(const struct agg_view *v, struct agg_partial *p,
    struct msg_reader *r, char **cause)
{
	struct agg_state	 st;
	struct agg_row		*row;
	const uint8_t		*key;
	size_t			 keylen, m, nrows;
	uint32_t		 n, nd;
	int64_t			 bucket;
	int			 rc, fresh;

	if (msg_get_array(r, &n) == -1 || n != 3 ||
	    msg_get_int(r, &bucket) == -1 || msg_peek(r) != MSG_T_ARRAY) {
		xasprintf(cause, "row: expected [bucket, key, states]");
		return (-1);
	}
	key = r->p;
	if (msg_get_raw(r, &key, &keylen) == -1) {
		xasprintf(cause, "row: %s", msg_error(r));
		return (-1);
	}
	if (keylen < 1 || (key[0] & 0x0f) != v->cv->ngroup ||
	    (key[0] & 0xf0) != 0x90) {
		xasprintf(cause, "row: key of the wrong shape");
		return (-1);
	}
	if (bucket % v->bucket_s != 0) {
		xasprintf(cause, "row: bucket %" PRId64 " is not a multiple of "
		    "%" PRId64 " seconds", bucket, v->bucket_s);
		return (-1);
	}
	if (msg_get_array(r, &nd) == -1) {
		xasprintf(cause, "row: expected an array of states");
		return (-1);
	}
	if (nd != v->nmetrics) {
		xasprintf(cause, "row: %u states, the view has %zu metrics",
		    nd, v->nmetrics);
		return (-1);
	}
	nrows = p->nrows;
	row = agg_find_row(p, bucket, key, keylen, 1);
	fresh = p->nrows != nrows;	/* it was created just now */
	for (m = 0; m < v->nmetrics; m++) {
		if (fresh) {
			if (agg_unpack_state_in(v, m, &p->arena, &row->st[m],
			    r, cause) == -1)
				return (-1);
			continue;
		}
		if (agg_unpack_state(v, m, &st, r, cause) == -1)
			return (-1);
		rc = agg_state_merge(v, m, &p->arena, &row->st[m], &st, cause);
		agg_state_free(v, m, &st);
		if (rc == -1)
			return (-1);
	}
	return (0);
}
