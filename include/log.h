/*
 * log.h — one event a line on stderr, in logfmt (the default):
 *   ts=2026-11-22T10:00:00.123Z level=info msg="listening" socket="/tmp/pgcoalesce.sock"
 * or, with --log-format json, one JSON object a line:
 *   {"ts":"2026-11-22T10:00:00.123Z","level":"info","msg":"listening","socket":"/tmp/pgcoalesce.sock"}
 *
 * Callers write the key=value pairs once, in logfmt (kvfmt below); the JSON
 * form is derived from them, so every call site serves both formats.
 *
 * Levels: error (the sidecar cannot do its job), warn (something failed or
 * was refused: a batch, a connection, a client), info (state changes:
 * listening, database up/down, clients connecting, reloads, shutdown), debug
 * (per batch and per request detail). Nothing per row is logged above debug.
 */
#ifndef PGC_LOG_H
#define PGC_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

enum log_format {
	LOG_FORMAT_LOGFMT = 0,  /* ts=... level=... msg="..." key=value */
	LOG_FORMAT_JSON,        /* {"ts":"...","level":"...","msg":"...","key":value} */
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_format(enum log_format format);
/* Parse "error|warn|info|debug"; returns -1 if unknown. */
int log_level_parse(const char *s);
/* Parse "logfmt|json"; returns -1 if unknown. */
int log_format_parse(const char *s);
const char *log_level_name(enum log_level level);
const char *log_format_name(enum log_format format);

/*
 * Write one event. `kvfmt` (may be NULL) is a printf format producing the
 * key=value pairs after msg, e.g. "socket=%s clients=%d". Keys are
 * [a-z0-9_]; a value that may hold spaces, quotes, '=' or anything a client
 * or the database chose goes through log_q(); the others are numbers or
 * bare words.
 */
void pgc_log(enum log_level level, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Quote a value for logfmt: "..." with \" \\ \n \r \t and \u00XX for other
 * control characters, invalid UTF-8 bytes as '?', cut (at a character
 * boundary) past 1000 bytes. These escapes are also JSON's, so a quoted
 * value goes into a JSON line unchanged. Rotating static buffers: valid
 * until 8 more calls.
 */
const char *log_q(const char *s);

/*
 * Render one event line (without the newline) into out[outsz], never more:
 * `kv` is the already formatted key=value text (may be NULL). A kv text cut
 * by the size limit loses its last incomplete pair and gains truncated=true.
 * `ts` is seconds since the epoch. Returns the length written. For tests.
 */
size_t log_render(char *out, size_t outsz, enum log_format format, double ts,
		  enum log_level level, const char *msg, const char *kv);

/*
 * Rate limit for a warning that can repeat (database unreachable, clients
 * refused, ...): at most one line per `interval` seconds. Zero-initialise.
 */
struct log_limit {
	double        next_at;     /* earliest time of the next line */
	unsigned long suppressed;  /* events dropped since the last line */
};

/*
 * May the event be logged at `now`? If so, *suppressed (may be NULL) gets the
 * number of events dropped since the last logged one (log it as
 * suppressed=N) and the count restarts; if not, the event is counted.
 */
bool log_limit_check(struct log_limit *l, double now, double interval, unsigned long *suppressed);

#define log_error(msg, ...) pgc_log(LOG_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...)  pgc_log(LOG_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...)  pgc_log(LOG_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) do { if (log_get_level() >= LOG_DEBUG) pgc_log(LOG_DEBUG, msg, __VA_ARGS__); } while (0)

#endif /* PGC_LOG_H */
