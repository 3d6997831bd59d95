/*
 * test_request.c — request decoding: fields, ids, values, PC errors.
 */
#include "unit.h"

#include <stdlib.h>

#include "request.h"

struct req_fixture {
	struct group_registry groups;
	struct request_decoder dec;
	struct config cfg;
	struct request req;
};

static void fx_init(struct req_fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	group_registry_init(&fx->groups, ev_default_loop(0), 1000.0, 1000, 1 << 20);
	request_decoder_init(&fx->dec, &fx->groups, &fx->cfg);
}

static void fx_decode(struct req_fixture *fx, const char *line)
{
	request_clear(&fx->req);
	request_decode(&fx->dec, line, strlen(line), 1.0, &fx->req);
}

static void fx_free(struct req_fixture *fx)
{
	request_clear(&fx->req);
	request_decoder_free(&fx->dec);
	group_registry_free(&fx->groups);
}

static const char *value_text(const struct row *r, size_t i)
{
	static char out[256];

	if (r->values[i].kind == VALUE_NULL)
		return "NULL";
	snprintf(out, sizeof(out), "%.*s", (int)r->values[i].len, r->values[i].text);
	return out;
}

UNIT_TEST(request_insert_values_exact_and_sorted)
{
	struct req_fixture fx;
	const struct row *r;

	fx_init(&fx);
	fx_decode(&fx, "{\"id\":12345678901234567890123,\"table\":\"app.Events\",\"row\":"
		  "{\"z\":12345678901234567890.123456789012345678,\"a\":\"h\\u00e9\\\"llo\","
		  "\"m\":null,\"b\":true,\"j\":{\"k\":[1.50,2e3]},\"arr\":[1,2]},"
		  "\"returning\":[\"id\",\"Created\"]}");
	CHECK(fx.req.err == PC_NONE);
	CHECK_INT(fx.req.op, OP_INSERT);
	CHECK_STR(fx.req.id_json, "12345678901234567890123");
	CHECK_STR(fx.req.group->schema, "app");
	CHECK_STR(fx.req.group->table, "Events");
	r = fx.req.row;
	CHECK(r != NULL);
	if (r) {
		CHECK_INT(r->colset->n, 6);
		/* sorted: a arr b j m z */
		CHECK_STR(r->colset->names[0], "a");
		CHECK_STR(r->colset->names[1], "arr");
		CHECK_STR(r->colset->names[5], "z");
		CHECK_STR(value_text(r, 0), "h\xc3\xa9\"llo");
		CHECK_STR(value_text(r, 1), "[1,2]");
		CHECK_INT(r->values[1].kind, VALUE_ARRAY);
		CHECK_STR(value_text(r, 2), "true");
		CHECK_STR(value_text(r, 3), "{\"k\":[1.50,2e3]}");
		CHECK_STR(value_text(r, 4), "NULL");
		CHECK_STR(value_text(r, 5), "12345678901234567890.123456789012345678");
		CHECK_INT(r->n_returning, 2);
		CHECK_STR(r->returning[1], "Created");
		CHECK(!r->returning_all);
	}
	fx_free(&fx);
}

UNIT_TEST(request_same_columns_share_colset)
{
	struct req_fixture fx;
	struct colset *first;

	fx_init(&fx);
	fx_decode(&fx, "{\"table\":\"t\",\"row\":{\"a\":1,\"b\":2}}");
	first = fx.req.row ? fx.req.row->colset : NULL;
	fx_decode(&fx, "{\"table\":\"t\",\"row\":{\"b\":3,\"a\":4},\"returning\":[\"*\"]}");
	CHECK(fx.req.row && fx.req.row->colset == first);
	CHECK(fx.req.row && fx.req.row->returning_all);
	CHECK(fx.req.group->schema == NULL);
	fx_decode(&fx, "{\"table\":\"t\",\"row\":{}}");
	CHECK(fx.req.row && fx.req.row->colset->n == 0);
	fx_decode(&fx, "{\"schema\":\"a.b\",\"table\":\"c.d\",\"row\":{}}");
	CHECK_STR(fx.req.group->schema, "a.b");
	CHECK_STR(fx.req.group->table, "c.d");
	fx_free(&fx);
}

UNIT_TEST(request_ops_and_ids)
{
	struct req_fixture fx;

	fx_init(&fx);
	fx_decode(&fx, "{\"op\":\"ping\",\"id\":\"a-9\"}");
	CHECK_INT(fx.req.op, OP_PING);
	CHECK_STR(fx.req.id_json, "\"a-9\"");
	fx_decode(&fx, "{\"op\":\"flush\"}");
	CHECK_INT(fx.req.op, OP_FLUSH);
	CHECK_STR(fx.req.id_json, "null");
	fx_decode(&fx, "{\"op\":\"stats\",\"id\":true}");
	CHECK_INT(fx.req.op, OP_STATS);
	CHECK_STR(fx.req.id_json, "true");
	fx_decode(&fx, "{\"op\":\"drop\",\"id\":-1.5e2}");
	CHECK_STR(pc_code_text(fx.req.err), "PC009");
	CHECK_STR(fx.req.id_json, "-1.5e2");
	fx_free(&fx);
}

static const char *error_of(struct req_fixture *fx, const char *line)
{
	fx_decode(fx, line);
	return fx->req.err ? pc_code_text(fx->req.err) : "ok";
}

