/*
 * pgconn.h — the pool of non-blocking libpq connections in pipeline mode.
 *
 * Only pgconn.c changes a connection's state (connect poll, setup, acquire,
 * release, loss), like pgbench's advanceConnectionState. The owner of a connection's current
 * work (a batch, see flush.c) queues commands with pgconn_send/pgconn_sync,
 * each with a tag it chooses; results come back in order through
 * ops->on_result, one call per command (PGRES_PIPELINE_ABORTED included)
 * and one per sync point (PGRES_PIPELINE_SYNC). A lost connection calls
 * ops->on_lost with the job, then reconnects with backoff.
 *
 * Never blocks: after every send PQflush; EV_WRITE armed only while it
 * returns 1; on readable PQconsumeInput then drain PQgetResult while
 * !PQisBusy. PQsocket is re-read after every connect poll.
 *
 * The one exception to the pipeline is a script (pgconn_send_script): COPY
 * cannot run in pipeline mode, so a script leaves it, runs its statements in
 * the simple query protocol and enters it again; its job sees the same
 * results a pipeline would have given.
 */
#ifndef PGC_PGCONN_H
#define PGC_PGCONN_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>
#include <libpq-fe.h>

#include "buf.h"
#include "log.h"

enum pgconn_state {
	PGCONN_DOWN = 0,    /* not connected; the reconnect timer is armed */
	PGCONN_CONNECTING,  /* PQconnectPoll in progress */
	PGCONN_SETUP,       /* connected; learning the server's crash epoch and xid horizon */
	PGCONN_IDLE,        /* connected, no job, pipeline empty */
	PGCONN_BUSY,        /* a job owns it; commands may be in the pipeline */
};

struct pgconn;

struct pgconn_ops {
	/* One result of a queued command (res freed by the caller after return). */
	void (*on_result)(struct pgconn *pc, void *job, int tag, size_t arg, PGresult *res);
	/* The connection broke while `job` owned it; its queue is gone. */
	void (*on_lost)(struct pgconn *pc, void *job);
	void *arg;
};

struct pgconn_cmd {
	int    tag;      /* the job's tag, or PGCONN_TAG_PREPARE / PGCONN_TAG_INTERNAL */
	size_t arg;
	int    stmt;     /* PGCONN_TAG_PREPARE: index in stmts ... */
	unsigned long stmt_id; /* ... holding the statement with this id */
	char  *copy;     /* a script's COPY FROM STDIN: the data it is fed (owned) */
	size_t copy_len;
	bool   script_end; /* a script's last command: its Sync */
};

/* Commands pgconn queues itself; their results never reach the job unless noted. */
#define PGCONN_TAG_PREPARE  (-1)
#define PGCONN_TAG_INTERNAL (-2)
#define PGCONN_TAG_EPOCH    (-3)   /* setup: the crash epoch */
#define PGCONN_TAG_HORIZON  (-4)   /* setup: the xid horizon of a new epoch */
#define PGCONN_TAG_SETUP    (-5)   /* setup: the last sync point */

/* A statement prepared on this connection: the same SQL is parsed once. */
struct pgconn_stmt {
	char    *sql;     /* NULL: free slot */
	unsigned hash;
	char     name[24];
	unsigned long id; /* the number in its name */
	int      job_tag; /* a failed PREPARE is reported to the job with these */
	size_t   job_arg;
};

struct pgpool;

struct pgconn {
	struct pgpool    *pool;
	int               index;
	enum pgconn_state state;
	PGconn           *pg;
	int               fd;          /* PQsocket, re-read after each poll */
	ev_io             rio, wio;
	ev_timer          timer;       /* reconnect backoff / connect timeout */
	double            backoff;     /* seconds before the next reconnect */
	void             *job;         /* owner of the current work, or NULL */
	struct pgconn_cmd *cmds;       /* commands awaiting results (ring) */
	size_t            cmd_head, cmd_count, cmd_cap;
	bool              cur_has_result; /* the head command delivered its result */
	bool              ever_connected;
	bool              broken;      /* a send failed: drop it from the loop */
	bool              in_script;   /* out of pipeline mode, running a script */
	const char       *broken_why;  /* pgconn_break's reason (static text), else libpq's */
	struct pgconn_stmt *stmts;     /* prepared statements (PGCONN_MAX_STMTS slots) */
	size_t            nstmts;
	unsigned long     stmt_counter;/* for unique statement names */
	bool              deallocate;  /* forget statements on the server before the next prepare */
	unsigned long     epoch_id;    /* the pool's number of the server's crash epoch (see pgpool) */
	bool              sets_horizon;/* this connection saw the epoch first: it logs it */
	bool              epoch_read;  /* setup read the epoch (else the connection is not used) */
	long              statement_timeout_ms; /* the session's own (0: none), read at setup */
	char              last_error[256];
	char              fatal_message[256]; /* the server's FATAL error before it closed, if any */
};

