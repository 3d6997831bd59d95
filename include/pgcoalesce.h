/*
 * pgcoalesce.h — libpgcoalesce, the C client of the pgcoalesce sidecar.
 *
 * The one public header of the library (installed with it; everything else
 * under include/ is internal to the daemon and the CLI). It speaks the
 * sidecar's protocol (docs/PROTOCOL.md) over one connection:
 *
 *   - inserts are pipelined: pgc_send_insert() queues a request with an id
 *     the library generates and returns at once; each answer comes back
 *     through the callback as a struct pgc_ack, matched by id, in whatever
 *     order the sidecar answers;
 *   - at most max_in_flight requests are in flight (default 1000):
 *     pgc_send_*() returns PGC_E_FULL beyond that, so memory stays bounded;
 *   - the caller runs the I/O: pgc_fd() and pgc_want() say what to wait
 *     for, pgc_timeout() how long, pgc_process() does what is ready. Any
 *     event loop (poll, epoll, libev, libuv, ...) drives it; the library
 *     never blocks there and holds no global state;
 *   - a blocking API on top (pgc_insert(), pgc_ping(), pgc_flush(),
 *     pgc_stats(), pgc_wait(), pgc_drain()) for simple programs.
 *
 * Errors are data: struct pgc_error carries the code (a PostgreSQL SQLSTATE
 * or the sidecar's PCnnn), its class, PostgreSQL's fields and whether the
 * row is certainly not written; the caller renders it.
 *
 * What to do on a lost connection: every request in flight is answered
 * through the callback with PGC_ERR_CONNECTION_LOST. Its not_written is true
 * when no byte of the request had been sent (it is certainly not in the
 * database); otherwise the row may or may not be written (the sidecar may
 * have committed it before the connection broke). The library never resends
 * anything by itself: the next pgc_send_*() reconnects (backing off up to
 * 2 s between failed attempts) and the caller decides what to resend. Rows
 * answered PGC_ERR_COMMIT_UNKNOWN (PC007) are in the same doubt. Resending a
 * row in doubt can store it twice, unless it was sent with an idempotency
 * key (struct pgc_insert_opts, key): the sidecar writes a keyed row at most
 * once within its --key-retention, so resend it with the same key (the ack
 * of a copy already written says duplicate). A sidecar older than keys
 * ignores them: check pgc_has_feature(pgc_ping(c), "key") first.
 *
 * Upserts: struct pgc_insert_opts, on_conflict, as INSERT ... ON CONFLICT;
 * the ack's action says whether the row inserted, updated or did nothing.
 *
 * Threads: a pgc_client is used by one thread at a time. Memory: allocation
 * failure aborts the process (like the daemon). Strings are UTF-8.
 */
#ifndef PGCOALESCE_H
#define PGCOALESCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PGC_API __attribute__((visibility("default")))
#else
#define PGC_API
#endif

typedef struct pgc_client pgc_client;
typedef struct pgc_row pgc_row;

/* What the functions return. */
enum pgc_status {
	PGC_OK = 0,
	PGC_E_FULL = -1,          /* max_in_flight requests in flight: process answers first */
	PGC_E_NOT_CONNECTED = -2, /* no connection; reconnecting backs off (pgc_errmsg() says how long) */
	PGC_E_CONNECT = -3,       /* connecting failed (pgc_errmsg() says why) */
	PGC_E_LOST = -4,          /* the connection was lost; requests in flight got their callback */
	PGC_E_INVALID = -5,       /* an invalid argument (pgc_errmsg() says which) */
	PGC_E_BUSY = -6,          /* not now: a raw request is in flight, or requests are */
	PGC_E_TIMEOUT = -7,       /* pgc_wait()/pgc_drain(): the time given ran out */
	PGC_E_INTERRUPTED = -8,   /* pgc_wait(): a signal interrupted the wait */
};

enum pgc_op {
	PGC_OP_INSERT = 0,
	PGC_OP_PING,
	PGC_OP_FLUSH,
	PGC_OP_STATS,
	PGC_OP_OTHER,  /* pgc_send_op() */
	PGC_OP_RAW,    /* pgc_send_raw() */
};

/*
 * The class of an error: what it means for the row. Every class but
 * COMMIT_UNKNOWN, CONNECTION_LOST, TIMEOUT and SIDECAR means the row is
 * certainly not written (error.not_written says so per answer).
 */
