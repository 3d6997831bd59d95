/*
 * unit.h — a minimal unit-test harness.
 *
 * A test file defines tests with UNIT_TEST(name) { ... } and checks with
 * CHECK(cond) / CHECK_STR(got, want). Tests register themselves (a
 * constructor per test), so adding a file to test/unit/ is all it takes.
 * bin/test-unit runs every test and ends with "unit: N passed, N failed".
 */
#ifndef PGC_UNIT_H
#define PGC_UNIT_H

#include <stdio.h>
#include <string.h>

typedef void (*unit_fn)(void);

void unit_register(const char *name, const char *file, unit_fn fn);
/* Record a failed check; the test goes on and is counted as failed. */
void unit_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define UNIT_TEST(name)                                                   \
	static void unit_test_##name(void);                               \
	__attribute__((constructor)) static void unit_reg_##name(void)     \
	{                                                                 \
		unit_register(#name, __FILE__, unit_test_##name);         \
	}                                                                 \
	static void unit_test_##name(void)

#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond))                                              \
			unit_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); \
	} while (0)

#define CHECK_STR(got, want)                                              \
	do {                                                              \
		const char *g_ = (got), *w_ = (want);                     \
		if (!g_ || strcmp(g_, w_) != 0)                           \
			unit_fail(__FILE__, __LINE__, "%s: got [%s], want [%s]", \
				  #got, g_ ? g_ : "(null)", w_);          \
	} while (0)

#define CHECK_INT(got, want)                                              \
	do {                                                              \
		long long g_ = (long long)(got), w_ = (long long)(want);  \
		if (g_ != w_)                                             \
			unit_fail(__FILE__, __LINE__, "%s: got %lld, want %lld", \
				  #got, g_, w_);                          \
	} while (0)

#endif /* PGC_UNIT_H */
