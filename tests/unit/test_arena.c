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
 * Arenas (common/arena.c): every allocation 16 bytes aligned and disjoint
 * from the others; calloc zeroes even reused pool blocks; realloc of the
 * last allocation grows in place up to the exact end of its block and
 * copies otherwise; allocations over a quarter block get their own block
 * and leave the current one usable; arena_bytes and reset; the NULL arena
 * is the heap; size overflows die; the pool hands blocks back out and
 * arena_pool_trim frees them; and arenas in two threads at once, resetting
 * and trimming while the other allocates, never share a byte.
 *
 * Built with AddressSanitizer the arena gives every allocation its own
 * heap block (ARENA_DEBUG in arena.c): the assertions about where an
 * allocation lands and how many bytes the arena holds are for the normal
 * build only; ASan checks every byte written instead.
 *
 * LAMINA_TEST_QUICK=1 (set for valgrind runs) shortens the threaded test.
 */

#include <check.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "log.h"

#define BLOCK		(1024 * 1024)	/* ARENA_BLOCK in arena.c */
#define QUARTER		(BLOCK / 4)

#define REQUIRE(c, ...)	do {					\
	if (!(c))						\
		ck_abort_msg(__VA_ARGS__);			\
} while (0)

static int
quick(void)
{
	const char	*v = getenv("LAMINA_TEST_QUICK");

	return (v != NULL && *v != '\0' && strcmp(v, "0") != 0);
}

static int
aligned(const void *p)
{
	return (((uintptr_t)p & 15) == 0);
}

/* The pattern byte j of allocation tag. */
static uint8_t
pat(uint32_t tag, size_t j)
{
	return ((uint8_t)(tag * 131 + j * 7 + (j >> 8)));
}

static void
fill(void *p, size_t len, uint32_t tag)
{
	uint8_t	*b = p;
	size_t	 j;

	for (j = 0; j < len; j++)
		b[j] = pat(tag, j);
}

/* Does p still hold fill(p, len, tag)?  The first wrong byte, or len. */
static size_t
check_fill(const void *p, size_t len, uint32_t tag)
{
	const uint8_t	*b = p;
	size_t		 j;

	for (j = 0; j < len; j++)
		if (b[j] != pat(tag, j))
			return (j);
	return (len);
}

/*
 * Allocations of every size from 1 to 600 and a few big ones: each is
 * aligned, and each keeps its own bytes once all are written (overlap
 * would show as a clobbered pattern; ASan would see an overrun).
 */
START_TEST(test_aligned_and_disjoint)
{
	static const size_t	 big[] = { QUARTER - 1, QUARTER, QUARTER + 1,
				    BLOCK - 1, BLOCK, BLOCK + 17 };
	struct arena		 a;
	uint8_t			*p[600 + 6];
	size_t			 len[600 + 6], i, n = 0;

	arena_init(&a);
	for (i = 1; i <= 600; i++) {
		len[n] = i;
		p[n] = arena_alloc(&a, i);
		REQUIRE(aligned(p[n]), "size %zu: %p", i, (void *)p[n]);
		fill(p[n], len[n], (uint32_t)n);
		n++;
		/* The big ones in between, so they cut into a full block. */
		if (i % 100 == 0) {
			len[n] = big[i / 100 - 1];
			p[n] = arena_alloc(&a, len[n]);
			REQUIRE(aligned(p[n]), "size %zu: %p", len[n],
			    (void *)p[n]);
			fill(p[n], len[n], (uint32_t)n);
			n++;
		}
	}
	for (i = 0; i < n; i++)
		REQUIRE(check_fill(p[i], len[i], (uint32_t)i) == len[i],
		    "allocation %zu (%zu bytes) overwritten at %zu", i, len[i],
		    check_fill(p[i], len[i], (uint32_t)i));
	/* calloc and realloc results are aligned too. */
	ck_assert(aligned(arena_calloc(&a, 3, 5)));
	ck_assert(aligned(arena_realloc(&a, p[0], 1, 33)));
	ck_assert(aligned(arena_reallocarray(&a, NULL, 0, 7, 3)));
	arena_reset(&a);
}
END_TEST

