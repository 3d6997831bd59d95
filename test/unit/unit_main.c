/*
 * unit_main.c — runs every registered unit test (see unit.h).
 *
 * Usage: bin/test-unit [substring]   (run only tests whose name contains it)
 */
#include "unit.h"

#include <stdarg.h>
#include <stdlib.h>

struct unit_case {
	const char *name;
	const char *file;
	unit_fn     fn;
};

static struct unit_case unit_cases[512];
static int unit_ncases;
static int unit_current_failures;

void unit_register(const char *name, const char *file, unit_fn fn)
{
	if (unit_ncases == (int)(sizeof(unit_cases) / sizeof(unit_cases[0]))) {
		fprintf(stderr, "unit: too many tests\n");
		exit(2);
	}
	unit_cases[unit_ncases].name = name;
	unit_cases[unit_ncases].file = file;
	unit_cases[unit_ncases].fn = fn;
	unit_ncases++;
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	unit_current_failures++;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, i;

	for (i = 0; i < unit_ncases; i++) {
		if (argc > 1 && !strstr(unit_cases[i].name, argv[1]))
			continue;
		unit_current_failures = 0;
		unit_cases[i].fn();
		if (unit_current_failures) {
			printf("FAIL %s (%s)\n", unit_cases[i].name, unit_cases[i].file);
			failed++;
		} else {
			printf("ok   %s\n", unit_cases[i].name);
			passed++;
		}
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
