/*
 * log.h — one event a line on stderr, in logfmt:
 *   ts=2026-11-22T10:00:00.123Z level=info msg="listening" socket=/tmp/pgcoalesce.sock
 */
#ifndef PGC_LOG_H
#define PGC_LOG_H

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error|warn|info|debug"; returns -1 if unknown. */
int log_level_parse(const char *s);

/*
 * Write one event. `kvfmt` (may be NULL) is a printf format producing the
 * key=value pairs after msg, e.g. "socket=%s clients=%d". Values that may
 * hold spaces or quotes go through log_q().
 */
void pgc_log(enum log_level level, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Quote a value for logfmt ("..." with \" and \\ escaped). Rotating static
 * buffers: valid until 8 more calls. */
const char *log_q(const char *s);

#define log_error(msg, ...) pgc_log(LOG_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...)  pgc_log(LOG_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...)  pgc_log(LOG_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) do { if (log_get_level() >= LOG_DEBUG) pgc_log(LOG_DEBUG, msg, __VA_ARGS__); } while (0)

#endif /* PGC_LOG_H */
