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
 * The on-disk format of the master dataset, byte by byte as in
 * docs/FORMAT.md: segment headers, records and the catalog of sealed
 * segments.  Only encoding, decoding and checking live here; master.c
 * writes and recovers a stream's log, master_reader.c reads it.
 */

#ifndef LAMINA_SEGMENT_H
#define LAMINA_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#define SEG_MAGIC		"LAMINASG"
#define SEG_VERSION		1
#define SEG_HEADER_SIZE		128
#define SEG_NAME_MAX		64
#define SEG_SUFFIX		".seg"
#define SEG_FILENAME_LEN	(20 + 4)	/* 20 digits and ".seg" */

#define REC_HEADER_SIZE		8		/* length, crc */
#define REC_MAX_PAYLOAD		(1u << 30)	/* 1 GiB */

#define CAT_MAGIC		"LAMINACT"
#define CAT_VERSION		1
#define CAT_FILENAME		"catalog"
#define CAT_HEADER_SIZE		32
#define CAT_ENTRY_SIZE		64

struct seg_header {
	uint16_t	version;
	uint64_t	first;		/* offset of the first record */
	int64_t		created_ns;	/* wall clock when created */
	char		stream[SEG_NAME_MAX + 1];
};

/* A decoded record; pointers borrow the buffer it was decoded from. */
struct seg_record {
	uint64_t	 offset;
	int64_t		 event_ns;
	int64_t		 ingest_ns;
	const uint8_t	*fields;	/* msgpack map */
	size_t		 fields_len;
	const uint8_t	*meta;		/* msgpack map, or NULL */
	size_t		 meta_len;
	size_t		 size;		/* bytes on disk, header included */
};

/* One sealed segment in the catalog. */
struct cat_entry {
	uint64_t	first;
	uint64_t	last;
	uint64_t	count;
	int64_t		min_event_ns;
	int64_t		max_event_ns;
	uint64_t	bytes;		/* file size, header included */
	int64_t		sealed_ns;
	uint32_t	crc;		/* crc32c of the whole file */
};

enum seg_status {
	SEG_OK,			/* a record was decoded */
	SEG_END,		/* zero length: end of data (or zero fill) */
	SEG_SHORT,		/* the record runs past the bytes at hand */
	SEG_BAD			/* checksum or structure is wrong */
};

void	seg_filename(char *, size_t, uint64_t);
int	seg_parse_filename(const char *, uint64_t *);
void	seg_header_encode(uint8_t *, const struct seg_header *);
int	seg_header_decode(const uint8_t *, size_t, struct seg_header *,
	    const char **);
size_t	seg_record_size(size_t, size_t);
size_t	seg_record_encode(uint8_t *, uint64_t, int64_t, int64_t,
	    const void *, size_t, const void *, size_t);
enum seg_status seg_record_decode(const uint8_t *, size_t,
	    struct seg_record *, const char **);
enum seg_status seg_record_decode_lazy(const uint8_t *, size_t,
	    struct seg_record *, const char **);

int	seg_meta_uint(const uint8_t *, size_t, const char *, uint64_t *);

void	cat_header_encode(uint8_t *);
int	cat_header_decode(const uint8_t *, size_t, const char **);
void	cat_entry_encode(uint8_t *, const struct cat_entry *);
int	cat_entry_decode(const uint8_t *, struct cat_entry *);

uint32_t seg_le32(const uint8_t *);
uint64_t seg_le64(const uint8_t *);
void	seg_put_le32(uint8_t *, uint32_t);
void	seg_put_le64(uint8_t *, uint64_t);

#endif
