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
 * File system helpers for crash-safe storage: creating directory chains
 * durably, writing whole buffers, syncing directories.  Each returns 0 or
 * -1 with errno set; none logs.
 */

#ifndef LAMINA_FILE_H
#define LAMINA_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int	file_mkdirs(const char *, mode_t);
int	file_pwrite_all(int, const void *, size_t, uint64_t);
int	file_pread_all(int, void *, size_t, uint64_t, size_t *);
int	file_write_zeros(int, uint64_t, uint64_t);
int	file_fsync_dir(const char *);
int	file_fsync_parent(const char *);

#endif
