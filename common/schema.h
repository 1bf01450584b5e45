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
 * Checking an event against its stream's schema and packing it in the
 * stored form.  An event is a msgpack map from field names to values; it
 * fits its stream when every key is a declared field, every value has the
 * declared type (int: an integer; float: a float or an integer; string:
 * valid UTF-8 text; bool: true or false; nil means absent), no field comes
 * twice and every required field is there.  The stored form is a map of the
 * present fields in the order of the schema, floats as float64, so that
 * readers meet one shape.  The event time comes from the stream's time
 * field (epoch seconds as int or float, or a MessagePack timestamp, or a
 * Fluentd EventTime), else from a time given with the event (Forward's time
 * slot), which then also fills the time field, else it is the ingest time.
 */

#ifndef LAMINA_SCHEMA_H
#define LAMINA_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct conf_stream;
struct msg_reader;

#define SCHEMA_ERR_MAX	256
#define SCHEMA_NO_TIME	INT64_MIN	/* no time given with the event */

int	schema_pack_event(const struct conf_stream *, struct msg_reader *,
	    int64_t, int64_t, msgpack_packer *, int64_t *, char *, size_t);
int	schema_time_value(struct msg_reader *, int64_t *, char *, size_t);

#endif
