/*
 * config.c — options from defaults, the config file, the environment and
 * the command line (see config.h).
 *
 * One table describes every option: its flag, help text, default, how to
 * parse it and whether SIGHUP may change it. The environment name is
 * derived from the flag (--max-delay-ms -> PGCOALESCE_MAX_DELAY_MS), the
 * file name is the flag without its dashes (max-delay-ms = 10).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

enum opt_kind {
	OPT_STRING,
	OPT_COUNT,     /* an integer in [min, max], stored as size_t */
	OPT_MS,        /* milliseconds in [min, max], stored as double seconds */
	OPT_SECONDS,   /* seconds in [min, max], or with a unit: 90s, 30m, 24h, 7d; stored as double */
	OPT_MODE,
	OPT_OVERLOAD,
	OPT_WRITE_PATH,
	OPT_LOG_LEVEL,
	OPT_LOG_FORMAT,
	OPT_TABLES,
	OPT_BOOL,
	OPT_LISTEN,
};

#define OPT_RELOAD  1u  /* SIGHUP applies a new value at once */
#define OPT_NO_FILE 2u  /* cannot be set in the config file */

struct opt {
	const char   *name;     /* flag without the leading dashes */
	enum opt_kind kind;
	size_t        offset;   /* into struct config */
	long          min, max; /* OPT_COUNT / OPT_MS range */
	const char   *dflt;
	const char   *arg;      /* placeholder in --help */
	const char   *help;
	unsigned      flags;
};

#define OFF(f) offsetof(struct config, f)

static const struct opt config_opts[] = {
	{ "config", OPT_STRING, OFF(config_file), 0, 0, NULL, "FILE",
	  "read options from FILE (option = value lines); SIGHUP re-reads it", OPT_NO_FILE },
	{ "socket", OPT_STRING, OFF(socket_path), 0, 0, "/tmp/pgcoalesce.sock", "PATH",
	  "Unix socket to listen on", 0 },
	{ "socket-mode", OPT_MODE, OFF(socket_mode), 0, 0, "0660", "MODE",
	  "permissions of the socket file (octal)", 0 },
	{ "listen", OPT_LISTEN, OFF(listen), 0, 0, NULL, "HOST:PORT",
	  "also accept clients over TCP on HOST:PORT (loopback only unless --listen-remote on)", 0 },
	{ "listen-remote", OPT_BOOL, OFF(listen_remote), 0, 0, "off", "on|off",
	  "let --listen be a non-loopback address (anyone who reaches it can write rows)", 0 },
	{ "dsn", OPT_STRING, OFF(dsn), 0, 0, NULL, "CONNINFO",
	  "libpq conninfo or URI (else DATABASE_URL, else PG* variables)", 0 },
	{ "max-batch-rows", OPT_COUNT, OFF(max_batch_rows), 1, 1000000, "1000", "N",
	  "flush a table's group when it holds N rows", OPT_RELOAD },
	{ "max-batch-bytes", OPT_COUNT, OFF(max_batch_bytes), 1, 1L << 30, "1048576", "N",
	  "... or N bytes of values", OPT_RELOAD },
	{ "max-delay-ms", OPT_MS, OFF(max_delay), 0, 3600000, "5", "N",
	  "... or when its oldest row has waited N ms", OPT_RELOAD },
	{ "eager-flush", OPT_BOOL, OFF(eager_flush), 0, 0, "on", "on|off",
	  "also flush a group as soon as a database connection is free", OPT_RELOAD },
	{ "write-path", OPT_WRITE_PATH, OFF(write_path), 0, 0, "unnest", "unnest|copy",
	  "write plain rows with INSERT ... unnest, or with COPY where it writes as INSERT does",
	  OPT_RELOAD },
	{ "io-uring", OPT_BOOL, OFF(io_uring), 0, 0, "on", "on|off",
	  "read and write all clients in one system call each (io_uring) where the kernel allows", 0 },
	{ "sched-batch", OPT_BOOL, OFF(sched_batch), 0, 0, "on", "on|off",
	  "while batches are big but not full, run as SCHED_BATCH: the sidecar's wakeups do not preempt the task on its CPU", OPT_RELOAD },
	{ "connections", OPT_COUNT, OFF(connections), 1, 256, "2", "N",
	  "database connections in the pool", 0 },
	{ "max-pending-rows", OPT_COUNT, OFF(max_pending_rows), 1, 100000000, "100000", "N",
	  "rows accepted but not yet acked, at most", OPT_RELOAD },
	{ "overload", OPT_OVERLOAD, OFF(overload), 0, 0, "block", "block|reject",
	  "at max-pending-rows: stop reading (block) or answer PC004 (reject)", OPT_RELOAD },
	{ "retry-timeout-ms", OPT_MS, OFF(retry_timeout), 0, 86400000, "30000", "N",
	  "retry transient failures for N ms, then PC006", OPT_RELOAD },
	{ "shutdown-timeout-ms", OPT_MS, OFF(shutdown_timeout), 0, 86400000, "30000", "N",
	  "on SIGTERM, give pending rows N ms to be written", OPT_RELOAD },
	{ "max-request-bytes", OPT_COUNT, OFF(max_request_bytes), 64, 1L << 30, "1048576", "N",
	  "longest request line; longer ones get PC003", 0 },
	{ "max-clients", OPT_COUNT, OFF(max_clients), 1, 1000000, "1024", "N",
	  "concurrent client connections, at most", OPT_RELOAD },
	{ "max-client-output-bytes", OPT_COUNT, OFF(max_client_output_bytes), 1024, 1L << 30,
	  "16777216", "N", "unread acks a client may hold before it is disconnected", OPT_RELOAD },
	{ "allow-table", OPT_TABLES, OFF(allow_tables), 0, 0, NULL, "[SCHEMA.]TABLE",
	  "accept only this table (repeatable; env and file: comma-separated)", OPT_RELOAD },
	{ "metrics-listen", OPT_LISTEN, OFF(metrics_listen), 0, 0, NULL, "HOST:PORT",
	  "serve Prometheus metrics at http://HOST:PORT/metrics (off by default)", 0 },
	{ "key-retention", OPT_SECONDS, OFF(key_retention), 1, 3650L * 86400, "24h", "DURATION",
	  "remember idempotency keys this long (seconds, or with a unit: 90s, 30m, 24h, 7d)",
	  OPT_RELOAD },
	{ "log-level", OPT_LOG_LEVEL, OFF(log_level), 0, 0, "info", "LEVEL",
	  "error, warn, info or debug", OPT_RELOAD },
	{ "log-format", OPT_LOG_FORMAT, OFF(log_format), 0, 0, "logfmt", "logfmt|json",
	  "log lines on stderr as logfmt or as JSON objects", OPT_RELOAD },
};

