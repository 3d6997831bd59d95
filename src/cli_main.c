/*
 * cli_main.c — pgcoalesce-cli: options, input sources, meta-commands.
 *
 * This first version sends raw protocol requests (a line starting with '{')
 * and the meta-commands \ping, \q and \?; SQL comes next.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli_conn.h"

#define CLI_DEFAULT_SOCKET "/tmp/pgcoalesce.sock"

/* Exit statuses, as psql's. */
enum cli_exit {
	CLI_EXIT_OK = 0,         /* everything succeeded */
	CLI_EXIT_FAILED = 1,     /* a statement or request failed */
	CLI_EXIT_NO_SOCKET = 2,  /* the socket cannot be reached */
	CLI_EXIT_SCRIPT = 3,     /* a script error under ON_ERROR_STOP */
};

struct cli {
	struct cli_conn conn;
	int             status;  /* enum cli_exit */
	bool            quit;    /* \q seen */
};

static void cli_usage(FILE *f)
{
	fprintf(f,
		"pgcoalesce-cli: a psql-style client for the pgcoalesce sidecar\n"
		"\n"
		"Usage: pgcoalesce-cli [-s SOCKET] [-c COMMAND]...\n"
		"\n"
		"  -s, --socket PATH    the sidecar's socket (env PGCOALESCE_SOCKET; default %s)\n"
		"  -c, --command CMD    run CMD (a raw JSON request or a meta-command); repeatable\n"
		"      --help           show this help and exit\n"
		"      --version        print the version and exit\n",
		CLI_DEFAULT_SOCKET);
}

/* One response to a single request: printed as is. */
static int cli_print_line(void *arg, const char *line, size_t len)
{
	(void)arg;
	fwrite(line, 1, len, stdout);
	fputc('\n', stdout);
	return 1;
}

/* Send one request line and print its response. */
static void cli_raw(struct cli *cli, const char *line, size_t len)
{
	cli_conn_queue(&cli->conn, line, len);
	if (cli_conn_exchange(&cli->conn, 1, cli_print_line, cli, NULL) != CLI_CONN_OK) {
		fprintf(stderr, "pgcoalesce-cli: connection to %s lost: %s\n", cli->conn.path,
			cli->conn.err);
		cli->status = CLI_EXIT_NO_SOCKET;
		cli->quit = true;
	}
}

static void cli_command(struct cli *cli, const char *cmd)
{
	while (*cmd == ' ' || *cmd == '\t')
		cmd++;
	if (*cmd == '{') {
		cli_raw(cli, cmd, strlen(cmd));
	} else if (strcmp(cmd, "\\ping") == 0) {
		static const char ping[] = "{\"op\":\"ping\"}";
		cli_raw(cli, ping, sizeof(ping) - 1);
	} else if (strcmp(cmd, "\\q") == 0) {
		cli->quit = true;
	} else if (strcmp(cmd, "\\?") == 0) {
		printf("  \\ping    ask the sidecar whether it and its database are up\n"
		       "  \\q       quit\n"
		       "  {...}    a line starting with '{' is sent as a raw protocol request\n");
	} else {
		fprintf(stderr, "ERROR:  not supported yet: %s\n", cmd);
		cli->status = CLI_EXIT_FAILED;
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "command", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = getenv("PGCOALESCE_SOCKET");
	char **commands = pgc_calloc((size_t)argc + 1, sizeof(char *));
	size_t ncommands = 0, i;
	struct cli cli;
	int opt;

	if (!socket_path || !*socket_path)
		socket_path = CLI_DEFAULT_SOCKET;
	while ((opt = getopt_long(argc, argv, "s:c:", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': socket_path = optarg; break;
		case 'c': commands[ncommands++] = optarg; break;
		case 'h': cli_usage(stdout); free(commands); return 0;
		case 'V': printf("pgcoalesce-cli %s\n", PGC_VERSION); free(commands); return 0;
		default:
			fprintf(stderr, "Try \"pgcoalesce-cli --help\" for more information.\n");
			free(commands);
			return 2;
		}
	}
	memset(&cli, 0, sizeof(cli));
	cli_conn_init(&cli.conn, socket_path);
	if (!cli_conn_open(&cli.conn)) {
		fprintf(stderr, "pgcoalesce-cli: cannot connect to %s: %s\n", socket_path, cli.conn.err);
		cli_conn_free(&cli.conn);
		free(commands);
		return CLI_EXIT_NO_SOCKET;
	}
	for (i = 0; i < ncommands && !cli.quit; i++)
		cli_command(&cli, commands[i]);
	cli_conn_free(&cli.conn);
	free(commands);
	return cli.status;
}
