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
 * Fluentd Forward Protocol v1 decoding (see forward.h).  The mode is told by
 * the second element of the message array, as the spec asks: an integer or
 * an extension is a Message's time, an array a Forward's entries, a string
 * or binary PackedForward's entries, compressed if the option says gzip.
 * We are liberal in what stock clients send: PackedForward entries as str
 * or bin, "compressed": "text" meaning not compressed, "size" ignored (one
 * logger puts a byte count there), unknown options ignored, gzip data of
 * several members.  Decompressed data is capped, so a small gzip bomb
 * cannot take more memory than the configured limit.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "forward.h"
#include "msg.h"
#include "schema.h"
#include "xmalloc.h"

void
fwd_msg_init(struct fwd_msg *m)
{
	memset(m, 0, sizeof(*m));
}

/* Forget the message's entries and free what it owns; keep the array. */
void
fwd_msg_clear(struct fwd_msg *m)
{
	struct fwd_entry	*e = m->entries;
	size_t			 cap = m->cap;

	free(m->inflated);
	memset(m, 0, sizeof(*m));
	m->entries = e;
	m->cap = cap;
}

/* Free what the message owns, entries array included. */
void
fwd_msg_free(struct fwd_msg *m)
{
	fwd_msg_clear(m);
	free(m->entries);
	m->entries = NULL;
	m->cap = 0;
}

static struct fwd_entry *
fwd_add(struct fwd_msg *m, size_t max_entries)
{
	if (m->nentries == max_entries)
		return (NULL);
	if (m->nentries == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->entries = xreallocarray(m->entries, m->cap,
		    sizeof(*m->entries));
	}
	memset(&m->entries[m->nentries], 0, sizeof(*m->entries));
	return (&m->entries[m->nentries++]);
}

/*
 * Gunzip data that may hold several gzip members, one after another, into
 * a new buffer of at most max bytes.
 */
int
fwd_gunzip(const uint8_t *in, size_t inlen, size_t max, uint8_t **outp,
    size_t *outlen, char **cause)
{
	z_stream	 zs;
	uint8_t		*out = NULL;
	size_t		 cap = 0, len = 0;
	int		 rc;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		xasprintf(cause, "gzip: cannot start zlib");
		return (-1);
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)inlen;
	if (inlen > UINT32_MAX) {
		xasprintf(cause, "gzip: input too large");
		goto fail;
	}
	for (;;) {
		if (len == cap) {
			if (cap == max) {
				xasprintf(cause, "gzip: data expands beyond %zu "
				    "bytes", max);
				goto fail;
			}
			cap = cap ? cap * 2 : (inlen * 4 > 65536 ?
			    inlen * 4 : 65536);
			if (cap > max)
				cap = max;
			out = xrealloc(out, cap);
		}
		zs.next_out = out + len;
		zs.avail_out = (uInt)(cap - len);
		rc = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
		if (rc == Z_STREAM_END) {
			if (zs.avail_in == 0)
				break;
			/* Another member follows. */
			if (inflateReset(&zs) != Z_OK) {
				xasprintf(cause, "gzip: cannot reset zlib");
				goto fail;
			}
			continue;
		}
		if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
			xasprintf(cause, "gzip: data truncated");
			goto fail;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			xasprintf(cause, "gzip: %s", zs.msg != NULL ? zs.msg :
			    "invalid data");
			goto fail;
		}
	}
	inflateEnd(&zs);
	*outp = out;
	*outlen = len;
	return (0);
fail:
	inflateEnd(&zs);
	free(out);
	return (-1);
}

/*
 * Read an entry's time slot: integer, EventTime, or [time, metadata].
 * Sets the entry's error rather than failing: the entry goes to the
 * quarantine, the others are stored.
 */
static void
fwd_time(struct msg_reader *r, struct fwd_entry *e)
{
	struct msg_reader	save = *r;
	uint32_t		n;
	char			err[SCHEMA_ERR_MAX];

	if (msg_peek(r) == MSG_T_ARRAY) {
		if (msg_get_array(r, &n) == -1 || n < 1 ||
		    msg_peek(r) == MSG_T_ARRAY) {
			e->error = "time: expected [time, metadata]";
			goto skip;
		}
		if (msg_peek(r) == MSG_T_FLOAT) {
			e->error = "time: a float is not a valid Forward time";
			goto skip;
		}
		if (schema_time_value(r, &e->time_ns, err, sizeof(err)) ==
		    -1) {
			e->error = "time: expected an integer or EventTime";
			goto skip;
		}
		if (n >= 2 && msg_peek(r) == MSG_T_MAP)
			msg_get_raw(r, &e->meta, &e->meta_len);
		while (n-- > (e->meta != NULL ? 2u : 1u))
			if (msg_skip(r) == -1)
				break;
		return;
	}
	if (msg_peek(r) == MSG_T_FLOAT) {
		/* Floats are not valid in Forward (Fluentd refuses them). */
		e->error = "time: a float is not a valid Forward time";
		msg_skip(r);
		return;
	}
	if (schema_time_value(r, &e->time_ns, err, sizeof(err)) == -1)
		e->error = "time: expected an integer or EventTime";
	else
		return;
skip:
	*r = save;
	msg_skip(r);
}

