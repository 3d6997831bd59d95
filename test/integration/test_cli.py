"""pgcoalesce-cli against the real sidecar and PostgreSQL: SQL in, rows in the
database, output compared with what psql itself prints."""
import decimal
import importlib.util
import json
import os
import re
import signal
import subprocess

from harness import ROOT, Failure


def psql_aligned(t, sql):
    """psql's own aligned output (and stderr) for sql, to compare the CLI with."""
    p = subprocess.run(["psql", "-X", "-d", t.db.dsn, "-c", sql], capture_output=True,
                       text=True, timeout=60)
    return p.stdout, p.stderr


def check_cli(p, rc=0, stderr=None):
    if p.returncode != rc:
        raise Failure("pgcoalesce-cli exited %d, want %d\nstdout:\n%s\nstderr:\n%s" %
                      (p.returncode, rc, p.stdout, p.stderr))
    if stderr is not None and p.stderr != stderr:
        raise Failure("stderr:\n%s\nwant:\n%s" % (p.stderr, stderr))


# ---------------------------------------------------------------- SQL

def test_cli_multi_row_insert(t):
    d = t.daemon()
    p = t.cli("-c", "INSERT INTO events (device_id, kind, value, payload) VALUES "
              "(1, 'a', 1.5, '{\"n\": 1}'), (2, 'b', NULL, NULL), (3, 'c', -2e3, '[1, 2]')",
              socket_path=d.socket)
    check_cli(p, 0, "")
    assert p.stdout == "INSERT 0 3\n", p.stdout
    rows = t.db.rows("SELECT device_id, kind, value, payload FROM events ORDER BY device_id")
    assert rows == [{"device_id": 1, "kind": "a", "value": decimal.Decimal("1.5"), "payload": {"n": 1}},
                    {"device_id": 2, "kind": "b", "value": None, "payload": None},
                    {"device_id": 3, "kind": "c", "value": -2000, "payload": [1, 2]}], rows
    # the sidecar saw three requests, one per tuple
    assert d.stats()["rows_received"] == 3


def test_cli_string_escaping(t):
    d = t.daemon()
    p = t.cli("-c", "INSERT INTO t_values (t, ta, vc) VALUES "
              "('it''s', '{\"a b\",c}', 'x'), "
              "(E'line1\\nline2\\ttab\\\\ \\u00e9 \\x41\\101', NULL, E'\\'q\\''), "
              "($$dollar 'quoted' \\n$$, NULL, $a$$$a$), "
              "('joined'\n  'across lines', NULL, 'back\\')",
              socket_path=d.socket)
    check_cli(p, 0, "")
    assert p.stdout == "INSERT 0 4\n", p.stdout
    rows = t.db.rows("SELECT t, ta, vc FROM t_values ORDER BY id")
    assert rows == [{"t": "it's", "ta": ["a b", "c"], "vc": "x"},
                    {"t": "line1\nline2\ttab\\ \u00e9 AA", "ta": None, "vc": "'q'"},
                    {"t": "dollar 'quoted' \\n", "ta": None, "vc": "$"},
                    {"t": "joinedacross lines", "ta": None, "vc": "back\\"}], rows


def test_cli_case_folding_and_quoted_names(t):
    d = t.daemon()
    # unquoted names fold to lower case; "Quoted" ones are kept
    p = t.cli("-c", 'INSERT INTO "App"."Events" ("Kind", KIND) VALUES (\'upper\', \'lower\')',
              "-c", "INSERT INTO APP.EVENTS (Kind) VALUES ('folded')",
              "-c", 'INSERT INTO T_Values ("CamelCol", "sp ace") VALUES (\'c\', \'s\')',
              socket_path=d.socket)
    check_cli(p, 0, "")
    assert p.stdout == "INSERT 0 1\n" * 3, p.stdout
    assert t.db.rows('SELECT "Kind", kind FROM "App"."Events"') == [{"Kind": "upper", "kind": "lower"}]
    assert t.db.rows("SELECT kind FROM app.events") == [{"kind": "folded"}]
    assert t.db.rows('SELECT "CamelCol", "sp ace" FROM t_values') == [{"CamelCol": "c", "sp ace": "s"}]
    # CamelCol unquoted folds to camelcol, which does not exist: PostgreSQL's error
    p = t.cli("-c", "INSERT INTO t_values (CamelCol) VALUES ('x')", socket_path=d.socket)
    check_cli(p, 1)
    assert p.stderr.startswith('ERROR:  column "camelcol" of relation "t_values" does not exist\n'), p.stderr
    assert t.db.count("t_values") == 1


def test_cli_numbers_reach_postgres_exactly(t):
    d = t.daemon()
    p = t.cli("-c", "INSERT INTO t_values (n, b, f, i) VALUES "
              "(12345678901234567890.123456789012345678, 9223372036854775807, 0.1, -007), "
              "(.5, -9223372036854775808, 1e-5, +3)", socket_path=d.socket)
    check_cli(p, 0, "")
    rows = t.db.rows("SELECT n::text, b::text, f::text, i FROM t_values ORDER BY id")
    assert rows == [{"n": "12345678901234567890.123456789012345678", "b": "9223372036854775807",
                     "f": "0.1", "i": -7},
                    {"n": "0.5", "b": "-9223372036854775808", "f": "1e-05", "i": 3}], rows


def test_cli_default_values(t):
    d = t.daemon()
    p = t.cli("-c", "INSERT INTO t_defaults DEFAULT VALUES",
              "-c", "INSERT INTO t_defaults (tag, at) VALUES (DEFAULT, DEFAULT), ('set', DEFAULT)",
              socket_path=d.socket)
    check_cli(p, 0, "")
    assert p.stdout == "INSERT 0 1\nINSERT 0 2\n", p.stdout
    assert [r["tag"] for r in t.db.rows("SELECT tag FROM t_defaults ORDER BY id")] == ["none", "none", "set"]


def test_cli_returning_table_matches_psql(t):
    d = t.daemon()
    p = t.cli("-c", "INSERT INTO events (device_id, kind, value, payload) VALUES "
              "(7, 'click', 3.25, '{\"n\": 1}'), (12345, E'multi\\nline', NULL, NULL), "
              "(8, 'wide \u00e9t\u00e9', -1, '[1,2]') RETURNING id, kind, value, payload, device_id",
              socket_path=d.socket)
    check_cli(p, 0, "")
    want, _ = psql_aligned(t, "SELECT id, kind, value, payload, device_id FROM events ORDER BY id")
    # psql's table for the same rows, then the command tag
    assert p.stdout == want + "INSERT 0 3\n", "cli:\n%s\npsql:\n%s" % (p.stdout, want)
    # RETURNING *: every column, in the table's order, as psql shows SELECT *
    p = t.cli("-c", "INSERT INTO t_values (i, bo, jb, ia, ts) VALUES "
              "(1, true, '{\"b\": [1, 2]}', '{1,2}', '2024-01-02 03:04:05+00'), "
              "(NULL, false, NULL, NULL, NULL) RETURNING *", socket_path=d.socket,
              env={"PGTZ": "UTC"})
    check_cli(p, 0, "")
    want, _ = psql_aligned(t, "SET timezone = 'UTC'; SELECT * FROM t_values ORDER BY id")
    assert p.stdout.replace("INSERT 0 2\n", "") == want.replace("SET\n", ""), \
        "cli:\n%s\npsql:\n%s" % (p.stdout, want)


