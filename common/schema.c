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
 * Validation and normalisation of events (see schema.h).  A stream has at
 * most 256 fields, so each key is looked up by a linear scan of the schema,
 * comparing lengths first; present values are kept as pointers into the
 * event until the whole event has been checked, and only then packed, so
 * that a refused event leaves nothing in the output.
 */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "conf.h"
#include "msg.h"
#include "schema.h"

#define SCHEMA_FIELDS_MAX	256
#define NS_PER_SEC		1000000000LL

/* Largest |seconds| whose nanoseconds fit in an int64 (about year 2262). */
#define SECS_MAX		9223372035LL

struct schema_val {
	enum msg_type	 type;
	int64_t		 i;
	double		 f;
	int		 b;
	const char	*s;
	size_t		 len;
};

/*
 * Float seconds to ns, rounded from the double's exact value: d * 1e9 in
 * one step would round to the 256 ns or coarser steps of doubles near
 * today's times.  |d| <= SECS_MAX, so d - floor(d) is exact.
 */
static int64_t
schema_float_ns(double d)
{
	double	whole = floor(d);

	return ((int64_t)whole * NS_PER_SEC + llround((d - whole) * 1e9));
}

/*
 * Read an event time: epoch seconds as an integer or a float, a
 * MessagePack timestamp (ext -1, 4, 8 or 12 bytes), or a Fluentd EventTime
 * (ext 0, 8 bytes).  Returns ns since the epoch.
 */
int
schema_time_value(struct msg_reader *r, int64_t *ns, char *err,
    size_t errlen)
{
	const uint8_t	*p;
	size_t		 len;
	int64_t		 secs, nsec = 0;
	double		 d;
	int8_t		 type;

	switch (msg_peek(r)) {
	case MSG_T_UINT:
	case MSG_T_INT:
		if (msg_get_int(r, &secs) == -1)
			secs = INT64_MAX;
		break;
	case MSG_T_FLOAT:
		if (msg_get_float(r, &d) == -1) {
			snprintf(err, errlen, "time: %s", msg_error(r));
			return (-1);
		}
		if (!isfinite(d) || fabs(d) > (double)SECS_MAX) {
			snprintf(err, errlen, "time out of range");
			return (-1);
		}
		*ns = schema_float_ns(d);
		return (0);
	case MSG_T_EXT:
		if (msg_get_ext(r, &type, &p, &len) == -1) {
			snprintf(err, errlen, "%s", msg_error(r));
			return (-1);
		}
		if (msg_ext_time(type, p, len, &secs, &nsec) == -1) {
			snprintf(err, errlen, "expected a time, got extension "
			    "type %d of %zu bytes", type, len);
			return (-1);
		}
		break;
	default:
		snprintf(err, errlen, "expected a time (epoch seconds or a "
		    "timestamp), got %s", msg_type_name(msg_peek(r)));
		return (-1);
	}
	if (secs > SECS_MAX || secs < -SECS_MAX) {
		snprintf(err, errlen, "time out of range");
		return (-1);
	}
	*ns = secs * NS_PER_SEC + nsec;
	return (0);
}

/* Read one value of the declared type into v; nil is MSG_T_NIL. */
static int
schema_value(const struct conf_field *f, struct msg_reader *r,
    struct schema_val *v, char *err, size_t errlen)
{
	enum msg_type	t = msg_peek(r);

	v->type = t;
	if (t == MSG_T_NIL)
		return (msg_get_nil(r));
	switch (f->type) {
	case CONF_FT_STRING:
		if (t != MSG_T_STR)
			break;
		if (msg_get_str(r, &v->s, &v->len) == -1) {
			snprintf(err, errlen, "field %s: %s", f->name,
			    msg_error(r));
			return (-1);
		}
		if (!msg_valid_utf8(v->s, v->len)) {
			snprintf(err, errlen, "field %s: invalid UTF-8",
			    f->name);
			return (-1);
		}
		return (0);
	case CONF_FT_INT:
		if (t != MSG_T_UINT && t != MSG_T_INT)
			break;
		if (msg_get_int(r, &v->i) == -1) {
			snprintf(err, errlen, "field %s: integer out of range",
			    f->name);
			return (-1);
		}
		return (0);
	case CONF_FT_FLOAT:
		if (t != MSG_T_UINT && t != MSG_T_INT && t != MSG_T_FLOAT)
			break;
		msg_get_number(r, &v->f);
		if (!isfinite(v->f)) {
			snprintf(err, errlen, "field %s: not a finite number",
			    f->name);
			return (-1);
		}
		return (0);
	case CONF_FT_BOOL:
		if (t != MSG_T_BOOL)
			break;
		return (msg_get_bool(r, &v->b));
	}
	snprintf(err, errlen, "field %s: expected %s, got %s", f->name,
	    conf_ftype_name(f->type), msg_type_name(t));
	return (-1);
}

/*
 * Check the event map at r against stream st and pack its stored form into
 * pk.  given_ns is a time that came with the event (SCHEMA_NO_TIME if
 * none), ingest_ns the time of arrival; *event_ns receives the event time.
 * On failure nothing is packed and err says which field and why.
 */
