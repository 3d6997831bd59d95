/*
 * conflict.c — parsing an insert's on_conflict (see conflict.h).
 */
#include "conflict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsontext.h"

/* A string token's value, unescaped, into a new string; NULL if not a non-empty string. */
static char *string_at(const struct jsontok_doc *doc, size_t i)
{
	const struct jsontok *t = &doc->toks[i];
	struct buf b;

	if (t->type != JSONTOK_STRING || t->len == 2)
		return NULL;
	buf_init(&b);
	jsontext_unescape(&b, jsontok_text(doc, i), t->len);
	return (char *)buf_cstr(&b);   /* the buffer's allocation becomes the string */
}

bool conflict_names_have(char *const *list, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

/* A list of distinct non-empty column names at token `arr` into *out (n of them). */
static bool names_at(const struct jsontok_doc *doc, size_t arr, char ***out, size_t *n)
{
	size_t i;

	if (doc->toks[arr].type != JSONTOK_ARRAY)
		return false;
	*out = pgc_calloc(doc->toks[arr].count + 1, sizeof(char *));
	*n = 0;
	for (i = arr + 1; i < doc->toks[arr].end; i = doc->toks[i].end) {
		char *s = string_at(doc, i);
		if (!s || conflict_names_have(*out, *n, s)) {
			free(s);
			return false;
		}
		(*out)[(*n)++] = s;
	}
	return true;
}

/* Token index of member `key` of object `obj`, 0 if absent; *dup if it is there twice. */
static size_t member(const struct jsontok_doc *doc, size_t obj, const char *key, bool *dup)
{
	size_t k, found = 0;

	for (k = obj + 1; k < doc->toks[obj].end; k = doc->toks[k + 1].end) {
		if (!jsontok_string_is(doc, k, key, strlen(key)))
			continue;
		if (found)
			*dup = true;
		else
			found = k + 1;
	}
	return found;
}

static void canon_names(struct buf *b, const char *tag, char *const *names, size_t n)
{
	size_t i;

	buf_puts(b, tag);
	for (i = 0; i < n; i++) {
		jsontext_put_string(b, names[i], strlen(names[i])); /* quoted: no ambiguity */
		buf_putc(b, ',');
	}
}

static void conflict_canon(struct conflict *c)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, c->action == CONFLICT_UPDATE ? "update|" : "nothing|");
	canon_names(&b, "on:", c->target, c->ntarget);
	buf_puts(&b, "|constraint:");
	if (c->constraint)
		jsontext_put_string(&b, c->constraint, strlen(c->constraint));
	canon_names(&b, "|set:", c->set, c->nset);
	canon_names(&b, "|add:", c->add, c->nadd);
	c->canon = (char *)buf_cstr(&b);
}

/* The fields' presence and types; false with err set. */
static bool conflict_fields(const struct jsontok_doc *doc, size_t obj, struct conflict *c,
			    char *err, size_t errsz)
{
	static const char *const known[] = { "do", "columns", "constraint", "set", "add" };
	bool dup = false;
	size_t k, i, d = member(doc, obj, "do", &dup), cols = member(doc, obj, "columns", &dup),
	       con = member(doc, obj, "constraint", &dup), set = member(doc, obj, "set", &dup),
	       add = member(doc, obj, "add", &dup);

	for (k = obj + 1; k < doc->toks[obj].end; k = doc->toks[k + 1].end) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (jsontok_string_is(doc, k, known[i], strlen(known[i])))
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			struct buf name;
			buf_init(&name);
			jsontext_unescape(&name, jsontok_text(doc, k), doc->toks[k].len);
			snprintf(err, errsz, "\"on_conflict\" has an unknown field \"%.60s\" (it takes do, "
				 "columns, constraint, set, add)", buf_cstr(&name));
			buf_free(&name);
			return false;
		}
	}
	if (dup) {
		snprintf(err, errsz, "\"on_conflict\" has a field given twice");
		return false;
	}
	if (!d || (!jsontok_string_is(doc, d, "nothing", 7) && !jsontok_string_is(doc, d, "update", 6))) {
		snprintf(err, errsz, "\"on_conflict.do\" must be \"nothing\" or \"update\"");
		return false;
	}
	c->action = jsontok_string_is(doc, d, "update", 6) ? CONFLICT_UPDATE : CONFLICT_NOTHING;
	if (cols && (!names_at(doc, cols, &c->target, &c->ntarget) || !c->ntarget)) {
		snprintf(err, errsz, "\"on_conflict.columns\" must be a non-empty array of distinct column names");
		return false;
	}
	if (con && !(c->constraint = string_at(doc, con))) {
		snprintf(err, errsz, "\"on_conflict.constraint\" must be a non-empty string");
		return false;
	}
	if (set && !names_at(doc, set, &c->set, &c->nset)) {
		snprintf(err, errsz, "\"on_conflict.set\" must be an array of distinct column names");
		return false;
	}
	if (add && !names_at(doc, add, &c->add, &c->nadd)) {
		snprintf(err, errsz, "\"on_conflict.add\" must be an array of distinct column names");
		return false;
	}
	return true;
}

bool conflict_parse(const struct jsontok_doc *doc, size_t obj, struct conflict *c,
		    char *err, size_t errsz)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	if (doc->toks[obj].type != JSONTOK_OBJECT) {
		snprintf(err, errsz, "\"on_conflict\" must be an object");
		return false;
	}
	if (!conflict_fields(doc, obj, c, err, errsz))
		return false;
	if (c->target && c->constraint) {
		snprintf(err, errsz, "\"on_conflict\" takes \"columns\" or \"constraint\", not both");
		return false;
	}
	if (c->action == CONFLICT_UPDATE && !c->target && !c->constraint) {
		snprintf(err, errsz, "\"on_conflict\" with \"do\": \"update\" needs \"columns\" or \"constraint\"");
		return false;
	}
	if (c->action == CONFLICT_UPDATE && !c->nset && !c->nadd) {
		snprintf(err, errsz, "\"on_conflict\" with \"do\": \"update\" needs \"set\" or \"add\" columns");
		return false;
	}
	if (c->action == CONFLICT_NOTHING && (c->set || c->add)) {
		snprintf(err, errsz, "\"on_conflict\" with \"do\": \"nothing\" takes no \"set\" or \"add\"");
		return false;
	}
	for (i = 0; i < c->nset; i++)
		if (conflict_names_have(c->add, c->nadd, c->set[i])) {
			snprintf(err, errsz, "\"on_conflict\": column \"%.100s\" is in both \"set\" and \"add\"", c->set[i]);
			return false;
		}
	conflict_canon(c);
	return true;
}

static void names_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void conflict_free(struct conflict *c)
{
	if (!c)
		return;
	names_free(c->target, c->ntarget);
	names_free(c->set, c->nset);
	names_free(c->add, c->nadd);
	free(c->constraint);
	free(c->canon);
	memset(c, 0, sizeof(*c));
}
