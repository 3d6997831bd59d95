/*
 * uring.c — many socket reads and writes in one system call (see uring.h).
 *
 * The ring is driven with the raw system calls (no liburing: the daemon's
 * dependencies stay libpq, libev and cJSON). The SQ array maps slot i to
 * SQE i once, at setup; every call starts with an empty SQ (it returns only
 * when all its ops completed), so up to `entries` SQEs are written from
 * the tail without looking at the head.
 */
#include "uring.h"

#include <errno.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Received bytes are the kernel's writes to memory it was handed earlier,
 * which memcheck cannot see (the Makefile defines this where valgrind's
 * header is installed).
 */
#ifdef HAVE_VALGRIND_MEMCHECK_H
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

/* res of an op submitted to the ring whose completion has not been seen */
#define OP_PENDING (-(ssize_t)EINPROGRESS)

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags)
{
	return (int)syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
}

static void *map(int fd, size_t len, off_t what)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, what);

	return p == MAP_FAILED ? NULL : p;
}

void uring_free(struct uring *u)
{
	if (u->sqes)
		munmap(u->sqes, u->sqes_len);
	if (u->cq_map && u->cq_map != u->sq_map)
		munmap(u->cq_map, u->cq_map_len);
	if (u->sq_map)
		munmap(u->sq_map, u->sq_map_len);
	if (u->fd >= 0)
		close(u->fd);
	u->sq_map = u->cq_map = u->sqes = NULL;
	u->fd = -1;
}

/* Map the rings of the ring fd `fd` set up with `p`; false on failure. */
static bool map_rings(struct uring *u, const struct io_uring_params *p)
{
	unsigned *array, i;

	u->sq_map_len = p->sq_off.array + p->sq_entries * sizeof(unsigned);
	u->cq_map_len = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
	if (p->features & IORING_FEAT_SINGLE_MMAP) {
		if (u->cq_map_len > u->sq_map_len)
			u->sq_map_len = u->cq_map_len;
		u->sq_map = u->cq_map = map(u->fd, u->sq_map_len, IORING_OFF_SQ_RING);
	} else {
		u->sq_map = map(u->fd, u->sq_map_len, IORING_OFF_SQ_RING);
		u->cq_map = map(u->fd, u->cq_map_len, IORING_OFF_CQ_RING);
	}
	u->sqes_len = p->sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = map(u->fd, u->sqes_len, IORING_OFF_SQES);
	if (!u->sq_map || !u->cq_map || !u->sqes)
		return false;
	u->sq_tail = (unsigned *)((char *)u->sq_map + p->sq_off.tail);
	u->sq_mask = (unsigned *)((char *)u->sq_map + p->sq_off.ring_mask);
	array = (unsigned *)((char *)u->sq_map + p->sq_off.array);
	for (i = 0; i < p->sq_entries; i++)
		array[i] = i;
	u->cq_head = (unsigned *)((char *)u->cq_map + p->cq_off.head);
	u->cq_tail = (unsigned *)((char *)u->cq_map + p->cq_off.tail);
	u->cq_mask = (unsigned *)((char *)u->cq_map + p->cq_off.ring_mask);
	u->cqes = (char *)u->cq_map + p->cq_off.cqes;
	u->entries = p->sq_entries;
	return true;
}

bool uring_init(struct uring *u, bool want, unsigned entries, int *err)
{
	struct io_uring_params p;

	memset(u, 0, sizeof(*u));
	u->fd = -1;
	*err = 0;
	if (!want)
		return false;
	memset(&p, 0, sizeof(p));
	/* all of a call's SQEs even if one fails; no IPIs for task work; one thread */
	p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER;
	u->fd = sys_setup(entries, &p);
	if (u->fd < 0 && errno == EINVAL) { /* a kernel before 6.0: the loop below copes */
		memset(&p, 0, sizeof(p));
		u->fd = sys_setup(entries, &p);
	}
	if (u->fd < 0) {
		*err = errno;
		return false;
	}
	/* 5.7: IORING_OP_SEND, and MSG_DONTWAIT completes with -EAGAIN */
	if (!(p.features & IORING_FEAT_FAST_POLL)) {
		*err = ENOTSUP;
		uring_free(u);
		return false;
	}
	if (!map_rings(u, &p)) {
		*err = errno ? errno : ENOMEM;
		uring_free(u);
		return false;
	}
	return true;
}

