/*
 * cli_keys.c — idempotency keys for the CLI's INSERTs (see cli_keys.h).
 */
#include "cli_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "jsontext.h"

/* A prefix: UTF-8 text without blanks or control characters (keys are
 * shown and typed again), at most CLI_KEY_PREFIX_MAX bytes. */
static bool prefix_ok(const char *w, char *err, size_t errlen)
{
	size_t n = strlen(w), i;

	if (n == 0 || n > CLI_KEY_PREFIX_MAX) {
		snprintf(err, errlen, "a key prefix takes 1 to %d bytes", CLI_KEY_PREFIX_MAX);
		return false;
	}
	if (jsontext_utf8_prefix(w, n) != n) {
		snprintf(err, errlen, "a key prefix must be UTF-8 text");
		return false;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)w[i] <= ' ' || w[i] == 0x7f) {
			snprintf(err, errlen, "a key prefix cannot hold blanks or control characters");
			return false;
		}
	return true;
}

bool cli_keys_set(struct cli_keys *k, const char *word, char *err, size_t errlen)
{
	if (strcmp(word, "off") == 0) {
		k->mode = CLI_KEY_OFF;
	} else if (strcmp(word, "auto") == 0) {
		k->mode = CLI_KEY_AUTO;
	} else {
		if (!prefix_ok(word, err, errlen))
			return false;
		k->mode = CLI_KEY_PREFIX;
		snprintf(k->prefix, sizeof(k->prefix), "%s", word);
		k->statement = 0;
	}
	return true;
}

void cli_keys_next_statement(struct cli_keys *k)
{
	k->statement++;
}

/* n random bytes: getrandom(), else /dev/urandom; false if neither gives them. */
static bool random_bytes(unsigned char *out, size_t n)
{
	size_t got = 0;
	ssize_t r;
	int fd;

	while (got < n && (r = getrandom(out + got, n - got, 0)) > 0)
		got += (size_t)r;
	if (got == n)
		return true;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && got < n) {
		r = read(fd, out + got, n - got);
		if (r > 0)
			got += (size_t)r;
		else if (r == 0 || errno != EINTR)
			break;
	}
	if (fd >= 0)
		close(fd);
	return got == n;
}

/* A version 4 UUID, RFC 4122 text form; false without random bytes. */
static bool uuid4(char *out)
{
	unsigned char b[16];

	if (!random_bytes(b, sizeof(b)))
		return false;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, CLI_KEY_SIZE,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return true;
}

bool cli_keys_make(const struct cli_keys *k, size_t row, char *out)
{
	switch (k->mode) {
	case CLI_KEY_AUTO:
		return uuid4(out);
	case CLI_KEY_PREFIX:
		snprintf(out, CLI_KEY_SIZE, "%s-%lu-%zu", k->prefix, k->statement, row + 1);
		return true;
	default:
		return false;
	}
}

void cli_keys_describe(const struct cli_keys *k, char *out, size_t len)
{
	if (k->mode == CLI_KEY_AUTO)
		snprintf(out, len, "auto");
	else if (k->mode == CLI_KEY_PREFIX)
		snprintf(out, len, "prefix %s (next INSERT: %lu)", k->prefix, k->statement + 1);
	else
		snprintf(out, len, "off");
}
