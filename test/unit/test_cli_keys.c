/*
 * test_cli_keys.c — the CLI's idempotency keys: modes, prefix keys, UUIDs.
 */
#include <string.h>

#include "cli_keys.h"
#include "unit.h"

static bool set(struct cli_keys *k, const char *word, char *err)
{
	return cli_keys_set(k, word, err, 128);
}

UNIT_TEST(cli_keys_prefix_keys_repeat_per_statement_and_row)
{
	struct cli_keys k = { 0 };
	char key[CLI_KEY_SIZE], err[128], what[256];

	CHECK(!cli_keys_make(&k, 0, key)); /* off by default */
	cli_keys_describe(&k, what, sizeof(what));
	CHECK_STR(what, "off");
	CHECK(set(&k, "load-7", err));
	cli_keys_describe(&k, what, sizeof(what));
	CHECK_STR(what, "prefix load-7 (next INSERT: 1)");
	cli_keys_next_statement(&k);
	CHECK(cli_keys_make(&k, 0, key));
	CHECK_STR(key, "load-7-1-1");
	CHECK(cli_keys_make(&k, 41, key));
	CHECK_STR(key, "load-7-1-42");
	cli_keys_next_statement(&k);
	CHECK(cli_keys_make(&k, 0, key));
	CHECK_STR(key, "load-7-2-1");
	/* setting the prefix again starts over: a script run again sends the same keys */
	CHECK(set(&k, "load-7", err));
	cli_keys_next_statement(&k);
	CHECK(cli_keys_make(&k, 0, key));
	CHECK_STR(key, "load-7-1-1");
	CHECK(set(&k, "off", err) && !cli_keys_make(&k, 0, key));
}

UNIT_TEST(cli_keys_auto_is_a_fresh_uuid_per_row)
{
	struct cli_keys k = { 0 };
	char a[CLI_KEY_SIZE], b[CLI_KEY_SIZE], err[128];
	size_t i;

	CHECK(set(&k, "auto", err));
	cli_keys_next_statement(&k);
	CHECK(cli_keys_make(&k, 0, a) && cli_keys_make(&k, 0, b));
	CHECK(strcmp(a, b) != 0);
	CHECK_INT(strlen(a), 36);
	for (i = 0; i < 36; i++)
		CHECK(i == 8 || i == 13 || i == 18 || i == 23 ? a[i] == '-' : strchr("0123456789abcdef", a[i]) != NULL);
	CHECK(a[14] == '4' && strchr("89ab", a[19]) != NULL); /* version 4, RFC 4122 variant */
}

UNIT_TEST(cli_keys_bad_prefixes)
{
	struct cli_keys k = { 0 };
	char err[128], p[CLI_KEY_PREFIX_MAX + 2], key[CLI_KEY_SIZE];

	CHECK(set(&k, "keep", err));
	CHECK(!set(&k, "", err));
	CHECK_STR(err, "a key prefix takes 1 to 150 bytes");
	memset(p, 'p', sizeof(p));
	p[CLI_KEY_PREFIX_MAX + 1] = '\0';
	CHECK(!set(&k, p, err));
	CHECK(!set(&k, "a b", err));
	CHECK_STR(err, "a key prefix cannot hold blanks or control characters");
	CHECK(!set(&k, "a\tb", err));
	CHECK(!set(&k, "\xff", err));
	CHECK_STR(err, "a key prefix must be UTF-8 text");
	cli_keys_next_statement(&k);
	CHECK(cli_keys_make(&k, 0, key)); /* nothing changed by the refusals */
	CHECK_STR(key, "keep-1-1");
	/* the longest prefix still makes a key the protocol takes */
	p[CLI_KEY_PREFIX_MAX] = '\0';
	CHECK(set(&k, p, err));
	k.statement = (unsigned long)-1;
	CHECK(cli_keys_make(&k, (size_t)-2, key));
	CHECK(strlen(key) <= 200);
}
