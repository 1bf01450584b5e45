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
 * hash64: lamina's own 64-bit hash of bytes.  The input is read as 8-byte
 * little-endian words (so the result is the same on every host).  Each word
 * is folded into an accumulator by hash_absorb(): the word is multiplied
 * by an odd constant and rotated, so that its high bits reach the bottom,
 * xored in, and the accumulator is multiplied and xor-shifted.  Both steps
 * are bijections, for a fixed word in the accumulator and for a fixed
 * accumulator in the word, so no single-word change is ever lost.
 *
 * Short inputs use two accumulators, a and b, fed alternately, so that the
 * two multiply chains overlap in the pipeline; inputs of 32 bytes or more
 * use four, 32 bytes per round, which runs at several GB/s.  The last 0-7
 * bytes are gathered into one word (an injective map for each tail length)
 * and the length is folded into b's initial value, so inputs that differ
 * only by trailing zero bytes differ.  The accumulators are combined and
 * passed through the SplitMix64 finaliser (Steele, Lea and Flood, "Fast
 * Splittable Pseudorandom Number Generators", OOPSLA 2014; constants from
 * David Stafford's "Mix13"), which takes every input bit to every output
 * bit with probability close to 1/2.
 *
 * The constants are the golden ratio 2^64/phi and the multipliers of the
 * SplitMix64 and MurmurHash3 64-bit finalisers; all are odd.
 */

#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "hash.h"


static inline uint64_t
hash_rotl(uint64_t x, int r)
{
	return (x << r | x >> (64 - r));
}

static inline uint64_t
hash_rd64(const uint8_t *p)
{
	uint64_t	w;

	memcpy(&w, p, sizeof(w));
	return (le64toh(w));
}

/* Fold one word into an accumulator. */
static inline uint64_t
hash_absorb(uint64_t acc, uint64_t w)
{
	acc ^= hash_rotl(w * HASH_K1, 31);
	acc *= HASH_K2;
	return (acc ^ (acc >> 29));
}


/* Hash len bytes at buf; different seeds give unrelated functions. */
uint64_t
hash64(const void *buf, size_t len, uint64_t seed)
{
	const uint8_t	*p = buf, *end = p + len;
	uint64_t	 a, b, c, d;

	a = seed ^ HASH_K3;
	b = seed ^ (uint64_t)len * HASH_K4;
	if (len >= 32) {
		c = hash_rotl(seed, 32) ^ HASH_K5;
		d = hash_rotl(seed, 32) ^ HASH_K1;
		do {
			a = hash_absorb(a, hash_rd64(p));
			b = hash_absorb(b, hash_rd64(p + 8));
			c = hash_absorb(c, hash_rd64(p + 16));
			d = hash_absorb(d, hash_rd64(p + 24));
			p += 32;
		} while (end - p >= 32);
		a = hash_absorb(a, c);
		b = hash_absorb(b, d);
	}
	while (end - p >= 16) {
		a = hash_absorb(a, hash_rd64(p));
		b = hash_absorb(b, hash_rd64(p + 8));
		p += 16;
	}
	if (end - p >= 8) {
		a = hash_absorb(a, hash_rd64(p));
		p += 8;
	}
	b = hash_absorb(b, hash_tail(p, end - p));
	return (hash_final(hash_absorb(a, b)));
}

