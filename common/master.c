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
 * The writer of the master dataset and its recovery (see master.h).
 *
 * Crash safety rests on an order of writes that leaves every intermediate
 * state recoverable:
 *  - a new segment's header is written and fdatasync'd, and its directory
 *    fsync'd, before any record goes into it;
 *  - records are appended with pwrite and become durable by fdatasync;
 *    only then are they acknowledged (by the caller);
 *  - sealing fdatasyncs the segment, then appends the catalog entry and
 *    fdatasyncs the catalog, and only then creates the next segment.
 * So at most one segment is missing from the catalog: the last one, the
 * active segment.  Its tail may be torn (a crash during a write); recovery
 * truncates it at the first record that fails its check.  A sealed segment
 * is never repaired: if it fails its check, the stream refuses to open.
 */

#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "file.h"
#include "master.h"
#include "segment.h"
#include "xmalloc.h"

struct master_stream {
	char			*name;
	char			*dir;
	struct master_opts	 opts;

	int			 catfd;
	struct cat_entry	*cat;
	size_t			 ncat;
	size_t			 catcap;
	uint64_t		 sealed_bytes;	/* sum of the cat[].bytes */

	/* The active segment. */
	int			 fd;
	char			*path;
	uint64_t		 first;		/* its first offset */
	uint64_t		 written;	/* bytes in the file */
	uint64_t		 zeroed;	/* file size with zero fill */
	uint32_t		 crc;		/* crc32c of written bytes */
	uint64_t		 nrec;		/* records written */
	int64_t			 min_ev, max_ev;
	int64_t			 first_ingest;	/* of its first record */

	/* Records appended but not written yet. */
	uint8_t			*buf;
	size_t			 buflen;
	size_t			 bufcap;
	uint64_t		 pend_nrec;
	int64_t			 pend_min, pend_max, pend_first_ingest;

	uint64_t		 next;		/* next offset to assign */
	uint64_t		 written_next;	/* below: in the file */
	uint64_t		 committed;	/* below: durable */
	int			 syncing;	/* master_sync_begin pending */
};

static int64_t
master_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* Set *cause to "PATH: what: strerror" and return -1. */
static int
master_syserr(char **cause, const char *path, const char *what)
{
	int	saved = errno;

	xasprintf(cause, "%s: %s: %s", path, what, strerror(saved));
	errno = saved;
	return (-1);
}

/* The directory of a stream's log. */
char *
master_stream_dir(const char *data_dir, const char *stream)
{
	char	*dir;

	xasprintf(&dir, "%s/master/%s", data_dir, stream);
	return (dir);
}

/*
 * Read a stream's catalog.  A torn last entry (a crash while it was
 * appended) is left out and *valid says how many bytes of the file are
 * whole; a bad entry before the last one is an error.  A missing catalog
 * is an empty one.
 */
