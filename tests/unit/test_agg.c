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
 * The aggregation engine against a brute-force oracle.  About 100,000
 * random events (skewed urls and users, absent optional fields, times on
 * both sides of the epoch across several buckets, bucket edges) are packed
 * as schema_pack_event stores them and folded into one partial; every row
 * must hold the count, exact int and float sums, min and max computed
 * independently here, and the very HyperLogLog and DDSketch states built
 * directly from the group's values.  Space-Saving must be exact while a
 * group has at most k distinct values and within its bounds otherwise.
 * Folding random parts apart and merging them in random orders and tree
 * shapes must give the single fold's states (promise 1 of the design).
 * Then filters (every operator on every type, absent fields), bucket edges,
 * odd stored maps, serialization round trips, and hostile serialized rows:
 * refused with a cause, never a crash (the suite runs under ASan).  Every
 * msgpack encoding of each field value is in test_agg_decode.c.
 */

#include <check.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "agg.h"
#include "conf.h"
#include "ddsketch.h"
#include "hll.h"
#include "msg.h"
#include "testlib.h"
#include "topk.h"
#include "xmalloc.h"
#include "xsum.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * An assertion for hot loops: Check's own record every passing assertion
 * (a write each), which would dominate the run time here.
 */
#define REQUIRE(c, ...)	do {					\
	if (!(c))						\
		ck_abort_msg(__VA_ARGS__);			\
} while (0)

#define NS		1000000000LL
#define HOUR_NS		(3600 * NS)

static char		*tmpdir;
static struct conf	*conf;

static void
setup(void)
{
	tmpdir = testlib_tmpdir();
	conf = NULL;
}

static void
teardown(void)
{
	conf_free(conf);
	conf = NULL;
	testlib_rmtree(tmpdir);
	free(tmpdir);
}

/* Load body (streams and views) after data_dir and run_dir; must succeed. */
static struct conf *
load_conf(const char *body)
{
	return (testlib_conf(tmpdir, body));
}

/* The view name of the loaded configuration. */
static struct agg_view *
view_named(const char *name)
{
	return (testlib_view(conf, name));
}

/* xorshift64*: the same events on every run. */
static uint64_t	rng_state;

static void
rng_seed(uint64_t s)
{
	rng_state = s * 0x9e3779b97f4a7c15ULL + 1;
}

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (rng_state * 2685821657736338717ULL);
}

static double
rng_unit(void)
{
	return ((double)(rng() >> 11) / 9007199254740992.0);
}

/* floor(a / b) for b > 0. */
static int64_t
floordiv(int64_t a, int64_t b)
{
	return (a / b - (a % b < 0));
}

/* A packer into a growing buffer. */
struct pb {
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
};

