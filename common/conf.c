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
 * Loading the configuration.  The file is read whole and libyaml's event
 * parser turns it into a small tree of nodes that remember their line and
 * column.  The tree is then walked against two tables, after Redis's
 * static_configs[]: conf_sections[] lists the top-level mappings and
 * conf_keys[] every scalar key with its type, bounds, default and optional
 * validator.  A new key is one line in conf_keys[]; a new section is one
 * line in conf_sections[], plus a function when its shape is not a plain
 * mapping of keys (streams:, later views:).
 *
 * Every problem is recorded with its position and the walk goes on, so one
 * run reports everything; the messages are sorted by position at the end.
 * Only a YAML syntax error stops early, since there is no tree to walk.
 * Combinations of keys are checked after the walk (conf_finish), as
 * memcached does.  Nothing here logs: the caller prints the messages.
 *
 * YAML features that make a config harder to read or to bound are refused:
 * aliases, tags, more than one document and deep nesting.
 */

#include <sys/stat.h>

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "conf.h"
#include "conf_int.h"
#include "log.h"
#include "xmalloc.h"

#define KiB		(UINT64_C(1) << 10)
#define MiB		(UINT64_C(1) << 20)
#define GiB		(UINT64_C(1) << 30)
#define TiB		(UINT64_C(1) << 40)

#define MSEC		UINT64_C(1)
#define SEC		(1000 * MSEC)
#define MINUTE		(60 * SEC)
#define HOUR		(60 * MINUTE)
#define DAY		(24 * HOUR)

#define CONF_FILE_MAX	(16 * 1024 * 1024)	/* bytes of YAML */
#define CONF_DEPTH_MAX	32			/* nested collections */
#define CONF_ERRORS_MAX	100			/* messages kept */
#define CONF_SHOW_MAX	128			/* bytes of a value shown */
#define CONF_SUN_MAX	107			/* sun_path less its NUL */

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

struct conf_err {
	int		 line, col;	/* 0: about the whole file */
	char		*msg;
};

/* How a key's scalar is read and stored. */
enum conf_ktype {
	K_STRING,		/* char * */
	K_PATH,			/* char *, made absolute against the file */
	K_SOCKET,		/* char *, made absolute against run_dir */
	K_SIZE,			/* bytes: 64MiB */
	K_DURATION,		/* milliseconds: 1h30m */
	K_INT,			/* decimal integer */
	K_BOOL,			/* true or false */
	K_ENUM,			/* one of names[], stored as its index */
	K_MODE			/* octal permission bits: 0660 */
};

#define KF_REQUIRED	0x1	/* no default: the key must be set */
#define KF_ZERO_OK	0x2	/* 0 is allowed below min */

/* Returns NULL if the value is fine, else the problem. */
typedef const char *(*conf_check_fn)(struct conf *, const char *);

struct conf_key {
	const char		*section;	/* NULL: top level */
	const char		*name;
	enum conf_ktype		 type;
	size_t			 off;		/* into struct conf */
	size_t			 width;		/* sizeof the member */
	uint64_t		 min, max, def;
	const char		*sdef;		/* string default */
	const char *const	*names;		/* K_ENUM */
	conf_check_fn		 check;
	int			 flags;
};

struct loader;

/* A top-level section: NULL parse means "keys of conf_keys[]". */
struct conf_section {
	const char	*name;
	void		(*parse)(struct loader *, const char *,
			    const struct node *, const struct node *);
};


static const char *conf_check_group(struct conf *, const char *);
static const char *conf_check_hostport(struct conf *, const char *);
static void	conf_streams(struct loader *, const char *,
		    const struct node *, const struct node *);
static void	conf_views_save(struct loader *, const char *,
		    const struct node *, const struct node *);

static const char *const conf_fsync_names[] = {
	"always", "interval", "never", NULL
};
static const char *const conf_verify_names[] = { "full", "quick", NULL };
static const char *const conf_ftype_names[] = {
	"string", "int", "float", "bool", NULL
};

#define K_OFF(m)	.off = offsetof(struct conf, m), \
			.width = sizeof(((struct conf *)0)->m)
#define C_PATH(s, n, m, f) \
	{ .section = s, .name = n, .type = K_PATH, K_OFF(m), .flags = f }
#define C_SOCKET(s, n, m, d) \
	{ .section = s, .name = n, .type = K_SOCKET, K_OFF(m), .sdef = d }
#define C_STRING(s, n, m, d, c) \
	{ .section = s, .name = n, .type = K_STRING, K_OFF(m), .sdef = d, \
	  .check = c }
#define C_SIZE(s, n, m, lo, hi, d, f) \
	{ .section = s, .name = n, .type = K_SIZE, K_OFF(m), .min = lo, \
	  .max = hi, .def = d, .flags = f }
#define C_DURATION(s, n, m, lo, hi, d) \
	{ .section = s, .name = n, .type = K_DURATION, K_OFF(m), .min = lo, \
	  .max = hi, .def = d }
#define C_INT(s, n, m, lo, hi, d) \
	{ .section = s, .name = n, .type = K_INT, K_OFF(m), .min = lo, \
	  .max = hi, .def = d }
#define C_BOOL(s, n, m, d) \
	{ .section = s, .name = n, .type = K_BOOL, K_OFF(m), .max = 1, \
	  .def = d }
#define C_ENUM(s, n, m, v, d) \
	{ .section = s, .name = n, .type = K_ENUM, K_OFF(m), .names = v, \
	  .def = d }
#define C_MODE(s, n, m, hi, d) \
	{ .section = s, .name = n, .type = K_MODE, K_OFF(m), .max = hi, \
	  .def = d }

/*
 * Every scalar key.  docs/CONFIG.md and conf/lamina.yaml describe the same
 * keys; keep the three in step.
 */
static const struct conf_key conf_keys[] = {
	C_PATH(NULL, "data_dir", data_dir, KF_REQUIRED),
	C_PATH(NULL, "run_dir", run_dir, KF_REQUIRED),

	C_SOCKET("sockets", "ingest", ingest_sock.path, "ingest.sock"),
	C_SOCKET("sockets", "forward", forward_sock.path, "forward.sock"),
	C_SOCKET("sockets", "batch", batch_sock.path, "batch.sock"),
	C_SOCKET("sockets", "speed", speed_sock.path, "speed.sock"),
	C_SOCKET("sockets", "serve", serve_sock.path, "serve.sock"),
	C_MODE("sockets", "mode", socket_mode, 0777, 0660),
	C_STRING("sockets", "group", socket_group, NULL, conf_check_group),
	C_SIZE("sockets", "max_message_bytes", max_message_bytes, 1 * KiB,
	    1 * GiB, 16 * MiB, 0),
	C_INT("sockets", "max_clients", max_clients, 1, 65536, 1024),
	C_SIZE("sockets", "max_client_buffer", max_client_buffer, 64 * KiB,
	    4 * GiB, 64 * MiB, 0),

	C_INT("log", "verbose", verbose, 0, 3, 0),

	C_SIZE("ingest", "segment_max_bytes", segment_max_bytes, 4 * KiB,
	    4 * GiB, 64 * MiB, 0),
	C_DURATION("ingest", "segment_max_age", segment_max_age_ms,
	    100 * MSEC, 30 * DAY, 1 * HOUR),
	C_SIZE("ingest", "preallocate", preallocate_bytes, 64 * KiB, 1 * GiB,
	    0, KF_ZERO_OK),
	C_ENUM("ingest", "fsync", fsync, conf_fsync_names, CONF_FSYNC_ALWAYS),
	C_DURATION("ingest", "fsync_interval", fsync_interval_ms, 1 * MSEC,
	    1 * HOUR, 1 * SEC),
	C_ENUM("ingest", "verify", verify, conf_verify_names,
	    CONF_VERIFY_FULL),
	C_STRING("ingest", "forward_tcp", forward_tcp, NULL,
	    conf_check_hostport),
	C_DURATION("ingest", "chunk_id_ttl", chunk_id_ttl_ms, 1 * SEC,
	    30 * DAY, 1 * HOUR),

	C_DURATION("batch", "interval", batch_interval_ms, 1 * SEC, 1 * DAY,
	    1 * MINUTE),
	C_INT("batch", "workers", batch_workers, 1, 64, 2),
};

