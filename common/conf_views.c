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
 * The views: section of the configuration.  Each view belongs to a stream
 * and says how its events are grouped (a time bucket on event time and
 * dimensions), which are kept (filters) and what is computed (metrics):
 *
 *   views:
 *     pages_hourly:
 *       stream: pageviews
 *       bucket: 1h
 *       group_by: [url]
 *       where: {status: 200, latency_ms: {gte: 0, lt: 60000}}
 *       metrics:
 *         hits: count
 *         bytes: {sum: bytes}
 *         users: {distinct: user, precision: 14}
 *         latency: {quantile: latency_ms, accuracy: 0.01}
 *         referrers: {top: referrer, k: 10}
 *
 * Views are read after the walk (from conf_finish) since they refer to
 * streams, which may come later in the file.  Every problem is reported
 * with its position like the rest of the file.  Each view gets a canonical
 * text of everything that alters its results, field types included, and a
 * fingerprint of that text: batchd rebuilds a view whose fingerprint
 * changed.
 */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "conf_int.h"
#include "log.h"
#include "xmalloc.h"

/*
 * Part of every canonical text: bumped when the canonical form, or what
 * the engine computes from the same definition, changes, so that every
 * view is rebuilt.  2: top breaks ties on count by the items' hashes.
 */
#define CONF_VIEW_FORMAT	2

struct view_ctx {
	const char		*path;
	const struct node	*key;
	const struct node	*stream, *bucket, *group, *where, *metrics;
	const struct node	*stream_k, *bucket_k, *group_k, *where_k,
				*metrics_k;
	struct conf_view	*v;
	struct conf_stream	*st;
	int			 bad;
};

struct metric_ctx {
	struct view_ctx		*vc;
	const struct node	*kindk, *kindv;
	const struct node	*precision, *accuracy, *max_bins, *k;
	const struct node	*precision_k, *accuracy_k, *max_bins_k, *k_k;
	int			 nkinds;
};

struct filter_ctx {
	struct view_ctx		*vc;
	const struct conf_field	*f;
	int			 fidx;
	const char		*fpath;
};

static const char *const conf_mkind_names[] = {
	"count", "sum", "min", "max", "distinct", "quantile", "top", NULL
};
static const char *const conf_fop_names[] = {
	"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", NULL
};

const char *
conf_mkind_name(enum conf_mkind k)
{
	return (conf_mkind_names[k]);
}

struct conf_view *
conf_find_view(const struct conf *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->nviews; i++)
		if (strcmp(c->views[i].name, name) == 0)
			return (&c->views[i]);
	return (NULL);
}

static int
view_enum(const char *const *names, const char *s)
{
	int	i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return (i);
	return (-1);
}

/* A scalar that is set, or an error "missing value" / "expected ...". */
static int
view_scalar(struct loader *l, const char *path, const struct node *key,
    const struct node *val, const char *expect)
{
	if (val->kind == NODE_SCALAR && !val->null)
		return (0);
	conf_error(l, conf_at(key, val), path, NULL, "%s",
	    val->kind == NODE_SCALAR ? "missing value" : expect);
	return (-1);
}

/* The index of field name in st, or -1 after an error. */
static int
view_field(struct loader *l, struct view_ctx *vc, const char *path,
    const struct node *at, const char *name)
{
	size_t	i;

	for (i = 0; i < vc->st->nfields; i++)
		if (strcmp(vc->st->fields[i].name, name) == 0)
			return ((int)i);
	conf_error(l, at, path, name, "no field %s in stream %s", name,
	    vc->st->name);
	return (-1);
}

static int
view_numeric(enum conf_ftype t)
{
	return (t == CONF_FT_INT || t == CONF_FT_FLOAT);
}

