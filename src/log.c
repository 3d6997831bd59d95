/*
 * log.c — events on stderr, logfmt or JSON (see log.h).
 *
 * A call site formats its key=value pairs once, in logfmt. For logfmt the
 * line is ts, level, msg and those pairs; for JSON the pairs are parsed back
 * (the grammar is log_q's: bare words or "..." with JSON-compatible escapes)
 * and written as members of one object.
 */
#include "log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "jsontext.h"

#define LOG_Q_MAX     1000   /* bytes of a quoted value's content, at most */
#define LOG_KV_MAX    4096   /* formatted key=value text, at most */
#define LOG_LINE_MAX  8192   /* one rendered line, at most */
#define LOG_TRUNCATED " truncated=true"

static enum log_level log_level_current = LOG_INFO;
static enum log_format log_format_current = LOG_FORMAT_LOGFMT;

static const char *const log_level_names[] = { "error", "warn", "info", "debug" };
static const char *const log_format_names[] = { "logfmt", "json" };

void log_set_level(enum log_level level)
{
	log_level_current = level;
}

enum log_level log_get_level(void)
{
	return log_level_current;
}

void log_set_format(enum log_format format)
{
	log_format_current = format;
}

static int name_index(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

int log_level_parse(const char *s)
{
	return name_index(log_level_names, sizeof(log_level_names) / sizeof(log_level_names[0]), s);
}

int log_format_parse(const char *s)
{
	return name_index(log_format_names, sizeof(log_format_names) / sizeof(log_format_names[0]), s);
}

const char *log_level_name(enum log_level level)
{
	return log_level_names[level];
}

const char *log_format_name(enum log_format format)
{
	return log_format_names[format];
}

/* ---- quoting ---- */

/* Escape s[0..n) into out (room for LOG_Q_MAX + 8 bytes), no quotes; returns the length. */
static size_t log_escape(char *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0, len;

	while (i < n) {
		unsigned c = p[i];
		char esc = c == '"' ? '"' : c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
		len = c >= 0x80 ? jsontext_utf8_seq_len(p + i, n - i) : 1;
		if (o + (c < 0x20 || c == 0x7f ? 6 : esc ? 2 : len ? len : 1) > LOG_Q_MAX)
			break; /* cut at a character boundary */
		if (esc) {
			out[o++] = '\\';
			out[o++] = esc;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, 7, "\\u%04x", c);
		} else if (!len) {
			out[o++] = '?';   /* not UTF-8: keep the line valid */
			len = 1;
		} else {
			memcpy(out + o, p + i, len);
			o += len;
		}
		i += len ? len : 1;
	}
	return o;
}

const char *log_q(const char *s)
{
	static char bufs[8][LOG_Q_MAX + 8];
	static unsigned next;
	char *out = bufs[next++ & 7];
	size_t o;

	out[0] = '"';
	o = 1 + log_escape(out + 1, s ? s : "", s ? strlen(s) : 0);
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* ---- parsing key=value text back ---- */

struct kv_pair {
	const char *key, *val;  /* val: NULL for a bare word; inside the quotes if quoted */
	size_t      klen, vlen;
	bool        quoted;
	const char *end;        /* just past the pair */
};

/* The next pair at *p; false at the end or at an unterminated quoted value. */
static bool kv_next(const char **p, struct kv_pair *kv)
{
	const char *s = *p;

	while (*s == ' ')
		s++;
	if (!*s)
		return false;
	kv->key = s;
	while (*s && *s != ' ' && *s != '=')
		s++;
	kv->klen = (size_t)(s - kv->key);
	kv->val = NULL;
	kv->vlen = 0;
	kv->quoted = false;
	if (*s == '=') {
		s++;
		if (*s == '"') {
			kv->quoted = true;
			kv->val = ++s;
			while (*s && *s != '"')
				s += (*s == '\\' && s[1]) ? 2 : 1;
			if (*s != '"')
				return false;
			kv->vlen = (size_t)(s - kv->val);
			s++;
		} else {
			kv->val = s;
			while (*s && *s != ' ')
				s++;
			kv->vlen = (size_t)(s - kv->val);
		}
	}
	kv->end = s;
	*p = s;
	return true;
}

/* ---- rendering ---- */

/* A bounded writer: once something does not fit, `full` is set and nothing more is written. */
struct out {
	char  *p;
	size_t len, cap;
	bool   full;
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->len + n > o->cap) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_puts(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/* Is s[0..n) a JSON number (RFC 8259 grammar)? */
static bool is_json_number(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && s[i] >= '1' && s[i] <= '9')
		while (i < n && isdigit((unsigned char)s[i]))
			i++;
	else
		return false;
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && isdigit((unsigned char)s[i]); i++)
			;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && isdigit((unsigned char)s[i]); i++)
			;
		if (i == d)
			return false;
	}
	return i == n;
}

/* A JSON string literal for raw bytes. */
static void out_json_string(struct out *o, const char *s, size_t n)
{
	char esc[LOG_Q_MAX + 8];

	out_put(o, "\"", 1);
	out_put(o, esc, log_escape(esc, s, n));
	out_put(o, "\"", 1);
}

static bool is_hex4(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < 4; i++)
		if (i >= n || !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * A logfmt quoted value's content as a JSON string: log_q's escapes are
 * JSON's and pass unchanged; anything else (a stray backslash, a raw control
 * character, a byte that is not UTF-8) is escaped or replaced.
 */
