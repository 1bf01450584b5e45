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

uint64_t	hash64(const void *, size_t, uint64_t);
uint64_t	hash64_u64(uint64_t);

#endif