def test_cli_row_errors_and_exit_status(t):
    d = t.daemon()
    p = t.cli("-c", "INSERT INTO t_checks (id, v, code) VALUES (1, 1, 'a'), (2, -1, 'b'), "
              "(3, 3, 'a'), (4, 4, 'd') RETURNING id", socket_path=d.socket)
    check_cli(p, 1)
    # the good rows are in, each bad row has PostgreSQL's own error
    assert [r["id"] for r in t.db.rows("SELECT id FROM t_checks ORDER BY id")] == [1, 4]
    assert p.stdout == " id \n----\n  1\n  4\n(2 rows)\n\nINSERT 0 2\n", p.stdout
    err = p.stderr.splitlines()
    assert err[0] == 'ERROR:  new row for relation "t_checks" violates check constraint "t_checks_v_check"', err
    assert err[1].startswith("DETAIL:  Failing row contains (2, -1, b)"), err
    assert err[2] == "CONTEXT:  row 2 of 4 of the INSERT", err
    assert err[3] == 'ERROR:  duplicate key value violates unique constraint "t_checks_code_key"', err
    assert err[4] == "DETAIL:  Key (code)=(a) already exists.", err
    assert err[5] == "CONTEXT:  row 3 of 4 of the INSERT", err
    assert len(err) == 6, err
    # one failed row of one: just the error, as psql prints it, exit 1
    p = t.cli("-c", "INSERT INTO events (device_id, kind) VALUES (1, NULL)", socket_path=d.socket)
    check_cli(p, 1)
    assert p.stdout == "", p.stdout
    assert p.stderr.startswith('ERROR:  null value in column "kind" of relation "events" violates '
                               'not-null constraint\nDETAIL:  Failing row contains ('), p.stderr
    assert "CONTEXT" not in p.stderr
    # all fine: exit 0
    check_cli(t.cli("-c", "INSERT INTO events (device_id, kind) VALUES (1, 'x')", socket_path=d.socket), 0)


def test_cli_syntax_errors_read_like_psql(t):
    d = t.daemon()
    for sql in ["INSERT INTO events (kind) VALUES ('a' 'b')",
                "INSERT INTO events (kind, device_id) VALUES (1, 2), (3, 4, 5)",
                "INSERT INTO events (kind, device_id) VALUES (1)",
                "INSERT INTO events (kind) VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'"
                " 'b', 'cccccccccccccccccccccccccccccccccc')",
                "INSERT INTO events (kind,\n device_id)\n VALUES ('x', 1 2)",
                "INSERT INTO events (kind) VALUES ('unterminated)",
                "SELEC 1"]:
        p = t.cli("-c", sql, socket_path=d.socket)
        _, want = psql_aligned(t, sql)
        check_cli(p, 1, want)
    # statements the sidecar cannot run are refused before anything is sent
    p = t.cli("-c", "SELECT * FROM events", "-c", "INSERT INTO events (kind) VALUES (now())",
              "-c", "INSERT INTO events VALUES (1, now(), 1, 'x')",
              "-c", "INSERT INTO events (SELECT 1)", socket_path=d.socket)
    check_cli(p, 1)
    assert p.stderr.count("ERROR:  ") == 4, p.stderr
    # a query in parentheses is refused as INSERT ... SELECT, not as a syntax error
    assert p.stderr.endswith("ERROR:  INSERT ... SELECT is not supported\n"
                             "LINE 1: INSERT INTO events (SELECT 1)\n"
                             "                            ^\n"
                             "HINT:  The sidecar takes literal rows: INSERT INTO t (a, b) VALUES "
                             "(1, 2), (3, 4).\n"), p.stderr
    assert "ERROR:  SELECT is not supported: pgcoalesce-cli sends only INSERT" in p.stderr
    # two statements with now(): one with a column list, one without (positional)
    assert p.stderr.count("ERROR:  function calls are not supported in VALUES") == 2, p.stderr
    assert d.stats()["rows_received"] == 0


def test_cli_on_error_stop(t):
    d = t.daemon()
    script = ("INSERT INTO events (device_id, kind) VALUES (1, 'one');\n"
              "INSERT INTO events (device_id, kind) VALUES (2, NULL);\n"
              "INSERT INTO events (device_id, kind) VALUES (3, 'three');\n")
    path = os.path.join(t.tmp, "script.sql")
    with open(path, "w") as f:
        f.write(script)
    p = t.cli("-v", "ON_ERROR_STOP=1", "-f", path, socket_path=d.socket)
    check_cli(p, 3)
    assert p.stderr.startswith("pgcoalesce-cli:%s:2: ERROR:  null value in column" % path), p.stderr
    assert [r["device_id"] for r in t.db.rows("SELECT device_id FROM events")] == [1]
    # the same from standard input; without ON_ERROR_STOP the script goes on and exits 1
    t.db.execute("TRUNCATE events")
    p = t.cli("-v", "ON_ERROR_STOP=on", input=script, socket_path=d.socket)
    check_cli(p, 3)
    assert p.stderr.startswith("ERROR:  null value in column"), p.stderr
    t.db.execute("TRUNCATE events")
    p = t.cli(input=script, socket_path=d.socket)
    check_cli(p, 1)
    assert p.stdout == "INSERT 0 1\nINSERT 0 1\n", p.stdout
    assert sorted(r["device_id"] for r in t.db.rows("SELECT device_id FROM events")) == [1, 3]
    # a syntax error stops too
    p = t.cli("-v", "ON_ERROR_STOP=1", "-c", "INSERT INTO events (kind) VALUES (1 2)",
              "-c", "INSERT INTO events (device_id, kind) VALUES (9, 'never')", socket_path=d.socket)
    check_cli(p, 3)
    assert t.db.count(where="device_id = 9") == 0


def test_cli_piped_multi_line_script(t):
    d = t.daemon()
    script = ("-- a script as psql would take it\n"
              "INSERT INTO events\n"
              "  (device_id, kind)\n"
              "VALUES\n"
              "  (1, 'semi;colon'),   -- a comment; with a semicolon\n"
              "  (2, 'multi\n"
              "line');\n"
              "/* block ; comment */ INSERT INTO events (device_id, kind) VALUES (3, 'x'); "
              "INSERT INTO events (device_id, kind) VALUES (4, $$y;$$);\n"
              "\n"
              "INSERT INTO events (device_id, kind) VALUES (5, 'no semicolon at the end')\n")
    p = t.cli(input=script, socket_path=d.socket)
    check_cli(p, 0, "")
    assert p.stdout == "INSERT 0 2\nINSERT 0 1\nINSERT 0 1\nINSERT 0 1\n", p.stdout
    rows = t.db.rows("SELECT device_id, kind FROM events ORDER BY device_id")
    assert rows == [{"device_id": 1, "kind": "semi;colon"}, {"device_id": 2, "kind": "multi\nline"},
                    {"device_id": 3, "kind": "x"}, {"device_id": 4, "kind": "y;"},
                    {"device_id": 5, "kind": "no semicolon at the end"}], rows
    # -q: no command tags
    p = t.cli("-q", input="INSERT INTO events (device_id, kind) VALUES (6, 'quiet');\n", socket_path=d.socket)
    check_cli(p, 0, "")
    assert p.stdout == "", p.stdout


