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
 * Reading a stream of the master dataset (see master.h).  Segments are
 * read with pread into a buffer of READER_CHUNK bytes (grown for a larger
 * record), which stays in the CPU's caches while its records are checked
 * and decoded: faster than mapping a sealed segment, whose page table
 * costs more to build and tear down than the copy.  Sealed segments are
 * immutable, so every record is checked as it is read: a bad one is an
 * error naming the file and byte.  The active segment grows while it is
 * read, and a record that fails its check at the end is taken as one not
 * completely written yet: the reader stops there for now and tries again
 * on the next call.  When it finds the segment sealed in the meantime it
 * goes on to the next one, so a reader can follow the log indefinitely.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "master.h"
#include "segment.h"
#include "xmalloc.h"

#define READER_CHUNK	(256u << 10)

struct master_reader {
	char			*dir;
	uint64_t		 pos;		/* the next offset to return */
	uint64_t		 limit;		/* stop before this offset */
	int			 sealed_only;
	int			 lazy;		/* fields not walked */

	struct cat_entry	*cat;
	size_t			 ncat;
	size_t			 catbytes;	/* valid catalog bytes read */

	/* The open segment. */
	int			 open;
	int			 sealed;
	char			*path;
	uint64_t		 first;		/* its first offset */
	uint64_t		 last;		/* sealed: its last, per catalog */
	uint64_t		 expect;	/* the offset of the next record */
	uint64_t		 fileoff;	/* its byte in the file */
	uint64_t		 size;		/* sealed: its bytes */
	int			 fd;		/* read into buf */
	uint8_t			*buf;
	size_t			 bufcap;
	size_t			 buflen;
	uint64_t		 bufoff;	/* file byte of buf[0] */
};

/*
 * A reader of stream in data_dir, starting at offset from (or at the first
 * stored offset, if from is older).  The stream need not exist yet.
 */
struct master_reader *
master_reader_open(const char *data_dir, const char *stream, uint64_t from,
    char **cause)
{
	struct master_reader	*r;

	(void)cause;
	r = xcalloc(1, sizeof(*r));
	r->dir = master_stream_dir(data_dir, stream);
	r->pos = from;
	r->limit = UINT64_MAX;
	r->fd = -1;
	return (r);
}

/* Return no record at or after offset limit. */
void
master_reader_set_limit(struct master_reader *r, uint64_t limit)
{
	r->limit = limit;
}

/* Read sealed segments only (batchd). */
void
master_reader_sealed_only(struct master_reader *r, int on)
{
	r->sealed_only = on;
}

/*
 * Do not walk the fields map of sealed records to find its end (see
 * seg_record_decode_lazy): for a caller that decodes every map and checks
 * it ends where the record does.
 */
void
master_reader_lazy(struct master_reader *r, int on)
{
	r->lazy = on;
}

/* The offset the next record will have. */
uint64_t
master_reader_position(const struct master_reader *r)
{
	return (r->pos);
}

/* Close the open segment. */
static void
reader_close_segment(struct master_reader *r)
{
	r->size = 0;
	if (r->fd != -1)
		close(r->fd);
	r->fd = -1;
	r->buflen = 0;
	r->bufoff = 0;
	free(r->path);
	r->path = NULL;
	r->open = 0;
}

void
master_reader_free(struct master_reader *r)
{
	if (r == NULL)
		return;
	reader_close_segment(r);
	free(r->buf);
	free(r->cat);
	free(r->dir);
	free(r);
}

/* Read the catalog again if it has grown. */
static int
reader_load_catalog(struct master_reader *r, char **cause)
{
	struct cat_entry	*ents;
	size_t			 n, valid;

	if (master_catalog_read(r->dir, &ents, &n, &valid, cause) == -1)
		return (-1);
	free(r->cat);
	r->cat = ents;
	r->ncat = n;
	r->catbytes = valid;
	return (0);
}

/* The index of the catalog entry that holds offset, or -1. */
static ssize_t
reader_find(const struct master_reader *r, uint64_t offset)
{
	size_t	lo = 0, hi = r->ncat, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (r->cat[mid].last < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->ncat && r->cat[lo].first <= offset)
		return ((ssize_t)lo);
	return (-1);
}

