/*
 * log.c — logfmt events on stderr (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum log_level log_level_current = LOG_INFO;

static const char *const log_level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level)
{
	log_level_current = level;
}

enum log_level log_get_level(void)
{
	return log_level_current;
}

int log_level_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++)
		if (strcmp(s, log_level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *log_q(const char *s)
{
	static char bufs[8][512];
	static int next;
	char *out = bufs[next++ & 7];
	size_t o = 0;

	out[o++] = '"';
	for (; s && *s && o < sizeof(bufs[0]) - 3; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
			continue;
		}
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

void pgc_log(enum log_level level, const char *msg, const char *kvfmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	va_list ap;

	if (level > log_level_current)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03dZ level=%s msg=%s",
			      (int)(tv.tv_usec / 1000), log_level_names[level], log_q(msg));
	if (kvfmt && *kvfmt && n < sizeof(line) - 2) {
		line[n++] = ' ';
		va_start(ap, kvfmt);
		vsnprintf(line + n, sizeof(line) - n, kvfmt, ap);
		va_end(ap);
		n = strlen(line);
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}
