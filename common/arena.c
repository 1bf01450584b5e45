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
 * Arenas (see arena.h).  Blocks of ARENA_BLOCK bytes are carved from the
 * front, 16 bytes aligned; an allocation over a quarter of a block that
 * does not fit in what is left of the current one gets a block of its own
 * (so the current block keeps serving small ones).  When arena_realloc
 * moves an allocation of up to 512 bytes, the old space goes on a list
 * per 16-byte size class, and the next allocation of that size takes it
 * from there: a sketch's arrays grow by doubling, and the space they
 * leave behind is the same size as a new sketch's first array.  (The
 * lists live in the freed space itself.)  Released blocks of the standard
 * size go to a pool shared by all threads (up to ARENA_POOL_MAX bytes), so
 * that a run that folds partial after partial does not give memory back
 * to the kernel and fault it in again each time; arena_pool_trim()
 * empties the pool.
 */

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "log.h"
#include "xmalloc.h"

#define ARENA_BLOCK	(1024 * 1024)
#define ARENA_ALIGN	16
#define ARENA_POOL_MAX	((size_t)1024 * 1024 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_DEBUG	1	/* one heap block per allocation */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_DEBUG	1	/* clang's way of saying it */
#endif
#endif

struct arena_block {
	struct arena_block	*next;
	size_t			 size;		/* bytes after the header */
	_Alignas(ARENA_ALIGN) uint8_t data[];
};

static pthread_mutex_t	 pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct arena_block *pool;
static size_t		 pool_bytes;

void
arena_init(struct arena *a)
{
	memset(a, 0, sizeof(*a));
}

/* Give blocks back: the standard ones to the pool, others to the heap. */
static void
arena_release(struct arena_block *b)
{
	struct arena_block	*next;

	for (; b != NULL; b = next) {
		next = b->next;
#ifdef ARENA_DEBUG
		free(b);	/* never pooled: use after reset is caught */
		continue;
#endif
		pthread_mutex_lock(&pool_mu);
		if (b->size == ARENA_BLOCK && pool_bytes < ARENA_POOL_MAX) {
			b->next = pool;
			pool = b;
			pool_bytes += b->size;
			b = NULL;
		}
		pthread_mutex_unlock(&pool_mu);
		free(b);
	}
}

/* Free everything allocated in a; a stays usable. */
void
arena_reset(struct arena *a)
{
	arena_release(a->blocks);
	memset(a, 0, sizeof(*a));
}

size_t
arena_bytes(const struct arena *a)
{
	return (a->bytes);
}

/* Empty the pool of released blocks. */
void
arena_pool_trim(void)
{
	struct arena_block	*b, *next;

	pthread_mutex_lock(&pool_mu);
	b = pool;
	pool = NULL;
	pool_bytes = 0;
	pthread_mutex_unlock(&pool_mu);
	for (; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
}

#ifndef ARENA_DEBUG
static struct arena_block *
arena_block_new(size_t size)
{
	struct arena_block	*b = NULL;

	if (size == ARENA_BLOCK) {
		pthread_mutex_lock(&pool_mu);
		if ((b = pool) != NULL) {
			pool = b->next;
			pool_bytes -= b->size;
		}
		pthread_mutex_unlock(&pool_mu);
	}
	if (b == NULL) {
		if (size > SIZE_MAX - sizeof(*b))
			fatalx("arena: allocating %zu bytes", size);
		b = xmalloc(sizeof(*b) + size);
		b->size = size;
	}
	return (b);
}
#endif

void *
arena_alloc(struct arena *a, size_t size)
{
	struct arena_block	*b;
#ifndef ARENA_DEBUG
	size_t			 need;
	void			*r;
#endif

	if (a == NULL)
		return (xmalloc(size));
	if (size == 0)
		fatalx("arena_alloc: zero size");
#ifdef ARENA_DEBUG
	if (size > SIZE_MAX - sizeof(*b))
		fatalx("arena: allocating %zu bytes", size);
	b = xmalloc(sizeof(*b) + size);	/* never a pool block */
	b->size = size;
	b->next = a->blocks;
	a->blocks = b;
	a->bytes += size;
	a->last = b->data;
	return (b->data);
#else
	need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (need < size)
		fatalx("arena_alloc: %zu bytes", size);
	if (need <= ARENA_RECYCLE_CLASSES * ARENA_ALIGN &&
	    (r = a->recycled[need / ARENA_ALIGN - 1]) != NULL) {
		/* Never a->last, which a move always leaves behind. */
		memcpy(&a->recycled[need / ARENA_ALIGN - 1], r, sizeof(r));
		return (r);
	}
	if ((size_t)(a->end - a->p) >= need) {
		a->last = a->p;
		a->p += need;
		return (a->last);
	}
	if (need > ARENA_BLOCK / 4) {
		/* Its own block, behind the current one. */
		b = arena_block_new(need);
		a->bytes += b->size;
		if (a->blocks == NULL) {
			b->next = NULL;
			a->blocks = b;
		} else {
			b->next = a->blocks->next;
			a->blocks->next = b;
		}
		return (b->data);
	}
	b = arena_block_new(ARENA_BLOCK);
	b->next = a->blocks;
	a->blocks = b;
	a->bytes += b->size;
	a->p = b->data + need;
	a->end = b->data + b->size;
	a->last = b->data;
	return (b->data);
#endif
}

void *
arena_calloc(struct arena *a, size_t nmemb, size_t size)
{
	void	*p;

	if (a == NULL)
		return (xcalloc(nmemb, size));
	if (nmemb == 0 || size == 0 || size > SIZE_MAX / nmemb)
		fatalx("arena_calloc: %zu * %zu bytes", nmemb, size);
	p = arena_alloc(a, nmemb * size);
	memset(p, 0, nmemb * size);
	return (p);
}

/*
 * Resize p (NULL: allocate), which holds old bytes (no more than were
 * allocated), to size bytes.  The last allocation of the current block
 * grows in place when it can; otherwise the bytes are copied, and the old
 * space goes to the next allocation of its size.
 */
void *
arena_realloc(struct arena *a, void *p, size_t old, size_t size)
{
	void	*n;
	size_t	 need, c;

	if (a == NULL)
		return (xrealloc(p, size));
	if (p == NULL)
		return (arena_alloc(a, size));
#ifndef ARENA_DEBUG
	need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (p == a->last && need >= size &&
	    (size_t)(a->end - (uint8_t *)p) >= need) {
		a->p = (uint8_t *)p + need;
		return (p);
	}
#else
	(void)need;
	(void)c;
#endif
	if (size <= old)
		return (p);
	n = arena_alloc(a, size);
	memcpy(n, p, old);
#ifndef ARENA_DEBUG
	/* The old space, old bytes at least: for the next of its class. */
	if (old >= ARENA_ALIGN) {
		c = (old < ARENA_RECYCLE_CLASSES * ARENA_ALIGN ? old :
		    ARENA_RECYCLE_CLASSES * ARENA_ALIGN) / ARENA_ALIGN - 1;
		memcpy(p, &a->recycled[c], sizeof(void *));
		a->recycled[c] = p;
	}
#endif
	return (n);
}

void *
arena_reallocarray(struct arena *a, void *p, size_t old, size_t nmemb,
    size_t size)
{
	if (nmemb == 0 || size == 0 || size > SIZE_MAX / nmemb)
		fatalx("arena_reallocarray: %zu * %zu bytes", nmemb, size);
	return (arena_realloc(a, p, old * size, nmemb * size));
}

/* Free p if it came from the heap; an arena's space waits for reset. */
void
arena_free(struct arena *a, void *p)
{
	if (a == NULL)
		free(p);
}