def test_cli_large_statement_is_pipelined(t):
    d = t.daemon()
    n = 50000
    sql = "INSERT INTO events (device_id, kind) VALUES " + ", ".join(
        "(%d, 'bulk')" % i for i in range(n)) + ";\n"
    p = t.cli(input=sql, socket_path=d.socket, timeout=120)
    check_cli(p, 0, "")
    assert p.stdout == "INSERT 0 %d\n" % n, p.stdout
    assert t.db.scalar("SELECT count(DISTINCT device_id) FROM events") == n
    # the sidecar coalesced them: far fewer transactions than rows
    assert d.stats()["batches_committed"] < n / 10


def test_cli_answers_without_an_id_end_the_wait(t):
    # a request line too long for the sidecar is answered PC003 with "id": null:
    # the CLI and bench count it as an answer instead of waiting for one forever
    d = t.daemon("--max-request-bytes", "64")
    p = t.cli("-c", "INSERT INTO events (device_id, kind) VALUES (1, 'x'), (2, '%s')" % ("y" * 100),
              socket_path=d.socket, timeout=30)
    check_cli(p, 1)
    assert p.stdout == "INSERT 0 1\n", p.stdout
    assert p.stderr == ("ERROR:  request line longer than --max-request-bytes (64)\n"
                        "CONTEXT:  row 2 of 2 of the INSERT\n"), p.stderr
    assert t.db.count() == 1
    p = t.cli("bench", "--rows", "10", "--clients", "1", "--pipeline", "2", socket_path=d.socket,
              timeout=30)
    check_cli(p, 1)
    assert "first error: PC003 request line longer than --max-request-bytes (64)\n" in p.stdout, p.stdout
    assert t.db.count() == 1


def test_cli_refused_rows_are_reported_not_written(t):
    """Issue 10 item 14: PC001-PC005, PC008 and PC009 answers wrote nothing, and
    the CLI says so (an ERROR, counted out of INSERT 0 k); only PC007 and a lost
    connection leave a row "may or may not be in the database"."""
    d = t.daemon("--max-request-bytes", "80", "--allow-table", "events")
    long = "y" * 100
    p = t.cli("-c", "INSERT INTO events (device_id, kind) VALUES (1, '%s'), (2, 'x'), (3, '%s')"
              % (long, long), "-c", "INSERT INTO t_checks (id, v) VALUES (1, 1)",
              socket_path=d.socket, timeout=30)
    check_cli(p, 1)
    assert p.stdout == "INSERT 0 1\n", p.stdout
    assert p.stderr == ("ERROR:  request line longer than --max-request-bytes (80)\n"
                        "CONTEXT:  row 1 of 3 of the INSERT\n"
                        "ERROR:  request line longer than --max-request-bytes (80)\n"
                        "CONTEXT:  row 3 of 3 of the INSERT\n"
                        "ERROR:  table \"t_checks\" is not allowed\n"), p.stderr
    assert [r["device_id"] for r in t.db.rows("SELECT device_id FROM events")] == [2]
    assert t.db.count("t_checks") == 0


def test_cli_commit_unknown_may_or_may_not_be_written(t):
    """PC007 is the one answer after which a row may or may not be stored: the
    CLI says so for that row."""
    from faultkit import backend, sync_rep_stalled
    with sync_rep_stalled(t):
        d = t.daemon("--shutdown-timeout-ms", "500")
        proc = subprocess.Popen(t.cli_command(["-c", "INSERT INTO t_keyed (k) VALUES ('a')"], d.socket),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=t.cli_env())
        try:
            backend(t.db, "application_name = 'pgcoalesce' AND query = 'COMMIT' "
                    "AND wait_event = 'SyncRep'")
            d.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert d.wait_exit(30) == 0
    assert proc.returncode == 1, (proc.returncode, out, err)
    assert out == "", out
    assert err.startswith("ERROR:  ") and \
        err.endswith("\nDETAIL:  The row may or may not be in the database.\n"), err


# ---------------------------------------------------------------- upserts and keys (issue 13)
# The ON CONFLICT and \key tests that reach the sidecar need the daemon side
# of issue 13: on a branch without it the CLI refuses them (its ping lists
# no "on_conflict" or "key") and they fail. The parse-time ones pass anywhere.

UPSERTS = [
    "INSERT INTO devices (device_id, hits, kind) VALUES (1, 1, 'a'), (2, 1, 'b') "
    "ON CONFLICT (device_id) DO UPDATE SET hits = devices.hits + EXCLUDED.hits, kind = EXCLUDED.kind "
    "RETURNING device_id, hits, kind",
    "INSERT INTO devices AS d (device_id, hits, kind) VALUES (2, 5, 'c'), (3, 1, 'd') "
    "ON CONFLICT (device_id) DO UPDATE SET hits = EXCLUDED.hits + d.hits RETURNING *",
    "INSERT INTO devices (device_id, hits) VALUES (1, 9), (4, 1) ON CONFLICT DO NOTHING "
    "RETURNING device_id, hits",
    "INSERT INTO devices (device_id) VALUES (1), (2) ON CONFLICT ON CONSTRAINT devices_pkey DO NOTHING "
    "RETURNING device_id",
    "INSERT INTO devices (device_id, kind) VALUES (3, 'e') ON CONFLICT (device_id) DO UPDATE SET kind = EXCLUDED.kind",
    "INSERT INTO devices (device_id) VALUES (4) ON CONFLICT (device_id) DO NOTHING",
]


def test_cli_on_conflict_prints_what_psql_prints(t):
    """Each upsert statement through the CLI prints what psql prints for it
    (RETURNING rows of the rows inserted or updated, INSERT 0 k counting
    those), ROW_COUNT is psql's, and the tables end the same."""
    t.db.execute("CREATE TABLE devices_twin (LIKE devices INCLUDING ALL)")
    d = t.daemon()
    for sql in UPSERTS:
        p = t.cli("-c", sql, "-c", "\\echo :ROW_COUNT", socket_path=d.socket)
        check_cli(p, 0, "")
        twin = subprocess.run(["psql", "-X", "-d", t.db.dsn, "-c", sql.replace("devices", "devices_twin"),
                               "-c", "\\echo :ROW_COUNT"], capture_output=True, text=True, timeout=60)
        assert twin.returncode == 0 and twin.stderr == "", twin
        assert p.stdout == twin.stdout, "%s\ncli:\n%s\npsql:\n%s" % (sql, p.stdout, twin.stdout)
    assert t.db.rows("SELECT * FROM devices ORDER BY 1") == t.db.rows("SELECT * FROM devices_twin ORDER BY 1")


def test_cli_on_conflict_same_key_twice_in_one_statement(t):
    """Where psql fails (21000: one INSERT cannot affect a row twice), the CLI
    sends each tuple as its own request, and the sidecar runs them as one by
    one: the second updates what the first wrote."""
    d = t.daemon()
    sql = ("INSERT INTO devices (device_id, hits) VALUES (1, 1), (1, 2), (1, 3) "
           "ON CONFLICT (device_id) DO UPDATE SET hits = devices.hits + EXCLUDED.hits")
    p = t.cli("-c", sql, socket_path=d.socket)
    check_cli(p, 0, "")
    assert p.stdout == "INSERT 0 3\n", p.stdout
    assert t.db.rows("SELECT device_id, hits FROM devices") == [{"device_id": 1, "hits": 6}]
    from faultkit import sqlstate_of
    assert sqlstate_of(t.db, sql) == "21000"  # psql's one statement (rolled back)


