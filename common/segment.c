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
 * Encoding and checking of segment headers, records and catalog entries.
 * Fixed-size integers are little-endian; a record's payload is msgpack (so
 * big-endian inside), written with fixed-width integer encodings so that a
 * record's size is known before it is packed.  Every decoder checks each
 * length against the bytes at hand before using it.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "msg.h"
#include "segment.h"

uint32_t
seg_le32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

uint64_t
seg_le64(const uint8_t *p)
{
	return ((uint64_t)seg_le32(p) | (uint64_t)seg_le32(p + 4) << 32);
}

void
seg_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

void
seg_put_le64(uint8_t *p, uint64_t v)
{
	seg_put_le32(p, (uint32_t)v);
	seg_put_le32(p + 4, (uint32_t)(v >> 32));
}

static void
seg_put_be64(uint8_t *p, uint64_t v)
{
	int	i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The file name of the segment whose first offset is first. */
void
seg_filename(char *buf, size_t len, uint64_t first)
{
	snprintf(buf, len, "%020" PRIu64 SEG_SUFFIX, first);
}

/* Parse a segment file name; -1 if name is not one. */
int
seg_parse_filename(const char *name, uint64_t *first)
{
	uint64_t	v = 0;
	int		i;

	if (strlen(name) != SEG_FILENAME_LEN ||
	    strcmp(name + 20, SEG_SUFFIX) != 0)
		return (-1);
	for (i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return (-1);
		if (v > (UINT64_MAX - (name[i] - '0')) / 10)
			return (-1);
		v = v * 10 + (name[i] - '0');
	}
	*first = v;
	return (0);
}

/* Write a segment header into buf[SEG_HEADER_SIZE]. */
void
seg_header_encode(uint8_t *buf, const struct seg_header *h)
{
	size_t	n = strlen(h->stream);

	memset(buf, 0, SEG_HEADER_SIZE);
	memcpy(buf, SEG_MAGIC, 8);
	buf[8] = SEG_VERSION;
	buf[10] = SEG_HEADER_SIZE;
	seg_put_le64(buf + 16, h->first);
	seg_put_le64(buf + 24, (uint64_t)h->created_ns);
	buf[32] = (uint8_t)n;
	memcpy(buf + 33, h->stream, n);
	seg_put_le32(buf + 124, crc32c(0, buf, 124));
}

/* Decode and check a segment header; -1 with *cause if it is not one. */
int
seg_header_decode(const uint8_t *buf, size_t len, struct seg_header *h,
    const char **cause)
{
	if (len < SEG_HEADER_SIZE) {
		*cause = "header truncated";
		return (-1);
	}
	if (memcmp(buf, SEG_MAGIC, 8) != 0) {
		*cause = "bad magic number";
		return (-1);
	}
	if (seg_le32(buf + 124) != crc32c(0, buf, 124)) {
		*cause = "header checksum mismatch";
		return (-1);
	}
	h->version = (uint16_t)(buf[8] | buf[9] << 8);
	if (h->version != SEG_VERSION) {
		*cause = "unsupported format version";
		return (-1);
	}
	if ((buf[10] | buf[11] << 8) != SEG_HEADER_SIZE || buf[32] == 0 ||
	    buf[32] > SEG_NAME_MAX) {
		*cause = "malformed header";
		return (-1);
	}
	h->first = seg_le64(buf + 16);
	h->created_ns = (int64_t)seg_le64(buf + 24);
	memcpy(h->stream, buf + 33, buf[32]);
	h->stream[buf[32]] = '\0';
	return (0);
}

/* Bytes a record takes on disk for fields and meta of these sizes. */
size_t
seg_record_size(size_t fields_len, size_t meta_len)
{
	/* header, fixarray, uint64, int64, int64, fields, meta */
	return (REC_HEADER_SIZE + 1 + 9 + 9 + 9 + fields_len + meta_len);
}

/*
 * Encode a record into buf, which has room for seg_record_size() bytes;
 * fields is a msgpack map, meta a msgpack map or NULL.  Returns its size.
 */
size_t
seg_record_encode(uint8_t *buf, uint64_t offset, int64_t event_ns,
    int64_t ingest_ns, const void *fields, size_t fields_len,
    const void *meta, size_t meta_len)
{
	uint8_t	*p = buf + REC_HEADER_SIZE;
	size_t	 size = seg_record_size(fields_len, meta != NULL ? meta_len : 0);

	*p++ = meta != NULL ? 0x95 : 0x94;
	*p++ = 0xcf;
	seg_put_be64(p, offset);
	p += 8;
	*p++ = 0xd3;
	seg_put_be64(p, (uint64_t)event_ns);
	p += 8;
	*p++ = 0xd3;
	seg_put_be64(p, (uint64_t)ingest_ns);
	p += 8;
	memcpy(p, fields, fields_len);
	p += fields_len;
	if (meta != NULL) {
		memcpy(p, meta, meta_len);
		p += meta_len;
	}
	seg_put_le32(buf, (uint32_t)(size - REC_HEADER_SIZE));
	seg_put_le32(buf + 4, crc32c(crc32c(0, buf, 4), buf + REC_HEADER_SIZE,
	    size - REC_HEADER_SIZE));
	return (size);
}

/*
 * Decode the record at buf, of which len bytes are at hand.  SEG_END for a
 * zero length (the end of the data, or zero fill), SEG_SHORT when the
 * record runs past len, SEG_BAD with *cause when the checksum or the
 * payload's structure is wrong.
 */
static enum seg_status
seg_record_decode1(const uint8_t *buf, size_t len, struct seg_record *rec,
    const char **cause, int lazy)
{
	struct msg_reader	 r;
	const uint8_t		*p;
	uint32_t		 plen, n;
	uint64_t		 off;
	int64_t			 t;

	if (len < 4)
		return (len == 0 ? SEG_END : SEG_SHORT);
	plen = seg_le32(buf);
	if (plen == 0)
		return (SEG_END);
	if (plen > REC_MAX_PAYLOAD) {
		*cause = "record length over 1 GiB";
		return (SEG_BAD);
	}
	if (len < REC_HEADER_SIZE || plen > len - REC_HEADER_SIZE)
		return (SEG_SHORT);
	if (seg_le32(buf + 4) != crc32c(crc32c(0, buf, 4), buf + REC_HEADER_SIZE,
	    plen)) {
		*cause = "checksum mismatch";
		return (SEG_BAD);
	}
	rec->size = REC_HEADER_SIZE + plen;
	p = buf + REC_HEADER_SIZE;
	/* As lamina writes it: [uint 64, int 64, int 64, fields]. */
	if (lazy && plen > 28 && p[0] == 0x94 && p[1] == 0xcf &&
	    p[10] == 0xd3 && p[19] == 0xd3 && (p[28] & 0xf0) == 0x80) {
		rec->offset = msg_be64(p + 2);
		rec->event_ns = (int64_t)msg_be64(p + 11);
		rec->ingest_ns = (int64_t)msg_be64(p + 20);
		rec->fields = p + 28;
		rec->fields_len = plen - 28;
		rec->meta = NULL;
		rec->meta_len = 0;
		return (SEG_OK);
	}
	msg_reader_init(&r, buf + REC_HEADER_SIZE, plen);
	if (msg_get_array(&r, &n) == -1 || (n != 4 && n != 5) ||
	    msg_get_uint(&r, &off) == -1) {
		*cause = "malformed record";
		return (SEG_BAD);
	}
	rec->offset = off;
	if (msg_get_int(&r, &t) == -1) {
		*cause = "malformed record";
		return (SEG_BAD);
	}
	rec->event_ns = t;
	if (msg_get_int(&r, &t) == -1) {
		*cause = "malformed record";
		return (SEG_BAD);
	}
	rec->ingest_ns = t;
	if (msg_peek(&r) != MSG_T_MAP ||
	    msg_get_raw(&r, &rec->fields, &rec->fields_len) == -1) {
		*cause = "malformed record";
		return (SEG_BAD);
	}
	rec->meta = NULL;
	rec->meta_len = 0;
	if (n == 5 && (msg_peek(&r) != MSG_T_MAP ||
	    msg_get_raw(&r, &rec->meta, &rec->meta_len) == -1)) {
		*cause = "malformed record";
		return (SEG_BAD);
	}
	if (msg_end(&r) == -1) {
		*cause = "malformed record";
		return (SEG_BAD);
	}
	return (SEG_OK);
}

enum seg_status
seg_record_decode(const uint8_t *buf, size_t len, struct seg_record *rec,
    const char **cause)
{
	return (seg_record_decode1(buf, len, rec, cause, 0));
}

/*
 * The same, but a record as lamina writes it without a meta map has its
 * fields map taken to run to the end of the payload, without walking it:
 * the caller must check that the map ends exactly there (agg_decode does).
 * The checksum is checked as always.
 */
enum seg_status
seg_record_decode_lazy(const uint8_t *buf, size_t len, struct seg_record *rec,
    const char **cause)
{
	return (seg_record_decode1(buf, len, rec, cause, 1));
}


/* Write the catalog header into buf[CAT_HEADER_SIZE]. */
void
cat_header_encode(uint8_t *buf)
{
	memset(buf, 0, CAT_HEADER_SIZE);
	memcpy(buf, CAT_MAGIC, 8);
	buf[8] = CAT_VERSION;
	buf[10] = CAT_ENTRY_SIZE;
	seg_put_le32(buf + 28, crc32c(0, buf, 28));
}

/* Check a catalog header. */
int
cat_header_decode(const uint8_t *buf, size_t len, const char **cause)
{
	if (len < CAT_HEADER_SIZE) {
		*cause = "catalog header truncated";
		return (-1);
	}
	if (memcmp(buf, CAT_MAGIC, 8) != 0) {
		*cause = "catalog: bad magic number";
		return (-1);
	}
	if (seg_le32(buf + 28) != crc32c(0, buf, 28)) {
		*cause = "catalog header checksum mismatch";
		return (-1);
	}
	if ((buf[8] | buf[9] << 8) != CAT_VERSION ||
	    (buf[10] | buf[11] << 8) != CAT_ENTRY_SIZE) {
		*cause = "catalog: unsupported format version";
		return (-1);
	}
	return (0);
}

/* Write one entry into buf[CAT_ENTRY_SIZE]. */
void
cat_entry_encode(uint8_t *buf, const struct cat_entry *e)
{
	seg_put_le64(buf, e->first);
	seg_put_le64(buf + 8, e->last);
	seg_put_le64(buf + 16, e->count);
	seg_put_le64(buf + 24, (uint64_t)e->min_event_ns);
	seg_put_le64(buf + 32, (uint64_t)e->max_event_ns);
	seg_put_le64(buf + 40, e->bytes);
	seg_put_le64(buf + 48, (uint64_t)e->sealed_ns);
	seg_put_le32(buf + 56, e->crc);
	seg_put_le32(buf + 60, crc32c(0, buf, 60));
}

/* Decode one entry; -1 if its checksum or its numbers are wrong. */
int
cat_entry_decode(const uint8_t *buf, struct cat_entry *e)
{
	if (seg_le32(buf + 60) != crc32c(0, buf, 60))
		return (-1);
	e->first = seg_le64(buf);
	e->last = seg_le64(buf + 8);
	e->count = seg_le64(buf + 16);
	e->min_event_ns = (int64_t)seg_le64(buf + 24);
	e->max_event_ns = (int64_t)seg_le64(buf + 32);
	e->bytes = seg_le64(buf + 40);
	e->sealed_ns = (int64_t)seg_le64(buf + 48);
	e->crc = seg_le32(buf + 56);
	if (e->last < e->first || e->count != e->last - e->first + 1 ||
	    e->bytes < SEG_HEADER_SIZE)
		return (-1);
	return (0);
}

/* The unsigned integer under key in a record's meta map: 0, or -1. */
int
seg_meta_uint(const uint8_t *meta, size_t len, const char *key,
    uint64_t *v)
{
	struct msg_reader	 r;
	const char		*k;
	size_t			 klen, want = strlen(key);
	uint32_t		 n;

	msg_reader_init(&r, meta, len);
	if (msg_get_map(&r, &n) == -1)
		return (-1);
	while (n-- > 0) {
		if (msg_get_str(&r, &k, &klen) == -1)
			return (-1);
		if (klen == want && memcmp(k, key, klen) == 0)
			return (msg_get_uint(&r, v));
		if (msg_skip(&r) == -1)
			return (-1);
	}
	return (-1);
}