/* Open sealed segment i. */
static int
reader_open_sealed(struct master_reader *r, size_t i, char **cause)
{
	struct seg_header	 h;
	struct stat		 sb;
	const char		*why;
	uint8_t			 hdr[SEG_HEADER_SIZE];
	char			 name[64];
	size_t			 got;

	seg_filename(name, sizeof(name), r->cat[i].first);
	xasprintf(&r->path, "%s/%s", r->dir, name);
	if ((r->fd = open(r->path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(r->fd, &sb) == -1) {
		xasprintf(cause, "%s: open sealed segment: %s", r->path,
		    strerror(errno));
		goto fail;
	}
	if ((uint64_t)sb.st_size != r->cat[i].bytes) {
		xasprintf(cause, "%s: sealed segment is %jd bytes, the catalog "
		    "says %" PRIu64, r->path, (intmax_t)sb.st_size,
		    r->cat[i].bytes);
		goto fail;
	}
	(void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (file_pread_all(r->fd, hdr, sizeof(hdr), 0, &got) == -1) {
		xasprintf(cause, "%s: read: %s", r->path, strerror(errno));
		goto fail;
	}
	if (seg_header_decode(hdr, got, &h, &why) == -1) {
		xasprintf(cause, "%s: byte 0: %s", r->path, why);
		goto fail;
	}
	if (h.first != r->cat[i].first) {
		xasprintf(cause, "%s: byte 16: header does not match the "
		    "catalog", r->path);
		goto fail;
	}
	r->open = r->sealed = 1;
	r->size = r->cat[i].bytes;
	r->first = r->expect = r->cat[i].first;
	r->last = r->cat[i].last;
	r->fileoff = r->bufoff = SEG_HEADER_SIZE;
	r->buflen = 0;
	return (0);
fail:
	reader_close_segment(r);
	return (-1);
}

/*
 * Open the active segment, which starts at first.  Returns 0 if it does
 * not exist yet or has no whole header (it is being created).
 */
static int
reader_open_active(struct master_reader *r, uint64_t first, char **cause)
{
	struct seg_header	 h;
	uint8_t			 hdr[SEG_HEADER_SIZE];
	const char		*why;
	char			 name[64];
	size_t			 got;

	seg_filename(name, sizeof(name), first);
	xasprintf(&r->path, "%s/%s", r->dir, name);
	if ((r->fd = open(r->path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			reader_close_segment(r);
			return (0);
		}
		xasprintf(cause, "%s: open: %s", r->path, strerror(errno));
		reader_close_segment(r);
		return (-1);
	}
	if (file_pread_all(r->fd, hdr, sizeof(hdr), 0, &got) == -1) {
		xasprintf(cause, "%s: read: %s", r->path, strerror(errno));
		reader_close_segment(r);
		return (-1);
	}
	if (got < sizeof(hdr) || seg_header_decode(hdr, got, &h, &why) == -1 ||
	    h.first != first) {
		reader_close_segment(r);
		return (0);
	}
	r->open = 1;
	r->sealed = 0;
	r->first = r->expect = first;
	r->fileoff = SEG_HEADER_SIZE;
	r->bufoff = SEG_HEADER_SIZE;
	r->buflen = 0;
	return (1);
}

/*
 * The first offset of the active segment of a stream whose catalog is
 * empty: the smallest segment file name.  0 if there is none yet.
 */
static int
reader_first_segment(struct master_reader *r, uint64_t *first)
{
	struct dirent	*de;
	DIR		*d;
	uint64_t	 v;
	int		 found = 0;

	*first = 0;
	if ((d = opendir(r->dir)) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL) {
		if (seg_parse_filename(de->d_name, &v) == -1)
			continue;
		if (!found || v < *first)
			*first = v;
		found = 1;
	}
	closedir(d);
	return (found);
}

/*
 * Open the segment that holds r->pos: a sealed one from the catalog, else
 * the active one.  Returns 1 when one is open, 0 when there is nothing to
 * read yet.
 */
static int
reader_open_for(struct master_reader *r, char **cause)
{
	ssize_t		i;
	uint64_t	first;

	if (reader_load_catalog(r, cause) == -1)
		return (-1);
	if (r->ncat > 0 && r->pos < r->cat[0].first)
		r->pos = r->cat[0].first;	/* older records are gone */
	if ((i = reader_find(r, r->pos)) != -1)
		return (reader_open_sealed(r, i, cause) == -1 ? -1 : 1);
	if (r->sealed_only)
		return (0);
	if (r->ncat > 0)
		first = r->cat[r->ncat - 1].last + 1;
	else if (!reader_first_segment(r, &first))
		return (0);
	if (r->pos < first)
		r->pos = first;
	return (reader_open_active(r, first, cause));
}

/*
 * Read on in the open segment: drop the bytes before fileoff from buf,
 * make room for at least want more and fill it from the file.  *got is
 * what was read, 0 at the end of the file.
 */
static int
reader_fill(struct master_reader *r, size_t want, size_t *got, char **cause)
{
	size_t	at = r->fileoff - r->bufoff;

	if (at > 0) {
		memmove(r->buf, r->buf + at, r->buflen - at);
		r->buflen -= at;
		r->bufoff += at;
	}
	if (r->bufcap < r->buflen + want) {
		r->bufcap = r->buflen + want;
		r->buf = xrealloc(r->buf, r->bufcap);
	}
	if (file_pread_all(r->fd, r->buf + r->buflen, r->bufcap - r->buflen,
	    r->bufoff + r->buflen, got) == -1) {
		xasprintf(cause, "%s: read: %s", r->path, strerror(errno));
		return (-1);
	}
	r->buflen += *got;
	return (0);
}

/*
 * The room reader_fill needs for the record at fileoff: READER_CHUNK, or
 * the whole record if its length (at most max bytes, or it is not trusted)
 * says it is larger.
 */
static size_t
reader_want(const struct master_reader *r, uint64_t max)
{
	size_t		at = r->fileoff - r->bufoff;
	uint32_t	plen;

	if (r->buflen - at >= 4) {
		plen = seg_le32(r->buf + at);
		if (plen <= REC_MAX_PAYLOAD &&
		    plen + (uint64_t)REC_HEADER_SIZE <= max &&
		    plen + REC_HEADER_SIZE > READER_CHUNK)
			return (plen + REC_HEADER_SIZE);
	}
	return (READER_CHUNK);
}

/* The next record of the open sealed segment; 0 at its end. */
static int
reader_next_sealed(struct master_reader *r, struct seg_record *rec,
    char **cause)
{
	enum seg_status	 rc;
	const char	*why;
	size_t		 at, got;

	for (;;) {
		if (r->fileoff == r->size) {
			/*
			 * Else it would be opened again for the offsets it
			 * lacks.
			 */
			if (r->expect <= r->last) {
				xasprintf(cause, "%s: sealed segment ends at "
				    "offset %" PRIu64 ", the catalog says its "
				    "last is %" PRIu64, r->path, r->expect,
				    r->last);
				return (-1);
			}
			return (0);
		}
		at = r->fileoff - r->bufoff;
		switch ((rc = (r->lazy ? seg_record_decode_lazy :
		    seg_record_decode)(r->buf + at, r->buflen - at, rec,
		    &why))) {
		case SEG_OK:
			if (rec->offset != r->expect) {
				xasprintf(cause, "%s: byte %" PRIu64 ": offset "
				    "%" PRIu64 " where %" PRIu64 " was "
				    "expected", r->path, r->fileoff,
				    rec->offset, r->expect);
				return (-1);
			}
			r->fileoff += rec->size;
			r->expect++;
			return (1);
		case SEG_BAD:
			xasprintf(cause, "%s: byte %" PRIu64 ": %s", r->path,
			    r->fileoff, why);
			return (-1);
		case SEG_END:	/* a zero length, or no bytes at hand */
		case SEG_SHORT:
			if ((r->buflen - at < 4 || rc == SEG_SHORT) &&
			    r->bufoff + r->buflen < r->size) {
				if (reader_fill(r, reader_want(r,
				    r->size - r->fileoff), &got, cause) == -1)
					return (-1);
				if (got > 0)
					continue;
			}
			break;
		}
		xasprintf(cause, "%s: byte %" PRIu64 ": sealed segment ends "
		    "inside a record", r->path, r->fileoff);
		return (-1);
	}
}

/*
 * No whole record follows in the active segment for now.  Forget the
 * bytes read past the last whole record: they may be a record still being
 * written, or a torn tail that recovery will replace, so the next call
 * reads them again from the file.
 */
static int
reader_active_wait(struct master_reader *r)
{
	r->bufoff = r->fileoff;
	r->buflen = 0;
	return (0);
}

/*
 * The next whole record of the open active segment; 0 when the data
 * written so far ends (or ends in a record still being written).
 */
static int
reader_next_active(struct master_reader *r, struct seg_record *rec,
    char **cause)
{
	const char	*why;
	size_t		 at, got;

	for (;;) {
		at = r->fileoff - r->bufoff;
		switch (seg_record_decode(r->buf + at, r->buflen - at, rec,
		    &why)) {
		case SEG_OK:
			if (rec->offset != r->expect)
				return (reader_active_wait(r));
			r->fileoff += rec->size;
			r->expect++;
			return (1);
		case SEG_END:
			if (r->buflen - at >= 4)
				return (reader_active_wait(r));
			break;
		case SEG_BAD:
			return (reader_active_wait(r));
		case SEG_SHORT:
			break;
		}
		if (reader_fill(r, reader_want(r, UINT64_MAX), &got,
		    cause) == -1)
			return (-1);
		if (got == 0)
			return (reader_active_wait(r));
	}
}

/*
 * The active segment has no more whole records.  If it has been sealed
 * since it was opened, go on from where the reader is: 1 if the reader
 * moved on (or reopened it as sealed), 0 if there is nothing more yet.
 */
static int
reader_check_sealed(struct master_reader *r, char **cause)
{
	ssize_t		i;
	uint64_t	fileoff, expect;

	if (reader_load_catalog(r, cause) == -1)
		return (-1);
	if ((i = reader_find(r, r->first)) == -1)
		return (0);
	fileoff = r->fileoff;
	expect = r->expect;
	reader_close_segment(r);
	if (expect > r->cat[i].last)
		return (1);	/* reader_open_for() takes the next one */
	if (reader_open_sealed(r, i, cause) == -1)
		return (-1);
	r->fileoff = r->bufoff = fileoff;
	r->expect = expect;
	return (1);
}

/*
 * Return the next record in rec: 1 and a record, 0 when there is none yet
 * (call again later to follow the log), -1 with *cause on a damaged sealed
 * segment or an I/O error.  rec's pointers live until the next call.
 */
int
master_reader_next(struct master_reader *r, struct master_record *out,
    char **cause)
{
	struct seg_record	rec;
	int			rc;

	for (;;) {
		if (r->pos >= r->limit)
			return (0);
		if (!r->open) {
			if ((rc = reader_open_for(r, cause)) <= 0)
				return (rc);
		}
		rc = r->sealed ? reader_next_sealed(r, &rec, cause) :
		    reader_next_active(r, &rec, cause);
		if (rc == -1)
			return (-1);
		if (rc == 0) {
			if (r->sealed) {
				reader_close_segment(r);
				continue;
			}
			if ((rc = reader_check_sealed(r, cause)) <= 0)
				return (rc);
			continue;
		}
		if (rec.offset < r->pos)
			continue;	/* before the start asked for */
		if (rec.offset >= r->limit) {
			/* Not returned: read it again next time. */
			r->fileoff -= rec.size;
			r->expect--;
			return (0);
		}
		out->offset = rec.offset;
		out->event_ns = rec.event_ns;
		out->ingest_ns = rec.ingest_ns;
		out->fields = rec.fields;
		out->fields_len = rec.fields_len;
		out->meta = rec.meta;
		out->meta_len = rec.meta_len;
		r->pos = rec.offset + 1;
		return (1);
	}
}
