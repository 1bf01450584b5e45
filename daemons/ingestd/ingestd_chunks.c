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
 * The Forward chunk ids that are stored, so that a chunk sent again (the
 * shipper missed our ack) is acknowledged without being stored twice.
 * Each id is kept for ingest.chunk_id_ttl after it arrived.  The set lives
 * in memory, in a hash table; it is durable because the id travels in the
 * meta map of the first record of the chunk's batch, and recovery drops a
 * batch that was not written whole (master_open), so an id found in the
 * log is a chunk stored whole; chunks_recover() rebuilds the set from the
 * log at start.
 */

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ingestd.h"
#include "master.h"
#include "msg.h"
#include "xmalloc.h"

struct chunk {
	struct chunk	*next;
	struct istream	*st;
	uint64_t	 cycle;		/* the cycle that makes it durable */
	int64_t		 expires_ns;
	size_t		 len;
	char		 id[];
};

struct chunks {
	struct chunk	**tab;
	size_t		  size;		/* power of two */
	size_t		  count;
};

/* FNV-1a. */
static uint64_t
chunks_hash(const char *id, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;

	while (len-- > 0)
		h = (h ^ (uint8_t)*id++) * 1099511628211ULL;
	return (h);
}

struct chunks *
chunks_new(void)
{
	struct chunks	*c;

	c = xcalloc(1, sizeof(*c));
	c->size = 1024;
	c->tab = xcalloc(c->size, sizeof(*c->tab));
	return (c);
}

void
chunks_free(struct chunks *c)
{
	struct chunk	*e, *next;
	size_t		 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->size; i++)
		for (e = c->tab[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(c->tab);
	free(c);
}

static struct chunk **
chunks_slot(struct chunks *c, const char *id, size_t len)
{
	struct chunk	**pp;

	pp = &c->tab[chunks_hash(id, len) & (c->size - 1)];
	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->len == len && memcmp((*pp)->id, id, len) == 0)
			break;
	return (pp);
}

/* Is id stored (or being stored)?  Returns 1 with its stream and cycle. */
int
chunks_find(struct chunks *c, const char *id, size_t len,
    struct istream **st, uint64_t *cycle)
{
	struct chunk	*e = *chunks_slot(c, id, len);

	if (e == NULL)
		return (0);
	*st = e->st;
	*cycle = e->cycle;
	return (1);
}

static void
chunks_grow(struct chunks *c)
{
	struct chunk	**old = c->tab, *e, *next;
	size_t		  oldsize = c->size, i, h;

	c->size *= 2;
	c->tab = xcalloc(c->size, sizeof(*c->tab));
	for (i = 0; i < oldsize; i++)
		for (e = old[i]; e != NULL; e = next) {
			next = e->next;
			h = chunks_hash(e->id, e->len) & (c->size - 1);
			e->next = c->tab[h];
			c->tab[h] = e;
		}
	free(old);
}

/* Remember id, stored in st by cycle, until expires_ns. */
void
chunks_add(struct chunks *c, const char *id, size_t len, struct istream *st,
    uint64_t cycle, int64_t expires_ns)
{
	struct chunk	**pp, *e;

	pp = chunks_slot(c, id, len);
	if ((e = *pp) == NULL) {
		e = xcalloc(1, sizeof(*e) + len);
		memcpy(e->id, id, len);
		e->len = len;
		*pp = e;
		if (++c->count > c->size)
			chunks_grow(c);
	}
	e->st = st;
	e->cycle = cycle;
	if (expires_ns > e->expires_ns)
		e->expires_ns = expires_ns;
}

/* Forget id (its data could not be written). */
void
chunks_remove(struct chunks *c, const char *id, size_t len)
{
	struct chunk	**pp, *e;

	pp = chunks_slot(c, id, len);
	if ((e = *pp) == NULL)
		return;
	*pp = e->next;
	free(e);
	c->count--;
}

/* Forget the ids older than their time to live. */
void
chunks_expire(struct chunks *c, int64_t now_ns)
{
	struct chunk	**pp, *e;
	size_t		  i;

	for (i = 0; i < c->size; i++) {
		pp = &c->tab[i];
		while ((e = *pp) != NULL) {
			if (e->expires_ns <= now_ns) {
				*pp = e->next;
				free(e);
				c->count--;
			} else
				pp = &e->next;
		}
	}
}

size_t
chunks_count(const struct chunks *c)
{
	return (c->count);
}

/* The chunk id in a record's meta map, if there is one. */
static int
chunks_meta_id(const uint8_t *meta, size_t len, const char **id,
    size_t *idlen)
{
	struct msg_reader	 r;
	const char		*k;
	size_t			 klen;
	uint32_t		 n;

	msg_reader_init(&r, meta, len);
	if (msg_get_map(&r, &n) == -1)
		return (0);
	while (n-- > 0) {
		if (msg_get_str(&r, &k, &klen) == -1)
			return (0);
		if (klen == 5 && memcmp(k, "chunk", 5) == 0)
			return (msg_get_str(&r, id, idlen) == 0);
		if (msg_skip(&r) == -1)
			return (0);
	}
	return (0);
}

/*
 * Rebuild the ids of stream st from its log: the records of the last
 * chunk_id_ttl, found through the catalog (a segment sealed before then
 * holds only older records).
 */
int
chunks_recover(struct ingestd *d, struct istream *st, char **cause)
{
	struct master_reader	*r;
	struct master_record	 rec;
	struct cat_entry	*cat;
	size_t			 ncat, valid, i;
	char			*dir;
	const char		*id;
	size_t			 idlen;
	uint64_t		 from = 0;
	int64_t			 ttl, since;
	int			 rc;

	ttl = (int64_t)d->conf->chunk_id_ttl_ms * 1000000;
	since = ingestd_now() - ttl;
	dir = master_stream_dir(d->conf->data_dir, st->cs->name);
	rc = master_catalog_read(dir, &cat, &ncat, &valid, cause);
	free(dir);
	if (rc == -1)
		return (-1);
	for (i = 0; i < ncat; i++)
		if (cat[i].sealed_ns >= since)
			break;
	from = i < ncat ? cat[i].first : (ncat > 0 ? cat[ncat - 1].last + 1 :
	    0);
	free(cat);

	r = master_reader_open(d->conf->data_dir, st->cs->name, from, cause);
	while ((rc = master_reader_next(r, &rec, cause)) == 1) {
		if (rec.meta == NULL || rec.ingest_ns < since)
			continue;
		if (chunks_meta_id(rec.meta, rec.meta_len, &id, &idlen))
			chunks_add(d->chunks, id, idlen, st, 0,
			    rec.ingest_ns + ttl);
	}
	master_reader_free(r);
	return (rc);
}
