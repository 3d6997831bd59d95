"""libpgcoalesce, the C client library, against the real sidecar: programs
built as an application builds them, `cc prog.c $(pkg-config --cflags --libs
pgcoalesce)`, against a `make install DESTDIR=...` of the library (and its
static archive), driving the real daemon and database.

The program is test/integration/c/pgc_check.c (scenarios: basic, pipeline,
lost); the README's C example runs in test_readme.py through build_c()."""
import os
import signal
import subprocess
import time

from harness import ROOT, VALGRIND, Failure, wait_for

CHECK_SRC = os.path.join(ROOT, "test", "integration", "c", "pgc_check.c")


def flavor():
    """The sanitizers the repository was built with ("" for none)."""
    try:
        with open(os.path.join(ROOT, "build", "flavor")) as f:
            return f.read().strip()[1:]
    except OSError:
        return ""


def install_lib(t):
    """`make install` into t.tmp/dest once per test; returns (env for
    pkg-config and the loader, the installed lib directory)."""
    dest = os.path.join(t.tmp, "dest")
    libdir = dest + "/usr/local/lib"
    if not os.path.exists(libdir + "/pkgconfig/pgcoalesce.pc"):
        cmd = ["make", "-s", "-C", ROOT, "install", "DESTDIR=" + dest, "PREFIX=/usr/local"]
        if flavor():
            cmd.append("SANITIZE=" + flavor())
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise Failure("make install failed:\n%s%s" % (p.stdout, p.stderr))
    env = dict(os.environ, PKG_CONFIG_PATH=libdir + "/pkgconfig", PKG_CONFIG_SYSROOT_DIR=dest,
               LD_LIBRARY_PATH=libdir)
    return env, libdir


