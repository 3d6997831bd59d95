/*
 * fuzz_request.c — libFuzzer target: one request line through the decoder.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined; the
 * committed corpus (test/fuzz/corpus/request) is replayed by `make test`
 * through test/fuzz/replay.c with the normal compiler.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct group_registry groups;
	static struct request_decoder dec;
	static struct config cfg;
	static int ready;
	struct request req;
	char *line;

	if (!ready) {
		group_registry_init(&groups, ev_default_loop(0), 1000.0, 1000, 1 << 20);
		request_decoder_init(&dec, &groups, &cfg);
		ready = 1;
	}
	/* the daemon hands the decoder a NUL-terminated line */
	line = pgc_malloc(size + 1);
	memcpy(line, data, size);
	line[size] = '\0';
	request_decode(&dec, line, size, 1.0, &req);
	if (!req.err && req.row) {
		/* what the flush would read: every value within its row */
		size_t i, sum = 0;
		for (i = 0; i < req.row->colset->n; i++)
			sum += req.row->values[i].len;
		(void)sum;
	}
	request_clear(&req);
	free(line);
	return 0;
}
