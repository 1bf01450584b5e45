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
 * The config loader's insides, shared by conf.c (the file, the tree, the
 * scalar keys, streams) and conf_views.c (views).  Not for other modules.
 */

#ifndef LAMINA_CONF_INT_H
#define LAMINA_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

struct conf;
struct loader;

/* A YAML node with its position.  Maps hold key, value, key, value... */
enum node_kind {
	NODE_SCALAR,
	NODE_MAP,
	NODE_SEQ,
	NODE_BAD		/* refused (alias, tag); already reported */
};

struct node {
	enum node_kind	 kind;
	char		*s;		/* scalar text, NUL-terminated */
	size_t		 len;
	int		 null;		/* plain "", "~" or "null" */
	int		 empty;		/* null with no text at all */
	int		 line, col;	/* 1-based */
	struct node	*kids;
	size_t		 nkids;
};

typedef void (*conf_pair_fn)(struct loader *, const char *,
    const struct node *, const struct node *, void *);

extern const char conf_name_rule[];

void		 conf_error(struct loader *, const struct node *, const char *,
		    const char *, const char *, ...)
		    __attribute__((__format__(__printf__, 5, 6)));
const struct node *conf_at(const struct node *, const struct node *);
int		 conf_walk(struct loader *, const char *, const struct node *,
		    const struct node *, conf_pair_fn, void *);
char		*conf_show(const char *, size_t);
int		 conf_parse_int(const char *, int64_t *);
int		 conf_parse_bool(const char *, uint64_t *);
struct conf	*conf_loader_conf(struct loader *);

/* conf_views.c */
void		 conf_views(struct loader *, const struct node *,
		    const struct node *);
void		 conf_views_free(struct conf *);

#endif