/* One key of a view. */
static void
view_key(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	struct view_ctx	*vc = arg;

	if (strcmp(key->s, "stream") == 0) {
		vc->stream_k = key;
		vc->stream = val;
	} else if (strcmp(key->s, "bucket") == 0) {
		vc->bucket_k = key;
		vc->bucket = val;
	} else if (strcmp(key->s, "group_by") == 0) {
		vc->group_k = key;
		vc->group = val;
	} else if (strcmp(key->s, "where") == 0) {
		vc->where_k = key;
		vc->where = val;
	} else if (strcmp(key->s, "metrics") == 0) {
		vc->metrics_k = key;
		vc->metrics = val;
	} else {
		conf_error(l, key, path, NULL, "unknown key");
		vc->bad++;
	}
}

/* bucket: a duration of whole seconds. */
static void
view_bucket(struct loader *l, struct view_ctx *vc)
{
	const struct node	*val = vc->bucket;
	char			*path;
	uint64_t		 ms;

	xasprintf(&path, "%s.bucket", vc->path);
	if (view_scalar(l, path, vc->bucket_k, val,
	    "expected a duration such as 1h") == -1)
		vc->bad++;
	else if (conf_parse_duration(val->s, &ms) == -1) {
		conf_error(l, val, path, val->s,
		    "expected a duration such as 1h");
		vc->bad++;
	} else if (ms == 0 || ms % 1000 != 0) {
		conf_error(l, val, path, val->s,
		    "must be a whole number of seconds");
		vc->bad++;
	} else if (ms > (uint64_t)366 * 86400 * 1000) {
		conf_error(l, val, path, val->s, "must be at most 366d");
		vc->bad++;
	} else
		vc->v->bucket_ms = ms;
	free(path);
}

/* group_by: a field name or a list of them. */
static void
view_group(struct loader *l, struct view_ctx *vc)
{
	const struct node	*val = vc->group, *one;
	struct conf_view	*v = vc->v;
	char			*path;
	size_t			 i, j, n;
	int			 idx;

	xasprintf(&path, "%s.group_by", vc->path);
	if (val->kind == NODE_SCALAR && val->null) {
		free(path);
		return;
	}
	if (val->kind == NODE_MAP) {
		conf_error(l, val, path, NULL,
		    "expected a field name or a list of them");
		vc->bad++;
		free(path);
		return;
	}
	n = val->kind == NODE_SEQ ? val->nkids : 1;
	if (n > CONF_GROUP_MAX) {
		conf_error(l, val, path, NULL, "at most %d dimensions",
		    CONF_GROUP_MAX);
		vc->bad++;
		free(path);
		return;
	}
	if (n > 0) {
		v->group_by = xcalloc(n, sizeof(*v->group_by));
		v->group_idx = xcalloc(n, sizeof(*v->group_idx));
	}
	for (i = 0; i < n; i++) {
		one = val->kind == NODE_SEQ ? &val->kids[i] : val;
		if (view_scalar(l, path, one, one, "expected a field name") ==
		    -1 || (idx = view_field(l, vc, path, one, one->s)) == -1) {
			vc->bad++;
			continue;
		}
		if (vc->st->fields[idx].type == CONF_FT_FLOAT) {
			conf_error(l, one, path, one->s,
			    "cannot group by a float field");
			vc->bad++;
			continue;
		}
		for (j = 0; j < v->ngroup; j++)
			if (v->group_idx[j] == idx)
				break;
		if (j < v->ngroup) {
			conf_error(l, one, path, one->s, "given twice");
			vc->bad++;
			continue;
		}
		/* Their columns (d_NAME) would clash: SQLite ignores case. */
		for (j = 0; j < v->ngroup; j++)
			if (strcasecmp(v->group_by[j], one->s) == 0)
				break;
		if (j < v->ngroup) {
			conf_error(l, one, path, one->s, "dimension %s differs "
			    "from dimension %s only in case", one->s,
			    v->group_by[j]);
			vc->bad++;
			continue;
		}
		v->group_by[v->ngroup] = xstrdup(one->s);
		v->group_idx[v->ngroup++] = idx;
	}
	free(path);
}

