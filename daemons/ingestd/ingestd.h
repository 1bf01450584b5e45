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
 * lamina-ingestd: the only writer of the master dataset.  Its private
 * header: the daemon's state, shared by
 *   ingestd.c		main: options, config, recovery, sockets, loop
 *   ingestd_commit.c	group commit: write, fdatasync in a worker, ack
 *   ingestd_sync.c	the fdatasync worker thread
 *   ingestd_rpc.c	MessagePack-RPC methods: hello, status, append, ...
 *   ingestd_forward.c	Fluentd Forward v1 on its own socket
 *   ingestd_chunks.c	Forward chunk ids already stored, for exactly-once
 *   ingestd_quarantine.c	events that failed validation, for people
 *
 * Threads: everything runs on the event loop except the fdatasync calls,
 * which the worker thread of ingestd_sync.c makes on file descriptors
 * handed to it; it touches nothing else and wakes the loop through an
 * eventfd when it is done.
 */

#ifndef LAMINA_INGESTD_H
#define LAMINA_INGESTD_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

struct conf;
struct conf_stream;
struct event;
struct event_base;
struct master_stream;
struct rpc_conn;
struct rpc_request;
struct rpc_server;
struct syncer;
struct chunks;

enum waiter_kind {
	WAIT_APPEND,		/* an append request: reply when durable */
	WAIT_ACK		/* a Forward chunk: ack when durable */
};

/*
 * Something to answer once the commit cycle "cycle" has completed, that
 * is, once everything appended before that cycle started is durable.
 */
struct waiter {
	TAILQ_ENTRY(waiter)	 entry;
	enum waiter_kind	 kind;
	uint64_t		 cycle;
	struct istream		*st;
	struct rpc_request	*req;		/* WAIT_APPEND */
	uint64_t		 first;
	uint64_t		 count;
	struct rpc_conn		*conn;		/* WAIT_ACK, held */
	char			*chunk;		/* WAIT_ACK */
	size_t			 chunklen;
};
TAILQ_HEAD(waiters, waiter);

/* One stream. */
struct istream {
	const struct conf_stream *cs;
	struct master_stream	*ms;
	int			 pending;	/* appended since the last
						   cycle started */
	int			 syncing;	/* in the running cycle */
	uint64_t		 sync_upto;
	uint64_t		 notified;	/* committed offset announced */
	int			 qfd;		/* quarantine file, or -1 */
	int			 qdirty;	/* written, not synced */
	uint64_t		 accepted;
	uint64_t		 refused;
	uint64_t		 quarantined;
};

struct subscriber {
	TAILQ_ENTRY(subscriber)	 entry;
	struct rpc_conn		*conn;		/* held */
	int			 behind;	/* a notification skipped */
};
TAILQ_HEAD(subscribers, subscriber);

#define INGESTD_LATENCIES	1024		/* fsync latencies kept */

struct ingestd {
	struct conf		*conf;
	struct event_base	*base;
	int64_t			 started_ns;

	struct istream		*streams;
	size_t			 nstreams;
	struct istream		 unknown;	/* quarantine of unknown tags */

	struct rpc_server	*rpc;
	struct rpc_server	*fwd;
	struct rpc_server	*fwd_tcp;
	int			 udp_fd;	/* Forward heartbeats */
	struct event		*udp_ev;

	/* Group commit. */
	struct waiters		 waiters;	/* in cycle order */
	uint64_t		 cycle_started;
	uint64_t		 cycle_done;
	int			 inflight;	/* a cycle's sync is running */
	int			 dirty;		/* work for the next cycle */
	struct event		*commit_ev;
	struct syncer		*syncer;
	int			 interval_sync;	/* the running sync is one of
						   fsync: interval */
	int			 held;		/* clients held: backlog full */
	uint64_t		 holds;		/* times they were */

	struct subscribers	 subscribers;
	struct chunks		*chunks;

	/* Counters. */
	uint64_t		 fsyncs;
	int64_t			 fsync_ns[INGESTD_LATENCIES];
	uint64_t		 fwd_messages;
	uint64_t		 fwd_bad;
	uint64_t		 fwd_duplicates;

	int			 stopping;
	struct event		*ev_term;
	struct event		*ev_int;
	struct event		*housekeeping;
	struct event		*drain;
	int64_t			 drain_deadline_ns;
};

/* ingestd.c */
int64_t		 ingestd_now(void);
struct istream	*ingestd_stream(struct ingestd *, const char *, size_t);

/* ingestd_commit.c */
void		 commit_init(struct ingestd *);
void		 commit_schedule(struct ingestd *);
void		 commit_add_waiter(struct ingestd *, struct waiter *);
uint64_t	 commit_next_cycle(const struct ingestd *);
void		 commit_interval(struct ingestd *);
void		 commit_housekeeping(struct ingestd *);
void		 commit_notify_subscribers(struct ingestd *, int);
int		 commit_idle(const struct ingestd *);
void		 commit_free(struct ingestd *);

/* ingestd_sync.c */
typedef void (*syncer_done_cb)(int, int, int64_t, void *);
struct syncer	*syncer_new(struct event_base *, syncer_done_cb, void *);
int		 syncer_busy(const struct syncer *);
void		 syncer_submit(struct syncer *, const int *, size_t);
void		 syncer_free(struct syncer *);

/* ingestd_rpc.c */
void		 ingestd_rpc_start(struct ingestd *, int);
void		 ingestd_pack_status(struct ingestd *, msgpack_packer *);

/* ingestd_forward.c */
void		 ingestd_forward_start(struct ingestd *);
void		 ingestd_forward_free(struct ingestd *);

/* ingestd_chunks.c */
struct chunks	*chunks_new(void);
void		 chunks_free(struct chunks *);
int		 chunks_find(struct chunks *, const char *, size_t,
		    struct istream **, uint64_t *);
void		 chunks_add(struct chunks *, const char *, size_t,
		    struct istream *, uint64_t, int64_t);
void		 chunks_remove(struct chunks *, const char *, size_t);
void		 chunks_expire(struct chunks *, int64_t);
size_t		 chunks_count(const struct chunks *);
int		 chunks_recover(struct ingestd *, struct istream *, char **);

/* ingestd_quarantine.c */
int		 quarantine_event(struct ingestd *, struct istream *,
		    const char *, size_t, const uint8_t *, size_t,
		    const char *);
void		 quarantine_close(struct istream *);

#endif