UNIT_TEST(request_errors)
{
	struct req_fixture fx;
	char deep[4096];
	size_t i;

	fx_init(&fx);
	CHECK_STR(error_of(&fx, "not json"), "PC001");
	CHECK_STR(fx.req.id_json, "null");
	CHECK_STR(error_of(&fx, "[1,2]"), "PC001");
	CHECK_STR(error_of(&fx, ""), "PC001");
	CHECK_STR(error_of(&fx, "{\"id\":7,\"table\":\"t\"}"), "PC002");
	CHECK_STR(fx.req.id_json, "7");
	CHECK_STR(error_of(&fx, "{\"id\":7,\"table\":5,\"row\":{}}"), "PC002");
	CHECK_STR(error_of(&fx, "{\"table\":\"\",\"row\":{}}"), "PC002");
	CHECK_STR(error_of(&fx, "{\"table\":\".t\",\"row\":{}}"), "PC002");
	CHECK_STR(error_of(&fx, "{\"table\":\"t\",\"row\":[]}"), "PC002");
	CHECK_STR(error_of(&fx, "{\"table\":\"t\",\"row\":{\"a\":1,\"a\":2}}"), "PC002");
	CHECK(strstr(fx.req.err_message, "duplicate column \"a\"") != NULL);
	CHECK_STR(error_of(&fx, "{\"table\":\"t\",\"table\":\"u\",\"row\":{}}"), "PC002");
	/* a duplicate field other than id: the id is still echoed */
	CHECK_STR(error_of(&fx, "{\"id\":9,\"row\":{},\"table\":\"t\",\"row\":{}}"), "PC002");
	CHECK_STR(fx.req.id_json, "9");
	CHECK(strstr(fx.req.err_message, "duplicate field \"row\"") != NULL);
	CHECK_STR(error_of(&fx, "{\"id\":9,\"id\":10,\"op\":\"ping\"}"), "PC002");
	CHECK_STR(fx.req.id_json, "null");
	CHECK_STR(error_of(&fx, "{\"id\":3,\"table\":\"t\",\"row\":{\"a\":\"x\\u0000y\"}}"), "PC002");
	CHECK_STR(fx.req.id_json, "3");
	CHECK_STR(error_of(&fx, "{\"id\":4,\"table\":\"t\",\"row\":{\"a\":\"\xff\"}}"), "PC002");
	CHECK_STR(fx.req.id_json, "4");
	CHECK_STR(error_of(&fx, "{\"id\":[1],\"op\":\"ping\"}"), "PC002");
	CHECK_STR(fx.req.id_json, "null");
	CHECK_STR(error_of(&fx, "{\"op\":1}"), "PC002");
	CHECK_STR(error_of(&fx, "{\"table\":\"t\",\"row\":{},\"returning\":\"id\"}"), "PC002");
	CHECK_STR(error_of(&fx, "{\"table\":\"t\",\"row\":{},\"returning\":[1]}"), "PC002");
	/* nesting far beyond cJSON's limit: an error, not a crash */
	for (i = 0; i < sizeof(deep) - 1; i++)
		deep[i] = i < sizeof(deep) / 2 ? '[' : ']';
	deep[sizeof(deep) - 1] = '\0';
	CHECK_STR(error_of(&fx, deep), "PC001");
	fx_free(&fx);
}

UNIT_TEST(request_allow_table)
{
	struct req_fixture fx;
	char *allow[] = { "events", "app.audit", NULL };

	fx_init(&fx);
	fx.cfg.allow_tables = allow;
	fx.cfg.n_allow_tables = 2;
	CHECK_STR(error_of(&fx, "{\"table\":\"events\",\"row\":{}}"), "ok");
	CHECK_STR(error_of(&fx, "{\"table\":\"app.audit\",\"row\":{}}"), "ok");
	CHECK_STR(error_of(&fx, "{\"schema\":\"app\",\"table\":\"audit\",\"row\":{}}"), "ok");
	CHECK_STR(error_of(&fx, "{\"table\":\"public.events\",\"row\":{}}"), "PC008");
	CHECK_STR(error_of(&fx, "{\"table\":\"audit\",\"row\":{}}"), "PC008");
	CHECK_STR(error_of(&fx, "{\"op\":\"ping\"}"), "ok");
	fx.cfg.allow_tables = NULL;
	fx.cfg.n_allow_tables = 0;
	fx_free(&fx);
}

/* An entry names exactly one relation: split at the first dot, or "quoted". */
UNIT_TEST(request_allow_table_dotted_names)
{
	struct req_fixture fx;
	char *allow[] = { "a.b.c", "\"x.y\".z", "\"q\"\"t\"", NULL };

	fx_init(&fx);
	fx.cfg.allow_tables = allow;
	fx.cfg.n_allow_tables = 3;
	CHECK_STR(error_of(&fx, "{\"table\":\"a.b.c\",\"row\":{}}"), "ok");
	CHECK_STR(error_of(&fx, "{\"schema\":\"a\",\"table\":\"b.c\",\"row\":{}}"), "ok");
	CHECK_STR(error_of(&fx, "{\"schema\":\"a.b\",\"table\":\"c\",\"row\":{}}"), "PC008");
	CHECK_STR(error_of(&fx, "{\"schema\":\"x.y\",\"table\":\"z\",\"row\":{}}"), "ok");
	CHECK_STR(error_of(&fx, "{\"table\":\"x.y.z\",\"row\":{}}"), "PC008");
	CHECK_STR(error_of(&fx, "{\"table\":\"q\\\"t\",\"row\":{}}"), "ok");
	fx.cfg.allow_tables = NULL;
	fx.cfg.n_allow_tables = 0;
	fx_free(&fx);
}
