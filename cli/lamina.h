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
 * lamina(8), the control tool: what its commands share.
 */

#ifndef LAMINA_CLI_H
#define LAMINA_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct conf;

struct cli_cmd {
	const char	*name;
	const char	*usage;
	int		(*fn)(struct conf *, int, char **);
};

/* lamina.c */
const char	*cli_parse_u64(const char *, uint64_t, uint64_t *);

/* lamina_dump.c */
int		 cmd_dump(struct conf *, int, char **);
int		 cmd_verify(struct conf *, int, char **);

/* lamina_batch.c */
int		 cmd_batch(struct conf *, int, char **);
int		 cmd_recompute(struct conf *, int, char **);

/* lamina_view.c */
int		 cmd_view(struct conf *, int, char **);

/* lamina_send.c */
int		 cmd_send(struct conf *, int, char **);
int		 cmd_status(struct conf *, int, char **);

#endif
