/*
 * uring.h — many socket reads and writes in one system call (io_uring).
 *
 * Why: under a closed loop every client has one row in flight, so each loop
 * iteration reads one small request from each of a hundred sockets and
 * writes one small ack to each: a recv() and a send() per row. On this kind
 * of VM a system call costs over a microsecond before it does any work
 * (README "Performance"), so entering and leaving the kernel was a large
 * share of the daemon's CPU per row. uring_run hands a whole list to the
 * kernel in one io_uring_enter.
 *
 * Contract: every op is non-blocking (MSG_DONTWAIT, so io_uring completes
 * it with -EAGAIN instead of waiting for data or room) and uring_run returns
 * only when all of them have completed. No operation outlives the call: the
 * buffers are the caller's again, exactly as after a loop of recv()/send(),
 * and each op's `res` is what that call would have returned (bytes, possibly
 * fewer than asked; 0 for a recv at end of stream; or -errno).
 *
 * Where io_uring is unavailable (a kernel before 5.7, io_uring_disabled,
 * a container's seccomp profile: Docker's and podman's defaults refuse it) or turned off
 * (--io-uring off), the same list runs as one recv()/send() each, with the
 * same results. If the ring ever fails, it is closed and the rest runs so.
 */
#ifndef PGC_URING_H
#define PGC_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct uring_op {
	int      fd;
	bool     recv;   /* recv into data; else send from it */
	void    *data;
	size_t   len;
	void    *arg;    /* the caller's (uring_run leaves it alone) */
	ssize_t  res;    /* out: bytes, or -errno (-EAGAIN: nothing to read / no room now) */
};

struct uring {
	int       fd;          /* the ring; -1: one send() per op */
	unsigned  entries;     /* ops per io_uring_enter */
	/* the mapped rings (kernel-shared indices are read and written atomically) */
	void     *sq_map, *cq_map, *sqes;
	size_t    sq_map_len, cq_map_len, sqes_len;
	unsigned *sq_tail, *sq_mask;
	unsigned *cq_head, *cq_tail, *cq_mask;
	void     *cqes;
	uint64_t  enters;      /* io_uring_enter calls made */
	uint64_t  ops;         /* ops made through the ring */
};

/*
 * Set up a ring for up to `entries` ops per call; true if it is in use.
 * Otherwise (`want` false, or the kernel refused: *err is its errno, or
 * ENOTSUP for a kernel without what the contract needs) u runs every op
 * as its own recv()/send().
 */
bool uring_init(struct uring *u, bool want, unsigned entries, int *err);
void uring_free(struct uring *u);
static inline bool uring_active(const struct uring *u)
{
	return u->fd >= 0;
}

/* Run every op (see the contract above); each op's res is set. */
void uring_run(struct uring *u, struct uring_op *ops, size_t n);

#endif /* PGC_URING_H */