enum pgc_error_class {
	PGC_ERR_NONE = 0,
	PGC_ERR_ROW,               /* PostgreSQL refused the row: code is its SQLSTATE */
	PGC_ERR_INVALID_REQUEST,   /* PC001, PC002, PC003, PC009 */
	PGC_ERR_TABLE_NOT_ALLOWED, /* PC008: outside the sidecar's --allow-table */
	PGC_ERR_OVERLOADED,        /* PC004: retry later */
	PGC_ERR_SHUTTING_DOWN,     /* PC005 */
	PGC_ERR_UNAVAILABLE,       /* PC006: the database could not be written in time */
	PGC_ERR_COMMIT_UNKNOWN,    /* PC007: the row may or may not be written */
	PGC_ERR_CONNECTION_LOST,   /* client side: the connection broke (or could not be made) */
	PGC_ERR_TIMEOUT,           /* client side: no answer within pgc_set_timeout() */
	PGC_ERR_SIDECAR,           /* a PC code this library does not know: treated as in doubt */
};

/* What an upsert did (struct pgc_ack, action). */
enum pgc_action {
	PGC_ACTION_UNKNOWN = 0,  /* not an upsert, or the sidecar did not say */
	PGC_ACTION_INSERT,       /* the row was inserted */
	PGC_ACTION_UPDATE,       /* it conflicted and DO UPDATE updated the stored row */
	PGC_ACTION_NONE,         /* it conflicted and did nothing (DO NOTHING) */
};

struct pgc_error {
	enum pgc_error_class cls;
	const char *code;        /* "23505", "PC004"; "" for the client-side classes */
	const char *message;     /* never NULL */
	const char *detail;      /* PostgreSQL's fields; NULL when absent */
	const char *hint;
	const char *column;
	const char *constraint;
	bool        not_written; /* the row is certainly not in the database: safe to resend */
};

/*
 * One answer. Every pointer in it is valid only until the callback returns
 * (or, from the blocking API, until the next blocking call on the client).
 */
struct pgc_ack {
	uint64_t         id;        /* the id the library gave the request */
	enum pgc_op      op;
	void            *user;      /* as passed to pgc_send_*() (NULL from the blocking API) */
	bool             ok;        /* an insert: committed */
	struct pgc_error error;     /* when !ok */
	const char      *row;       /* insert with returning: the row, a JSON object text */
	size_t           row_len;
	bool             db_up;     /* ping: the sidecar has a database connection */
	const char      *stats;     /* stats: the "stats" object's JSON text */
	size_t           stats_len;
	const char      *line;      /* the response line as received; NULL for client-side errors */
	size_t           line_len;
	/* (the members below were added with upserts and keys) */
	enum pgc_action  action;    /* an insert with on_conflict: what it did */
	bool             duplicate; /* an insert with a key: already written, not written again */
	const char      *features;  /* ping: the "features" JSON array text; NULL from a v1 sidecar */
	size_t           features_len;
};

typedef void (*pgc_ack_fn)(void *arg, const struct pgc_ack *ack);

/* ---------------------------------------------------------------- the client */

/*
 * A client for `address` (copied): a Unix socket path, "unix:PATH",
 * "tcp:HOST:PORT" or "HOST:PORT" ("[::1]:PORT" for IPv6). NULL or "":
 * $PGCOALESCE_SOCKET, else /tmp/pgcoalesce.sock. A path must start with
 * '/' or '.' to contain ':'. Connects on first use (or pgc_connect()).
 */
PGC_API pgc_client *pgc_new(const char *address);

/* Close (requests in flight get PGC_ERR_CONNECTION_LOST through the callback:
 * unset it first if its argument is gone) and free. Not from a callback. */
PGC_API void pgc_free(pgc_client *c);

/* The address in use, as a path or HOST:PORT, for messages. */
PGC_API const char *pgc_address(const pgc_client *c);

/* The library's version, "0.1.0". */
PGC_API const char *pgc_version(void);

/* Where answers go (the non-blocking API). Without one, they are dropped. */
PGC_API void pgc_set_callback(pgc_client *c, pgc_ack_fn fn, void *arg);

/* At most n requests in flight (default 1000). PGC_E_BUSY while any are. */
PGC_API int pgc_set_max_in_flight(pgc_client *c, size_t n);

/* Give up waiting for an answer after ms milliseconds (0, the default: never).
 * The request then gets PGC_ERR_TIMEOUT (in doubt for an insert: the sidecar
 * may still write it); it counts as in flight until its late answer, which is
 * dropped, arrives. */
PGC_API void pgc_set_timeout(pgc_client *c, int ms);

/* Connect now (closing any connection first, without backing off). A Unix
 * socket connects at once; TCP may block while connecting. */
PGC_API int pgc_connect(pgc_client *c);

