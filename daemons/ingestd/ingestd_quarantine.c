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
 * The quarantine: events that came by Forward (which has no error reply)
 * and did not fit their stream go to DATA_DIR/quarantine/STREAM.jsonl, one
 * JSON object a line with the time, the tag, the reason and the event, so
 * that nothing is silently dropped and a person can look, fix the sender
 * and replay.  Events whose tag names no stream go to _unknown.jsonl.  The
 * files are synced by the commit cycle before the chunk is acknowledged.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "conf.h"
#include "file.h"
#include "ingestd.h"
#include "log.h"
#include "msgjson.h"
#include "xmalloc.h"

static int
quarantine_open(struct ingestd *d, struct istream *st)
{
	char	*dir, *path;

	xasprintf(&dir, "%s/quarantine", d->conf->data_dir);
	if (file_mkdirs(dir, 0750) == -1) {
		log_warn("%s", dir);
		free(dir);
		return (-1);
	}
	xasprintf(&path, "%s/%s.jsonl", dir, st == &d->unknown ? "_unknown" :
	    st->cs->name);
	st->qfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (st->qfd == -1)
		log_warn("%s", path);
	else
		(void)file_fsync_dir(dir);
	free(path);
	free(dir);
	return (st->qfd == -1 ? -1 : 0);
}

/*
 * Write one refused event (record: msgpack, or NULL) to st's quarantine
 * with the reason, and count it.  The commit cycle makes it durable.
 */
int
quarantine_event(struct ingestd *d, struct istream *st, const char *tag,
    size_t taglen, const uint8_t *record, size_t reclen, const char *reason)
{
	struct json_object	*o, *ev;
	const char		*line;
	char			*t, *cause, *buf;
	size_t			 len;
	int			 rc;

	st->quarantined++;
	if (st->qfd == -1 && quarantine_open(d, st) == -1)
		return (-1);
	o = json_object_new_object();
	t = msgjson_time_str(ingestd_now());
	json_object_object_add(o, "time", json_object_new_string(t));
	free(t);
	json_object_object_add(o, "tag", json_object_new_string_len(tag,
	    (int)taglen));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	ev = NULL;
	cause = NULL;
	if (record != NULL)
		ev = msgjson_from_msg(record, reclen, &cause);
	free(cause);
	json_object_object_add(o, "event", ev);
	line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(line);
	buf = xmalloc(len + 1);
	memcpy(buf, line, len);
	buf[len] = '\n';
	json_object_put(o);
	rc = 0;
	while (write(st->qfd, buf, len + 1) == -1) {
		if (errno == EINTR)
			continue;
		log_warn("quarantine of %.*s", (int)taglen, tag);
		rc = -1;
		break;
	}
	free(buf);
	st->qdirty = 1;
	commit_schedule(d);
	return (rc);
}

void
quarantine_close(struct istream *st)
{
	if (st->qfd != -1)
		close(st->qfd);
	st->qfd = -1;
}