/*
 * calloc zeroes, also in a block that comes back dirty from the pool and
 * right after a dirty allocation in the same block.
 */
START_TEST(test_calloc_zeroes)
{
	struct arena	 a;
	uint8_t		*p, *z;
	size_t		 j;

	arena_init(&a);
	p = arena_alloc(&a, 4096);
	memset(p, 0xa5, 4096);
	arena_reset(&a);		/* its block to the pool, dirty */
	z = arena_calloc(&a, 512, 8);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_ptr_eq(z, p);		/* the same block again */
#endif
	for (j = 0; j < 4096; j++)
		REQUIRE(z[j] == 0, "byte %zu is %#x", j, z[j]);
	memset(z, 0xa5, 4096);
	z = arena_calloc(&a, 1, 100);
	for (j = 0; j < 100; j++)
		REQUIRE(z[j] == 0, "byte %zu is %#x", j, z[j]);
	z = arena_calloc(&a, 2, QUARTER);	/* a block of its own */
	for (j = 0; j < 2 * (size_t)QUARTER; j += 997)
		REQUIRE(z[j] == 0, "byte %zu is %#x", j, z[j]);
	ck_assert_uint_eq(z[2 * QUARTER - 1], 0);
	arena_reset(&a);
}
END_TEST

/*
 * realloc of the last allocation grows (and shrinks) in place while its
 * block has room, exactly up to the block's end; anything else copies the
 * old bytes into a new allocation.
 */
START_TEST(test_realloc)
{
	struct arena	 a;
	uint8_t		*p, *q, *r, *first;
	size_t		 i;

	arena_init(&a);
	first = arena_alloc(&a, 16);
	p = arena_alloc(&a, 40);
	fill(p, 40, 1);
	q = arena_realloc(&a, p, 40, 200);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_ptr_eq(q, p);
#endif
	ck_assert_uint_eq(check_fill(q, 40, 1), 40);
	fill(q, 200, 2);
	(void)first;

	/* Shrunk in place, the space after it is handed out next. */
	p = arena_realloc(&a, q, 200, 30);
	ck_assert_uint_eq(check_fill(p, 30, 2), 30);
	r = arena_alloc(&a, 16);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_ptr_eq(p, q);
	ck_assert_ptr_eq(r, p + 32);
#endif
	fill(r, 16, 3);

	/* No longer the last: grown by a copy, the old bytes kept. */
	q = arena_realloc(&a, p, 30, 3000);
	ck_assert_ptr_ne(q, p);
	ck_assert(aligned(q));
	ck_assert_uint_eq(check_fill(q, 30, 2), 30);
	ck_assert_uint_eq(check_fill(r, 16, 3), 16);
	/* Not the last and no bigger: the same pointer. */
	ck_assert_ptr_eq(arena_realloc(&a, r, 16, 16), r);
	ck_assert_ptr_eq(arena_realloc(&a, r, 16, 8), r);
	ck_assert_uint_eq(check_fill(r, 16, 3), 16);
	/* NULL allocates. */
	ck_assert_ptr_nonnull(p = arena_realloc(&a, NULL, 0, 24));
	fill(p, 24, 4);
	ck_assert_uint_eq(check_fill(p, 24, 4), 24);
	arena_reset(&a);

	/*
	 * Fill a block to 128 bytes before its end: the last allocation then
	 * grows in place to exactly the end, and one byte more copies it
	 * into the next block.
	 */
	arena_init(&a);
	first = arena_alloc(&a, 16);
	for (i = 0; i < 3; i++)
		(void)arena_alloc(&a, QUARTER);
	p = arena_alloc(&a, QUARTER - 16 - 128 - 272);
	ck_assert_uint_eq(QUARTER - 16 - 128 - 272, 261728);
	fill(p, 261728, 5);
	q = arena_realloc(&a, p, 261728, 262128);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_ptr_eq(q, p);
	ck_assert_ptr_eq(q + 262128, first + BLOCK);
	ck_assert_uint_eq(arena_bytes(&a), BLOCK);
#endif
	ck_assert_uint_eq(check_fill(q, 261728, 5), 261728);
	fill(q, 262128, 6);
	r = arena_realloc(&a, q, 262128, 262129);
	ck_assert_ptr_ne(r, q);
	ck_assert_uint_eq(check_fill(r, 262128, 6), 262128);
	r[262128] = 0xee;
#ifndef __SANITIZE_ADDRESS__
	ck_assert_uint_eq(arena_bytes(&a), 2 * BLOCK);
	/* r is the last of the new block and grows in place there. */
	ck_assert_ptr_eq(arena_realloc(&a, r, 262129, 500000), r);
	ck_assert_uint_eq(arena_bytes(&a), 2 * BLOCK);
#endif
	arena_reset(&a);

	/* An allocation that had a block of its own is copied. */
	arena_init(&a);
	p = arena_alloc(&a, QUARTER + 1);
	fill(p, QUARTER + 1, 7);
	q = arena_realloc(&a, p, QUARTER + 1, QUARTER + 2);
	ck_assert_ptr_ne(q, p);
	ck_assert_uint_eq(check_fill(q, QUARTER + 1, 7), QUARTER + 1);
	/* reallocarray: old and new counts in elements. */
	p = arena_reallocarray(&a, NULL, 0, 10, 8);
	fill(p, 80, 8);
	(void)arena_alloc(&a, 1);
	q = arena_reallocarray(&a, p, 10, 1000, 8);
	ck_assert_ptr_ne(q, p);
	ck_assert_uint_eq(check_fill(q, 80, 8), 80);
	q[7999] = 1;
	arena_reset(&a);
}
END_TEST

