/*
 * cpusched.c — SCHED_BATCH while batches are big (cpusched.h says why).
 */
#include "cpusched.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static const char *policy_name(int policy)
{
	switch (policy) {
	case SCHED_BATCH: return "SCHED_BATCH";
	case SCHED_IDLE:  return "SCHED_IDLE";
	case SCHED_FIFO:  return "SCHED_FIFO";
	case SCHED_RR:    return "SCHED_RR";
	default:          return "a policy other than SCHED_NORMAL";
	}
}

static bool cpusched_apply(struct cpusched *cs, bool batch)
{
	struct sched_param p = { .sched_priority = 0 };

	if (sched_setscheduler(0, (batch ? SCHED_BATCH : SCHED_OTHER) | cs->reset_on_fork, &p) != 0) {
		cs->err = errno;
		return false;
	}
	cs->batch = batch;
	cs->changes++;
	return true;
}

void cpusched_init(struct cpusched *cs, bool wanted)
{
	int policy = sched_getscheduler(0);

	memset(cs, 0, sizeof(*cs));
	cs->wanted = wanted;
	if (policy < 0) {
		cs->err = errno;
		return;
	}
	cs->reset_on_fork = policy & SCHED_RESET_ON_FORK;
	policy &= ~SCHED_RESET_ON_FORK;
	/* started under chrt or a unit's CPUSchedulingPolicy=: the operator chose, leave it */
	if (policy != SCHED_OTHER) {
		cs->started_under = policy;
		return;
	}
	/* a refusal is found now, at startup, not under the first load */
	if (wanted && cpusched_apply(cs, true))
		cpusched_apply(cs, false);
}

void cpusched_set_wanted(struct cpusched *cs, bool wanted)
{
	cs->wanted = wanted;
	if (!wanted && cs->batch)
		cpusched_apply(cs, false);
}

void cpusched_follow(struct cpusched *cs, double rows, size_t max_rows)
{
	/* full batches: rows queue for the database, whose every result must be taken at once */
	bool big = rows >= CPUSCHED_BATCH_ROWS && rows < CPUSCHED_FULL * (double)max_rows;

	if (!cs->wanted || cs->err || cs->started_under || big == cs->batch)
		return;
	if (!cpusched_apply(cs, big))
		log_warn("cannot change the CPU scheduling policy: staying as is", "error=%s",
			 log_q(strerror(cs->err)));
	else
		log_debug("CPU scheduling policy", "policy=%s batch_rows=%.0f", big ? "batch" : "normal", rows);
}

const char *cpusched_state(const struct cpusched *cs, char *buf, size_t size)
{
	if (!cs->wanted)
		return "off";
	if (cs->started_under) {
		snprintf(buf, size, "off (started under %s: left as it is)", policy_name(cs->started_under));
		return buf;
	}
	if (!cs->err)
		return "on";
	snprintf(buf, size, "off (sched_setscheduler: %s)", strerror(cs->err));
	return buf;
}