#define N_OPTS (sizeof(config_opts) / sizeof(config_opts[0]))
_Static_assert(N_OPTS <= CONFIG_MAX_OPTS, "struct config's source[] is too small");

static const char *const source_names[] = { "default", "config file", "environment", "command line" };

static void errf(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* ---- help ---- */

static void config_usage(void)
{
	size_t i, col;

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
	printf("  %-32s %s\n  %-32s %s\n  %-32s %s\n", "--init-db",
	       "create the idempotency key table (schema pgcoalesce) if missing, then exit",
	       "--help", "show this help and exit", "--version", "show the version and exit");
	printf("\nEvery option can also be set in the environment as PGCOALESCE_<NAME>\n"
	       "(upper case, dashes as underscores), e.g. PGCOALESCE_MAX_DELAY_MS=10, and in\n"
	       "the --config file as a line \"max-delay-ms = 10\". The command line wins over\n"
	       "the environment, which wins over the file. Database: --dsn, else\n"
	       "PGCOALESCE_DSN, else DATABASE_URL, else libpq's PGHOST, PGDATABASE, ...\n"
	       "\nSIGHUP re-reads the --config file and applies these options at once:\n ");
	col = 1;
	for (i = 0; i < N_OPTS; i++) {
		if (!(config_opts[i].flags & OPT_RELOAD))
			continue;
		if (col + strlen(config_opts[i].name) + 2 > 78) {
			printf("\n ");
			col = 1;
		}
		printf(" %s", config_opts[i].name);
		col += strlen(config_opts[i].name) + 1;
	}
	printf(".\nThe other options need a restart (a change is logged, not applied).\n");
}

/* ---- parsing values ---- */

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

static void tables_clear(struct config *cfg)
{
	size_t k;

	for (k = 0; k < cfg->n_allow_tables; k++)
		free(cfg->allow_tables[k]);
	free(cfg->allow_tables);
	cfg->allow_tables = NULL;
	cfg->n_allow_tables = 0;
}

/*
 * Read one identifier of an --allow-table entry at *p: "quoted" (with ""
 * for a quote) or bare up to `stop` (a bare table part takes the rest).
 * False if a quote is not closed or is followed by anything but `stop`.
 */
static bool entry_ident(const char **p, const char *end, char stop, struct buf *out)
{
	const char *q = *p;

	buf_reset(out);
	if (q < end && *q == '"') {
		for (q++; q < end; q++) {
			if (*q == '"' && q + 1 < end && q[1] == '"')
				buf_putc(out, *q++);
			else if (*q == '"')
				break;
			else
				buf_putc(out, *q);
		}
		if (q >= end || (q + 1 < end && q[1] != stop))
			return false;
		*p = q + 1;
	} else {
		while (q < end && (*q != stop || !stop))
			buf_putc(out, *q++);
		*p = q;
	}
	buf_cstr(out);
	return out->len > 0;
}

/*
 * Split an --allow-table entry as the protocol splits "table": schema and
 * table at the first dot (`a.b.c` is schema a, table "b.c"); a part in
 * double quotes is taken whole (`"a.b".c` is schema "a.b", table c).
 * *schema is left empty when the entry names no schema. False if malformed.
 */
static bool entry_split(const char *entry, size_t len, struct buf *schema, struct buf *table)
{
	const char *p = entry, *end = entry + len;

	buf_reset(schema);
	if (!entry_ident(&p, end, '.', table))
		return false;
	if (p == end)
		return true;                        /* a table alone */
	buf_append(schema, table->data, table->len);
	p++;                                        /* the dot */
	return entry_ident(&p, end, '\0', table) && p == end;
}

static bool tables_add(struct config *cfg, const char *list)
{
	const char *p = list;
	struct buf schema, table;
	bool ok = true;

	buf_init(&schema);
	buf_init(&table);
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		while (n && isspace((unsigned char)*p))
			p++, n--;
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (n && !entry_split(p, n, &schema, &table))
			ok = false;
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
	buf_free(&schema);
	buf_free(&table);
	return ok;
}

bool config_split_listen(const char *s, char *host, size_t hostsz, long *port)
{
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hl;

	if (!colon || !parse_long(colon + 1, 0, 65535, port) || !isdigit((unsigned char)colon[1]))
		return false;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		h = s + 1;
		hl -= 2;
	} else if (memchr(s, ':', hl) || memchr(s, '[', hl)) {
		return false; /* an IPv6 address needs brackets: [::1]:9187 */
	}
	if (hl >= hostsz)
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	return true;
}

