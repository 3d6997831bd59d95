#!/usr/bin/env python3
"""Run the integration tests: python3 test/integration/run.py [NAME-SUBSTRING...]

Starts one private PostgreSQL for the run (see harness.py), then every
`test_*` function of every test/integration/test_*.py file, in file order,
each with a fresh database and a time limit. Prints one line per test and
ends with "integration: N passed, N failed". Exit status 1 if any failed.
"""
import importlib.util
import inspect
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

TEST_TIMEOUT = int(os.environ.get("PGC_TEST_TIMEOUT", "600" if harness.VALGRIND else "180"))


class Run:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="pgcoalesce-it.")
        os.chmod(self.tmp, 0o755)
        self.cluster = harness.Cluster(os.path.join(self.tmp, "pg"))


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout("test exceeded %ds" % TEST_TIMEOUT)


def discover(filters):
    tests = []
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fn[:-3], os.path.join(HERE, fn))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        funcs = [(inspect.getsourcelines(f)[1], n, f) for n, f in vars(mod).items()
                 if n.startswith("test_") and inspect.isfunction(f) and f.__module__ == mod.__name__]
        for _, name, f in sorted(funcs):
            full = "%s.%s" % (fn[:-3], name)
            if not filters or any(s in full for s in filters):
                tests.append((full, f))
    return tests


def daemon_logs(ctx):
    out = []
    for fn in sorted(os.listdir(ctx.tmp)):
        if fn.startswith("pgcoalesce") and fn.endswith(".log"):
            with open(os.path.join(ctx.tmp, fn), errors="replace") as f:
                text = f.read()
            out.append("    --- %s (last 25 lines)\n%s" % (fn, "".join(
                "    | " + l + "\n" for l in text.splitlines()[-25:])))
    return "".join(out)


def run_one(run, name, fn):
    ctx = harness.TestContext(run, name)
    signal.alarm(TEST_TIMEOUT)
    err = None
    try:
        try:
            fn(ctx)
        finally:
            signal.alarm(TEST_TIMEOUT)
            ctx.finish()
    except BaseException as ex:  # noqa: B902 — any failure, timeouts included
        if isinstance(ex, KeyboardInterrupt):
            raise
        err = ex
    finally:
        signal.alarm(0)
    if err is None:
        return None
    tb = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    return tb + daemon_logs(ctx)


def main():
    filters = sys.argv[1:]
    tests = discover(filters)
    run = Run()
    signal.signal(signal.SIGALRM, on_alarm)
    passed = failed = 0
    try:
        run.cluster.initdb()
        run.cluster.start()
        root = harness.ROOT
        run.cluster.make_template([os.path.join(root, "sql", "demo.sql"),
                                   os.path.join(root, "sql", "test.sql")])
        for name, fn in tests:
            t0 = time.monotonic()
            if not run.cluster.is_up():  # a test that stopped the server must not break the next
                run.cluster.start()
            err = run_one(run, name, fn)
            dt = time.monotonic() - t0
            if err is None:
                passed += 1
                print("ok   %s (%.1fs)" % (name, dt), flush=True)
            else:
                failed += 1
                print("FAIL %s (%.1fs)\n%s" % (name, dt, "".join(
                    "    " + l + "\n" for l in err.rstrip().splitlines())), flush=True)
    except BaseException as ex:  # the cluster, not a test: the tests left are not run, so not passed
        ran = passed + failed
        failed += 1
        print("FAIL the run itself (after %d tests; %d not run)\n%s" % (ran, len(tests) - ran, "".join(
            "    " + l + "\n" for l in traceback.format_exc().rstrip().splitlines())), flush=True)
        if not isinstance(ex, Exception):
            raise
    finally:
        run.cluster.stop("immediate")
        if os.environ.get("PGC_KEEP") == "1" or failed:
            print("integration: logs kept in %s" % run.tmp, flush=True)
        else:
            shutil.rmtree(run.tmp, ignore_errors=True)
    print("integration: %d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
