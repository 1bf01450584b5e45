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
 * MessagePack framing and reading.  Packing uses msgpack-c's packer.
 * Reading never builds an object tree: msg_scan() finds where one object
 * ends in a byte stream, checking every declared length against a maximum
 * and the nesting depth before anything is allocated, and can resume where
 * it stopped when more bytes arrive.  A struct msg_reader then walks a
 * complete object with typed getters, after OpenSMTPD's m_get_*: each reads
 * one value of one type or fails with a description, and msg_end() refuses
 * leftover bytes.  Strings and binaries are borrowed: they point into the
 * buffer and live as long as it does.
 */

#ifndef LAMINA_MSG_H
#define LAMINA_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define MSG_MAX_DEPTH	32	/* deepest nesting accepted anywhere */

enum msg_type {
	MSG_T_NONE,		/* end of input or invalid byte */
	MSG_T_NIL,
	MSG_T_BOOL,
	MSG_T_UINT,		/* positive integer */
	MSG_T_INT,		/* negative integer */
	MSG_T_FLOAT,
	MSG_T_STR,
	MSG_T_BIN,
	MSG_T_ARRAY,
	MSG_T_MAP,
	MSG_T_EXT
};

/* Resumable scanner state; see msg_scan(). */
struct msg_scan {
	size_t		pos;		/* next byte to look at */
	int		depth;		/* open containers */
	uint64_t	remain[MSG_MAX_DEPTH + 1]; /* items left per level */
};

/* A cursor over complete msgpack bytes. */
struct msg_reader {
	const uint8_t	*p;
	const uint8_t	*end;
	const char	*error;		/* static text of the last failure */
	char		 errbuf[96];
};

void	msg_scan_init(struct msg_scan *);
int	msg_scan(struct msg_scan *, const void *, size_t, size_t, size_t *,
	    const char **);

/* Big-endian integers, as msgpack writes them. */
static inline uint16_t
msg_be16(const uint8_t *p)
{
	return ((uint16_t)(p[0] << 8 | p[1]));
}

static inline uint32_t
msg_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static inline uint64_t
msg_be64(const uint8_t *p)
{
	return ((uint64_t)msg_be32(p) << 32 | msg_be32(p + 4));
}

void	msg_reader_init(struct msg_reader *, const void *, size_t);
enum msg_type msg_peek(const struct msg_reader *);
const char *msg_type_name(enum msg_type);
int	msg_get_nil(struct msg_reader *);
int	msg_get_bool(struct msg_reader *, int *);
int	msg_get_int(struct msg_reader *, int64_t *);
int	msg_get_uint(struct msg_reader *, uint64_t *);
int	msg_get_float(struct msg_reader *, double *);
int	msg_get_number(struct msg_reader *, double *);
int	msg_get_str(struct msg_reader *, const char **, size_t *);
int	msg_get_bin(struct msg_reader *, const uint8_t **, size_t *);
int	msg_get_strbin(struct msg_reader *, const uint8_t **, size_t *);
int	msg_get_ext(struct msg_reader *, int8_t *, const uint8_t **,
	    size_t *);
int	msg_get_array(struct msg_reader *, uint32_t *);
int	msg_get_map(struct msg_reader *, uint32_t *);
int	msg_get_raw(struct msg_reader *, const uint8_t **, size_t *);
int	msg_skip(struct msg_reader *);
int	msg_end(struct msg_reader *);
size_t	msg_left(const struct msg_reader *);
const char *msg_error(const struct msg_reader *);

int	msg_valid_utf8(const void *, size_t);
int	msg_ext_time(int8_t, const uint8_t *, size_t, int64_t *, int64_t *);

void	msg_pack_str(msgpack_packer *, const char *);
void	msg_pack_strn(msgpack_packer *, const void *, size_t);
void	msg_pack_kv_str(msgpack_packer *, const char *, const char *);
void	msg_pack_kv_uint(msgpack_packer *, const char *, uint64_t);
void	msg_pack_kv_int(msgpack_packer *, const char *, int64_t);
void	msg_pack_kv_double(msgpack_packer *, const char *, double);

#endif
