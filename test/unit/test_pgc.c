/*
 * test_pgc.c — libpgcoalesce: answer decoding, error classes, addresses,
 * the row builder, request text, and the client's bookkeeping over a real
 * socket pair whose other end plays the sidecar (the daemon itself is in
 * test/integration/test_client_c.py).
 */
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "pgc_addr.h"
#include "pgc_client.h"
#include "pgc_wire.h"
#include "pgcoalesce.h"
#include "unit.h"

/* ------------------------------------------------------------ decoding */

static bool decode(const char *line, struct pgc_ack *a, enum pgc_wire_id *kind, uint64_t *id)
{
	static struct pgc_decoder d;
	static bool init;

	if (!init) {
		pgc_decoder_init(&d);
		init = true;
	}
	return pgc_decode(&d, line, strlen(line), a, kind, id);
}

UNIT_TEST(pgc_decode_ok_answers)
{
	struct pgc_ack a;
	enum pgc_wire_id kind;
	uint64_t id = 0;

	CHECK(decode("{\"id\":17,\"ok\":true}", &a, &kind, &id));
	CHECK(a.ok && kind == PGC_WIRE_ID_NUMBER && id == 17 && !a.row);
	/* not the fast path: spacing, member order, a returned row kept as written */
	CHECK(decode("{\"ok\":true, \"row\":{\"n\":12345678901234567890.5,\"t\":\"a\\nb\"},\"id\":3}", &a,
		     &kind, &id));
	CHECK(a.ok && kind == PGC_WIRE_ID_NUMBER && id == 3);
	CHECK(a.row && a.row_len == strlen("{\"n\":12345678901234567890.5,\"t\":\"a\\nb\"}") &&
	      memcmp(a.row, "{\"n\":12345678901234567890.5", 27) == 0);
	CHECK(decode("{\"id\":\"p\",\"ok\":true,\"db\":\"down\"}", &a, &kind, &id));
	CHECK(a.ok && kind == PGC_WIRE_ID_OTHER && !a.db_up);
	CHECK(decode("{\"id\":1,\"ok\":true,\"db\":\"up\"}", &a, &kind, &id) && a.db_up);
	CHECK(decode("{\"id\":2,\"ok\":true,\"stats\":{\"rows_received\":4}}", &a, &kind, &id));
	CHECK_INT(a.stats_len, strlen("{\"rows_received\":4}"));
	/* ids past 19 digits are not the library's */
	CHECK(decode("{\"id\":12345678901234567890,\"ok\":true}", &a, &kind, &id) &&
	      kind == PGC_WIRE_ID_OTHER);
	CHECK(decode("{\"id\":007,\"ok\":true}", &a, &kind, &id) && kind == PGC_WIRE_ID_OTHER);
	CHECK(!decode("not json", &a, &kind, &id));
	CHECK(!decode("[1]", &a, &kind, &id));
}

UNIT_TEST(pgc_decode_errors)
{
	struct pgc_ack a;
	enum pgc_wire_id kind;
	uint64_t id = 0;

	CHECK(decode("{\"id\":5,\"ok\":false,\"error\":{\"code\":\"23505\",\"message\":\"duplicate "
		     "\\\"k\\\"\",\"detail\":\"Key (k)=(\\u00e9) already exists.\",\"constraint\":\"t_pkey\"}}",
		     &a, &kind, &id));
	CHECK(!a.ok && id == 5 && a.error.cls == PGC_ERR_ROW && a.error.not_written);
	CHECK_STR(a.error.code, "23505");
	CHECK_STR(a.error.message, "duplicate \"k\"");
	CHECK_STR(a.error.detail, "Key (k)=(\xc3\xa9) already exists.");
	CHECK_STR(a.error.constraint, "t_pkey");
	CHECK(a.error.hint == NULL && a.error.column == NULL);
	CHECK(decode("{\"id\":null,\"ok\":false,\"error\":{\"code\":\"PC003\",\"message\":\"too long\"}}",
		     &a, &kind, &id));
	CHECK(kind == PGC_WIRE_ID_NULL && a.error.cls == PGC_ERR_INVALID_REQUEST && a.error.not_written);
	CHECK(decode("{\"id\":9,\"ok\":false,\"error\":{\"code\":\"PC007\",\"message\":\"lost\"}}", &a,
		     &kind, &id));
	CHECK(a.error.cls == PGC_ERR_COMMIT_UNKNOWN && !a.error.not_written);
	/* an error without a code says nothing about the row */
	CHECK(decode("{\"id\":9,\"ok\":false}", &a, &kind, &id));
	CHECK(a.error.cls == PGC_ERR_SIDECAR && !a.error.not_written && a.error.message[0]);
}

