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
 * The aggregation engine: one implementation of "fold an event into a
 * partial" and "merge two partials" for every metric kind, used unchanged
 * by lamina-batchd, lamina-speedd and lamina-served, so the layers cannot
 * disagree (promise 2 of the design).
 *
 * A view compiled by agg_view_new() folds stored events (the fields map of
 * a master dataset record) into a struct agg_partial: a hash table from
 * group key (time bucket and dimension values) to a row of metric states.
 * A partial's rows, keys and sketches all live in its arena (arena.h), so
 * emptying or freeing it costs nothing per row; a row's states are only
 * valid while their partial is.
 *
 * Every state is a monoid (associative, with an identity), so partials of
 * any sets of events merge into the partial of their union; count, sums
 * (exact, see xsum.h), min and max are exact, HyperLogLog++ and DDSketch
 * merge into the state a single fold would have built, Space-Saving merges
 * with its error bound.
 *
 * A row's states serialize to one msgpack value, versioned (AGG_FORMAT),
 * which is the form in SQLite BLOBs and on the wire; docs/FORMAT.md
 * describes it.
 */

#ifndef LAMINA_AGG_H
#define LAMINA_AGG_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "xsum.h"

#define AGG_FORMAT	1

struct conf;
struct conf_view;
struct conf_stream;
struct msg_reader;
struct arena;
struct hll;
struct ddsketch;
struct topk;

/* A field value of a decoded event. */
struct agg_value {
	int		 present;
	int64_t		 i;		/* int, bool */
	double		 f;		/* int, float: as a double */
	const char	*s;		/* string */
	size_t		 slen;
	const uint8_t	*raw;		/* the value's msgpack bytes */
	size_t		 rawlen;
	uint8_t		 fraw[9];	/* raw of a float field: float 64 */
	uint64_t	 hash;		/* hash64 of raw, seed 0, if hashed */
	int		 hashed;	/* (computed once, by the first
					   distinct metric that needs it) */
	double		 qalpha;	/* the accuracy qbucket is for; 0:
					   none yet */
	int64_t		 qbucket;	/* dds_bucket() of f (likewise, for
					   quantiles of that accuracy) */
};

/* The state of one metric in one row; which member is the metric's kind. */
struct agg_state {
	union {
		uint64_t	 count;		/* count */
		__int128	 isum;		/* sum of an int field */
		struct xsum	 fsum;		/* sum of a float field */
		struct {
			uint64_t n;		/* values seen */
			int64_t	 i;		/* int field */
			double	 f;		/* float field */
		}		 mm;		/* min, max */
		struct hll	*hll;		/* distinct, or NULL */
		struct ddsketch	*dds;		/* quantile, or NULL */
		struct topk	*topk;		/* top, or NULL */
	} u;
};

struct agg_row {
	uint64_t	 hash;
	int64_t		 bucket;	/* bucket start, seconds since epoch */
	uint8_t		*key;		/* msgpack array of dimension values */
	size_t		 keylen;
	struct agg_state st[];		/* one per metric */
};

struct agg_view;
struct agg_partial;

struct agg_view	*agg_view_new(const struct conf *, const struct conf_view *);
void		 agg_view_free(struct agg_view *);
const struct conf_view *agg_view_conf(const struct agg_view *);
const struct conf_stream *agg_view_stream(const struct agg_view *);
size_t		 agg_view_nmetrics(const struct agg_view *);

struct agg_partial *agg_partial_new(const struct agg_view *);
void		 agg_partial_free(struct agg_partial *);
void		 agg_partial_reset(struct agg_partial *);
int		 agg_fold(struct agg_partial *, int64_t, const uint8_t *,
		    size_t, char **);
int		 agg_decode(const struct conf_stream *, struct agg_value *,
		    const uint8_t *, size_t, char **);
int		 agg_fold_values(struct agg_partial *, int64_t,
		    struct agg_value *, char **);
int		 agg_merge(struct agg_partial *, const struct agg_partial *,
		    char **);
int		 agg_merge_move(struct agg_partial *, struct agg_partial *,
		    char **);
struct arena	*agg_partial_arena(struct agg_partial *);
const struct agg_view *agg_partial_view(const struct agg_partial *);
size_t		 agg_partial_bytes(const struct agg_partial *);
size_t		 agg_rows(const struct agg_partial *);
uint64_t	 agg_events(const struct agg_partial *);
struct agg_row	**agg_sorted_rows(const struct agg_partial *);
struct agg_row	*agg_find_row(struct agg_partial *, int64_t, const uint8_t *,
		    size_t, int);
int		 agg_row_cmp(const struct agg_row *, const struct agg_row *);
void		 agg_row_prefetch(const struct agg_view *, const struct agg_row *,
		    int);

void		 agg_state_free(const struct agg_view *, size_t,
		    struct agg_state *);
int		 agg_state_merge(const struct agg_view *, size_t,
		    struct arena *, struct agg_state *, const struct agg_state *,
		    char **);
int		 agg_row_merge(const struct agg_view *, struct arena *,
		    struct agg_row *, const struct agg_row *, char **);
void		 agg_pack_state(const struct agg_view *, size_t,
		    struct agg_state *, msgpack_packer *);
int		 agg_unpack_state(const struct agg_view *, size_t,
		    struct agg_state *, struct msg_reader *, char **);
int		 agg_unpack_state_in(const struct agg_view *, size_t,
		    struct arena *, struct agg_state *, struct msg_reader *,
		    char **);
int		 agg_state_equal(const struct agg_view *, size_t,
		    struct agg_state *, struct agg_state *);
void		 agg_pack_row(const struct agg_view *, struct agg_row *,
		    msgpack_packer *);
int		 agg_unpack_row(const struct agg_view *, struct agg_partial *,
		    struct msg_reader *, char **);

#endif
