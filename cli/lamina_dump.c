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
 * lamina dump: a stream's stored records as JSON lines, read straight from
 * the master dataset; and lamina verify: the full check of sealed segments
 * that lamina-ingestd does at start, without opening anything for writing.
 */

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "conf.h"
#include "lamina.h"
#include "master.h"
#include "msgjson.h"
#include "xmalloc.h"

/* Print one record: its fields, then _offset, _event_time, _ingest_time. */
static int
dump_record(const struct master_record *rec)
{
	struct json_object	*o;
	char			*cause, *t;

	o = msgjson_from_msg(rec->fields, rec->fields_len, &cause);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		fprintf(stderr, "lamina: dump: offset %" PRIu64 ": %s\n",
		    rec->offset, cause != NULL ? cause : "fields not a map");
		free(cause);
		json_object_put(o);
		return (-1);
	}
	json_object_object_add(o, "_offset",
	    json_object_new_uint64(rec->offset));
	t = msgjson_time_str(rec->event_ns);
	json_object_object_add(o, "_event_time", json_object_new_string(t));
	free(t);
	t = msgjson_time_str(rec->ingest_ns);
	json_object_object_add(o, "_ingest_time", json_object_new_string(t));
	free(t);
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return (0);
}

/* lamina dump STREAM [--from OFFSET] [--limit N] */
int
cmd_dump(struct conf *conf, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "limit", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct master_reader		*r;
	struct master_record		 rec;
	uint64_t			 from = 0, limit = UINT64_MAX, n = 0;
	const char			*why;
	char				*cause;
	int				 ch, rc = 0;

	optind = 0;	/* glibc: a full reset, after main's getopt */
	while ((ch = getopt_long(argc, argv, "f:n:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
		case 'n':
			if ((why = cli_parse_u64(optarg, UINT64_MAX,
			    ch == 'f' ? &from : &limit)) != NULL) {
				fprintf(stderr, "lamina: dump: --%s: %s: %s\n",
				    ch == 'f' ? "from" : "limit", why, optarg);
				return (2);
			}
			break;
		default:
			return (2);
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: lamina dump STREAM [--from OFFSET] "
		    "[--limit N]\n");
		return (2);
	}
	if (conf_find_stream(conf, argv[optind]) == NULL) {
		fprintf(stderr, "lamina: dump: no stream %s in %s\n",
		    argv[optind], conf->file);
		return (1);
	}
	r = master_reader_open(conf->data_dir, argv[optind], from, &cause);
	while (n < limit && (rc = master_reader_next(r, &rec, &cause)) == 1) {
		if (dump_record(&rec) == -1) {
			master_reader_free(r);
			return (1);
		}
		n++;
	}
	master_reader_free(r);
	if (n < limit && rc == -1) {
		fflush(stdout);
		fprintf(stderr, "lamina: dump: %s\n", cause);
		free(cause);
		return (1);
	}
	return (0);
}

/* lamina verify [STREAM...]: check every record of every sealed segment. */
int
cmd_verify(struct conf *conf, int argc, char **argv)
{
	struct cat_entry	*cat;
	size_t			 ncat, valid, i, j, nstreams;
	char			*dir, *cause, **names = NULL, path[4096];
	int			 bad = 0;

	if (argc > 1) {
		names = xcalloc(argc - 1, sizeof(*names));
		for (i = 1; i < (size_t)argc; i++)
			names[i - 1] = xstrdup(argv[i]);
		nstreams = argc - 1;
	} else if (master_list_streams(conf->data_dir, &names, &nstreams,
	    &cause) == -1) {
		fprintf(stderr, "lamina: verify: %s\n", cause);
		free(cause);
		return (1);
	}
	for (j = 0; j < nstreams; j++) {
		dir = master_stream_dir(conf->data_dir, names[j]);
		if (master_catalog_read(dir, &cat, &ncat, &valid,
		    &cause) == -1) {
			fprintf(stderr, "lamina: verify: %s\n", cause);
			free(cause);
			bad = 1;
			free(dir);
			continue;
		}
		for (i = 0; i < ncat; i++) {
			snprintf(path, sizeof(path), "%s/%020" PRIu64 ".seg",
			    dir, cat[i].first);
			if (master_verify_segment(path, &cat[i], &cause) == -1) {
				fprintf(stderr, "lamina: verify: %s\n", cause);
				free(cause);
				bad = 1;
			}
		}
		printf("%s: %zu sealed segments checked%s\n", names[j], ncat,
		    bad ? "" : ", all whole");
		free(cat);
		free(dir);
	}
	for (j = 0; j < nstreams; j++)
		free(names[j]);
	free(names);
	return (bad);
}