UNIT_TEST(pgc_classify_codes)
{
	static const struct {
		const char          *code;
		enum pgc_error_class cls;
		bool                 not_written;
	} cases[] = {
		{ "PC001", PGC_ERR_INVALID_REQUEST, true },   { "PC002", PGC_ERR_INVALID_REQUEST, true },
		{ "PC003", PGC_ERR_INVALID_REQUEST, true },   { "PC004", PGC_ERR_OVERLOADED, true },
		{ "PC005", PGC_ERR_SHUTTING_DOWN, true },     { "PC006", PGC_ERR_UNAVAILABLE, true },
		{ "PC007", PGC_ERR_COMMIT_UNKNOWN, false },   { "PC008", PGC_ERR_TABLE_NOT_ALLOWED, true },
		{ "PC009", PGC_ERR_INVALID_REQUEST, true },   { "PC010", PGC_ERR_SIDECAR, false },
		{ "23505", PGC_ERR_ROW, true },               { "U0001", PGC_ERR_ROW, true },
	};
	size_t i;
	bool nw;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(pgc_classify(cases[i].code, &nw), cases[i].cls);
		CHECK_INT(nw, cases[i].not_written);
	}
	CHECK_STR(pgc_error_class_name(PGC_ERR_COMMIT_UNKNOWN), "commit_unknown");
	CHECK_STR(pgc_error_class_name(PGC_ERR_ROW), "row_error");
	CHECK_STR(pgc_error_class_name(PGC_ERR_CONNECTION_LOST), "connection_lost");
}

/* ------------------------------------------------------------ addresses */

static const char *addr(const char *text)
{
	static char out[256];
	struct pgc_addr a;
	char err[128];

	if (!pgc_addr_parse(&a, text, err, sizeof(err))) {
		snprintf(out, sizeof(out), "ERROR %s", err);
		return out;
	}
	if (a.kind == PGC_ADDR_UNIX)
		snprintf(out, sizeof(out), "unix %s", a.path);
	else
		snprintf(out, sizeof(out), "tcp %s %s (%s)", a.host, a.port, a.display);
	pgc_addr_free(&a);
	return out;
}

UNIT_TEST(pgc_addresses)
{
	CHECK_STR(addr("/tmp/pgcoalesce.sock"), "unix /tmp/pgcoalesce.sock");
	CHECK_STR(addr("./a:b.sock"), "unix ./a:b.sock");
	CHECK_STR(addr("rel.sock"), "unix rel.sock");
	CHECK_STR(addr("unix:/run/x:y.sock"), "unix /run/x:y.sock");
	CHECK_STR(addr("tcp:127.0.0.1:7000"), "tcp 127.0.0.1 7000 (127.0.0.1:7000)");
	CHECK_STR(addr("localhost:7000"), "tcp localhost 7000 (localhost:7000)");
	CHECK_STR(addr("[::1]:7000"), "tcp ::1 7000 ([::1]:7000)");
	CHECK_STR(addr("tcp:host:0"), "ERROR invalid TCP address \"host:0\": want HOST:PORT");
	CHECK_STR(addr("host:65536"), "ERROR invalid TCP address \"host:65536\": want HOST:PORT");
	CHECK_STR(addr("host:7x"), "ERROR invalid TCP address \"host:7x\": want HOST:PORT");
	CHECK_STR(addr("tcp::7000"), "ERROR invalid TCP address \":7000\": want HOST:PORT");
	CHECK_STR(addr("unix:"), "ERROR empty socket path");
	CHECK(strncmp(addr("/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock"),
		      "ERROR socket path is too long", 29) == 0);
}

/* ------------------------------------------------------------ rows and requests */