static const struct conf_section conf_sections[] = {
	{ "sockets", NULL },
	{ "log", NULL },
	{ "ingest", NULL },
	{ "batch", NULL },
	{ "streams", conf_streams },
	{ "views", conf_views_save },
};

/* The state of one conf_load(). */
struct loader {
	const char		*file;
	char			*dir;		/* absolute dir of file */
	char			*buf;		/* the file's bytes */
	size_t			 len;
	struct conf		*conf;
	yaml_parser_t		 parser;

	struct conf_err		*errs;
	size_t			 nerrs, dropped;

	/*
	 * Per key: the node of a valid value set in the file (NULL: the
	 * default), and whether the file gave it an invalid value.  Per
	 * section: the node of its key.  For positions and combinations.
	 */
	const struct node	*keyat[nitems(conf_keys)];
	int			 keybad[nitems(conf_keys)];
	const struct node	*secat[nitems(conf_sections)];

	size_t			 streams_cap;
	int			 streams_full;

	/* views: kept until the streams are known (conf_finish). */
	const struct node	*views_key, *views_val;
};

/* A stream being read. */
struct stream_ctx {
	struct conf_stream	*st;
	const char		*path;		/* streams.NAME */
	char			*fields_path;	/* streams.NAME.fields */
	const struct node	*fields, *fields_key, *time, *time_key;
	size_t			 cap;
	size_t			 nseen;		/* keys under fields: */
	int			 nbad;		/* fields with problems */
	int			 full;
};

/* A field's long form being read. */
struct field_ctx {
	const struct node	*type, *required;
};

static void	conf_verror(struct loader *, const struct node *,
		    const char *, const char *, const char *, va_list)
		    __attribute__((__format__(__printf__, 5, 0)));
static void	conf_ferror(struct loader *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));

/*
 * Errors.
 */

/* Take over msg and record it, keeping at most CONF_ERRORS_MAX. */
static void
conf_err_add(struct loader *l, int line, int col, char *msg)
{
	if (l->nerrs == CONF_ERRORS_MAX) {
		free(msg);
		l->dropped++;
		return;
	}
	if (l->errs == NULL)
		l->errs = xreallocarray(NULL, CONF_ERRORS_MAX,
		    sizeof(*l->errs));
	l->errs[l->nerrs].line = line;
	l->errs[l->nerrs].col = col;
	l->errs[l->nerrs].msg = msg;
	l->nerrs++;
}

/*
 * Return a printable copy of s: bytes outside printable ASCII become \xNN
 * and anything past CONF_SHOW_MAX bytes becomes "...".  Names and values
 * come from the user and end up on terminals and in the journal.
 */
char *
conf_show(const char *s, size_t len)
{
	char		*out, *p;
	size_t		 i, n;
	unsigned char	 ch;

	n = len > CONF_SHOW_MAX ? CONF_SHOW_MAX : len;
	out = p = xmalloc(n * 4 + 4);
	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			*p++ = ch;
		else if (ch == '\\') {
			*p++ = '\\';
			*p++ = '\\';
		} else
			p += sprintf(p, "\\x%02x", ch);
	}
	if (n < len)
		p += sprintf(p, "...");
	*p = '\0';
	return (out);
}

/* Record "FILE:LINE:COLUMN: KEY: PROBLEM (VALUE)" about node at. */
static void
conf_verror(struct loader *l, const struct node *at, const char *key,
    const char *value, const char *fmt, va_list ap)
{
	char	 problem[512], *shown = NULL, *msg;
	int	 line = 1, col = 1;

	if (at != NULL) {
		line = at->line;
		col = at->col;
	}
	(void)vsnprintf(problem, sizeof(problem), fmt, ap);
	if (value != NULL)
		shown = conf_show(value, strlen(value));
	xasprintf(&msg, "%s:%d:%d: %s%s%s%s%s%s", l->file, line, col,
	    key != NULL ? key : "", key != NULL ? ": " : "", problem,
	    shown != NULL ? " (" : "", shown != NULL ? shown : "",
	    shown != NULL ? ")" : "");
	free(shown);
	conf_err_add(l, line, col, msg);
}

void
conf_error(struct loader *l, const struct node *at, const char *key,
    const char *value, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conf_verror(l, at, key, value, fmt, ap);
	va_end(ap);
}

/* Record "FILE: PROBLEM", about the file as a whole. */
static void
conf_ferror(struct loader *l, const char *fmt, ...)
{
	va_list	 ap;
	char	 problem[512], *msg;

	va_start(ap, fmt);
	(void)vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	xasprintf(&msg, "%s: %s", l->file, problem);
	conf_err_add(l, 0, 0, msg);
}

/* Hand the messages to the caller, sorted by position (stable). */
static void
conf_errors_out(struct loader *l, char ***errors, size_t *nerrors)
{
	struct conf_err	 e;
	char		**out;
	size_t		 i, j, n;

	for (i = 1; i < l->nerrs; i++) {
		e = l->errs[i];
		for (j = i; j > 0 && (l->errs[j - 1].line > e.line ||
		    (l->errs[j - 1].line == e.line &&
		    l->errs[j - 1].col > e.col)); j--)
			l->errs[j] = l->errs[j - 1];
		l->errs[j] = e;
	}
	n = l->nerrs + (l->dropped > 0);
	out = xreallocarray(NULL, n, sizeof(*out));
	for (i = 0; i < l->nerrs; i++)
		out[i] = l->errs[i].msg;
	if (l->dropped > 0)
		xasprintf(&out[i], "%s: %zu more errors not shown", l->file,
		    l->dropped);
	free(l->errs);
	l->errs = NULL;
	l->nerrs = 0;
	if (errors != NULL && nerrors != NULL) {
		*errors = out;
		*nerrors = n;
	} else
		conf_free_errors(out, n);
}

/*
 * Reading the file and building the tree.
 */

/* Read the whole file into l->buf. */
static int
conf_read(struct loader *l)
{
	struct stat	 sb;
	size_t		 cap = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(l->file, O_RDONLY | O_CLOEXEC)) == -1) {
		conf_ferror(l, "%s", strerror(errno));
		return (-1);
	}
	if (fstat(fd, &sb) == -1 || S_ISDIR(sb.st_mode)) {
		conf_ferror(l, "%s", strerror(S_ISDIR(sb.st_mode) ?
		    EISDIR : errno));
		close(fd);
		return (-1);
	}
	for (;;) {
		if (l->len > CONF_FILE_MAX) {
			conf_ferror(l, "larger than %dMiB", CONF_FILE_MAX >> 20);
			close(fd);
			return (-1);
		}
		if (l->len == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			l->buf = xrealloc(l->buf, cap + 1);
		}
		n = read(fd, l->buf + l->len, cap - l->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			conf_ferror(l, "%s", strerror(errno));
			close(fd);
			return (-1);
		}
		if (n == 0)
			break;
		l->len += n;
	}
	close(fd);
	l->buf[l->len] = '\0';
	return (0);
}

/* Turn a byte offset into a line and a column (in characters). */
static void
conf_offset_pos(const struct loader *l, size_t off, int *line, int *col)
{
	size_t	 i;

	*line = *col = 1;
	for (i = 0; i < off && i < l->len; i++) {
		if (l->buf[i] == '\n' || (l->buf[i] == '\r' &&
		    (i + 1 == l->len || l->buf[i + 1] != '\n'))) {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)l->buf[i] & 0xc0) != 0x80)
			(*col)++;
	}
}