/* Close the connection; requests in flight get PGC_ERR_CONNECTION_LOST. */
PGC_API void pgc_close(pgc_client *c);

PGC_API bool pgc_connected(const pgc_client *c);

/* Why the last call failed (or the connection was lost), one line. */
PGC_API const char *pgc_errmsg(const pgc_client *c);

/* ---------------------------------------------------------------- non-blocking */

#define PGC_WANT_READ  1
#define PGC_WANT_WRITE 2

/* The socket to watch (-1 when not connected) and what to wait for on it:
 * read them again after every call, they change. */
PGC_API int pgc_fd(const pgc_client *c);
PGC_API int pgc_want(const pgc_client *c);

/* Milliseconds until the earliest request deadline, -1 when there is none. */
PGC_API int pgc_timeout(const pgc_client *c);

/*
 * Do what is ready: `ready` is what the loop saw (PGC_WANT_READ and/or
 * PGC_WANT_WRITE; 0 just for deadlines). Writes queued requests, reads
 * answers and calls the callback for each, expires deadlines. Never blocks.
 * PGC_OK, or PGC_E_LOST (every request in flight has had its callback).
 * The callback may send new requests; it must not free the client.
 */
PGC_API int pgc_process(pgc_client *c, int ready);

/* Requests sent and not yet answered (timed-out ones included). */
PGC_API size_t pgc_in_flight(const pgc_client *c);

/*
 * Queue an insert of `row` into `table` ("name", or "schema.name" split at
 * the first dot; with `schema` non-NULL, `table` is taken whole).
 * `returning`: NULL, or a NULL-terminated list of column names (or just
 * "*") for the ack's row. `user` comes back in the ack; *id (may be NULL)
 * gets the request's id. PGC_OK, PGC_E_FULL, PGC_E_BUSY, PGC_E_INVALID,
 * PGC_E_NOT_CONNECTED or PGC_E_CONNECT (nothing queued then).
 */
PGC_API int pgc_send_insert(pgc_client *c, const char *table, const pgc_row *row,
			    const char *const *returning, const char *schema, void *user,
			    uint64_t *id);

/* What to do when the row conflicts with a unique index or constraint:
 * INSERT ... ON CONFLICT (docs/PROTOCOL.md, on_conflict). */
enum pgc_conflict_do {
	PGC_DO_NOTHING = 1,  /* DO NOTHING */
	PGC_DO_UPDATE,       /* DO UPDATE SET the `set` and `add` columns */
};

struct pgc_on_conflict {
	enum pgc_conflict_do  action;
	const char *const    *columns;    /* the target: a unique index's columns, NULL-terminated */
	const char           *constraint; /* or a constraint's name; at most one of the two, and
					   * one is needed for PGC_DO_UPDATE */
	const char *const    *set;        /* col = EXCLUDED.col; NULL-terminated, or NULL */
	const char *const    *add;        /* col = table.col + EXCLUDED.col (counters); ditto */
};

/* An insert's optional parts, for pgc_send_insert_ex(): zero it (= {0}) and
 * set what is needed. Every pointer is read during the call only. */
struct pgc_insert_opts {
	const char                   *schema;    /* as pgc_send_insert()'s */
	const char *const            *returning; /* as pgc_send_insert()'s */
	const struct pgc_on_conflict *on_conflict;
	const char                   *key;       /* an idempotency key: 1 to 200 bytes of UTF-8 */
};

/*
 * pgc_send_insert() with the options above. An on_conflict or key the
 * protocol would refuse (an empty or too long key, DO UPDATE without a
 * target or without columns, a column both in set and add, ...) is
 * PGC_E_INVALID here, nothing sent. opts may be NULL.
 */
PGC_API int pgc_send_insert_ex(pgc_client *c, const char *table, const pgc_row *row,
			       const struct pgc_insert_opts *opts, void *user, uint64_t *id);

/* {"op":"ping"|"flush"|"stats"}, answered through the callback. */
PGC_API int pgc_send_ping(pgc_client *c, void *user, uint64_t *id);
PGC_API int pgc_send_flush(pgc_client *c, void *user, uint64_t *id);
PGC_API int pgc_send_stats(pgc_client *c, void *user, uint64_t *id);

/* Any other operation: {"op":<op>,"id":N[,<members>]}, `members` being JSON
 * object members without braces (e.g. "\"table\":\"t\""), or NULL. */
PGC_API int pgc_send_op(pgc_client *c, const char *op, const char *members, void *user,
			uint64_t *id);

/* A request line of the caller's own (its id is the caller's business), sent
 * as is. Only with nothing else in flight; until it is answered, other sends
 * get PGC_E_BUSY. Its answer is the next line, whatever its id. */
