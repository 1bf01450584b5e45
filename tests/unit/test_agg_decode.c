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
 * agg_decode against every msgpack encoding a stored field value can come
 * in (the fast paths in agg.c and the general reader must agree), and
 * against every cut of every map.
 */

#include <check.h>
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
#include "hll.h"
#include "testlib.h"
#include "topk.h"
#include "xmalloc.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * An assertion for hot loops: Check's own record every passing assertion
 * (a write each), which would dominate the run time here.
 */
#define REQUIRE(c, ...)	do {					\
	if (!(c))						\
		ck_abort_msg(__VA_ARGS__);			\
} while (0)

/* A stream with a field of every type (and a view, which a conf needs). */
#define STREAM								\
	"streams:\n"							\
	"  pv:\n"							\
	"    fields:\n"							\
	"      url: string\n"						\
	"      user: {type: string, required: false}\n"			\
	"      status: {type: int, required: false}\n"			\
	"      bytes: int\n"						\
	"      lat: {type: float, required: false}\n"			\
	"      bot: {type: bool, required: false}\n"			\
	"views:\n"							\
	"  main: {stream: pv, bucket: 1h, metrics: {n: count}}\n"

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

/* The view name of the loaded configuration. */
static struct agg_view *
view_named(const char *name)
{
	return (testlib_view(conf, name));
}

/*
 * agg_decode reads the common encodings itself and hands the rest to the
 * general reader (msg.c).  Every msgpack encoding that can carry a value
 * must decode to the same agg_value: ints in every width, signed and
 * unsigned, at the boundaries of each; floats as float 32, float 64 and
 * ints, -0.0 as +0.0, non-finite ones absent; strings as fixstr and str 8,
 * 16 and 32 at the 31/32 boundary and empty; booleans; values of another
 * type absent; keys in all four string forms and the map in all three
 * forms.  raw and rawlen are the value's bytes, but for a float field's
 * value in another form than float 64, or a zero: then the float 64 of
 * its value (+0.0 for -0.0).  A uint 64 above INT64_MAX
 * in an int field refuses the event ("integer out of range"), as the
 * general reader always did.  Every proper prefix of every map is refused
 * as malformed, and never read past (each map is in a heap block of its
 * exact size, so ASan and valgrind see any over-read).
 */
#define DV_MAX		320

struct dval {
	enum conf_ftype	 t;
	uint8_t		 b[DV_MAX];	/* the value's msgpack bytes */
	size_t		 len;
	int		 want;		/* 1 present, 0 absent, -1 refused */
	int64_t		 i;		/* int, bool */
	double		 f;
	size_t		 soff, slen;	/* a string's bytes: b + soff */
	char		 what[64];
};

static struct dval	*dvs;
static size_t		 ndvs;

