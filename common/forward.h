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
 * Decoding Fluentd Forward Protocol v1 messages (see
 * shared/reference/PROTOCOLS.md): Message, Forward, PackedForward and
 * CompressedPackedForward, the time slot as an integer, an EventTime
 * (ext 0) or [time, metadata] (v1.5), and the options chunk, size and
 * compressed.  fwd_parse() takes one complete msgpack object (framed by
 * msg_scan) and lists its entries; an entry whose time or record is of the
 * wrong shape is kept with an error, for the quarantine.
 */

#ifndef LAMINA_FORWARD_H
#define LAMINA_FORWARD_H

#include <stddef.h>
#include <stdint.h>

enum fwd_mode {
	FWD_NONE,		/* heartbeat (nil) or not an array: ignored */
	FWD_MESSAGE,
	FWD_FORWARD,
	FWD_PACKED,
	FWD_COMPRESSED
};

struct fwd_entry {
	int64_t		 time_ns;
	const uint8_t	*record;	/* a msgpack map */
	size_t		 record_len;
	const uint8_t	*meta;		/* v1.5 metadata map, or NULL */
	size_t		 meta_len;
	const char	*error;		/* why the entry is unusable */
};

struct fwd_msg {
	enum fwd_mode	  mode;
	const char	 *tag;		/* borrowed, not NUL-terminated */
	size_t		  taglen;
	const char	 *chunk;	/* the chunk option, or NULL */
	size_t		  chunklen;
	struct fwd_entry *entries;
	size_t		  nentries;
	size_t		  cap;
	uint8_t		 *inflated;	/* CompressedPackedForward's data */
	size_t		  inflated_len;
};

void	fwd_msg_init(struct fwd_msg *);
void	fwd_msg_clear(struct fwd_msg *);
void	fwd_msg_free(struct fwd_msg *);
int	fwd_parse(const uint8_t *, size_t, size_t, size_t, struct fwd_msg *,
	    char **);
int	fwd_gunzip(const uint8_t *, size_t, size_t, uint8_t **, size_t *,
	    char **);

#endif
