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

#include <stddef.h>
#include <stdint.h>

#define HASH_K1	0x9e3779b97f4a7c15ULL
#define HASH_K2	0xbf58476d1ce4e5b9ULL
#define HASH_K3	0x94d049bb133111ebULL
#define HASH_K4	0xff51afd7ed558ccdULL
#define HASH_K5	0xc4ceb9fe1a85ec53ULL

uint64_t	hash64(const void *, size_t, uint64_t);

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
