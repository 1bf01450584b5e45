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
 * Exact sums of doubles.  A struct xsum holds the sum of the values added
 * to it exactly, as a fixed-point number in units of 2^-1074 (the smallest
 * double), so adding and merging are associative and commutative and the
 * result, rounded once (xsum_value), is the correctly rounded sum: the
 * same whatever the order or grouping of the additions, and equal to what
 * an exact recomputation (for instance Python's math.fsum) gives.  This is
 * what lets batch and speed layers merge float sums and still agree with a
 * recomputation to the last bit.
 *
 * Representation: 32-bit digits in int64 words (so that 2^29 additions fit
 * before carries must be propagated), kept in a window [lo, lo + n) of the
 * 68 digits a double can reach.  The canonical form (xsum_normalize) has
 * every digit but the top one in [0, 2^32), a signed top digit, and no
 * zero digit at either end, so equal sums serialize identically.
 *
 * The digits come from the arena a (arena.h), NULL meaning the heap: a
 * zeroed struct, or one given to xsum_init, is an empty heap sum, and
 * xsum_init_in makes an empty sum whose digits come from an arena.  The
 * sum keeps its arena through xsum_clear and as the destination of
 * xsum_copy and xsum_merge; xsum_unpack_in sets it.  Even the functions
 * that read a sum may allocate from it: they normalise it first.
 */

#ifndef LAMINA_XSUM_H
#define LAMINA_XSUM_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct arena;
struct msg_reader;

struct xsum {
	int64_t		*w;		/* n digits, w[0] is digit lo */
	struct arena	*a;		/* where w lives; NULL: the heap */
	int32_t		 lo;
	uint16_t	 n;
	uint16_t	 cap;
	uint32_t	 adds;		/* since the last normalisation */
};

void	xsum_init(struct xsum *);
void	xsum_init_in(struct xsum *, struct arena *);
void	xsum_clear(struct xsum *);	/* frees; leaves an empty sum */
void	xsum_add(struct xsum *, double);
void	xsum_merge(struct xsum *, const struct xsum *);
void	xsum_copy(struct xsum *, const struct xsum *);
void	xsum_normalize(struct xsum *);
double	xsum_value(struct xsum *);
int	xsum_equal(struct xsum *, struct xsum *);
void	xsum_get_limbs(const struct xsum *, uint64_t *, size_t);
void	xsum_set_limbs(struct xsum *, const uint64_t *, size_t);
void	xsum_pack(struct xsum *, msgpack_packer *);
int	xsum_unpack(struct xsum *, struct msg_reader *, char **);
int	xsum_unpack_in(struct xsum *, struct arena *, struct msg_reader *,
	    char **);

#endif