UNIT_TEST(pgc_row_builder)
{
	pgc_row *r = pgc_row_new();

	CHECK_STR(pgc_row_json(r, NULL), "{}");
	CHECK_INT(pgc_row_add_int(r, "i", -42), PGC_OK);
	CHECK_INT(pgc_row_add_text(r, "t", "a \"q\"\n\xc3\xa9"), PGC_OK);
	CHECK_INT(pgc_row_add_number(r, "n", "12345678901234567890.123456789012345678"), PGC_OK);
	CHECK_INT(pgc_row_add_double(r, "d", 0.1), PGC_OK);
	CHECK_INT(pgc_row_add_double(r, "nan", 0.0 / 0.0), PGC_OK);
	CHECK_INT(pgc_row_add_bool(r, "b", true), PGC_OK);
	CHECK_INT(pgc_row_add_null(r, "z"), PGC_OK);
	CHECK_INT(pgc_row_add_json(r, "j", "{\n  \"a\": [1, 2]\n}", 17), PGC_OK);
	CHECK_STR(pgc_row_json(r, NULL),
		  "{\"i\":-42,\"t\":\"a \\\"q\\\"\\n\xc3\xa9\",\"n\":12345678901234567890.123456789012345678,"
		  "\"d\":0.10000000000000001,\"nan\":\"NaN\",\"b\":true,\"z\":null,"
		  "\"j\":{   \"a\": [1, 2] }}");
	/* refused: the row is unchanged */
	CHECK_INT(pgc_row_add_number(r, "n2", "1e"), PGC_E_INVALID);
	CHECK_INT(pgc_row_add_number(r, "n2", "01"), PGC_E_INVALID);
	CHECK_INT(pgc_row_add_number(r, "n2", "NaN"), PGC_E_INVALID);
	CHECK_INT(pgc_row_add_text(r, "bad", "\xff"), PGC_E_INVALID);
	CHECK_INT(pgc_row_add_textn(r, "nul", "a\0b", 3), PGC_E_INVALID);
	CHECK_INT(pgc_row_add_int(r, "\xc0", 1), PGC_E_INVALID);
	CHECK_INT(pgc_row_add_json(r, "j2", "{\"a\":", 5), PGC_E_INVALID);
	CHECK_INT(pgc_row_add_json(r, "j2", "\"\\u0000\"", 8), PGC_E_INVALID);
	CHECK(strstr(pgc_row_json(r, NULL), "n2") == NULL && strstr(pgc_row_json(r, NULL), "bad") == NULL);
	pgc_row_clear(r);
	CHECK_INT(pgc_row_add_number(r, "n", "-0.5e-3"), PGC_OK);
	CHECK_STR(pgc_row_json(r, NULL), "{\"n\":-0.5e-3}");
	pgc_row_free(r);
}

UNIT_TEST(pgc_request_text)
{
	const char *ret[] = { "id", "Created \"At\"", NULL };
	struct buf b;

	struct pgc_insert_opts opts = { .schema = "app", .returning = ret };

	buf_init(&b);
	pgc_wire_insert(&b, 7, "events", "{\"a\":1}", 7, NULL);
	CHECK_STR(buf_cstr(&b), "{\"id\":7,\"table\":\"events\",\"row\":{\"a\":1}}\n");
	buf_reset(&b);
	pgc_wire_insert(&b, 8, "T.x", "{}", 2, &opts);
	CHECK_STR(buf_cstr(&b), "{\"id\":8,\"table\":\"T.x\",\"schema\":\"app\",\"row\":{},"
				"\"returning\":[\"id\",\"Created \\\"At\\\"\"]}\n");
	buf_reset(&b);
	pgc_wire_op(&b, "describe", 9, "\"table\":\"t\"");
	CHECK_STR(buf_cstr(&b), "{\"op\":\"describe\",\"id\":9,\"table\":\"t\"}\n");
	buf_free(&b);
}

UNIT_TEST(pgc_request_text_upserts_and_keys)
{
	const char *cols[] = { "device_id", NULL }, *set[] = { "seen", "kind", NULL };
	const char *add[] = { "hits", NULL };
	struct pgc_on_conflict up = { PGC_DO_UPDATE, cols, NULL, set, add };
	struct pgc_on_conflict nothing = { .action = PGC_DO_NOTHING };
	struct pgc_on_conflict named = { .action = PGC_DO_NOTHING, .constraint = "devices_pkey" };
	struct pgc_insert_opts opts = { .on_conflict = &up, .key = "k-\"1\"" };
	struct buf b;

	buf_init(&b);
	pgc_wire_insert(&b, 1, "devices", "{}", 2, &opts);
	CHECK_STR(buf_cstr(&b), "{\"id\":1,\"table\":\"devices\",\"row\":{},\"on_conflict\":"
				"{\"columns\":[\"device_id\"],\"do\":\"update\",\"set\":[\"seen\",\"kind\"],"
				"\"add\":[\"hits\"]},\"key\":\"k-\\\"1\\\"\"}\n");
	buf_reset(&b);
	opts.on_conflict = &nothing;
	opts.key = NULL;
	pgc_wire_insert(&b, 2, "devices", "{}", 2, &opts);
	CHECK_STR(buf_cstr(&b), "{\"id\":2,\"table\":\"devices\",\"row\":{},"
				"\"on_conflict\":{\"do\":\"nothing\"}}\n");
	buf_reset(&b);
	opts.on_conflict = &named;
	pgc_wire_insert(&b, 3, "devices", "{}", 2, &opts);
	CHECK_STR(buf_cstr(&b), "{\"id\":3,\"table\":\"devices\",\"row\":{},"
				"\"on_conflict\":{\"constraint\":\"devices_pkey\",\"do\":\"nothing\"}}\n");
	buf_free(&b);
}

