/*
 * worker: one thread with its own event loop, its own listening sockets (SO_REUSEPORT on the
 * shared port), its own backend connection pool and the connections it accepted. Nothing on
 * the request path is shared with another worker; the main thread talks to a worker only
 * through its mailbox (a new runtime snapshot, drain, stop).
 */
#ifndef REVGATE_WORKER_H
#define REVGATE_WORKER_H

#include <stddef.h>

struct runtime;
struct worker;

/*
 * Creates worker ID serving RT (a new reference is taken) on the listening sockets FDS (NFDS;
 * taken: closed by the worker). ON_EXIT(ARG) runs on the worker's thread when its loop has
 * ended (drained or stopped). Returns NULL on ENOMEM (FDS are then closed).
 */
struct worker *worker_new(unsigned id, struct runtime *rt, const int *fds, size_t nfds,
    void (*on_exit)(void *arg), void *arg);

/* Starts the thread. Returns 0 or -1 (errno set). */
int worker_start(struct worker *w);

/* Hands RT to the worker for new connections (a new reference is taken). Any thread. */
void worker_set_runtime(struct worker *w, struct runtime *rt);

/* Stops accepting and lets running requests finish; the loop ends when none is left. */
void worker_drain(struct worker *w);

/* Closes every connection now; the loop ends. Any thread. */
void worker_stop(struct worker *w);

/*
 * Runs FN(ARG) on the worker's thread, soon. Any thread. If the worker has stopped by then,
 * FN runs when the worker is freed, on the freeing thread.
 */
void worker_post(void *w, void (*fn)(void *arg), void *arg);

/* Waits for the thread to end (after drain or stop). */
void worker_join(struct worker *w);

/* Frees the worker (after worker_join), running what was posted and never ran. */
void worker_free(struct worker *w);

#endif
