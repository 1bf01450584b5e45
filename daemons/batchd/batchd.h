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
 * lamina-batchd: keeps the batch views in SQLite from the sealed segments
 * of the master dataset.  Its private header, shared by
 *   batchd.c		main: options, config, sockets, timers, loop
 *   batchd_run.c	a run: plan, fold segments (in worker threads),
 *			write rows and horizons, switch rebuilt views in
 *   batchd_rpc.c	MessagePack-RPC: hello, status, run, recompute,
 *			subscribe and the published notification
 *
 * Threads: the event loop owns the sockets and the RPC state.  Runs happen
 * on one runner thread (one run at a time), which owns the SQLite
 * connection while it runs and starts fold workers for the segments; it
 * never touches the loop's state.  The loop hands it requests and takes
 * its results through struct batchd_shared, under its mutex, and is woken
 * by an eventfd when a run ends.
 */

#ifndef LAMINA_BATCHD_H
#define LAMINA_BATCHD_H

#include <sys/queue.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct conf;
struct event;
struct event_base;
struct rpc_conn;
struct rpc_request;
struct rpc_server;

/* What a view looks like after a run, for status and notifications. */
struct batchd_viewstat {
	char		*name;
	char		*stream;
	char		 fingerprint[17];
	uint64_t	 horizon;	/* published: offsets below covered */
	uint64_t	 segments;
	uint64_t	 rows;
	uint64_t	 events;
	uint64_t	 lag;		/* sealed segments not yet folded */
	int		 building;	/* a rebuild is in progress */
	uint64_t	 build_horizon;
	uint64_t	 build_rows;
	int64_t		 published_ns;
};

/* The result of one run. */
struct batchd_runstat {
	uint64_t	 number;
	int64_t		 started_ns;
	int64_t		 duration_ns;
	uint64_t	 segments;	/* folded */
	uint64_t	 events;	/* folded */
	uint64_t	 rows;		/* written */
	uint64_t	 switched;	/* rebuilt views switched in */
	int		 failed;
	char		 error[512];
};

/* Shared between the loop and the runner, under mu. */
struct batchd_shared {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 want_run;	/* a run is asked for */
	int			 running;
	int			 interrupt;	/* stop the run between chunks */
	int			 quit;
	char			**recompute;	/* views to rebuild */
	size_t			 nrecompute;
	uint64_t		 runs_started;
	uint64_t		 runs_done;
	struct batchd_runstat	 last;
	struct batchd_viewstat	*views;		/* after the last run */
	size_t			 nviews;
	int			 published;	/* a view moved: notify */
};

struct batchd_waiter {
	TAILQ_ENTRY(batchd_waiter) entry;
	struct rpc_request	*req;
	uint64_t		 run;		/* answer when this run ends */
};
TAILQ_HEAD(batchd_waiters, batchd_waiter);

struct batchd_sub {
	TAILQ_ENTRY(batchd_sub)	 entry;
	struct rpc_conn		*conn;		/* held */
};
TAILQ_HEAD(batchd_subs, batchd_sub);

struct batchd {
	struct conf		*conf;
	struct event_base	*base;
	int64_t			 started_ns;
	struct rpc_server	*rpc;
	struct batchd_shared	 sh;
	pthread_t		 runner;
	int			 efd;		/* runner -> loop */
	struct event		*ev_done;
	struct event		*ev_timer;
	struct event		*ev_term;
	struct event		*ev_int;
	struct event		*ev_drain;	/* stopping: answers sent? */
	int64_t			 drain_deadline_ns;
	struct batchd_waiters	 waiters;
	struct batchd_subs	 subs;
	int			 stopping;
};

/* batchd.c */
int64_t		 batchd_now(void);
void		 batchd_request_run(struct batchd *);

/* batchd_run.c */
void		*batchd_runner(void *);
int		 batchd_open_store(struct batchd *, char **);

/* batchd_rpc.c */
void		 batchd_rpc_start(struct batchd *, int);
void		 batchd_run_done(struct batchd *);
void		 batchd_rpc_stopping(struct batchd *);
void		 batchd_rpc_free(struct batchd *);

#endif