/* pgc_wire_opts_ok's verdict: "ok", or its message. */
static const char *opts_verdict(const struct pgc_insert_opts *opts)
{
	static char err[320];

	err[0] = '\0';
	return pgc_wire_opts_ok(opts, err, sizeof(err)) ? "ok" : err;
}

UNIT_TEST(pgc_insert_options_are_checked)
{
	const char *cols[] = { "id", NULL }, *none[] = { NULL }, *set[] = { "a", "n", NULL };
	const char *add[] = { "n", NULL }, *empty[] = { "", NULL }, *bad[] = { "\xff", NULL };
	char key[PGC_KEY_MAX + 2];
	struct pgc_on_conflict oc = { PGC_DO_UPDATE, cols, NULL, set, NULL };
	struct pgc_insert_opts o = { .on_conflict = &oc };

	CHECK_STR(opts_verdict(NULL), "ok");
	CHECK_STR(opts_verdict(&o), "ok");
	oc.add = add; /* n in set and add */
	CHECK_STR(opts_verdict(&o), "on_conflict: column \"n\" is in set and add");
	oc.set = NULL;
	CHECK_STR(opts_verdict(&o), "ok");
	oc.columns = NULL;
	CHECK_STR(opts_verdict(&o), "on_conflict do update needs columns or a constraint");
	oc.constraint = "t_pkey";
	CHECK_STR(opts_verdict(&o), "ok");
	oc.columns = cols;
	CHECK_STR(opts_verdict(&o), "on_conflict takes columns or a constraint, not both");
	oc.constraint = "";
	oc.columns = NULL;
	CHECK_STR(opts_verdict(&o), "on_conflict.constraint must be a non-empty UTF-8 name");
	oc.constraint = NULL;
	oc.columns = none;
	CHECK_STR(opts_verdict(&o), "on_conflict.columns must name at least one column");
	oc.columns = empty;
	CHECK_STR(opts_verdict(&o), "on_conflict.columns[0] must be a non-empty UTF-8 name");
	oc.columns = cols;
	oc.add = bad;
	CHECK_STR(opts_verdict(&o), "on_conflict.add[0] must be a non-empty UTF-8 name");
	oc.add = NULL;
	CHECK_STR(opts_verdict(&o), "on_conflict do update needs a column in set or add");
	oc.action = PGC_DO_NOTHING;
	CHECK_STR(opts_verdict(&o), "ok");
	oc.columns = NULL;
	CHECK_STR(opts_verdict(&o), "ok"); /* DO NOTHING: any conflict */
	oc.set = set;
	CHECK_STR(opts_verdict(&o), "on_conflict.set and add need do: update");
	oc.set = NULL;
	oc.action = (enum pgc_conflict_do)7;
	CHECK_STR(opts_verdict(&o), "on_conflict.do must be nothing or update");
	o.on_conflict = NULL;
	/* keys: 1 to 200 bytes of UTF-8 */
	memset(key, 'k', sizeof(key));
	key[PGC_KEY_MAX] = '\0';
	o.key = key;
	CHECK_STR(opts_verdict(&o), "ok");
	key[PGC_KEY_MAX] = 'k';
	key[PGC_KEY_MAX + 1] = '\0';
	CHECK_STR(opts_verdict(&o), "the key must be 1 to 200 bytes of UTF-8 text");
	o.key = "";
	CHECK_STR(opts_verdict(&o), "the key must be 1 to 200 bytes of UTF-8 text");
	o.key = "\xc3";
	CHECK_STR(opts_verdict(&o), "the key must be 1 to 200 bytes of UTF-8 text");
	o.key = "\xc3\xa9";
	CHECK_STR(opts_verdict(&o), "ok");
}