def test_cli_on_conflict_errors_read_like_psql(t):
    """PostgreSQL's own errors for ON CONFLICT, as psql prints them, before
    anything is sent; what the sidecar cannot express is refused with a hint."""
    d = t.daemon()
    for sql in ["INSERT INTO devices (device_id) VALUES (1) ON CONFLICT DO UPDATE SET hits = EXCLUDED.hits",
                "INSERT INTO devices AS x (device_id) VALUES (1) ON CONFLICT (device_id) "
                "DO UPDATE SET hits = devices.hits + EXCLUDED.hits",
                "INSERT INTO devices (device_id) VALUES (1) ON CONFLICT (device_id) "
                "DO UPDATE SET hits = q.hits + EXCLUDED.hits",
                "INSERT INTO devices (device_id) VALUES (1) ON CONFLICT (device_id) "
                "DO UPDATE SET hits = EXCLUDED.hits, hits = EXCLUDED.hits",
                "INSERT INTO devices (device_id) VALUES (1) ON CONFLICT (device_id) DO SOMETHING",
                "INSERT INTO devices (device_id) VALUES (1) ON CONFLICT;"]:
        p = t.cli("-c", sql, socket_path=d.socket)
        check_cli(p, 1, psql_err(t, sql))
    refused = ["ON CONFLICT (device_id) WHERE device_id > 0 DO NOTHING",
               "ON CONFLICT ((device_id + 1)) DO NOTHING",
               "ON CONFLICT (device_id) DO UPDATE SET hits = 1",
               "ON CONFLICT (device_id) DO UPDATE SET hits = EXCLUDED.hits WHERE devices.hits < 5",
               "ON CONFLICT (device_id) DO UPDATE SET hits = devices.hits - EXCLUDED.hits"]
    for tail in refused:
        p = t.cli("-c", "INSERT INTO devices (device_id, hits) VALUES (1, 1) " + tail, socket_path=d.socket)
        check_cli(p, 1)
        assert p.stderr.startswith("ERROR:  ") and "HINT:  pgcoalesce-cli sends ON CONFLICT" in p.stderr, p.stderr
    assert d.stats()["rows_received"] == 0


def test_cli_key_prefix_makes_a_script_safe_to_run_again(t):
    """--key PREFIX: row M of the N-th INSERT is sent with key PREFIX-N-M, so
    the same script run again writes nothing twice (a NOTICE counts the
    rows written before, INSERT 0 k the new ones); \\key auto sends new keys."""
    d = t.daemon()
    script = os.path.join(t.tmp, "load.sql")
    with open(script, "w") as f:
        f.write("INSERT INTO t_keyed (k, c) VALUES ('a', 1), ('b', 2), ('c', 3);\n"
                "\\echo :ROW_COUNT\n"
                "INSERT INTO t_keyed (k, c) VALUES ('d', 4);\n")
    p = t.cli("--key", "load-1", "-f", script, socket_path=d.socket)
    check_cli(p, 0, "")
    assert p.stdout == "INSERT 0 3\n3\nINSERT 0 1\n", p.stdout
    p = t.cli("--key", "load-1", "-f", script, socket_path=d.socket)
    check_cli(p, 0)
    assert p.stdout == "INSERT 0 0\n0\nINSERT 0 0\n", p.stdout
    assert p.stderr == ("pgcoalesce-cli:%s:1: NOTICE:  3 of 3 rows were written before (their keys are "
                        "known): not written again\n"
                        "pgcoalesce-cli:%s:3: NOTICE:  1 of 1 rows were written before (their keys are "
                        "known): not written again\n" % (script, script)), p.stderr
    assert t.db.count("t_keyed") == 4
    p = t.cli("-c", "\\key auto", "-f", script, "-c", "\\key", socket_path=d.socket)
    check_cli(p, 0, "")
    assert p.stdout == "Idempotency keys: auto.\nINSERT 0 3\n3\nINSERT 0 1\nIdempotency keys: auto.\n", p.stdout
    assert t.db.count("t_keyed") == 8


# ---------------------------------------------------------------- what the table's description tells
# These need the daemon's "describe" op (the lead adds it to the daemon): on a
# branch without it they fail, with the CLI's fallback messages.

