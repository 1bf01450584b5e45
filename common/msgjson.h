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
 * MessagePack to JSON (json-c objects), and times as RFC 3339 text.
 */

#ifndef LAMINA_MSGJSON_H
#define LAMINA_MSGJSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct json_object *msgjson_from_msg(const uint8_t *, size_t, char **);
char		*msgjson_time_str(int64_t);
struct json_object *msgjson_double(double);

#endif