/*
 * Allocations over a quarter block: one that fits in the current block is
 * carved from it like any other; one that does not gets a block of its
 * own, counted in arena_bytes, behind the current block, which stays in
 * use to its last byte.  All of them go at reset (the leak checkers of
 * ASan and valgrind would see any that stayed).
 */
START_TEST(test_large)
{
	static const size_t	 sizes[] = { BLOCK - 1, BLOCK, 3 * BLOCK + 5 };
	struct arena		 a;
	uint8_t			*small, *next, *big, *big1, *first, *tail;
	size_t			 i, bytes, round;

	arena_init(&a);
	small = arena_alloc(&a, 100);
	fill(small, 100, 1);
	bytes = arena_bytes(&a);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_uint_eq(bytes, BLOCK);
#else
	ck_assert_uint_eq(bytes, 100);
#endif
	/* Over a quarter, but the current block has room for it. */
	big1 = arena_alloc(&a, QUARTER + 1);
	ck_assert(aligned(big1));
	fill(big1, QUARTER + 1, 2);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_ptr_eq(big1, small + 112);
	ck_assert_uint_eq(arena_bytes(&a), bytes);
#else
	bytes += QUARTER + 1;
	ck_assert_uint_eq(arena_bytes(&a), bytes);
#endif
	/* Too big for what is left: blocks of their own. */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		big = arena_alloc(&a, sizes[i]);
		ck_assert(aligned(big));
		memset(big, 0x5a, sizes[i]);
		ck_assert_uint_eq(big[sizes[i] - 1], 0x5a);
#ifndef __SANITIZE_ADDRESS__
		round = (sizes[i] + 15) & ~(size_t)15;
#else
		round = sizes[i];
#endif
		ck_assert_uint_eq(arena_bytes(&a), bytes + round);
		bytes += round;
	}
	/* The current block goes on where it was. */
	next = arena_alloc(&a, 16);
	memset(next, 3, 16);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_ptr_eq(next, big1 + QUARTER + 16);
	ck_assert_ptr_eq(arena_realloc(&a, next, 16, 64), next);
	ck_assert_uint_eq(arena_bytes(&a), bytes);
#else
	ck_assert_uint_eq(arena_bytes(&a), bytes + 16);
