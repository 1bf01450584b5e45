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
 * The master dataset: one append-only log per stream under
 * DATA_DIR/master/STREAM/, split into segments named by their first offset
 * and listed, once sealed, in the stream's catalog.  The format is in
 * segment.h and docs/FORMAT.md.
 *
 * The writer (struct master_stream) belongs to lamina-ingestd, the only
 * writer.  master_open() recovers the stream: it checks the catalog and
 * the sealed segments and truncates a torn tail of the active segment,
 * describing what it did in a struct master_recovery.  Appends are
 * buffered by master_append(), written by master_write() and made durable
 * by master_sync(); master_maybe_seal() seals the active segment when it is
 * full or old enough.  Not thread-safe: one thread calls all of these,
 * except that master_sync_fd() may be fdatasync'd from another thread while
 * the owner goes on appending (see master_sync_begin).
 *
 * The reader (struct master_reader) is for everyone else: it iterates a
 * stream's records from any offset through the sealed segments and the
 * written part of the active one, and can be called again later to follow
 * the log as it grows.
 */

#ifndef LAMINA_MASTER_H
#define LAMINA_MASTER_H

#include <stddef.h>
#include <stdint.h>

#include "segment.h"

struct master_opts {
	uint64_t	segment_max_bytes;
	uint64_t	segment_max_age_ms;
	uint64_t	preallocate;	/* zeros written ahead; 0: none */
	int		verify_full;	/* check every sealed record at open */
};

/* What recovery found and did; the caller logs it. */
struct master_recovery {
	size_t		segments;	/* sealed segments checked */
	uint64_t	records;	/* records in the active segment */
	uint64_t	next_offset;
	uint64_t	dropped_bytes;	/* torn tail removed */
	uint64_t	dropped_at;	/* at this byte of the active file */
	char		reason[160];	/* why, if dropped_bytes > 0 */
	char		active[128];	/* the active segment's file name */
	int		catalog_repaired; /* a torn catalog entry removed */
	int		header_rewritten; /* a torn new segment recreated */
};

struct master_stats {
	uint64_t	next_offset;	/* the next offset to assign */
	uint64_t	committed;	/* offsets below are durable */
	uint64_t	sealed_segments;
	uint64_t	sealed_bytes;
	uint64_t	active_first;
	uint64_t	active_bytes;	/* header and written records */
	uint64_t	buffered_bytes;	/* appended, not yet written */
};

/* One record as a reader returns it; pointers live until the next call. */
struct master_record {
	uint64_t	 offset;
	int64_t		 event_ns;
	int64_t		 ingest_ns;
	const uint8_t	*fields;	/* msgpack map */
	size_t		 fields_len;
	const uint8_t	*meta;		/* msgpack map or NULL */
	size_t		 meta_len;
};

struct master_stream;
struct master_reader;

struct master_stream *master_open(const char *, const char *,
		    const struct master_opts *, struct master_recovery *,
		    char **);
void		 master_close(struct master_stream *);
int		 master_append(struct master_stream *, int64_t, int64_t,
		    const void *, size_t, const void *, size_t, uint64_t *,
		    char **);
int		 master_write(struct master_stream *, char **);
int		 master_sync(struct master_stream *, char **);
int		 master_sync_begin(struct master_stream *, uint64_t *);
void		 master_sync_end(struct master_stream *, uint64_t);
int		 master_maybe_seal(struct master_stream *, int64_t, int *,
		    char **);
int		 master_seal(struct master_stream *, int64_t, char **);
void		 master_stats(const struct master_stream *,
		    struct master_stats *);
const char	*master_stream_name(const struct master_stream *);

struct master_reader *master_reader_open(const char *, const char *,
		    uint64_t, char **);
void		 master_reader_set_limit(struct master_reader *, uint64_t);
void		 master_reader_sealed_only(struct master_reader *, int);
void		 master_reader_lazy(struct master_reader *, int);
int		 master_reader_next(struct master_reader *,
		    struct master_record *, char **);
uint64_t	 master_reader_position(const struct master_reader *);
void		 master_reader_free(struct master_reader *);

int		 master_catalog_read(const char *, struct cat_entry **,
		    size_t *, size_t *, char **);
int		 master_list_streams(const char *, char ***, size_t *,
		    char **);
char		*master_stream_dir(const char *, const char *);
int		 master_verify_segment(const char *, const struct cat_entry *,
		    char **);

#endif