UNIT_TEST(pgc_decode_upsert_and_key_answers)
{
	struct pgc_ack a;
	enum pgc_wire_id kind;
	uint64_t id = 0;

	CHECK(decode("{\"id\":5,\"ok\":true,\"action\":\"update\",\"row\":{\"hits\":3}}", &a, &kind, &id));
	CHECK(a.ok && a.action == PGC_ACTION_UPDATE && !a.duplicate && a.row);
	CHECK_STR(pgc_action_name(a.action), "update");
	CHECK(decode("{\"id\":5,\"ok\":true,\"action\":\"none\"}", &a, &kind, &id));
	CHECK(a.action == PGC_ACTION_NONE && !a.row);
	CHECK(decode("{\"id\":5,\"ok\":true,\"action\":\"insert\"}", &a, &kind, &id) &&
	      a.action == PGC_ACTION_INSERT);
	CHECK(decode("{\"id\":5,\"ok\":true,\"action\":\"merge\"}", &a, &kind, &id) &&
	      a.action == PGC_ACTION_UNKNOWN);
	CHECK(decode("{\"id\":6,\"ok\":true,\"duplicate\":true}", &a, &kind, &id));
	CHECK(a.ok && a.duplicate && a.action == PGC_ACTION_UNKNOWN);
	CHECK(decode("{\"id\":6,\"ok\":true,\"duplicate\":false}", &a, &kind, &id) && !a.duplicate);
	CHECK(decode("{\"id\":6,\"ok\":true}", &a, &kind, &id) && !a.duplicate && !a.action);
	CHECK_STR(pgc_action_name(PGC_ACTION_UNKNOWN), "");
	CHECK_STR(pgc_action_name(PGC_ACTION_INSERT), "insert");
	CHECK_STR(pgc_action_name(PGC_ACTION_NONE), "none");
}

UNIT_TEST(pgc_ping_features)
{
	struct pgc_ack a;
	enum pgc_wire_id kind;
	uint64_t id = 0;

	CHECK(decode("{\"id\":1,\"ok\":true,\"db\":\"up\",\"features\":[\"describe\",\"on_conflict\",\"k\\u0065y\"]}",
		     &a, &kind, &id));
	a.op = PGC_OP_PING;
	CHECK(a.features && a.features_len == strlen("[\"describe\",\"on_conflict\",\"k\\u0065y\"]"));
	CHECK(pgc_has_feature(&a, "on_conflict") && pgc_has_feature(&a, "describe"));
	CHECK(pgc_has_feature(&a, "key")); /* escapes are read */
	CHECK(!pgc_has_feature(&a, "ke") && !pgc_has_feature(&a, "keys") && !pgc_has_feature(&a, ""));
	a.op = PGC_OP_STATS; /* only a ping answer says */
	CHECK(!pgc_has_feature(&a, "key"));
	/* a v1 sidecar lists nothing */
	CHECK(decode("{\"id\":1,\"ok\":true,\"db\":\"up\"}", &a, &kind, &id));
	a.op = PGC_OP_PING;
	CHECK(!a.features && !pgc_has_feature(&a, "key"));
	CHECK(!pgc_has_feature(NULL, "key"));
	CHECK(decode("{\"id\":1,\"ok\":true,\"features\":{\"key\":true}}", &a, &kind, &id));
	a.op = PGC_OP_PING;
	CHECK(!pgc_has_feature(&a, "key"));
	CHECK(decode("{\"id\":1,\"ok\":true,\"features\":[[\"key\"],1]}", &a, &kind, &id));
	a.op = PGC_OP_PING;
	CHECK(!pgc_has_feature(&a, "key")); /* only the array's own strings count */
}