PGC_API int pgc_send_raw(pgc_client *c, const char *line, size_t len, void *user);

/* ---------------------------------------------------------------- blocking */

/* Wait up to timeout_ms (-1: no limit) for the socket, then pgc_process().
 * PGC_OK, PGC_E_TIMEOUT, PGC_E_INTERRUPTED, PGC_E_LOST or PGC_E_NOT_CONNECTED. */
PGC_API int pgc_wait(pgc_client *c, int timeout_ms);

/* pgc_wait() until nothing is in flight, at most timeout_ms (-1: no limit). */
PGC_API int pgc_drain(pgc_client *c, int timeout_ms);

/*
 * Send one request and wait for its answer; answers to other requests in
 * flight meanwhile go to the callback. The ack stays valid until the next
 * blocking call on c. NULL only for an invalid argument (pgc_errmsg()); a
 * connection that cannot be made is an ack with PGC_ERR_CONNECTION_LOST
 * (not_written true).
 */
PGC_API const struct pgc_ack *pgc_insert(pgc_client *c, const char *table, const pgc_row *row,
					 const char *const *returning, const char *schema);
PGC_API const struct pgc_ack *pgc_insert_ex(pgc_client *c, const char *table, const pgc_row *row,
					    const struct pgc_insert_opts *opts);
PGC_API const struct pgc_ack *pgc_ping(pgc_client *c);
PGC_API const struct pgc_ack *pgc_flush(pgc_client *c);
PGC_API const struct pgc_ack *pgc_stats(pgc_client *c);
PGC_API const struct pgc_ack *pgc_op(pgc_client *c, const char *op, const char *members);

/* ---------------------------------------------------------------- rows */

/*
 * A row under construction: column name -> value, kept as the JSON object
 * the protocol sends. Reusable: pgc_row_clear() empties it. Each add
 * returns PGC_OK or PGC_E_INVALID (a name or text that is not UTF-8 or holds
 * U+0000, a number or JSON text that is not valid).
 */
PGC_API pgc_row *pgc_row_new(void);
PGC_API void pgc_row_free(pgc_row *r);
PGC_API void pgc_row_clear(pgc_row *r);
/* text: the column's input function parses it ('2026-11-22T10:00Z' fills a timestamptz) */
PGC_API int pgc_row_add_text(pgc_row *r, const char *col, const char *text);
PGC_API int pgc_row_add_textn(pgc_row *r, const char *col, const char *text, size_t len);
PGC_API int pgc_row_add_int(pgc_row *r, const char *col, long long v);
/* NaN and the infinities go as the strings PostgreSQL reads for float columns */
PGC_API int pgc_row_add_double(pgc_row *r, const char *col, double v);
/* a number exactly as written, e.g. "12345678901234567890.123456789" (JSON number syntax) */
PGC_API int pgc_row_add_number(pgc_row *r, const char *col, const char *number);
PGC_API int pgc_row_add_bool(pgc_row *r, const char *col, bool v);
PGC_API int pgc_row_add_null(pgc_row *r, const char *col);
/* any JSON value as text: for json/jsonb columns, or a JSON array for an array column */
PGC_API int pgc_row_add_json(pgc_row *r, const char *col, const char *json, size_t len);
/* The row's JSON object text. */
PGC_API const char *pgc_row_json(const pgc_row *r, size_t *len);

/* ---------------------------------------------------------------- helpers */

/* "row_error", "invalid_request", ..., "timeout", "sidecar_error"; "" for NONE. */
PGC_API const char *pgc_error_class_name(enum pgc_error_class cls);

/* "insert", "update", "none"; "" for PGC_ACTION_UNKNOWN. */
PGC_API const char *pgc_action_name(enum pgc_action action);

/* Does a ping's answer list the extension `name` ("describe", "on_conflict",
 * "key") in its features? False for anything but an ok ping answer. */
PGC_API bool pgc_has_feature(const struct pgc_ack *ping, const char *name);

/* The raw JSON text of member `name` of the JSON object text obj (a returned
 * row, the stats); NULL when absent. */
PGC_API const char *pgc_json_member(const char *obj, size_t len, const char *name, size_t *vlen);

/* Member `name` of the JSON object text obj as text (malloc'd, free() it):
 * a string unescaped, anything else as written (numbers exactly); NULL when
 * absent or null. For a returned row: pgc_json_get(ack->row, ack->row_len, "id"). */
PGC_API char *pgc_json_get(const char *obj, size_t len, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* PGCOALESCE_H */