/* One Entry = [time, record]. */
static int
fwd_entry(struct msg_reader *r, struct fwd_msg *m, size_t max_entries,
    char **cause)
{
	struct fwd_entry	*e;
	uint32_t		 n;

	if ((e = fwd_add(m, max_entries)) == NULL) {
		xasprintf(cause, "more than %zu entries", max_entries);
		return (-1);
	}
	if (msg_peek(r) != MSG_T_ARRAY) {
		e->error = "entry: expected [time, record]";
		return (msg_skip(r));
	}
	if (msg_get_array(r, &n) == -1)
		return (-1);
	if (n != 2) {
		e->error = "entry: expected [time, record]";
		while (n-- > 0)
			if (msg_skip(r) == -1)
				return (-1);
		return (0);
	}
	fwd_time(r, e);
	if (msg_peek(r) != MSG_T_MAP) {
		if (e->error == NULL)
			e->error = "record: expected a map";
		return (msg_skip(r));
	}
	return (msg_get_raw(r, &e->record, &e->record_len));
}

/* The option map: chunk and compressed; the rest is ignored. */
static int
fwd_options(struct msg_reader *r, struct fwd_msg *m, int *gzip,
    char **cause)
{
	const char	*k, *v;
	size_t		 klen, vlen;
	uint32_t	 n;

	*gzip = 0;
	if (msg_peek(r) == MSG_T_NIL)
		return (msg_get_nil(r));
	if (msg_get_map(r, &n) == -1) {
		xasprintf(cause, "option: %s", msg_error(r));
		return (-1);
	}
	while (n-- > 0) {
		if (msg_peek(r) != MSG_T_STR) {
			if (msg_skip(r) == -1 || msg_skip(r) == -1)
				goto bad;
			continue;
		}
		if (msg_get_str(r, &k, &klen) == -1)
			goto bad;
		if (klen == 5 && memcmp(k, "chunk", 5) == 0 &&
		    msg_peek(r) == MSG_T_STR) {
			if (msg_get_str(r, &m->chunk, &m->chunklen) == -1)
				goto bad;
			if (m->chunklen == 0 || m->chunklen > 128) {
				xasprintf(cause, "option chunk: %zu bytes, "
				    "expected 1 to 128", m->chunklen);
				return (-1);
			}
		} else if (klen == 10 && memcmp(k, "compressed", 10) == 0 &&
		    msg_peek(r) == MSG_T_STR) {
			if (msg_get_str(r, &v, &vlen) == -1)
				goto bad;
			if (vlen == 4 && memcmp(v, "gzip", 4) == 0)
				*gzip = 1;
			else if (!(vlen == 4 && memcmp(v, "text", 4) == 0)) {
				xasprintf(cause, "option compressed: %.*s is "
				    "not supported (gzip or text)",
				    vlen > 16 ? 16 : (int)vlen, v);
				return (-1);
			}
		} else if (msg_skip(r) == -1)
			goto bad;
	}
	return (0);
bad:
	xasprintf(cause, "option: %s", msg_error(r));
	return (-1);
}

/*
 * Decode the Forward message in buf.  max_inflate caps decompressed data,
 * max_entries the number of entries.  Returns 0 with m filled (mode
 * FWD_NONE for a heartbeat or anything that is not an array, which the
 * spec says to ignore), -1 with *cause when the message is malformed as a
 * whole.  Entries borrow buf (or m->inflated).
 */
