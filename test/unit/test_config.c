/*
 * test_config.c — the config file: lines, comments, quotes, errors naming
 * FILE:LINE; what a reload applies, refuses and reports.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static char conf_path[64];

static const char *write_conf(const char *text)
{
	FILE *f;

	snprintf(conf_path, sizeof(conf_path), "/tmp/pgc-unit-%d.conf", (int)getpid());
	f = fopen(conf_path, "w");
	fputs(text, f);
	fclose(f);
	return conf_path;
}

UNIT_TEST(config_file_lines)
{
	struct config cfg;
	char err[512] = "";
	const char *p = write_conf("# a comment\n\n   \t\n"
				   "  max-delay-ms = 250  \r\n"
				   "max-batch-rows=42\n"
				   "dsn = \"host=/tmp dbname=x # not a comment\"\n"
				   "eager-flush = off\n"
				   "allow-table = events, app.audit\n"
				   "allow-table = other\n"
				   "log-format = json\n"
				   "metrics-listen = [::1]:9187\n");

	config_defaults(&cfg);
	CHECK(config_read_file(&cfg, p, err, sizeof(err)));
	CHECK_STR(err, "");
	CHECK(cfg.max_delay == 0.25);
	CHECK_INT((long)cfg.max_batch_rows, 42);
	CHECK_INT((long)cfg.max_batch_bytes, 1048576);   /* untouched default */
	CHECK_STR(cfg.dsn, "host=/tmp dbname=x # not a comment");
	CHECK(!cfg.eager_flush);
	CHECK_INT(cfg.n_allow_tables, 3);
	CHECK_STR(cfg.allow_tables[1], "app.audit");
	CHECK_STR(cfg.allow_tables[2], "other");
	CHECK_INT(cfg.log_format, LOG_FORMAT_JSON);
	CHECK_STR(cfg.metrics_listen, "[::1]:9187");
	CHECK_INT(cfg.source[config_option_index("max-batch-rows")], SRC_FILE);
	CHECK_INT(cfg.source[config_option_index("max-batch-bytes")], SRC_DEFAULT);
	config_free(&cfg);
	unlink(p);
}

static void check_error(const char *text, const char *want_suffix)
{
	struct config cfg;
	char err[512] = "", want[600];
	const char *p = write_conf(text);

	config_defaults(&cfg);
	CHECK(!config_read_file(&cfg, p, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s%s", p, want_suffix);
	CHECK_STR(err, want);
	config_free(&cfg);
	unlink(p);
}

UNIT_TEST(config_file_errors_name_the_line)
{
	check_error("socket = /tmp/x\nmax-delay-ms\n", ":2: expected \"option = value\", got \"max-delay-ms\"");
	check_error("# c\nmax-delay = 3\n", ":2: unknown option \"max-delay\" (see --help)");
	check_error("max-delay-ms = -1\n",
		    ":1: invalid value \"-1\" for max-delay-ms (expected an integer from 0 to 3600000)");
	check_error("max-delay-ms = 5ms\n",
		    ":1: invalid value \"5ms\" for max-delay-ms (expected an integer from 0 to 3600000)");
	check_error("eager-flush = sometimes\n", ":1: invalid value \"sometimes\" for eager-flush (expected on|off)");
	check_error("config = /x\n", ":1: option \"config\" cannot be set in a config file");
	check_error("--socket = /x\n", ":1: unknown option \"--socket\" (see --help)");
	check_error("allow-table = events, \"a.b\n",
		    ":1: invalid value \"events, \"a.b\" for allow-table (expected [SCHEMA.]TABLE)");
	check_error("allow-table = \"a\"b.c\n",
		    ":1: invalid value \"\"a\"b.c\" for allow-table (expected [SCHEMA.]TABLE)");
	check_error("metrics-listen = ::1:80\n",
		    ":1: invalid value \"::1:80\" for metrics-listen (expected HOST:PORT, [IPV6]:PORT, :PORT or off)");
}

UNIT_TEST(config_file_missing)
{
	struct config cfg;
	char err[512];

	config_defaults(&cfg);
	CHECK(!config_read_file(&cfg, "/nonexistent/pgc.conf", err, sizeof(err)));
	CHECK_STR(err, "cannot read config file /nonexistent/pgc.conf: No such file or directory");
	config_free(&cfg);
}

UNIT_TEST(config_split_listen)
{
	char host[64];
	long port;

	CHECK(config_split_listen("127.0.0.1:9187", host, sizeof(host), &port));
	CHECK_STR(host, "127.0.0.1");
	CHECK_INT(port, 9187);
	CHECK(config_split_listen("[::1]:0", host, sizeof(host), &port));
	CHECK_STR(host, "::1");
	CHECK_INT(port, 0);
	CHECK(config_split_listen(":80", host, sizeof(host), &port));
	CHECK_STR(host, "");
	CHECK(config_split_listen("localhost:65535", host, sizeof(host), &port));
	CHECK(!config_split_listen("localhost:65536", host, sizeof(host), &port));
	CHECK(!config_split_listen("localhost", host, sizeof(host), &port));
	CHECK(!config_split_listen("localhost:", host, sizeof(host), &port));
	CHECK(!config_split_listen("localhost:+80", host, sizeof(host), &port));
	CHECK(!config_split_listen("::1:80", host, sizeof(host), &port));
	CHECK(!config_split_listen("[::1:80", host, sizeof(host), &port));
}

struct seen {
	int  n;
	char lines[8][160];
};

static void report(void *arg, enum config_change what, const char *option, const char *old_value,
		   const char *new_value, const char *by)
{
	struct seen *s = arg;

	if (s->n < 8)
		snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%d %s %s -> %s (%s)", (int)what, option,
			 old_value, new_value, by);
}

UNIT_TEST(config_reload_applies_only_reloadable)
{
	struct config live, next, file_only;
	struct seen s = { 0 };
	config_defaults(&live);
	config_defaults(&next);
	config_defaults(&file_only);
	next.max_delay = 0.1;                     /* reloadable */
	next.source[config_option_index("max-delay-ms")] = SRC_FILE;
	next.connections = 8;                        /* needs a restart */
	free(next.socket_path);
	next.socket_path = strdup("/tmp/other.sock"); /* needs a restart */
	live.max_batch_rows = 10;                    /* set by a flag ... */
	live.source[config_option_index("max-batch-rows")] = SRC_ARGV;
	next.max_batch_rows = 10;
	next.source[config_option_index("max-batch-rows")] = SRC_ARGV;
	file_only.max_batch_rows = 500;              /* ... over the file's 500 */
	file_only.source[config_option_index("max-batch-rows")] = SRC_FILE;
	CHECK_INT(config_apply_reloadable(&live, &next, &file_only, report, &s), 1);
	CHECK(live.max_delay == 0.1);
	CHECK_INT(live.connections, 2);
	CHECK_STR(live.socket_path, "/tmp/pgcoalesce.sock");
	CHECK_INT(s.n, 4);
	CHECK_STR(s.lines[0], "1 socket /tmp/pgcoalesce.sock -> /tmp/other.sock (default)");
	CHECK_STR(s.lines[1], "2 max-batch-rows 10 -> 500 (command line)");
	CHECK_STR(s.lines[2], "0 max-delay-ms 5 -> 100 (config file)");
	CHECK_STR(s.lines[3], "1 connections 2 -> 8 (default)");
	config_free(&live);
	config_free(&next);
	config_free(&file_only);
}