/*
 * Read one constant of a filter on field f: the value at, whose key is key
 * (an empty value is reported at its key, and never read as the key).
 */
static int
view_value(struct loader *l, const char *path, const struct node *key,
    const struct node *at, const struct conf_field *f, struct conf_value *cv)
{
	char		*end;
	uint64_t	 b;
	int		 rc;

	memset(cv, 0, sizeof(*cv));
	if (at->kind != NODE_SCALAR || at->null) {
		conf_error(l, conf_at(key, at), path, NULL,
		    "expected %s %s value",
		    f->type == CONF_FT_INT ? "an" : "a",
		    conf_ftype_name(f->type));
		return (-1);
	}
	switch (f->type) {
	case CONF_FT_STRING:
		cv->s = xstrdup(at->s);
		cv->len = at->len;
		return (0);
	case CONF_FT_INT:
		if ((rc = conf_parse_int(at->s, &cv->i)) != 0) {
			conf_error(l, at, path, at->s, rc == 1 ?
			    "out of range" : "expected an integer");
			return (-1);
		}
		cv->f = (double)cv->i;
		return (0);
	case CONF_FT_FLOAT:
		errno = 0;
		cv->f = strtod(at->s, &end);
		if (at->s[0] == '\0' || *end != '\0' || errno != 0 ||
		    !isfinite(cv->f)) {
			conf_error(l, at, path, at->s, "expected a number");
			return (-1);
		}
		return (0);
	case CONF_FT_BOOL:
		if (conf_parse_bool(at->s, &b) == -1) {
			conf_error(l, at, path, at->s,
			    "expected true or false");
			return (-1);
		}
		cv->i = (int64_t)b;
		return (0);
	}
	return (-1);
}

/* Add one filter to the view. */
static void
view_add_filter(struct view_ctx *vc, struct conf_filter *flt)
{
	struct conf_view	*v = vc->v;

	v->filters = xreallocarray(v->filters, v->nfilters + 1,
	    sizeof(*v->filters));
	v->filters[v->nfilters++] = *flt;
}

/* One operator of a filter: gt: 10, in: [a, b], ... */
static void
view_filter_op(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	struct filter_ctx	*fc = arg;
	struct conf_filter	 flt;
	const struct node	*one;
	size_t			 i, n;
	int			 op;

	if ((op = view_enum(conf_fop_names, key->s)) == -1) {
		conf_error(l, key, path, NULL, "unknown operator: expected "
		    "eq, ne, in, not_in, gt, gte, lt or lte");
		fc->vc->bad++;
		return;
	}
	if (op >= CONF_OP_GT && !view_numeric(fc->f->type)) {
		conf_error(l, key, path, NULL, "%s needs an int or float "
		    "field, %s is %s", key->s, fc->f->name,
		    conf_ftype_name(fc->f->type));
		fc->vc->bad++;
		return;
	}
	if (fc->f->type == CONF_FT_BOOL && op != CONF_OP_EQ &&
	    op != CONF_OP_NE) {
		conf_error(l, key, path, NULL, "a bool field takes eq or ne");
		fc->vc->bad++;
		return;
	}
	memset(&flt, 0, sizeof(flt));
	flt.field = xstrdup(fc->f->name);
	flt.field_idx = fc->fidx;
	flt.type = fc->f->type;
	flt.op = op;
	if (op == CONF_OP_IN || op == CONF_OP_NOT_IN) {
		if (val->kind != NODE_SEQ || val->nkids == 0) {
			conf_error(l, conf_at(key, val), path, NULL,
			    "expected a non-empty list of values");
			goto bad;
		}
		if (val->nkids > CONF_SET_MAX) {
			conf_error(l, val, path, NULL, "at most %d values",
			    CONF_SET_MAX);
			goto bad;
		}
		n = val->nkids;
		flt.vals = xcalloc(n, sizeof(*flt.vals));
		for (i = 0; i < n; i++) {
			one = &val->kids[i];
			if (view_value(l, path, one, one, fc->f,
			    &flt.vals[i]) == -1)
				goto bad;
			flt.nvals++;
		}
	} else {
		flt.vals = xcalloc(1, sizeof(*flt.vals));
		if (view_value(l, path, key, val, fc->f, &flt.vals[0]) == -1)
			goto bad;
		flt.nvals = 1;
	}
	view_add_filter(fc->vc, &flt);
	return;
bad:
	for (i = 0; i < flt.nvals; i++)
		free(flt.vals[i].s);
	free(flt.vals);
	free(flt.field);
	fc->vc->bad++;
}

