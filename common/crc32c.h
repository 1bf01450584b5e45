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
 * CRC32C (Castagnoli), the checksum of every master dataset record and of
 * the catalog.  crc32c(0, buf, len) is the standard CRC32C of buf;
 * crc32c(crc32c(0, a, n), b, m) is the CRC32C of a followed by b.
 */

#ifndef LAMINA_CRC32C_H
#define LAMINA_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t	crc32c(uint32_t, const void *, size_t);
uint32_t	crc32c_sw(uint32_t, const void *, size_t);
int		crc32c_hw_available(void);

#endif