UNIT_TEST(pgc_json_helpers)
{
	const char *row = "{\"id\": 1042, \"k\": \"a\\tb\", \"n\": null, \"o\": {\"x\": [1]}}";
	size_t n;
	const char *v;
	char *t;

	v = pgc_json_member(row, strlen(row), "id", &n);
	CHECK(v && n == 4 && memcmp(v, "1042", 4) == 0);
	v = pgc_json_member(row, strlen(row), "o", &n);
	CHECK(v && n == strlen("{\"x\": [1]}"));
	CHECK(pgc_json_member(row, strlen(row), "missing", &n) == NULL);
	t = pgc_json_get(row, strlen(row), "k");
	CHECK_STR(t, "a\tb");
	free(t);
	CHECK(pgc_json_member(row, strlen(row), "n", &n) && pgc_json_get(row, strlen(row), "n") == NULL);
	CHECK(pgc_json_get(row, strlen(row), "missing") == NULL);
	t = pgc_json_get(row, strlen(row), "id");
	CHECK_STR(t, "1042");
	free(t);
	t = pgc_json_get(row, strlen(row), "o");
	CHECK_STR(t, "{\"x\": [1]}");
	free(t);
}

/* ------------------------------------------------------------ the client, over a socket pair */

/* The test's end of the pair plays the sidecar. */
struct fake {
	pgc_client *c;
	int         peer;
	struct buf  got;       /* request lines the client sent */
	struct pgc_ack acks[16];
	char        codes[16][8];
	void       *users[16];
	size_t      nacks;
};

static void fake_on_ack(void *arg, const struct pgc_ack *a)
{
	struct fake *f = arg;

	if (f->nacks < 16) {
		f->acks[f->nacks] = *a;
		snprintf(f->codes[f->nacks], sizeof(f->codes[0]), "%s", a->ok ? "ok" : a->error.code);
		f->users[f->nacks] = a->user;
		f->acks[f->nacks].line = NULL; /* gone after the callback */
	}
	f->nacks++;
}

static void fake_init(struct fake *f, size_t max_in_flight)
{
	int sv[2];

	memset(f, 0, sizeof(*f));
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	f->c = pgc_new("/nonexistent/never-used.sock");
	f->c->fd = sv[0]; /* as if connected */
	f->peer = sv[1];
	buf_init(&f->got);
	pgc_set_callback(f->c, fake_on_ack, f);
	pgc_set_max_in_flight(f->c, max_in_flight);
}

static void fake_free(struct fake *f)
{
	pgc_free(f->c);
	if (f->peer >= 0)
		close(f->peer);
	buf_free(&f->got);
}

/* Let the client write, then read what it sent. */
static void fake_pump(struct fake *f)
{
	char chunk[4096];
	ssize_t n;

	pgc_process(f->c, PGC_WANT_WRITE);
	while ((n = read(f->peer, chunk, sizeof(chunk))) > 0)
		buf_append(&f->got, chunk, (size_t)n);
}

/* The sidecar answers; the client reads it. */
static void fake_answer(struct fake *f, const char *line)
{
	CHECK(write(f->peer, line, strlen(line)) == (ssize_t)strlen(line));
	CHECK(write(f->peer, "\n", 1) == 1);
	pgc_process(f->c, PGC_WANT_READ);
}

static void send_rows(struct fake *f, int n)
{
	pgc_row *r = pgc_row_new();
	int i;

	pgc_row_add_int(r, "a", 1);
	for (i = 0; i < n; i++)
		CHECK_INT(pgc_send_insert(f->c, "t", r, NULL, NULL, (void *)(intptr_t)(i + 1), NULL), PGC_OK);
	pgc_row_free(r);
}

UNIT_TEST(pgc_client_matches_ids_and_bounds_in_flight)
{
	struct fake f;
	pgc_row *r = pgc_row_new();
	uint64_t id3 = 0;

	fake_init(&f, 3);
	send_rows(&f, 2);
	CHECK_INT(pgc_send_insert(f.c, "t", r, NULL, NULL, (void *)3, &id3), PGC_OK);
	CHECK_INT(pgc_send_insert(f.c, "t", r, NULL, NULL, NULL, NULL), PGC_E_FULL);
	CHECK_INT(pgc_in_flight(f.c), 3);
	CHECK(pgc_want(f.c) & PGC_WANT_WRITE);
	fake_pump(&f);
	CHECK_STR(buf_cstr(&f.got), "{\"id\":1,\"table\":\"t\",\"row\":{\"a\":1}}\n"
				    "{\"id\":2,\"table\":\"t\",\"row\":{\"a\":1}}\n"
				    "{\"id\":3,\"table\":\"t\",\"row\":{}}\n");
	CHECK(!(pgc_want(f.c) & PGC_WANT_WRITE));
	/* answers in any order, matched by id; a freed slot takes a new id */
	fake_answer(&f, "{\"id\":3,\"ok\":true}");
	fake_answer(&f, "{\"id\":1,\"ok\":false,\"error\":{\"code\":\"23505\",\"message\":\"dup\"}}");
	CHECK_INT(f.nacks, 2);
	CHECK(f.users[0] == (void *)3 && f.acks[0].id == id3 && f.acks[0].ok);
	CHECK(f.users[1] == (void *)1 && f.acks[1].error.cls == PGC_ERR_ROW);
	CHECK_INT(pgc_in_flight(f.c), 1);
	send_rows(&f, 1);
	fake_pump(&f);
	CHECK(strstr(buf_cstr(&f.got), "{\"id\":4,") || strstr(buf_cstr(&f.got), "{\"id\":6,"));
	/* an answer naming no request of ours is not taken for one */
	fake_answer(&f, "{\"id\":99,\"ok\":true}");
	CHECK_INT(f.nacks, 2);
	pgc_row_free(r);
	fake_free(&f);
}