static struct dval *
dv_new(enum conf_ftype t, int want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static struct dval *
dv_new(enum conf_ftype t, int want, const char *fmt, ...)
{
	struct dval	*d;
	va_list		 ap;

	dvs = xreallocarray(dvs, ndvs + 1, sizeof(*dvs));
	d = &dvs[ndvs++];
	memset(d, 0, sizeof(*d));
	d->t = t;
	d->want = want;
	va_start(ap, fmt);
	vsnprintf(d->what, sizeof(d->what), fmt, ap);
	va_end(ap);
	return (d);
}

/* Append the n low bytes of v, big-endian. */
static void
dv_put(struct dval *d, uint64_t v, int n)
{
	ck_assert_uint_le(d->len + n, DV_MAX);
	while (n-- > 0)
		d->b[d->len++] = (uint8_t)(v >> (8 * n));
}

enum { IF_POSFIX, IF_NEGFIX, IF_U8, IF_U16, IF_U32, IF_U64, IF_I8, IF_I16,
	IF_I32, IF_I64, IF_COUNT };
static const char *const if_names[IF_COUNT] = { "positive fixint",
	"negative fixint", "uint 8", "uint 16", "uint 32", "uint 64", "int 8",
	"int 16", "int 32", "int 64" };

/* Can integer form f carry v? */
static int
if_fits(int f, int64_t v)
{
	switch (f) {
	case IF_POSFIX:	return (v >= 0 && v <= 127);
	case IF_NEGFIX:	return (v >= -32 && v <= -1);
	case IF_U8:	return (v >= 0 && v <= UINT8_MAX);
	case IF_U16:	return (v >= 0 && v <= UINT16_MAX);
	case IF_U32:	return (v >= 0 && v <= UINT32_MAX);
	case IF_U64:	return (v >= 0);
	case IF_I8:	return (v >= INT8_MIN && v <= INT8_MAX);
	case IF_I16:	return (v >= INT16_MIN && v <= INT16_MAX);
	case IF_I32:	return (v >= INT32_MIN && v <= INT32_MAX);
	default:	return (1);
	}
}

static void
if_put(struct dval *d, int f, uint64_t v)
{
	static const uint8_t	tag[IF_COUNT] = { 0, 0, 0xcc, 0xcd, 0xce,
				    0xcf, 0xd0, 0xd1, 0xd2, 0xd3 };
	static const int	width[IF_COUNT] = { 0, 0, 1, 2, 4, 8, 1, 2, 4,
				    8 };

	if (f == IF_POSFIX || f == IF_NEGFIX) {
		dv_put(d, v, 1);
		return;
	}
	dv_put(d, tag[f], 1);
	dv_put(d, v, width[f]);
}

/* v in every integer form that carries it, for an int and a float field. */
static void
dv_int(int64_t v)
{
	struct dval	*d;
	int		 f;

	for (f = 0; f < IF_COUNT; f++) {
		if (!if_fits(f, v))
			continue;
		d = dv_new(CONF_FT_INT, 1, "int %" PRId64 " as %s", v,
		    if_names[f]);
		if_put(d, f, (uint64_t)v);
		d->i = v;
		d->f = (double)v;
		d = dv_new(CONF_FT_FLOAT, 1, "float field: %" PRId64 " as %s",
		    v, if_names[f]);
		if_put(d, f, (uint64_t)v);
		d->f = (double)v;
	}
}

/* A uint 64 above INT64_MAX: refused for an int field, a float's value. */
static void
dv_bigu(uint64_t u)
{
	struct dval	*d;

	d = dv_new(CONF_FT_INT, -1, "int %" PRIu64 " as uint 64", u);
	if_put(d, IF_U64, u);
	d = dv_new(CONF_FT_FLOAT, 1, "float field: %" PRIu64 " as uint 64",
	    u);
	if_put(d, IF_U64, u);
	d->f = (double)u;
}

/* want: the double expected, or NAN for absent. */
static void
dv_f32(uint32_t bits, double want)
{
	struct dval	*d;

	d = dv_new(CONF_FT_FLOAT, !isnan(want), "float 32 %#" PRIx32, bits);
	dv_put(d, 0xca, 1);
	dv_put(d, bits, 4);
	d->f = want;
	/* An int field has no float value: absent. */
	d = dv_new(CONF_FT_INT, 0, "int field: float 32 %#" PRIx32, bits);
	dv_put(d, 0xca, 1);
	dv_put(d, bits, 4);
}

static void
dv_f64(uint64_t bits, double want)
{
	struct dval	*d;

	d = dv_new(CONF_FT_FLOAT, !isnan(want), "float 64 %#" PRIx64, bits);
	dv_put(d, 0xcb, 1);
	dv_put(d, bits, 8);
	d->f = want;
	d = dv_new(CONF_FT_INT, 0, "int field: float 64 %#" PRIx64, bits);
	dv_put(d, 0xcb, 1);
	dv_put(d, bits, 8);
}

/* s[len] in every string form that carries it. */
static void
dv_str(const char *s, size_t len)
{
	static const char *const names[] = { "fixstr", "str 8", "str 16",
				    "str 32" };
	static const size_t	 max[] = { 31, UINT8_MAX, UINT16_MAX,
				    UINT32_MAX };
	struct dval		*d;
	int			 f;

	for (f = 0; f < 4; f++) {
		if (len > max[f])
			continue;
		d = dv_new(CONF_FT_STRING, 1, "string of %zu as %s", len,
		    names[f]);
		if (f == 0)
			dv_put(d, 0xa0 | len, 1);
		else {
			dv_put(d, 0xd8 + f, 1);
			dv_put(d, len, 1 << (f - 1));
		}
		d->soff = d->len;
		d->slen = len;
		ck_assert_uint_le(d->len + len, DV_MAX);
		memcpy(d->b + d->len, s, len);
		d->len += len;
	}
}

static void
dv_bool(int b)
{
	struct dval	*d;

	d = dv_new(CONF_FT_BOOL, 1, "bool %d", b);
	dv_put(d, b ? 0xc3 : 0xc2, 1);
	d->i = b;
	d->f = b;
}

/* A value of another type for a field of type t: absent. */
static void
dv_other(enum conf_ftype t, const char *hex)
{
	struct dval	*d;

	d = dv_new(t, 0, "%s field: %s", conf_ftype_name(t), hex);
	d->len = testlib_unhex(hex, d->b);
}

static void
dv_build(void)
{
	static const int64_t	 ints[] = { 0, 1, 31, 32, 126, 127, 128, 255,
				    256, 32767, 32768, 65535, 65536,
				    2147483647, 2147483648LL, 4294967295LL,
				    4294967296LL, (1LL << 53) + 1, INT64_MAX,
				    -1, -31, -32, -33, -127, -128, -129,
				    -32767, -32768, -32769, INT32_MIN,
				    (int64_t)INT32_MIN - 1, INT64_MIN + 1,
				    INT64_MIN };
	char			 s[300];
	size_t			 i;

	free(dvs);
	dvs = NULL;
	ndvs = 0;
	for (i = 0; i < nitems(ints); i++)
		dv_int(ints[i]);
	dv_bigu((uint64_t)INT64_MAX + 1);
	dv_bigu(UINT64_MAX);

	dv_f32(0x3fc00000, 1.5);
	dv_f32(0xc0100000, -2.25);
	dv_f32(0x00000000, 0.0);
	dv_f32(0x80000000, 0.0);		/* -0.0: +0.0 */
	dv_f32(0x7f7fffff, (double)FLT_MAX);
	dv_f32(0x00000001, (double)0x1p-149f);	/* the least subnormal */
	dv_f32(0x3dcccccd, (double)0.1f);
	dv_f32(0x7fc00000, NAN);		/* NaN, inf: absent */
	dv_f32(0xffc00001, NAN);
	dv_f32(0x7f800000, NAN);
	dv_f32(0xff800000, NAN);
	dv_f64(0x3ff8000000000000ULL, 1.5);
	dv_f64(0xbfb999999999999aULL, -0.1);
	dv_f64(0x0000000000000000ULL, 0.0);
	dv_f64(0x8000000000000000ULL, 0.0);	/* -0.0: +0.0 */
	dv_f64(0x7fefffffffffffffULL, DBL_MAX);
	dv_f64(0x0000000000000001ULL, 0x1p-1074);
	dv_f64(0x43e0000000000000ULL, 9223372036854775808.0);
	dv_f64(0x7ff8000000000000ULL, NAN);
	dv_f64(0xfff0000000000001ULL, NAN);
	dv_f64(0x7ff0000000000000ULL, NAN);
	dv_f64(0xfff0000000000000ULL, NAN);

	for (i = 0; i < sizeof(s); i++)
		s[i] = (char)('a' + i % 26);
	dv_str("", 0);
	dv_str("x", 1);
	dv_str("a\0b", 3);			/* NUL inside */
	dv_str("caf\xc3\xa9", 5);
	dv_str(s, 30);
	dv_str(s, 31);
	dv_str(s, 32);
	dv_str(s, 33);
	dv_str(s, 255);
	dv_str(s, 256);
	dv_str(s, 300);

	dv_bool(0);
	dv_bool(1);

	/* Another type, however encoded: absent, and skipped whole. */
	dv_other(CONF_FT_INT, "c0");
	dv_other(CONF_FT_INT, "c3");
	dv_other(CONF_FT_INT, "a1 31");
	dv_other(CONF_FT_INT, "d9 01 31");
	dv_other(CONF_FT_INT, "92 01 02");
	dv_other(CONF_FT_INT, "dc 0001 cd 0102");
	dv_other(CONF_FT_INT, "81 a1 61 01");
	dv_other(CONF_FT_INT, "c4 02 0102");
	dv_other(CONF_FT_INT, "d4 01 00");
	dv_other(CONF_FT_FLOAT, "c0");
	dv_other(CONF_FT_FLOAT, "c2");
	dv_other(CONF_FT_FLOAT, "a3 312e35");
	dv_other(CONF_FT_FLOAT, "90");
	dv_other(CONF_FT_FLOAT, "d7 01 3ff8000000000000");
	dv_other(CONF_FT_STRING, "c0");
	dv_other(CONF_FT_STRING, "05");
	dv_other(CONF_FT_STRING, "cb 3ff8000000000000");
	dv_other(CONF_FT_STRING, "c4 02 6869");
	dv_other(CONF_FT_STRING, "c5 0002 6869");
	dv_other(CONF_FT_STRING, "91 a1 61");
	dv_other(CONF_FT_STRING, "de 0001 a1 61 a1 62");
	dv_other(CONF_FT_STRING, "c3");
	dv_other(CONF_FT_BOOL, "c0");
	dv_other(CONF_FT_BOOL, "01");
	dv_other(CONF_FT_BOOL, "00");
	dv_other(CONF_FT_BOOL, "a4 74727565");
	dv_other(CONF_FT_BOOL, "cb 3ff0000000000000");
}

/* The field of type t a test value goes into; n varies it. */
static const char *
dv_field(enum conf_ftype t, size_t n)
{
	switch (t) {
	case CONF_FT_STRING:	return (n % 2 ? "url" : "user");
	case CONF_FT_INT:	return (n % 2 ? "status" : "bytes");
	case CONF_FT_FLOAT:	return ("lat");
	default:		return ("bot");
	}
}

static size_t
field_index(const struct conf_stream *st, const char *name)
{
	size_t	i;

	for (i = 0; i < st->nfields; i++)
		if (strcmp(st->fields[i].name, name) == 0)
			return (i);
	ck_abort_msg("no field %s", name);
	return (0);
}

/* Append key k in string form kf (fixstr, str 8, 16, 32). */
static size_t
put_key(uint8_t *out, const char *k, int kf)
{
	size_t	len = strlen(k), n = 0;

	if (kf == 0)
		out[n++] = (uint8_t)(0xa0 | len);
	else {
		out[n++] = (uint8_t)(0xd8 + kf);
		memset(out + n, 0, (1 << (kf - 1)) - 1);
		n += (1 << (kf - 1)) - 1;
		out[n++] = (uint8_t)len;
	}
	memcpy(out + n, k, len);
	return (n + len);
}

/*
 * A map of every field of st: the test value tv in field tf, first or
 * last, the base values bv in the others, in map form mf and key form kf.
 * The offset of each field's value goes to voff.
 */
static size_t
dv_map(uint8_t *out, const struct conf_stream *st, int mf, int kf,
    int first, size_t tf, const struct dval *tv, const struct dval **bv,
    size_t *voff)
{
	size_t	n = 0, k, j, nf = st->nfields;

	if (mf == 0)
		out[n++] = (uint8_t)(0x80 | nf);
	else if (mf == 1) {
		out[n++] = 0xde;
		out[n++] = 0;
		out[n++] = (uint8_t)nf;
	} else {
		out[n++] = 0xdf;
		memset(out + n, 0, 3);
		n += 3;
		out[n++] = (uint8_t)nf;
	}
	for (k = 0; k < nf; k++) {
		/* first: tf, then the others; else the others, then tf. */
		if (first)
			j = k == 0 ? tf : k - 1 + (k - 1 >= tf);
		else
			j = k == nf - 1 ? tf : k + (k >= tf);
		n += put_key(out + n, st->fields[j].name, kf);
		voff[j] = n;
		if (j == tf) {
			memcpy(out + n, tv->b, tv->len);
			n += tv->len;
		} else {
			memcpy(out + n, bv[j]->b, bv[j]->len);
			n += bv[j]->len;
		}
	}
	return (n);
}

/* The float 64 msgpack of f (+0.0 for -0.0). */
static void
float64_raw(double f, uint8_t *out)
{
	uint64_t	u;
	int		i;

	if (f == 0)
		f = 0.0;
	memcpy(&u, &f, sizeof(u));
	out[0] = 0xcb;
	for (i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)(u >> (56 - 8 * i));
}

START_TEST(test_decode_encodings)
{
	static const char *const mnames[] = { "fixmap", "map 16", "map 32" };
	static const char *const knames[] = { "fixstr", "str 8", "str 16",
					   "str 32" };
	struct agg_view			*v;
	const struct conf_stream	*st;
	const struct dval		*bv[16], *e, *tv;
	struct dval			 base[6];
	struct agg_value		 vals[16], *g;
	uint8_t				 map[1024], *buf, fraw[9];
	size_t				 voff[16], len, plen, n, j, tf;
	size_t				 nmaps = 0;
	char				*cause;
	int				 kf, mf, first, rc;

	conf = testlib_conf(tmpdir, STREAM);
	v = view_named("main");
	st = agg_view_stream(v);
	ck_assert_uint_eq(st->nfields, 6);

	/* The other fields' values, in plain encodings. */
	memset(base, 0, sizeof(base));
	for (j = 0; j < st->nfields; j++) {
		base[j].t = st->fields[j].type;
		base[j].want = 1;
		switch (base[j].t) {
		case CONF_FT_STRING:
			base[j].len = testlib_unhex("a3 2f6162", base[j].b);
			base[j].soff = 1;
			base[j].slen = 3;
			break;
		case CONF_FT_INT:
			base[j].len = testlib_unhex("cd 04d2", base[j].b);
			base[j].i = 1234;
			base[j].f = 1234;
			break;
		case CONF_FT_FLOAT:
			base[j].len = testlib_unhex("cb 3fe0000000000000", base[j].b);
			base[j].f = 0.5;
			break;
		case CONF_FT_BOOL:
			base[j].len = testlib_unhex("c3", base[j].b);
			base[j].i = 1;
			base[j].f = 1;
			break;
		}
		bv[j] = &base[j];
	}

	dv_build();
	for (n = 0; n < ndvs; n++) {
		tv = &dvs[n];
		tf = field_index(st, dv_field(tv->t, n));
		ck_assert_int_eq(st->fields[tf].type, tv->t);
		for (kf = 0; kf < 4; kf++) {
			mf = (int)((n + kf) % 3);
			first = (int)((n / 3 + kf) % 2);
			len = dv_map(map, st, mf, kf, first, tf, tv, bv, voff);
			ck_assert_uint_le(len, sizeof(map));
			nmaps++;

			/* The whole map, in a block of its exact size. */
			buf = xmalloc(len);
			memcpy(buf, map, len);
			memset(vals, 0xa5, sizeof(vals));
			cause = NULL;
			rc = agg_decode(st, vals, buf, len, &cause);
			if (tv->want == -1) {
				REQUIRE(rc == -1 && cause != NULL && strcmp(
				    cause, "malformed fields map: integer out "
				    "of range") == 0, "%s (%s keys, %s): %s",
				    tv->what, knames[kf], mnames[mf],
				    rc == 0 ? "accepted" : cause);
				free(cause);
			} else {
				REQUIRE(rc == 0, "%s (%s keys, %s): %s",
				    tv->what, knames[kf], mnames[mf], cause);
			}
			for (j = 0; rc == 0 && j < st->nfields; j++) {
				e = j == tf ? tv : bv[j];
				g = &vals[j];
				REQUIRE(g->present == (e->want == 1),
				    "%s (%s keys, %s): field %s present %d",
				    tv->what, knames[kf], mnames[mf],
				    st->fields[j].name, g->present);
				if (e->t == CONF_FT_FLOAT && g->present &&
				    (buf[voff[j]] != 0xcb || e->f == 0)) {
					/* Another form, or a zero: float 64. */
					float64_raw(e->f, fraw);
					REQUIRE(g->rawlen == sizeof(fraw) &&
					    memcmp(g->raw, fraw, sizeof(fraw)) ==
					    0, "%s (%s keys, %s): field %s raw "
					    "not the float 64 of %a", tv->what,
					    knames[kf], mnames[mf],
					    st->fields[j].name, e->f);
				} else
					REQUIRE(g->raw == buf + voff[j] &&
					    g->rawlen == e->len, "%s (%s keys, "
					    "%s): field %s raw at %td, %zu "
					    "bytes, want %zu, %zu", tv->what,
					    knames[kf], mnames[mf],
					    st->fields[j].name, g->raw - buf,
					    g->rawlen, voff[j], e->len);
				if (!g->present)
					continue;
				switch (e->t) {
				case CONF_FT_STRING:
					REQUIRE((const uint8_t *)g->s == buf +
					    voff[j] + e->soff && g->slen ==
					    e->slen, "%s (%s keys, %s): field "
					    "%s string", tv->what, knames[kf],
					    mnames[mf], st->fields[j].name);
					break;
				case CONF_FT_INT:
				case CONF_FT_BOOL:
					REQUIRE(g->i == e->i, "%s (%s keys, "
					    "%s): field %s: i %" PRId64,
					    tv->what, knames[kf], mnames[mf],
					    st->fields[j].name, g->i);
					/* FALLTHROUGH */
				case CONF_FT_FLOAT:
					/* To the bit: -0.0 is not 0.0 here. */
					REQUIRE(memcmp(&g->f, &e->f,
					    sizeof(g->f)) == 0, "%s (%s keys, "
					    "%s): field %s: f %a, want %a",
					    tv->what, knames[kf], mnames[mf],
					    st->fields[j].name, g->f, e->f);
					break;
				}
			}
			free(buf);

			/* Every proper prefix: refused, never read past. */
			for (plen = 0; plen < len; plen++) {
				ck_assert_ptr_nonnull(buf = malloc(plen));
				memcpy(buf, map, plen);
				cause = NULL;
				rc = agg_decode(st, vals, buf, plen, &cause);
				REQUIRE(rc == -1 && cause != NULL &&
				    strncmp(cause, "malformed fields map", 20)
				    == 0, "%s (%s keys, %s) cut at %zu of "
				    "%zu: %s", tv->what, knames[kf],
				    mnames[mf], plen, len, rc == 0 ?
				    "accepted" : cause);
				free(cause);
				free(buf);
			}
		}
	}
	ck_assert_uint_gt(nmaps, 1000);
	free(dvs);
	dvs = NULL;
	ndvs = 0;
	agg_view_free(v);
}
END_TEST

/*
 * A float field's value is one number whatever its form: -0.0 and 0.0,
 * float 32, ints (a float field takes them) count once in distinct and
 * as one item of top, whose bytes are the float 64.
 */
START_TEST(test_float_forms)
{
	static const struct {
		const char	*raw;		/* x's msgpack */
		size_t		 len;
	} xs[] = {
		{ "\xcb\x80\0\0\0\0\0\0\0", 9 },	/* -0.0 */
		{ "\xcb\0\0\0\0\0\0\0\0", 9 },		/* 0.0 */
		{ "\x00", 1 },				/* 0 */
		{ "\xca\x80\0\0\0", 5 },			/* -0.0f */
		{ "\xca\x3f\xc0\0\0", 5 },		/* 1.5f */
		{ "\xcb\x3f\xf8\0\0\0\0\0\0", 9 },	/* 1.5 */
		{ "\xd3\0\0\0\0\0\0\0\x02", 9 },	/* 2, int 64 */
		{ "\xcb\x40\0\0\0\0\0\0\0", 9 },	/* 2.0 */
	};
	static const struct {
		const char	*raw;
		uint64_t	 count;
	} want[] = {
		{ "\xcb\0\0\0\0\0\0\0\0", 4 },
		{ "\xcb\x3f\xf8\0\0\0\0\0\0", 2 },
		{ "\xcb\x40\0\0\0\0\0\0\0", 2 },
	};
	struct agg_view		*v;
	struct agg_partial	*p;
	struct agg_row		*row;
	struct topk_item	 it[8];
	uint8_t			 ev[16] = { 0x81, 0xa1, 'x' };
	char			*cause = NULL;
	size_t			 n, i, j;

	conf = testlib_conf(tmpdir, "streams:\n  s:\n    fields:\n"
	    "      x: float\nviews:\n  v:\n    stream: s\n    bucket: 1d\n"
	    "    metrics:\n      d: {distinct: x}\n      t: {top: x, k: 8}\n");
	v = view_named("v");
	p = agg_partial_new(v);
	for (i = 0; i < nitems(xs); i++) {
		memcpy(ev + 3, xs[i].raw, xs[i].len);
		/* One event a second, all in the day of bucket 0. */
		ck_assert_msg(agg_fold(p, (int64_t)i * 1000000000, ev,
		    3 + xs[i].len, &cause) == 0, "fold %zu: %s", i, cause);
	}
	row = agg_find_row(p, 0, (const uint8_t *)"\x90", 1, 0);
	ck_assert_ptr_nonnull(row);
	ck_assert_uint_eq(hll_count(row->st[0].u.hll), nitems(want));
	n = topk_list(row->st[1].u.topk, it, nitems(it));
	ck_assert_uint_eq(n, nitems(want));
	for (i = 0; i < n; i++) {
		for (j = 0; j < nitems(want); j++)
			if (it[i].len == 9 && memcmp(it[i].item, want[j].raw,
			    9) == 0)
				break;
		ck_assert_msg(j < nitems(want), "item %zu: not a float 64 of "
		    "0, 1.5 or 2", i);
		ck_assert_uint_eq(it[i].count, want[j].count);
		ck_assert_uint_eq(it[i].error, 0);
	}
	agg_partial_free(p);
	agg_view_free(v);
}
END_TEST

static Suite *
agg_decode_suite(void)
{
	Suite	*s = suite_create("agg_decode");
	TCase	*tc;

	tc = tcase_create("encodings");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_decode_encodings);
	tcase_add_test(tc, test_float_forms);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(agg_decode_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? 1 : 0);
}
