/*
 * slowfsync.c — an LD_PRELOAD shim for `make bench`'s slow-disk section: every
 * fsync() and fdatasync() of the process takes BENCH_FSYNC_US microseconds
 * (default 1000) longer, as on a disk or cloud volume that flushes in about a
 * millisecond, whatever the machine's own disk does.
 *
 * scripts/bench.py gives it only to the PostgreSQL server (LD_PRELOAD in the
 * environment of the command that starts the postmaster; every server process
 * is forked from it). PostgreSQL 15 on Linux flushes WAL with fdatasync()
 * (wal_sync_method's default there) and data files and directories with
 * fsync(), so a COMMIT waits for one extra delay (group commit can share it).
 * sync_file_range() is wrapped too, but PostgreSQL only calls it with
 * SYNC_FILE_RANGE_WRITE (pg_flush_data: start writeback, do not wait), which
 * a slow disk does not make slower: it is delayed only when asked to wait.
 *
 * Built by `make bench` as bin/slowfsync.so, never linked into anything.
 * The real functions are looked up on every call rather than cached: a lookup
 * costs microseconds against a millisecond of delay, and the shim keeps no state.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Sleep BENCH_FSYNC_US (default 1000) microseconds, through signals (the
 * server's latches interrupt sleeps), keeping the caller's errno. */
static void slowfsync_delay(void)
{
	const char *env = getenv("BENCH_FSYNC_US");
	long us = env && *env ? strtol(env, NULL, 10) : 1000;
	struct timespec left;
	int saved = errno;

	if (us <= 0)
		return;
	left.tv_sec = us / 1000000;
	left.tv_nsec = (us % 1000000) * 1000;
	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
	errno = saved;
}

/* The next definition of `name` after this library (libc's). */
static void *slowfsync_real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f)
		abort(); /* no libc function to forward to: nothing sane to return */
	return f;
}

int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))slowfsync_real("fsync");

	slowfsync_delay();
	return real(fd);
}

int fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))slowfsync_real("fdatasync");

	slowfsync_delay();
	return real(fd);
}

int sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags)
{
	int (*real)(int, off64_t, off64_t, unsigned int) =
		(int (*)(int, off64_t, off64_t, unsigned int))slowfsync_real("sync_file_range");

	if (flags & (SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WAIT_AFTER))
		slowfsync_delay();
	return real(fd, offset, nbytes, flags);
}
