/*
 * config.h — the daemon's options: defaults, config file, environment,
 * command line.
 *
 * Every option --foo-bar is also `foo-bar = value` in the --config file and
 * PGCOALESCE_FOO_BAR in the environment. Each source overrides the one
 * before: defaults < file < environment < command line. The database:
 * --dsn, else PGCOALESCE_DSN, else DATABASE_URL, else libpq's PG* variables.
 *
 * SIGHUP re-reads the file (config_reload): the options marked reloadable
 * in config.c's table take their new value at once, the others are reported
 * and keep theirs until a restart.
 */
#ifndef PGC_CONFIG_H
#define PGC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum overload_mode {
	OVERLOAD_BLOCK = 0,  /* stop reading from clients that have rows pending */
	OVERLOAD_REJECT,     /* answer PC004 at once */
};

/* How a batch's plain rows are written (README "Performance"). */
enum write_path {
	WRITE_UNNEST = 0,  /* INSERT ... SELECT FROM unnest of array parameters (sqlbuild.h) */
	WRITE_COPY,        /* COPY FROM STDIN where it writes as INSERT does (sqlbuild.h) */
};

/* Where an option's value came from (each overrides the ones before). */
enum config_source {
	SRC_DEFAULT = 0,
	SRC_FILE,
	SRC_ENV,
	SRC_ARGV,
};

#define CONFIG_MAX_OPTS 32

struct config {
	char   *socket_path;
	mode_t  socket_mode;
	/* sizes and counts (parsed as integers within their ranges) */
	size_t  max_batch_rows;
	size_t  max_batch_bytes;
	size_t  connections;
	size_t  max_pending_rows;
	size_t  max_request_bytes;
	size_t  max_clients;
	size_t  max_client_output_bytes;
	/* durations in seconds (the options are given in milliseconds) */
	double  max_delay;
	double  retry_timeout;
	double  shutdown_timeout;
	double  key_retention;   /* seconds an idempotency key is remembered */
	enum overload_mode overload;
	bool    eager_flush;     /* flush as soon as a connection is free */
	enum write_path write_path;
	bool    io_uring;        /* read and write clients through io_uring where the kernel allows */
	bool    sched_batch;     /* SCHED_BATCH while batches are big (cpusched.h) */
	char  **allow_tables;    /* NULL-terminated; NULL means every table */
	size_t  n_allow_tables;
	int     log_level;       /* enum log_level */
	int     log_format;      /* enum log_format */
	char   *metrics_listen;  /* HOST:PORT for GET /metrics; NULL or "" is off */
	char   *listen;          /* HOST:PORT of the protocol's TCP listener; NULL is off */
	bool    listen_remote;   /* --listen may be a non-loopback address */
	char   *config_file;     /* --config FILE, or NULL */
	char   *dsn;             /* libpq conninfo or URI; "" uses PG* variables */
	const char *dsn_source;  /* where dsn came from, for the startup log */
	bool    init_db;         /* --init-db: create the key table and exit */
	bool    dsn_from_libpq_env; /* none of --dsn, PGCOALESCE_DSN, DATABASE_URL, file */

	unsigned char source[CONFIG_MAX_OPTS]; /* enum config_source of each option */
	int     argc;            /* the command line, kept to re-apply on reload */
	char  **argv;
};

enum config_result {
	CONFIG_OK = 0,
	CONFIG_EXIT_OK,     /* --help or --version was printed: exit 0 */
	CONFIG_EXIT_USAGE,  /* a bad option was reported on stderr: exit 2 */
};

/*
 * Fill `cfg` from defaults, the --config file, the environment and argv
 * (which must outlive cfg). Prints --help/--version to stdout and one-line
 * errors to stderr ("pgcoalesce: FILE:LINE: ..." for the file).
 */
enum config_result config_load(struct config *cfg, int argc, char **argv);
void config_free(struct config *cfg);

/*
 * Build `next` as config_load would now, from cur's file, environment and
 * command line. On failure returns false with one line in err (next is
 * then freed). Prints nothing.
 */
bool config_reload(const struct config *cur, struct config *next, char *err, size_t errsz);

/* What config_apply_reloadable reports for each option that differs. */
enum config_change {
	CHANGE_APPLIED = 0,  /* reloadable: the new value is in effect */
	CHANGE_RESTART,      /* not reloadable: kept until a restart */
	CHANGE_OVERRIDDEN,   /* the file changed it, the environment or command line wins */
};

typedef void (*config_report_fn)(void *arg, enum config_change what, const char *option,
				 const char *old_value, const char *new_value, const char *by);

/*
 * Move the reloadable options that differ from `next` into `live`, calling
 * `report` for each option that differs (applied or not). `file_only` (the
 * defaults and the file alone, may be NULL) finds file values overridden by
 * the environment or command line. Returns the number applied.
 */
size_t config_apply_reloadable(struct config *live, struct config *next,
			       const struct config *file_only, config_report_fn report, void *arg);

/* Defaults and the file alone (for config_apply_reloadable's file_only). */
bool config_load_file_only(const struct config *cur, struct config *out, char *err, size_t errsz);

/*
 * Read `option = value` lines of `path` into cfg (tests and config_load):
 * '#' starts a comment line, blank lines are skipped, a value may be put in
 * double quotes (kept verbatim inside). Errors: "PATH:LINE: ..." in err.
 */
bool config_read_file(struct config *cfg, const char *path, char *err, size_t errsz);

/* The index of an option in source[] (-1 if unknown). */
int config_option_index(const char *name);

/* Defaults only (tests). */
void config_defaults(struct config *cfg);

/*
 * Split a --metrics-listen value: "HOST:PORT", "[IPV6]:PORT" or ":PORT"
 * (every interface); PORT 0 picks a free port. False if malformed.
 */
bool config_split_listen(const char *s, char *host, size_t hostsz, long *port);

/*
 * Is the table allowed by --allow-table? `schema` is NULL when the client
 * wrote a bare name; an entry matches only the form the client wrote. An
 * entry is split as the protocol splits "table", at the first dot
 * (`a.b.c`: schema a, table "b.c"); a part in double quotes is taken whole
 * (`"a.b".c`: schema "a.b", table c). Malformed entries are refused when
 * the options are read.
 */
bool config_table_allowed(const struct config *cfg, const char *schema, const char *table);

#endif /* PGC_CONFIG_H */