UNIT_TEST(pgc_client_sends_upserts_and_keys)
{
	const char *cols[] = { "id", NULL }, *add[] = { "n", NULL };
	struct pgc_on_conflict oc = { PGC_DO_UPDATE, cols, NULL, NULL, add };
	struct pgc_insert_opts o = { .on_conflict = &oc, .key = "K1" };
	struct fake f;
	pgc_row *r = pgc_row_new();

	fake_init(&f, 4);
	pgc_row_add_int(r, "id", 1);
	CHECK_INT(pgc_send_insert_ex(f.c, "t", r, &o, (void *)1, NULL), PGC_OK);
	o.key = "";
	CHECK_INT(pgc_send_insert_ex(f.c, "t", r, &o, (void *)2, NULL), PGC_E_INVALID);
	CHECK_STR(pgc_errmsg(f.c), "the key must be 1 to 200 bytes of UTF-8 text");
	CHECK_INT(pgc_in_flight(f.c), 1); /* nothing queued for the invalid one */
	CHECK_INT(pgc_send_insert_ex(f.c, "t", r, NULL, (void *)3, NULL), PGC_OK);
	fake_pump(&f);
	CHECK_STR(buf_cstr(&f.got), "{\"id\":1,\"table\":\"t\",\"row\":{\"id\":1},\"on_conflict\":"
				    "{\"columns\":[\"id\"],\"do\":\"update\",\"add\":[\"n\"]},\"key\":\"K1\"}\n"
				    "{\"id\":2,\"table\":\"t\",\"row\":{\"id\":1}}\n");
	fake_answer(&f, "{\"id\":1,\"ok\":true,\"action\":\"update\"}");
	fake_answer(&f, "{\"id\":2,\"ok\":true,\"duplicate\":true}");
	CHECK_INT(f.nacks, 2);
	CHECK(f.users[0] == (void *)1 && f.acks[0].action == PGC_ACTION_UPDATE && !f.acks[0].duplicate);
	CHECK(f.users[1] == (void *)3 && f.acks[1].duplicate && f.acks[1].action == PGC_ACTION_UNKNOWN);
	pgc_row_free(r);
	fake_free(&f);
}

UNIT_TEST(pgc_client_matches_id_less_answers_by_elimination)
{
	struct fake f;

	fake_init(&f, 10);
	send_rows(&f, 3);
	fake_pump(&f);
	/* the second line was too long: answered at once, without an id */
	fake_answer(&f, "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"PC003\",\"message\":\"too long\"}}");
	CHECK_INT(f.nacks, 0);         /* which one is not known yet */
	send_rows(&f, 1);              /* sent after the answer: never a candidate */
	fake_pump(&f);
	fake_answer(&f, "{\"id\":1,\"ok\":true}");
	CHECK_INT(f.nacks, 1);
	fake_answer(&f, "{\"id\":3,\"ok\":true}");
	/* request 2 is the only one that had gone out before the answer */
	CHECK_INT(f.nacks, 3);
	CHECK(f.users[2] == (void *)2 && f.acks[2].id == 2);
	CHECK_STR(f.codes[2], "PC003");
	CHECK(f.acks[2].error.cls == PGC_ERR_INVALID_REQUEST && f.acks[2].error.not_written);
	CHECK_INT(pgc_in_flight(f.c), 1);
	fake_free(&f);
}

