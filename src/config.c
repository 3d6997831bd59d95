/*
 * config.c — options from defaults, environment and command line.
 *
 * One table describes every option: its flag, help text, default and how to
 * parse it. The environment name is derived from the flag
 * (--max-delay-ms -> PGCOALESCE_MAX_DELAY_MS).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

enum opt_kind {
	OPT_STRING,
	OPT_LONG,
	OPT_MODE,
	OPT_OVERLOAD,
	OPT_LOG_LEVEL,
	OPT_TABLES,
	OPT_BOOL,
};

struct opt {
	const char   *name;     /* flag without the leading dashes */
	enum opt_kind kind;
	size_t        offset;   /* into struct config */
	long          min, max; /* OPT_LONG range */
	const char   *dflt;
	const char   *arg;      /* placeholder in --help */
	const char   *help;
};

#define OFF(f) offsetof(struct config, f)

static const struct opt config_opts[] = {
	{ "socket", OPT_STRING, OFF(socket_path), 0, 0, "/tmp/pgcoalesce.sock", "PATH",
	  "Unix socket to listen on" },
	{ "socket-mode", OPT_MODE, OFF(socket_mode), 0, 0, "0660", "MODE",
	  "permissions of the socket file (octal)" },
	{ "dsn", OPT_STRING, OFF(dsn), 0, 0, NULL, "CONNINFO",
	  "libpq conninfo or URI (else DATABASE_URL, else PG* variables)" },
	{ "max-batch-rows", OPT_LONG, OFF(max_batch_rows), 1, 1000000, "1000", "N",
	  "flush a table's group when it holds N rows" },
	{ "max-batch-bytes", OPT_LONG, OFF(max_batch_bytes), 1, 1L << 30, "1048576", "N",
	  "... or N bytes of values" },
	{ "max-delay-ms", OPT_LONG, OFF(max_delay_ms), 0, 3600000, "5", "N",
	  "... or when its oldest row has waited N ms" },
	{ "eager-flush", OPT_BOOL, OFF(eager_flush), 0, 0, "on", "on|off",
	  "also flush a group as soon as a database connection is free" },
	{ "connections", OPT_LONG, OFF(connections), 1, 256, "2", "N",
	  "database connections in the pool" },
	{ "max-pending-rows", OPT_LONG, OFF(max_pending_rows), 1, 100000000, "100000", "N",
	  "rows accepted but not yet acked, at most" },
	{ "overload", OPT_OVERLOAD, OFF(overload), 0, 0, "block", "block|reject",
	  "at max-pending-rows: stop reading (block) or answer PC004 (reject)" },
	{ "retry-timeout-ms", OPT_LONG, OFF(retry_timeout_ms), 0, 86400000, "30000", "N",
	  "retry transient failures for N ms, then PC006" },
	{ "shutdown-timeout-ms", OPT_LONG, OFF(shutdown_timeout_ms), 0, 86400000, "30000", "N",
	  "on SIGTERM, give pending rows N ms to be written" },
	{ "max-request-bytes", OPT_LONG, OFF(max_request_bytes), 64, 1L << 30, "1048576", "N",
	  "longest request line; longer ones get PC003" },
	{ "max-clients", OPT_LONG, OFF(max_clients), 1, 1000000, "1024", "N",
	  "concurrent client connections, at most" },
	{ "max-client-output-bytes", OPT_LONG, OFF(max_client_output_bytes), 1024, 1L << 30,
	  "16777216", "N", "unread acks a client may hold before it is disconnected" },
	{ "allow-table", OPT_TABLES, OFF(allow_tables), 0, 0, NULL, "NAME",
	  "accept only this table (repeatable; env: comma-separated)" },
	{ "log-level", OPT_LOG_LEVEL, OFF(log_level), 0, 0, "info", "LEVEL",
	  "error, warn, info or debug" },
};

#define N_OPTS (sizeof(config_opts) / sizeof(config_opts[0]))