int
master_catalog_read(const char *dir, struct cat_entry **entsp, size_t *np,
    size_t *valid, char **cause)
{
	char			*path;
	uint8_t			*buf = NULL;
	struct stat		 sb;
	struct cat_entry	*ents = NULL;
	size_t			 n = 0, i, got;
	const char		*why;
	int			 fd;

	*entsp = NULL;
	*np = 0;
	*valid = 0;
	xasprintf(&path, "%s/%s", dir, CAT_FILENAME);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			free(path);
			return (0);
		}
		goto syserr;
	}
	if (fstat(fd, &sb) == -1)
		goto syserr;
	if (sb.st_size == 0)
		goto done;
	if (sb.st_size > (off_t)1 << 32) {
		xasprintf(cause, "%s: catalog larger than 4 GiB", path);
		goto fail;
	}
	buf = xmalloc(sb.st_size);
	if (file_pread_all(fd, buf, sb.st_size, 0, &got) == -1)
		goto syserr;
	if (cat_header_decode(buf, got, &why) == -1) {
		xasprintf(cause, "%s: %s", path, why);
		goto fail;
	}
	*valid = CAT_HEADER_SIZE;
	n = (got - CAT_HEADER_SIZE) / CAT_ENTRY_SIZE;
	if (n > 0)
		ents = xcalloc(n, sizeof(*ents));
	for (i = 0; i < n; i++) {
		if (cat_entry_decode(buf + CAT_HEADER_SIZE +
		    i * CAT_ENTRY_SIZE, &ents[i]) == -1) {
			if (i == n - 1) {	/* torn append */
				n = i;
				break;
			}
			xasprintf(cause, "%s: entry %zu at byte %zu: checksum "
			    "mismatch", path, i,
			    CAT_HEADER_SIZE + i * CAT_ENTRY_SIZE);
			goto fail;
		}
		if (i > 0 && ents[i].first != ents[i - 1].last + 1) {
			xasprintf(cause, "%s: entry %zu at byte %zu: first "
			    "offset %" PRIu64 " does not follow %" PRIu64,
			    path, i, CAT_HEADER_SIZE + i * CAT_ENTRY_SIZE,
			    ents[i].first, ents[i - 1].last);
			goto fail;
		}
	}
	*valid = CAT_HEADER_SIZE + n * CAT_ENTRY_SIZE;
done:
	close(fd);
	free(buf);
	free(path);
	if (n == 0) {
		free(ents);
		ents = NULL;
	}
	*entsp = ents;
	*np = n;
	return (0);
syserr:
	master_syserr(cause, path, "read");
fail:
	if (fd != -1)
		close(fd);
	free(ents);
	free(buf);
	free(path);
	return (-1);
}

/*
 * Check every record of a sealed segment against its catalog entry:
 * header, consecutive offsets, count, size and the file's checksum.  The
 * error names the file and the byte offset of the first bad record.
 */
