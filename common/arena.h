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
 * Arenas: bump allocation for the many small, short-lived objects of an
 * aggregation partial (rows, keys and the insides of their sketches),
 * released all at once.  Freeing a partial of a million rows one object at
 * a time costs more than folding the events that made it; with an arena it
 * costs one pass over a few hundred blocks, which go back to a shared pool
 * for the next partial.
 *
 * Every function takes a NULL arena to mean the heap (xmalloc and free),
 * so code that allocates through them serves both: a sketch made in an
 * arena has its arena pointer, one made on its own has NULL.
 *
 * The space a reallocation moved away from is handed out again, by
 * size class, so that a sketch that grows leaves no garbage behind.
 *
 * Built with AddressSanitizer, every allocation is a separate heap block
 * (chained for release), so that overruns are still caught.
 */

#ifndef LAMINA_ARENA_H
#define LAMINA_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct arena_block;

#define ARENA_RECYCLE_CLASSES	32	/* 16, 32 .. 512 bytes */

struct arena {
	struct arena_block	*blocks;	/* the current one first */
	uint8_t			*p;		/* free space of the current */
	uint8_t			*end;
	uint8_t			*last;		/* the last allocation */
	size_t			 bytes;		/* in blocks held */
	void			*recycled[ARENA_RECYCLE_CLASSES];
};

void	 arena_init(struct arena *);
void	 arena_reset(struct arena *);
size_t	 arena_bytes(const struct arena *);

void	*arena_alloc(struct arena *, size_t);
void	*arena_calloc(struct arena *, size_t, size_t);
void	*arena_realloc(struct arena *, void *, size_t, size_t);
void	*arena_reallocarray(struct arena *, void *, size_t, size_t, size_t);
void	 arena_free(struct arena *, void *);

void	 arena_pool_trim(void);

#endif
