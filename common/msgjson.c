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
 * MessagePack to JSON, with json-c: for the CLI's output and for the
 * quarantine files, which people read.  Map keys that are
 * not strings are written as their JSON text; binaries become base64
 * strings; a MessagePack timestamp (ext -1) or a Fluentd EventTime (ext 0)
 * becomes an RFC 3339 string with nanoseconds; other extensions become
 * {"_ext": type, "data": base64}.
 */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "msgjson.h"
#include "msg.h"
#include "xmalloc.h"

static struct json_object *msgjson_value(struct msg_reader *, int, char **);

/* Append ".0" to a number written without a point or exponent. */
static void
msgjson_add_point(char *buf, size_t size)
{
	size_t	n = strlen(buf);

	if (n + 3 <= size)
		memcpy(buf + n, ".0", 3);
}

/* ns since the epoch as 2026-11-27T08:59:00.123456789Z. */
char *
msgjson_time_str(int64_t ns)
{
	struct tm	tm;
	time_t		secs;
	int64_t		frac;
	char		buf[64], *s;

	secs = (time_t)(ns / 1000000000);
	frac = ns % 1000000000;
	if (frac < 0) {
		frac += 1000000000;
		secs--;
	}
	gmtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	xasprintf(&s, "%s.%09" PRId64 "Z", buf, frac);
	return (s);
}

static struct json_object *
msgjson_base64(const uint8_t *p, size_t len)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	struct json_object	*o;
	char			*s, *q;
	size_t			 i;
	uint32_t		 v;

	q = s = xmalloc(4 * ((len + 2) / 3) + 1);
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*q++ = tab[v >> 18];
		*q++ = tab[(v >> 12) & 63];
		*q++ = tab[(v >> 6) & 63];
		*q++ = tab[v & 63];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		*q++ = tab[v >> 18];
		*q++ = tab[(v >> 12) & 63];
		*q++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*q++ = '=';
	}
	*q = '\0';
	o = json_object_new_string(s);
	free(s);
	return (o);
}

/*
 * A double written with the fewest digits that read back as the same
 * value (json-c's default prints 17 significant digits: 0.1 becomes
 * 0.10000000000000001).  Infinities and NaN, which JSON lacks, become null.
 */
struct json_object *
msgjson_double(double d)
{
	char	buf[64];
	int	prec;

	if (!isfinite(d))
		return (NULL);
	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(buf, sizeof(buf), "%.17g", d);
	/* Keep it a JSON number that reads back as a float. */
	if (strpbrk(buf, ".eEn") == NULL)
		msgjson_add_point(buf, sizeof(buf));
	return (json_object_new_double_s(d, buf));
}

/* An extension value: timestamps as text, others as base64. */
static struct json_object *
msgjson_ext(int8_t type, const uint8_t *p, size_t len)
{
	struct json_object	*o;
	int64_t			 secs, nsec;
	char			*s;

	if (msg_ext_time(type, p, len, &secs, &nsec) == 0) {
		s = msgjson_time_str(secs * 1000000000 + nsec);
		o = json_object_new_string(s);
		free(s);
		return (o);
	}
	o = json_object_new_object();
	json_object_object_add(o, "_ext", json_object_new_int(type));
	json_object_object_add(o, "data", msgjson_base64(p, len));
	return (o);
}

/* One value, recursively, at most MSG_MAX_DEPTH deep. */
static struct json_object *
msgjson_value(struct msg_reader *r, int depth, char **cause)
{
	struct json_object	*o, *v, *k;
	const uint8_t		*b;
	const char		*s;
	size_t			 len;
	uint32_t		 n, i;
	uint64_t		 u;
	int64_t			 iv;
	double			 d;
	int8_t			 et;
	int			 bv;
	char			*key;

	if (depth > MSG_MAX_DEPTH) {
		xasprintf(cause, "nesting deeper than %d", MSG_MAX_DEPTH);
		return (NULL);
	}
	switch (msg_peek(r)) {
	case MSG_T_NIL:
		if (msg_get_nil(r) == -1)
			break;
		return (NULL);
	case MSG_T_BOOL:
		if (msg_get_bool(r, &bv) == -1)
			break;
		return (json_object_new_boolean(bv));
	case MSG_T_UINT:
		if (msg_get_uint(r, &u) == -1)
			break;
		return (json_object_new_uint64(u));
	case MSG_T_INT:
		if (msg_get_int(r, &iv) == -1)
			break;
		return (json_object_new_int64(iv));
	case MSG_T_FLOAT:
		if (msg_get_float(r, &d) == -1)
			break;
		return (msgjson_double(d));
	case MSG_T_STR:
		if (msg_get_str(r, &s, &len) == -1 || len > INT32_MAX)
			break;
		return (json_object_new_string_len(s, (int)len));
	case MSG_T_BIN:
		if (msg_get_bin(r, &b, &len) == -1)
			break;
		return (msgjson_base64(b, len));
	case MSG_T_EXT:
		if (msg_get_ext(r, &et, &b, &len) == -1)
			break;
		return (msgjson_ext(et, b, len));
	case MSG_T_ARRAY:
		if (msg_get_array(r, &n) == -1)
			break;
		o = json_object_new_array();
		for (i = 0; i < n; i++) {
			v = msgjson_value(r, depth + 1, cause);
			if (v == NULL && *cause != NULL) {
				json_object_put(o);
				return (NULL);
			}
			json_object_array_add(o, v);
		}
		return (o);
	case MSG_T_MAP:
		if (msg_get_map(r, &n) == -1)
			break;
		o = json_object_new_object();
		for (i = 0; i < n; i++) {
			if (msg_peek(r) == MSG_T_STR) {
				if (msg_get_str(r, &s, &len) == -1) {
					json_object_put(o);
					xasprintf(cause, "malformed msgpack: %s",
					    msg_error(r));
					return (NULL);
				}
				key = xstrndup(s, len);
			} else {
				k = msgjson_value(r, depth + 1, cause);
				if (k == NULL && *cause != NULL) {
					json_object_put(o);
					return (NULL);
				}
				key = xstrdup(json_object_to_json_string_ext(k,
				    JSON_C_TO_STRING_PLAIN));
				json_object_put(k);
			}
			v = msgjson_value(r, depth + 1, cause);
			if (v == NULL && *cause != NULL) {
				free(key);
				json_object_put(o);
				return (NULL);
			}
			json_object_object_add(o, key, v);
			free(key);
		}
		return (o);
	default:
		break;
	}
	xasprintf(cause, "malformed msgpack: %s", msg_error(r));
	return (NULL);
}

/*
 * The JSON form of the msgpack value in buf.  NULL with *cause set on
 * malformed input; NULL with *cause NULL for a msgpack nil.
 */
struct json_object *
msgjson_from_msg(const uint8_t *buf, size_t len, char **cause)
{
	struct msg_reader	r;

	*cause = NULL;
	msg_reader_init(&r, buf, len);
	return (msgjson_value(&r, 0, cause));
}