/* The byte at a 0-based libyaml mark, or -1. */
static int
conf_mark_byte(const struct loader *l, const yaml_mark_t *m)
{
	size_t	 i = 0, line = 0, col = 0;

	while (i < l->len && line < m->line) {
		if (l->buf[i] == '\n' || (l->buf[i] == '\r' &&
		    (i + 1 == l->len || l->buf[i + 1] != '\n')))
			line++;
		i++;
	}
	for (; i < l->len; i++) {
		if (((unsigned char)l->buf[i] & 0xc0) == 0x80)
			continue;
		if (col++ == m->column)
			return ((unsigned char)l->buf[i]);
	}
	return (-1);
}

/* Record libyaml's complaint as "FILE:LINE:COLUMN: yaml: PROBLEM". */
static void
conf_yaml_error(struct loader *l)
{
	yaml_parser_t	*p = &l->parser;
	struct node	 at;
	char		 extra[128] = "";
	const char	*problem;

	memset(&at, 0, sizeof(at));
	problem = p->problem != NULL ? p->problem : "parse error";
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		fatalx("conf: libyaml is out of memory");
	case YAML_READER_ERROR:
		conf_offset_pos(l, p->problem_offset, &at.line, &at.col);
		if (p->problem_value != -1)
			snprintf(extra, sizeof(extra), " (0x%02x)",
			    (unsigned)p->problem_value);
		break;
	default:
		at.line = p->problem_mark.line + 1;
		at.col = p->problem_mark.column + 1;
		if (conf_mark_byte(l, &p->problem_mark) == '\t' &&
		    strstr(problem, "tab") == NULL)
			snprintf(extra, sizeof(extra), " (a tab: indent with "
			    "spaces)");
		else if (p->context != NULL)
			snprintf(extra, sizeof(extra), " (%s at %zu:%zu)",
			    p->context, p->context_mark.line + 1,
			    p->context_mark.column + 1);
		break;
	}
	conf_error(l, &at, "yaml", NULL, "%s%s", problem, extra);
}

/* Get the next event; on a syntax error record it and return -1. */
static int
conf_next(struct loader *l, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&l->parser, ev)) {
		conf_yaml_error(l);
		return (-1);
	}
	return (0);
}

static void
node_clear(struct node *n)
{
	size_t	 i;

	for (i = 0; i < n->nkids; i++)
		node_clear(&n->kids[i]);
	free(n->kids);
	free(n->s);
	memset(n, 0, sizeof(*n));
}

/*
 * Build n from ev, its first event, consuming the events of its children.
 * Returns -1 after a syntax error or too deep a nesting: the tree is then
 * incomplete and must not be walked.
 */
static int
conf_build(struct loader *l, yaml_event_t *ev, struct node *n, int depth)
{
	yaml_event_t	 kev;
	yaml_event_type_t end;
	const char	*tag = NULL;
	size_t		 cap = 0;
	int		 rc;

	memset(n, 0, sizeof(*n));
	n->line = ev->start_mark.line + 1;
	n->col = ev->start_mark.column + 1;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n->kind = NODE_SCALAR;
		n->len = ev->data.scalar.length;
		n->s = xmalloc(n->len + 1);
		memcpy(n->s, ev->data.scalar.value, n->len);
		n->s[n->len] = '\0';
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
			n->empty = n->len == 0;
			n->null = n->empty || strcmp(n->s, "~") == 0 ||
			    strcmp(n->s, "null") == 0 ||
			    strcmp(n->s, "Null") == 0 ||
			    strcmp(n->s, "NULL") == 0;
		}
		tag = (const char *)ev->data.scalar.tag;
		if (tag == NULL && memchr(n->s, '\0', n->len) != NULL) {
			conf_error(l, n, "yaml", NULL,
			    "NUL characters are not supported");
			n->kind = NODE_BAD;
		}
		break;
	case YAML_ALIAS_EVENT:
		xasprintf(&n->s, "*%s", (const char *)ev->data.alias.anchor);
		conf_error(l, n, "yaml", n->s, "aliases are not supported");
		n->kind = NODE_BAD;
		return (0);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (ev->type == YAML_MAPPING_START_EVENT) {
			n->kind = NODE_MAP;
			tag = (const char *)ev->data.mapping_start.tag;
			end = YAML_MAPPING_END_EVENT;
		} else {
			n->kind = NODE_SEQ;
			tag = (const char *)ev->data.sequence_start.tag;
			end = YAML_SEQUENCE_END_EVENT;
		}
		if (depth >= CONF_DEPTH_MAX) {
			conf_error(l, n, "yaml", NULL,
			    "nested deeper than %d levels", CONF_DEPTH_MAX);
			return (-1);
		}
		for (;;) {
			if (conf_next(l, &kev) == -1)
				return (-1);
			if (kev.type == end) {
				yaml_event_delete(&kev);
				break;
			}
			if (n->nkids == cap) {
				cap = cap == 0 ? 8 : cap * 2;
				n->kids = xreallocarray(n->kids, cap,
				    sizeof(*n->kids));
			}
			rc = conf_build(l, &kev, &n->kids[n->nkids], depth + 1);
			yaml_event_delete(&kev);
			n->nkids++;
			if (rc == -1)
				return (-1);
		}
		break;
	default:
		fatalx("conf: unexpected libyaml event %d", ev->type);
	}
	if (tag != NULL) {
		conf_error(l, n, "yaml", tag, "tags are not supported");
		n->kind = NODE_BAD;
	}
	return (0);
}

/*
 * Parse the buffer into root.  Returns 1 with a tree, 0 if the stream holds
 * no document, -1 if there is no usable tree.
 */
static int
conf_tree(struct loader *l, struct node *root)
{
	yaml_event_t	 ev;
	struct node	 at;
	int		 rc;

	if (conf_next(l, &ev) == -1)
		return (-1);
	yaml_event_delete(&ev);			/* stream start */
	if (conf_next(l, &ev) == -1)
		return (-1);
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return (0);
	}
	yaml_event_delete(&ev);			/* document start */
	if (conf_next(l, &ev) == -1)
		return (-1);
	rc = conf_build(l, &ev, root, 0);
	yaml_event_delete(&ev);
	if (rc == -1 || conf_next(l, &ev) == -1)
		return (-1);
	yaml_event_delete(&ev);			/* document end */
	if (conf_next(l, &ev) == -1)
		return (-1);
	if (ev.type == YAML_DOCUMENT_START_EVENT) {
		memset(&at, 0, sizeof(at));
		at.line = ev.start_mark.line + 1;
		at.col = ev.start_mark.column + 1;
		conf_error(l, &at, "yaml", NULL,
		    "only one document is allowed");
	}
	yaml_event_delete(&ev);
	return (1);
}

/*
 * Walking the tree.
 */

static int
conf_key_cmp(const void *a, const void *b)
{
	const struct node *ka = *(const struct node *const *)a;
	const struct node *kb = *(const struct node *const *)b;
	size_t		 n = ka->len < kb->len ? ka->len : kb->len;
	int		 c;

	if ((c = memcmp(ka->s, kb->s, n)) != 0)
		return (c);
	if (ka->len != kb->len)
		return (ka->len < kb->len ? -1 : 1);
	return (ka < kb ? -1 : ka > kb);	/* keep file order */
}

/*
 * For each pair of map, set dup[pair] to the line of an earlier equal key,
 * or 0.  Sorting keeps this O(n log n) on huge mappings.
 */