/* One field of where: a value (equality) or a mapping of operators. */
static void
view_filter(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	struct view_ctx		*vc = arg;
	struct filter_ctx	 fc;
	struct conf_filter	 flt;
	int			 idx;

	if ((idx = view_field(l, vc, path, key, key->s)) == -1) {
		vc->bad++;
		return;
	}
	if (vc->v->nfilters >= CONF_FILTERS_MAX) {
		conf_error(l, key, path, NULL, "at most %d filters",
		    CONF_FILTERS_MAX);
		vc->bad++;
		return;
	}
	memset(&fc, 0, sizeof(fc));
	fc.vc = vc;
	fc.f = &vc->st->fields[idx];
	fc.fidx = idx;
	fc.fpath = path;
	if (val->kind == NODE_MAP) {
		conf_walk(l, path, key, val, view_filter_op, &fc);
		return;
	}
	if (val->kind == NODE_SEQ) {
		conf_error(l, val, path, NULL, "expected a value or a mapping "
		    "such as {in: [a, b]}");
		vc->bad++;
		return;
	}
	memset(&flt, 0, sizeof(flt));
	flt.vals = xcalloc(1, sizeof(*flt.vals));
	if (view_value(l, path, key, val, fc.f, &flt.vals[0]) == -1) {
		free(flt.vals);
		vc->bad++;
		return;
	}
	flt.field = xstrdup(fc.f->name);
	flt.field_idx = idx;
	flt.type = fc.f->type;
	flt.op = CONF_OP_EQ;
	flt.nvals = 1;
	view_add_filter(vc, &flt);
}

/* One key of a metric's mapping: the kind, or a parameter. */
static void
view_metric_key(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	struct metric_ctx	*mc = arg;

	if (view_enum(conf_mkind_names, key->s) > 0) {
		mc->nkinds++;
		mc->kindk = key;
		mc->kindv = val;
	} else if (strcmp(key->s, "precision") == 0) {
		mc->precision_k = key;
		mc->precision = val;
	} else if (strcmp(key->s, "accuracy") == 0) {
		mc->accuracy_k = key;
		mc->accuracy = val;
	} else if (strcmp(key->s, "max_bins") == 0) {
		mc->max_bins_k = key;
		mc->max_bins = val;
	} else if (strcmp(key->s, "k") == 0) {
		mc->k_k = key;
		mc->k = val;
	} else {
		conf_error(l, key, path, NULL, "unknown key: expected one of "
		    "sum, min, max, distinct, quantile, top and its "
		    "parameters");
		mc->vc->bad++;
	}
}

/* An integer parameter within [lo, hi]; -1 after an error. */
static int
view_int_param(struct loader *l, const char *mpath, const char *name,
    const struct node *key, const struct node *val, int64_t lo, int64_t hi,
    int *out)
{
	char	*path;
	int64_t	 v;
	int	 rc = -1;

	xasprintf(&path, "%s.%s", mpath, name);
	if (view_scalar(l, path, key, val, "expected an integer") == 0) {
		if (conf_parse_int(val->s, &v) != 0)
			conf_error(l, val, path, val->s, "expected an integer");
		else if (v < lo || v > hi)
			conf_error(l, val, path, val->s, "must be between %"
			    PRId64 " and %" PRId64, lo, hi);
		else {
			*out = (int)v;
			rc = 0;
		}
	}
	free(path);
	return (rc);
}