#endif
	ck_assert_uint_eq(check_fill(small, 100, 1), 100);
	ck_assert_uint_eq(check_fill(big1, QUARTER + 1, 2), QUARTER + 1);
	arena_reset(&a);
	ck_assert_uint_eq(arena_bytes(&a), 0);

	/*
	 * 128 bytes left in the current block: a big allocation goes to a
	 * block of its own and the 128 bytes are still handed out.
	 */
	first = arena_alloc(&a, 16);
	for (i = 0; i < 3; i++)
		(void)arena_alloc(&a, QUARTER);
	(void)arena_alloc(&a, QUARTER - 16 - 128);
	big = arena_alloc(&a, QUARTER + 1);
	memset(big, 4, QUARTER + 1);
	tail = arena_alloc(&a, 128);
	memset(tail, 5, 128);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_uint_eq(arena_bytes(&a), BLOCK + QUARTER + 16);
	ck_assert_ptr_eq(tail, first + BLOCK - 128);
	(void)arena_alloc(&a, 1);
	ck_assert_uint_eq(arena_bytes(&a), 2 * BLOCK + QUARTER + 16);
#else
	(void)first;
#endif
	ck_assert_uint_eq(big[QUARTER], 4);
	arena_reset(&a);

	/* A big one first: the arena has no current block yet. */
	big = arena_alloc(&a, QUARTER + 16);
	memset(big, 1, QUARTER + 16);
	small = arena_alloc(&a, 32);
	memset(small, 2, 32);
	ck_assert_uint_eq(big[QUARTER + 15], 1);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_uint_eq(arena_bytes(&a), QUARTER + 16 + BLOCK);
#endif
	arena_reset(&a);
	ck_assert_uint_eq(arena_bytes(&a), 0);
}
END_TEST

/* arena_bytes grows with use; reset empties the arena, which goes on. */
START_TEST(test_bytes_and_reset)
{
	struct arena	 a;
	uint8_t		*p = NULL;
	size_t		 i, last = 0, round;

	arena_init(&a);
	ck_assert_uint_eq(arena_bytes(&a), 0);
	arena_reset(&a);			/* an empty arena resets */
	ck_assert_uint_eq(arena_bytes(&a), 0);
	for (round = 0; round < 3; round++) {
		last = 0;
		for (i = 0; i < 3000; i++) {
			p = arena_alloc(&a, 1000);
			p[0] = p[999] = (uint8_t)i;
			ck_assert_uint_ge(arena_bytes(&a), last);
			last = arena_bytes(&a);
		}
#ifndef __SANITIZE_ADDRESS__
		/* 3000 * 1008 bytes: three blocks. */
		ck_assert_uint_eq(arena_bytes(&a), 3 * BLOCK);
#else
		ck_assert_uint_eq(arena_bytes(&a), 3000 * 1000);
#endif
		arena_reset(&a);
		ck_assert_uint_eq(arena_bytes(&a), 0);
		ck_assert_ptr_null(a.blocks);
	}
	arena_reset(&a);
	ck_assert_uint_eq(arena_bytes(&a), 0);
}
END_TEST

/* The NULL arena is the heap: everything allocated is freed one by one. */
START_TEST(test_null_arena)
{
	uint8_t	*p, *q;
	int	*v;
	size_t	 j;

	p = arena_alloc(NULL, 100);
	fill(p, 100, 1);
	p = arena_realloc(NULL, p, 100, 100000);
	ck_assert_uint_eq(check_fill(p, 100, 1), 100);
	p[99999] = 1;
	arena_free(NULL, p);

	q = arena_calloc(NULL, 1000, 3);
	for (j = 0; j < 3000; j++)
		REQUIRE(q[j] == 0, "byte %zu is %#x", j, q[j]);
	arena_free(NULL, q);

	v = arena_reallocarray(NULL, NULL, 0, 10, sizeof(*v));
	for (j = 0; j < 10; j++)
		v[j] = (int)j;
	v = arena_reallocarray(NULL, v, 10, 100000, sizeof(*v));
	for (j = 0; j < 10; j++)
		ck_assert_int_eq(v[j], (int)j);
	v[99999] = 5;
	arena_free(NULL, v);
	arena_free(NULL, NULL);
}
END_TEST