static void
conf_find_dups(const struct node *map, int *dup)
{
	const struct node	**keys;
	size_t			 i, n = 0;

	memset(dup, 0, map->nkids / 2 * sizeof(*dup));
	if (map->nkids < 4)
		return;
	keys = xreallocarray(NULL, map->nkids / 2, sizeof(*keys));
	for (i = 0; i + 1 < map->nkids; i += 2)
		if (map->kids[i].kind == NODE_SCALAR)
			keys[n++] = &map->kids[i];
	qsort(keys, n, sizeof(*keys), conf_key_cmp);
	for (i = 1; i < n; i++) {
		if (keys[i]->len != keys[i - 1]->len ||
		    memcmp(keys[i]->s, keys[i - 1]->s, keys[i]->len) != 0)
			continue;
		dup[(keys[i] - map->kids) / 2] =
		    dup[(keys[i - 1] - map->kids) / 2] != 0 ?
		    dup[(keys[i - 1] - map->kids) / 2] : keys[i - 1]->line;
	}
	free(keys);
}

/* Where to report a problem with a value: an empty value has no place. */
const struct node *
conf_at(const struct node *key, const struct node *val)
{
	if (val->kind == NODE_SCALAR && val->empty)
		return (key);
	return (val);
}

/*
 * Call fn for every pair of the mapping val, whose key is at key (NULL at
 * the top) and whose dotted path is path (NULL at the top), with the
 * pair's own path.  Null is an empty mapping.  Duplicate and non-scalar
 * keys are reported here.  Returns -1 if val is not a mapping.
 */
int
conf_walk(struct loader *l, const char *path, const struct node *key,
    const struct node *val, conf_pair_fn fn, void *arg)
{
	const struct node	*k, *v;
	char			*child, *shown;
	int			*dup;
	size_t			 i;

	if (val->kind == NODE_BAD)
		return (-1);
	if (val->kind == NODE_SCALAR && val->null)
		return (0);
	if (val->kind != NODE_MAP) {
		conf_error(l, key != NULL ? conf_at(key, val) : val, path,
		    NULL, "expected a mapping");
		return (-1);
	}
	if (val->nkids == 0)
		return (0);
	dup = xreallocarray(NULL, val->nkids / 2, sizeof(*dup));
	conf_find_dups(val, dup);
	for (i = 0; i + 1 < val->nkids; i += 2) {
		k = &val->kids[i];
		v = &val->kids[i + 1];
		if (k->kind == NODE_BAD)
			continue;
		if (k->kind != NODE_SCALAR) {
			conf_error(l, k, path, NULL,
			    "keys must be plain strings");
			continue;
		}
		shown = conf_show(k->s, k->len);
		if (path != NULL) {
			xasprintf(&child, "%s.%s", path, shown);
			free(shown);
		} else
			child = shown;
		if (dup[i / 2] != 0)
			conf_error(l, k, child, NULL,
			    "duplicate key, first at line %d", dup[i / 2]);
		else if (v->kind != NODE_BAD)
			fn(l, child, k, v, arg);
		free(child);
	}
	free(dup);
	return (0);
}

static const struct conf_key *
conf_key_find(const char *section, const char *name)
{
	const struct conf_key	*k;

	for (k = conf_keys; k < conf_keys + nitems(conf_keys); k++) {
		if ((k->section == NULL) != (section == NULL))
			continue;
		if (section != NULL && strcmp(k->section, section) != 0)
			continue;
		if (strcmp(k->name, name) == 0)
			return (k);
	}
	return (NULL);
}

/* Index of a key that must exist: a missing one is our bug. */
static size_t
conf_key_index(const char *section, const char *name)
{
	const struct conf_key	*k;

	if ((k = conf_key_find(section, name)) == NULL)
		fatalx("conf: no key %s.%s", section != NULL ? section :
		    "(top)", name);
	return (k - conf_keys);
}

static void
conf_store(struct conf *c, const struct conf_key *k, uint64_t v)
{
	char		*p = (char *)c + k->off;
	uint8_t		 v8 = v;
	uint16_t	 v16 = v;
	uint32_t	 v32 = v;

	switch (k->width) {
	case 1:
		memcpy(p, &v8, 1);
		break;
	case 2:
		memcpy(p, &v16, 2);
		break;
	case 4:
		memcpy(p, &v32, 4);
		break;
	case 8:
		memcpy(p, &v, 8);
		break;
	default:
		fatalx("conf: %s: bad width %zu", k->name, k->width);
	}
}

/* Replace a string member; takes over s. */
static void
conf_store_str(struct conf *c, const struct conf_key *k, char *s)
{
	char	**p = (char **)((char *)c + k->off);

	free(*p);
	*p = s;
}

static int
conf_is_digit(int ch)
{
	return (ch >= '0' && ch <= '9');
}

static int
conf_lower(int ch)
{
	return (ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
}

static int
conf_eq_nocase(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (conf_lower((unsigned char)*a) != conf_lower((unsigned char)*b))
			return (0);
	return (*a == *b);
}

/*
 * Read an optionally signed decimal integer.  Returns 0, -1 if s is not
 * one, 1 if it is one but does not fit in int64_t.
 */
int
conf_parse_int(const char *s, int64_t *v)
{
	uint64_t	 u = 0, lim;
	int		 neg = 0;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!conf_is_digit((unsigned char)*s))
		return (-1);
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; conf_is_digit((unsigned char)*s); s++) {
		if (u > (lim - (*s - '0')) / 10) {
			while (conf_is_digit((unsigned char)*s))
				s++;
			return (*s == '\0' ? 1 : -1);
		}
		u = u * 10 + (*s - '0');
	}
	if (*s != '\0')
		return (-1);
	*v = neg ? (u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u) :
	    (int64_t)u;
	return (0);
}

/* Octal permission bits, with an optional 0o prefix. */
static int
conf_parse_mode(const char *s, uint64_t *v)
{
	size_t	 n;

	if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		s += 2;
	if (*s == '\0')
		return (-1);
	for (*v = 0, n = 0; *s != '\0'; s++, n++) {
		if (*s < '0' || *s > '7' || n == 12)
			return (-1);
		*v = *v * 8 + (*s - '0');
	}
	return (0);
}

int
conf_parse_bool(const char *s, uint64_t *v)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0)
		*v = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
	    strcmp(s, "FALSE") == 0)
		*v = 0;
	else
		return (-1);
	return (0);
}

/* Index of s in a NULL-terminated list of names, or -1. */
static int
conf_parse_enum(const char *const *names, const char *s)
{
	int	 i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return (i);
	return (-1);
}

/* "must be one of a, b, c" */
static void
conf_enum_problem(const char *const *names, char *buf, size_t len)
{
	size_t	 i, n;
	int	 rc;

	rc = snprintf(buf, len, "must be one of ");
	for (i = 0, n = rc; names[i] != NULL && n < len; i++, n += rc) {
		rc = snprintf(buf + n, len - n, "%s%s", i > 0 ? ", " : "",
		    names[i]);
		if (rc < 0)
			break;
	}
}

