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
 * MessagePack scanning and reading without an object tree (see msg.h).
 *
 * The format (https://github.com/msgpack/msgpack/blob/master/spec.md) puts
 * every value's type and size in a header of 1 to 9 bytes.  msg_head()
 * decodes one header; the scanner and the reader are both built on it, so
 * there is one place that knows the encoding.  Nothing here trusts a length:
 * every one is checked against the bytes at hand (reader) or against the
 * configured maximum (scanner) before it is used.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "msg.h"

/* One decoded header. */
struct msg_head {
	enum msg_type	type;
	size_t		hsize;		/* header bytes */
	uint64_t	len;		/* payload bytes (str, bin, ext) */
	uint64_t	count;		/* items that follow (array, map: 2n) */
	uint64_t	u;		/* MSG_T_UINT, MSG_T_BOOL */
	int64_t		i;		/* MSG_T_INT */
	double		f;		/* MSG_T_FLOAT */
	int8_t		ext;		/* MSG_T_EXT type */
};

/*
 * Decode the header at p, of which n bytes are available.  Returns 1 with
 * h filled, 0 if more bytes are needed to read the header, -1 on a byte that
 * starts no value (0xc1).  Payloads are not looked at.
 */
static int
msg_head(const uint8_t *p, size_t n, struct msg_head *h)
{
	static const uint8_t	 need[32] = {	/* header size of 0xc0..0xdf */
		1, 1, 1, 1, 2, 3, 5, 3, 4, 6, 5, 9, 2, 3, 5, 9,
		2, 3, 5, 9, 2, 2, 2, 2, 2, 2, 3, 5, 3, 5, 3, 5 };
	uint8_t			 b;
	uint32_t		 u32;
	uint64_t		 u64;
	float			 f32;

	if (n < 1)
		return (0);
	memset(h, 0, sizeof(*h));
	b = p[0];
	h->hsize = 1;
	if (b <= 0x7f) {
		h->type = MSG_T_UINT;
		h->u = b;
		return (1);
	}
	if (b >= 0xe0) {
		h->type = MSG_T_INT;
		h->i = (int8_t)b;
		return (1);
	}
	if (b <= 0x8f) {
		h->type = MSG_T_MAP;
		h->count = 2 * (uint64_t)(b & 0x0f);
		return (1);
	}
	if (b <= 0x9f) {
		h->type = MSG_T_ARRAY;
		h->count = b & 0x0f;
		return (1);
	}
	if (b <= 0xbf) {
		h->type = MSG_T_STR;
		h->len = b & 0x1f;
		return (1);
	}
	if (b == 0xc1)
		return (-1);
	h->hsize = need[b - 0xc0];
	if (n < h->hsize)
		return (0);
	switch (b) {
	case 0xc0:
		h->type = MSG_T_NIL;
		break;
	case 0xc2:
	case 0xc3:
		h->type = MSG_T_BOOL;
		h->u = b == 0xc3;
		break;
	case 0xc4: case 0xc5: case 0xc6:
	case 0xd9: case 0xda: case 0xdb:
		h->type = b <= 0xc6 ? MSG_T_BIN : MSG_T_STR;
		if (h->hsize == 2)
			h->len = p[1];
		else if (h->hsize == 3)
			h->len = msg_be16(p + 1);
		else
			h->len = msg_be32(p + 1);
		break;
	case 0xc7: case 0xc8: case 0xc9:
		h->type = MSG_T_EXT;
		if (b == 0xc7)
			h->len = p[1];
		else if (b == 0xc8)
			h->len = msg_be16(p + 1);
		else
			h->len = msg_be32(p + 1);
		h->ext = (int8_t)p[h->hsize - 1];
		break;
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
		h->type = MSG_T_EXT;
		h->len = (uint64_t)1 << (b - 0xd4);
		h->ext = (int8_t)p[1];
		break;
	case 0xca:
		h->type = MSG_T_FLOAT;
		u32 = msg_be32(p + 1);
		memcpy(&f32, &u32, sizeof(f32));
		h->f = f32;
		break;
	case 0xcb:
		h->type = MSG_T_FLOAT;
		u64 = msg_be64(p + 1);
		memcpy(&h->f, &u64, sizeof(h->f));
		break;
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
		h->type = MSG_T_UINT;
		if (b == 0xcc)
			h->u = p[1];
		else if (b == 0xcd)
			h->u = msg_be16(p + 1);
		else if (b == 0xce)
			h->u = msg_be32(p + 1);
		else
			h->u = msg_be64(p + 1);
		break;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		if (b == 0xd0)
			h->i = (int8_t)p[1];
		else if (b == 0xd1)
			h->i = (int16_t)msg_be16(p + 1);
		else if (b == 0xd2)
			h->i = (int32_t)msg_be32(p + 1);
		else
			h->i = (int64_t)msg_be64(p + 1);
		/* A non-negative value sent in a signed encoding is a uint. */
		if (h->i >= 0) {
			h->type = MSG_T_UINT;
			h->u = (uint64_t)h->i;
		} else
			h->type = MSG_T_INT;
		break;
	case 0xdc: case 0xdd:
		h->type = MSG_T_ARRAY;
		h->count = b == 0xdc ? msg_be16(p + 1) : msg_be32(p + 1);
		break;
	case 0xde: case 0xdf:
		h->type = MSG_T_MAP;
		h->count = 2 * (uint64_t)(b == 0xde ? msg_be16(p + 1) :
		    msg_be32(p + 1));
		break;
	}
	return (1);
}

/* Start scanning a new object. */
void
msg_scan_init(struct msg_scan *st)
{
	memset(st, 0, sizeof(*st));
	st->remain[0] = 1;
}

/*
 * Find the end of the object that starts at buf[0], of which avail bytes
 * are at hand, without allocating.  Resumes from st, so each byte is looked
 * at about once however the object arrives.  Returns 1 with *len set when
 * the object is complete, 0 when more bytes are needed, -1 with *cause when
 * the bytes are not msgpack, a declared length or count would take the
 * object past max bytes, or nesting is deeper than MSG_MAX_DEPTH.  The check
 * against max happens as soon as a header is read, before its payload has
 * arrived.
 */
int
msg_scan(struct msg_scan *st, const void *buf, size_t avail, size_t max,
    size_t *len, const char **cause)
{
	const uint8_t	*p = buf;
	struct msg_head	 h;
	int		 r;

	for (;;) {
		while (st->remain[st->depth] == 0) {
			if (st->depth == 0) {
				*len = st->pos;
				return (1);
			}
			st->depth--;
		}
		r = msg_head(p + st->pos, avail - st->pos, &h);
		if (r == -1) {
			*cause = "invalid msgpack byte 0xc1";
			return (-1);
		}
		if (r == 0) {
			if (avail >= max) {
				*cause = "message exceeds the maximum size";
				return (-1);
			}
			return (0);
		}
		if (h.hsize + h.len > max - st->pos) {
			*cause = "declared length exceeds the maximum "
			    "message size";
			return (-1);
		}
		if (h.len > avail - st->pos - h.hsize)
			return (0);
		/* Each item takes at least one byte after the header. */
		if (h.count > max - st->pos - h.hsize) {
			*cause = "declared item count exceeds the maximum "
			    "message size";
			return (-1);
		}
		st->remain[st->depth]--;
		st->pos += h.hsize + h.len;
		if (h.count > 0) {
			if (st->depth == MSG_MAX_DEPTH) {
				*cause = "nesting deeper than 32 levels";
				return (-1);
			}
			st->remain[++st->depth] = h.count;
		}
	}
}

/* Read the complete msgpack bytes buf[0..len). */
void
msg_reader_init(struct msg_reader *r, const void *buf, size_t len)
{
	r->p = buf;
	r->end = r->p + len;
	r->error = NULL;
	r->errbuf[0] = '\0';
}

/* The type of the next value, or MSG_T_NONE at the end or on bad bytes. */
enum msg_type
msg_peek(const struct msg_reader *r)
{
	struct msg_head	 h;

	if (msg_head(r->p, r->end - r->p, &h) != 1)
		return (MSG_T_NONE);
	return (h.type);
}

const char *
msg_type_name(enum msg_type t)
{
	switch (t) {
	case MSG_T_NIL:		return ("nil");
	case MSG_T_BOOL:	return ("boolean");
	case MSG_T_UINT:	return ("integer");
	case MSG_T_INT:		return ("integer");
	case MSG_T_FLOAT:	return ("float");
	case MSG_T_STR:		return ("string");
	case MSG_T_BIN:		return ("binary");
	case MSG_T_ARRAY:	return ("array");
	case MSG_T_MAP:		return ("map");
	case MSG_T_EXT:		return ("extension");
	default:		return ("nothing");
	}
}

/* Record "expected X, got Y" and fail. */
static int
msg_wrong(struct msg_reader *r, const char *want, enum msg_type got)
{
	if (got == MSG_T_NONE && r->p >= r->end)
		snprintf(r->errbuf, sizeof(r->errbuf),
		    "expected %s, got end of data", want);
	else if (got == MSG_T_NONE)
		snprintf(r->errbuf, sizeof(r->errbuf),
		    "expected %s, got malformed msgpack", want);
	else
		snprintf(r->errbuf, sizeof(r->errbuf), "expected %s, got %s",
		    want, msg_type_name(got));
	r->error = r->errbuf;
	return (-1);
}

/*
 * Read the next header, which must be of type want (or of a second type
 * want2), with its payload complete within the reader.  Advances past the
 * header only.
 */
static int
msg_take(struct msg_reader *r, struct msg_head *h, enum msg_type want,
    enum msg_type want2, const char *name)
{
	switch (msg_head(r->p, r->end - r->p, h)) {
	case 1:
		break;
	case 0:
		if (r->p < r->end) {
			r->error = "truncated value";
			return (-1);
		}
		return (msg_wrong(r, name, MSG_T_NONE));
	default:
		return (msg_wrong(r, name, MSG_T_NONE));
	}
	if (h->type != want && h->type != want2)
		return (msg_wrong(r, name, h->type));
	if (h->len > (uint64_t)(r->end - r->p) - h->hsize) {
		r->error = "truncated value";
		return (-1);
	}
	r->p += h->hsize;
	return (0);
}

int
msg_get_nil(struct msg_reader *r)
{
	struct msg_head	 h;

	return (msg_take(r, &h, MSG_T_NIL, MSG_T_NIL, "nil"));
}

int
msg_get_bool(struct msg_reader *r, int *v)
{
	struct msg_head	 h;

	if (msg_take(r, &h, MSG_T_BOOL, MSG_T_BOOL, "boolean") == -1)
		return (-1);
	*v = (int)h.u;
	return (0);
}

/* A signed 64-bit integer, from any integer encoding that fits. */
int
msg_get_int(struct msg_reader *r, int64_t *v)
{
	struct msg_head	 h;
	const uint8_t	*save = r->p;

	if (msg_take(r, &h, MSG_T_UINT, MSG_T_INT, "integer") == -1)
		return (-1);
	if (h.type == MSG_T_UINT) {
		if (h.u > INT64_MAX) {
			r->p = save;
			r->error = "integer out of range";
			return (-1);
		}
		*v = (int64_t)h.u;
	} else
		*v = h.i;
	return (0);
}

/* A non-negative integer. */
int
msg_get_uint(struct msg_reader *r, uint64_t *v)
{
	struct msg_head	 h;
	const uint8_t	*save = r->p;

	if (msg_take(r, &h, MSG_T_UINT, MSG_T_INT, "unsigned integer") == -1)
		return (-1);
	if (h.type == MSG_T_INT) {
		r->p = save;
		r->error = "expected unsigned integer, got negative integer";
		return (-1);
	}
	*v = h.u;
	return (0);
}

/* A float32 or float64. */
int
msg_get_float(struct msg_reader *r, double *v)
{
	struct msg_head	 h;

	if (msg_take(r, &h, MSG_T_FLOAT, MSG_T_FLOAT, "float") == -1)
		return (-1);
	*v = h.f;
	return (0);
}

/* A float or an integer, as a double. */
int
msg_get_number(struct msg_reader *r, double *v)
{
	struct msg_head	 h;

	if (msg_head(r->p, r->end - r->p, &h) == 1 && h.type == MSG_T_FLOAT)
		return (msg_get_float(r, v));
	if (msg_take(r, &h, MSG_T_UINT, MSG_T_INT, "number") == -1)
		return (-1);
	*v = h.type == MSG_T_UINT ? (double)h.u : (double)h.i;
	return (0);
}

/* A string; borrowed and not NUL-terminated. */
int
msg_get_str(struct msg_reader *r, const char **s, size_t *len)
{
	struct msg_head	 h;

	if (msg_take(r, &h, MSG_T_STR, MSG_T_STR, "string") == -1)
		return (-1);
	*s = (const char *)r->p;
	*len = h.len;
	r->p += h.len;
	return (0);
}

/* A binary; borrowed. */
int
msg_get_bin(struct msg_reader *r, const uint8_t **b, size_t *len)
{
	struct msg_head	 h;

	if (msg_take(r, &h, MSG_T_BIN, MSG_T_BIN, "binary") == -1)
		return (-1);
	*b = r->p;
	*len = h.len;
	r->p += h.len;
	return (0);
}

/* A string or a binary (Forward's PackedForward sends either); borrowed. */
int
msg_get_strbin(struct msg_reader *r, const uint8_t **b, size_t *len)
{
	struct msg_head	 h;

	if (msg_take(r, &h, MSG_T_STR, MSG_T_BIN, "string or binary") == -1)
		return (-1);
	*b = r->p;
	*len = h.len;
	r->p += h.len;
	return (0);
}

/* An extension value: its type and its data, borrowed. */
int
msg_get_ext(struct msg_reader *r, int8_t *type, const uint8_t **b,
    size_t *len)
{
	struct msg_head	 h;

	if (msg_take(r, &h, MSG_T_EXT, MSG_T_EXT, "extension") == -1)
		return (-1);
	*type = h.ext;
	*b = r->p;
	*len = h.len;
	r->p += h.len;
	return (0);
}

/*
 * An array header: *n items follow.  The count is checked against the
 * bytes left (each item takes at least one), so a caller may size an
 * allocation by it.
 */
int
msg_get_array(struct msg_reader *r, uint32_t *n)
{
	struct msg_head	 h;
	const uint8_t	*save = r->p;

	if (msg_take(r, &h, MSG_T_ARRAY, MSG_T_ARRAY, "array") == -1)
		return (-1);
	if (h.count > (uint64_t)(r->end - r->p)) {
		r->p = save;
		r->error = "array count exceeds the data";
		return (-1);
	}
	*n = (uint32_t)h.count;
	return (0);
}

/* A map header: *n key/value pairs follow; checked like arrays. */
int
msg_get_map(struct msg_reader *r, uint32_t *n)
{
	struct msg_head	 h;
	const uint8_t	*save = r->p;

	if (msg_take(r, &h, MSG_T_MAP, MSG_T_MAP, "map") == -1)
		return (-1);
	if (h.count > (uint64_t)(r->end - r->p)) {
		r->p = save;
		r->error = "map count exceeds the data";
		return (-1);
	}
	*n = (uint32_t)(h.count / 2);
	return (0);
}

/* The bytes of the next whole value, however deep; borrowed. */
int
msg_get_raw(struct msg_reader *r, const uint8_t **b, size_t *len)
{
	struct msg_scan	 st;
	size_t		 left = r->end - r->p;
	const char	*cause;

	/*
	 * No size limit here: the bytes are all at hand, and with left as the
	 * limit a truncated value would be reported as an oversized one.
	 */
	msg_scan_init(&st);
	switch (msg_scan(&st, r->p, left, SIZE_MAX, len, &cause)) {
	case 1:
		*b = r->p;
		r->p += *len;
		return (0);
	case 0:
		r->error = left == 0 ? "expected a value, got end of data" :
		    "truncated value";
		return (-1);
	default:
		r->error = cause;
		return (-1);
	}
}

/* Skip the next whole value. */
int
msg_skip(struct msg_reader *r)
{
	const uint8_t	*b;
	size_t		 len;

	return (msg_get_raw(r, &b, &len));
}

/* Succeed only if every byte has been read. */
int
msg_end(struct msg_reader *r)
{
	if (r->p != r->end) {
		r->error = "unexpected data after the end";
		return (-1);
	}
	return (0);
}

size_t
msg_left(const struct msg_reader *r)
{
	return (r->end - r->p);
}

const char *
msg_error(const struct msg_reader *r)
{
	return (r->error != NULL ? r->error : "no error");
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF.  Returns 1 if valid.
 */
int
msg_valid_utf8(const void *buf, size_t len)
{
	const uint8_t	*p = buf, *end = p + len;
	uint32_t	 c;
	int		 n, i;

	while (p < end) {
		/* Plain ASCII, eight bytes at a time. */
		while (end - p >= 8) {
			uint64_t	w;

			memcpy(&w, p, sizeof(w));
			if (w & UINT64_C(0x8080808080808080))
				break;
			p += 8;
		}
		if (p == end)
			break;
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			n = 1;
			c = *p & 0x1f;
		} else if ((*p & 0xf0) == 0xe0) {
			n = 2;
			c = *p & 0x0f;
		} else if ((*p & 0xf8) == 0xf0) {
			n = 3;
			c = *p & 0x07;
		} else
			return (0);
		if (end - p <= n)
			return (0);
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return (0);
			c = c << 6 | (p[i] & 0x3f);
		}
		if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) ||
		    (n == 3 && c < 0x10000) || c > 0x10ffff ||
		    (c >= 0xd800 && c <= 0xdfff))
			return (0);
		p += n + 1;
	}
	return (1);
}