def psql_err(t, sql):
    p = subprocess.run(["psql", "-X", "-d", t.db.dsn, "-c", sql], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1, p
    return p.stderr


def test_cli_default_for_a_missing_column_fails_as_psql(t):
    """Issue 10 item 13: DEFAULT leaves a column out of the request, so the
    sidecar never sees it: the CLI checks it against the table's description,
    and fails the statement exactly as psql does, storing nothing."""
    t.db.execute("CREATE TABLE t13 (b int, c int, d int)")
    d = t.daemon()
    for sql in ["INSERT INTO t13 (a, b, c, d) VALUES (DEFAULT, 11, 12, 13)",
                "INSERT INTO t13 (b, zz) VALUES (1, 2), (3, DEFAULT)",
                "INSERT INTO nosuch13 (a) VALUES (DEFAULT)"]:
        p = t.cli("-c", sql, socket_path=d.socket)
        check_cli(p, 1, psql_err(t, sql))
    assert t.db.count("t13") == 0 and d.stats()["rows_received"] == 0
    # DEFAULT where the column exists: left out, its default applies
    p = t.cli("-c", "INSERT INTO t_defaults (tag, at) VALUES (DEFAULT, DEFAULT)", socket_path=d.socket)
    check_cli(p, 0, "")
    assert t.db.rows("SELECT tag FROM t_defaults") == [{"tag": "none"}]


def test_cli_default_for_a_view_column_fails_as_psql(t):
    t.db.execute("CREATE TABLE t13b (a int, b int DEFAULT 5); "
                 "CREATE VIEW v13 AS SELECT a, a + 1 AS a1, b FROM t13b")
    d = t.daemon()
    sql = "INSERT INTO v13 (a, a1) VALUES (1, DEFAULT)"
    p = t.cli("-c", sql, socket_path=d.socket)
    check_cli(p, 1, psql_err(t, sql))
    assert p.stderr.startswith('ERROR:  cannot insert into column "a1" of view "v13"\n'), p.stderr
    # the view's other columns take DEFAULT as psql lets them: the base table's default
    p = t.cli("-c", "INSERT INTO v13 (a, b) VALUES (2, DEFAULT)", socket_path=d.socket)
    check_cli(p, 0, "")
    t.db.execute("INSERT INTO v13 (a, b) VALUES (3, DEFAULT)")
    assert t.db.rows("SELECT a, b FROM t13b ORDER BY a") == [{"a": 2, "b": 5}, {"a": 3, "b": 5}]


def test_cli_values_without_a_column_list(t):
    """Issue 14 part 4: INSERT INTO t VALUES (...) maps the values to the
    table's columns in order, as psql; more values than columns is psql's
    error (with its caret)."""
    d = t.daemon()
    p = t.cli("-c", "INSERT INTO t_checks VALUES (1, 10, 'a'), (2, 20, DEFAULT)",
              "-c", "INSERT INTO t_checks VALUES (3, 30)",
              "-c", "INSERT INTO t_domain VALUES (DEFAULT, 4) RETURNING twice", socket_path=d.socket)
    check_cli(p, 0, "")
    assert p.stdout == "INSERT 0 2\nINSERT 0 1\n twice \n-------\n     8\n(1 row)\n\nINSERT 0 1\n", p.stdout
    assert t.db.rows("SELECT id, v, code FROM t_checks ORDER BY id") == [
        {"id": 1, "v": 10, "code": "a"}, {"id": 2, "v": 20, "code": None}, {"id": 3, "v": 30, "code": None}]
    for sql in ["INSERT INTO t_checks VALUES (4, 40, 'd', 'extra')",
                "INSERT INTO nosuch14 VALUES (1)"]:
        p = t.cli("-c", sql, socket_path=d.socket)
        check_cli(p, 1, psql_err(t, sql))
    # a row error is the row's own, as with a column list
    p = t.cli("-c", "INSERT INTO t_checks VALUES (5, -1)", socket_path=d.socket)
    check_cli(p, 1)
    assert p.stderr.startswith('ERROR:  new row for relation "t_checks" violates check constraint'), p.stderr


def test_cli_description_follows_the_table(t):
    """A description is kept for the session, and asked again when the
    table changed (a listed column it lacks; an INSERT failing with 42703)."""
    import select
    t.db.execute("CREATE TABLE t13c (a int)")
    d = t.daemon()
    proc = subprocess.Popen(t.cli_command([], d.socket), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=t.cli_env())
    try:
        proc.stdin.write("INSERT INTO t13c VALUES (1);\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        if not ready:
            proc.kill()
            raise Failure("no answer to the first INSERT: %r" % (proc.communicate(timeout=30),))
        assert proc.stdout.readline() == "INSERT 0 1\n"
        t.db.execute("ALTER TABLE t13c ADD COLUMN b text DEFAULT 'bd'")
        proc.stdin.write("INSERT INTO t13c (a, b) VALUES (2, DEFAULT);\n"
                         "INSERT INTO t13c VALUES (3, 'x');\n")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and err == "" and out == "INSERT 0 1\nINSERT 0 1\n", (out, err)
    assert t.db.rows("SELECT a, b FROM t13c ORDER BY a") == [
        {"a": 1, "b": "bd"}, {"a": 2, "b": "bd"}, {"a": 3, "b": "x"}]


# ---------------------------------------------------------------- scripting like psql

def psql_out(t, args, sql):
    """psql's stdout for `sql` with output flags `args` (no -X: the flags only)."""
    p = subprocess.run(["psql", "-X"] + list(args) + ["-d", t.db.dsn, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_cli_output_formats_match_psql(t):
    """-A, -t, -F, -R, -x, --csv and -P null=...: RETURNING rows print as psql
    prints the same rows with the same flags (the tag is the CLI's, and -t
    drops it too)."""
    d = t.daemon()
    insert = ("INSERT INTO t_values (i, t, n, bo, jb) VALUES "
              "(1, 'plain', 1.50, true, '{\"a\": [1, 2]}'), "
              "(NULL, E'two\nlines, \"quoted\"', -7, NULL, NULL), "
              "(333, 'wide \u00e9t\u00e9|pipe', NULL, false, '[]') RETURNING id, i, t, n, bo, jb")
    select = "SELECT id, i, t, n, bo, jb FROM t_values ORDER BY id"
    flag_sets = [[], ["-A"], ["-t"], ["-At"], ["-A", "-F", ","], ["-A", "-R", "#"], ["-x"],
                 ["-x", "-A"], ["-x", "-t"], ["--csv"], ["--csv", "-t"], ["-P", "null=(null)"],
                 ["-A", "-P", "footer=off"], ["-P", "title=Rows"]]
    for flags in flag_sets:
        t.db.execute("TRUNCATE t_values RESTART IDENTITY")
        p = t.cli(*flags, "-c", insert, socket_path=d.socket)
        check_cli(p, 0, "")
        want = psql_out(t, flags, select)
        tag = "" if "-t" in flags or any(f.startswith("-") and "t" in f[1:] and not f.startswith("--")
                                         for f in flags if f not in ("-P", "-F", "-R")) else "INSERT 0 3\n"
        assert p.stdout == want + tag, "flags %s\ncli:\n%r\npsql:\n%r" % (flags, p.stdout, want)


def test_cli_id_from_returning_in_a_shell(t):
    """id=$(pgcoalesce-cli -At -c "INSERT ... RETURNING id") is the id alone
    (psql would add its INSERT tag unless -q)."""
    d = t.daemon()
    cmd = ("id=$(%s -s %s -At -c \"INSERT INTO events (device_id, kind) VALUES (5, 'x') RETURNING id\")"
           " && printf '[%%s]' \"$id\"" % (" ".join(t.cli_command([])), d.socket))
    p = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, env=t.cli_env(), timeout=60)
    assert p.returncode == 0, p
    want = t.db.scalar("SELECT id FROM events WHERE device_id = 5")
    assert p.stdout == "[%d]" % want, (p.stdout, want)


def test_cli_settings_and_variables_read_like_psql(t):
    """\\x \\t \\a \\f \\pset \\set \\echo: the same words as psql, for the same script."""
    d = t.daemon()
    script = ("\\x\n\\x off\n\\x auto\n\\t\n\\t off\n\\a\n\\a\n\\f ,\n\\f\n"
              "\\pset null NUL\n\\pset footer off\n\\pset footer\n\\pset format csv\n"
              "\\pset format unaligned\n\\pset format aligned\n\\pset recordsep ';'\n"
              "\\pset recordsep\n\\pset expanded\n\\pset tuples_only on\n\\pset title 'T 1'\n"
              "\\pset title\n\\set x 5\n\\set y 'it''s'\n\\set z a 'b c' d\n"
              "\\echo :x :'y' :\"y\" :z :nosuch 'two  spaces'\n\\echo -n no newline\n\\echo\n"
              "\\unset x\n\\echo :x\n")
    p = t.cli(input=script, socket_path=d.socket)
    check_cli(p, 0, "")
    q = subprocess.run(["psql", "-X", "-d", t.db.dsn], input=script, capture_output=True, text=True,
                       timeout=60)
    assert p.stdout == q.stdout, "cli:\n%s\npsql:\n%s" % (p.stdout, q.stdout)
    # errors in settings, as psql words them
    p = t.cli("-c", "\\pset bogus", "-c", "\\x maybe", "-c", "\\pset format wrapped", socket_path=d.socket)
    check_cli(p, 1)
    assert p.stderr == ("\\pset: unknown option: bogus\n"
                        "unrecognized value \"maybe\" for \"expanded\"\nAvailable values are: on, off, auto.\n"
                        "\\pset: allowed formats are aligned, csv, unaligned\n"), p.stderr


def test_cli_variables_in_sql_and_after_inserts(t):
    d = t.daemon()
    script = ("\\set kind 'it''s'\n"
              "\\set dev 42\n"
              "\\set tbl events\n"
              "INSERT INTO :\"tbl\" (device_id, kind) VALUES (:dev, :'kind'), (:dev, ':kind stays');\n"
              "\\echo :ROW_COUNT :ERROR :SQLSTATE\n"
              "INSERT INTO events (device_id, kind) VALUES (1, NULL), (2, 'b');\n"
              "\\echo :ROW_COUNT :ERROR :SQLSTATE\n"
              "\\echo :LAST_ERROR_SQLSTATE :LAST_ERROR_MESSAGE\n"
              "SELECT 1;\n"
              "\\echo :ERROR :SQLSTATE :ROW_COUNT\n")
    p = t.cli("-v", "ignored=1", input=script, socket_path=d.socket)
    check_cli(p, 1)
    assert p.stdout.splitlines() == [
        "INSERT 0 2", "2 false 00000", "INSERT 0 1", "1 true 23502",
        '23502 null value in column "kind" of relation "events" violates not-null constraint',
        "true 0A000 0"], p.stdout
    rows = t.db.rows("SELECT device_id, kind FROM events ORDER BY id")
    assert rows == [{"device_id": 42, "kind": "it's"}, {"device_id": 42, "kind": ":kind stays"},
                    {"device_id": 2, "kind": "b"}], rows
    # -v sets a variable from the command line; ON_ERROR_STOP also by \set
    p = t.cli("-v", "dev=7", "-c", "INSERT INTO events (device_id, kind) VALUES (:dev, 'v')",
              socket_path=d.socket)
    check_cli(p, 0, "")
    assert t.db.count(where="device_id = 7") == 1
    p = t.cli(input="\\set ON_ERROR_STOP on\nINSERT INTO events (kind) VALUES (1 2);\n"
              "INSERT INTO events (device_id, kind) VALUES (8, 'never');\n", socket_path=d.socket)
    check_cli(p, 3)
    assert t.db.count(where="device_id = 8") == 0


def test_cli_output_file(t):
    """-o and \\o: results and command tags to the file, errors and \\echo to the terminal."""
    d = t.daemon()
    out = os.path.join(t.tmp, "out.txt")
    p = t.cli("-o", out, "-c", "INSERT INTO events (device_id, kind) VALUES (1, 'a') RETURNING device_id",
              "-c", "\\echo to stdout", "-c", "\\qecho to the file",
              "-c", "INSERT INTO events (device_id, kind) VALUES (2, NULL)", socket_path=d.socket)
    check_cli(p, 1)
    assert p.stdout == "to stdout\n", p.stdout
    assert p.stderr.startswith("ERROR:  null value"), p.stderr
    with open(out) as f:
        assert f.read() == " device_id \n-----------\n         1\n(1 row)\n\nINSERT 0 1\nto the file\n"
    p = t.cli("-c", "\\o %s" % out, "-c", "INSERT INTO events (device_id, kind) VALUES (3, 'c')",
              "-c", "\\o", "-c", "INSERT INTO events (device_id, kind) VALUES (4, 'd')", socket_path=d.socket)
    check_cli(p, 0, "")
    assert p.stdout == "INSERT 0 1\n", p.stdout
    with open(out) as f:
        assert f.read() == "INSERT 0 1\n"
    p = t.cli("-o", os.path.join(t.tmp, "no", "such", "dir"), "-c", "\\ping", socket_path=d.socket)
    check_cli(p, 1)
    assert "No such file or directory" in p.stderr, p.stderr


def test_cli_exit_status_is_stricter_than_psql(t):
    """A -f script (or piped input) with a failed statement exits 1; psql exits
    0 there unless ON_ERROR_STOP (README: the CLI keeps the stricter rule)."""
    d = t.daemon()
    path = os.path.join(t.tmp, "s.sql")
    with open(path, "w") as f:
        f.write("INSERT INTO events (device_id, kind) VALUES (1, NULL);\n"
                "INSERT INTO events (device_id, kind) VALUES (2, 'ok');\n")
    check_cli(t.cli("-f", path, socket_path=d.socket), 1)
    check_cli(t.cli(input=open(path).read(), socket_path=d.socket), 1)
    assert t.db.count() == 2
    q = subprocess.run(["psql", "-X", "-q", "-d", t.db.dsn, "-f", path], capture_output=True, text=True,
                       timeout=60)
    assert q.returncode == 0 and "ERROR:" in q.stderr, q


def test_cli_watch(t):
    d = t.daemon()
    p = t.cli("-c", "INSERT INTO events (device_id, kind) VALUES (1, 'w')", "-c", "\\watch 0.05 3",
              socket_path=d.socket, timeout=60)
    check_cli(p, 0, "")
    assert t.db.count() == 4, t.db.count()          # once, then three more times
    assert p.stdout == "INSERT 0 1\n" * 4, p.stdout
    p = t.cli("-c", "\\stats", "-c", "\\watch i=0.05 c=2", socket_path=d.socket, timeout=60)
    check_cli(p, 0, "")
    titles = re.findall(r"^ *(.+) \(every 0\.05s\)$", p.stdout, re.M)
    assert len(titles) == 2, p.stdout                # over the first table of each run
    assert len(re.findall(r"^ rows_received +\| ", p.stdout, re.M)) == 3, p.stdout
    p = t.cli("-At", "-c", "\\ping", "-c", "\\watch i=0.05 c=2", socket_path=d.socket, timeout=60)
    check_cli(p, 0, "")
    assert p.stdout == "sidecar is up, database is up\n" * 3, p.stdout
    p = t.cli("-c", "\\watch 1", socket_path=d.socket)
    check_cli(p, 1)
    assert "nothing to watch" in p.stderr, p.stderr
    # interactively, Ctrl-C ends the watch and the prompt comes back
    pt = t.cli_pty(socket_path=d.socket)
    pt.expect("pgcoalesce=> ")
    pt.send("\\ping\r")
    pt.expect("database is up")
    pt.send("\\watch 0.1\r")
    pt.expect("database is up")
    pt.expect("database is up")
    pt.send("\x03")
    pt.expect("pgcoalesce=> ")
    pt.send("\\q\r")
    assert pt.wait() == 0


def test_cli_history_keeps_a_statement_as_one_entry(t):
    d = t.daemon()
    pt = t.cli_pty(socket_path=d.socket)
    pt.expect("pgcoalesce=> ")
    pt.send("INSERT INTO events (device_id, kind)\r")
    pt.expect("pgcoalesce-> ")
    pt.send("VALUES (1,\r")
    pt.expect("pgcoalesce(> ")
    pt.send("'h');\r")
    pt.expect("INSERT 0 1")
    pt.send("\\ping\r")
    pt.expect("database is up")
    pt.send("\\q\r")
    assert pt.wait() == 0
    with open(os.path.join(t.tmp, ".pgcoalesce_history"), "rb") as f:
        entries = f.read().split(b"\n")
    # psql's file format: a multi-line entry keeps its line breaks as \x01
    assert entries[-4:] == [b"INSERT INTO events (device_id, kind)\x01VALUES (1,\x01'h');",
                            b"\\ping", b"\\q", b""], entries
    # recalled as one entry: Ctrl-P three times goes back past \q and \ping to
    # the whole statement
    pt = t.cli_pty(socket_path=d.socket)
    pt.expect("pgcoalesce=> ")
    pt.send("\x10\x10\x10\r")
    pt.expect("INSERT 0 1")
    pt.send("\\q\r")
    assert pt.wait() == 0
    assert t.db.count() == 2


def test_cli_socket_from_config_file(t):
    """Like the daemon: -s, else PGCOALESCE_SOCKET, else the config file's
    socket (PGCOALESCE_CONFIG, else the installed one), else the default."""
    d = t.daemon()
    conf = os.path.join(t.tmp, "pgcoalesce.conf")
    with open(conf, "w") as f:
        f.write("# a daemon's configuration\nmax-delay-ms = 10\nsocket = \"%s\"\n" % d.socket)
    p = t.cli("-c", "\\conninfo", env={"PGCOALESCE_CONFIG": conf})
    check_cli(p, 0, "")
    assert p.stdout == 'You are connected to the sidecar at "%s".\n' % d.socket, p.stdout
    bad = os.path.join(t.tmp, "none.sock")
    p = t.cli("-c", "\\ping", env={"PGCOALESCE_CONFIG": conf, "PGCOALESCE_SOCKET": bad})
    check_cli(p, 2)
    assert bad in p.stderr, p.stderr
    check_cli(t.cli("-c", "\\ping", env={"PGCOALESCE_CONFIG": conf}, socket_path=d.socket), 0)
    # the installed CLI reads the installed configuration by itself
    from test_ops import make
    inst = os.path.join(t.tmp, "inst")
    try:
        p = make("install", "PREFIX=" + inst, "LDCONFIG=true")
        assert p.returncode == 0, p.stdout + p.stderr
        with open(inst + "/etc/pgcoalesce/pgcoalesce.conf", "a") as f:
            f.write("socket = %s\n" % d.socket)
        p = subprocess.run([inst + "/bin/pgcoalesce-cli", "-c", "\\conninfo"], capture_output=True,
                           text=True, env=t.cli_env(), timeout=60)
        assert p.returncode == 0 and d.socket in p.stdout, p
        p = subprocess.run([inst + "/bin/pgcoalesce-cli", "--help"], capture_output=True, text=True,
                           timeout=60)
        assert inst + "/etc/pgcoalesce/pgcoalesce.conf" in p.stdout, p.stdout
    finally:
        make("uninstall", "PREFIX=" + inst, "LDCONFIG=true")
        assert make().returncode == 0   # the repository's CLI back to its default paths


# ---------------------------------------------------------------- raw JSON, meta-commands

def test_cli_raw_json_lines(t):
    d = t.daemon()
    script = ('{"id": 7, "table": "events", "row": {"device_id": 3, "kind": "raw"}}\n'
              'INSERT INTO events (device_id, kind) VALUES (4, \'\n'
              '{"not": "a request, a string"}\');\n'
              '  {"op": "ping", "id": "p"}\n'
              '{"id": 8, "table": "events", "row": {"device_id": "x", "kind": "bad"}}\n'
              '{broken\n')
    p = t.cli(input=script, socket_path=d.socket)
    check_cli(p, 1, "")
    lines = p.stdout.splitlines()
    assert lines[0] == '{"id":7,"ok":true}', lines
    assert lines[1] == "INSERT 0 1", lines
    assert lines[2] == '{"id":"p","ok":true,"db":"up","features":["describe","on_conflict","key"]}', lines
    bad = json.loads(lines[3])
    assert bad["id"] == 8 and bad["ok"] is False and bad["error"]["code"] == "22P02", bad
    assert json.loads(lines[4])["error"]["code"] == "PC001", lines
    assert len(lines) == 5, lines
    rows = t.db.rows("SELECT device_id, kind FROM events ORDER BY device_id")
    assert rows == [{"device_id": 3, "kind": "raw"},
                    {"device_id": 4, "kind": '\n{"not": "a request, a string"}'}], rows


def test_cli_meta_commands(t):
    d = t.daemon()
    inc = os.path.join(t.tmp, "inc.sql")
    with open(inc, "w") as f:
        f.write("INSERT INTO events (device_id, kind) VALUES (10, 'included');\n"
                "INSERT INTO events (device_id, kind) VALUES (11, NULL);\n"
                "\\q\n"
                "INSERT INTO events (device_id, kind) VALUES (12, 'after q in the file');\n")
    script = ("\\ping\n"
              "\\timing on\n"
              "INSERT INTO events (device_id, kind) VALUES (1, 'a'), (2, 'b');\n"
              "\\timing off\n"
              "\\flush\n"
              "\\i %s\n"
              "\\echo hello  world\n"
              "\\stats\n"
              "\\nosuch\n"
              "\\?\n"
              "\\q\n"
              "INSERT INTO events (device_id, kind) VALUES (99, 'never');\n" % inc)
    p = t.cli(input=script, socket_path=d.socket)
    check_cli(p, 1)
    out = p.stdout
    assert out.startswith("sidecar is up, database is up\nTiming is on.\nINSERT 0 2\n"), out
    # \echo joins its words with one blank, as psql's does
    assert re.search(r"\nINSERT 0 2\nTime: \d+\.\d{3} ms\nTiming is off\.\nFLUSH\nINSERT 0 1\n"
                     r"hello world\n", out), out
    # \stats: the counters, readable
    assert re.search(r"\n rows_received +\| +4\n", out), out
    assert re.search(r"\n rows_committed +\| +3\n", out), out
    assert re.search(r"\n public.events +\| +3 \| +1 \| +0( \||\n)", out), out
    assert "\\ping" in out and "\\flush" in out and "\\stats" in out and "\\timing" in out  # \?
    assert p.stderr.startswith("pgcoalesce-cli:%s:2: ERROR:  null value in column" % inc), p.stderr
    assert "invalid command \\nosuch\nTry \\? for help.\n" in p.stderr, p.stderr
    assert sorted(r["device_id"] for r in t.db.rows("SELECT device_id FROM events")) == [1, 2, 10]


def test_cli_socket_from_environment(t):
    d = t.daemon()
    p = t.cli("-c", "\\ping", env={"PGCOALESCE_SOCKET": d.socket})
    check_cli(p, 0, "")
    assert p.stdout.startswith("sidecar is up, database is "), p.stdout
    # -s wins over the environment
    p = t.cli("-c", "\\ping", env={"PGCOALESCE_SOCKET": "/nonexistent/x.sock"}, socket_path=d.socket)
    check_cli(p, 0, "")


def test_cli_unreachable_socket_exits_2(t):
    path = os.path.join(t.tmp, "nobody-listens.sock")
    for args in (["-c", "\\ping"], []):
        p = t.cli(*args, input="INSERT INTO events (device_id, kind) VALUES (1, 'x');\n",
                  socket_path=path)
        check_cli(p, 2)
        assert p.stdout == "", p
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and '"%s"' % path in lines[0], p.stderr
        assert "No such file or directory" in lines[0], lines


def test_cli_connection_lost_mid_script_exits_2(t):
    d = t.daemon()
    cmd = t.cli_command([], d.socket)
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=t.cli_env())
    try:
        proc.stdin.write("INSERT INTO events (device_id, kind) VALUES (1, 'before');\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "INSERT 0 1\n"
        assert d.stop() == 0
        proc.stdin.write("INSERT INTO events (device_id, kind) VALUES (2, 'after');\n"
                         "INSERT INTO events (device_id, kind) VALUES (3, 'never');\n")
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, (proc.returncode, err)
    assert "connection to the sidecar at \"%s\" lost" % d.socket in err, err
    assert t.db.count() == 1


# ---------------------------------------------------------------- interactive

def test_cli_interactive_prompt(t):
    d = t.daemon()
    p = t.cli_pty(socket_path=d.socket)
    p.expect('Type "\\?" for help.')
    p.expect("pgcoalesce=> ")
    p.send("INSERT INTO events (device_id, kind)\r")
    p.expect("pgcoalesce-> ")          # the statement goes on
    p.send("VALUES (1, 'two\r")
    p.expect("pgcoalesce'> ")          # inside a string
    p.send("lines') RETURNING kind;\r")
    seen = p.expect("INSERT 0 1")
    assert " kind  \r\n-------\r\n two  +\r\n lines\r\n(1 row)\r\n" in seen, repr(seen)
    p.expect("pgcoalesce=> ")
    # Ctrl-C drops the statement being typed
    p.send("INSERT INTO events (device_id, kind) VALUES (2,\r")
    p.expect("pgcoalesce(> ")
    p.send("\x03")
    p.expect("pgcoalesce=> ")
    p.send("\\ping\r")
    p.expect("sidecar is up, database is up")
    p.send("\\q\r")
    assert p.wait() == 0
    assert t.db.rows("SELECT device_id, kind FROM events") == [{"device_id": 1, "kind": "two\nlines"}]
    # the lines went to the history file
    with open(os.path.join(t.tmp, ".pgcoalesce_history")) as f:
        assert "\\ping" in f.read()


def test_cli_interactive_end_of_input(t):
    d = t.daemon()
    p = t.cli_pty("-q", socket_path=d.socket)
    p.expect("pgcoalesce=> ")
    assert "help" not in p.output      # -q: no banner
    p.send("INSERT INTO events (device_id, kind) VALUES (1, NULL);\r")
    p.expect("ERROR:  null value in column")
    p.expect("pgcoalesce=> ")
    p.send("\x04")                     # Ctrl-D at the prompt
    assert p.wait() == 0               # interactive errors do not change the exit status


# ---------------------------------------------------------------- bench

def load_bench_py():
    spec = importlib.util.spec_from_file_location("bench_py", os.path.join(ROOT, "scripts", "bench.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_bench_rows(t):
    d = t.daemon()
    p = t.cli("bench", "--rows", "3000", "--clients", "4", "--pipeline", "8", socket_path=d.socket)
    check_cli(p, 0, "")    # no progress line: stderr is not a terminal
    assert "acked ok: 3000, failed: 0\n" in p.stdout, p.stdout
    assert 'table "events", 4 clients x 8 in flight, 3000 rows' in p.stdout, p.stdout
    rate, p50, p99 = load_bench_py().parse_cli_bench(p.stdout)   # what make bench reads
    assert rate > 0 and 0 < p50 <= p99, (rate, p50, p99)
    m = re.search(r"ack latency: p50 ([0-9.]+) ms, p99 ([0-9.]+) ms, max ([0-9.]+) ms", p.stdout)
    assert m and float(m.group(1)) <= float(m.group(2)) <= float(m.group(3)), p.stdout
    assert t.db.count() == 3000
    assert t.db.scalar("SELECT count(DISTINCT device_id) FROM events") == 1000
    assert t.db.count(where="kind = 'bench' AND value = 1.5 AND payload = '{\"n\": 1}'") == 3000


def test_cli_bench_upserts_and_keys(t):
    """bench --upsert add: every upsert counted once in hits (sum), device ids
    1..--devices, Zipf-skewed (the most frequent id is 1); --upsert set keeps
    the counters; --keys stores one key per row. Bad options exit 2. (Needs
    the daemon side of issue 13: bench refuses a sidecar without it.)"""
    d = t.daemon()
    for bad in (["--upsert", "merge"], ["--upsert", "add", "--row", "{}"], ["--zipf", "x"],
                ["--devices", "0"]):
        check_cli(t.cli("bench", *bad, socket_path=d.socket), 2)
    p = t.cli("bench", "--upsert", "add", "--devices", "50", "--rows", "3000", "--clients", "4",
              "--pipeline", "16", socket_path=d.socket)
    check_cli(p, 0, "")
    assert 'table "devices", 4 clients x 16 in flight, 3000 rows' in p.stdout, p.stdout
    assert "acked ok: 3000, failed: 0\n" in p.stdout, p.stdout
    rows = t.db.rows("SELECT device_id, hits, kind FROM devices ORDER BY hits DESC, device_id")
    assert sum(r["hits"] for r in rows) == 3000, rows[:5]
    assert all(1 <= r["device_id"] <= 50 and r["kind"] == "bench" for r in rows), rows[:5]
    assert rows[0]["device_id"] == 1 and rows[0]["hits"] > 2 * rows[-1]["hits"], rows  # skewed toward 1
    p = t.cli("bench", "--upsert", "set", "--rows", "1000", socket_path=d.socket)
    check_cli(p, 0, "")
    assert t.db.scalar("SELECT sum(hits) FROM devices") == 3000 + t.db.scalar(
        "SELECT count(*) FROM devices WHERE device_id > 50")  # set inserts new ids with hits 1, adds nothing
    p = t.cli("bench", "--keys", "--rows", "500", socket_path=d.socket)
    check_cli(p, 0, "")
    assert t.db.count() == 500 and t.db.scalar("SELECT count(*) FROM pgcoalesce.keys") == 500


def test_cli_bench_duration_and_failures(t):
    d = t.daemon()
    p = t.cli("bench", "--duration", "1", "--clients", "2", "--pipeline", "4", socket_path=d.socket)
    check_cli(p, 0, "")
    ok = int(re.search(r"acked ok: (\d+), failed: 0", p.stdout).group(1))
    assert ok > 0 and t.db.count() == ok, (ok, t.db.count())
    # another table and row; rows that fail are counted and the first error shown
    p = t.cli("bench", "--table", "t_checks", "--row", '{"id": 1, "v": 1}', "--rows", "20",
              "--clients", "1", "--pipeline", "1", socket_path=d.socket)
    check_cli(p, 1)
    assert "acked ok: 1, failed: 19\n" in p.stdout, p.stdout
    assert 'first error: 23505 duplicate key value violates unique constraint "t_checks_pkey"' in p.stdout
    assert t.db.count("t_checks") == 1
    # another table without --row: rows of defaults
    p = t.cli("bench", "--table", "t_defaults", "--rows", "5", "--clients", "1", "--pipeline", "2",
              socket_path=d.socket)
    check_cli(p, 0, "")
    assert t.db.count("t_defaults") == 5
    p = t.cli("bench", "--rows", "10", "--duration", "1", socket_path=d.socket)
    check_cli(p, 2)
    p = t.cli("bench", "--rows", "10", "--row", '{"id": 2} x', socket_path=d.socket)
    check_cli(p, 2)
    assert "--row must be a JSON object on one line" in p.stderr, p.stderr
    p = t.cli("bench", "--rows", "10", socket_path=os.path.join(t.tmp, "none.sock"))
    check_cli(p, 2)
    assert "none.sock" in p.stderr


def test_cli_bench_progress_on_a_terminal(t):
    d = t.daemon()
    p = t.cli_pty("bench", "--duration", "2.5", "--clients", "2", "--pipeline", "4", socket_path=d.socket)
    p.expect(re.compile(r"\r +[12]\.0 s  \d+ rows acked \(0 failed\)  \d+ rows/s in the last second"))
    p.expect("acked ok: ")
    assert p.wait() == 0