static void
pb_init(struct pb *b)
{
	msgpack_sbuffer_init(&b->sb);
	msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void
pb_clear(struct pb *b)
{
	msgpack_sbuffer_clear(&b->sb);
}

static void
pb_free(struct pb *b)
{
	msgpack_sbuffer_destroy(&b->sb);
}

static const uint8_t *
pb_data(struct pb *b)
{
	return ((const uint8_t *)b->sb.data);
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/*
 * The pageviews stream and its views.  Metric indices of view main are
 * the M_ constants below.
 */
#define STREAMS								\
	"streams:\n"							\
	"  pv:\n"							\
	"    fields:\n"							\
	"      url: string\n"						\
	"      user: {type: string, required: false}\n"			\
	"      status: {type: int, required: false}\n"			\
	"      bytes: int\n"						\
	"      lat: {type: float, required: false}\n"			\
	"      bot: {type: bool, required: false}\n"
#define VIEWS								\
	"views:\n"							\
	"  main:\n"							\
	"    stream: pv\n"						\
	"    bucket: 1h\n"						\
	"    group_by: [url, status]\n"					\
	"    metrics:\n"						\
	"      n: count\n"						\
	"      bytes: {sum: bytes}\n"					\
	"      lat: {sum: lat}\n"					\
	"      bmin: {min: bytes}\n"					\
	"      bmax: {max: bytes}\n"					\
	"      lmin: {min: lat}\n"					\
	"      lmax: {max: lat}\n"					\
	"      users: {distinct: user}\n"				\
	"      bdist: {distinct: bytes, precision: 8}\n"		\
	"      q: {quantile: lat}\n"					\
	"      qb: {quantile: bytes, accuracy: 0.05, max_bins: 64}\n"	\
	"      ql: {quantile: lat, accuracy: 0.05, max_bins: 64}\n"	\
	"      tbot: {top: bot, k: 2}\n"				\
	"      tuser: {top: user, k: 5}\n"				\
	"      tuser2: {top: user, k: 64}\n"				\
	"  byuser:\n"							\
	"    stream: pv\n"						\
	"    bucket: 10m\n"						\
	"    group_by: user\n"						\
	"    where: {bot: false, lat: {gte: 0}, status: {not_in: [500]}}\n" \
	"    metrics:\n"						\
	"      n: count\n"						\
	"      lat: {sum: lat}\n"					\
	"      urls: {distinct: url}\n"					\
	"      lmax: {max: lat}\n"					\
	"  total:\n"							\
	"    stream: pv\n"						\
	"    bucket: 366d\n"						\
	"    metrics: {n: count, bytes: {sum: bytes}, bmin: {min: bytes}}\n"

enum {
	M_N, M_BYTES, M_LAT, M_BMIN, M_BMAX, M_LMIN, M_LMAX, M_USERS, M_BDIST,
	M_Q, M_QB, M_QL, M_TBOT, M_TUSER, M_TUSER2, M_COUNT
};
static const char *const main_metrics[M_COUNT] = {
	"n", "bytes", "lat", "bmin", "bmax", "lmin", "lmax", "users", "bdist",
	"q", "qb", "ql", "tbot", "tuser", "tuser2"
};

/*
 * Random events.
 */

#define NURLS		40
#define NUSERS		3000
#define NSTATUS		5		/* and absent */
#define NBUCKETS	6		/* hours -3 .. 2 */
#define NGROUPS		(NBUCKETS * NURLS * (NSTATUS + 1))
#define NEVENTS		100000

static const int64_t statuses[NSTATUS] = { 200, 301, 404, 500, -1 };

struct ev {
	int64_t		 ns;
	int		 url;
	int		 user;		/* -1: absent */
	int		 status;	/* in statuses, -1: absent */
	int64_t		 bytes;
	int		 haslat;
	int64_t		 latm;		/* lat is latm * 2^-20 */
	int		 negzero;	/* lat is -0.0 */
	int		 bot;		/* -1: absent */
};

static char	urls[NURLS][320];

static void
make_urls(void)
{
	int	i;

	for (i = 0; i < NURLS; i++)
		snprintf(urls[i], sizeof(urls[i]), "/page/%d", i);
	snprintf(urls[0], sizeof(urls[0]), "/");
	snprintf(urls[9], sizeof(urls[9]), "/caf\xc3\xa9");
	memset(urls[7], 'x', 300);	/* a str16 key */
	urls[7][0] = '/';
	urls[7][300] = '\0';
}

static const char *
user_name(int u)
{
	static char	buf[16];

	snprintf(buf, sizeof(buf), "u%d", u);
	return (buf);
}

static double
ev_lat(const struct ev *e)
{
	return (e->negzero ? -0.0 : ldexp((double)e->latm, -20));
}

static void
gen_events(struct ev *evs, size_t n, uint64_t seed)
{
	struct ev	*e;
	uint64_t	 r;
	double		 u;
	size_t		 i;
	int		 bits;

	make_urls();
	rng_seed(seed);
	for (i = 0; i < n; i++) {
		e = &evs[i];
		memset(e, 0, sizeof(*e));
		if (rng() % 10 == 0)		/* at an hour, or next to */
			e->ns = ((int64_t)(rng() % 5) - 2) * HOUR_NS +
			    (int64_t)(rng() % 3) - 1;
		else
			e->ns = (int64_t)(rng() % (20000 * (uint64_t)NS)) -
			    10000 * NS;
		u = rng_unit();
		e->url = (int)(NURLS * u * u * u);
		u = rng_unit();
		e->user = rng() % 10 == 0 ? -1 : (int)(NUSERS * u * u * u);
		r = rng() % 20;
		e->status = r < 2 ? -1 : r < 12 ? 0 : (int)(r % NSTATUS);
		r = rng() % 100;
		if (r < 80)
			e->bytes = (int64_t)(rng() % 1000000);
		else if (r < 90)
			e->bytes = -(int64_t)(rng() % 1000);
		else if (r < 95)
			e->bytes = ((int64_t)1 << 62) +
			    (int64_t)(rng() % ((uint64_t)1 << 61));
		else if (r < 97)
			e->bytes = -((int64_t)1 << 62) -
			    (int64_t)(rng() % ((uint64_t)1 << 61));
		else if (r == 97)
			e->bytes = INT64_MAX;
		else if (r == 98)
			e->bytes = INT64_MIN;
		else
			e->bytes = 0;
		r = rng() % 100;
		e->haslat = r >= 10;
		if (r == 10)
			e->negzero = 1;
		else if (e->haslat) {
			bits = (int)(rng() % 50);
			e->latm = (int64_t)(rng() % ((uint64_t)1 << bits));
			if (rng() % 4 == 0)
				e->latm = -e->latm;
		}
		r = rng() % 5;
		e->bot = r == 0 ? -1 : r == 1;
	}
}

/* The stored form: the present fields in schema order. */
static void
pack_ev(msgpack_packer *pk, const struct ev *e)
{
	msgpack_pack_map(pk, 2 + (e->user >= 0) + (e->status >= 0) +
	    (e->haslat != 0) + (e->bot >= 0));
	pack_str(pk, "url");
	pack_str(pk, urls[e->url]);
	if (e->user >= 0) {
		pack_str(pk, "user");
		pack_str(pk, user_name(e->user));
	}
	if (e->status >= 0) {
		pack_str(pk, "status");
		msgpack_pack_int64(pk, statuses[e->status]);
	}
	pack_str(pk, "bytes");
	msgpack_pack_int64(pk, e->bytes);
	if (e->haslat) {
		pack_str(pk, "lat");
		msgpack_pack_double(pk, ev_lat(e));
	}
	if (e->bot >= 0) {
		pack_str(pk, "bot");
		if (e->bot)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}
}

static void
fold_ev(struct agg_partial *p, struct pb *b, const struct ev *e)
{
	char	*cause = NULL;

	pb_clear(b);
	pack_ev(&b->pk, e);
	REQUIRE(agg_fold(p, e->ns, pb_data(b), b->sb.size, &cause) == 0,
	    "fold: %s", cause);
}

static void
fold_all(struct agg_partial *p, const struct ev *evs, size_t n)
{
	struct pb	b;
	size_t		i;

	pb_init(&b);
	for (i = 0; i < n; i++)
		fold_ev(p, &b, &evs[i]);
	pb_free(&b);
}

/* The msgpack bytes of a value, as the engine hands them to sketches. */
static size_t
raw_str(const char *s, uint8_t *out)
{
	struct pb	b;
	size_t		n;

	pb_init(&b);
	pack_str(&b.pk, s);
	n = b.sb.size;
	memcpy(out, b.sb.data, n);
	pb_free(&b);
	return (n);
}

static size_t
raw_int(int64_t v, uint8_t *out)
{
	struct pb	b;
	size_t		n;

	pb_init(&b);
	msgpack_pack_int64(&b.pk, v);
	n = b.sb.size;
	memcpy(out, b.sb.data, n);
	pb_free(&b);
	return (n);
}

/* The group of e in view main, and the row's bucket and key. */
static int
main_group(const struct ev *e)
{
	int64_t	h = floordiv(e->ns, HOUR_NS) + 3;

	REQUIRE(h >= 0 && h < NBUCKETS, "hour %" PRId64, h);
	return (((int)h * NURLS + e->url) * (NSTATUS + 1) +
	    (e->status < 0 ? NSTATUS : e->status));
}

static size_t
main_key(int g, int64_t *bucket, uint8_t *key)
{
	struct pb	b;
	size_t		n;
	int		st = g % (NSTATUS + 1);
	int		url = g / (NSTATUS + 1) % NURLS;

	*bucket = (int64_t)(g / (NSTATUS + 1) / NURLS - 3) * 3600;
	pb_init(&b);
	msgpack_pack_array(&b.pk, 2);
	pack_str(&b.pk, urls[url]);
	if (st == NSTATUS)
		msgpack_pack_nil(&b.pk);
	else
		msgpack_pack_int64(&b.pk, statuses[st]);
	n = b.sb.size;
	memcpy(key, b.sb.data, n);
	pb_free(&b);
	return (n);
}

/* The group of a row of view main (inverse of main_key). */
static int
main_row_group(const struct agg_row *row)
{
	struct msg_reader	 r;
	const char		*s;
	size_t			 len;
	uint32_t		 n;
	int64_t			 st;
	int			 url, sti;

	msg_reader_init(&r, row->key, row->keylen);
	REQUIRE(msg_get_array(&r, &n) == 0 && n == 2 &&
	    msg_get_str(&r, &s, &len) == 0, "bad key");
	for (url = 0; url < NURLS; url++)
		if (strlen(urls[url]) == len && memcmp(urls[url], s, len) == 0)
			break;
	REQUIRE(url < NURLS, "bad url");
	if (msg_peek(&r) == MSG_T_NIL) {
		REQUIRE(msg_get_nil(&r) == 0, "bad key");
		sti = NSTATUS;
	} else {
		REQUIRE(msg_get_int(&r, &st) == 0, "bad status");
		for (sti = 0; sti < NSTATUS; sti++)
			if (statuses[sti] == st)
				break;
		REQUIRE(sti < NSTATUS, "bad status");
	}
	REQUIRE(msg_end(&r) == 0 && row->bucket % 3600 == 0, "bad key");
	return (((int)(row->bucket / 3600 + 3) * NURLS + url) *
	    (NSTATUS + 1) + sti);
}

/*
 * Exact frequencies of users per group of view main, for Space-Saving:
 * sorted pairs group * 4096 + user.
 */
struct freqs {
	uint32_t	*pairs;
	size_t		 n;
};

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

static void
freqs_build(struct freqs *fq, const struct ev *evs, size_t n)
{
	size_t	i;

	fq->pairs = xcalloc(n + 1, sizeof(*fq->pairs));
	fq->n = 0;
	for (i = 0; i < n; i++)
		if (evs[i].user >= 0)
			fq->pairs[fq->n++] = (uint32_t)main_group(&evs[i]) *
			    4096 + (uint32_t)evs[i].user;
	qsort(fq->pairs, fq->n, sizeof(*fq->pairs), u32_cmp);
}

/* First pair >= x. */
static size_t
freqs_lower(const struct freqs *fq, uint32_t x)
{
	size_t	lo = 0, hi = fq->n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (fq->pairs[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

static uint64_t
freqs_of(const struct freqs *fq, int g, int user)
{
	uint32_t	x = (uint32_t)g * 4096 + (uint32_t)user;

	return (freqs_lower(fq, x + 1) - freqs_lower(fq, x));
}

static size_t
freqs_distinct(const struct freqs *fq, int g)
{
	size_t	i = freqs_lower(fq, (uint32_t)g * 4096);
	size_t	end = freqs_lower(fq, (uint32_t)(g + 1) * 4096), d = 0;

	for (; i < end; i++)
		if (i == 0 || fq->pairs[i] != fq->pairs[i - 1])
			d++;
	return (d);
}

/* The user of a top-k item (a packed string "uN"). */
static int
item_user(const struct topk_item *it)
{
	struct msg_reader	 r;
	const char		*s;
	size_t			 len;
	char			 buf[16];
	int			 u;

	msg_reader_init(&r, it->item, it->len);
	REQUIRE(msg_get_str(&r, &s, &len) == 0 && msg_end(&r) == 0 &&
	    len < sizeof(buf), "bad item");
	memcpy(buf, s, len);
	buf[len] = '\0';
	REQUIRE(sscanf(buf, "u%d", &u) == 1, "bad item");
	return (u);
}

/*
 * Space-Saving against the exact frequencies of group g: exact when the
 * group has at most k distinct users, else every listed count bounds the
 * true one from above and count - error from below, and every user above
 * the error bound is listed.
 */
static void
check_top_users(const struct topk *t, const struct freqs *fq, int g,
    uint64_t present)
{
	struct topk_item	*items;
	size_t			 n, i, start, end;
	size_t			 d = freqs_distinct(fq, g);
	uint64_t		 f, bound;
	int			*lu, u, listed;

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(topk_total(t), present);
	items = xcalloc((size_t)topk_k(t), sizeof(*items));
	n = topk_list(t, items, (size_t)topk_k(t));
	if (d <= (size_t)topk_k(t)) {
		ck_assert_uint_eq(n, d);
		for (i = 0; i < n; i++)
			REQUIRE(items[i].error == 0 && items[i].count ==
			    freqs_of(fq, g, item_user(&items[i])),
			    "group %d: item %zu: count %" PRIu64 " error %"
			    PRIu64 ", exact %" PRIu64, g, i, items[i].count,
			    items[i].error, freqs_of(fq, g,
			    item_user(&items[i])));
		ck_assert_uint_eq(topk_error_bound(t), d ==
		    (size_t)topk_k(t) ? items[n - 1].count : 0);
	} else {
		ck_assert_uint_eq(n, (size_t)topk_k(t));
		lu = xcalloc(n, sizeof(*lu));
		for (i = 0; i < n; i++) {
			lu[i] = item_user(&items[i]);
			f = freqs_of(fq, g, lu[i]);
			REQUIRE(items[i].count >= f &&
			    items[i].count - items[i].error <= f,
			    "group %d: user %d: count %" PRIu64 " error %"
			    PRIu64 ", exact %" PRIu64, g, lu[i],
			    items[i].count, items[i].error, f);
		}
		bound = topk_error_bound(t);
		ck_assert_uint_le(bound, present / (uint64_t)topk_k(t));
		start = freqs_lower(fq, (uint32_t)g * 4096);
		end = freqs_lower(fq, (uint32_t)(g + 1) * 4096);
		for (i = start; i < end; i += f) {
			u = (int)(fq->pairs[i] % 4096);
			f = freqs_of(fq, g, u);
			if (f <= bound)
				continue;
			for (listed = 0; listed < (int)n; listed++)
				if (lu[listed] == u)
					break;
			REQUIRE(listed < (int)n, "group %d: user %d "
			    "seen %" PRIu64 " times, over the bound %" PRIu64
			    ", not listed", g, u, f, bound);
		}
		free(lu);
	}
	free(items);
}

/* Whether Space-Saving state t ever evicted (some error is not 0). */
static int
top_evicted(const struct topk *t)
{
	struct topk_item	*items;
	size_t			 n, i;
	int			 ev = 0;

	if (t == NULL)
		return (0);
	items = xcalloc((size_t)topk_k(t), sizeof(*items));
	n = topk_list(t, items, (size_t)topk_k(t));
	for (i = 0; i < n; i++)
		if (items[i].error != 0)
			ev = 1;
	free(items);
	return (ev);
}

/*
 * b must hold the rows of a with equal states.  Space-Saving that evicted
 * (distinct values over k) merges with bounds, not equality: then b's
 * state is checked against the exact frequencies fq when given (view
 * main), else for its total.
 */
static void
compare_partials(const struct agg_view *v, struct agg_partial *a,
    struct agg_partial *b, const struct freqs *fq)
{
	const struct conf_view	*cv = agg_view_conf(v);
	struct agg_row		**rows, *ra, *rb;
	size_t			 i, m;

	ck_assert_uint_eq(agg_rows(a), agg_rows(b));
	rows = agg_sorted_rows(a);
	for (i = 0; i < agg_rows(a); i++) {
		ra = rows[i];
		rb = agg_find_row(b, ra->bucket, ra->key, ra->keylen, 0);
		REQUIRE(rb != NULL, "row %zu (bucket %" PRId64 ") missing", i,
		    ra->bucket);
		for (m = 0; m < cv->nmetrics; m++) {
			if (cv->metrics[m].kind == CONF_M_TOP &&
			    top_evicted(ra->st[m].u.topk)) {
				REQUIRE(rb->st[m].u.topk != NULL &&
				    topk_total(rb->st[m].u.topk) ==
				    topk_total(ra->st[m].u.topk),
				    "row %zu: %s: totals differ", i,
				    cv->metrics[m].name);
				if (fq != NULL)
					check_top_users(rb->st[m].u.topk, fq,
					    main_row_group(ra),
					    topk_total(ra->st[m].u.topk));
				continue;
			}
			REQUIRE(agg_state_equal(v, m, &ra->st[m],
			    &rb->st[m]), "row %zu (bucket %" PRId64 "), "
			    "metric %s: states differ", i, ra->bucket,
			    cv->metrics[m].name);
		}
	}
	free(rows);
}

/* Pack every row of p, in order, into b. */
static void
pack_rows(const struct agg_view *v, struct agg_partial *p, struct pb *b)
{
	struct agg_row	**rows;
	size_t		  i;

	rows = agg_sorted_rows(p);
	for (i = 0; i < agg_rows(p); i++)
		agg_pack_row(v, rows[i], &b->pk);
	free(rows);
}

/* A new partial of the rows packed in b. */
static struct agg_partial *
unpack_rows(const struct agg_view *v, const uint8_t *buf, size_t len)
{
	struct agg_partial	*p = agg_partial_new(v);
	struct msg_reader	 r;
	char			*cause = NULL;

	msg_reader_init(&r, buf, len);
	while (msg_left(&r) > 0)
		REQUIRE(agg_unpack_row(v, p, &r, &cause) == 0, "unpack: %s",
		    cause);
	return (p);
}

/*
 * The oracle.
 */

struct ref {
	uint64_t	 n, nl;
	__int128	 bsum, lsum;	/* lsum in units of 2^-20 */
	int64_t		 bmin, bmax;
	double		 lmin, lmax;
	struct hll	*users, *bdist;
	struct ddsketch	*q, *qb, *ql;
	uint64_t	 bot[2];
};

struct uref {
	uint64_t	 n, nl;
	__int128	 lsum;
	double		 lmax;
	struct hll	*urls;
};

/* The exact sum, correctly rounded: lsum * 2^-20. */
static double
fixed_value(__int128 s)
{
	return (ldexp((double)s, -20));
}

static void
check_float_sum(struct agg_state *st, __int128 want, const char *what)
{
	double	got = xsum_value(&st->u.fsum), w = fixed_value(want);

	ck_assert_msg(got == w, "%s: sum %a, exact %a", what, got, w);
}

static void
oracle_main(const struct agg_view *v, struct agg_partial *p,
    const struct ev *evs, size_t n)
{
	struct ref	*refs, *rf;
	struct freqs	 fq;
	struct agg_row	*row;
	struct agg_state *st;
	uint8_t		 raw[512], key[512];
	int64_t		 bucket;
	size_t		 i, keylen, len, nrows = 0;
	double		 lat;
	int		 g;

	(void)v;
	refs = xcalloc(NGROUPS, sizeof(*refs));
	for (i = 0; i < n; i++) {
		rf = &refs[main_group(&evs[i])];
		if (rf->n == 0) {
			rf->bmin = INT64_MAX;
			rf->bmax = INT64_MIN;
		}
		rf->n++;
		rf->bsum += evs[i].bytes;
		if (evs[i].bytes < rf->bmin)
			rf->bmin = evs[i].bytes;
		if (evs[i].bytes > rf->bmax)
			rf->bmax = evs[i].bytes;
		len = raw_int(evs[i].bytes, raw);
		if (rf->bdist == NULL)
			rf->bdist = hll_new(8);
		hll_add(rf->bdist, raw, len);
		if (rf->qb == NULL)
			rf->qb = dds_new(0.05, 64);
		dds_add(rf->qb, (double)evs[i].bytes);
		if (evs[i].user >= 0) {
			len = raw_str(user_name(evs[i].user), raw);
			if (rf->users == NULL)
				rf->users = hll_new(14);
			hll_add(rf->users, raw, len);
		}
		if (evs[i].haslat) {
			lat = ev_lat(&evs[i]);
			if (rf->nl == 0 || lat < rf->lmin)
				rf->lmin = lat;
			if (rf->nl == 0 || lat > rf->lmax)
				rf->lmax = lat;
			rf->nl++;
			rf->lsum += evs[i].latm;
			if (rf->q == NULL) {
				rf->q = dds_new(0.01, 4096);
				rf->ql = dds_new(0.05, 64);
			}
			dds_add(rf->q, lat);
			dds_add(rf->ql, lat);
		}
		if (evs[i].bot >= 0)
			rf->bot[evs[i].bot]++;
	}
	freqs_build(&fq, evs, n);

	for (g = 0; g < NGROUPS; g++) {
		rf = &refs[g];
		keylen = main_key(g, &bucket, key);
		row = agg_find_row(p, bucket, key, keylen, 0);
		if (rf->n == 0) {
			ck_assert_ptr_null(row);
			continue;
		}
		nrows++;
		ck_assert_msg(row != NULL, "group %d: no row", g);
		st = row->st;
		ck_assert_uint_eq(st[M_N].u.count, rf->n);
		ck_assert(st[M_BYTES].u.isum == rf->bsum);
		check_float_sum(&st[M_LAT], rf->lsum, "lat");
		ck_assert_uint_eq(st[M_BMIN].u.mm.n, rf->n);
		ck_assert_int_eq(st[M_BMIN].u.mm.i, rf->bmin);
		ck_assert_uint_eq(st[M_BMAX].u.mm.n, rf->n);
		ck_assert_int_eq(st[M_BMAX].u.mm.i, rf->bmax);
		ck_assert_uint_eq(st[M_LMIN].u.mm.n, rf->nl);
		ck_assert_uint_eq(st[M_LMAX].u.mm.n, rf->nl);
		if (rf->nl > 0) {
			ck_assert(st[M_LMIN].u.mm.f == rf->lmin);
			ck_assert(st[M_LMAX].u.mm.f == rf->lmax);
		}
		/* The sketches: the states built directly. */
		ck_assert((st[M_USERS].u.hll == NULL) == (rf->users == NULL));
		if (rf->users != NULL) {
			ck_assert(hll_equal(st[M_USERS].u.hll, rf->users));
			len = freqs_distinct(&fq, g);
			ck_assert_msg(fabs(hll_estimate(st[M_USERS].u.hll) -
			    (double)len) <= 3 + 0.03 * (double)len,
			    "group %d: %zu users, estimate %f", g, len,
			    hll_estimate(st[M_USERS].u.hll));
		}
		ck_assert(hll_equal(st[M_BDIST].u.hll, rf->bdist));
		ck_assert((st[M_Q].u.dds == NULL) == (rf->q == NULL));
		if (rf->q != NULL) {
			ck_assert(dds_equal(st[M_Q].u.dds, rf->q));
			ck_assert_uint_eq(dds_count(st[M_Q].u.dds), rf->nl);
			/* lat again, at another accuracy: its own buckets */
			ck_assert(dds_equal(st[M_QL].u.dds, rf->ql));
		}
		ck_assert(dds_equal(st[M_QB].u.dds, rf->qb));
		/* top of bot: two values, k 2, exact. */
		if (rf->bot[0] + rf->bot[1] == 0)
			ck_assert_ptr_null(st[M_TBOT].u.topk);
		else {
			struct topk_item	it[2];
			size_t			k, ni;

			ni = topk_list(st[M_TBOT].u.topk, it, 2);
			ck_assert_uint_eq(ni, (rf->bot[0] > 0) +
			    (rf->bot[1] > 0));
			for (k = 0; k < ni; k++) {
				ck_assert_uint_eq(it[k].len, 1);
				ck_assert_uint_eq(it[k].error, 0);
				ck_assert_uint_eq(it[k].count,
				    rf->bot[*(const uint8_t *)it[k].item ==
				    0xc3]);
			}
		}
		if (st[M_TUSER].u.topk == NULL)
			ck_assert_uint_eq(freqs_distinct(&fq, g), 0);
		else {
			len = freqs_lower(&fq, (uint32_t)(g + 1) * 4096) -
			    freqs_lower(&fq, (uint32_t)g * 4096);
			check_top_users(st[M_TUSER].u.topk, &fq, g, len);
			check_top_users(st[M_TUSER2].u.topk, &fq, g, len);
		}
	}
	ck_assert_uint_eq(agg_rows(p), nrows);
	ck_assert_uint_eq(agg_events(p), n);

	for (g = 0; g < NGROUPS; g++) {
		hll_free(refs[g].users);
		hll_free(refs[g].bdist);
		dds_free(refs[g].q);
		dds_free(refs[g].qb);
		dds_free(refs[g].ql);
	}
	free(refs);
	free(fq.pairs);
}

/* View byuser: a filter, a scalar group_by with absent values, 10m. */
static void
oracle_byuser(const struct agg_view *v, struct agg_partial *p,
    const struct ev *evs, size_t n)
{
	struct uref	*refs, *rf;
	struct agg_row	*row;
	struct pb	 b;
	uint8_t		 raw[512];
	int64_t		 bk;
	size_t		 i, len, ng, nrows = 0, nev = 0;
	int		 g, nb = 34;	/* 10 minutes, -17 .. 16 */
	double		 lat;

	(void)v;
	ng = (size_t)nb * (NUSERS + 1);
	refs = xcalloc(ng, sizeof(*refs));
	for (i = 0; i < n; i++) {
		const struct ev *e = &evs[i];

		if (e->bot != 0 || !e->haslat || e->status < 0 ||
		    statuses[e->status] == 500)
			continue;
		lat = ev_lat(e);
		if (!(lat >= 0))
			continue;
		bk = floordiv(e->ns, 600 * NS) + 17;
		REQUIRE(bk >= 0 && bk < nb, "bucket %" PRId64, bk);
		rf = &refs[bk * (NUSERS + 1) + (e->user < 0 ? NUSERS :
		    e->user)];
		if (rf->nl == 0 || lat > rf->lmax)
			rf->lmax = lat;
		rf->n++;
		rf->nl++;
		rf->lsum += e->latm;
		if (rf->urls == NULL)
			rf->urls = hll_new(14);
		len = raw_str(urls[e->url], raw);
		hll_add(rf->urls, raw, len);
		nev++;
	}
	pb_init(&b);
	for (g = 0; g < (int)ng; g++) {
		rf = &refs[g];
		pb_clear(&b);
		msgpack_pack_array(&b.pk, 1);
		if (g % (NUSERS + 1) == NUSERS)
			msgpack_pack_nil(&b.pk);
		else
			pack_str(&b.pk, user_name(g % (NUSERS + 1)));
		row = agg_find_row(p, (g / (NUSERS + 1) - 17) * 600,
		    pb_data(&b), b.sb.size, 0);
		if (rf->n == 0) {
			ck_assert_ptr_null(row);
			continue;
		}
		nrows++;
		ck_assert_ptr_nonnull(row);
		ck_assert_uint_eq(row->st[0].u.count, rf->n);
		check_float_sum(&row->st[1], rf->lsum, "byuser lat");
		ck_assert(hll_equal(row->st[2].u.hll, rf->urls));
		ck_assert_uint_eq(row->st[3].u.mm.n, rf->nl);
		ck_assert(row->st[3].u.mm.f == rf->lmax);
		hll_free(rf->urls);
	}
	pb_free(&b);
	ck_assert_uint_eq(agg_rows(p), nrows);
	ck_assert_uint_eq(agg_events(p), nev);
	free(refs);
}

/* View total: no dimensions, 366-day buckets on both sides of 1970. */
static void
oracle_total(struct agg_partial *p, const struct ev *evs, size_t n)
{
	struct agg_row	*row;
	const int64_t	 span = 366 * 86400;
	__int128	 sum[2] = { 0, 0 };
	uint64_t	 cnt[2] = { 0, 0 };
	int64_t		 mn[2] = { INT64_MAX, INT64_MAX };
	size_t		 i;
	int		 k;

	for (i = 0; i < n; i++) {
		k = (int)floordiv(evs[i].ns, span * NS) + 1;
		REQUIRE(k == 0 || k == 1, "bucket %d", k);
		cnt[k]++;
		sum[k] += evs[i].bytes;
		if (evs[i].bytes < mn[k])
			mn[k] = evs[i].bytes;
	}
	ck_assert_uint_eq(agg_rows(p), 2);
	for (k = 0; k < 2; k++) {
		row = agg_find_row(p, (k - 1) * span,
		    (const uint8_t *)"\x90", 1, 0);
		ck_assert_ptr_nonnull(row);
		ck_assert_uint_eq(row->st[0].u.count, cnt[k]);
		ck_assert(row->st[1].u.isum == sum[k]);
		ck_assert_int_eq(row->st[2].u.mm.i, mn[k]);
	}
}

START_TEST(test_oracle)
{
	struct agg_view		*vm, *vu, *vt;
	struct agg_partial	*pm, *pu, *pt;
	struct ev		*evs;
	struct pb		 b;
	size_t			 i;
	char			*cause = NULL;

	conf = load_conf(STREAMS VIEWS);
	vm = view_named("main");
	vu = view_named("byuser");
	vt = view_named("total");
	ck_assert_uint_eq(agg_view_nmetrics(vm), M_COUNT);
	for (i = 0; i < M_COUNT; i++)
		ck_assert_str_eq(agg_view_conf(vm)->metrics[i].name,
		    main_metrics[i]);
	evs = xcalloc(NEVENTS, sizeof(*evs));
	gen_events(evs, NEVENTS, 1);

	pm = agg_partial_new(vm);
	pu = agg_partial_new(vu);
	pt = agg_partial_new(vt);
	pb_init(&b);
	for (i = 0; i < NEVENTS; i++) {
		pb_clear(&b);
		pack_ev(&b.pk, &evs[i]);
		REQUIRE(agg_fold(pm, evs[i].ns, pb_data(&b), b.sb.size,
		    &cause) == 0, "main: %s", cause);
		REQUIRE(agg_fold(pu, evs[i].ns, pb_data(&b), b.sb.size,
		    &cause) == 0, "byuser: %s", cause);
		REQUIRE(agg_fold(pt, evs[i].ns, pb_data(&b), b.sb.size,
		    &cause) == 0, "total: %s", cause);
	}
	pb_free(&b);
	oracle_main(vm, pm, evs, NEVENTS);
	oracle_byuser(vu, pu, evs, NEVENTS);
	oracle_total(pt, evs, NEVENTS);

	agg_partial_free(pm);
	agg_partial_free(pu);
	agg_partial_free(pt);
	agg_view_free(vm);
	agg_view_free(vu);
	agg_view_free(vt);
	free(evs);
}
END_TEST

/*
 * Rows live in one table per bucket: with events in no order over a few
 * thousand buckets and keys, agg_sorted_rows lists every row once, in
 * strict (bucket, key) order; a lookup finds each row without creating or
 * changing anything; and a reset partial folds the same again.
 */
START_TEST(test_sorted_buckets)
{
	struct agg_view		*v;
	struct agg_partial	*p;
	struct agg_row		**rows, *row;
	struct pb		 b;
	size_t			 i, n, round;
	int64_t			 ns;
	char			*cause = NULL;

	conf = load_conf(STREAMS
	    "views:\n"
	    "  m:\n"
	    "    stream: pv\n"
	    "    bucket: 1m\n"
	    "    group_by: user\n"
	    "    metrics: {n: count}\n");
	v = view_named("m");
	p = agg_partial_new(v);
	pb_init(&b);
	for (round = 0; round < 2; round++) {
		rng_seed(7);
		for (i = 0; i < 20000; i++) {
			struct ev	e;

			memset(&e, 0, sizeof(e));
			/* 3000 minutes, either side of the epoch. */
			ns = ((int64_t)(rng() % 3000) - 1500) * 60 * NS +
			    (int64_t)(rng() % (60 * (uint64_t)NS));
			e.ns = ns;
			e.user = (int)(rng() % 7);
			e.url = 0;
			e.status = -1;
			pb_clear(&b);
			pack_ev(&b.pk, &e);
			REQUIRE(agg_fold(p, ns, pb_data(&b), b.sb.size,
			    &cause) == 0, "fold: %s", cause);
		}
		n = agg_rows(p);
		ck_assert_uint_gt(n, 2000);
		rows = agg_sorted_rows(p);
		for (i = 0; i < n; i++) {
			ck_assert_ptr_nonnull(rows[i]);
			if (i > 0)
				REQUIRE(agg_row_cmp(rows[i - 1], rows[i]) < 0,
				    "rows %zu and %zu out of order", i - 1, i);
			row = agg_find_row(p, rows[i]->bucket, rows[i]->key,
			    rows[i]->keylen, 0);
			ck_assert_ptr_eq(row, rows[i]);
		}
		ck_assert_uint_eq(agg_rows(p), n);
		ck_assert_uint_eq(agg_events(p), 20000);
		/* No row of a bucket or a key never seen. */
		ck_assert_ptr_null(agg_find_row(p, 1501 * 60,
		    rows[0]->key, rows[0]->keylen, 0));
		ck_assert_ptr_null(agg_find_row(p, rows[0]->bucket,
		    (const uint8_t *)"\x91\xa1z", 3, 0));
		ck_assert_uint_eq(agg_rows(p), n);
		free(rows);
		agg_partial_reset(p);
		ck_assert_uint_eq(agg_rows(p), 0);
	}
	pb_free(&b);
	agg_partial_free(p);
	agg_view_free(v);
}
END_TEST

/*
 * Merging: random parts, random orders and tree shapes.
 */

/* Merge the n partials of l into one, in a random order and shape. */
static struct agg_partial *
merge_random(struct agg_partial **l, size_t n)
{
	size_t	i, j;
	char	*cause = NULL;

	while (n > 1) {
		i = rng() % n;
		j = rng() % (n - 1);
		if (j >= i)
			j++;
		ck_assert_msg(agg_merge(l[i], l[j], &cause) == 0, "merge: %s",
		    cause);
		agg_partial_free(l[j]);
		l[j] = l[--n];
	}
	return (l[0]);
}

START_TEST(test_merge_equals_fold)
{
	const char		*names[] = { "main", "byuser", "total" };
	struct agg_view		*v;
	struct agg_partial	*whole, *parts[8], *got, *empty;
	struct freqs		 fq;
	struct ev		*evs;
	struct pb		 b;
	size_t			 i, k, nparts, trial, vi;
	char			*cause = NULL;

	conf = load_conf(STREAMS VIEWS);
	evs = xcalloc(NEVENTS, sizeof(*evs));
	gen_events(evs, NEVENTS, 2);
	freqs_build(&fq, evs, NEVENTS);
	for (vi = 0; vi < nitems(names); vi++) {
		v = view_named(names[vi]);
		whole = agg_partial_new(v);
		fold_all(whole, evs, NEVENTS);
		for (trial = 0; trial < (vi == 0 ? 3 : 2); trial++) {
			rng_seed(100 + trial * 7 + vi);
			nparts = 2 + rng() % 7;
			for (k = 0; k < nparts; k++)
				parts[k] = agg_partial_new(v);
			pb_init(&b);
			for (i = 0; i < NEVENTS; i++)
				fold_ev(parts[rng() % nparts], &b, &evs[i]);
			/* Half the trials send the parts through bytes. */
			for (k = 0; trial % 2 == 1 && k < nparts; k++) {
				pb_clear(&b);
				pack_rows(v, parts[k], &b);
				agg_partial_free(parts[k]);
				parts[k] = unpack_rows(v, pb_data(&b),
				    b.sb.size);
			}
			pb_free(&b);
			got = merge_random(parts, nparts);
			compare_partials(v, whole, got, vi == 0 ? &fq : NULL);
			if (trial % 2 == 0)
				ck_assert_uint_eq(agg_events(got),
				    agg_events(whole));

			if (trial > 0) {
				agg_partial_free(got);
				continue;
			}
			/* The empty partial is the identity, both ways. */
			empty = agg_partial_new(v);
			ck_assert_int_eq(agg_merge(got, empty, &cause), 0);
			compare_partials(v, whole, got, vi == 0 ? &fq : NULL);
			ck_assert_int_eq(agg_merge(empty, got, &cause), 0);
			compare_partials(v, whole, empty, vi == 0 ? &fq :
			    NULL);
			agg_partial_free(empty);
			agg_partial_free(got);

			/*
			 * A moving merge gives the same partial, with the
			 * rows only one side has and those both have, and
			 * leaves its source empty and usable.
			 */
			got = agg_partial_new(v);
			empty = agg_partial_new(v);
			pb_init(&b);
			for (i = 0; i < NEVENTS; i++)
				fold_ev(i % 3 == 0 ? got : empty, &b, &evs[i]);
			ck_assert_int_eq(agg_merge_move(got, empty, &cause),
			    0);
			ck_assert_uint_eq(agg_rows(empty), 0);
			ck_assert_uint_eq(agg_events(empty), 0);
			compare_partials(v, whole, got, vi == 0 ? &fq : NULL);
			ck_assert_uint_eq(agg_events(got), agg_events(whole));
			ck_assert_int_eq(agg_merge_move(empty, got, &cause),
			    0);
			ck_assert_uint_eq(agg_rows(got), 0);
			compare_partials(v, whole, empty, vi == 0 ? &fq :
			    NULL);
			pb_free(&b);
			agg_partial_free(empty);
			agg_partial_free(got);
		}
		agg_partial_free(whole);
		agg_view_free(v);
	}
	free(fq.pairs);
	free(evs);
}
END_TEST

/*
 * Exact float sums whose digits sit at the edges of the accumulator's
 * digits (2^31, 2^32 - 1, ...), with cancellations: a fold, the merge of
 * one partial per event and a round trip through bytes give one state, the
 * correctly rounded sum (reference: a 128-bit fixed-point sum in units of
 * 2^-20).
 */
START_TEST(test_float_sum_forms)
{
	static const int64_t	 mants[] = {
		1, 3, 5, 0x7fffffff, 0x80000000LL, 0xffffffffLL,
		0x100000001LL, ((int64_t)1 << 53) - 1
	};
	struct agg_view		*v;
	struct agg_partial	*whole, *parts[6], *q;
	struct agg_row		**rows;
	struct pb		 b;
	__int128		 exact, term = 0;
	size_t			 trial, i, n;
	char			*cause = NULL;

	conf = load_conf(STREAMS VIEWS);
	v = view_named("main");
	rng_seed(9);
	pb_init(&b);
	for (trial = 0; trial < 400; trial++) {
		n = 1 + rng() % 6;
		exact = 0;
		whole = agg_partial_new(v);
		for (i = 0; i < n; i++) {
			/* m * 2^(ex - 20), ex in 0 .. 70: exact doubles */
			if (i > 0 && rng() % 3 == 0)
				term = -term;	/* cancel the last one */
			else {
				term = (__int128)mants[rng() %
				    nitems(mants)] << (rng() % 71);
				if (rng() % 2)
					term = -term;
			}
			exact += term;
			pb_clear(&b);
			msgpack_pack_map(&b.pk, 3);
			pack_str(&b.pk, "url");
			pack_str(&b.pk, "/");
			pack_str(&b.pk, "bytes");
			msgpack_pack_int64(&b.pk, 0);
			pack_str(&b.pk, "lat");
			msgpack_pack_double(&b.pk, fixed_value(term));
			parts[i] = agg_partial_new(v);
			ck_assert_int_eq(agg_fold(whole, 0, pb_data(&b),
			    b.sb.size, &cause), 0);
			ck_assert_int_eq(agg_fold(parts[i], 0, pb_data(&b),
			    b.sb.size, &cause), 0);
		}
		q = merge_random(parts, n);
		compare_partials(v, whole, q, NULL);
		agg_partial_free(q);
		rows = agg_sorted_rows(whole);
		check_float_sum(&rows[0]->st[M_LAT], exact, "edge sum");
		free(rows);
		pb_clear(&b);
		pack_rows(v, whole, &b);
		q = unpack_rows(v, pb_data(&b), b.sb.size);
		compare_partials(v, whole, q, NULL);
		agg_partial_free(q);
		agg_partial_free(whole);
	}
	pb_free(&b);
	agg_view_free(v);
}
END_TEST

/* Few distinct values: every state, Space-Saving too, merges exactly. */
START_TEST(test_merge_small_exact)
{
	struct agg_view		*v;
	struct agg_partial	*whole, *parts[8], *got;
	struct ev		*evs;
	struct pb		 b;
	size_t			 i, k, nparts, trial, n = 3000, m;
	struct agg_row		**rows;

	conf = load_conf(STREAMS VIEWS);
	v = view_named("main");
	evs = xcalloc(n, sizeof(*evs));
	gen_events(evs, n, 3);
	for (i = 0; i < n; i++)		/* at most 5 users per group */
		if (evs[i].user >= 0)
			evs[i].user %= 5;
	whole = agg_partial_new(v);
	fold_all(whole, evs, n);
	rows = agg_sorted_rows(whole);
	for (i = 0; i < agg_rows(whole); i++)
		for (m = M_TBOT; m <= M_TUSER2; m++)
			ck_assert(!top_evicted(rows[i]->st[m].u.topk));
	free(rows);
	for (trial = 0; trial < 6; trial++) {
		rng_seed(200 + trial);
		nparts = 2 + trial;
		for (k = 0; k < nparts; k++)
			parts[k] = agg_partial_new(v);
		pb_init(&b);
		for (i = 0; i < n; i++)
			fold_ev(parts[rng() % nparts], &b, &evs[i]);
		pb_free(&b);
		got = merge_random(parts, nparts);
		compare_partials(v, whole, got, NULL);
		agg_partial_free(got);
	}
	agg_partial_free(whole);
	agg_view_free(v);
	free(evs);
}
END_TEST

/*
 * Filters: every operator on every type, absent values, on events that
 * each land in their own one-second bucket.
 */

#define FSTREAM								\
	"streams:\n"							\
	"  f:\n"							\
	"    fields:\n"							\
	"      s: {type: string, required: false}\n"			\
	"      i: {type: int, required: false}\n"			\
	"      x: {type: float, required: false}\n"			\
	"      b: {type: bool, required: false}\n"

enum { F_S, F_I, F_X, F_B };

struct fcond {
	int		 field;		/* F_ */
	int		 op;		/* CONF_OP_ */
	int		 n;
	const char	*s[3];
	int64_t		 i[3];
	double		 x[3];
};

struct fcase {
	const char	*where;
	struct fcond	 c[3];
	int		 nc;
};

#define CS(o, nv, ...)	{ .field = F_S, .op = (o), .n = (nv),	\
			    .s = { __VA_ARGS__ } }
#define CI(o, nv, ...)	{ .field = F_I, .op = (o), .n = (nv),	\
			    .i = { __VA_ARGS__ } }
#define CX(o, nv, ...)	{ .field = F_X, .op = (o), .n = (nv),	\
			    .x = { __VA_ARGS__ } }
#define CB(o, v)	{ .field = F_B, .op = (o), .n = 1, .i = { (v) } }

static const struct fcase fcases[] = {
	{ "{s: abc}", { CS(CONF_OP_EQ, 1, "abc") }, 1 },
	{ "{s: {eq: \"\"}}", { CS(CONF_OP_EQ, 1, "") }, 1 },
	{ "{s: {ne: abc}}", { CS(CONF_OP_NE, 1, "abc") }, 1 },
	{ "{s: {in: [ab, abcd, \"\"]}}",
	    { CS(CONF_OP_IN, 3, "ab", "abcd", "") }, 1 },
	{ "{s: {not_in: [abc, ABC]}}",
	    { CS(CONF_OP_NOT_IN, 2, "abc", "ABC") }, 1 },
	{ "{i: 42}", { CI(CONF_OP_EQ, 1, 42) }, 1 },
	{ "{i: {eq: -9223372036854775808}}",
	    { CI(CONF_OP_EQ, 1, INT64_MIN) }, 1 },
	{ "{i: {ne: 0}}", { CI(CONF_OP_NE, 1, 0) }, 1 },
	{ "{i: {in: [-1, 42, 9223372036854775807]}}",
	    { CI(CONF_OP_IN, 3, -1, 42, INT64_MAX) }, 1 },
	{ "{i: {not_in: [0, 1]}}", { CI(CONF_OP_NOT_IN, 2, 0, 1) }, 1 },
	{ "{i: {gt: 42}}", { CI(CONF_OP_GT, 1, 42) }, 1 },
	{ "{i: {gte: 42}}", { CI(CONF_OP_GE, 1, 42) }, 1 },
	{ "{i: {lt: -1}}", { CI(CONF_OP_LT, 1, -1) }, 1 },
	{ "{i: {lte: 0}}", { CI(CONF_OP_LE, 1, 0) }, 1 },
	{ "{i: {gt: 9223372036854775807}}",
	    { CI(CONF_OP_GT, 1, INT64_MAX) }, 1 },
	{ "{i: {gte: -9223372036854775808}}",
	    { CI(CONF_OP_GE, 1, INT64_MIN) }, 1 },
	{ "{i: {gt: 0, lte: 43}}",
	    { CI(CONF_OP_GT, 1, 0), CI(CONF_OP_LE, 1, 43) }, 2 },
	{ "{x: 0.5}", { CX(CONF_OP_EQ, 1, 0.5) }, 1 },
	{ "{x: {eq: 0}}", { CX(CONF_OP_EQ, 1, 0) }, 1 },
	{ "{x: {ne: -0.0}}", { CX(CONF_OP_NE, 1, -0.0) }, 1 },
	{ "{x: {eq: 2}}", { CX(CONF_OP_EQ, 1, 2) }, 1 },
	{ "{x: {in: [1.5, 2, 1e300]}}",
	    { CX(CONF_OP_IN, 3, 1.5, 2, 1e300) }, 1 },
	{ "{x: {not_in: [0.5]}}", { CX(CONF_OP_NOT_IN, 1, 0.5) }, 1 },
	{ "{x: {gt: 0}}", { CX(CONF_OP_GT, 1, 0) }, 1 },
	{ "{x: {gte: -0.0}}", { CX(CONF_OP_GE, 1, -0.0) }, 1 },
	{ "{x: {lt: 1.5}}", { CX(CONF_OP_LT, 1, 1.5) }, 1 },
	{ "{x: {lte: -1.5}}", { CX(CONF_OP_LE, 1, -1.5) }, 1 },
	{ "{x: {gt: -1e308, lt: 1e308}}",
	    { CX(CONF_OP_GT, 1, -1e308), CX(CONF_OP_LT, 1, 1e308) }, 2 },
	{ "{x: {gt: 0.5, lt: 1.5}}",
	    { CX(CONF_OP_GT, 1, 0.5), CX(CONF_OP_LT, 1, 1.5) }, 2 },
	{ "{b: true}", { CB(CONF_OP_EQ, 1) }, 1 },
	{ "{b: {eq: false}}", { CB(CONF_OP_EQ, 0) }, 1 },
	{ "{b: {ne: true}}", { CB(CONF_OP_NE, 1) }, 1 },
	{ "{b: {ne: false}}", { CB(CONF_OP_NE, 0) }, 1 },
	{ "{s: {in: [abc, b]}, i: {gte: 0}, b: true}",
	    { CS(CONF_OP_IN, 2, "abc", "b"), CI(CONF_OP_GE, 1, 0),
	      CB(CONF_OP_EQ, 1) }, 3 },
};

/* The values of the events: index 0 is absent. */
static const char *const fs_vals[] = {
	NULL, "", "ab", "abc", "abcd", "ABC", "b"
};
static const int64_t fi_vals[] = {
	0, INT64_MIN, -1, 0, 1, 41, 42, 43, INT64_MAX
};
static const double fx_vals[] = {
	0, -1.5, -0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 1e300, -1e308
};
#define FX_INT2		7	/* packed as the integer 2 */
static const int fb_vals[] = { 0, 0, 1 };

#define NFS		nitems(fs_vals)
#define NFI		nitems(fi_vals)
#define NFX		nitems(fx_vals)
#define NFB		nitems(fb_vals)

static void
pack_fev(msgpack_packer *pk, size_t si, size_t ii, size_t xi, size_t bi)
{
	msgpack_pack_map(pk, (si > 0) + (ii > 0) + (xi > 0) + (bi > 0));
	if (si > 0) {
		pack_str(pk, "s");
		pack_str(pk, fs_vals[si]);
	}
	if (ii > 0) {
		pack_str(pk, "i");
		msgpack_pack_int64(pk, fi_vals[ii]);
	}
	if (xi > 0) {
		pack_str(pk, "x");
		if (xi == FX_INT2)
			msgpack_pack_int64(pk, 2);
		else
			msgpack_pack_double(pk, fx_vals[xi]);
	}
	if (bi > 0) {
		pack_str(pk, "b");
		if (fb_vals[bi])
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}
}

/* The expected outcome of one condition, computed plainly. */
static int
fcond_holds(const struct fcond *c, size_t si, size_t ii, size_t xi,
    size_t bi)
{
	int	j, eq = 0;

	switch (c->field) {
	case F_S:
		if (si == 0)
			return (0);
		for (j = 0; j < c->n; j++)
			eq |= strcmp(fs_vals[si], c->s[j]) == 0;
		break;
	case F_I:
		if (ii == 0)
			return (0);
		switch (c->op) {
		case CONF_OP_GT:
			return (fi_vals[ii] > c->i[0]);
		case CONF_OP_GE:
			return (fi_vals[ii] >= c->i[0]);
		case CONF_OP_LT:
			return (fi_vals[ii] < c->i[0]);
		case CONF_OP_LE:
			return (fi_vals[ii] <= c->i[0]);
		}
		for (j = 0; j < c->n; j++)
			eq |= fi_vals[ii] == c->i[j];
		break;
	case F_X:
		if (xi == 0)
			return (0);
		switch (c->op) {
		case CONF_OP_GT:
			return (fx_vals[xi] > c->x[0]);
		case CONF_OP_GE:
			return (fx_vals[xi] >= c->x[0]);
		case CONF_OP_LT:
			return (fx_vals[xi] < c->x[0]);
		case CONF_OP_LE:
			return (fx_vals[xi] <= c->x[0]);
		}
		for (j = 0; j < c->n; j++)
			eq |= fx_vals[xi] == c->x[j];
		break;
	case F_B:
		if (bi == 0)
			return (0);
		eq = fb_vals[bi] == c->i[0];
		break;
	}
	return (c->op == CONF_OP_EQ || c->op == CONF_OP_IN ? eq : !eq);
}

START_TEST(test_filters)
{
	struct agg_view		*v;
	struct agg_partial	*p;
	const struct fcase	*fc;
	struct pb		 b;
	char			*text, *tmp, name[16], *cause = NULL;
	size_t			 ci, si, ii, xi, bi, c, at, passed;
	int			 want;

	text = xstrdup(FSTREAM "views:\n");
	for (ci = 0; ci < nitems(fcases); ci++) {
		xasprintf(&tmp, "%s  v%zu: {stream: f, bucket: 1s, where: %s, "
		    "metrics: {n: count}}\n", text, ci, fcases[ci].where);
		free(text);
		text = tmp;
	}
	conf = load_conf(text);
	free(text);
	pb_init(&b);
	for (ci = 0; ci < nitems(fcases); ci++) {
		fc = &fcases[ci];
		snprintf(name, sizeof(name), "v%zu", ci);
		v = view_named(name);
		ck_assert_uint_eq(agg_view_conf(v)->nfilters, (size_t)fc->nc);
		p = agg_partial_new(v);
		at = passed = 0;
		for (si = 0; si < NFS; si++)
		for (ii = 0; ii < NFI; ii++)
		for (xi = 0; xi < NFX; xi++)
		for (bi = 0; bi < NFB; bi++) {
			pb_clear(&b);
			pack_fev(&b.pk, si, ii, xi, bi);
			REQUIRE(agg_fold(p, (int64_t)at * NS, pb_data(&b),
			    b.sb.size, &cause) == 0, "fold: %s", cause);
			want = 1;
			for (c = 0; c < (size_t)fc->nc; c++)
				want &= fcond_holds(&fc->c[c], si, ii, xi, bi);
			REQUIRE((agg_find_row(p, (int64_t)at,
			    (const uint8_t *)"\x90", 1, 0) != NULL) == want,
			    "where %s: event s#%zu i#%zu x#%zu b#%zu: "
			    "expected %s", fc->where, si, ii, xi, bi,
			    want ? "in" : "out");
			passed += want;
			at++;
		}
		ck_assert_uint_eq(agg_rows(p), passed);
		ck_assert_uint_eq(agg_events(p), passed);
		/* Every case but gt INT64_MAX keeps some events. */
		ck_assert_msg(passed > 0 || (fc->c[0].op == CONF_OP_GT &&
		    fc->c[0].i[0] == INT64_MAX), "where %s: nothing passes",
		    fc->where);
		/* An absent field fails every operator, ne and not_in too. */
		ck_assert_uint_lt(passed, at);
		agg_partial_free(p);
		agg_view_free(v);
	}
	pb_free(&b);
}
END_TEST

/*
 * Buckets: floor(event time / bucket), on both sides of the epoch.
 */
START_TEST(test_bucket_edges)
{
	static const int64_t	 times[] = {
		0, -1, 1, 10 * NS, 10 * NS - 1, 10 * NS + 1, -10 * NS,
		-10 * NS - 1, -10 * NS + 1, -NS, -NS + 1, -NS - 1,
		HOUR_NS, HOUR_NS - 1, -HOUR_NS, -HOUR_NS - 1,
		INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - NS,
		1700000000 * NS, 1700000000 * NS - 1,
		(int64_t)366 * 86400 * NS, (int64_t)366 * 86400 * NS - 1,
		-(int64_t)366 * 86400 * NS, -(int64_t)366 * 86400 * NS - 1,
	};
	static const char *const names[] = { "s1", "s10", "h1", "d366" };
	static const int64_t	 secs[] = { 1, 10, 3600, 366 * 86400 };
	struct agg_view		*v;
	struct agg_partial	*p;
	struct agg_row		**rows;
	char			*cause = NULL;
	size_t			 vi, i;
	int64_t			 want;

	conf = load_conf("streams:\n  e: {fields: {a: int}}\n"
	    "views:\n"
	    "  s1: {stream: e, bucket: 1s, metrics: {n: count}}\n"
	    "  s10: {stream: e, bucket: 10s, metrics: {n: count}}\n"
	    "  h1: {stream: e, bucket: 1h, metrics: {n: count}}\n"
	    "  d366: {stream: e, bucket: 366d, metrics: {n: count}}\n");
	for (vi = 0; vi < nitems(names); vi++) {
		v = view_named(names[vi]);
		p = agg_partial_new(v);
		for (i = 0; i < nitems(times); i++) {
			agg_partial_reset(p);
			ck_assert_int_eq(agg_fold(p, times[i],
			    (const uint8_t *)"\x81\xa1" "a\x01", 4, &cause), 0);
			ck_assert_uint_eq(agg_rows(p), 1);
			rows = agg_sorted_rows(p);
			/* floor in ns, then to seconds: no overflow here */
			want = floordiv(floordiv(times[i], NS), secs[vi]) *
			    secs[vi];
			ck_assert_msg(rows[0]->bucket == want, "%s: time %"
			    PRId64 ": bucket %" PRId64 ", want %" PRId64,
			    names[vi], times[i], rows[0]->bucket, want);
			free(rows);
		}
		agg_partial_free(p);
		agg_view_free(v);
	}
	/* The exact edges, spelled out. */
	v = view_named("s10");
	p = agg_partial_new(v);
	ck_assert_int_eq(agg_fold(p, -1, (const uint8_t *)"\x80", 1, &cause),
	    0);
	ck_assert_int_eq(agg_fold(p, -10 * NS, (const uint8_t *)"\x80", 1,
	    &cause), 0);
	ck_assert_int_eq(agg_fold(p, -10 * NS - 1, (const uint8_t *)"\x80", 1,
	    &cause), 0);
	ck_assert_int_eq(agg_fold(p, 0, (const uint8_t *)"\x80", 1, &cause),
	    0);
	ck_assert_int_eq(agg_fold(p, 10 * NS - 1, (const uint8_t *)"\x80", 1,
	    &cause), 0);
	ck_assert_uint_eq(agg_find_row(p, -10, (const uint8_t *)"\x90", 1,
	    0)->st[0].u.count, 2);
	ck_assert_uint_eq(agg_find_row(p, -20, (const uint8_t *)"\x90", 1,
	    0)->st[0].u.count, 1);
	ck_assert_uint_eq(agg_find_row(p, 0, (const uint8_t *)"\x90", 1,
	    0)->st[0].u.count, 2);
	ck_assert_uint_eq(agg_rows(p), 3);
	agg_partial_free(p);
	agg_view_free(v);
}
END_TEST

/*
 * Stored maps that do not look like today's schema: keys out of order,
 * unknown keys, values of another type, non-finite floats.
 */
START_TEST(test_decode)
{
	static const struct {
		const char	*hex;
		int		 ok;
		const char	*key;	/* hex of the row key, if ok */
		int64_t		 bytes;
		uint64_t	 nlat;
	} cases[] = {
		/* {bytes: 5, url: "a"}: out of schema order */
		{ "82 a5 6279746573 05 a3 75726c a1 61", 1,
		    "92 a1 61 c0", 5, 0 },
		/* {url: "a", zzz: [1, {}], bytes: 1}: unknown key */
		{ "83 a3 75726c a1 61 a3 7a7a7a 92 01 80 a5 6279746573 01",
		    1, "92 a1 61 c0", 1, 0 },
		/* {url: 5, status: "200", bytes: "x"}: wrong types */
		{ "83 a3 75726c 05 a6 737461747573 a3 323030 "
		    "a5 6279746573 a1 78", 1, "92 c0 c0", 0, 0 },
		/* {status: 1.5, lat: "x"} */
		{ "82 a6 737461747573 cb 3ff8000000000000 a3 6c6174 a1 78",
		    1, "92 c0 c0", 0, 0 },
		/* {lat: NaN}, {lat: -inf}: absent */
		{ "81 a3 6c6174 cb 7ff8000000000000", 1, "92 c0 c0", 0, 0 },
		{ "81 a3 6c6174 cb fff0000000000000", 1, "92 c0 c0", 0, 0 },
		/* {lat: 3} (an integer) and {lat: float32 1.5} */
		{ "81 a3 6c6174 03", 1, "92 c0 c0", 0, 1 },
		{ "81 a3 6c6174 ca 3fc00000", 1, "92 c0 c0", 0, 1 },
		/* a key with a NUL inside: "url\0x" is no field */
		{ "82 a5 75726c0078 a1 61 a3 75726c a1 62", 1,
		    "92 a1 62 c0", 0, 0 },
		{ "81 a5 75726c0078 a1 61", 1, "92 c0 c0", 0, 0 },
		/* {status: 200, status: "x"}: the last one counts */
		{ "82 a6 737461747573 cc c8 a6 737461747573 a1 78", 1,
		    "92 c0 c0", 0, 0 },
		{ "82 a6 737461747573 a1 78 a6 737461747573 cc c8", 1,
		    "92 c0 cc c8", 0, 0 },
		/* {}: nothing present */
		{ "80", 1, "92 c0 c0", 0, 0 },
		/* not a map, truncated, trailing bytes, key not a string */
		{ "90", 0, NULL, 0, 0 },
		{ "c0", 0, NULL, 0, 0 },
		{ "", 0, NULL, 0, 0 },
		{ "82 a3 75726c a1 61", 0, NULL, 0, 0 },
		{ "81 a3 75726c a1", 0, NULL, 0, 0 },
		{ "81 a3 75726c a1 61 00", 0, NULL, 0, 0 },
		{ "81 01 a1 61", 0, NULL, 0, 0 },
		{ "81 a3 75726c dd ffffffff", 0, NULL, 0, 0 },
		{ "df ffffffff", 0, NULL, 0, 0 },
	};
	struct agg_view		*v;
	struct agg_partial	*p, *q;
	struct agg_row		**rows;
	struct pb		 b;
	uint8_t			 buf[256], key[64];
	size_t			 i, len, keylen;
	char			*cause;
	int			 rc;

	conf = load_conf(STREAMS VIEWS);
	v = view_named("main");
	p = agg_partial_new(v);
	for (i = 0; i < nitems(cases); i++) {
		agg_partial_reset(p);
		len = testlib_unhex(cases[i].hex, buf);
		cause = NULL;
		rc = agg_fold(p, 0, buf, len, &cause);
		if (!cases[i].ok) {
			ck_assert_msg(rc == -1 && cause != NULL, "case %zu: "
			    "accepted", i);
			ck_assert_msg(strncmp(cause, "malformed fields map: ",
			    22) == 0, "case %zu: %s", i, cause);
			free(cause);
			ck_assert_uint_eq(agg_rows(p), 0);
			continue;
		}
		ck_assert_msg(rc == 0, "case %zu: %s", i, cause);
		ck_assert_uint_eq(agg_rows(p), 1);
		rows = agg_sorted_rows(p);
		keylen = testlib_unhex(cases[i].key, key);
		ck_assert_msg(rows[0]->keylen == keylen &&
		    memcmp(rows[0]->key, key, keylen) == 0, "case %zu: key",
		    i);
		ck_assert(rows[0]->st[M_BYTES].u.isum == cases[i].bytes);
		ck_assert_uint_eq(rows[0]->st[M_BMIN].u.mm.n,
		    cases[i].bytes != 0);
		ck_assert_uint_eq(rows[0]->st[M_LMIN].u.mm.n, cases[i].nlat);
		ck_assert_uint_eq(rows[0]->st[M_N].u.count, 1);
		free(rows);
		/* Whatever was folded packs and reads back. */
		pb_init(&b);
		pack_rows(v, p, &b);
		q = unpack_rows(v, pb_data(&b), b.sb.size);
		compare_partials(v, p, q, NULL);
		agg_partial_free(q);
		pb_free(&b);
	}
	agg_partial_free(p);
	agg_view_free(v);
}
END_TEST

/*
 * -0.0 and 0.0 are the same number: min, max and their bytes must not
 * depend on which came first.
 */
START_TEST(test_signed_zero)
{
	struct agg_view		*v;
	struct agg_partial	*a, *b, *c;
	struct pb		 pa, pbb;
	struct ev		 e[2];
	char			*cause = NULL;
	int			 order;

	conf = load_conf(STREAMS VIEWS);
	v = view_named("main");
	memset(e, 0, sizeof(e));
	make_urls();
	e[0].user = e[1].user = e[0].bot = e[1].bot = -1;
	e[0].status = e[1].status = -1;
	e[0].haslat = e[1].haslat = 1;
	e[0].negzero = 1;
	a = agg_partial_new(v);
	b = agg_partial_new(v);
	for (order = 0; order < 2; order++) {
		pb_init(&pa);
		fold_ev(order ? a : b, &pa, &e[order]);
		fold_ev(order ? a : b, &pa, &e[!order]);
		pb_free(&pa);
	}
	compare_partials(v, a, b, NULL);
	pb_init(&pa);
	pb_init(&pbb);
	pack_rows(v, a, &pa);
	pack_rows(v, b, &pbb);
	ck_assert_uint_eq(pa.sb.size, pbb.sb.size);
	ck_assert(memcmp(pa.sb.data, pbb.sb.data, pa.sb.size) == 0);
	pb_free(&pbb);

	/* Merged one way and the other. */
	agg_partial_reset(a);
	agg_partial_reset(b);
	c = agg_partial_new(v);
	pb_init(&pbb);
	fold_ev(a, &pbb, &e[0]);
	fold_ev(b, &pbb, &e[1]);
	pb_free(&pbb);
	ck_assert_int_eq(agg_merge(c, b, &cause), 0);
	ck_assert_int_eq(agg_merge(c, a, &cause), 0);
	ck_assert_int_eq(agg_merge(a, b, &cause), 0);
	pb_init(&pbb);
	pack_rows(v, c, &pbb);
	ck_assert_uint_eq(pa.sb.size, pbb.sb.size);
	ck_assert(memcmp(pa.sb.data, pbb.sb.data, pa.sb.size) == 0);
	pb_clear(&pbb);
	pack_rows(v, a, &pbb);
	ck_assert(memcmp(pa.sb.data, pbb.sb.data, pa.sb.size) == 0);
	pb_free(&pbb);
	pb_free(&pa);
	agg_partial_free(a);
	agg_partial_free(b);
	agg_partial_free(c);
	agg_view_free(v);
}
END_TEST

/*
 * Group keys up to 64 KiB; one byte more is refused, absent dimensions
 * included.
 */
START_TEST(test_key_limit)
{
	static const size_t	 lens[] = { 4090, 4096, 65528, 65535, 65536,
				    70000, 300000 };
	struct agg_view		*v;
	struct agg_partial	*p, *q;
	struct pb		 b;
	char			*s, *cause;
	size_t			 i, len;
	int			 withb;

	/*
	 * Group keys have no limit but memory: an event ingest stored must
	 * always fold (a limit would stop batchd at that event for good),
	 * and its row must go over the wire and back.
	 */
	conf = load_conf("streams:\n  k:\n    fields:\n      a: string\n"
	    "      b: {type: string, required: false}\n"
	    "views:\n  kv: {stream: k, bucket: 1s, group_by: [a, b], "
	    "metrics: {n: count}}\n");
	v = view_named("kv");
	p = agg_partial_new(v);
	s = xmalloc(300000);
	memset(s, 'a', 300000);
	pb_init(&b);
	for (withb = 0; withb < 2; withb++)
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			len = lens[i];
			pb_clear(&b);
			msgpack_pack_map(&b.pk, 1 + withb);
			pack_str(&b.pk, "a");
			msgpack_pack_str(&b.pk, len);
			msgpack_pack_str_body(&b.pk, s, len);
			if (withb) {
				pack_str(&b.pk, "b");
				pack_str(&b.pk, "x");
			}
			cause = NULL;
			agg_partial_reset(p);
			ck_assert_msg(agg_fold(p, 0, pb_data(&b), b.sb.size,
			    &cause) == 0, "%zu: %s", len, cause);
			/* Twice: the second finds the row. */
			ck_assert_int_eq(agg_fold(p, 0, pb_data(&b), b.sb.size,
			    &cause), 0);
			ck_assert_uint_eq(agg_rows(p), 1);
			ck_assert_uint_eq(agg_events(p), 2);
			pb_clear(&b);
			pack_rows(v, p, &b);
			q = unpack_rows(v, pb_data(&b), b.sb.size);
			compare_partials(v, p, q, NULL);
			agg_partial_free(q);
		}
	pb_free(&b);
	free(s);
	agg_partial_free(p);
	agg_view_free(v);
}
END_TEST

/*
 * Round trips: every row packs, reads back into an empty partial with
 * equal states, and packs again to the same bytes.  Reset empties.
 */
START_TEST(test_round_trip)
{
	const char		*names[] = { "main", "byuser", "total" };
	struct agg_view		*v;
	struct agg_partial	*p, *q, *r2;
	struct ev		*evs;
	struct pb		 b1, b2;
	char			*b2cause = NULL;
	size_t			 vi, n = 20000;

	conf = load_conf(STREAMS VIEWS);
	evs = xcalloc(n, sizeof(*evs));
	gen_events(evs, n, 4);
	for (vi = 0; vi < nitems(names); vi++) {
		v = view_named(names[vi]);
		p = agg_partial_new(v);
		fold_all(p, evs, n);
		pb_init(&b1);
		pack_rows(v, p, &b1);
		q = unpack_rows(v, pb_data(&b1), b1.sb.size);
		compare_partials(v, p, q, NULL);
		pb_init(&b2);
		pack_rows(v, q, &b2);
		ck_assert_uint_eq(b1.sb.size, b2.sb.size);
		ck_assert(memcmp(b1.sb.data, b2.sb.data, b1.sb.size) == 0);

		/* Reset, fold again: the same partial. */
		agg_partial_reset(p);
		ck_assert_uint_eq(agg_rows(p), 0);
		ck_assert_uint_eq(agg_events(p), 0);
		fold_all(p, evs, n);
		compare_partials(v, q, p, NULL);

		/* Rows read twice merge: counts double. */
		r2 = unpack_rows(v, pb_data(&b1), b1.sb.size);
		{
			struct msg_reader	 rd;
			char			*cause = NULL;

			msg_reader_init(&rd, pb_data(&b1), b1.sb.size);
			while (msg_left(&rd) > 0)
				REQUIRE(agg_unpack_row(v, r2, &rd, &cause) ==
				    0, "unpack: %s", cause);
		}
		ck_assert_int_eq(agg_merge(q, p, &b2cause), 0);
		compare_partials(v, q, r2, NULL);
		agg_partial_free(r2);
		pb_free(&b1);
		pb_free(&b2);
		agg_partial_free(p);
		agg_partial_free(q);
		agg_view_free(v);
	}
	free(evs);
}
END_TEST

/*
 * Hostile serialized rows.
 */

/* A small partial of view main with every state set. */
static struct agg_partial *
hostile_base(const struct agg_view *v)
{
	struct agg_partial	*p = agg_partial_new(v);
	struct ev		*evs;
	size_t			 i, n = 50;

	evs = xcalloc(n, sizeof(*evs));
	gen_events(evs, n, 5);
	for (i = 0; i < n; i++) {
		evs[i].ns = 0;
		evs[i].url = 1;
		evs[i].status = 0;
		evs[i].user = (int)i % 7;
		evs[i].haslat = 1;
		evs[i].negzero = 0;
		evs[i].bot = (int)i % 2;
		evs[i].bytes = INT64_MAX - (int64_t)i;	/* past int64 */
	}
	fold_all(p, evs, n);
	free(evs);
	ck_assert_uint_eq(agg_rows(p), 1);
	return (p);
}

/* The row of p packed with state m replaced by alt (len bytes). */
static void
pack_row_alt(const struct agg_view *v, struct agg_row *row, size_t alt_m,
    const uint8_t *alt, size_t altlen, struct pb *b)
{
	size_t	m;

	msgpack_pack_array(&b->pk, 3);
	msgpack_pack_int64(&b->pk, row->bucket);
	msgpack_sbuffer_write(&b->sb, (const char *)row->key, row->keylen);
	msgpack_pack_array(&b->pk, agg_view_nmetrics(v));
	for (m = 0; m < agg_view_nmetrics(v); m++) {
		if (m == alt_m)
			msgpack_sbuffer_write(&b->sb, (const char *)alt,
			    altlen);
		else
			agg_pack_state(v, m, &row->st[m], &b->pk);
	}
}

/*
 * Unpack buf into a new partial; must fail with want (a prefix when it
 * ends with '*').
 */
static void
expect_refused(const struct agg_view *v, const uint8_t *buf, size_t len,
    const char *want, const char *what)
{
	struct agg_partial	*p = agg_partial_new(v);
	struct msg_reader	 r;
	char			*cause = NULL;
	size_t			 wl = strlen(want);

	msg_reader_init(&r, buf, len);
	ck_assert_msg(agg_unpack_row(v, p, &r, &cause) == -1,
	    "%s: accepted", what);
	ck_assert_msg(cause != NULL, "%s: no cause", what);
	if (want[wl - 1] == '*')
		ck_assert_msg(strncmp(cause, want, wl - 1) == 0,
		    "%s: cause \"%s\", want \"%s\"", what, cause, want);
	else
		ck_assert_msg(strcmp(cause, want) == 0,
		    "%s: cause \"%s\", want \"%s\"", what, cause, want);
	free(cause);
	agg_partial_free(p);
}

START_TEST(test_hostile_states)
{
	static const struct {
		size_t		 m;
		const char	*hex;
		const char	*want;
	} cases[] = {
		{ M_N, "a1 78", "n: malformed count state" },
		{ M_N, "ff", "n: malformed count state" },
		{ M_N, "c0", "n: malformed count state" },
		{ M_N, "cb 3ff0000000000000", "n: malformed count state" },
		{ M_BYTES, "cb 3ff8000000000000",
		    "bytes: malformed sum state" },
		{ M_BYTES, "91 01", "bytes: malformed sum state" },
		{ M_BYTES, "93 01 02 03", "bytes: malformed sum state" },
		{ M_BYTES, "92 01 ff", "bytes: malformed sum state" },
		{ M_BYTES, "92 a1 78 01", "bytes: malformed sum state" },
		{ M_BYTES, "c0", "bytes: malformed sum state" },
		{ M_BYTES, "dd ffffffff", "bytes: malformed sum state" },
		{ M_BYTES, "cf ffffffffffffffff",
		    "bytes: malformed sum state" },
		{ M_LAT, "a1 78", "xsum: *" },
		{ M_LAT, "92 00 dd ffffffff", "xsum: *" },
		{ M_LAT, "92 00 91 00", "xsum: *" },
		{ M_BMIN, "92 00 05", "bmin: malformed min state" },
		{ M_BMIN, "91 01", "bmin: malformed min state" },
		{ M_BMIN, "92 01 a1 78", "bmin: malformed min state" },
		{ M_BMIN, "92 01 cb 3ff0000000000000",
		    "bmin: malformed min state" },
		{ M_BMIN, "93 01 02 03", "bmin: malformed min state" },
		{ M_BMAX, "80", "bmax: malformed max state" },
		{ M_LMIN, "92 01 cb 7ff0000000000000",
		    "lmin: malformed min state" },
		{ M_LMIN, "92 01 05", "lmin: malformed min state" },
		{ M_LMAX, "92 01 cb 7ff8000000000000",
		    "lmax: malformed max state" },
		{ M_USERS, "a1 78", "hll: *" },
		{ M_USERS, "94 01 0e 00 c6 ffffffff", "hll: *" },
		{ M_USERS, "94 01 0e 02 c4 00", "hll: *" },
		{ M_USERS, "94 01 0e 00 c4 05 0102030405", "hll: *" },
		{ M_USERS, "94 02 0e 00 c4 00", "hll: *" },
		{ M_USERS, "94 01 13 00 c4 00", "hll: *" },
		{ M_USERS, "dc ffff", "hll: *" },
		{ M_Q, "9a 01", "ddsketch: *" },
		{ M_Q, "a1 78", "ddsketch: *" },
		{ M_TUSER, "94 01 05 01 dd ffffffff", "topk: *" },
		{ M_TUSER, "94 01 05 05 91 93 c4 01 61 07 00", "topk: *" },
		{ M_TUSER, "94 01 05 02 92 93 c4 01 61 01 00 "
		    "93 c4 01 61 01 00", "topk: *" },
		{ M_TUSER, "94 01 05 01 91 93 c4 01 61 01 02", "topk: *" },
		{ M_TUSER, "94 09 05 00 90", "topk: *" },
		{ M_TUSER, "94 01 ce ffffffff 00 90", "topk: *" },
	};
	static const struct {
		const char	*hex;
		const char	*want;
	} rows_bad[] = {
		{ "c0", "row: expected [bucket, key, states]" },
		{ "", "row: expected [bucket, key, states]" },
		{ "92 00 92 c0 c0", "row: expected [bucket, key, states]" },
		{ "94 00 92 c0 c0 90 00",
		    "row: expected [bucket, key, states]" },
		{ "93 a1 78 92 c0 c0 90",
		    "row: expected [bucket, key, states]" },
		{ "93 cb 0000000000000000 92 c0 c0 90",
		    "row: expected [bucket, key, states]" },
		{ "93 00 a1 78 90", "row: expected [bucket, key, states]" },
		{ "93 00 c0 90", "row: expected [bucket, key, states]" },
		{ "93 00 91 c0 90", "row: key of the wrong shape" },
		{ "93 00 93 c0 c0 c0 90", "row: key of the wrong shape" },
		{ "93 00 dc 0002 c0 c0 90", "row: key of the wrong shape" },
		{ "93 00 dd ffffffff c0", "row: *" },
		{ "93 00 92 c0", "row: *" },
		{ "93 00 92 c0 c0 93 00 00 00",
		    "row: 3 states, the view has 15 metrics" },
		{ "93 00 92 c0 c0 dd ffffffff",
		    "row: expected an array of states" },
		{ "93 00 92 c0 c0 dd 00000002 00 00",
		    "row: 2 states, the view has 15 metrics" },
		{ "93 00 92 c0 c0 c0", "row: expected an array of states" },
		{ "93 00 92 c0 c0", "row: expected an array of states" },
		{ "93 01 92 c0 c0 90",
		    "row: bucket 1 is not a multiple of 3600 seconds" },
		{ "93 d3 8000000000000000 92 c0 c0 90",
		    "row: bucket -9223372036854775808 is not a multiple of "
		    "3600 seconds" },
	};
	struct agg_view		*v;
	struct agg_partial	*p;
	struct agg_row		**rows;
	struct pb		 b;
	struct hll		*h;
	struct ddsketch		*d;
	struct topk		*t;
	uint8_t			 alt[256];
	size_t			 i, len;
	char			 what[64];

	conf = load_conf(STREAMS VIEWS);
	v = view_named("main");
	p = hostile_base(v);
	rows = agg_sorted_rows(p);
	pb_init(&b);
	for (i = 0; i < nitems(cases); i++) {
		pb_clear(&b);
		len = testlib_unhex(cases[i].hex, alt);
		pack_row_alt(v, rows[0], cases[i].m, alt, len, &b);
		snprintf(what, sizeof(what), "state case %zu", i);
		expect_refused(v, pb_data(&b), b.sb.size, cases[i].want, what);
	}
	for (i = 0; i < nitems(rows_bad); i++) {
		len = testlib_unhex(rows_bad[i].hex, alt);
		snprintf(what, sizeof(what), "row case %zu", i);
		expect_refused(v, alt, len, rows_bad[i].want, what);
	}

	/* Sketches valid in themselves, with another view's parameters. */
	pb_clear(&b);
	{
		struct pb	s;

		pb_init(&s);
		h = hll_new(10);
		hll_add(h, "x", 1);
		hll_pack(h, &s.pk);
		pack_row_alt(v, rows[0], M_USERS, pb_data(&s), s.sb.size, &b);
		expect_refused(v, pb_data(&b), b.sb.size,
		    "users: precision 10, the view says 14", "hll p10");
		hll_free(h);

		pb_clear(&s);
		pb_clear(&b);
		d = dds_new(0.02, 4096);
		dds_add(d, 1.0);
		dds_pack(d, &s.pk);
		pack_row_alt(v, rows[0], M_Q, pb_data(&s), s.sb.size, &b);
		expect_refused(v, pb_data(&b), b.sb.size,
		    "q: sketch parameters differ from the view's", "dds a");
		dds_free(d);

		pb_clear(&s);
		pb_clear(&b);
		d = dds_new(0.01, 2048);
		dds_add(d, 1.0);
		dds_pack(d, &s.pk);
		pack_row_alt(v, rows[0], M_Q, pb_data(&s), s.sb.size, &b);
		expect_refused(v, pb_data(&b), b.sb.size,
		    "q: sketch parameters differ from the view's", "dds m");
		dds_free(d);

		pb_clear(&s);
		pb_clear(&b);
		t = topk_new(3);
		topk_add(t, "x", 1, 1);
		topk_pack(t, &s.pk);
		pack_row_alt(v, rows[0], M_TUSER, pb_data(&s), s.sb.size, &b);
		expect_refused(v, pb_data(&b), b.sb.size,
		    "tuser: k 3, the view says 5", "topk k3");
		topk_free(t);

		/* A valid sketch in the place of another kind. */
		pb_clear(&s);
		pb_clear(&b);
		agg_pack_state(v, M_Q, &rows[0]->st[M_Q], &s.pk);
		pack_row_alt(v, rows[0], M_USERS, pb_data(&s), s.sb.size, &b);
		expect_refused(v, pb_data(&b), b.sb.size, "hll: *", "dds@hll");
		pb_clear(&b);
		pack_row_alt(v, rows[0], M_TUSER, pb_data(&s), s.sb.size, &b);
		expect_refused(v, pb_data(&b), b.sb.size, "topk: *", "dds@top");
		pb_clear(&s);
		pb_clear(&b);
		agg_pack_state(v, M_USERS, &rows[0]->st[M_USERS], &s.pk);
		pack_row_alt(v, rows[0], M_Q, pb_data(&s), s.sb.size, &b);
		expect_refused(v, pb_data(&b), b.sb.size, "ddsketch: *",
		    "hll@dds");
		pb_clear(&b);
		pack_row_alt(v, rows[0], M_LAT, pb_data(&s), s.sb.size, &b);
		expect_refused(v, pb_data(&b), b.sb.size, "xsum: *",
		    "hll@xsum");
		pb_free(&s);
	}

	/* Every strict prefix of a valid row is refused. */
	pb_clear(&b);
	agg_pack_row(v, rows[0], &b.pk);
	for (len = 0; len < b.sb.size; len++) {
		snprintf(what, sizeof(what), "prefix %zu of %zu", len,
		    b.sb.size);
		expect_refused(v, pb_data(&b), len, "*", what);
	}
	free(rows);
	pb_free(&b);
	agg_partial_free(p);
	agg_view_free(v);
}
END_TEST

/* Merges that would overflow a count or an exact sum are refused. */
START_TEST(test_merge_overflow)
{
	struct agg_view		*v;
	struct agg_partial	*p;
	struct agg_row		**rows;
	struct msg_reader	 r;
	struct pb		 b;
	uint8_t			 alt[64];
	size_t			 len, i;
	char			*cause;
	static const struct {
		size_t		 m;
		const char	*hex;
		const char	*want;
	} cases[] = {
		{ M_N, "cf ffffffffffffffff", "n: count overflows" },
		{ M_BYTES, "92 d3 7fffffffffffffff cf ffffffffffffffff",
		    "bytes: sum overflows" },
		{ M_BYTES, "92 d3 8000000000000000 00",
		    "bytes: sum overflows" },
		{ M_BMIN, "92 cf ffffffffffffffff 05",
		    "bmin: count overflows" },
	};

	conf = load_conf(STREAMS VIEWS);
	v = view_named("main");
	for (i = 0; i < nitems(cases); i++) {
		p = hostile_base(v);
		rows = agg_sorted_rows(p);
		pb_init(&b);
		len = testlib_unhex(cases[i].hex, alt);
		pack_row_alt(v, rows[0], cases[i].m, alt, len, &b);
		free(rows);
		agg_partial_free(p);
		p = agg_partial_new(v);
		msg_reader_init(&r, pb_data(&b), b.sb.size);
		cause = NULL;
		ck_assert_msg(agg_unpack_row(v, p, &r, &cause) == 0,
		    "case %zu: %s", i, cause);
		msg_reader_init(&r, pb_data(&b), b.sb.size);
		ck_assert_int_eq(agg_unpack_row(v, p, &r, &cause), -1);
		ck_assert_str_eq(cause, cases[i].want);
		free(cause);
		pb_free(&b);
		agg_partial_free(p);
	}
	agg_view_free(v);
}
END_TEST

/*
 * Fuzz: byte flips, interesting bytes, truncations and splices of valid
 * rows give a clean error or a valid row (which then packs and reads back
 * and merges without harm), never a crash.
 */
START_TEST(test_fuzz_rows)
{
	static const uint8_t	 interesting[] = {
		0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xc2, 0xc3, 0xcc, 0xcd,
		0xce, 0xcf, 0xd0, 0xd3, 0xdc, 0xdd, 0xde, 0xdf, 0xc4, 0xc6,
		0x90, 0x9f, 0xa0, 0xbf, 0xcb, 0xca, 0xe0
	};
	struct agg_view		*v;
	struct agg_partial	*base, *p, *q, *sink;
	struct agg_row		**rows;
	struct ev		*evs;
	struct pb		 b, out;
	struct msg_reader	 r;
	uint8_t			*buf;
	size_t			*off, nrows, i, iter, len, at, k, nmut;
	size_t			 ok = 0;
	size_t			 n = 400, iters = 20000;
	const char		*env;
	char			*cause;

	/* LAMINA_FUZZ_ITERS and LAMINA_FUZZ_SEED: a longer campaign. */
	if ((env = getenv("LAMINA_FUZZ_ITERS")) != NULL)
		iters = strtoul(env, NULL, 10);
	conf = load_conf(STREAMS VIEWS);
	v = view_named("main");
	evs = xcalloc(n, sizeof(*evs));
	gen_events(evs, n, 6);
	for (i = 0; i < n; i++) {	/* a few groups, some sketches big */
		evs[i].url %= 3;
		evs[i].ns = (int64_t)(i % 2) * HOUR_NS;
	}
	base = agg_partial_new(v);
	fold_all(base, evs, n);
	free(evs);
	nrows = agg_rows(base);
	rows = agg_sorted_rows(base);
	pb_init(&b);
	off = xcalloc(nrows + 1, sizeof(*off));
	for (i = 0; i < nrows; i++) {
		off[i] = b.sb.size;
		agg_pack_row(v, rows[i], &b.pk);
	}
	off[nrows] = b.sb.size;
	free(rows);
	buf = xmalloc(b.sb.size + 64);
	sink = agg_partial_new(v);
	env = getenv("LAMINA_FUZZ_SEED");
	rng_seed(env != NULL ? strtoull(env, NULL, 10) : 7);
	for (iter = 0; iter < iters; iter++) {
		i = rng() % nrows;
		len = off[i + 1] - off[i];
		memcpy(buf, b.sb.data + off[i], len);
		nmut = 1 + rng() % 4;
		for (k = 0; k < nmut; k++) {
			at = rng() % len;
			switch (rng() % 6) {
			case 0:
				buf[at] ^= (uint8_t)(1 << (rng() % 8));
				break;
			case 1:
				buf[at] = interesting[rng() %
				    nitems(interesting)];
				break;
			case 2:
				buf[at] = (uint8_t)rng();
				break;
			case 3:
				len = at + 1;
				break;
			case 4:		/* a run of one byte */
				memset(buf + at, (int)(rng() % 256),
				    (len - at) < 9 ? len - at : 9);
				break;
			case 5:		/* a piece of another row */
				{
					size_t	j = rng() % nrows;
					size_t	from = off[j] + rng() %
					    (off[j + 1] - off[j]);
					size_t	cnt = 1 + rng() % 16;

					if (cnt > off[j + 1] - from)
						cnt = off[j + 1] - from;
					if (cnt > len - at)
						cnt = len - at;
					memcpy(buf + at, b.sb.data + from, cnt);
				}
				break;
			}
		}
		p = agg_partial_new(v);
		msg_reader_init(&r, buf, len);
		cause = NULL;
		if (agg_unpack_row(v, p, &r, &cause) == -1) {
			REQUIRE(cause != NULL && *cause != '\0', "no cause");
			free(cause);
			agg_partial_free(p);
			continue;
		}
		ok++;
		/* Accepted: it packs, reads back the same, and merges. */
		pb_init(&out);
		pack_rows(v, p, &out);
		q = unpack_rows(v, pb_data(&out), out.sb.size);
		compare_partials(v, p, q, NULL);
		if (agg_merge(sink, q, &cause) == -1)
			free(cause);
		agg_partial_free(q);
		pb_free(&out);
		agg_partial_free(p);
	}
	ck_assert_uint_gt(ok, 0);
	free(buf);
	free(off);
	pb_free(&b);
	agg_partial_free(sink);
	agg_partial_free(base);
	agg_view_free(v);
}
END_TEST

static Suite *
agg_suite(void)
{
	Suite	*s = suite_create("agg");
	TCase	*tc;

	tc = tcase_create("oracle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_oracle);
	tcase_add_test(tc, test_sorted_buckets);
	tcase_add_test(tc, test_merge_equals_fold);
	tcase_add_test(tc, test_merge_small_exact);
	tcase_add_test(tc, test_float_sum_forms);
	suite_add_tcase(s, tc);

	tc = tcase_create("fold");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_filters);
	tcase_add_test(tc, test_bucket_edges);
	tcase_add_test(tc, test_decode);
	tcase_add_test(tc, test_signed_zero);
	tcase_add_test(tc, test_key_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("serial");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_hostile_states);
	tcase_add_test(tc, test_merge_overflow);
	tcase_add_test(tc, test_fuzz_rows);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(agg_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? 1 : 0);
}