static void
conf_fmt_size(uint64_t v, char *buf, size_t len)
{
	static const struct {
		const char	*name;
		uint64_t	 mult;
	} u[] = { { "TiB", TiB }, { "GiB", GiB }, { "MiB", MiB },
	    { "KiB", KiB } };
	size_t	 i;

	for (i = 0; i < nitems(u); i++) {
		if (v != 0 && v % u[i].mult == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", v / u[i].mult,
			    u[i].name);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

static void
conf_fmt_duration(uint64_t v, char *buf, size_t len)
{
	static const struct {
		const char	*name;
		uint64_t	 mult;
	} u[] = { { "d", DAY }, { "h", HOUR }, { "m", MINUTE }, { "s", SEC } };
	size_t	 i;

	for (i = 0; i < nitems(u); i++) {
		if (v != 0 && v % u[i].mult == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", v / u[i].mult,
			    u[i].name);
			return;
		}
	}
	snprintf(buf, len, v == 0 ? "0" : "%" PRIu64 "ms", v);
}

/* Format a value of key k as a user would write it. */
static void
conf_fmt(const struct conf_key *k, uint64_t v, char *buf, size_t len)
{
	switch (k->type) {
	case K_SIZE:
		conf_fmt_size(v, buf, len);
		break;
	case K_DURATION:
		conf_fmt_duration(v, buf, len);
		break;
	case K_MODE:
		snprintf(buf, len, "0%03" PRIo64, v);
		break;
	default:
		snprintf(buf, len, "%" PRIu64, v);
		break;
	}
}

/* What a value of key k should look like. */
static void
conf_expect(const struct conf_key *k, char *buf, size_t len)
{
	switch (k->type) {
	case K_STRING:
		snprintf(buf, len, "expected a string");
		break;
	case K_PATH:
	case K_SOCKET:
		snprintf(buf, len, "expected a path");
		break;
	case K_SIZE:
		snprintf(buf, len, "expected a size such as 64MiB");
		break;
	case K_DURATION:
		snprintf(buf, len, "expected a duration such as 30s or 1h30m");
		break;
	case K_INT:
		snprintf(buf, len, "expected an integer");
		break;
	case K_BOOL:
		snprintf(buf, len, "expected true or false");
		break;
	case K_ENUM:
		conf_enum_problem(k->names, buf, len);
		break;
	case K_MODE:
		snprintf(buf, len, "expected an octal mode such as 0660");
		break;
	}
}

/* True if s is all digits: a duration that forgot its unit. */
static int
conf_all_digits(const char *s)
{
	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++)
		if (!conf_is_digit((unsigned char)*s))
			return (0);
	return (1);
}

/*
 * Paths.
 */

/*
 * Clean an absolute path lexically: no empty or "." components, no
 * trailing slash.  ".." is kept, since with symlinks only the file system
 * knows what it means.
 */
static char *
conf_path_clean(const char *path)
{
	const char	*p = path, *e;
	char		*out, *o;

	out = o = xmalloc(strlen(path) + 2);
	while (*p != '\0') {
		while (*p == '/')
			p++;
		for (e = p; *e != '\0' && *e != '/'; e++)
			;
		if (e > p && !(e - p == 1 && *p == '.')) {
			*o++ = '/';
			memcpy(o, p, e - p);
			o += e - p;
		}
		p = e;
	}
	if (o == out)
		*o++ = '/';
	*o = '\0';
	return (out);
}

/* Resolve path against dir, an absolute directory. */
static char *
conf_path_join(const char *dir, const char *path)
{
	char	*tmp, *out;

	if (path[0] == '/')
		return (conf_path_clean(path));
	xasprintf(&tmp, "%s/%s", dir, path);
	out = conf_path_clean(tmp);
	free(tmp);
	return (out);
}

/* Set l->dir to the absolute directory holding the file. */
static int
conf_dir(struct loader *l)
{
	const char	*slash;
	char		*dir, *cwd;

	if ((slash = strrchr(l->file, '/')) == NULL)
		dir = xstrdup(".");
	else if (slash == l->file)
		dir = xstrdup("/");
	else
		dir = xstrndup(l->file, slash - l->file);
	if (dir[0] == '/') {
		l->dir = conf_path_clean(dir);
		free(dir);
		return (0);
	}
	if ((cwd = getcwd(NULL, 0)) == NULL) {
		conf_ferror(l, "getcwd: %s", strerror(errno));
		free(dir);
		return (-1);
	}
	l->dir = conf_path_join(cwd, dir);
	free(cwd);
	free(dir);
	return (0);
}

/* Read the value of key k at path, check it and store it. */
static void
conf_set(struct loader *l, const struct conf_key *k, const char *path,
    const struct node *key, const struct node *val)
{
	const struct node	*at = conf_at(key, val);
	size_t			 idx = k - conf_keys;
	char			 expect[128], lo[32], hi[32];
	const char		*problem;
	uint64_t		 v = 0;
	int64_t			 iv;
	int			 rc;

	l->keybad[idx] = 1;
	conf_expect(k, expect, sizeof(expect));
	if (val->kind != NODE_SCALAR) {
		conf_error(l, val, path, NULL, "%s", expect);
		return;
	}
	if (val->null) {
		conf_error(l, at, path, NULL, "missing value");
		return;
	}
	switch (k->type) {
	case K_STRING:
	case K_PATH:
	case K_SOCKET:
		if (val->len == 0) {
			conf_error(l, at, path, NULL, "must not be empty");
			return;
		}
		if (k->check != NULL &&
		    (problem = k->check(l->conf, val->s)) != NULL) {
			conf_error(l, at, path, val->s, "%s", problem);
			return;
		}
		conf_store_str(l->conf, k, k->type == K_PATH ?
		    conf_path_join(l->dir, val->s) : xstrdup(val->s));
		l->keybad[idx] = 0;
		l->keyat[idx] = at;
		return;
	case K_SIZE:
		if (conf_parse_size(val->s, &v) == -1) {
			conf_error(l, at, path, val->s, "%s", expect);
			return;
		}
		break;
	case K_DURATION:
		if (conf_parse_duration(val->s, &v) == -1) {
			conf_error(l, at, path, val->s, "%s",
			    conf_all_digits(val->s) ?
			    "missing unit: ms, s, m, h or d" : expect);
			return;
		}
		break;
	case K_INT:
		if ((rc = conf_parse_int(val->s, &iv)) == -1) {
			conf_error(l, at, path, val->s, "%s", expect);
			return;
		}
		/* Too large or negative: out of every range. */
		v = rc == 1 || iv < 0 ? UINT64_MAX : (uint64_t)iv;
		break;
	case K_BOOL:
		if (conf_parse_bool(val->s, &v) == -1) {
			conf_error(l, at, path, val->s, "%s", expect);
			return;
		}
		break;
	case K_ENUM:
		if ((rc = conf_parse_enum(k->names, val->s)) == -1) {
			conf_error(l, at, path, val->s, "%s", expect);
			return;
		}
		v = rc;
		break;
	case K_MODE:
		if (conf_parse_mode(val->s, &v) == -1) {
			conf_error(l, at, path, val->s, "%s", expect);
			return;
		}
		break;
	}
	if ((k->type != K_BOOL && k->type != K_ENUM) &&
	    (v < k->min || v > k->max) && !(v == 0 && k->flags & KF_ZERO_OK)) {
		conf_fmt(k, k->min, lo, sizeof(lo));
		conf_fmt(k, k->max, hi, sizeof(hi));
		if (k->type == K_MODE)
			conf_error(l, at, path, val->s, "must be at most %s",
			    hi);
		else
			conf_error(l, at, path, val->s,
			    "must be %sbetween %s and %s",
			    k->flags & KF_ZERO_OK ? "0 or " : "", lo, hi);
		return;
	}
	conf_store(l->conf, k, v);
	l->keybad[idx] = 0;
	l->keyat[idx] = at;
}

/*
 * Validators of string keys.
 */

/* sockets.group: a group that exists; sets socket_gid. */
static const char *
conf_check_group(struct conf *c, const char *name)
{
	struct group	 gr, *res = NULL;
	char		*buf = NULL;
	size_t		 len = 1024;
	int		 rc;

	for (;;) {
		buf = xrealloc(buf, len);
		rc = getgrnam_r(name, &gr, buf, len, &res);
		if (rc != ERANGE || len >= 1024 * 1024)
			break;
		len *= 2;
	}
	if (res == NULL) {
		free(buf);
		return (rc == 0 || rc == ENOENT || rc == ESRCH ?
		    "unknown group" : strerror(rc));
	}
	c->socket_gid = gr.gr_gid;
	free(buf);
	return (NULL);
}