/* "N" seconds, or N with a unit s, m, h or d; the result in seconds within [min, max]. */
static bool parse_seconds(const char *s, long min, long max, long *out)
{
	static const struct { char unit; long secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char num[32];
	size_t len = strlen(s), i;
	long n, mult = 1;

	if (len == 0 || len >= sizeof(num))
		return false;
	memcpy(num, s, len + 1);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (num[len - 1] == units[i].unit) {
			mult = units[i].secs;
			num[--len] = '\0';
			break;
		}
	if (!parse_long(num, 0, max / mult, &n) || n * mult < min)
		return false;
	*out = n * mult;
	return true;
}

static bool parse_enum(int v, int *out)
{
	if (v < 0)
		return false;
	*out = v;
	return true;
}

/* Store one value of `o` into cfg; false if it does not parse. */
static bool opt_store(struct config *cfg, const struct opt *o, const char *val)
{
	char *base = (char *)cfg;
	char host[256];
	long l;
	char *end;

	switch (o->kind) {
	case OPT_STRING:
		free(*(char **)(base + o->offset));
		*(char **)(base + o->offset) = pgc_strdup(val);
		return true;
	case OPT_COUNT:
		if (!parse_long(val, o->min, o->max, &l))
			return false;
		*(size_t *)(base + o->offset) = (size_t)l;
		return true;
	case OPT_MS:
		if (!parse_long(val, o->min, o->max, &l))
			return false;
		*(double *)(base + o->offset) = (double)l / 1000.0;
		return true;
	case OPT_SECONDS:
		if (!parse_seconds(val, o->min, o->max, &l))
			return false;
		*(double *)(base + o->offset) = (double)l;
		return true;
	case OPT_MODE:
		l = strtol(val, &end, 8);
		if (end == val || *end || l < 0 || l > 07777)
			return false;
		*(mode_t *)(base + o->offset) = (mode_t)l;
		return true;
	case OPT_OVERLOAD:
		if (strcmp(val, "block") == 0)
			cfg->overload = OVERLOAD_BLOCK;
		else if (strcmp(val, "reject") == 0)
			cfg->overload = OVERLOAD_REJECT;
		else
			return false;
		return true;
	case OPT_WRITE_PATH:
		if (strcmp(val, "unnest") == 0)
			cfg->write_path = WRITE_UNNEST;
		else if (strcmp(val, "copy") == 0)
			cfg->write_path = WRITE_COPY;
		else
			return false;
		return true;
	case OPT_LOG_LEVEL:
		return parse_enum(log_level_parse(val), &cfg->log_level);
	case OPT_LOG_FORMAT:
		return parse_enum(log_format_parse(val), &cfg->log_format);
	case OPT_TABLES:
		return tables_add(cfg, val);
	case OPT_BOOL:
		if (strcmp(val, "on") == 0 || strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
			*(bool *)(base + o->offset) = true;
		else if (strcmp(val, "off") == 0 || strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
			*(bool *)(base + o->offset) = false;
		else
			return false;
		return true;
	case OPT_LISTEN:
		free(*(char **)(base + o->offset));
		*(char **)(base + o->offset) = NULL;
		if (!*val || strcmp(val, "off") == 0)
			return true;
		if (!config_split_listen(val, host, sizeof(host), &l))
			return false;
		*(char **)(base + o->offset) = pgc_strdup(val);
		return true;
	}
	return false;
}

/*
 * Apply one value from source `src`; on error one line naming `where` in
 * err. A list (allow-table) set by a later source replaces the earlier
 * source's list; within one source the values add up.
 */
static bool opt_apply(struct config *cfg, const struct opt *o, const char *val,
		      enum config_source src, const char *where, char *err, size_t errsz)
{
	size_t idx = (size_t)(o - config_opts);

	if (o->kind == OPT_TABLES && cfg->source[idx] != src)
		tables_clear(cfg);
	if (opt_store(cfg, o, val)) {
		cfg->source[idx] = (unsigned char)src;
		return true;
	}
	if (o->kind == OPT_SECONDS)
		errf(err, errsz, "invalid value \"%s\" for %s (expected seconds from %ld to %ld, or a "
		     "number with a unit s, m, h or d, e.g. 24h)", val, where, o->min, o->max);
	else if (o->kind == OPT_COUNT || o->kind == OPT_MS)
		errf(err, errsz, "invalid value \"%s\" for %s (expected an integer from %ld to %ld)",
		     val, where, o->min, o->max);
	else if (o->kind == OPT_LISTEN)
		errf(err, errsz, "invalid value \"%s\" for %s (expected HOST:PORT, [IPV6]:PORT, :PORT or off)",
		     val, where);
	else
		errf(err, errsz, "invalid value \"%s\" for %s (expected %s)", val, where, o->arg);
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

int config_option_index(const char *name)
{
	const struct opt *o = opt_find(name, strlen(name));

	return o ? (int)(o - config_opts) : -1;
}

/* ---- sources ---- */

void config_defaults(struct config *cfg)
{
	char err[256];
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < N_OPTS; i++)
		if (config_opts[i].dflt)
			opt_apply(cfg, &config_opts[i], config_opts[i].dflt, SRC_DEFAULT, "default",
				  err, sizeof(err));
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* One line of the file; false with err set on a problem. */
static bool file_line(struct config *cfg, char *line, const char *path, unsigned lineno,
		      char *err, size_t errsz)
{
	char *s = trim(line), *eq, *name, *val, where[512]; /* where: opt_apply's message */
	const struct opt *o;
	size_t vl;

	if (!*s || *s == '#')
		return true;
	eq = strchr(s, '=');
	if (!eq) {
		errf(err, errsz, "%s:%u: expected \"option = value\", got \"%.80s\"", path, lineno, s);
		return false;
	}
	*eq = '\0';
	name = trim(s);
	val = trim(eq + 1);
	o = opt_find(name, strlen(name));
	if (!o || (o->flags & OPT_NO_FILE)) {
		errf(err, errsz, o ? "%s:%u: option \"%s\" cannot be set in a config file"
				   : "%s:%u: unknown option \"%.80s\" (see --help)", path, lineno, name);
		return false;
	}
	vl = strlen(val);
	if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
		val[vl - 1] = '\0';
		val++;
	}
	if (!opt_apply(cfg, o, val, SRC_FILE, o->name, where, sizeof(where))) {
		errf(err, errsz, "%s:%u: %s", path, lineno, where);
		return false;
	}
	return true;
}

bool config_read_file(struct config *cfg, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	ssize_t len;
	bool ok = true;

	if (!f) {
		errf(err, errsz, "cannot read config file %s: %s", path, strerror(errno));
		return false;
	}
	while (ok && (len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if ((size_t)len != strlen(line)) {
			errf(err, errsz, "%s:%u: a NUL byte in the line", path, lineno);
			ok = false;
			break;
		}
		ok = file_line(cfg, line, path, lineno, err, errsz);
	}
	if (ok && ferror(f)) {
		errf(err, errsz, "cannot read config file %s: %s", path, strerror(errno));
		ok = false;
	}
	free(line);
	fclose(f);
	return ok;
}

static bool config_from_env(struct config *cfg, char *err, size_t errsz)
{
	char name[96];
	const char *val;
	size_t i;

	for (i = 0; i < N_OPTS; i++) {
		env_name(config_opts[i].name, name, sizeof(name));
		val = getenv(name);
		if (!val || !*val) /* empty is unset: PGCOALESCE_DSN= leaves DATABASE_URL in charge */
			continue;
		if (!opt_apply(cfg, &config_opts[i], val, SRC_ENV, name, err, errsz))
			return false;
	}
	return true;
}

enum argv_step {
	ARGV_END = 0,
	ARGV_OPTION,   /* *o and *val set */
	ARGV_HELP,
	ARGV_VERSION,
	ARGV_INIT_DB,  /* --init-db: an action, not an option (no value) */
	ARGV_ERROR,    /* err set */
};

/* The next command-line item at *i. */
static enum argv_step argv_next(int argc, char **argv, int *i, const struct opt **o,
				const char **val, char *err, size_t errsz)
{
	const char *a, *eq;

	if (++*i >= argc)
		return ARGV_END;
	a = argv[*i];
	if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
		return ARGV_HELP;
	if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0)
		return ARGV_VERSION;
	if (strcmp(a, "--init-db") == 0)
		return ARGV_INIT_DB;
	if (strncmp(a, "--", 2) != 0) {
		errf(err, errsz, "unexpected argument \"%s\" (see --help)", a);
		return ARGV_ERROR;
	}
	eq = strchr(a + 2, '=');
	*o = opt_find(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
	if (!*o) {
		errf(err, errsz, "unknown option \"%s\" (see --help)", a);
		return ARGV_ERROR;
	}
	if (eq) {
		*val = eq + 1;
	} else if (*i + 1 < argc) {
		*val = argv[++*i];
	} else {
		errf(err, errsz, "option --%s needs a value (%s)", (*o)->name, (*o)->arg);
		return ARGV_ERROR;
	}
	return ARGV_OPTION;
}

/* Apply the command line to cfg; stops at --help/--version (returned). */
static enum argv_step config_from_argv(struct config *cfg, int argc, char **argv, char *err, size_t errsz)
{
	const struct opt *o = NULL;
	const char *val = NULL;
	char where[96];
	enum argv_step st;
	int i = 0;

	while ((st = argv_next(argc, argv, &i, &o, &val, err, errsz)) == ARGV_OPTION ||
	       st == ARGV_INIT_DB) {
		if (st == ARGV_INIT_DB) {
			cfg->init_db = true;
			continue;
		}
		snprintf(where, sizeof(where), "--%s", o->name);
		if (!opt_apply(cfg, o, val, SRC_ARGV, where, err, errsz))
			return ARGV_ERROR;
	}
	return st;
}

/*
 * defaults < file < environment < command line. The file is the one named
 * by --config on the command line, else by PGCOALESCE_CONFIG.
 */
static bool config_build(struct config *cfg, int argc, char **argv, char *err, size_t errsz)
{
	struct config pre;
	const char *path = NULL, *url;
	enum argv_step st;
	size_t dsn_idx = (size_t)(opt_find("dsn", 3) - config_opts);

	config_defaults(&pre);
	st = config_from_argv(&pre, argc, argv, err, errsz);
	if (pre.config_file)
		path = pre.config_file;
	else if (getenv("PGCOALESCE_CONFIG") && *getenv("PGCOALESCE_CONFIG"))
		path = getenv("PGCOALESCE_CONFIG");
	config_defaults(cfg);
	cfg->argc = argc;
	cfg->argv = argv;
	if (st == ARGV_ERROR || (path && !config_read_file(cfg, path, err, errsz)) ||
	    !config_from_env(cfg, err, errsz) || config_from_argv(cfg, argc, argv, err, errsz) == ARGV_ERROR) {
		config_free(&pre);
		return false;
	}
	config_free(&pre);
	if (!cfg->dsn && (url = getenv("DATABASE_URL")) && *url) {
		cfg->dsn = pgc_strdup(url);
		cfg->dsn_source = "DATABASE_URL";
	} else if (!cfg->dsn) {
		cfg->dsn = pgc_strdup("");
		cfg->dsn_source = "PG* environment";
		cfg->dsn_from_libpq_env = true;
	} else {
		cfg->dsn_source = cfg->source[dsn_idx] == SRC_ARGV ? "--dsn" :
				  cfg->source[dsn_idx] == SRC_ENV ? "PGCOALESCE_DSN" : "config file";
	}
	if (!*cfg->socket_path) {
		errf(err, errsz, "--socket must not be empty");
		return false;
	}
	return true;
}

enum config_result config_load(struct config *cfg, int argc, char **argv)
{
	struct config scratch;
	char err[1024];
	enum argv_step st;

	/* --help and --version first, whatever else the file or environment hold */
	config_defaults(&scratch);
	st = config_from_argv(&scratch, argc, argv, err, sizeof(err));
	config_free(&scratch);
	memset(cfg, 0, sizeof(*cfg));
	if (st == ARGV_HELP) {
		config_usage();
		return CONFIG_EXIT_OK;
	}
	if (st == ARGV_VERSION) {
		printf("pgcoalesce %s\n", PGC_VERSION);
		return CONFIG_EXIT_OK;
	}
	if (!config_build(cfg, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "pgcoalesce: %s\n", err);
		return CONFIG_EXIT_USAGE;
	}
	return CONFIG_OK;
}

bool config_reload(const struct config *cur, struct config *next, char *err, size_t errsz)
{
	if (config_build(next, cur->argc, cur->argv, err, errsz))
		return true;
	config_free(next);
	return false;
}

bool config_load_file_only(const struct config *cur, struct config *out, char *err, size_t errsz)
{
	config_defaults(out);
	if (!cur->config_file || config_read_file(out, cur->config_file, err, errsz))
		return true;
	config_free(out);
	return false;
}

void config_free(struct config *cfg)
{
	tables_clear(cfg);
	free(cfg->socket_path);
	free(cfg->dsn);
	free(cfg->metrics_listen);
	free(cfg->listen);
	free(cfg->config_file);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- reload ---- */

/* An option's value as text (for comparing and for the log). */
static void opt_format(const struct config *cfg, const struct opt *o, struct buf *out)
{
	const char *base = (const char *)cfg;
	const char *s;
	size_t i;

	buf_reset(out);
	switch (o->kind) {
	case OPT_STRING:
	case OPT_LISTEN:
		s = *(char *const *)(base + o->offset);
		buf_puts(out, s ? s : (o->kind == OPT_LISTEN ? "off" : ""));
		break;
	case OPT_COUNT:
		buf_printf(out, "%zu", *(const size_t *)(base + o->offset));
		break;
	case OPT_MS:
		buf_printf(out, "%.0f", *(const double *)(base + o->offset) * 1000.0);
		break;
	case OPT_SECONDS:
		buf_printf(out, "%.0fs", *(const double *)(base + o->offset));
		break;
	case OPT_MODE:
		buf_printf(out, "%04o", (unsigned)*(const mode_t *)(base + o->offset));
		break;
	case OPT_OVERLOAD:
		buf_puts(out, cfg->overload == OVERLOAD_REJECT ? "reject" : "block");
		break;
	case OPT_WRITE_PATH:
		buf_puts(out, cfg->write_path == WRITE_COPY ? "copy" : "unnest");
		break;
	case OPT_LOG_LEVEL:
		buf_puts(out, log_level_name((enum log_level)cfg->log_level));
		break;
	case OPT_LOG_FORMAT:
		buf_puts(out, log_format_name((enum log_format)cfg->log_format));
		break;
	case OPT_TABLES:
		for (i = 0; i < cfg->n_allow_tables; i++)
			buf_printf(out, "%s%s", i ? "," : "", cfg->allow_tables[i]);
		break;
	case OPT_BOOL:
		buf_puts(out, *(const bool *)(base + o->offset) ? "on" : "off");
		break;
	}
	buf_cstr(out);
}

/* Move o's value from `from` into `to` (what `to` had goes to `from`). */
static void opt_move(struct config *to, struct config *from, const struct opt *o)
{
	char *a = (char *)to, *b = (char *)from, tmp[sizeof(double) > sizeof(char *) ? sizeof(double) : sizeof(char *)];
	size_t size;

	switch (o->kind) {
	case OPT_TABLES: {
		char **t = to->allow_tables;
		size_t n = to->n_allow_tables;
		to->allow_tables = from->allow_tables;
		to->n_allow_tables = from->n_allow_tables;
		from->allow_tables = t;
		from->n_allow_tables = n;
		return;
	}
	case OPT_STRING: case OPT_LISTEN: size = sizeof(char *); break;
	case OPT_COUNT: size = sizeof(size_t); break;
	case OPT_MS: size = sizeof(double); break;
	case OPT_MODE: size = sizeof(mode_t); break;
	case OPT_OVERLOAD: size = sizeof(enum overload_mode); break;
	case OPT_WRITE_PATH: size = sizeof(enum write_path); break;
	case OPT_LOG_LEVEL: case OPT_LOG_FORMAT: size = sizeof(int); break;
	case OPT_BOOL: size = sizeof(bool); break;
	default: return;
	}
	memcpy(tmp, a + o->offset, size);
	memcpy(a + o->offset, b + o->offset, size);
	memcpy(b + o->offset, tmp, size);
}

size_t config_apply_reloadable(struct config *live, struct config *next,
			       const struct config *file_only, config_report_fn report, void *arg)
{
	struct buf oldv, newv, filev;
	size_t i, applied = 0;

	buf_init(&oldv);
	buf_init(&newv);
	buf_init(&filev);
	for (i = 0; i < N_OPTS; i++) {
		const struct opt *o = &config_opts[i];
		opt_format(live, o, &oldv);
		opt_format(next, o, &newv);
		if (strcmp(oldv.data, newv.data) != 0) {
			if (o->flags & OPT_RELOAD) {
				opt_move(live, next, o);
				live->source[i] = next->source[i];
				applied++;
			}
			report(arg, (o->flags & OPT_RELOAD) ? CHANGE_APPLIED : CHANGE_RESTART, o->name,
			       oldv.data, newv.data, source_names[next->source[i]]);
			continue;
		}
		if (!file_only || file_only->source[i] != SRC_FILE || next->source[i] <= SRC_FILE)
			continue;
		opt_format(file_only, o, &filev);
		if (strcmp(filev.data, newv.data) != 0)
			report(arg, CHANGE_OVERRIDDEN, o->name, newv.data, filev.data,
			       source_names[next->source[i]]);
	}
	buf_free(&oldv);
	buf_free(&newv);
	buf_free(&filev);
	return applied;
}

bool config_table_allowed(const struct config *cfg, const char *schema, const char *table)
{
	struct buf es, et;
	bool found = false;
	size_t i;

	if (!cfg->n_allow_tables)
		return true;
	buf_init(&es);
	buf_init(&et);
	for (i = 0; i < cfg->n_allow_tables && !found; i++) {
		const char *a = cfg->allow_tables[i];
		if (!entry_split(a, strlen(a), &es, &et))
			continue;
		found = strcmp(et.data, table) == 0 &&
			(schema ? es.len && strcmp(es.data, schema) == 0 : !es.len);
	}
	buf_free(&es);
	buf_free(&et);
	return found;
}