/* A parameter given to a kind that has no such parameter. */
static int
view_no_param(struct loader *l, const char *mpath, const char *name,
    const struct node *key, const char *kind)
{
	char	*path;

	if (key == NULL)
		return (0);
	xasprintf(&path, "%s.%s", mpath, name);
	conf_error(l, key, path, NULL, "not a parameter of %s", kind);
	free(path);
	return (-1);
}

/* One metric: "name: count" or "name: {KIND: FIELD, params...}". */
static void
view_metric(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	struct view_ctx		*vc = arg;
	struct conf_view	*v = vc->v;
	struct conf_metric	 m;
	struct metric_ctx	 mc;
	const struct conf_field	*f;
	char			*fpath, *end;
	size_t			 i;
	int			 kind, bad = 0;

	if (!conf_valid_name(key->s, key->len)) {
		conf_error(l, key, path, key->s, "bad metric name: %s",
		    conf_name_rule);
		vc->bad++;
		return;
	}
	if (v->nmetrics >= CONF_METRICS_MAX) {
		conf_error(l, key, path, NULL, "at most %d metrics",
		    CONF_METRICS_MAX);
		vc->bad++;
		return;
	}
	/* Their columns (m_NAME) would clash: SQLite ignores case there. */
	for (i = 0; i < v->nmetrics; i++)
		if (strcasecmp(v->metrics[i].name, key->s) == 0) {
			conf_error(l, key, path, key->s, "metric %s differs "
			    "from metric %s only in case", key->s,
			    v->metrics[i].name);
			vc->bad++;
			return;
		}
	memset(&m, 0, sizeof(m));
	m.field_idx = -1;
	m.precision = 14;
	m.accuracy = 0.01;
	m.max_bins = 4096;
	m.k = 10;
	if (val->kind == NODE_SCALAR && !val->null) {
		if (strcmp(val->s, "count") != 0) {
			conf_error(l, val, path, val->s, "expected count, or "
			    "a mapping such as {sum: FIELD}");
			vc->bad++;
			return;
		}
		m.kind = CONF_M_COUNT;
		goto add;
	}
	if (val->kind != NODE_MAP) {
		conf_error(l, conf_at(key, val), path, NULL, "expected count, "
		    "or a mapping such as {sum: FIELD}");
		vc->bad++;
		return;
	}
	memset(&mc, 0, sizeof(mc));
	mc.vc = vc;
	conf_walk(l, path, key, val, view_metric_key, &mc);
	if (mc.nkinds != 1) {
		conf_error(l, key, path, NULL, "expected exactly one of sum, "
		    "min, max, distinct, quantile, top");
		vc->bad++;
		return;
	}
	kind = view_enum(conf_mkind_names, mc.kindk->s);
	m.kind = kind;
	xasprintf(&fpath, "%s.%s", path, mc.kindk->s);
	if (view_scalar(l, fpath, mc.kindk, mc.kindv, "expected a field "
	    "name") == -1 || (m.field_idx = view_field(l, vc, fpath,
	    mc.kindv, mc.kindv->s)) == -1) {
		free(fpath);
		vc->bad++;
		return;
	}
	f = &vc->st->fields[m.field_idx];
	if ((kind == CONF_M_SUM || kind == CONF_M_MIN || kind == CONF_M_MAX ||
	    kind == CONF_M_QUANTILE) && !view_numeric(f->type)) {
		conf_error(l, mc.kindv, fpath, mc.kindv->s, "%s needs an int "
		    "or float field, %s is %s", mc.kindk->s, f->name,
		    conf_ftype_name(f->type));
		bad++;
	}
	free(fpath);
	if (kind == CONF_M_DISTINCT) {
		if (mc.precision != NULL && view_int_param(l, path,
		    "precision", mc.precision_k, mc.precision, 4, 18,
		    &m.precision) == -1)
			bad++;
	} else if (view_no_param(l, path, "precision", mc.precision_k,
	    mc.kindk->s) == -1)
		bad++;
	if (kind == CONF_M_QUANTILE) {
		if (mc.accuracy != NULL) {
			xasprintf(&fpath, "%s.accuracy", path);
			if (view_scalar(l, fpath, mc.accuracy_k, mc.accuracy,
			    "expected a number") == -1)
				bad++;
			else {
				errno = 0;
				m.accuracy = strtod(mc.accuracy->s, &end);
				if (*end != '\0' || errno != 0 ||
				    !(m.accuracy >= 0.0001 &&
				    m.accuracy <= 0.2)) {
					conf_error(l, mc.accuracy, fpath,
					    mc.accuracy->s, "must be a number "
					    "between 0.0001 and 0.2");
					bad++;
				}
			}
			free(fpath);
		}
		if (mc.max_bins != NULL && view_int_param(l, path,
		    "max_bins", mc.max_bins_k, mc.max_bins, 64, 65536,
		    &m.max_bins) == -1)
			bad++;
	} else if (view_no_param(l, path, "accuracy", mc.accuracy_k,
	    mc.kindk->s) == -1 || view_no_param(l, path, "max_bins",
	    mc.max_bins_k, mc.kindk->s) == -1)
		bad++;
	if (kind == CONF_M_TOP) {
		if (mc.k != NULL && view_int_param(l, path, "k", mc.k_k, mc.k,
		    1, 65536, &m.k) == -1)
			bad++;
	} else if (view_no_param(l, path, "k", mc.k_k, mc.kindk->s) == -1)
		bad++;
	if (bad) {
		vc->bad++;
		return;
	}
	m.field = xstrdup(f->name);
add:
	m.name = xstrdup(key->s);
	v->metrics = xreallocarray(v->metrics, v->nmetrics + 1,
	    sizeof(*v->metrics));
	v->metrics[v->nmetrics++] = m;
}