static void config_usage(void)
{
	size_t i;

	printf("pgcoalesce %s — PostgreSQL write-coalescing sidecar\n\n"
	       "Usage: pgcoalesce [OPTION]...\n\n"
	       "Accepts single-row inserts as JSON lines on a Unix socket, writes them as\n"
	       "multi-row INSERTs and acks each row after COMMIT.\n\nOptions:\n",
	       PGC_VERSION);
	for (i = 0; i < N_OPTS; i++) {
		char flag[64];
		snprintf(flag, sizeof(flag), "--%s %s", config_opts[i].name, config_opts[i].arg);
		printf("  %-32s %s", flag, config_opts[i].help);
		if (config_opts[i].dflt)
			printf(" [%s]", config_opts[i].dflt);
		printf("\n");
	}
	printf("  %-32s %s\n  %-32s %s\n", "--help", "show this help and exit",
	       "--version", "show the version and exit");
	printf("\nEvery option can also be set in the environment as PGCOALESCE_<NAME>\n"
	       "(upper case, dashes as underscores), e.g. PGCOALESCE_MAX_DELAY_MS=10.\n"
	       "The command line wins over the environment. Database: --dsn, else\n"
	       "PGCOALESCE_DSN, else DATABASE_URL, else libpq's PGHOST, PGDATABASE, ...\n");
}

static void env_name(const char *flag, char *out, size_t outsz)
{
	size_t o = (size_t)snprintf(out, outsz, "PGCOALESCE_");

	for (; *flag && o < outsz - 1; flag++)
		out[o++] = *flag == '-' ? '_' : (char)toupper((unsigned char)*flag);
	out[o] = '\0';
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static void tables_add(struct config *cfg, const char *list)
{
	const char *p = list;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		while (n && isspace((unsigned char)*p))
			p++, n--;
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (n) {
			cfg->allow_tables = pgc_realloc(cfg->allow_tables,
							(cfg->n_allow_tables + 2) * sizeof(char *));
			cfg->allow_tables[cfg->n_allow_tables++] = pgc_strndup(p, n);
			cfg->allow_tables[cfg->n_allow_tables] = NULL;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
}

/* Apply one option value; on error prints one line naming `source`. */
static bool opt_apply(struct config *cfg, const struct opt *o, const char *val, const char *source)
{
	char *base = (char *)cfg;
	long l;
	char *end;
	int lv;

	switch (o->kind) {
	case OPT_STRING:
		free(*(char **)(base + o->offset));
		*(char **)(base + o->offset) = pgc_strdup(val);
		return true;
	case OPT_LONG:
		if (!parse_long(val, o->min, o->max, &l))
			break;
		*(long *)(base + o->offset) = l;
		return true;
	case OPT_MODE:
		l = strtol(val, &end, 8);
		if (end == val || *end || l < 0 || l > 07777)
			break;
		*(mode_t *)(base + o->offset) = (mode_t)l;
		return true;
	case OPT_OVERLOAD:
		if (strcmp(val, "block") == 0)
			cfg->overload = OVERLOAD_BLOCK;
		else if (strcmp(val, "reject") == 0)
			cfg->overload = OVERLOAD_REJECT;
		else
			break;
		return true;
	case OPT_LOG_LEVEL:
		lv = log_level_parse(val);
		if (lv < 0)
			break;
		cfg->log_level = lv;
		return true;
	case OPT_TABLES:
		tables_add(cfg, val);
		return true;
	case OPT_BOOL:
		if (strcmp(val, "on") == 0 || strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
			*(bool *)(base + o->offset) = true;
		else if (strcmp(val, "off") == 0 || strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
			*(bool *)(base + o->offset) = false;
		else
			break;
		return true;
	}
	if (o->kind == OPT_LONG)
		fprintf(stderr, "pgcoalesce: invalid value \"%s\" for %s (expected an integer from %ld to %ld)\n",
			val, source, o->min, o->max);
	else
		fprintf(stderr, "pgcoalesce: invalid value \"%s\" for %s (expected %s)\n",
			val, source, o->arg);
	return false;
}

static const struct opt *opt_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++)
		if (strlen(config_opts[i].name) == len && strncmp(config_opts[i].name, name, len) == 0)
			return &config_opts[i];
	return NULL;
}

static bool config_from_env(struct config *cfg)
{
	char name[96], source[128];
	const char *val;
	size_t i;

	for (i = 0; i < N_OPTS; i++) {
		env_name(config_opts[i].name, name, sizeof(name));
		val = getenv(name);
		if (!val || (!*val && config_opts[i].kind != OPT_STRING))
			continue;
		snprintf(source, sizeof(source), "%s", name);
		if (!opt_apply(cfg, &config_opts[i], val, source))
			return false;
		if (config_opts[i].offset == OFF(dsn))
			cfg->dsn_source = "PGCOALESCE_DSN";
	}
	return true;
}

static enum config_result config_from_argv(struct config *cfg, int argc, char **argv)
{
	bool tables_from_cli = false;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *val;
		const struct opt *o;
		char source[128];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			config_usage();
			return CONFIG_EXIT_OK;
		}
		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			printf("pgcoalesce %s\n", PGC_VERSION);
			return CONFIG_EXIT_OK;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "pgcoalesce: unexpected argument \"%s\" (see --help)\n", a);
			return CONFIG_EXIT_USAGE;
		}
		eq = strchr(a + 2, '=');
		o = opt_find(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
		if (!o) {
			fprintf(stderr, "pgcoalesce: unknown option \"%s\" (see --help)\n", a);
			return CONFIG_EXIT_USAGE;
		}
		if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(stderr, "pgcoalesce: option --%s needs a value (%s)\n", o->name, o->arg);
			return CONFIG_EXIT_USAGE;
		}
		if (o->kind == OPT_TABLES && !tables_from_cli) {
			/* flags replace the environment's list */
			for (size_t k = 0; k < cfg->n_allow_tables; k++)
				free(cfg->allow_tables[k]);
			cfg->n_allow_tables = 0;
			tables_from_cli = true;
		}
		snprintf(source, sizeof(source), "--%s", o->name);
		if (!opt_apply(cfg, o, val, source))
			return CONFIG_EXIT_USAGE;
		if (o->offset == OFF(dsn))
			cfg->dsn_source = "--dsn";
	}
	return CONFIG_OK;
}

