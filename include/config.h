/*
 * config.h — the daemon's options: defaults, environment, command line.
 *
 * Every option --foo-bar is also PGCOALESCE_FOO_BAR in the environment; the
 * command line wins. The database: --dsn, else PGCOALESCE_DSN, else
 * DATABASE_URL, else libpq's own PG* variables.
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

struct config {
	char   *socket_path;
	mode_t  socket_mode;
	long    max_batch_rows;
	long    max_batch_bytes;
	long    max_delay_ms;
	long    connections;
	long    max_pending_rows;
	enum overload_mode overload;
	long    retry_timeout_ms;
	long    shutdown_timeout_ms;
	long    max_request_bytes;
	long    max_clients;
	long    max_client_output_bytes;
	bool    eager_flush;     /* flush as soon as a connection is free */
	char  **allow_tables;    /* NULL-terminated; NULL means every table */
	size_t  n_allow_tables;
	int     log_level;       /* enum log_level */
	char   *dsn;             /* libpq conninfo or URI; "" uses PG* variables */
	const char *dsn_source;  /* where dsn came from, for the startup log */
};

enum config_result {
	CONFIG_OK = 0,
	CONFIG_EXIT_OK,     /* --help or --version was printed: exit 0 */
	CONFIG_EXIT_USAGE,  /* a bad option was reported on stderr: exit 2 */
};

/*
 * Fill `cfg` from defaults, the environment `envp`-style getenv and argv.
 * Prints --help/--version to stdout and one-line errors to stderr.
 */
enum config_result config_load(struct config *cfg, int argc, char **argv);
void config_free(struct config *cfg);

/* Is the table allowed by --allow-table? `qualified` is "schema.table" or a
 * bare name as the client wrote it. */
bool config_table_allowed(const struct config *cfg, const char *schema, const char *table);

#endif /* PGC_CONFIG_H */