/* ingest.forward_tcp: "HOST:PORT" with a loopback HOST. */
static const char *
conf_check_hostport(struct conf *c, const char *s)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	const char	*colon, *port;
	char		 host[INET6_ADDRSTRLEN + 1];
	size_t		 hlen;
	long		 n;

	(void)c;
	if (s[0] == '[') {
		if ((colon = strchr(s, ']')) == NULL || colon[1] != ':')
			return ("expected HOST:PORT such as 127.0.0.1:24224");
		hlen = colon - s - 1;
		s++;
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return ("expected HOST:PORT such as 127.0.0.1:24224");
		hlen = colon - s;
		if (memchr(s, ':', hlen) != NULL)
			return ("write an IPv6 address in brackets, such as "
			    "[::1]:24224");
	}
	port = colon + 1;
	if (!conf_all_digits(port) || strlen(port) > 5 ||
	    (n = strtol(port, NULL, 10)) < 1 || n > 65535)
		return ("port must be between 1 and 65535");
	if (hlen == 0 || hlen >= sizeof(host))
		return ("host must be a loopback address: 127.x.x.x, ::1 or "
		    "localhost");
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (conf_eq_nocase(host, "localhost"))
		return (NULL);
	if (inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127)
		return (NULL);
	if (inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6))
		return (NULL);
	return ("host must be a loopback address: 127.x.x.x, ::1 or "
	    "localhost");
}

/*
 * Sections.
 */

/* One key of a plain section; arg points to the section. */
static void
conf_section_key(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	const struct conf_section	*const *sec = arg;
	const struct conf_key		*k;

	if ((k = conf_key_find((*sec)->name, key->s)) == NULL)
		conf_error(l, key, path, NULL, "unknown key");
	else
		conf_set(l, k, path, key, val);
}

/* One top-level key: a key of conf_keys[] or a section. */
static void
conf_top(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	const struct conf_section	*sec;
	const struct conf_key		*k;

	(void)arg;
	if ((k = conf_key_find(NULL, key->s)) != NULL) {
		conf_set(l, k, path, key, val);
		return;
	}
	for (sec = conf_sections; sec < conf_sections + nitems(conf_sections);
	    sec++) {
		if (strcmp(sec->name, key->s) != 0)
			continue;
		l->secat[sec - conf_sections] = key;
		if (sec->parse != NULL)
			sec->parse(l, path, key, val);
		else
			conf_walk(l, path, key, val,
			    conf_section_key, &sec);
		return;
	}
	conf_error(l, key, path, NULL, "unknown key");
}

/*
 * streams:
 */

const char conf_name_rule[] = "1 to 64 letters, digits, '_', '.' "
    "or '-', starting with a letter";

/* One key of a field's long form: {type: string, required: false}. */
static void
conf_field_key(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	struct field_ctx	*fc = arg;

	if (strcmp(key->s, "type") == 0)
		fc->type = val;
	else if (strcmp(key->s, "required") == 0)
		fc->required = val;
	else
		conf_error(l, key, path, NULL, "unknown key");
}

/* Read a field type at val into *type; -1 after reporting a problem. */
static int
conf_field_type(struct loader *l, const char *path, const struct node *key,
    const struct node *val, enum conf_ftype *type)
{
	char	 expect[128];
	int	 i;

	conf_enum_problem(conf_ftype_names, expect, sizeof(expect));
	if (val->kind == NODE_SCALAR && val->null) {
		conf_error(l, conf_at(key, val), path, NULL, "missing value");
		return (-1);
	}
	if (val->kind != NODE_SCALAR ||
	    (i = conf_parse_enum(conf_ftype_names, val->s)) == -1) {
		conf_error(l, val, path, val->kind == NODE_SCALAR ? val->s :
		    NULL, "%s", expect);
		return (-1);
	}
	*type = i;
	return (0);
}

/* One field of a stream: "name: type" or "name: {type: ..., ...}". */
static void
conf_field(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	struct stream_ctx	*sc = arg;
	struct conf_stream	*st = sc->st;
	struct conf_field	 f;
	struct field_ctx	 fc;
	uint64_t		 req = 1;
	char			*sub;

	sc->nseen++;
	memset(&f, 0, sizeof(f));
	if (!conf_valid_name(key->s, key->len)) {
		conf_error(l, key, sc->fields_path, key->s,
		    "bad field name: %s", conf_name_rule);
		sc->nbad++;
		return;
	}
	if (st->nfields == CONF_FIELDS_MAX) {
		if (!sc->full)
			conf_error(l, key, sc->fields_path, NULL,
			    "too many fields, the limit is %d",
			    CONF_FIELDS_MAX);
		sc->full = 1;
		sc->nbad++;
		return;
	}
	if (val->kind == NODE_MAP) {
		memset(&fc, 0, sizeof(fc));
		conf_walk(l, path, key, val, conf_field_key,
		    &fc);
		xasprintf(&sub, "%s.type", path);
		if (fc.type == NULL) {
			conf_error(l, key, sub, NULL, "missing required key");
			sc->nbad++;
		} else if (conf_field_type(l, sub, key, fc.type, &f.type) == -1)
			sc->nbad++;
		free(sub);
		if (fc.required != NULL) {
			xasprintf(&sub, "%s.required", path);
			if (fc.required->kind != NODE_SCALAR ||
			    fc.required->null ||
			    conf_parse_bool(fc.required->s, &req) == -1) {
				conf_error(l, conf_at(key, fc.required), sub,
				    fc.required->kind == NODE_SCALAR &&
				    !fc.required->null ? fc.required->s : NULL,
				    "expected true or false");
				sc->nbad++;
			}
			free(sub);
		}
	} else if (val->kind == NODE_SEQ) {
		conf_error(l, val, path, NULL,
		    "expected a type or a mapping such as {type: string}");
		sc->nbad++;
		return;
	} else if (conf_field_type(l, path, key, val, &f.type) == -1) {
		sc->nbad++;
		return;
	}
	if (st->nfields == sc->cap) {
		sc->cap = sc->cap == 0 ? 8 : sc->cap * 2;
		st->fields = xreallocarray(st->fields, sc->cap,
		    sizeof(*st->fields));
	}
	f.name = xstrdup(key->s);
	f.namelen = strlen(f.name);
	memset(f.namew, 0, sizeof(f.namew));
	memcpy(f.namew, f.name, f.namelen < sizeof(f.namew) ? f.namelen :
	    sizeof(f.namew));
	f.namew[0] = le64toh(f.namew[0]);
	f.namew[1] = le64toh(f.namew[1]);
	f.required = req != 0;
	st->fields[st->nfields++] = f;
}

/* One key of a stream: fields or time. */
static void
conf_stream_key(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	struct stream_ctx	*sc = arg;

	if (strcmp(key->s, "fields") == 0) {
		sc->fields_key = key;
		sc->fields = val;
	} else if (strcmp(key->s, "time") == 0) {
		sc->time_key = key;
		sc->time = val;
	} else
		conf_error(l, key, path, NULL, "unknown key");
}

/* Check the time key of a stream once its fields are known. */
static void
conf_stream_time(struct loader *l, struct stream_ctx *sc)
{
	const struct conf_field	*f;
	const struct node	*val = sc->time;
	char			*path;

	xasprintf(&path, "%s.time", sc->path);
	if (val->kind != NODE_SCALAR || val->null) {
		conf_error(l, conf_at(sc->time_key, val), path, NULL,
		    val->kind == NODE_SCALAR ? "missing value" :
		    "expected a field name");
	} else if ((f = conf_find_field(sc->st, val->s)) == NULL) {
		if (sc->nbad == 0)
			conf_error(l, val, path, val->s,
			    "time field is not a field of the stream");
	} else if (f->type != CONF_FT_INT && f->type != CONF_FT_FLOAT) {
		conf_error(l, val, path, val->s,
		    "time field must be int or float, not %s",
		    conf_ftype_name(f->type));
	} else {
		sc->st->time_field = xstrdup(val->s);
		sc->st->time_idx = (int)(f - sc->st->fields);
	}
	free(path);
}