static void	view_cat(char **, size_t *, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));

/* Append to a growing string. */
static void
view_cat(char **s, size_t *len, const char *fmt, ...)
{
	va_list	 ap;
	char	*piece;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&piece, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("vasprintf");
	*s = xrealloc(*s, *len + n + 1);
	memcpy(*s + *len, piece, n + 1);
	*len += n;
	free(piece);
}

/* A string, length-prefixed so that no content can fake a separator. */
static void
view_cat_str(char **s, size_t *len, const char *str, size_t slen)
{
	view_cat(s, len, "%zu:", slen);
	*s = xrealloc(*s, *len + slen + 1);
	memcpy(*s + *len, str, slen);
	*len += slen;
	(*s)[*len] = '\0';
}

/* A filter constant, exactly. */
static void
view_cat_value(char **s, size_t *len, enum conf_ftype t,
    const struct conf_value *cv)
{
	switch (t) {
	case CONF_FT_STRING:
		view_cat_str(s, len, cv->s, cv->len);
		break;
	case CONF_FT_FLOAT:
		view_cat(s, len, "%a", cv->f);
		break;
	default:
		view_cat(s, len, "%" PRId64, cv->i);
		break;
	}
}

static int
view_strcmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/*
 * A filter's constants, each followed by ",": sorted, so that the order
 * of an in or not_in list does not change the fingerprint.
 */
static void
view_cat_set(char **s, size_t *len, const struct conf_filter *f)
{
	char	**piece;
	size_t	  i, plen;

	piece = xcalloc(f->nvals, sizeof(*piece));
	for (i = 0; i < f->nvals; i++) {
		piece[i] = NULL;
		plen = 0;
		view_cat_value(&piece[i], &plen, f->type, &f->vals[i]);
	}
	qsort(piece, f->nvals, sizeof(*piece), view_strcmp);
	for (i = 0; i < f->nvals; i++) {
		view_cat(s, len, "%s,", piece[i]);
		free(piece[i]);
	}
	free(piece);
}