/* arena_free on a real arena leaves the space until reset. */
START_TEST(test_free_in_arena)
{
	struct arena	 a;
	uint8_t		*p;

	arena_init(&a);
	p = arena_alloc(&a, 64);
	fill(p, 64, 9);
	arena_free(&a, p);
	ck_assert_uint_eq(check_fill(p, 64, 9), 64);
	arena_reset(&a);
}
END_TEST

/*
 * The space a reallocation moved away from goes to the next allocation of
 * its size class (the old size rounded down to 16 bytes, at most 512),
 * zeroed by calloc like any other, and is never grown in place.
 */
START_TEST(test_recycle)
{
	struct arena	 a;
	uint8_t		*p, *q, *r, *s, *t;
	size_t		 i;

	arena_init(&a);
	p = arena_alloc(&a, 64);
	fill(p, 64, 1);
	(void)arena_alloc(&a, 16);		/* p is no longer the last */
	q = arena_realloc(&a, p, 64, 128);
	ck_assert_ptr_ne(q, p);
	ck_assert_uint_eq(check_fill(q, 64, 1), 64);
	r = arena_calloc(&a, 4, 16);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_ptr_eq(r, p);
#endif
	for (i = 0; i < 64; i++)
		ck_assert_uint_eq(r[i], 0);
	fill(r, 64, 2);
	/* A recycled allocation grows by a copy, never over its neighbour. */
	s = arena_realloc(&a, r, 64, 80);
	ck_assert_ptr_ne(s, r);
	ck_assert_uint_eq(check_fill(s, 64, 2), 64);
	ck_assert_uint_eq(check_fill(q, 64, 1), 64);

	/* 40 bytes held are a 32-byte class: not enough for 48. */
	p = arena_alloc(&a, 40);
	(void)arena_alloc(&a, 16);
	(void)arena_realloc(&a, p, 40, 400);
	q = arena_alloc(&a, 48);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_ptr_ne(q, p);
#endif
	q = arena_alloc(&a, 32);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_ptr_eq(q, p);
#endif
	/* Over 512 bytes: the 512 class; under 16: not kept. */
	p = arena_alloc(&a, 1000);
	t = arena_alloc(&a, 8);
	(void)arena_realloc(&a, p, 1000, 2000);
	(void)arena_alloc(&a, 16);
	(void)arena_realloc(&a, t, 8, 100);
	q = arena_alloc(&a, 512);
	r = arena_alloc(&a, 16);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_ptr_eq(q, p);
	ck_assert_ptr_ne(r, t);
#endif
	fill(q, 512, 3);
	fill(r, 16, 4);
	ck_assert_uint_eq(check_fill(q, 512, 3), 512);
	ck_assert_uint_eq(check_fill(s, 64, 2), 64);
	arena_reset(&a);
}
END_TEST

/* Exit tests: sizes that overflow, and zero, are fatal. */
START_TEST(test_reallocarray_overflow_dies)
{
	struct arena	a;

	log_init("t", 0);
	arena_init(&a);
	(void)arena_reallocarray(&a, NULL, 0, SIZE_MAX / 2, 4);
}
END_TEST

START_TEST(test_reallocarray_null_overflow_dies)
{
	log_init("t", 0);
	(void)arena_reallocarray(NULL, NULL, 0, SIZE_MAX / 2, 4);
}
END_TEST

START_TEST(test_calloc_overflow_dies)
{
	struct arena	a;

	log_init("t", 0);
	arena_init(&a);
	(void)arena_calloc(&a, SIZE_MAX / 8, 16);
}
END_TEST

START_TEST(test_alloc_huge_dies)
{
	struct arena	a;

	log_init("t", 0);
	arena_init(&a);
	(void)arena_alloc(&a, SIZE_MAX - 8);
}
END_TEST

START_TEST(test_alloc_zero_dies)
{
	struct arena	a;

	log_init("t", 0);
	arena_init(&a);
	(void)arena_alloc(&a, 0);
}
END_TEST

