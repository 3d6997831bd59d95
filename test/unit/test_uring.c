/*
 * test_uring.c — reads and writes through io_uring give what recv()/send()
 * give, on real sockets: data, a short write, EAGAIN both ways, end of
 * stream, EPIPE; and more ops than the ring holds.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uring.h"

struct pair {
	int mine, peer;
};

static struct pair pair_open(void)
{
	int fds[2] = { -1, -1 };

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
	return (struct pair){ fds[0], fds[1] };
}

static void pair_close(struct pair *p)
{
	if (p->mine >= 0)
		close(p->mine);
	if (p->peer >= 0)
		close(p->peer);
}

/* Fill p.mine's send buffer until send() says EAGAIN. */
static void fill(struct pair p)
{
	static char junk[65536];

	while (send(p.mine, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
}

enum { SEND_OK, SHORT_SEND, SEND_FULL, SEND_EPIPE, RECV_OK, RECV_EMPTY, RECV_EOF, N_CASES };

/* One op of each kind, all in one uring_run; each res checked. */
static void run_cases(struct uring *u)
{
	struct pair p[N_CASES];
	struct uring_op op[N_CASES];
	size_t big = 4 << 20, i;
	char *bigbuf = calloc(1, big), got[16] = { 0 }, rbuf[16] = { 0 };
	int small = 4096;

	for (i = 0; i < N_CASES; i++)
		p[i] = pair_open();
	setsockopt(p[SHORT_SEND].mine, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	fill(p[SEND_FULL]);
	close(p[SEND_EPIPE].peer);
	p[SEND_EPIPE].peer = -1;
	CHECK_INT(send(p[RECV_OK].peer, "abc", 3, 0), 3);
	close(p[RECV_EOF].peer);
	p[RECV_EOF].peer = -1;

	op[SEND_OK] = (struct uring_op){ .fd = p[SEND_OK].mine, .data = "hello", .len = 5 };
	op[SHORT_SEND] = (struct uring_op){ .fd = p[SHORT_SEND].mine, .data = bigbuf, .len = big };
	op[SEND_FULL] = (struct uring_op){ .fd = p[SEND_FULL].mine, .data = "x", .len = 1 };
	op[SEND_EPIPE] = (struct uring_op){ .fd = p[SEND_EPIPE].mine, .data = "x", .len = 1 };
	op[RECV_OK] = (struct uring_op){ .fd = p[RECV_OK].mine, .recv = true, .data = rbuf, .len = sizeof(rbuf) };
	op[RECV_EMPTY] = (struct uring_op){ .fd = p[RECV_EMPTY].mine, .recv = true, .data = got, .len = 1 };
	op[RECV_EOF] = (struct uring_op){ .fd = p[RECV_EOF].mine, .recv = true, .data = got, .len = 1 };
	for (i = 0; i < N_CASES; i++)
		op[i].arg = &p[i];

	uring_run(u, op, N_CASES);

	CHECK_INT(op[SEND_OK].res, 5);
	CHECK_INT(recv(p[SEND_OK].peer, got, sizeof(got), 0), 5);
	CHECK(memcmp(got, "hello", 5) == 0);
	CHECK(op[SHORT_SEND].res > 0 && (size_t)op[SHORT_SEND].res < big);
	CHECK_INT(op[SEND_FULL].res, -EAGAIN);
	CHECK_INT(op[SEND_EPIPE].res, -EPIPE);
	CHECK_INT(op[RECV_OK].res, 3);
	CHECK(memcmp(rbuf, "abc", 3) == 0);
	CHECK_INT(op[RECV_EMPTY].res, -EAGAIN);
	CHECK_INT(op[RECV_EOF].res, 0);
	for (i = 0; i < N_CASES; i++) {
		CHECK(op[i].arg == &p[i]);
		pair_close(&p[i]);
	}
	free(bigbuf);
}

UNIT_TEST(uring_ops_return_what_the_plain_calls_return)
{
	struct uring u;
	int err;

	CHECK(!uring_init(&u, false, 8, &err));
	CHECK_INT(err, 0);
	run_cases(&u);
	uring_free(&u);

	/* the ring itself: this machine's kernel has it (PGC_TEST_NO_IO_URING=1 where not) */
	if (uring_init(&u, true, 8, &err)) {
		run_cases(&u);
		CHECK_INT(u.enters, 1); /* all seven in one system call */
		CHECK_INT(u.ops, N_CASES);
		CHECK(uring_active(&u));
	} else {
		CHECK(getenv("PGC_TEST_NO_IO_URING") != NULL);
		if (!getenv("PGC_TEST_NO_IO_URING"))
			fprintf(stderr, "uring: io_uring_setup failed: %s\n", strerror(err));
	}
	uring_free(&u);
}

UNIT_TEST(uring_more_ops_than_the_ring_holds)
{
	enum { N = 10 };
	struct uring u;
	struct pair p[N];
	struct uring_op op[N];
	char got[4];
	int err;
	size_t i;

	if (!uring_init(&u, true, 4, &err)) {
		CHECK(getenv("PGC_TEST_NO_IO_URING") != NULL);
		return;
	}
	for (i = 0; i < N; i++) {
		p[i] = pair_open();
		op[i] = (struct uring_op){ .fd = p[i].mine, .data = "abc", .len = 3 };
	}
	uring_run(&u, op, N);
	CHECK_INT(u.ops, N);
	CHECK(u.enters >= 3); /* 4 + 4 + 2 */
	for (i = 0; i < N; i++) {
		CHECK_INT(op[i].res, 3);
		CHECK_INT(recv(p[i].peer, got, sizeof(got), 0), 3);
		pair_close(&p[i]);
	}
	uring_free(&u);
}

UNIT_TEST(uring_that_fails_hands_its_ops_to_the_plain_calls)
{
	struct uring u;
	struct pair p = pair_open();
	struct uring_op op[2];
	char got[8] = { 0 };
	int err, devnull;

	if (!uring_init(&u, true, 4, &err)) {
		CHECK(getenv("PGC_TEST_NO_IO_URING") != NULL);
		pair_close(&p);
		return;
	}
	/* the ring's descriptor now names something that is not a ring: enter fails */
	devnull = open("/dev/null", O_RDONLY);
	CHECK(devnull >= 0 && dup2(devnull, u.fd) == u.fd);
	close(devnull);
	CHECK_INT(send(p.peer, "ping", 4, 0), 4);
	op[0] = (struct uring_op){ .fd = p.mine, .data = "pong", .len = 4 };
	op[1] = (struct uring_op){ .fd = p.mine, .recv = true, .data = got, .len = sizeof(got) };
	uring_run(&u, op, 2);
	CHECK(!uring_active(&u));
	CHECK_INT(op[0].res, 4);
	CHECK_INT(op[1].res, 4);
	CHECK(memcmp(got, "ping", 4) == 0);
	CHECK_INT(recv(p.peer, got, sizeof(got), 0), 4);
	CHECK(memcmp(got, "pong", 4) == 0);
	uring_run(&u, op, 1); /* and stays plain */
	CHECK_INT(op[0].res, 4);
	uring_free(&u);
	pair_close(&p);
}