int
schema_pack_event(const struct conf_stream *st, struct msg_reader *r,
    int64_t given_ns, int64_t ingest_ns, msgpack_packer *pk,
    int64_t *event_ns, char *err, size_t errlen)
{
	struct schema_val	 vals[SCHEMA_FIELDS_MAX];
	int			 seen[SCHEMA_FIELDS_MAX];
	struct msg_reader	 tr;
	const char		*key;
	size_t			 klen, i, j, present = 0;
	uint32_t		 n, k;
	int64_t			 tns = SCHEMA_NO_TIME;
	int			 time_idx = -1;

	if (st->nfields > SCHEMA_FIELDS_MAX) {
		snprintf(err, errlen, "stream %s has too many fields",
		    st->name);
		return (-1);
	}
	if (msg_get_map(r, &n) == -1) {
		snprintf(err, errlen, "event: %s", msg_error(r));
		return (-1);
	}
	memset(seen, 0, sizeof(seen));
	for (k = 0; k < n; k++) {
		if (msg_get_str(r, &key, &klen) == -1) {
			snprintf(err, errlen, "field name: %s", msg_error(r));
			return (-1);
		}
		/* Keys usually come in schema order: try the next one first. */
		i = k < st->nfields ? k : 0;
		if (st->fields[i].namelen != klen ||
		    memcmp(st->fields[i].name, key, klen) != 0) {
			for (i = 0; i < st->nfields; i++)
				if (st->fields[i].namelen == klen &&
				    memcmp(st->fields[i].name, key, klen) == 0)
					break;
		}
		if (i == st->nfields) {
			if (klen > 0 && klen <= CONF_NAME_MAX &&
			    conf_valid_name(key, klen))
				snprintf(err, errlen, "field %.*s: not in the "
				    "schema of stream %s", (int)klen, key,
				    st->name);
			else
				snprintf(err, errlen, "field name not in the "
				    "schema of stream %s (not shown: invalid "
				    "or too long)", st->name);
			return (-1);
		}
		if (seen[i]) {
			snprintf(err, errlen, "field %s: given twice",
			    st->fields[i].name);
			return (-1);
		}
		seen[i] = 1;
		if ((int)i == st->time_idx && msg_peek(r) == MSG_T_EXT) {
			/* A timestamp in the time field. */
			tr = *r;
			if (schema_time_value(&tr, &tns, err + 0, errlen) ==
			    -1) {
				char	why[SCHEMA_ERR_MAX];

				snprintf(why, sizeof(why), "%s", err);
				snprintf(err, errlen, "field %s: %s",
				    st->fields[i].name, why);
				return (-1);
			}
			*r = tr;
			vals[i].type = MSG_T_FLOAT;
			vals[i].f = (double)tns / 1e9;
			vals[i].i = tns / NS_PER_SEC;
			time_idx = (int)i;
			present++;
			continue;
		}
		if (schema_value(&st->fields[i], r, &vals[i], err, errlen) ==
		    -1)
			return (-1);
		if (vals[i].type == MSG_T_NIL)
			seen[i] = 2;	/* nil: absent, but not twice */
		else
			present++;
		if ((int)i == st->time_idx && vals[i].type != MSG_T_NIL)
			time_idx = (int)i;
	}
	/*
	 * A time that came with the event (Forward's time slot) fills the
	 * stream's time field when the record lacks it, so that the stored
	 * event always carries its time where the schema says.
	 */
	if (time_idx < 0 && given_ns != SCHEMA_NO_TIME && st->time_idx >= 0) {
		i = (size_t)st->time_idx;
		if (seen[i] != 1) {
			seen[i] = 1;
			present++;
			vals[i].type = MSG_T_FLOAT;
			vals[i].i = given_ns / NS_PER_SEC -
			    (given_ns % NS_PER_SEC < 0);
			vals[i].f = (double)vals[i].i +
			    (double)(given_ns - vals[i].i * NS_PER_SEC) / 1e9;
			tns = given_ns;
		}
	}
	for (i = 0; i < st->nfields; i++) {
		if (seen[i] != 1 && st->fields[i].required) {
			snprintf(err, errlen, "field %s: required but missing",
			    st->fields[i].name);
			return (-1);
		}
	}
	if (time_idx >= 0 && tns == SCHEMA_NO_TIME) {
		struct schema_val	*tv = &vals[time_idx];
		double			 d = st->fields[time_idx].type ==
		    CONF_FT_INT ? (double)tv->i : tv->f;

		if (!isfinite(d) || fabs(d) > (double)SECS_MAX) {
			snprintf(err, errlen, "field %s: time out of range",
			    st->time_field);
			return (-1);
		}
		tns = st->fields[time_idx].type == CONF_FT_INT ?
		    tv->i * NS_PER_SEC : schema_float_ns(d);
	}
	if (tns == SCHEMA_NO_TIME)
		tns = given_ns != SCHEMA_NO_TIME ? given_ns : ingest_ns;
	*event_ns = tns;

	/* Everything checked: pack the present fields in schema order. */
	msgpack_pack_map(pk, present);
	for (j = 0; j < st->nfields; j++) {
		if (seen[j] != 1)
			continue;
		msg_pack_strn(pk, st->fields[j].name, st->fields[j].namelen);
		switch (st->fields[j].type) {
		case CONF_FT_STRING:
			msg_pack_strn(pk, vals[j].s, vals[j].len);
			break;
		case CONF_FT_INT:
			msgpack_pack_int64(pk, vals[j].i);
			break;
		case CONF_FT_FLOAT:
			msgpack_pack_double(pk, vals[j].f);
			break;
		case CONF_FT_BOOL:
			if (vals[j].b)
				msgpack_pack_true(pk);
			else
				msgpack_pack_false(pk);
			break;
		}
	}
	return (0);
}