int
fwd_parse(const uint8_t *buf, size_t len, size_t max_inflate,
    size_t max_entries, struct fwd_msg *m, char **cause)
{
	struct msg_reader	 r, pr;
	struct fwd_entry	*e;
	const uint8_t		*packed;
	size_t			 plen;
	uint32_t		 n, i, nent;
	enum msg_type		 t;
	int			 gzip = 0;

	*cause = NULL;
	fwd_msg_clear(m);
	msg_reader_init(&r, buf, len);
	if (msg_peek(&r) != MSG_T_ARRAY) {
		m->mode = FWD_NONE;
		return (0);
	}
	if (msg_get_array(&r, &n) == -1)
		goto bad;
	if (n < 2 || n > 4) {
		xasprintf(cause, "expected an array of 2 to 4 elements, got "
		    "%u", n);
		return (-1);
	}
	if (msg_get_str(&r, &m->tag, &m->taglen) == -1) {
		xasprintf(cause, "tag: %s", msg_error(&r));
		return (-1);
	}
	t = msg_peek(&r);
	if (t == MSG_T_ARRAY) {
		/*
		 * Forward's entries are arrays; an array that starts with a
		 * time is a Message whose time slot is [time, metadata]
		 * (v1.5).
		 */
		struct msg_reader	look = r;
		uint32_t		k;
		enum msg_type		ft;

		if (msg_get_array(&look, &k) == 0 && k >= 1) {
			ft = msg_peek(&look);
			if (ft == MSG_T_UINT || ft == MSG_T_INT ||
			    ft == MSG_T_EXT || ft == MSG_T_FLOAT)
				t = MSG_T_EXT;
		}
	}
	switch (t) {
	case MSG_T_UINT:
	case MSG_T_INT:
	case MSG_T_EXT:
	case MSG_T_FLOAT:
		m->mode = FWD_MESSAGE;
		if (n < 3) {
			xasprintf(cause, "message: expected [tag, time, "
			    "record]");
			return (-1);
		}
		if ((e = fwd_add(m, max_entries)) == NULL) {
			xasprintf(cause, "more than %zu entries", max_entries);
			return (-1);
		}
		fwd_time(&r, e);
		if (msg_peek(&r) != MSG_T_MAP) {
			if (e->error == NULL)
				e->error = "record: expected a map";
			if (msg_skip(&r) == -1)
				goto bad;
		} else if (msg_get_raw(&r, &e->record, &e->record_len) == -1)
			goto bad;
		if (n == 4 && fwd_options(&r, m, &gzip, cause) == -1)
			return (-1);
		break;
	case MSG_T_ARRAY:
		m->mode = FWD_FORWARD;
		if (msg_get_array(&r, &nent) == -1)
			goto bad;
		for (i = 0; i < nent; i++)
			if (fwd_entry(&r, m, max_entries, cause) == -1) {
				if (*cause == NULL)
					goto bad;
				return (-1);
			}
		if (n >= 3 && fwd_options(&r, m, &gzip, cause) == -1)
			return (-1);
		break;
	case MSG_T_STR:
	case MSG_T_BIN:
		m->mode = FWD_PACKED;
		if (msg_get_strbin(&r, &packed, &plen) == -1)
			goto bad;
		if (n >= 3 && fwd_options(&r, m, &gzip, cause) == -1)
			return (-1);
		if (gzip) {
			m->mode = FWD_COMPRESSED;
			if (fwd_gunzip(packed, plen, max_inflate, &m->inflated,
			    &m->inflated_len, cause) == -1)
				return (-1);
			packed = m->inflated;
			plen = m->inflated_len;
		}
		/* A stream of Entry objects, each checked by msg_get_raw. */
		msg_reader_init(&pr, packed, plen);
		while (msg_left(&pr) > 0) {
			const uint8_t	*one;
			size_t		 onelen;

			if (msg_get_raw(&pr, &one, &onelen) == -1) {
				xasprintf(cause, "packed entries: %s",
				    msg_error(&pr));
				return (-1);
			}
			{
				struct msg_reader	er;

				msg_reader_init(&er, one, onelen);
				if (fwd_entry(&er, m, max_entries, cause) ==
				    -1) {
					if (*cause == NULL)
						xasprintf(cause, "packed "
						    "entries: %s",
						    msg_error(&er));
					return (-1);
				}
			}
		}
		break;
	default:
		xasprintf(cause, "second element: expected time, entries or "
		    "packed entries, got %s", msg_type_name(t));
		return (-1);
	}
	if (n == 4 && m->mode != FWD_MESSAGE) {
		xasprintf(cause, "expected an array of 2 or 3 elements, got 4");
		return (-1);
	}
	if (msg_end(&r) == -1)
		goto bad;
	return (0);
bad:
	xasprintf(cause, "malformed message: %s", msg_error(&r));
	return (-1);
}