UNIT_TEST(pgc_client_lost_connection_answers_everything)
{
	struct fake f;

	fake_init(&f, 10);
	send_rows(&f, 2);
	fake_pump(&f);                 /* these two went out */
	send_rows(&f, 1);              /* this one is only queued */
	close(f.peer);
	f.peer = -1;
	CHECK_INT(pgc_process(f.c, PGC_WANT_READ | PGC_WANT_WRITE), PGC_E_LOST);
	CHECK_INT(f.nacks, 3);
	CHECK(f.acks[0].error.cls == PGC_ERR_CONNECTION_LOST && !f.acks[0].error.not_written);
	CHECK(f.acks[1].error.cls == PGC_ERR_CONNECTION_LOST && !f.acks[1].error.not_written);
	CHECK(f.acks[2].error.cls == PGC_ERR_CONNECTION_LOST && f.acks[2].error.not_written);
	CHECK(f.users[2] == (void *)1); /* the third send_rows call's first row */
	CHECK_INT(pgc_in_flight(f.c), 0);
	CHECK(!pgc_connected(f.c) && pgc_fd(f.c) == -1);
	/* the next send reconnects: here the address does not exist, and then backs off */
	send_rows(&f, 0);
	{
		pgc_row *r = pgc_row_new();
		CHECK_INT(pgc_send_insert(f.c, "t", r, NULL, NULL, NULL, NULL), PGC_E_CONNECT);
		CHECK(strstr(pgc_errmsg(f.c), "never-used.sock") != NULL);
		CHECK_INT(pgc_send_insert(f.c, "t", r, NULL, NULL, NULL, NULL), PGC_E_NOT_CONNECTED);
		CHECK(strstr(pgc_errmsg(f.c), "next attempt in") != NULL);
		pgc_row_free(r);
	}
	fake_free(&f);
}

UNIT_TEST(pgc_client_timeout_then_late_answer)
{
	struct fake f;

	fake_init(&f, 10);
	pgc_set_timeout(f.c, 1);
	CHECK_INT(pgc_send_ping(f.c, (void *)7, NULL), PGC_OK);
	fake_pump(&f);
	CHECK(pgc_timeout(f.c) >= 0);
	poll(NULL, 0, 5);
	CHECK_INT(pgc_process(f.c, 0), PGC_OK);
	CHECK_INT(f.nacks, 1);
	CHECK(f.acks[0].error.cls == PGC_ERR_TIMEOUT && f.acks[0].op == PGC_OP_PING &&
	      f.users[0] == (void *)7);
	CHECK_INT(pgc_in_flight(f.c), 1);  /* the sidecar still holds it */
	fake_answer(&f, "{\"id\":1,\"ok\":true,\"db\":\"up\"}");
	CHECK_INT(f.nacks, 1);             /* the late answer is dropped */
	CHECK_INT(pgc_in_flight(f.c), 0);
	fake_free(&f);
}

UNIT_TEST(pgc_client_raw_requests)
{
	struct fake f;
	pgc_row *r = pgc_row_new();

	fake_init(&f, 10);
	CHECK_INT(pgc_send_raw(f.c, "{}\0{}", 5, NULL), PGC_E_INVALID);
	CHECK_INT(pgc_send_raw(f.c, "{\"op\":\"ping\",\"id\":\"mine\"}", 25, (void *)5), PGC_OK);
	CHECK_INT(pgc_send_insert(f.c, "t", r, NULL, NULL, NULL, NULL), PGC_E_BUSY);
	CHECK_INT(pgc_send_raw(f.c, "{}", 2, NULL), PGC_E_BUSY);
	CHECK_INT(pgc_send_raw(f.c, "{}\n{}", 5, NULL), PGC_E_INVALID);
	fake_pump(&f);
	CHECK_STR(buf_cstr(&f.got), "{\"op\":\"ping\",\"id\":\"mine\"}\n");
	fake_answer(&f, "{\"id\":\"mine\",\"ok\":true,\"db\":\"up\"}");
	CHECK_INT(f.nacks, 1);
	CHECK(f.acks[0].op == PGC_OP_RAW && f.acks[0].ok && f.users[0] == (void *)5);
	CHECK_INT(pgc_send_insert(f.c, "t", r, NULL, NULL, NULL, NULL), PGC_OK);
	/* op members must make one JSON object */
	CHECK_INT(pgc_send_op(f.c, "describe", "\"table\":", NULL, NULL), PGC_E_INVALID);
	CHECK_INT(pgc_send_op(f.c, "describe", "\"table\":\"t\"", NULL, NULL), PGC_OK);
	pgc_row_free(r);
	fake_free(&f);
}