def build_c(t, src, name, static=False):
    """Compile src as an application would; returns (argv prefix to run it, env)."""
    env, libdir = install_lib(t)
    pc = ["--cflags"] if static else ["--cflags", "--libs"]
    flags = subprocess.run(["pkg-config"] + pc + ["pgcoalesce"], capture_output=True, text=True,
                           env=env, check=True, timeout=30).stdout.split()
    out = os.path.join(t.tmp, name)
    cmd = ["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", out, src] + flags
    if static:
        cmd.append(libdir + "/libpgcoalesce.a")
    if flavor():
        cmd += ["-fsanitize=" + flavor(), "-fno-omit-frame-pointer"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if p.returncode != 0:
        raise Failure("building %s failed:\n%s%s" % (name, p.stdout, p.stderr))
    run = [out]
    if VALGRIND:
        run = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite"] + run
    return run, env


def facts(out):
    """The program's "key value..." lines as a dict of strings."""
    d = {}
    for line in out.splitlines():
        k, _, v = line.partition(" ")
        d[k] = v
    return d


def run_check(t, d, *args, static=False, timeout=120):
    run, env = build_c(t, CHECK_SRC, "pgc_check_static" if static else "pgc_check", static)
    p = subprocess.run(run + [d.socket] + [str(a) for a in args], capture_output=True, text=True,
                       env=env, timeout=timeout)
    if p.returncode != 0 or "runtime error" in p.stderr or "Sanitizer" in p.stderr:
        raise Failure("pgc_check %s exited %d:\n%s\n%s" % (args, p.returncode, p.stdout, p.stderr))
    return facts(p.stdout)


def test_c_library_blocking_api(t):
    d = t.daemon()
    f = run_check(t, d, "basic")
    assert f["version"] == "0.1.0", f
    assert f["ping"] == "1 1", f
    assert f["insert"] == "ok - - 0", f
    # numbers went and came back exactly
    assert f["returned_n"] == "12345678901234567890.123456789012345678", f
    assert f["returned_b"] == "9223372036854775807", f
    assert f["returned_t_ok"] == "1", f
    row = t.db.rows("SELECT n::text, b::text, t, jb::text FROM t_values")
    assert row == [{"n": "12345678901234567890.123456789012345678", "b": "9223372036854775807",
                    "t": "it's \"quoted\"\n\u00e9", "jb": '{"a": [1, 2]}'}], row
    # errors as data: the class, the code, PostgreSQL's fields, certainly not written
    assert f["first"] == "ok - - 0", f
    assert f["duplicate"] == "row_error 23505 t_checks_pkey 1", f
    assert f["nosuch"] == "row_error 42P01 - 1", f
    assert f["flush"] == "ok - - 0", f
    assert f["stats"] == "1 2", f
    assert t.db.count("t_checks") == 1


def test_c_library_pipelines_within_its_bound(t):
    d = t.daemon()
    f = run_check(t, d, "pipeline", 5000)
    assert f["sent"] == "5000" and f["answered"] == "5000" and f["ok"] == "5000", f
    assert f["full"] == "1", f      # the 64-request bound was reached and waited on
    assert t.db.count("t_keyed") == 5000
    assert t.db.scalar("SELECT count(DISTINCT k) FROM t_keyed") == 5000
    # pipelined: the sidecar wrote them in far fewer transactions than rows
    assert d.stats()["batches_committed"] < 2500


def test_c_library_refusals_are_classified(t):
    # PC008: outside --allow-table
    d = t.daemon("--allow-table", "events")
    f = run_check(t, d, "pipeline", 10)
    assert f["class"] == "table_not_allowed 10" and f["not_written"] == "10", f
    assert f["ok"] == "0" and f["in_doubt"] == "0", f
    # PC004: --overload reject past --max-pending-rows
    d = t.daemon("--overload", "reject", "--max-pending-rows", "5", "--max-delay-ms", "500",
                 "--eager-flush", "off")
    f = run_check(t, d, "pipeline", 300)
    ok, over = int(f["ok"]), int(f["class"].split()[1])
    assert f["class"].startswith("overloaded ") and over > 0, f
    assert ok + over == 300 and f["not_written"] == str(over) and f["in_doubt"] == "0", f
    assert t.db.count("t_keyed") == ok


def test_c_library_shutdown_answers_pc005(t):
    # no database: rows wait, then the shutdown timeout answers them PC005
    d = t.daemon("--shutdown-timeout-ms", "300", dsn="host=%s/nodb port=1 dbname=x" % t.tmp,
                 wait_db=False)
    run, env = build_c(t, CHECK_SRC, "pgc_check")
    proc = subprocess.Popen(run + [d.socket, "pipeline", "10"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for(lambda: d.stats()["pending_rows"] == 10, 30, what="10 rows pending")
        d.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (out, err)
    f = facts(out)
    assert f["class"] == "shutting_down 10" and f["not_written"] == "10", f
    assert d.wait_exit(30) == 0


def test_c_library_lost_connection(t):
    """The sidecar killed mid-pipeline: every request in flight is answered
    connection_lost; those whose bytes never left are certainly not written,
    the rest may be; nothing acked ok is missing; the next send reconnects
    (and fails here, the sidecar being gone)."""
    d = t.daemon()
    run, env = build_c(t, CHECK_SRC, "pgc_check")
    proc = subprocess.Popen(run + [d.socket, "lost"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline() == "version 0.1.0\n"
        assert proc.stdout.readline() == "started\n"
        time.sleep(0.2)
        d.proc.kill()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (proc.returncode, out, err)
    f = facts(out)
    sent, ok, answered = int(f["sent"]), int(f["ok"]), int(f["answered"])
    lost = int(f["class"].split()[1])
    assert f["class"].startswith("connection_lost ") and lost > 0, f
    assert answered == sent == ok + lost, f          # every request got exactly one answer
    assert f["in_flight_after"] == "0", f
    assert f["resend"] == "connect_failed", f
    stored = t.db.count("t_keyed")
    # acked rows are stored; rows that certainly never left are not
    assert ok <= stored <= ok + int(f["in_doubt"]), (stored, f)


def test_c_library_static_archive_hides_its_internals(t):
    """The static archive works the same, and exports nothing but pgc_*: an
    application with its own buf_init or jsontok_parse still links."""
    d = t.daemon()
    f = run_check(t, d, "basic", static=True)
    assert f["ping"] == "1 1" and f["insert"] == "ok - - 0", f
    _, libdir = install_lib(t)

    def symbols(*args):
        """Defined global symbols (nm's POSIX format: "name type value size")."""
        out = subprocess.run(["nm", "-gP", "--defined-only"] + list(args), capture_output=True,
                             text=True, check=True).stdout
        return sorted(l.split()[0] for l in out.splitlines() if l and not l.endswith(":"))
    exported = symbols(libdir + "/libpgcoalesce.a")
    assert exported and all(s.startswith("pgc_") for s in exported), exported
    assert "pgc_insert" in exported and "pgc_send_insert" in exported, exported
    assert symbols("-D", libdir + "/libpgcoalesce.so") == exported
    clash = os.path.join(t.tmp, "clash.c")
    with open(clash, "w") as fh:
        fh.write("#include <pgcoalesce.h>\n#include <stdio.h>\n"
                 "void buf_init(void *b); void buf_init(void *b) { (void)b; }\n"
                 "int jsontok_parse(void); int jsontok_parse(void) { return 7; }\n"
                 "int main(void) { buf_init(0); printf(\"%s %d\\n\", pgc_version(), jsontok_parse());"
                 " return 0; }\n")
    run, env = build_c(t, clash, "clash", static=True)
    p = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and p.stdout == "0.1.0 7\n", p
