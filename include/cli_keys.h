/*
 * cli_keys.h — idempotency keys for pgcoalesce-cli's INSERTs (\key, --key).
 *
 * The sidecar writes a row sent with a key at most once (docs/PROTOCOL.md,
 * insert's "key"). Three modes:
 *   - off: no keys (the default);
 *   - auto: a fresh random UUID per row: a row resent by hand is written
 *     again, but two copies of one request never are;
 *   - a prefix P: row M of the N-th INSERT run since the prefix was set gets
 *     the key "P-N-M". Running the same script again with the same prefix
 *     sends the same keys, so rows already written are not written twice
 *     (a script that died halfway can simply be run again).
 */
#ifndef PGC_CLI_KEYS_H
#define PGC_CLI_KEYS_H

#include <stdbool.h>
#include <stddef.h>

/* A prefix's longest form, in bytes: the key P-N-M stays within the
 * protocol's 200 bytes with N and M of 20 digits each. */
#define CLI_KEY_PREFIX_MAX 150
/* Room for any key and its NUL. */
#define CLI_KEY_SIZE 201

enum cli_key_mode {
	CLI_KEY_OFF = 0,
	CLI_KEY_AUTO,     /* a random UUID per row */
	CLI_KEY_PREFIX,   /* prefix-statement-row */
};

struct cli_keys {
	enum cli_key_mode mode;
	char              prefix[CLI_KEY_PREFIX_MAX + 1];
	unsigned long     statement;  /* INSERTs begun under the prefix */
};

/* "auto", "off", or a prefix (1 to CLI_KEY_PREFIX_MAX bytes of UTF-8, no
 * blanks or control characters); a prefix starts counting statements
 * again. False (nothing changed) with the reason in err. */
bool cli_keys_set(struct cli_keys *k, const char *word, char *err, size_t errlen);

/* An INSERT statement begins: the next statement number for prefix keys. */
void cli_keys_next_statement(struct cli_keys *k);

/* Row `row` (0-based) of the current statement's key into out
 * (CLI_KEY_SIZE bytes); false when keys are off, or (auto) when the system
 * gives no random bytes: then nothing may be sent. */
bool cli_keys_make(const struct cli_keys *k, size_t row, char *out);

/* What \key shows: "off", "auto", or "prefix P (next INSERT: N)". */
void cli_keys_describe(const struct cli_keys *k, char *out, size_t len);

#endif /* PGC_CLI_KEYS_H */
