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
 * The configuration: one YAML file read by every daemon and by the CLI.
 * conf_load() parses it with libyaml into struct conf, checks every key
 * against a table (name, type, bounds, default), then checks combinations.
 * Every problem is collected as "file:line:column: key: problem (value)";
 * on any problem conf_load() fails and the caller prints them all and exits
 * 1.  See docs/CONFIG.md for the keys.
 */

#ifndef LAMINA_CONF_H
#define LAMINA_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONF_DEFAULT_PATH	"/etc/lamina/lamina.yaml"
#define CONF_NAME_MAX		64	/* stream, field and view names */
#define CONF_STREAMS_MAX	1024	/* streams in one file */
#define CONF_FIELDS_MAX		256	/* fields of one stream */

enum conf_ftype {
	CONF_FT_STRING,
	CONF_FT_INT,
	CONF_FT_FLOAT,
	CONF_FT_BOOL
};

enum conf_fsync {
	CONF_FSYNC_ALWAYS,	/* group commit; ack after fdatasync */
	CONF_FSYNC_INTERVAL,	/* fdatasync every ingest.fsync_interval */
	CONF_FSYNC_NEVER	/* leave it to the kernel */
};

enum conf_verify {
	CONF_VERIFY_FULL,	/* check every record of sealed segments */
	CONF_VERIFY_QUICK	/* check headers, sizes and the catalog */
};

struct conf_field {
	char		*name;
	size_t		 namelen;	/* strlen(name) */
	uint64_t	 namew[2];	/* its first 16 bytes, zero padded,
					   as little-endian numbers */
	enum conf_ftype	 type;
	int		 required;
};

struct conf_stream {
	char			*name;
	struct conf_field	*fields;
	size_t			 nfields;
	char			*time_field;	/* NULL: ingest time */
	int			 time_idx;	/* its index, or -1 */
	int			 line, column;	/* where it is declared */
};

/* A listening Unix socket and, for forward only, an optional TCP port. */
struct conf_socket {
	char		*path;		/* absolute, resolved against run_dir */
};

/* Views: see docs/CONFIG.md, section views. */
enum conf_mkind {
	CONF_M_COUNT,
	CONF_M_SUM,
	CONF_M_MIN,
	CONF_M_MAX,
	CONF_M_DISTINCT,	/* HyperLogLog++ */
	CONF_M_QUANTILE,	/* DDSketch */
	CONF_M_TOP		/* Space-Saving */
};

struct conf_metric {
	char		*name;
	enum conf_mkind	 kind;
	char		*field;		/* NULL for count */
	int		 field_idx;	/* in the stream's fields, or -1 */
	int		 precision;	/* distinct: 4 to 18, default 14 */
	double		 accuracy;	/* quantile: default 0.01 */
	int		 max_bins;	/* quantile: default 4096 */
	int		 k;		/* top: default 10 */
};

enum conf_fop {
	CONF_OP_EQ,
	CONF_OP_NE,
	CONF_OP_IN,
	CONF_OP_NOT_IN,
	CONF_OP_GT,
	CONF_OP_GE,
	CONF_OP_LT,
	CONF_OP_LE
};

/* A constant of a filter, of its field's type. */
struct conf_value {
	int64_t		 i;		/* int, bool */
	double		 f;		/* float */
	char		*s;		/* string */
	size_t		 len;
};

struct conf_filter {
	char		*field;
	int		 field_idx;
	enum conf_ftype	 type;
	enum conf_fop	 op;
	struct conf_value *vals;	/* one, or the set of in/not_in */
	size_t		 nvals;
};

struct conf_view {
	char		*name;
	char		*stream;
	int		 stream_idx;
	uint64_t	 bucket_ms;	/* a whole number of seconds */
	char		**group_by;
	int		*group_idx;	/* in the stream's fields */
	size_t		 ngroup;
	struct conf_filter *filters;	/* all must hold */
	size_t		 nfilters;
	struct conf_metric *metrics;
	size_t		 nmetrics;
	char		*canonical;	/* the definition, canonically */
	uint64_t	 fingerprint;	/* hash of canonical */
	int		 line, column;
};

#define CONF_VIEWS_MAX		256
#define CONF_GROUP_MAX		8
#define CONF_METRICS_MAX	64
#define CONF_FILTERS_MAX	64
#define CONF_SET_MAX		1024

struct conf {
	char		*file;		/* the file that was loaded */
	char		*data_dir;	/* absolute */
	char		*run_dir;	/* absolute */
	int		 verbose;	/* log.verbose */

	/* sockets: */
	mode_t		 socket_mode;
	char		*socket_group;	/* NULL: the process's group */
	gid_t		 socket_gid;	/* (gid_t)-1 if socket_group is NULL */
	struct conf_socket ingest_sock, forward_sock, batch_sock, speed_sock,
			 serve_sock;
	size_t		 max_message_bytes;	/* one RPC or Forward frame */
	size_t		 max_clients;		/* per daemon */
	size_t		 max_client_buffer;	/* queued output per client */

	/* ingest: */
	size_t		 segment_max_bytes;
	uint64_t	 segment_max_age_ms;
	size_t		 preallocate_bytes;	/* 0: no pre-zeroing */
	enum conf_fsync	 fsync;
	uint64_t	 fsync_interval_ms;
	enum conf_verify verify;
	char		*forward_tcp;		/* "127.0.0.1:24224" or NULL */
	uint64_t	 chunk_id_ttl_ms;	/* how long chunk ids are kept */

	/* batch: */
	uint64_t	 batch_interval_ms;
	int		 batch_workers;

	/* streams: */
	struct conf_stream *streams;
	size_t		 nstreams;

	/* views: */
	struct conf_view *views;
	size_t		 nviews;
};

struct conf	*conf_load(const char *, char ***, size_t *);
void		 conf_free(struct conf *);
void		 conf_free_errors(char **, size_t);
struct conf_stream *conf_find_stream(const struct conf *, const char *);
const struct conf_field *conf_find_field(const struct conf_stream *,
		    const char *);
int		 conf_valid_name(const char *, size_t);
int		 conf_parse_size(const char *, uint64_t *);
int		 conf_parse_duration(const char *, uint64_t *);
const char	*conf_ftype_name(enum conf_ftype);
struct conf_view *conf_find_view(const struct conf *, const char *);
const char	*conf_mkind_name(enum conf_mkind);

#endif