static void out_json_from_quoted(struct out *o, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0, len;
	char esc[8];

	out_put(o, "\"", 1);
	while (i < n) {
		if (p[i] == '\\' && i + 1 < n && strchr("\"\\/bfnrt", s[i + 1])) {
			i += 2;
			continue;
		}
		if (p[i] == '\\' && i + 1 < n && s[i + 1] == 'u' && is_hex4(s + i + 2, n - i - 2)) {
			i += 6;
			continue;
		}
		len = p[i] >= 0x80 ? jsontext_utf8_seq_len(p + i, n - i) : 1;
		if (p[i] == '\\' || p[i] < 0x20 || !len) {
			out_put(o, s + start, i - start);
			if (!len)
				out_put(o, "?", 1);
			else if (p[i] == '\\')
				out_put(o, "\\\\", 2);
			else
				out_put(o, esc, (size_t)snprintf(esc, sizeof(esc), "\\u%04x", p[i]));
			start = i + 1;
			len = 1;
		}
		i += len;
	}
	out_put(o, s + start, n - start);
	out_put(o, "\"", 1);
}

static void out_json_pair(struct out *o, const struct kv_pair *kv)
{
	out_put(o, ",", 1);
	out_json_string(o, kv->key, kv->klen);
	out_put(o, ":", 1);
	if (!kv->val)
		out_puts(o, "true");
	else if (kv->quoted)
		out_json_from_quoted(o, kv->val, kv->vlen);
	else if (is_json_number(kv->val, kv->vlen) ||
		 (kv->vlen == 4 && memcmp(kv->val, "true", 4) == 0) ||
		 (kv->vlen == 5 && memcmp(kv->val, "false", 5) == 0))
		out_put(o, kv->val, kv->vlen);
	else
		out_json_string(o, kv->val, kv->vlen);
}

size_t log_render(char *buf, size_t bufsz, enum log_format format, double ts,
		  enum log_level level, const char *msg, const char *kv)
{
	struct out o = { buf, 0, bufsz > 32 ? bufsz - 32 : 0, false }; /* room for the marker */
	struct kv_pair pair;
	const char *p = kv ? kv : "";
	char stamp[40];
	struct tm tm;
	time_t sec = (time_t)ts;
	size_t mark;

	gmtime_r(&sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), 16, ".%03dZ", (int)((ts - (double)sec) * 1000.0) % 1000);
	if (format == LOG_FORMAT_JSON) {
		out_puts(&o, "{\"ts\":\"");
		out_puts(&o, stamp);
		out_puts(&o, "\",\"level\":\"");
		out_puts(&o, log_level_names[level]);
		out_puts(&o, "\",\"msg\":");
		out_puts(&o, log_q(msg));
	} else {
		out_puts(&o, "ts=");
		out_puts(&o, stamp);
		out_puts(&o, " level=");
		out_puts(&o, log_level_names[level]);
		out_puts(&o, " msg=");
		out_puts(&o, log_q(msg));
	}
	while (!o.full) {
		mark = o.len;
		if (!kv_next(&p, &pair)) {
			if (*p) /* an unterminated quoted value: the text was cut */
				o.full = true;
			break;
		}
		if (format == LOG_FORMAT_JSON)
			out_json_pair(&o, &pair);
		else {
			out_put(&o, " ", 1);
			out_put(&o, pair.key, (size_t)(pair.end - pair.key));
		}
		if (o.full)
			o.len = mark; /* drop the pair that did not fit */
	}
	o.cap = bufsz ? bufsz - 1 : 0;
	if (o.full) {
		o.full = false;
		out_puts(&o, format == LOG_FORMAT_JSON ? ",\"truncated\":true" : LOG_TRUNCATED);
	}
	if (format == LOG_FORMAT_JSON)
		out_put(&o, "}", 1);
	if (bufsz)
		buf[o.len] = '\0';
	return o.len;
}

/* Cut a key=value text that vsnprintf truncated at its last complete pair. */
static void kv_cut(char *kv, size_t len)
{
	const char *p = kv, *keep = kv;
	struct kv_pair pair;

	while (kv_next(&p, &pair) && pair.end < kv + len)
		keep = pair.end; /* a pair that reaches the cut may itself be cut */
	strcpy(kv + (keep - kv), LOG_TRUNCATED);
}

void pgc_log(enum log_level level, const char *msg, const char *kvfmt, ...)
{
	char kv[LOG_KV_MAX + sizeof(LOG_TRUNCATED)], line[LOG_LINE_MAX];
	struct timeval tv;
	size_t n;
	int r = 0;
	va_list ap;

	if (level > log_level_current)
		return;
	gettimeofday(&tv, NULL);
	kv[0] = '\0';
	if (kvfmt && *kvfmt) {
		va_start(ap, kvfmt);
		r = vsnprintf(kv, LOG_KV_MAX, kvfmt, ap);
		va_end(ap);
		if (r >= LOG_KV_MAX)
			kv_cut(kv, LOG_KV_MAX - 1);
	}
	n = log_render(line, sizeof(line) - 1, log_format_current,
		       (double)tv.tv_sec + (double)tv.tv_usec / 1e6, level, msg, kv);
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}

/* ---- rate limits ---- */

bool log_limit_check(struct log_limit *l, double now, double interval, unsigned long *suppressed)
{
	if (now < l->next_at) {
		l->suppressed++;
		return false;
	}
	if (suppressed)
		*suppressed = l->suppressed;
	l->suppressed = 0;
	l->next_at = now + interval;
	return true;
}