/*
 * The canonical text of everything that alters a view's results: its
 * stream and the types of the fields it uses, bucket, dimensions in order,
 * filters sorted, metrics in order with their parameters.  The view's name
 * is not part of it.
 */
static void
view_canonical(struct conf_view *v, const struct conf_stream *st)
{
	char		*s = NULL;
	size_t		 len = 0, i, j, *order;
	uint64_t	 h = 1469598103934665603ULL;
	const struct conf_filter *a, *b;

	view_cat(&s, &len, "lamina-view/%d|stream=", CONF_VIEW_FORMAT);
	view_cat_str(&s, &len, st->name, strlen(st->name));
	view_cat(&s, &len, "|bucket=%" PRIu64 "|group=", v->bucket_ms / 1000);
	for (i = 0; i < v->ngroup; i++) {
		view_cat_str(&s, &len, v->group_by[i], strlen(v->group_by[i]));
		view_cat(&s, &len, "/%s,",
		    conf_ftype_name(st->fields[v->group_idx[i]].type));
	}
	/* Filters in a canonical order: by field, then operator. */
	order = v->nfilters ? xcalloc(v->nfilters, sizeof(*order)) : NULL;
	for (i = 0; i < v->nfilters; i++) {
		for (j = i; j > 0; j--) {
			a = &v->filters[order[j - 1]];
			b = &v->filters[i];
			if (strcmp(a->field, b->field) < 0 ||
			    (strcmp(a->field, b->field) == 0 &&
			    a->op <= b->op))
				break;
			order[j] = order[j - 1];
		}
		order[j] = i;
	}
	view_cat(&s, &len, "|where=");
	for (i = 0; i < v->nfilters; i++) {
		a = &v->filters[order[i]];
		view_cat_str(&s, &len, a->field, strlen(a->field));
		view_cat(&s, &len, "/%s/%s[", conf_ftype_name(a->type),
		    conf_fop_names[a->op]);
		view_cat_set(&s, &len, a);
		view_cat(&s, &len, "];");
	}
	free(order);
	view_cat(&s, &len, "|metrics=");
	for (i = 0; i < v->nmetrics; i++) {
		const struct conf_metric *m = &v->metrics[i];

		view_cat_str(&s, &len, m->name, strlen(m->name));
		view_cat(&s, &len, "/%s", conf_mkind_names[m->kind]);
		if (m->field != NULL) {
			view_cat(&s, &len, "/");
			view_cat_str(&s, &len, m->field, strlen(m->field));
			view_cat(&s, &len, "/%s",
			    conf_ftype_name(st->fields[m->field_idx].type));
		}
		if (m->kind == CONF_M_DISTINCT)
			view_cat(&s, &len, "/p%d", m->precision);
		if (m->kind == CONF_M_QUANTILE)
			view_cat(&s, &len, "/a%a/b%d", m->accuracy,
			    m->max_bins);
		if (m->kind == CONF_M_TOP)
			view_cat(&s, &len, "/k%d", m->k);
		view_cat(&s, &len, ";");
	}
	for (i = 0; i < len; i++)		/* FNV-1a */
		h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
	v->canonical = s;
	v->fingerprint = h;
}

static void
view_free_one(struct conf_view *v)
{
	size_t	i, j;

	for (i = 0; i < v->ngroup; i++)
		free(v->group_by[i]);
	free(v->group_by);
	free(v->group_idx);
	for (i = 0; i < v->nfilters; i++) {
		for (j = 0; j < v->filters[i].nvals; j++)
			free(v->filters[i].vals[j].s);
		free(v->filters[i].vals);
		free(v->filters[i].field);
	}
	free(v->filters);
	for (i = 0; i < v->nmetrics; i++) {
		free(v->metrics[i].name);
		free(v->metrics[i].field);
	}
	free(v->metrics);
	free(v->canonical);
	free(v->name);
	free(v->stream);
}

