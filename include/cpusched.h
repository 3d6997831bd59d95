/*
 * cpusched.h — under load, let the application keep its CPU (SCHED_BATCH).
 *
 * Why: a client that shares a CPU with the sidecar wakes it with every row
 * it sends, and under the normal policy the woken sidecar preempts it at
 * once: the sidecar went back to sleep after a handful of rows (about 8 a
 * wakeup at 256 clients x 1 in flight here), and each wakeup is two context
 * switches, dear on a VM. While batches are big, rows wait for the batch in
 * flight anyway, so nothing is gained by running at once: under
 * SCHED_BATCH the kernel lets the running task finish its turn, and the
 * sidecar then reads everything that came meanwhile (README "Performance").
 * A small batch means light load, where a row must be answered at once: the
 * sidecar goes back to SCHED_NORMAL. So do full batches (--max-batch-rows):
 * rows then queue for the database, and a result taken late leaves it idle
 * (64 x 32 lost 3-5% of its rows/s under SCHED_BATCH). With a free CPU the
 * sidecar runs at once either way; the policy decides only who waits when a
 * CPU is shared.
 *
 * The policy is the calling thread's (the daemon has one). Changing it
 * needs no privilege; where a kernel or seccomp profile refuses, the
 * sidecar stays as it is and says so at startup. A daemon started under
 * another policy (chrt, systemd's CPUSchedulingPolicy=) keeps it: the
 * operator chose.
 */
#ifndef PGC_CPUSCHED_H
#define PGC_CPUSCHED_H

#include <stdbool.h>
#include <stddef.h>

/* Batches of this many rows or more (on average since the last look) are "big"... */
#define CPUSCHED_BATCH_ROWS 32
/* ... and this share of --max-batch-rows or more, "full". */
#define CPUSCHED_FULL 0.9

struct cpusched {
	bool               wanted;   /* --sched-batch on */
	bool               batch;    /* running as SCHED_BATCH now */
	int                err;      /* errno of a refused change: no more tries */
	int                started_under; /* a policy other than SCHED_NORMAL at startup: left alone */
	int                reset_on_fork; /* SCHED_RESET_ON_FORK as it was at startup, kept */
	unsigned long long changes;  /* policy changes made */
};

/* With `wanted`, check now that the kernel allows the change (the daemon starts as it was started). */
void cpusched_init(struct cpusched *cs, bool wanted);
/* --sched-batch changed by a reload: off goes back to SCHED_NORMAL now. */
void cpusched_set_wanted(struct cpusched *cs, bool wanted);
/* Batches just ended held `rows` rows on average, of at most `max_rows`: pick the policy for that load. */
void cpusched_follow(struct cpusched *cs, double rows, size_t max_rows);
/* For the startup line: "on", "off", or off and why (buf holds it). */
const char *cpusched_state(const struct cpusched *cs, char *buf, size_t size);

#endif /* PGC_CPUSCHED_H */
