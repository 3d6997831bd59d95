/*
 * test_cpusched.c — the policy follows the batch sizes (big but not full
 * means SCHED_BATCH), on this process
 * itself (sched_getscheduler reads what the kernel has); off changes
 * nothing, and turning it off goes back to SCHED_NORMAL at once; a policy
 * the daemon was started under is left alone.
 */
#include "unit.h"

#include <sched.h>

#include "cpusched.h"

static int policy(void)
{
	return sched_getscheduler(0);
}

UNIT_TEST(cpusched_follows_the_batch_size)
{
	struct cpusched cs;
	char buf[96];

	cpusched_init(&cs, true);
	CHECK_STR(cpusched_state(&cs, buf, sizeof(buf)), "on");
	CHECK_INT(policy(), SCHED_OTHER);
	cpusched_follow(&cs, CPUSCHED_BATCH_ROWS - 0.5, 1000);
	CHECK_INT(policy(), SCHED_OTHER);
	cpusched_follow(&cs, CPUSCHED_BATCH_ROWS, 1000);
	CHECK_INT(policy(), SCHED_BATCH);
	cpusched_follow(&cs, 500, 1000);
	CHECK_INT(policy(), SCHED_BATCH);
	cpusched_follow(&cs, 995, 1000); /* full: the database is the bottleneck */
	CHECK_INT(policy(), SCHED_OTHER);
	cpusched_follow(&cs, 64, 1000);
	CHECK_INT(policy(), SCHED_BATCH);
	cpusched_follow(&cs, 1, 1000);
	CHECK_INT(policy(), SCHED_OTHER);
	cpusched_follow(&cs, 64, 1000);
	CHECK_INT(policy(), SCHED_BATCH);
	cpusched_set_wanted(&cs, false); /* a reload turned it off */
	CHECK_INT(policy(), SCHED_OTHER);
	cpusched_follow(&cs, 64, 1000);
	CHECK_INT(policy(), SCHED_OTHER);
	CHECK_STR(cpusched_state(&cs, buf, sizeof(buf)), "off");
}

UNIT_TEST(cpusched_off_never_changes_the_policy)
{
	struct cpusched cs;

	cpusched_init(&cs, false);
	cpusched_follow(&cs, 500, 1000);
	CHECK_INT(policy(), SCHED_OTHER);
	CHECK_INT((int)cs.changes, 0);
}

UNIT_TEST(cpusched_leaves_a_policy_the_operator_chose)
{
	struct sched_param p = { .sched_priority = 0 };
	struct cpusched cs;
	char buf[96];

	CHECK(sched_setscheduler(0, SCHED_BATCH, &p) == 0); /* as under chrt --batch 0 */
	cpusched_init(&cs, true);
	CHECK_STR(cpusched_state(&cs, buf, sizeof(buf)), "off (started under SCHED_BATCH: left as it is)");
	cpusched_follow(&cs, 1, 1000);
	CHECK_INT(policy(), SCHED_BATCH);
	cpusched_set_wanted(&cs, false);
	CHECK_INT(policy(), SCHED_BATCH);
	CHECK_INT((int)cs.changes, 0);
	CHECK(sched_setscheduler(0, SCHED_OTHER, &p) == 0);
}