struct pgpool {
	struct ev_loop   *loop;
	struct pgconn    *conns;
	size_t            n;
	int               up;          /* connections IDLE or BUSY */
	char             *dsn;
	struct pgconn_ops ops;
	bool              stopping;    /* no reconnects */
	char              last_error[256]; /* the latest connection failure, for errors and logs */
	double            down_since;  /* ev_now() when the last connection went down, 0: up or never */
	/* rate limits of the lines a flapping database would repeat (README "Logs") */
	struct log_limit  unreachable_limit; /* "database unreachable" while it stays so */
	struct log_limit  down_limit;        /* "database down" */
	struct log_limit  up_limit;          /* "database up" */
	struct log_limit  lost_limit;        /* "database connection lost", any connection */
	struct log_limit  restored_limit;    /* "database connection restored" */
	/*
	 * Crash epochs. After a crash PostgreSQL may assign again the xid of a
	 * transaction whose WAL did not reach disk, so pg_xact_status() of an
	 * xid from before the crash may describe another transaction. A crash
	 * recovery resets every shared statistic with one timestamp: every
	 * connection reads, at setup, the stats_reset that two of three kinds
	 * share (pgconn.c, PGCONN_EPOCH_MARK), and each new value starts a new
	 * epoch; a connection that cannot read it is not used. Every connection also reads the end-of-recovery checkpoint's
	 * next_xid; the first good reading of an epoch is its horizon: xids below
	 * it are durable (never reassigned), xids from before the crash at or
	 * above it were lost.
	 */
	unsigned long     epoch_id;    /* current epoch (0: none seen yet) */
	char              epoch[64];   /* its stats_reset text */
	bool              horizon_known; /* `horizon` is the epoch's startup next_xid */
	unsigned long long horizon;
};

void pgpool_init(struct pgpool *pool, struct ev_loop *loop, const char *dsn, size_t n,
		 const struct pgconn_ops *ops);
/* Start connecting every connection. */
void pgpool_start(struct pgpool *pool);
/* Close everything (shutdown). */
void pgpool_free(struct pgpool *pool);

/*
 * Did `epoch_id` (a batch's epoch) end in a crash that may have reassigned
 * xid `xid`? PGPOOL_SAME_EPOCH: no crash since; PGPOOL_XID_LOST: a crash
 * since, and xid was not durable (its transaction did not commit);
 * PGPOOL_XID_DURABLE: a crash since, but xid was durable (pg_xact_status of
 * it is still the truth); PGPOOL_XID_UNKNOWN: a crash since, horizon unknown.
 */
enum pgpool_xid_fate { PGPOOL_SAME_EPOCH, PGPOOL_XID_LOST, PGPOOL_XID_DURABLE, PGPOOL_XID_UNKNOWN };
enum pgpool_xid_fate pgpool_xid_fate(const struct pgpool *pool, unsigned long epoch_id,
				     unsigned long long xid);

/* An idle connection, or NULL. */
struct pgconn *pgpool_idle(struct pgpool *pool);

/* Give an idle connection to `job` (state BUSY). It must be IDLE. */
void pgconn_acquire(struct pgconn *pc, void *job);
/* `job` is done with its connection, whose pipeline is empty: back to IDLE. */
void pgconn_release(struct pgconn *pc, void *job);
/* `job` starts over on the connection it holds; the pipeline must be empty. */
void pgconn_reuse(struct pgconn *pc, void *job);

/*
 * Queue one command (PQsendQueryParams, text parameters, text results).
 * Returns false if libpq refused (the connection is then being dropped:
 * on_lost will follow from the loop, never from inside this call).
 */
bool pgconn_send(struct pgconn *pc, int tag, size_t arg, const char *sql,
		 int nparams, const char *const *values);
/*
 * Like pgconn_send, through a statement prepared on this connection: the
 * first use sends PQsendPrepare in the same pipeline. If the PREPARE fails,
 * its error result is delivered to the job with this tag and arg (the
 * execution then reports PGRES_PIPELINE_ABORTED).
 */
bool pgconn_send_prepared(struct pgconn *pc, int tag, size_t arg, const char *sql,
			  int nparams, const char *const *values);

/* Forget prepared statements (the table they name changed). */
void pgconn_forget_statements(struct pgconn *pc);

/* Queue a sync point (ends an implicit transaction / error recovery). */
bool pgconn_sync(struct pgconn *pc, int tag, size_t arg);

/* One statement of a script. */
struct pgconn_step {
	int          tag;     /* its result's tag and arg */
	size_t       arg;
	const char  *sql;     /* one statement; with `prepare`, $1 ... $nparams for values */
	bool         prepare; /* run as EXECUTE of the statement prepared on this connection
	                       * as `sql` (as pgconn_send_prepared would), preparing it first */
	int          nparams;
	const char *const *values; /* quoted into the script as literals; NULL is NULL */
	struct buf  *copy;    /* COPY ... FROM STDIN: its data, taken over (emptied); else NULL */
};

/*
 * Run n steps as one script, in one round trip of the simple query protocol
 * (COPY cannot run in pipeline mode). The pipeline must be empty. Each COPY
 * ... FROM STDIN is fed its step's data when the server asks. The job gets
 * what a pipeline would have given: one result per step (a failed PREPARE
 * as pgconn_send_prepared reports it; PGRES_PIPELINE_ABORTED for the steps
 * an error skipped), then one PGRES_PIPELINE_SYNC result with sync_tag and
 * sync_arg, by when the connection is in pipeline mode again. Returns false
 * as pgconn_send does.
 */
bool pgconn_send_script(struct pgconn *pc, const struct pgconn_step *steps, size_t n,
			int sync_tag, size_t sync_arg);

/*
 * The job cannot go on with what it has queued (a name it could not quote
 * for the connection): drop the connection as for a failed send, `why` as
 * its error; on_lost follows from the loop, never from inside this call.
 */
void pgconn_break(struct pgconn *pc, const char *why);

/* Drop the connection now (e.g. shutdown timeout); on_lost is called. */
void pgconn_abort(struct pgconn *pc, const char *why);

#endif /* PGC_PGCONN_H */