int
master_verify_segment(const char *path, const struct cat_entry *e,
    char **cause)
{
	struct stat		 sb;
	struct seg_header	 h;
	struct seg_record	 rec;
	uint8_t			*map;
	uint64_t		 pos, want;
	const char		*why;
	int			 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (master_syserr(cause, path, "open sealed segment"));
	if (fstat(fd, &sb) == -1) {
		master_syserr(cause, path, "stat");
		close(fd);
		return (-1);
	}
	if ((uint64_t)sb.st_size != e->bytes) {
		xasprintf(cause, "%s: sealed segment is %jd bytes, the catalog "
		    "says %" PRIu64, path, (intmax_t)sb.st_size, e->bytes);
		close(fd);
		return (-1);
	}
	map = mmap(NULL, e->bytes, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return (master_syserr(cause, path, "mmap"));
	(void)madvise(map, e->bytes, MADV_SEQUENTIAL);
	if (seg_header_decode(map, e->bytes, &h, &why) == -1) {
		xasprintf(cause, "%s: byte 0: %s", path, why);
		goto out;
	}
	if (h.first != e->first) {
		xasprintf(cause, "%s: byte 16: header says first offset %"
		    PRIu64 ", the catalog %" PRIu64, path, h.first, e->first);
		goto out;
	}
	pos = SEG_HEADER_SIZE;
	for (want = e->first; want <= e->last; want++) {
		switch (seg_record_decode(map + pos, e->bytes - pos, &rec,
		    &why)) {
		case SEG_OK:
			break;
		case SEG_END:
		case SEG_SHORT:
			xasprintf(cause, "%s: byte %" PRIu64 ": sealed segment "
			    "ends before offset %" PRIu64, path, pos, want);
			goto out;
		case SEG_BAD:
			xasprintf(cause, "%s: byte %" PRIu64 ": %s", path, pos,
			    why);
			goto out;
		}
		if (rec.offset != want) {
			xasprintf(cause, "%s: byte %" PRIu64 ": offset %" PRIu64
			    " where %" PRIu64 " was expected", path, pos,
			    rec.offset, want);
			goto out;
		}
		pos += rec.size;
	}
	if (pos != e->bytes) {
		xasprintf(cause, "%s: byte %" PRIu64 ": data after the last "
		    "record", path, pos);
		goto out;
	}
	if (crc32c(0, map, e->bytes) != e->crc) {
		xasprintf(cause, "%s: file checksum does not match the "
		    "catalog", path);
		goto out;
	}
	rc = 0;
out:
	munmap(map, e->bytes);
	return (rc);
}

/* Quick check of a sealed segment: its size and header. */
static int
master_check_sealed_quick(const char *path, const struct cat_entry *e,
    char **cause)
{
	struct stat		 sb;
	struct seg_header	 h;
	uint8_t			 hdr[SEG_HEADER_SIZE];
	const char		*why;
	size_t			 got;
	int			 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (master_syserr(cause, path, "open sealed segment"));
	rc = fstat(fd, &sb) == -1 || file_pread_all(fd, hdr, sizeof(hdr), 0,
	    &got) == -1 ? -1 : 0;
	close(fd);
	if (rc == -1)
		return (master_syserr(cause, path, "read"));
	if ((uint64_t)sb.st_size != e->bytes) {
		xasprintf(cause, "%s: sealed segment is %jd bytes, the catalog "
		    "says %" PRIu64, path, (intmax_t)sb.st_size, e->bytes);
		return (-1);
	}
	if (seg_header_decode(hdr, got, &h, &why) == -1) {
		xasprintf(cause, "%s: byte 0: %s", path, why);
		return (-1);
	}
	if (h.first != e->first) {
		xasprintf(cause, "%s: byte 16: header says first offset %"
		    PRIu64 ", the catalog %" PRIu64, path, h.first, e->first);
		return (-1);
	}
	return (0);
}

static int
master_cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* The first offsets of the segment files in dir, sorted. */
static int
master_list_segments(const char *dir, uint64_t **firstp, size_t *np,
    char **cause)
{
	DIR		*d;
	struct dirent	*de;
	uint64_t	*v = NULL, first;
	size_t		 n = 0, cap = 0;

	if ((d = opendir(dir)) == NULL)
		return (master_syserr(cause, dir, "opendir"));
	while ((de = readdir(d)) != NULL) {
		if (seg_parse_filename(de->d_name, &first) == -1)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = first;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), master_cmp_u64);
	*firstp = v;
	*np = n;
	return (0);
}

/* The path of the segment file that starts at first. */
static char *
master_seg_path(const char *dir, uint64_t first)
{
	char	 name[64], *path;

	seg_filename(name, sizeof(name), first);
	xasprintf(&path, "%s/%s", dir, name);
	return (path);
}

