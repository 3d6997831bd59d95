/*
 * fuzz_json.c — libFuzzer target: the request tokenizer against cJSON.
 *
 * jsontok (the daemon's parser) must never accept what a conforming parser
 * refuses, and must read accepted text the same way: whatever jsontok
 * accepts, cJSON must parse too, to the same number of values of the same
 * kinds; every string must unescape to cJSON's value and every number token
 * must be the text of cJSON's number. cJSON is more lenient (it takes "01",
 * "1.", invalid UTF-8, raw control characters), so the converse is not
 * checked. Any disagreement aborts. `make fuzz` runs it; its corpus
 * (test/fuzz/corpus/json) is replayed by `make test`.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "jsontext.h"
#include "jsontok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const struct jsontok_doc *doc, size_t *i, const cJSON *v, struct buf *tmp);

static void check_children(const struct jsontok_doc *doc, size_t *i, const cJSON *v, struct buf *tmp)
{
	const struct jsontok *t = &doc->toks[*i];
	size_t end = t->end, n = 0;
	const cJSON *c;

	(*i)++;
	for (c = v->child; c; c = c->next, n++) {
		if (*i >= end)
			abort();
		if (cJSON_IsObject(v)) {
			/* the key */
			buf_reset(tmp);
			jsontext_unescape(tmp, jsontok_text(doc, *i), doc->toks[*i].len);
			if (doc->toks[*i].type != JSONTOK_STRING || strcmp(buf_cstr(tmp), c->string) != 0)
				abort();
			(*i)++;
		}
		check_value(doc, i, c, tmp);
	}
	if (*i != end || n != t->count)
		abort();
}

static void check_value(const struct jsontok_doc *doc, size_t *i, const cJSON *v, struct buf *tmp)
{
	const struct jsontok *t = &doc->toks[*i];
	char num[512];

	switch ((enum jsontok_type)t->type) {
	case JSONTOK_OBJECT:
	case JSONTOK_ARRAY:
		if (t->type == JSONTOK_OBJECT ? !cJSON_IsObject(v) : !cJSON_IsArray(v))
			abort();
		check_children(doc, i, v, tmp);
		return;
	case JSONTOK_STRING:
		buf_reset(tmp);
		jsontext_unescape(tmp, jsontok_text(doc, *i), t->len);
		if (!cJSON_IsString(v) || strcmp(buf_cstr(tmp), v->valuestring) != 0)
			abort();
		break;
	case JSONTOK_NUMBER:
		if (!cJSON_IsNumber(v) || t->len >= sizeof(num))
			abort();
		memcpy(num, jsontok_text(doc, *i), t->len);
		num[t->len] = '\0';
		if (strtod(num, NULL) != v->valuedouble && !(isnan(v->valuedouble)))
			abort();
		break;
	case JSONTOK_TRUE:
		if (!cJSON_IsTrue(v))
			abort();
		break;
	case JSONTOK_FALSE:
		if (!cJSON_IsFalse(v))
			abort();
		break;
	case JSONTOK_NULL:
		if (!cJSON_IsNull(v))
			abort();
		break;
	}
	(*i)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jsontok_doc doc;
	static struct buf tmp;
	char *text = malloc(size + 1);
	enum jsontok_status st;
	cJSON *v;
	size_t i = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	st = jsontok_parse(&doc, text, size);
	/* NUL inside: cJSON stops at it; depth near the limit: cJSON counts its own way */
	if (st == JSONTOK_OK && !memchr(text, '\0', size) && doc.n && doc.n < 100000) {
		size_t depth = 0, max = 0, k;
		for (k = 0; k < size; k++) /* a cheap upper bound of the nesting depth */
			if (text[k] == '[' || text[k] == '{')
				max = ++depth > max ? depth : max;
		if (max < 900) {
			v = cJSON_ParseWithLengthOpts(text, size + 1, NULL, 1); /* the NUL too: cJSON checks it */
			if (!v)
				abort();
			check_value(&doc, &i, v, &tmp);
			if (i != doc.n)
				abort();
			cJSON_Delete(v);
		}
	}
	free(text);
	return 0;
}
