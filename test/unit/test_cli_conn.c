/*
 * test_cli_conn.c — the CLI's feature check (cli_conn_features) over a real
 * socket pair whose other end plays the sidecar: a ping goes out, and its
 * answer's features decide what the CLI may send.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli_conn.h"
#include "pgc_client.h"
#include "unit.h"

/* cli_conn_features() against a "sidecar" that answers the ping (id 1) with `answer`. */
static unsigned features_for(const char *answer, enum cli_conn_status *st, char *sent, size_t len)
{
	struct cli_conn c;
	unsigned bits = 99;
	int sv[2];
	ssize_t n;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	cli_conn_init(&c, "/nonexistent/never-used.sock");
	c.pgc->fd = sv[0]; /* as if connected */
	if (answer) {
		CHECK(write(sv[1], answer, strlen(answer)) == (ssize_t)strlen(answer));
	} else {
		close(sv[1]); /* the sidecar is gone */
		sv[1] = -1;
	}
	*st = cli_conn_features(&c, &bits);
	sent[0] = '\0';
	if (sv[1] >= 0 && (n = read(sv[1], sent, len - 1)) > 0)
		sent[n] = '\0';
	cli_conn_free(&c);
	if (sv[1] >= 0)
		close(sv[1]);
	return bits;
}

UNIT_TEST(cli_conn_features_from_the_ping)
{
	enum cli_conn_status st;
	char sent[256];

	CHECK_INT(features_for("{\"id\":1,\"ok\":true,\"db\":\"up\",\"features\":[\"describe\",\"on_conflict\",\"key\"]}\n",
			       &st, sent, sizeof(sent)),
		  CLI_FEATURE_ON_CONFLICT | CLI_FEATURE_KEY);
	CHECK_INT(st, CLI_CONN_OK);
	CHECK_STR(sent, "{\"op\":\"ping\",\"id\":1}\n");
	CHECK_INT(features_for("{\"id\":1,\"ok\":true,\"db\":\"up\",\"features\":[\"key\"]}\n", &st, sent,
			       sizeof(sent)), CLI_FEATURE_KEY);
	/* a v1 sidecar (no features, or only describe): neither */
	CHECK_INT(features_for("{\"id\":1,\"ok\":true,\"db\":\"down\"}\n", &st, sent, sizeof(sent)), 0);
	CHECK_INT(st, CLI_CONN_OK);
	CHECK_INT(features_for("{\"id\":1,\"ok\":true,\"features\":[\"describe\"]}\n", &st, sent, sizeof(sent)), 0);
	/* no answer: the connection is gone */
	CHECK_INT(features_for(NULL, &st, sent, sizeof(sent)), 0);
	CHECK_INT(st, CLI_CONN_LOST);
}