/*
 * Decode a time extension: a MessagePack timestamp (type -1, 4, 8 or 12
 * bytes, see the spec's "Timestamp extension type") or a Fluentd EventTime
 * (type 0, 8 bytes: uint32 seconds, uint32 nanoseconds).  Returns 0 with
 * seconds and nanoseconds, -1 if the extension is neither or its
 * nanoseconds are out of range.
 */
int
msg_ext_time(int8_t type, const uint8_t *p, size_t len, int64_t *secs,
    int64_t *nsec)
{
	uint64_t	v;

	*nsec = 0;
	if (type == 0 && len == 8) {
		*secs = msg_be32(p);
		*nsec = msg_be32(p + 4);
	} else if (type == -1 && len == 4)
		*secs = msg_be32(p);
	else if (type == -1 && len == 8) {
		v = msg_be64(p);
		*nsec = (int64_t)(v >> 34);
		*secs = (int64_t)(v & 0x3ffffffffULL);
	} else if (type == -1 && len == 12) {
		*nsec = msg_be32(p);
		*secs = (int64_t)msg_be64(p + 4);
	} else
		return (-1);
	return (*nsec < 1000000000 ? 0 : -1);
}

/* Pack a NUL-terminated string. */
void
msg_pack_str(msgpack_packer *pk, const char *s)
{
	msg_pack_strn(pk, s, strlen(s));
}

/* Pack len bytes as a string. */
void
msg_pack_strn(msgpack_packer *pk, const void *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

void
msg_pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	msg_pack_str(pk, k);
	msg_pack_str(pk, v);
}

void
msg_pack_kv_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
	msg_pack_str(pk, k);
	msgpack_pack_uint64(pk, v);
}

void
msg_pack_kv_int(msgpack_packer *pk, const char *k, int64_t v)
{
	msg_pack_str(pk, k);
	msgpack_pack_int64(pk, v);
}

void
msg_pack_kv_double(msgpack_packer *pk, const char *k, double v)
{
	msg_pack_str(pk, k);
	msgpack_pack_double(pk, v);
}
