/*
 * pgc_client.h — libpgcoalesce's connection (internal): struct pgc_client,
 * shared by the non-blocking core (pgc_client.c) and the blocking API
 * (pgc_sync.c).
 *
 * Requests in flight live in a fixed table of max_in_flight slots. A
 * request's id names its slot (id - 1 = slot + k * nslots), so an answer
 * finds its request without a hash and an id is never reused. Each slot
 * keeps where its line starts in the outgoing byte stream: a request none
 * of whose bytes were sent is certainly not written when the connection
 * breaks, and the sidecar's id-less answers (PC003 for a line longer than
 * its --max-request-bytes) are matched to their requests by elimination
 * (see pgc_client.c).
 */
#ifndef PGC_CLIENT_H
#define PGC_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "jsontok.h"
#include "linebuf.h"
#include "pgc_addr.h"
#include "pgc_wire.h"
#include "pgcoalesce.h"

#define PGC_DEFAULT_ADDRESS     "/tmp/pgcoalesce.sock"
#define PGC_DEFAULT_IN_FLIGHT   1000
#define PGC_MAX_LINE            ((size_t)1 << 30) /* longest answer line accepted */
#define PGC_BACKOFF_MIN_MS      50
#define PGC_BACKOFF_MAX_MS      2000

enum pgc_slot_flags {
	PGC_SLOT_USED      = 1,  /* a request is in flight in it */
	PGC_SLOT_ABANDONED = 2,  /* timed out: its late answer is dropped */
	PGC_SLOT_SYNC      = 4,  /* a blocking call waits for it (no callback) */
};

struct pgc_slot {
	uint64_t id;        /* the id of the request in it (or of its last one) */
	uint64_t start;     /* offset of its line in the outgoing stream */
	double   deadline;  /* ms, CLOCK_MONOTONIC; 0 for none */
	void    *user;
	uint8_t  op;        /* enum pgc_op */
	uint8_t  flags;     /* enum pgc_slot_flags */
};

/* An answer that named no request (id null), not yet matched to one. */
struct pgc_unnamed {
	char    *line;
	size_t   len;
	uint64_t seen_at;   /* bytes written when it arrived */
};

struct pgc_client {
	struct pgc_addr     addr;
	bool                addr_ok;      /* addr parsed (else err says why) */
	int                 fd;           /* -1 when not connected */
	pgc_ack_fn          cb;
	void               *cb_arg;
	int                 timeout_ms;
	struct pgc_slot    *slots;
	size_t              nslots;       /* max_in_flight */
	uint32_t           *free;         /* free slot indexes, a stack */
	size_t              nfree;
	bool                raw;          /* a raw request is in flight */
	uint64_t            sent;         /* bytes of the stream written to the socket */
	struct buf          out;          /* bytes queued, from out_off on */
	size_t              out_off;
	struct linebuf      in;
	struct pgc_decoder  dec;
	struct jsontok_doc  check;        /* validates pgc_send_op/raw JSON */
	struct pgc_unnamed *unnamed;
	size_t              nunnamed;
	double              next_deadline;/* a lower bound of the earliest deadline; 0: none */
	double              retry_at;     /* no automatic reconnect before (ms) */
	int                 backoff_ms;
	bool                ever_up;      /* connected once: later connects back off */
	/* the blocking API's answer, kept until the next blocking call */
	uint64_t            sync_id;
	bool                sync_done;
	struct buf          sync_line;
	struct pgc_decoder  sync_dec;
	struct pgc_ack      sync_ack;
	char                sync_msg[320];
	char                err[320];
};

/* CLOCK_MONOTONIC in milliseconds. */
double pgc_now_ms(void);

/* Queue a request line built by `fill` into a fresh slot: checks the
 * connection (connecting if need be) and the in-flight bound first. */
int pgc_client_send(pgc_client *c, enum pgc_op op, uint8_t flags, void *user, uint64_t *id,
		    void (*fill)(struct buf *out, uint64_t id, const void *arg), const void *arg);

/* pgc_send_insert_ex() and pgc_send_op() with slot flags (PGC_SLOT_SYNC). */
int pgc_client_send_insert(pgc_client *c, uint8_t flags, const char *table, const pgc_row *row,
			   const struct pgc_insert_opts *opts, void *user, uint64_t *id);
int pgc_client_send_op(pgc_client *c, uint8_t flags, const char *op, const char *members,
		       void *user, uint64_t *id);

/* The enum pgc_op of an op's name ("ping" -> PGC_OP_PING, unknown -> PGC_OP_OTHER). */
enum pgc_op pgc_op_kind(const char *op);

/* The client-side error ack (lost, timeout) for a request in `slot`. */
void pgc_client_side_ack(const struct pgc_slot *s, enum pgc_error_class cls, bool not_written,
			 const char *message, struct pgc_ack *a);

/* Hand an answer to its waiter: the blocking call's copy, or the callback. */
void pgc_client_deliver(pgc_client *c, const struct pgc_slot *s, struct pgc_ack *a);

#endif /* PGC_CLIENT_H */
