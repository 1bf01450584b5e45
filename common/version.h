/*
 * Copyright (c) 2026 The lamina authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES.
 */

/* The version of lamina, printed by -V. */

#ifndef LAMINA_VERSION_H
#define LAMINA_VERSION_H

#define LAMINA_VERSION	"0.1.0"

#endif