/* One stream: its name is key, its definition val. */
static void
conf_stream(struct loader *l, const char *path, const struct node *key,
    const struct node *val, void *arg)
{
	struct conf		*c = l->conf;
	struct stream_ctx	 sc;
	struct conf_stream	*st;

	(void)arg;
	if (!conf_valid_name(key->s, key->len)) {
		conf_error(l, key, "streams", key->s, "bad stream name: %s",
		    conf_name_rule);
		return;
	}
	if (c->nstreams == CONF_STREAMS_MAX) {
		if (!l->streams_full)
			conf_error(l, key, "streams", NULL,
			    "too many streams, the limit is %d",
			    CONF_STREAMS_MAX);
		l->streams_full = 1;
		return;
	}
	memset(&sc, 0, sizeof(sc));
	sc.path = path;
	if (conf_walk(l, path, key, val, conf_stream_key, &sc) == -1)
		return;

	if (c->nstreams == l->streams_cap) {
		l->streams_cap = l->streams_cap == 0 ? 8 : l->streams_cap * 2;
		c->streams = xreallocarray(c->streams, l->streams_cap,
		    sizeof(*c->streams));
	}
	st = &c->streams[c->nstreams++];
	memset(st, 0, sizeof(*st));
	st->name = xstrdup(key->s);
	st->time_idx = -1;
	st->line = key->line;
	st->column = key->col;
	sc.st = st;

	xasprintf(&sc.fields_path, "%s.fields", path);
	if (sc.fields == NULL) {
		conf_error(l, key, sc.fields_path, NULL,
		    "missing required key");
		sc.nbad++;
	} else if (conf_walk(l, sc.fields_path, sc.fields_key,
	    sc.fields, conf_field, &sc) == -1)
		sc.nbad++;
	else if (sc.nseen == 0) {
		conf_error(l, sc.fields_key, sc.fields_path, NULL,
		    "a stream needs at least one field");
		sc.nbad++;
	}
	if (sc.time != NULL)
		conf_stream_time(l, &sc);
	free(sc.fields_path);
}

static void
conf_streams(struct loader *l, const char *path, const struct node *key,
    const struct node *val)
{
	conf_walk(l, path, key, val, conf_stream, NULL);
}

/* views: read in conf_finish, once every stream is known. */
static void
conf_views_save(struct loader *l, const char *path, const struct node *key,
    const struct node *val)
{
	(void)path;
	l->views_key = key;
	l->views_val = val;
}

struct conf *
conf_loader_conf(struct loader *l)
{
	return (l->conf);
}

/*
 * Checks after the walk.
 */

/* The dotted name of key k, in buf. */
static const char *
conf_key_path(const struct conf_key *k, char *buf, size_t len)
{
	if (k->section == NULL)
		snprintf(buf, len, "%s", k->name);
	else
		snprintf(buf, len, "%s.%s", k->section, k->name);
	return (buf);
}

static uint64_t
conf_load_value(const struct conf *c, const struct conf_key *k)
{
	const char	*p = (const char *)c + k->off;
	uint32_t	 v32;
	uint64_t	 v;

	switch (k->width) {
	case 4:
		memcpy(&v32, p, 4);
		return (v32);
	case 8:
		memcpy(&v, p, 8);
		return (v);
	default:
		fatalx("conf: %s: bad width %zu", k->name, k->width);
	}
}

/*
 * Check that key small is below key big (or at most, unless strict).  The
 * key that was set in the file takes the blame, at its position.
 */
static void
conf_check_order(struct loader *l, size_t small, size_t big, int strict)
{
	const struct conf_key	*ks = &conf_keys[small], *kb = &conf_keys[big];
	const struct conf_key	*blame, *other;
	const struct node	*at;
	uint64_t		 vs, vb;
	char			 pblame[128], pother[128], fother[32];

	if (l->keybad[small] || l->keybad[big])
		return;
	vs = conf_load_value(l->conf, ks);
	vb = conf_load_value(l->conf, kb);
	if (strict ? vs < vb : vs <= vb)
		return;
	if (l->keyat[small] != NULL) {
		blame = ks;
		other = kb;
	} else {
		blame = kb;
		other = ks;
	}
	at = l->keyat[blame - conf_keys];
	conf_fmt(other, conf_load_value(l->conf, other), fother,
	    sizeof(fother));
	conf_error(l, at, conf_key_path(blame, pblame, sizeof(pblame)),
	    at != NULL ? at->s : NULL, "must be %s %s, %s",
	    blame == ks ? (strict ? "smaller than" : "at most") :
	    (strict ? "larger than" : "at least"),
	    conf_key_path(other, pother, sizeof(pother)), fother);
}

/* Make socket paths absolute and check their length and uniqueness. */
static void
conf_finish_sockets(struct loader *l)
{
	const struct conf_key	*k, *k2;
	const struct node	*at;
	size_t			 rundir = conf_key_index(NULL, "run_dir");
	size_t			 i, j;
	char			**p, **p2, *abs, path[128], path2[128];

	if (l->keyat[rundir] == NULL)
		return;
	for (i = 0; i < nitems(conf_keys); i++) {
		k = &conf_keys[i];
		if (k->type != K_SOCKET || l->keybad[i])
			continue;
		p = (char **)((char *)l->conf + k->off);
		abs = conf_path_join(l->conf->run_dir, *p);
		free(*p);
		*p = abs;
		at = l->keyat[i] != NULL ? l->keyat[i] : l->keyat[rundir];
		if (strlen(abs) > CONF_SUN_MAX) {
			conf_error(l, at, conf_key_path(k, path, sizeof(path)),
			    abs, "socket path longer than %d bytes",
			    CONF_SUN_MAX);
			l->keybad[i] = 1;
			continue;
		}
		for (j = 0; j < i; j++) {
			k2 = &conf_keys[j];
			if (k2->type != K_SOCKET || l->keybad[j])
				continue;
			p2 = (char **)((char *)l->conf + k2->off);
			if (strcmp(*p, *p2) != 0)
				continue;
			conf_error(l, at, conf_key_path(k, path, sizeof(path)),
			    abs, "same path as %s",
			    conf_key_path(k2, path2, sizeof(path2)));
			l->keybad[i] = 1;
			break;
		}
	}
}

/* Required keys, socket paths, combinations. */
static void
conf_finish(struct loader *l)
{
	const struct conf_key	*k;
	const struct conf_section *sec;
	const struct node	*at;
	size_t			 i, fi;
	char			 path[128];

	for (i = 0; i < nitems(conf_keys); i++) {
		k = &conf_keys[i];
		if (!(k->flags & KF_REQUIRED) || l->keyat[i] != NULL ||
		    l->keybad[i])
			continue;
		at = NULL;
		for (sec = conf_sections; k->section != NULL &&
		    sec < conf_sections + nitems(conf_sections); sec++)
			if (strcmp(sec->name, k->section) == 0)
				at = l->secat[sec - conf_sections];
		conf_error(l, at, conf_key_path(k, path, sizeof(path)), NULL,
		    "missing required key");
	}
	conf_finish_sockets(l);

	conf_check_order(l, conf_key_index("ingest", "preallocate"),
	    conf_key_index("ingest", "segment_max_bytes"), 1);
	conf_check_order(l, conf_key_index("sockets", "max_message_bytes"),
	    conf_key_index("sockets", "max_client_buffer"), 0);

	fi = conf_key_index("ingest", "fsync_interval");
	if (l->keyat[fi] != NULL && !l->keybad[conf_key_index("ingest",
	    "fsync")] && l->conf->fsync != CONF_FSYNC_INTERVAL)
		conf_error(l, l->keyat[fi], "ingest.fsync_interval",
		    l->keyat[fi]->s,
		    "fsync_interval is only used with fsync: interval");

	if (l->views_val != NULL)
		conf_views(l, l->views_key, l->views_val);
}