/* What recv()/send() returns for op (never blocks). */
static ssize_t plain_op(const struct uring_op *op)
{
	ssize_t n;

	do
		n = op->recv ? recv(op->fd, op->data, op->len, MSG_DONTWAIT) :
			       send(op->fd, op->data, op->len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -(ssize_t)errno : n;
}

/* Take every completion there is for ops[0..k); returns how many. */
static size_t reap(struct uring *u, struct uring_op *ops, size_t k)
{
	unsigned head = *u->cq_head;
	unsigned tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);
	const struct io_uring_cqe *cqe;
	struct uring_op *op;
	size_t n = 0;

	for (; head != tail; head++) {
		cqe = (const struct io_uring_cqe *)u->cqes + (head & *u->cq_mask);
		if (cqe->user_data >= k || ops[cqe->user_data].res != OP_PENDING)
			continue; /* not one of this call's: never expected, never counted */
		op = &ops[cqe->user_data];
		op->res = cqe->res;
		n++;
		if (op->recv && op->res > 0)
			VALGRIND_MAKE_MEM_DEFINED(op->data, (size_t)op->res);
	}
	__atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
	return n;
}

static void queue(struct uring *u, struct uring_op *ops, size_t k)
{
	struct io_uring_sqe *sqe;
	unsigned tail = *u->sq_tail;
	size_t i;

	for (i = 0; i < k; i++) {
		sqe = (struct io_uring_sqe *)u->sqes + ((tail + i) & *u->sq_mask);
		memset(sqe, 0, sizeof(*sqe));
		sqe->opcode = ops[i].recv ? IORING_OP_RECV : IORING_OP_SEND;
		sqe->fd = ops[i].fd;
		sqe->addr = (uint64_t)(uintptr_t)ops[i].data;
		/* a CQE's res is an int: at most INT_MAX, as a short read or write */
		sqe->len = ops[i].len > INT_MAX ? INT_MAX : (unsigned)ops[i].len;
		sqe->msg_flags = ops[i].recv ? MSG_DONTWAIT : MSG_NOSIGNAL | MSG_DONTWAIT;
		sqe->user_data = i;
		ops[i].res = OP_PENDING;
	}
	__atomic_store_n(u->sq_tail, tail + (unsigned)k, __ATOMIC_RELEASE);
}

/*
 * Submit k (<= entries) ops and wait for all of them. False if the ring
 * failed: ops it never took run plainly, any it took but did not complete
 * get -EIO (their outcome is unknown; the caller drops the client).
 */
static bool ring_run(struct uring *u, struct uring_op *ops, size_t k)
{
	size_t submitted = 0, completed = 0, i;
	int ret;

	queue(u, ops, k);
	while (completed < k) {
		ret = sys_enter(u->fd, (unsigned)(k - submitted), (unsigned)(k - completed),
				IORING_ENTER_GETEVENTS);
		u->enters++;
		if (ret < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY)
			break;
		if (ret > 0)
			submitted += (size_t)ret;
		completed += reap(u, ops, k);
	}
	if (completed == k)
		return true;
	for (i = 0; i < k; i++)
		if (ops[i].res == OP_PENDING)
			ops[i].res = i < submitted ? -EIO : plain_op(&ops[i]);
	return false;
}

void uring_run(struct uring *u, struct uring_op *ops, size_t n)
{
	size_t done = 0, k;

	while (done < n && u->fd >= 0) {
		k = n - done < u->entries ? n - done : u->entries;
		if (!ring_run(u, ops + done, k))
			uring_free(u); /* the rest go plainly */
		u->ops += k;
		done += k;
	}
	for (; done < n; done++)
		ops[done].res = plain_op(&ops[done]);
}