enum config_result config_load(struct config *cfg, int argc, char **argv)
{
	enum config_result r;
	const char *url;
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < N_OPTS; i++)
		if (config_opts[i].dflt && !opt_apply(cfg, &config_opts[i], config_opts[i].dflt, "default"))
			return CONFIG_EXIT_USAGE;
	if (!config_from_env(cfg))
		return CONFIG_EXIT_USAGE;
	r = config_from_argv(cfg, argc, argv);
	if (r != CONFIG_OK)
		return r;
	if (!cfg->dsn && (url = getenv("DATABASE_URL")) && *url) {
		cfg->dsn = pgc_strdup(url);
		cfg->dsn_source = "DATABASE_URL";
	}
	if (!cfg->dsn) {
		cfg->dsn = pgc_strdup("");
		cfg->dsn_source = "PG* environment";
	}
	if (!*cfg->socket_path) {
		fprintf(stderr, "pgcoalesce: --socket must not be empty\n");
		return CONFIG_EXIT_USAGE;
	}
	return CONFIG_OK;
}

void config_free(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_allow_tables; i++)
		free(cfg->allow_tables[i]);
	free(cfg->allow_tables);
	free(cfg->socket_path);
	free(cfg->dsn);
	memset(cfg, 0, sizeof(*cfg));
}

bool config_table_allowed(const struct config *cfg, const char *schema, const char *table)
{
	size_t i, sl;

	if (!cfg->n_allow_tables)
		return true;
	sl = schema ? strlen(schema) : 0;
	for (i = 0; i < cfg->n_allow_tables; i++) {
		const char *a = cfg->allow_tables[i];
		if (!schema) {
			if (strcmp(a, table) == 0)
				return true;
		} else if (strncmp(a, schema, sl) == 0 && a[sl] == '.' && strcmp(a + sl + 1, table) == 0) {
			return true;
		}
	}
	return false;
}
