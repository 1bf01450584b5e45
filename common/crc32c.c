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
 * CRC32C: the Castagnoli polynomial 0x1EDC6F41 (reflected 0x82F63B78), as
 * used by iSCSI (RFC 3720, section 12.1) and ext4.  On x86-64 processors
 * with SSE4.2 the crc32 instruction computes it 8 bytes at a time; elsewhere
 * a table-driven "slicing-by-8" loop does (Kounavis and Berry, "A Systematic
 * Approach to Building High Performance Software-Based CRC Generators",
 * 2005).  The tables are built once, on first use, from the polynomial.
 *
 * The instruction takes 3 cycles but can start one every cycle, so the
 * hardware version runs three lanes of CRC_LANE bytes side by side and
 * joins them: without the pre- and post-inversion a CRC is linear, so the
 * CRC of A B C is Z(Z(crc(A)) ^ crc0(B)) ^ crc0(C), crc0 starting from 0
 * and Z the effect of CRC_LANE zero bytes, a linear map of the 32-bit
 * register kept as four byte tables (crc32c_zero).  A stored record (about
 * 200 bytes) is checked about twice as fast.
 */

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY	0x82f63b78u

#define CRC_LANE	64		/* bytes per lane, a multiple of 8 */

static uint32_t		crc32c_table[8][256];
static uint32_t		crc32c_zero[4][256];	/* Z, byte by byte */
static pthread_once_t	crc32c_once = PTHREAD_ONCE_INIT;
static int		crc32c_hw;

/* Build the slicing tables and look for the instruction. */
static void
crc32c_init(void)
{
	uint32_t	c;
	int		i, j, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = crc32c_table[0][i];
		for (j = 1; j < 8; j++) {
			c = crc32c_table[0][c & 0xff] ^ (c >> 8);
			crc32c_table[j][i] = c;
		}
	}
	/* Z of each byte of the register: CRC_LANE zero bytes through it. */
	for (j = 0; j < 4; j++)
		for (i = 0; i < 256; i++) {
			c = (uint32_t)i << (8 * j);
			for (k = 0; k < CRC_LANE; k++)
				c = crc32c_table[0][c & 0xff] ^ (c >> 8);
			crc32c_zero[j][i] = c;
		}
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc32c_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* The portable version, also used to test the hardware one. */
uint32_t
crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	uint64_t	 w;

	pthread_once(&crc32c_once, crc32c_init);
	crc = ~crc;
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		memcpy(&w, p, 8);	/* little-endian load assumed below */
		w ^= crc;
		crc = crc32c_table[7][w & 0xff] ^
		    crc32c_table[6][(w >> 8) & 0xff] ^
		    crc32c_table[5][(w >> 16) & 0xff] ^
		    crc32c_table[4][(w >> 24) & 0xff] ^
		    crc32c_table[3][(w >> 32) & 0xff] ^
		    crc32c_table[2][(w >> 40) & 0xff] ^
		    crc32c_table[1][(w >> 48) & 0xff] ^
		    crc32c_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return (~crc);
}

#if defined(__x86_64__)
/* Z applied to register c: as if CRC_LANE zero bytes followed. */
static inline uint32_t
crc32c_shift(uint32_t c)
{
	return (crc32c_zero[0][c & 0xff] ^ crc32c_zero[1][(c >> 8) & 0xff] ^
	    crc32c_zero[2][(c >> 16) & 0xff] ^ crc32c_zero[3][c >> 24]);
}

/* The SSE4.2 crc32 instruction, 8 bytes a step, three lanes at a time. */
__attribute__((target("sse4.2")))
static uint32_t
crc32c_hw_update(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	uint64_t	 c = ~crc & 0xffffffffu, w, x, y, b, d;
	size_t		 i;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	while (len >= 3 * CRC_LANE) {
		b = d = 0;
		for (i = 0; i < CRC_LANE; i += 8) {
			memcpy(&w, p + i, 8);
			memcpy(&x, p + CRC_LANE + i, 8);
			memcpy(&y, p + 2 * CRC_LANE + i, 8);
			c = __builtin_ia32_crc32di(c, w);
			b = __builtin_ia32_crc32di(b, x);
			d = __builtin_ia32_crc32di(d, y);
		}
		c = crc32c_shift(crc32c_shift((uint32_t)c) ^ (uint32_t)b) ^
		    (uint32_t)d;
		p += 3 * CRC_LANE;
		len -= 3 * CRC_LANE;
	}
	while (len >= 8) {
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (~(uint32_t)c);
}
#endif

int
crc32c_hw_available(void)
{
	pthread_once(&crc32c_once, crc32c_init);
	return (crc32c_hw);
}

/* Extend crc over len bytes, with the instruction when there is one. */
uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
#if defined(__x86_64__)
	if (crc32c_hw)
		return (crc32c_hw_update(crc, buf, len));
#endif
	return (crc32c_sw(crc, buf, len));
}