/*
 * The interface.
 */

static void
conf_defaults(struct conf *c)
{
	const struct conf_key	*k;

	for (k = conf_keys; k < conf_keys + nitems(conf_keys); k++) {
		switch (k->type) {
		case K_STRING:
		case K_PATH:
		case K_SOCKET:
			conf_store_str(c, k, k->sdef != NULL ?
			    xstrdup(k->sdef) : NULL);
			break;
		default:
			conf_store(c, k, k->def);
			break;
		}
	}
	c->socket_gid = (gid_t)-1;
}

/*
 * Load the file at path.  On success return the conf and set *errors to
 * NULL and *nerrors to 0.  On failure return NULL and hand over an array
 * of messages, to be freed with conf_free_errors().  errors and nerrors may
 * be NULL if the caller does not want the messages.
 */
struct conf *
conf_load(const char *path, char ***errors, size_t *nerrors)
{
	struct loader	 l;
	struct node	 root;
	struct conf	*c;
	int		 rc;

	if (errors != NULL)
		*errors = NULL;
	if (nerrors != NULL)
		*nerrors = 0;
	memset(&l, 0, sizeof(l));
	memset(&root, 0, sizeof(root));
	l.file = path;
	l.conf = c = xcalloc(1, sizeof(*c));
	c->file = xstrdup(path);
	conf_defaults(c);

	if (conf_read(&l) == 0 && conf_dir(&l) == 0) {
		if (!yaml_parser_initialize(&l.parser))
			fatalx("conf: yaml_parser_initialize failed");
		yaml_parser_set_input_string(&l.parser,
		    (const unsigned char *)l.buf, l.len);
		rc = conf_tree(&l, &root);
		if (rc == 0 || (rc == 1 && root.kind != NODE_MAP &&
		    root.kind != NODE_BAD))
			conf_error(&l, rc == 1 ? &root : NULL, NULL, NULL,
			    "expected a mapping at the top level");
		else if (rc == 1 && root.kind == NODE_MAP) {
			conf_walk(&l, NULL, NULL, &root, conf_top, NULL);
			conf_finish(&l);
		}
		node_clear(&root);
		yaml_parser_delete(&l.parser);
	}
	free(l.buf);
	free(l.dir);

	if (l.nerrs > 0) {
		conf_free(c);
		conf_errors_out(&l, errors, nerrors);
		return (NULL);
	}
	return (c);
}

void
conf_free(struct conf *c)
{
	const struct conf_key	*k;
	struct conf_stream	*st;
	size_t			 i, j;

	if (c == NULL)
		return;
	for (k = conf_keys; k < conf_keys + nitems(conf_keys); k++)
		if (k->type == K_STRING || k->type == K_PATH ||
		    k->type == K_SOCKET)
			conf_store_str(c, k, NULL);
	for (i = 0; i < c->nstreams; i++) {
		st = &c->streams[i];
		for (j = 0; j < st->nfields; j++)
			free(st->fields[j].name);
		free(st->fields);
		free(st->name);
		free(st->time_field);
	}
	free(c->streams);
	conf_views_free(c);
	free(c->file);
	free(c);
}

void
conf_free_errors(char **errors, size_t n)
{
	size_t	 i;

	if (errors == NULL)
		return;
	for (i = 0; i < n; i++)
		free(errors[i]);
	free(errors);
}

/* Streams are few; a daemon that looks them up per event keeps a map. */
struct conf_stream *
conf_find_stream(const struct conf *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->nstreams; i++)
		if (strcmp(c->streams[i].name, name) == 0)
			return (&c->streams[i]);
	return (NULL);
}

const struct conf_field *
conf_find_field(const struct conf_stream *st, const char *name)
{
	size_t	 i;

	for (i = 0; i < st->nfields; i++)
		if (strcmp(st->fields[i].name, name) == 0)
			return (&st->fields[i]);
	return (NULL);
}

/*
 * Whether s[0..len) is a valid stream, field or view name: 1 to
 * CONF_NAME_MAX bytes, an ASCII letter then letters, digits, '_', '.' or
 * '-'.  s need not be NUL-terminated; any other byte, NUL and non-ASCII
 * included, makes it invalid.
 */
int
conf_valid_name(const char *s, size_t len)
{
	size_t		 i;
	unsigned char	 ch;

	if (s == NULL || len == 0 || len > CONF_NAME_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
			continue;
		if (i > 0 && (conf_is_digit(ch) || ch == '_' || ch == '.' ||
		    ch == '-'))
			continue;
		return (0);
	}
	return (1);
}

/*
 * Parse a size: an integer number of bytes with an optional unit, all
 * powers of 1024: B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB, in any case,
 * optionally after one space.  No sign, no fraction.  Returns 0 or -1.
 */
int
conf_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char	*name;
		uint64_t	 mult;
	} units[] = {
		{ "b", 1 },
		{ "k", KiB }, { "kb", KiB }, { "kib", KiB },
		{ "m", MiB }, { "mb", MiB }, { "mib", MiB },
		{ "g", GiB }, { "gb", GiB }, { "gib", GiB },
		{ "t", TiB }, { "tb", TiB }, { "tib", TiB },
	};
	uint64_t	 v = 0, mult = 0;
	size_t		 i;

	if (s == NULL || !conf_is_digit((unsigned char)*s))
		return (-1);
	for (; conf_is_digit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - (*s - '0')) / 10)
			return (-1);
		v = v * 10 + (*s - '0');
	}
	if (*s == '\0')
		mult = 1;
	else {
		if (*s == ' ')
			s++;
		for (i = 0; i < nitems(units); i++)
			if (conf_eq_nocase(s, units[i].name))
				mult = units[i].mult;
	}
	if (mult == 0 || v > UINT64_MAX / mult)
		return (-1);
	*out = v * mult;
	return (0);
}

/*
 * Parse a duration into milliseconds: one or more NUMBER UNIT with units
 * ms, s, m, h and d, such as 500ms or 1h30m.  A bare number is refused
 * (is 30 seconds or minutes?), except 0.  Returns 0 or -1.
 */
int
conf_parse_duration(const char *s, uint64_t *out)
{
	uint64_t	 total = 0, v, mult;

	if (s == NULL || *s == '\0')
		return (-1);
	if (conf_all_digits(s) && strspn(s, "0") == strlen(s)) {
		*out = 0;
		return (0);
	}
	while (*s != '\0') {
		if (!conf_is_digit((unsigned char)*s))
			return (-1);
		for (v = 0; conf_is_digit((unsigned char)*s); s++) {
			if (v > (UINT64_MAX - (*s - '0')) / 10)
				return (-1);
			v = v * 10 + (*s - '0');
		}
		if (s[0] == 'm' && s[1] == 's') {
			mult = MSEC;
			s++;
		} else if (*s == 's')
			mult = SEC;
		else if (*s == 'm')
			mult = MINUTE;
		else if (*s == 'h')
			mult = HOUR;
		else if (*s == 'd')
			mult = DAY;
		else
			return (-1);
		s++;
		if (v > UINT64_MAX / mult || total > UINT64_MAX - v * mult)
			return (-1);
		total += v * mult;
	}
	*out = total;
	return (0);
}

const char *
conf_ftype_name(enum conf_ftype t)
{
	if ((unsigned)t >= nitems(conf_ftype_names) - 1)
		return ("unknown");
	return (conf_ftype_names[t]);
}
