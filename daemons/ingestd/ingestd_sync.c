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
 * The fdatasync worker.  The event loop hands it a set of file descriptors
 * (syncer_submit), it fdatasyncs each one in turn on its own thread, and
 * wakes the loop through an eventfd; the loop then calls the done
 * callback with the result and the time the syncs took.  One job at a
 * time: while it runs, new appends gather for the next one, which is what
 * makes group commit.
 *
 * Shared state (the job, its result) is guarded by mu; the loop never
 * waits on it for longer than a copy.
 */

#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "ingestd.h"
#include "log.h"
#include "xmalloc.h"

#define SYNCER_MAX_FDS	4096

struct syncer {
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 efd;
	struct event		*ev;
	syncer_done_cb		 done;
	void			*arg;

	/* Guarded by mu. */
	int			 fds[SYNCER_MAX_FDS];
	size_t			 nfds;
	int			 job;		/* submitted, not taken */
	int			 busy;		/* submitted, not reported */
	int			 quit;
	int			 err;		/* errno of a failed sync */
	int			 errfd;
	int64_t			 took_ns;
};

static int64_t
syncer_clock(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/* The worker: wait for a job, sync every fd, report, repeat. */
static void *
syncer_main(void *arg)
{
	struct syncer	*s = arg;
	int		 fds[SYNCER_MAX_FDS], err, errfd;
	size_t		 n, i;
	int64_t		 t0;
	uint64_t	 one = 1;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (!s->job && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->quit) {
			pthread_mutex_unlock(&s->mu);
			return (NULL);
		}
		n = s->nfds;
		memcpy(fds, s->fds, n * sizeof(*fds));
		s->job = 0;
		pthread_mutex_unlock(&s->mu);

		err = 0;
		errfd = -1;
		t0 = syncer_clock();
		for (i = 0; i < n; i++) {
			if (fdatasync(fds[i]) == -1 && err == 0) {
				err = errno;
				errfd = fds[i];
			}
		}
		pthread_mutex_lock(&s->mu);
		s->err = err;
		s->errfd = errfd;
		s->took_ns = syncer_clock() - t0;
		pthread_mutex_unlock(&s->mu);
		while (write(s->efd, &one, sizeof(one)) == -1 &&
		    errno == EINTR)
			;
	}
}

/* The loop side: the worker is done. */
static void
syncer_wake_cb(int fd, short events, void *arg)
{
	struct syncer	*s = arg;
	uint64_t	 v;
	int		 err, errfd;
	int64_t		 took;

	(void)events;
	if (read(fd, &v, sizeof(v)) == -1)
		return;
	pthread_mutex_lock(&s->mu);
	err = s->err;
	errfd = s->errfd;
	took = s->took_ns;
	s->busy = 0;
	pthread_mutex_unlock(&s->mu);
	s->done(err, errfd, took, s->arg);
}

/* Start the worker; done is called on the loop after each job. */
struct syncer *
syncer_new(struct event_base *base, syncer_done_cb done, void *arg)
{
	struct syncer	*s;

	s = xcalloc(1, sizeof(*s));
	s->done = done;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if ((s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	s->ev = event_new(base, s->efd, EV_READ | EV_PERSIST, syncer_wake_cb,
	    s);
	if (s->ev == NULL || event_add(s->ev, NULL) == -1)
		fatalx("syncer: cannot add event");
	if ((errno = pthread_create(&s->thread, NULL, syncer_main, s)) != 0)
		fatal("pthread_create");
	return (s);
}

int
syncer_busy(const struct syncer *s)
{
	return (s->busy);
}

/* Hand the worker fds to fdatasync; it must not be busy. */
void
syncer_submit(struct syncer *s, const int *fds, size_t n)
{
	if (s->busy)
		fatalx("syncer: submit while busy");
	if (n > SYNCER_MAX_FDS)
		fatalx("syncer: %zu descriptors", n);
	pthread_mutex_lock(&s->mu);
	memcpy(s->fds, fds, n * sizeof(*fds));
	s->nfds = n;
	s->job = 1;
	s->busy = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Stop the worker after its current job. */
void
syncer_free(struct syncer *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->quit = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	event_free(s->ev);
	close(s->efd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
