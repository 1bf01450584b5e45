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
 * The 64-bit hash every sketch is built on: HyperLogLog++ registers,
 * Space-Saving keys, group keys.  Persisted sketches store functions of
 * these values, so the output for a given input, seed and length is frozen:
 * tests/unit/test_hll.c pins it, and changing it is a format change.  Not a
 * cryptographic hash: an adversary who knows the seed can make collisions.
 */

#ifndef LAMINA_HASH_H
#define LAMINA_HASH_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HASH_K1	0x9e3779b97f4a7c15ULL
#define HASH_K2	0xbf58476d1ce4e5b9ULL
#define HASH_K3	0x94d049bb133111ebULL
#define HASH_K4	0xff51afd7ed558ccdULL
#define HASH_K5	0xc4ceb9fe1a85ec53ULL

uint64_t	hash64(const void *, size_t, uint64_t);

static inline uint64_t
hash_rd32(const uint8_t *p)
{
	uint32_t	w;

	memcpy(&w, p, sizeof(w));
	return (le32toh(w));
}

/*
 * n <= 8 bytes as one word (hash64's tail, and agg.c's short dimension
 * values).  For 4-8 bytes two overlapping 4-byte loads cover them; for
 * 1-3 bytes the first, middle and last.  For each n the map is injective,
 * and n itself is part of the hash.
 */
static inline uint64_t
hash_tail(const uint8_t *p, size_t n)
{
	if (n >= 4)
		return (hash_rd32(p) | hash_rd32(p + n - 4) << 32);
	if (n > 0)
		return ((uint64_t)p[0] | (uint64_t)p[n / 2] << 8 |
		    (uint64_t)p[n - 1] << 16);
	return (0);
}

/* The SplitMix64 finaliser: full avalanche. */
static inline uint64_t
hash_final(uint64_t x)
{
	x ^= x >> 30;
	x *= HASH_K2;
	x ^= x >> 27;
	x *= HASH_K3;
	return (x ^ (x >> 31));
}

/*
 * Hash a 64-bit integer: a bijection, so distinct integers never collide.
 * Not equal to hash64() of the integer's bytes.  Inline: group keys mix
 * one per dimension of every event.
 */
static inline uint64_t
hash64_u64(uint64_t x)
{
	return (hash_final((x ^ HASH_K4) * HASH_K1));
}

#endif