/* One view: its name is key, its definition val. */
static void
conf_view(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	struct conf		*c = conf_loader_conf(l);
	struct view_ctx		 vc;
	struct conf_view	 v;
	char			*sub;
	size_t			 i;

	(void)arg;
	if (!conf_valid_name(key->s, key->len)) {
		conf_error(l, key, "views", key->s, "bad view name: %s",
		    conf_name_rule);
		return;
	}
	if (c->nviews == CONF_VIEWS_MAX) {
		conf_error(l, key, "views", NULL, "too many views, the limit "
		    "is %d", CONF_VIEWS_MAX);
		return;
	}
	/* Their tables' names would clash: SQLite ignores case there. */
	for (i = 0; i < c->nviews; i++)
		if (strcasecmp(c->views[i].name, key->s) == 0) {
			conf_error(l, key, "views", key->s, "view %s differs "
			    "from view %s only in case", key->s,
			    c->views[i].name);
			return;
		}
	memset(&vc, 0, sizeof(vc));
	memset(&v, 0, sizeof(v));
	vc.path = path;
	vc.key = key;
	vc.v = &v;
	v.name = xstrdup(key->s);
	v.line = key->line;
	v.column = key->col;
	if (conf_walk(l, path, key, val, view_key, &vc) == -1)
		goto out;

	xasprintf(&sub, "%s.stream", path);
	if (vc.stream == NULL) {
		conf_error(l, key, sub, NULL, "missing required key");
		free(sub);
		goto out;
	}
	if (view_scalar(l, sub, vc.stream_k, vc.stream,
	    "expected a stream name") == -1) {
		free(sub);
		goto out;
	}
	if ((vc.st = conf_find_stream(c, vc.stream->s)) == NULL) {
		conf_error(l, vc.stream, sub, vc.stream->s,
		    "no stream named %s", vc.stream->s);
		free(sub);
		goto out;
	}
	free(sub);
	v.stream = xstrdup(vc.st->name);
	v.stream_idx = (int)(vc.st - c->streams);

	if (vc.bucket == NULL) {
		xasprintf(&sub, "%s.bucket", path);
		conf_error(l, key, sub, NULL, "missing required key");
		free(sub);
		vc.bad++;
	} else
		view_bucket(l, &vc);
	if (vc.group != NULL)
		view_group(l, &vc);
	if (vc.where != NULL) {
		xasprintf(&sub, "%s.where", path);
		if (conf_walk(l, sub, vc.where_k, vc.where, view_filter,
		    &vc) == -1)
			vc.bad++;
		free(sub);
	}
	xasprintf(&sub, "%s.metrics", path);
	if (vc.metrics == NULL) {
		conf_error(l, key, sub, NULL, "missing required key");
		vc.bad++;
	} else if (conf_walk(l, sub, vc.metrics_k, vc.metrics, view_metric,
	    &vc) == -1)
		vc.bad++;
	else if (v.nmetrics == 0 && vc.bad == 0) {
		conf_error(l, vc.metrics_k, sub, NULL,
		    "a view needs at least one metric");
		vc.bad++;
	}
	free(sub);
	if (vc.bad == 0) {
		view_canonical(&v, vc.st);
		c->views = xreallocarray(c->views, c->nviews + 1,
		    sizeof(*c->views));
		c->views[c->nviews++] = v;
		return;
	}
out:
	view_free_one(&v);
}

/* The views: section, once every stream is known. */
void
conf_views(struct loader *l, const struct node *key, const struct node *val)
{
	conf_walk(l, "views", key, val, conf_view, NULL);
}

void
conf_views_free(struct conf *c)
{
	size_t	i;

	for (i = 0; i < c->nviews; i++)
		view_free_one(&c->views[i]);
	free(c->views);
	c->views = NULL;
	c->nviews = 0;
}