#if !defined(__SANITIZE_ADDRESS__) && defined(__GLIBC__)
/* Bytes malloc has handed out and not had back. */
static size_t
heap_in_use(void)
{
	struct mallinfo2	mi = mallinfo2();

	return (mi.uordblks + mi.hblkhd);
}
#endif

/*
 * Reset blocks go to the shared pool, the last released first out; trim
 * gives them back to malloc, and arenas work on after it.
 */
START_TEST(test_pool_trim)
{
	struct arena	 a[4], x;
	uint8_t		*first[4], *p;
	size_t		 i;
#if !defined(__SANITIZE_ADDRESS__) && defined(__GLIBC__)
	size_t		 before, after;
#endif

	arena_pool_trim();		/* what earlier tests left */
	for (i = 0; i < 4; i++) {
		arena_init(&a[i]);
		first[i] = arena_alloc(&a[i], 64);
		memset(first[i], (int)i, 64);
	}
	for (i = 0; i < 4; i++)
		arena_reset(&a[i]);
	arena_init(&x);
	p = arena_alloc(&x, 64);
#ifndef __SANITIZE_ADDRESS__
	ck_assert_ptr_eq(p, first[3]);		/* from the pool, LIFO */
	ck_assert_uint_eq(p[0], 3);		/* not cleared */
#endif
	arena_reset(&x);

#if !defined(__SANITIZE_ADDRESS__) && defined(__GLIBC__)
	/* Valgrind's malloc reports nothing through mallinfo2: 0. */
	before = heap_in_use();
	arena_pool_trim();
	after = heap_in_use();
	if (before != 0)
		ck_assert_msg(before >= after && before - after >= 4 * BLOCK,
		    "trim freed %zd bytes", (ssize_t)(before - after));
#else
	arena_pool_trim();
#endif
	arena_pool_trim();			/* an empty pool trims */

	/* Arenas go on after trim, with new blocks. */
	for (i = 0; i < 4; i++) {
		p = arena_alloc(&a[i], 5000);
		fill(p, 5000, (uint32_t)i);
		ck_assert_uint_eq(check_fill(p, 5000, (uint32_t)i), 5000);
		arena_reset(&a[i]);
	}
	arena_pool_trim();
}
END_TEST

/*
 * Two threads, each with several arenas, allocate, write, verify and
 * reset in a loop, one of them trimming the pool now and then: blocks
 * move between the threads through the pool, and a block ever given to
 * two arenas at once would show as a clobbered pattern.  Then both churn,
 * one block out of the pool and back per step, to meet in its lock as
 * often as can be (the test found a pool without the lock in most runs).
 */
#define TH_ARENAS	3
#ifndef __SANITIZE_ADDRESS__
#define CHURN		200000
#else
#define CHURN		20000	/* no pool under ASan: malloc and free */
#endif

struct th_arg {
	uint32_t	 id;
	int		 rounds;
	int		 trim;
	int		 churn;
	const char	*err;
};