/* Create the active segment at ms->first, durably, with its header. */
static int
master_create_active(struct master_stream *ms, char **cause)
{
	struct seg_header	h;
	uint8_t			hdr[SEG_HEADER_SIZE];

	free(ms->path);
	ms->path = master_seg_path(ms->dir, ms->first);
	ms->fd = open(ms->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (ms->fd == -1)
		return (master_syserr(cause, ms->path, "create segment"));
	memset(&h, 0, sizeof(h));
	h.first = ms->first;
	h.created_ns = master_now_ns();
	snprintf(h.stream, sizeof(h.stream), "%s", ms->name);
	seg_header_encode(hdr, &h);
	if (file_pwrite_all(ms->fd, hdr, sizeof(hdr), 0) == -1 ||
	    fdatasync(ms->fd) == -1 || file_fsync_dir(ms->dir) == -1)
		return (master_syserr(cause, ms->path, "write segment header"));
	ms->written = ms->zeroed = SEG_HEADER_SIZE;
	ms->crc = crc32c(0, hdr, sizeof(hdr));
	ms->nrec = 0;
	ms->min_ev = INT64_MAX;
	ms->max_ev = INT64_MIN;
	ms->first_ingest = 0;
	return (0);
}

/* Return 1 if buf[0..len) holds only zeros. */
static int
master_all_zero(const uint8_t *buf, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (buf[i] != 0)
			return (0);
	return (1);
}

/*
 * Recover the active segment at ms->first: scan its records, truncate a
 * torn tail at the first one that fails its check, and take its state.
 */
static int
master_recover_active(struct master_stream *ms, struct master_recovery *rep,
    char **cause)
{
	struct stat		 sb;
	struct seg_header	 h;
	struct seg_record	 rec;
	uint8_t			*map = NULL;
	uint64_t		 size, pos, want;
	const char		*why = NULL;
	char			 reason[128];
	int			 bad = 0;
	uint64_t		 bn;
	struct {
		uint64_t	 pos, offset, n;
		uint32_t	 crc;
		int64_t		 min, max, first_ingest;
	}			 b;

	ms->path = master_seg_path(ms->dir, ms->first);
	if ((ms->fd = open(ms->path, O_RDWR | O_CLOEXEC)) == -1)
		return (master_syserr(cause, ms->path, "open segment"));
	if (fstat(ms->fd, &sb) == -1)
		return (master_syserr(cause, ms->path, "stat"));
	size = sb.st_size;
	if (size > 0) {
		map = mmap(NULL, size, PROT_READ, MAP_SHARED, ms->fd, 0);
		if (map == MAP_FAILED)
			return (master_syserr(cause, ms->path, "mmap"));
	}
	if (size < SEG_HEADER_SIZE || seg_header_decode(map, size, &h,
	    &why) == -1) {
		/*
		 * The header is written and synced before any record, so a
		 * missing one with nothing but zeros after it is a creation
		 * cut short: nothing in it was ever acknowledged.
		 */
		if (size > 0 && !master_all_zero(map, size) &&
		    size >= SEG_HEADER_SIZE) {
			xasprintf(cause, "%s: byte 0: %s", ms->path, why);
			munmap(map, size);
			return (-1);
		}
		if (map != NULL)
			munmap(map, size);
		close(ms->fd);
		if (unlink(ms->path) == -1)
			return (master_syserr(cause, ms->path, "unlink"));
		rep->header_rewritten = 1;
		return (master_create_active(ms, cause));
	}
	if (h.first != ms->first || strcmp(h.stream, ms->name) != 0) {
		xasprintf(cause, "%s: byte 16: header names stream %s at offset "
		    "%" PRIu64, ms->path, h.stream, h.first);
		munmap(map, size);
		return (-1);
	}

	ms->crc = crc32c(0, map, SEG_HEADER_SIZE);
	ms->nrec = 0;
	ms->min_ev = INT64_MAX;
	ms->max_ev = INT64_MIN;
	ms->first_ingest = 0;
	pos = SEG_HEADER_SIZE;
	reason[0] = '\0';
	memset(&b, 0, sizeof(b));
	for (want = ms->first;; want++) {
		switch (seg_record_decode(map + pos, size - pos, &rec, &why)) {
		case SEG_OK:
			if (rec.offset != want) {
				snprintf(reason, sizeof(reason), "offset %"
				    PRIu64 " where %" PRIu64 " was expected",
				    rec.offset, want);
				bad = 1;
				break;
			}
			if (rec.meta != NULL && seg_meta_uint(rec.meta,
			    rec.meta_len, "n", &bn) == 0 && bn > 1) {
				/* A batch starts: remember where, and the
				 * state before it, to drop it if torn. */
				b.pos = pos;
				b.offset = rec.offset;
				b.n = bn;
				b.crc = ms->crc;
				b.min = ms->min_ev;
				b.max = ms->max_ev;
				b.first_ingest = ms->first_ingest;
			}
			if (ms->nrec == 0)
				ms->first_ingest = rec.ingest_ns;
			ms->nrec++;
			if (rec.event_ns < ms->min_ev)
				ms->min_ev = rec.event_ns;
			if (rec.event_ns > ms->max_ev)
				ms->max_ev = rec.event_ns;
			ms->crc = crc32c(ms->crc, map + pos, rec.size);
			pos += rec.size;
			continue;
		case SEG_END:
			if (!master_all_zero(map + pos, size - pos))
				snprintf(reason, sizeof(reason),
				    "zero length followed by data");
			bad = 1;
			break;
		case SEG_SHORT:
			snprintf(reason, sizeof(reason),
			    "record runs past the end of the file");
			bad = 1;
			break;
		case SEG_BAD:
			snprintf(reason, sizeof(reason), "%s", why);
			bad = 1;
			break;
		}
		if (bad)
			break;
	}
	munmap(map, size);
	/*
	 * A batch (one append, one Forward chunk) is stored whole or not at
	 * all: its client had no answer, and will send it again.  A batch
	 * whose first record says n records but fewer follow was cut short
	 * by the crash; drop it like a torn record.
	 */
	if (b.n > 1 && ms->first + ms->nrec - b.offset < b.n) {
		snprintf(reason, sizeof(reason), "incomplete batch: %" PRIu64
		    " of %" PRIu64 " records", ms->first + ms->nrec - b.offset,
		    b.n);
		ms->nrec = b.offset - ms->first;
		ms->crc = b.crc;
		ms->min_ev = b.min;
		ms->max_ev = b.max;
		ms->first_ingest = b.first_ingest;
		pos = b.pos;
	}
	if (pos < size) {
		if (reason[0] != '\0') {
			rep->dropped_bytes = size - pos;
			rep->dropped_at = pos;
			snprintf(rep->reason, sizeof(rep->reason), "%s", reason);
		}
		if (ftruncate(ms->fd, pos) == -1 || fdatasync(ms->fd) == -1)
			return (master_syserr(cause, ms->path, "truncate"));
	}
	ms->written = ms->zeroed = pos;
	rep->records = ms->nrec;
	return (0);
}

/*
 * Open a stream's log for writing, creating it if it is new, and recover
 * it.  Fails, naming the file and byte, if the catalog or a sealed segment
 * is damaged: those are never repaired automatically.
 */
struct master_stream *
master_open(const char *data_dir, const char *stream,
    const struct master_opts *opts, struct master_recovery *rep,
    char **cause)
{
	struct master_stream	*ms;
	uint64_t		*segs = NULL, expect;
	size_t			 nsegs = 0, i, valid;
	char			*path, *catpath = NULL;
	uint8_t			 hdr[CAT_HEADER_SIZE];
	struct stat		 sb;

	memset(rep, 0, sizeof(*rep));
	ms = xcalloc(1, sizeof(*ms));
	ms->name = xstrdup(stream);
	ms->dir = master_stream_dir(data_dir, stream);
	ms->opts = *opts;
	ms->fd = ms->catfd = -1;
	ms->pend_min = INT64_MAX;
	ms->pend_max = INT64_MIN;

	if (file_mkdirs(ms->dir, 0750) == -1) {
		master_syserr(cause, ms->dir, "create directory");
		goto fail;
	}

	/* The catalog: create it, or read it and cut a torn last entry. */
	xasprintf(&catpath, "%s/%s", ms->dir, CAT_FILENAME);
	ms->catfd = open(catpath, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (ms->catfd == -1 || fstat(ms->catfd, &sb) == -1) {
		master_syserr(cause, catpath, "open catalog");
		goto fail;
	}
	if (sb.st_size < CAT_HEADER_SIZE) {
		/*
		 * New, or its creation was cut short: entries only follow a
		 * whole header, so there is nothing to lose.  If sealed
		 * segments exist all the same, the checks below refuse them.
		 */
		cat_header_encode(hdr);
		if (ftruncate(ms->catfd, 0) == -1 ||
		    file_pwrite_all(ms->catfd, hdr, sizeof(hdr), 0) == -1 ||
		    fdatasync(ms->catfd) == -1 ||
		    file_fsync_dir(ms->dir) == -1) {
			master_syserr(cause, catpath, "create catalog");
			goto fail;
		}
	}
	if (master_catalog_read(ms->dir, &ms->cat, &ms->ncat, &valid,
	    cause) == -1)
		goto fail;
	ms->catcap = ms->ncat;
	if (fstat(ms->catfd, &sb) == -1) {
		master_syserr(cause, catpath, "stat");
		goto fail;
	}
	if ((uint64_t)sb.st_size != valid) {
		if (ftruncate(ms->catfd, valid) == -1 ||
		    fdatasync(ms->catfd) == -1) {
			master_syserr(cause, catpath, "truncate torn entry");
			goto fail;
		}
		rep->catalog_repaired = 1;
	}

	/* The sealed segments: each must be there and whole. */
	if (master_list_segments(ms->dir, &segs, &nsegs, cause) == -1)
		goto fail;
	for (i = 0; i < ms->ncat; i++) {
		path = master_seg_path(ms->dir, ms->cat[i].first);
		if (i >= nsegs || segs[i] != ms->cat[i].first) {
			xasprintf(cause, "%s: sealed segment missing (listed in "
			    "the catalog)", path);
			free(path);
			goto fail;
		}
		if ((opts->verify_full ? master_verify_segment(path,
		    &ms->cat[i], cause) : master_check_sealed_quick(path,
		    &ms->cat[i], cause)) == -1) {
			free(path);
			goto fail;
		}
		free(path);
	}
	rep->segments = ms->ncat;
	for (i = 0; i < ms->ncat; i++)
		ms->sealed_bytes += ms->cat[i].bytes;

	/* At most one segment after them: the active one. */
	expect = ms->ncat > 0 ? ms->cat[ms->ncat - 1].last + 1 :
	    (nsegs > 0 ? segs[0] : 0);
	if (nsegs > ms->ncat + 1) {
		path = master_seg_path(ms->dir, segs[ms->ncat]);
		xasprintf(cause, "%s: segment is not in the catalog but is not "
		    "the last one", path);
		free(path);
		goto fail;
	}
	ms->first = expect;
	if (nsegs == ms->ncat + 1) {
		if (segs[ms->ncat] != expect) {
			path = master_seg_path(ms->dir, segs[ms->ncat]);
			xasprintf(cause, "%s: active segment should start at "
			    "offset %" PRIu64, path, expect);
			free(path);
			goto fail;
		}
		if (master_recover_active(ms, rep, cause) == -1)
			goto fail;
	} else if (master_create_active(ms, cause) == -1)
		goto fail;

	ms->next = ms->written_next = ms->committed = ms->first + ms->nrec;
	rep->next_offset = ms->next;
	snprintf(rep->active, sizeof(rep->active), "%s",
	    strrchr(ms->path, '/') + 1);
	free(segs);
	free(catpath);
	return (ms);
fail:
	free(segs);
	free(catpath);
	master_close(ms);
	return (NULL);
}

/* Close without writing what is buffered; the caller syncs first. */
void
master_close(struct master_stream *ms)
{
	if (ms == NULL)
		return;
	if (ms->fd != -1)
		close(ms->fd);
	if (ms->catfd != -1)
		close(ms->catfd);
	free(ms->cat);
	free(ms->buf);
	free(ms->path);
	free(ms->dir);
	free(ms->name);
	free(ms);
}

const char *
master_stream_name(const struct master_stream *ms)
{
	return (ms->name);
}

/*
 * Buffer one record and assign it the next offset.  fields must be a
 * msgpack map and meta a msgpack map or NULL; both are copied.  Fails only
 * if the record is over the 1 GiB limit, before changing anything.
 */
int
master_append(struct master_stream *ms, int64_t event_ns, int64_t ingest_ns,
    const void *fields, size_t fields_len, const void *meta, size_t meta_len,
    uint64_t *offset, char **cause)
{
	size_t	need;

	if (meta == NULL)
		meta_len = 0;
	if (fields_len > REC_MAX_PAYLOAD || meta_len > REC_MAX_PAYLOAD ||
	    seg_record_size(fields_len, meta_len) - REC_HEADER_SIZE >
	    REC_MAX_PAYLOAD) {
		xasprintf(cause, "%s: record of %zu bytes is over the 1 GiB "
		    "limit", ms->name, fields_len + meta_len);
		return (-1);
	}
	need = seg_record_size(fields_len, meta_len);
	if (ms->bufcap - ms->buflen < need) {
		while (ms->bufcap - ms->buflen < need)
			ms->bufcap = ms->bufcap ? ms->bufcap * 2 : 65536;
		ms->buf = xrealloc(ms->buf, ms->bufcap);
	}
	seg_record_encode(ms->buf + ms->buflen, ms->next, event_ns, ingest_ns,
	    fields, fields_len, meta, meta_len);
	ms->buflen += need;
	if (ms->pend_nrec == 0)
		ms->pend_first_ingest = ingest_ns;
	ms->pend_nrec++;
	if (event_ns < ms->pend_min)
		ms->pend_min = event_ns;
	if (event_ns > ms->pend_max)
		ms->pend_max = event_ns;
	*offset = ms->next++;
	return (0);
}

/* Forget the buffered records and their offsets (after a failed write). */
static void
master_drop_pending(struct master_stream *ms)
{
	ms->buflen = 0;
	ms->pend_nrec = 0;
	ms->pend_min = INT64_MAX;
	ms->pend_max = INT64_MIN;
	ms->next = ms->written_next;
}

/*
 * Write the buffered records to the active segment, zero-filling space
 * ahead of them when preallocation is on.  On failure the buffered records
 * are dropped and their offsets given back: the caller must refuse every
 * request that they belonged to.
 */
int
master_write(struct master_stream *ms, char **cause)
{
	uint64_t	end, zend;

	if (ms->buflen == 0)
		return (0);
	end = ms->written + ms->buflen;
	if (ms->opts.preallocate > 0 && end > ms->zeroed) {
		zend = end + ms->opts.preallocate;
		if (file_write_zeros(ms->fd, end, zend) == -1) {
			master_syserr(cause, ms->path, "preallocate");
			master_drop_pending(ms);
			return (-1);
		}
		ms->zeroed = zend;
	}
	if (file_pwrite_all(ms->fd, ms->buf, ms->buflen, ms->written) == -1) {
		master_syserr(cause, ms->path, "write");
		master_drop_pending(ms);
		return (-1);
	}
	ms->crc = crc32c(ms->crc, ms->buf, ms->buflen);
	ms->written = end;
	if (end > ms->zeroed)
		ms->zeroed = end;
	if (ms->nrec == 0)
		ms->first_ingest = ms->pend_first_ingest;
	ms->nrec += ms->pend_nrec;
	if (ms->pend_min < ms->min_ev)
		ms->min_ev = ms->pend_min;
	if (ms->pend_max > ms->max_ev)
		ms->max_ev = ms->pend_max;
	ms->written_next = ms->next;
	ms->buflen = 0;
	ms->pend_nrec = 0;
	ms->pend_min = INT64_MAX;
	ms->pend_max = INT64_MIN;
	/* Keep one buffer's worth of memory, not the largest ever. */
	if (ms->bufcap > ((size_t)4 << 20)) {
		free(ms->buf);
		ms->buf = NULL;
		ms->bufcap = 0;
	}
	return (0);
}

/*
 * Make everything written durable.  A failed fdatasync leaves the state of
 * the page cache unknown (Linux may have dropped the dirty pages), so the
 * caller must treat it as fatal and let recovery decide from the disk.
 */
int
master_sync(struct master_stream *ms, char **cause)
{
	if (ms->committed == ms->written_next)
		return (0);
	if (fdatasync(ms->fd) == -1)
		return (master_syserr(cause, ms->path, "fdatasync"));
	ms->committed = ms->written_next;
	return (0);
}

/*
 * For a sync in another thread: returns the fd to fdatasync and, in *upto,
 * the offset that will be durable when it returns; master_sync_end() then
 * records it.  Between the two the owner may append and write, but not
 * seal or close.
 */
int
master_sync_begin(struct master_stream *ms, uint64_t *upto)
{
	ms->syncing = 1;
	*upto = ms->written_next;
	return (ms->fd);
}

void
master_sync_end(struct master_stream *ms, uint64_t upto)
{
	ms->syncing = 0;
	if (upto > ms->committed)
		ms->committed = upto;
}

/* Seal the active segment if it is full or its first record old enough. */
int
master_maybe_seal(struct master_stream *ms, int64_t now_ns, int *sealed,
    char **cause)
{
	*sealed = 0;
	if (ms->nrec == 0 || ms->syncing)
		return (0);
	if (ms->written < ms->opts.segment_max_bytes &&
	    (uint64_t)(now_ns - ms->first_ingest) / 1000000 <
	    ms->opts.segment_max_age_ms)
		return (0);
	if (master_seal(ms, now_ns, cause) == -1)
		return (-1);
	*sealed = 1;
	return (0);
}

/*
 * Seal the active segment: cut the zero fill, sync it, record it in the
 * catalog, and start the next one.  Records buffered but not yet written
 * go into the next segment.  An empty segment is not sealed.
 */
int
master_seal(struct master_stream *ms, int64_t now_ns, char **cause)
{
	struct cat_entry	 e;
	uint8_t			 buf[CAT_ENTRY_SIZE];
	char			*catpath;

	if (ms->nrec == 0)
		return (0);
	if (ms->syncing) {
		xasprintf(cause, "%s: seal while a sync is running", ms->name);
		return (-1);
	}
	if (ms->zeroed > ms->written && ftruncate(ms->fd, ms->written) == -1)
		return (master_syserr(cause, ms->path, "truncate zero fill"));
	if (fdatasync(ms->fd) == -1)
		return (master_syserr(cause, ms->path, "fdatasync"));
	ms->committed = ms->written_next;

	memset(&e, 0, sizeof(e));
	e.first = ms->first;
	e.last = ms->written_next - 1;
	e.count = ms->nrec;
	e.min_event_ns = ms->min_ev;
	e.max_event_ns = ms->max_ev;
	e.bytes = ms->written;
	e.sealed_ns = now_ns;
	e.crc = ms->crc;
	cat_entry_encode(buf, &e);
	if (file_pwrite_all(ms->catfd, buf, sizeof(buf), CAT_HEADER_SIZE +
	    ms->ncat * CAT_ENTRY_SIZE) == -1 || fdatasync(ms->catfd) == -1) {
		xasprintf(&catpath, "%s/%s", ms->dir, CAT_FILENAME);
		master_syserr(cause, catpath, "append");
		free(catpath);
		return (-1);
	}
	if (ms->ncat == ms->catcap) {
		ms->catcap = ms->catcap ? ms->catcap * 2 : 64;
		ms->cat = xreallocarray(ms->cat, ms->catcap, sizeof(*ms->cat));
	}
	ms->cat[ms->ncat++] = e;
	ms->sealed_bytes += e.bytes;

	close(ms->fd);
	ms->fd = -1;
	ms->first = ms->written_next;
	return (master_create_active(ms, cause));
}

/* Counters for status. */
void
master_stats(const struct master_stream *ms, struct master_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->next_offset = ms->next;
	st->committed = ms->committed;
	st->sealed_segments = ms->ncat;
	st->sealed_bytes = ms->sealed_bytes;
	st->active_first = ms->first;
	st->active_bytes = ms->written;
	st->buffered_bytes = ms->buflen;
}

/* The names of the streams that have a log under data_dir. */
int
master_list_streams(const char *data_dir, char ***namesp, size_t *np,
    char **cause)
{
	DIR		*d;
	struct dirent	*de;
	char		*dir, **names = NULL;
	size_t		 n = 0, cap = 0;

	*namesp = NULL;
	*np = 0;
	xasprintf(&dir, "%s/master", data_dir);
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT) {
			free(dir);
			return (0);
		}
		master_syserr(cause, dir, "opendir");
		free(dir);
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	free(dir);
	*namesp = names;
	*np = n;
	return (0);
}