static void *
th_main(void *arg)
{
	struct th_arg	*t = arg;
	struct arena	 a[TH_ARENAS];
	uint8_t		*p[TH_ARENAS][400];
	size_t		 len[TH_ARENAS][400], n, i, k;
	uint64_t	 s = t->id * 0x9e3779b97f4a7c15ULL + 1;
	uint32_t	 tag;
	int		 round;

	for (k = 0; k < TH_ARENAS; k++)
		arena_init(&a[k]);
	for (round = 0; round < t->rounds && t->err == NULL; round++) {
		for (k = 0; k < TH_ARENAS; k++) {
			for (n = 0; n < 400; n++) {
				s ^= s << 13;
				s ^= s >> 7;
				s ^= s << 17;
				/* Mostly small, now and then over a quarter. */
				len[k][n] = n % 97 == 0 ? QUARTER + s % 4096 :
				    1 + s % 6000;
				p[k][n] = arena_alloc(&a[k], len[k][n]);
				tag = t->id << 24 | (uint32_t)(k << 16) |
				    (uint32_t)n;
				fill(p[k][n], len[k][n], tag + (uint32_t)round);
			}
		}
		for (k = 0; k < TH_ARENAS; k++) {
			for (i = 0; i < 400; i++) {
				tag = t->id << 24 | (uint32_t)(k << 16) |
				    (uint32_t)i;
				if (!aligned(p[k][i]) || check_fill(p[k][i],
				    len[k][i], tag + (uint32_t)round) !=
				    len[k][i])
					t->err = "allocation clobbered";
			}
			arena_reset(&a[k]);
			if (arena_bytes(&a[k]) != 0)
				t->err = "bytes after reset";
		}
		if (t->trim && round % 4 == 3)
			arena_pool_trim();
	}

	/*
	 * Churn: a block from the pool and back per step, so that the two
	 * threads meet in the pool's lock all the time.  A block handed out
	 * twice shows as the other thread's tag in it.
	 */
	for (n = 0; n < (size_t)t->churn && t->err == NULL; n++) {
		k = n % TH_ARENAS;
		arena_reset(&a[k]);
		tag = t->id << 24 | (uint32_t)n;
		p[k][0] = arena_alloc(&a[k], 64);
		memcpy(p[k][0], &tag, sizeof(tag));
		p[k][1] = arena_alloc(&a[k], 64);
		memcpy(p[k][1], &tag, sizeof(tag));
		/* Arena i was last filled at step n - (k - i) mod TH_ARENAS. */
		for (i = 0; i < TH_ARENAS && i <= n; i++) {
			tag = t->id << 24 | (uint32_t)(n - (k + TH_ARENAS - i) %
			    TH_ARENAS);
			if (memcmp(p[i][0], &tag, sizeof(tag)) != 0 ||
			    memcmp(p[i][1], &tag, sizeof(tag)) != 0)
				t->err = "pool block in two arenas";
		}
		if (t->trim && n % 1000 == 999)
			arena_pool_trim();
	}
	for (k = 0; k < TH_ARENAS; k++)
		arena_reset(&a[k]);
	return (NULL);
}

START_TEST(test_threads)
{
	struct th_arg	 t[2];
	pthread_t	 th[2];
	int		 i;

	for (i = 0; i < 2; i++) {
		t[i].id = (uint32_t)i + 1;
		t[i].rounds = quick() ? 6 : 24;
		t[i].churn = quick() ? 2000 : CHURN;
		t[i].trim = i == 1;
		t[i].err = NULL;
		ck_assert_int_eq(pthread_create(&th[i], NULL, th_main, &t[i]),
		    0);
	}
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (i = 0; i < 2; i++)
		ck_assert_msg(t[i].err == NULL, "thread %d: %s", i, t[i].err);
	arena_pool_trim();
}
END_TEST

static Suite *
arena_suite(void)
{
	Suite	*s = suite_create("arena");
	TCase	*tc = tcase_create("arena");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_aligned_and_disjoint);
	tcase_add_test(tc, test_calloc_zeroes);
	tcase_add_test(tc, test_realloc);
	tcase_add_test(tc, test_large);
	tcase_add_test(tc, test_bytes_and_reset);
	tcase_add_test(tc, test_null_arena);
	tcase_add_test(tc, test_free_in_arena);
	tcase_add_test(tc, test_recycle);
	tcase_add_test(tc, test_pool_trim);
	tcase_add_test(tc, test_threads);
	/* Exit tests need fork mode (not CK_FORK=no, as under valgrind). */
	if (getenv("CK_FORK") == NULL || strcmp(getenv("CK_FORK"), "no")) {
		tcase_add_exit_test(tc, test_reallocarray_overflow_dies, 1);
		tcase_add_exit_test(tc, test_reallocarray_null_overflow_dies,
		    1);
		tcase_add_exit_test(tc, test_calloc_overflow_dies, 1);
		tcase_add_exit_test(tc, test_alloc_huge_dies, 1);
		tcase_add_exit_test(tc, test_alloc_zero_dies, 1);
	}
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(arena_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? 1 : 0);
}
