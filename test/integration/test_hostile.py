"""Hostile input: malformed lines, wrong types in every field, huge lines,
deep nesting, invalid UTF-8, names that try SQL injection. Every line gets
exactly one answer and the connection stays usable.

Where each PC error code is tested:
  PC001 invalid_json          test_not_json_is_pc001, test_deep_nesting_is_refused
  PC002 invalid_request       test_wrong_types_are_pc002, test_duplicates_are_pc002,
                              test_invalid_utf8_and_nul_are_pc002
  PC003 request_too_large     test_line_too_long_is_pc003_and_connection_stays_usable
  PC004 overloaded            test_overload.test_overload_reject_answers_pc004
  PC005 shutting_down         test_shutdown_answers_pc005
  PC006 database_unavailable  test_faults.test_database_down_past_retry_timeout_is_pc006 (and others)
  PC007 commit_unknown        test_faults.test_commit_outcome_unknown_is_pc007
  PC008 table_not_allowed     test_overload.test_allow_table
  PC009 unknown_op            test_unknown_op_is_pc009
"""
import json
import signal

from faultkit import Session
from harness import insert, wait_for

EVENT = {"device_id": 1, "kind": "x"}


def answers(c, lines):
    """Send raw lines pipelined; return the answers in order (one per line, or fail)."""
    c.send_raw(b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n" for l in lines))
    return c.recv_n(len(lines), timeout=30)


def codes(acks):
    return [a["error"]["code"] if not a["ok"] else "ok" for a in acks]


def assert_usable(c):
    ack = c.request({"op": "ping", "id": "still"})
    assert ack["id"] == "still" and ack["ok"], ack


def test_not_json_is_pc001(t):
    c = t.daemon().client()
    lines = ["", "   ", "\r", "not json", "{", '{"id":1,', '{"id":1} x', '{"id":2}{"id":3}', "[1,2]",
             '"str"', "42", "null", "true", "}{"]
    acks = answers(c, lines)
    assert codes(acks) == ["PC001"] * len(lines), acks
    assert all(a["id"] is None for a in acks), acks
    assert_usable(c)


def test_wrong_types_are_pc002(t):
    """Every field with every wrong type: PC002 naming the field, the id echoed."""
    c = t.daemon().client()
    bad = {
        "op": [5, None, [], {}, True],
        "table": [5, "", None, [], {}, True],
        "schema": [5, "", None, [], {}],
        "row": [[], "x", 5, None, True],
        "returning": ["id", [5], [""], {}, 5, [None], [["id"]]],
    }
    n = 0
    for field, values in bad.items():
        for v in values:
            req = {"id": n, "table": "events", "row": EVENT}
            req[field] = v
            ack = c.request(req)
            assert ack["id"] == n and not ack["ok"] and ack["error"]["code"] == "PC002", (req, ack)
            assert '"%s"' % field in ack["error"]["message"], (req, ack)
            n += 1
    for req in [{"id": n, "row": EVENT}, {"id": n + 1, "table": "events"}]:  # missing fields
        ack = c.request(req)
        assert not ack["ok"] and ack["error"]["code"] == "PC002", (req, ack)
    for v in ([1], {"a": 1}):  # the id itself: not a scalar, so it cannot be echoed
        ack = c.request({"id": v, "op": "ping"})
        assert ack["id"] is None and ack["error"]["code"] == "PC002" and '"id"' in ack["error"]["message"], ack
    # wrong value types are PostgreSQL's to refuse, row by row
    acks = c.by_id(answers(c, [json.dumps({"id": "v%d" % i, "table": "events", "row": {"device_id": v, "kind": "x"}})
                                for i, v in enumerate(["abc", 1.5, True, [1], {"a": 1}])]))
    assert {a["error"]["code"] for a in acks.values()} == {"22P02"}, acks
    assert t.db.count() == 0
    assert_usable(c)


def test_duplicates_are_pc002(t):
    c = t.daemon().client()
    lines = ['{"id":1,"id":2,"op":"ping"}',
             '{"id":3,"table":"events","table":"t_keyed","row":{"k":"x"}}',
             '{"id":4,"table":"events","row":{"kind":"x"},"row":{"kind":"y"}}',
             '{"id":5,"table":"events","row":{"device_id":1,"kind":"x","kind":"y"}}',
             '{"id":6,"table":"events","row":{"device_id":1,"":"x"}}']
    acks = answers(c, lines)
    assert codes(acks) == ["PC002"] * 5, acks
    assert [a["id"] for a in acks[1:]] == [3, 4, 5, 6], acks
    assert "duplicate" in acks[0]["error"]["message"] and "kind" in acks[3]["error"]["message"], acks
    assert t.db.count() == 0
    assert_usable(c)


def test_invalid_utf8_and_nul_are_pc002(t):
    """Invalid UTF-8 (bad bytes, overlong forms, encoded surrogates) and U+0000
    anywhere in a string are refused, never truncated or stored."""
    c = t.daemon().client()
    row = b'{"id":%d,"table":"events","row":{"device_id":1,"kind":"%s"}}'
    lines = [row % (1, b"\xff"), row % (2, b"\xc0\x80"), row % (3, b"\xed\xa0\x80"), row % (4, b"a\xe2\x82"),
             row % (5, b"\xf8\x88\x80\x80\x80"), row % (6, b"a\\u0000b"),
             b'{"id":7,"table":"events","row":{"device_id":1,"k\xffind":"x"}}',
             b'{"id":8,"table":"ev\\u0000ents","row":{}}',
             b'{"id":9,"table":"events","row":{"device_id":1,"ki\\u0000nd":"x"}}',
             row % (10, b"\\ud800"), row % (11, b"\\udc00x"), row % (12, b"\\ud800\\u0041")]  # lone surrogates
    acks = answers(c, lines + [b"\xff\xfe"])  # not even JSON, and not UTF-8: no id to echo
    assert codes(acks) == ["PC002"] * (len(lines) + 1), acks
    assert [a["id"] for a in acks] == list(range(1, 13)) + [None], acks
    assert t.db.count() == 0
    # an id that is itself not text cannot be echoed: the answer carries "id": null
    # and is valid UTF-8 JSON (recv fails otherwise)
    bad_ids = [b'{"id":"\xff","table":"events","row":{}}', b'{"id":"a\x00b","table":"events","row":{}}',
               b'{"id":"ok\\u00e9","table":"events","row":{"kind":"\xc0\x80"}}']
    acks = answers(c, bad_ids)
    assert codes(acks) == ["PC002"] * 3 and [a["id"] for a in acks] == [None, None, "ok\u00e9"], acks
    assert t.db.count() == 0
    ok = c.request({"id": 20, "table": "events", "row": {"device_id": 1, "kind": "\u00e9\u6f22\U0001F600"}})
    assert ok == {"id": 20, "ok": True}
    assert t.db.scalar("SELECT kind FROM events") == "\u00e9\u6f22\U0001F600"


def test_line_too_long_is_pc003_and_connection_stays_usable(t):
    d = t.daemon("--max-request-bytes", "1024")
    c = d.client()
    fits = json.dumps({"id": "fits", "table": "events", "row": {"device_id": 1, "kind": ""}})
    fits = fits.replace('"kind": ""', '"kind": "%s"' % ("a" * (1024 - len(fits))))
    assert len(fits) == 1024
    big = json.dumps({"id": "big", "table": "events", "row": {"device_id": 1, "kind": "b" * 5000}})
    huge = b'{"id":"huge","kind":"' + b"h" * (10 << 20) + b'"}'
    acks = answers(c, [fits, big, fits.replace("fits", "fit2"), huge, "{\"op\":\"ping\",\"id\":\"after\"}"])
    ok = sorted(a["id"] for a in acks if a["ok"])  # answers come in any order
    too_long = [a for a in acks if not a["ok"]]
    assert ok == ["after", "fit2", "fits"], acks
    assert [(a["id"], a["error"]["code"]) for a in too_long] == [(None, "PC003")] * 2, acks
    assert "--max-request-bytes" in too_long[0]["error"]["message"]
    # a long line arriving in pieces is still one request: one answer
    for i in range(0, 3000, 100):
        c.send_raw(b"x" * 100)
    c.send_raw(b"\n")
    assert c.recv()["error"]["code"] == "PC003"
    assert_usable(c)
    assert t.db.count() == 2


def test_deep_nesting_is_refused(t):
    """100,000 levels of nesting, anywhere in a request: refused (PC001), no
    crash, no stack overflow; the connection stays usable."""
    c = t.daemon().client()
    deep_a = "[" * 100000 + "]" * 100000
    deep_o = '{"a":' * 100000 + "1" + "}" * 100000
    lines = ['{"id":1,"table":"events","row":{"device_id":1,"kind":"x","payload":%s}}' % deep_a,
             '{"id":2,"table":"events","row":{"device_id":1,"kind":"x","payload":%s}}' % deep_o,
             '{"id":%s,"op":"ping"}' % deep_a, deep_a, deep_o, "[" * 100000, '{"a":' * 100000]
    acks = answers(c, lines)
    assert codes(acks) == ["PC001"] * len(lines), acks
    # nesting a JSON parser can afford still works, and is stored exactly
    ok = {"id": 3, "table": "events", "row": {"device_id": 1, "kind": "x", "payload": [[[[[[[[[[1]]]]]]]]]]}}
    assert c.request(ok) == {"id": 3, "ok": True}
    assert t.db.scalar("SELECT payload::text FROM events") == "[[[[[[[[[[1]]]]]]]]]]"
    assert_usable(c)


def test_unknown_op_is_pc009(t):
    c = t.daemon().client()
    acks = answers(c, ['{"op":"drop","id":1}', '{"op":"","id":2}', '{"op":"PING","id":3}',
                       '{"op":"insert ","id":4,"table":"events","row":{}}'])
    assert codes(acks) == ["PC009"] * 4 and [a["id"] for a in acks] == [1, 2, 3, 4], acks
    # the op is quoted in the message cut at 200 bytes, mid-character here:
    # the answer stays valid UTF-8 (recv fails otherwise)
    ack = answers(c, ['{"op":"%s","id":5}' % ("\u6f22" * 100)])[0]
    assert ack["error"]["code"] == "PC009" and ack["error"]["message"].startswith('unknown op "\u6f22'), ack
    assert_usable(c)


def test_every_line_answered_once_in_a_hostile_mix(t):
    """Garbage, valid inserts and control requests pipelined in one write:
    exactly one answer per line, valid rows stored, nothing else."""
    c = t.daemon("--max-request-bytes", "4096").client()
    garbage = ["", "nope", "[]", '{"id":"g1","op":5}', '{"id":"g2","table":"events"}', "x" * 5000,
               '{"id":"g3","op":"nope"}', '{"id":"g4","table":"events","row":{"device_id":1,"kind":"a\\u0000"}}']
    lines = []
    for i in range(300):
        lines.append(json.dumps(insert("ok%d" % i, device_id=i, kind="k")))
        lines.append(garbage[i % len(garbage)])
        if i % 50 == 0:
            lines.append('{"op":"flush","id":"f%d"}' % i)
            lines.append('{"op":"stats","id":"s%d"}' % i)
    acks = answers(c, lines)
    assert len(acks) == len(lines)
    ok_ids = sorted(a["id"] for a in acks if a["ok"] and str(a["id"]).startswith("ok"))
    assert ok_ids == sorted("ok%d" % i for i in range(300)), len(ok_ids)
    assert sum(1 for a in acks if not a["ok"]) == 300
    assert t.db.count() == 300
    assert c.request({"op": "ping", "id": "last"})["id"] == "last"  # no answer left over


def test_sql_injection_in_names_is_only_data(t):
    """Table, schema, column and RETURNING names are identifiers, quoted
    exactly; values are parameters. Nothing here runs as SQL."""
    c = t.daemon().client()
    attempts = [
        {"id": 1, "table": "events; DROP TABLE events; --", "row": EVENT},
        {"id": 2, "table": 'events"; DROP TABLE events; --', "row": EVENT},
        {"id": 3, "schema": "public; DROP TABLE events; --", "table": "events", "row": EVENT},
        {"id": 4, "table": "events", "row": {"device_id": 1, "kind) VALUES (1,'x'); DROP TABLE events; --": "x"}},
        {"id": 5, "table": "events", "row": EVENT, "returning": ["id; DROP TABLE events"]},
        {"id": 6, "table": "events", "row": {"device_id": 1, 'kind" text); DROP TABLE events; --': "x"}},
    ]
    acks = [c.request(a) for a in attempts]
    assert codes(acks) == ["42P01", "42P01", "42P01", "42703", "42703", "42703"], acks
    # the value is a parameter: stored verbatim
    value = "'); DROP TABLE events; --"
    assert c.request({"id": 7, "table": "events", "row": {"device_id": 1, "kind": value}}) == {"id": 7, "ok": True}
    # real tables and columns with such names are written like any other
    ack = c.request({"id": 8, "table": "t'; DROP TABLE events; --",
                     "row": {'c"; DROP TABLE events; --': "one", "a'b": "two"}, "returning": ["*"]})
    assert ack == {"id": 8, "ok": True, "row": {"id": 1, 'c"; DROP TABLE events; --': "one", "a'b": "two"}}, ack
    assert c.request({"id": 9, "schema": "public", "table": "odd.name", "row": {"v": "dot"}}) == {"id": 9, "ok": True}
    assert t.db.rows("SELECT kind FROM events") == [{"kind": value}]
    assert t.db.rows('SELECT "a\'b" AS v FROM "t\'; DROP TABLE events; --"') == [{"v": "two"}]
    assert t.db.rows('SELECT v FROM "odd.name"') == [{"v": "dot"}]
    assert t.db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'events'") == 1


def test_search_path_functions_do_not_stand_in_for_the_sidecars_own(t):
    """A role whose search_path puts a schema before pg_catalog, holding an
    unnest(int4[]), an unnest(text[]) and a text = text of its own: the
    sidecar's INSERTs, key writes and key checks still use PostgreSQL's
    (an unqualified one-array unnest would store 42 / 'hijacked'; an
    unqualified = would match every stored key). The impostor = differs
    from PostgreSQL's only on keys; test_search_path_operators_… covers the
    catalog's."""
    t.db.execute("CREATE TABLE hs (v int4); CREATE TABLE ht (v text); CREATE SCHEMA ev; "
                 "CREATE FUNCTION ev.unnest(pg_catalog.int4[]) RETURNS SETOF pg_catalog.int4 "
                 "LANGUAGE sql AS 'SELECT 42'; "
                 "CREATE FUNCTION ev.unnest(pg_catalog.text[]) RETURNS SETOF pg_catalog.text "
                 "LANGUAGE sql AS $$SELECT 'hijacked'$$; "
                 # equal, and also any two strings starting "k-" (the keys below)
                 "CREATE FUNCTION ev.keys_equal(a pg_catalog.text, b pg_catalog.text) "
                 "RETURNS pg_catalog.bool LANGUAGE sql AS 'SELECT a OPERATOR(pg_catalog.=) b OR "
                 "(pg_catalog.starts_with(a, ''k-'') AND pg_catalog.starts_with(b, ''k-''))'; "
                 "CREATE OPERATOR ev.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, "
                 "FUNCTION = ev.keys_equal)")
    d = t.daemon(dsn=t.db.dsn + " options='-c search_path=ev,pg_catalog,public'")
    c = d.client()
    assert c.request({"id": 1, "table": "hs", "row": {"v": 7}}) == {"id": 1, "ok": True}
    assert c.request({"id": 2, "table": "ht", "row": {"v": "mine"}}) == {"id": 2, "ok": True}
    assert c.request({"id": 3, "table": "ht", "row": {"v": "keyed"}, "key": "k-1"}) == {"id": 3, "ok": True}
    assert c.request({"id": 4, "table": "ht", "row": {"v": "keyed"}, "key": "k-1"}) == \
        {"id": 4, "ok": True, "duplicate": True}
    # two keys stored: an impostor = would make the key check match both
    assert c.request({"id": 5, "table": "ht", "row": {"v": "second"}, "key": "k-2"}) == {"id": 5, "ok": True}
    assert c.request({"id": 6, "table": "ht", "row": {"v": "third"}, "key": "k-3"}) == {"id": 6, "ok": True}
    assert t.db.rows("SELECT v FROM hs") == [{"v": 7}]
    assert t.db.rows("SELECT v FROM ht ORDER BY v") == [{"v": "keyed"}, {"v": "mine"}, {"v": "second"},
                                                         {"v": "third"}]
    assert t.db.rows("SELECT key FROM pgcoalesce.keys ORDER BY key") == [{"key": "k-1"}, {"key": "k-2"},
                                                                         {"key": "k-3"}]


# Operators of a role's own schema, ahead of pg_catalog on its search_path,
# each wrong where the sidecar would use it unqualified: catalog joins
# (oid = oid), column numbers (int2 > int4), type kinds ("char" = "char"),
# type names (text || text), an upsert's action (xid = int4), the key
# table's DDL and pruning (text = text, timestamptz < timestamptz). Each one
# alone made the version before the catalog queries were qualified fail.
IMPOSTORS = [
    ("=", "oid", "oid", "SELECT false"),
    (">", "int2", "int4", "SELECT false"),
    ("=", '"char"', '"char"', "SELECT a OPERATOR(pg_catalog.<>) b"),
    ("||", "text", "text", "SELECT 'hijacked'::pg_catalog.text"),
    ("=", "xid", "int4", "SELECT false"),
    ("=", "text", "text", "SELECT false"),
    ("<", "timestamptz", "timestamptz", "SELECT false"),
]


def test_search_path_operators_do_not_stand_in_for_pg_catalogs(t):
    """A role whose search_path puts a schema before pg_catalog, holding
    wrong operators (IMPOSTORS) of the kinds the sidecar's catalog, set-up,
    key and upsert statements use: every row is still written as a direct
    INSERT with PostgreSQL's own operators writes it, arrays of json and
    domains included; describe names the true columns and types; upserts
    say insert, then update; keyed rows are stored once and pruned."""
    cols = "(id int PRIMARY KEY, v text, n numeric(6,2), js json[], d hx_pos, g int GENERATED ALWAYS AS (id * 2) STORED)"
    sql = ["CREATE DOMAIN hx_pos AS int CHECK (VALUE > 0)",
           "CREATE TABLE hx %s" % cols, "CREATE TABLE hx_twin %s" % cols, "CREATE SCHEMA ev"]
    for k, (op, left, right, body) in enumerate(IMPOSTORS):
        sql.append("CREATE FUNCTION ev.f%d(a pg_catalog.%s, b pg_catalog.%s) RETURNS %s LANGUAGE sql AS $$%s$$"
                   % (k, left, right, "pg_catalog.text" if op == "||" else "pg_catalog.bool", body))
        sql.append("CREATE OPERATOR ev.%s (LEFTARG = pg_catalog.%s, RIGHTARG = pg_catalog.%s, FUNCTION = ev.f%d)"
                   % (op, left, right, k))
    t.db.execute("; ".join(sql))
    d = t.daemon("--key-retention", "1", "--retry-timeout-ms", "500",   # keys pruned after 11 s (keys.c)
                 dsn=t.db.dsn + " options='-c search_path=ev,pg_catalog,public'")
    c = d.client()
    rows = [{"id": 1, "v": "a", "n": "1.5", "js": [{"k": [1, "x"]}, [1, 2]], "d": 7},
            {"id": 2, "v": "b\tc", "n": 2, "js": None, "d": 1}]
    for r in rows:
        ack = c.request({"id": r["id"], "table": "hx", "row": r})
        assert ack == {"id": r["id"], "ok": True}, ack
        t.db.execute("INSERT INTO hx_twin (id, v, n, js, d) VALUES (%d, %s, %s, %s, %d)" % (
            r["id"], "'%s'" % r["v"], "'%s'" % r["n"],
            "NULL" if r["js"] is None else   # each element's text as the client sent it (json keeps text)
            "ARRAY[%s]::json[]" % ", ".join("'%s'" % json.dumps(e, ensure_ascii=False) for e in r["js"]), r["d"]))
    bad = c.request({"id": 3, "table": "hx", "row": {"id": 3, "d": 0}})
    assert not bad["ok"] and bad["error"]["code"] == "23514", bad     # the domain's CHECK, as INSERT says
    bad = c.request({"id": 4, "table": "hx", "row": {"id": 4, "g": 1}})
    assert not bad["ok"] and bad["error"]["code"] == "428C9", bad     # the generated column, as INSERT says
    q = "SELECT id, v, n::text, js::text, d, g FROM %s ORDER BY id"
    got, want = t.db.rows(q % "hx"), t.db.rows(q % "hx_twin")
    assert got == want and len(got) == 2, (got, want)

    ack = c.request({"op": "describe", "id": "d", "table": "hx"})
    assert ack["ok"] and ack["relation"] == "public.hx", ack
    assert [(col["name"], col["type"], col["generated"]) for col in ack["columns"]] == [
        ("id", "integer", None), ("v", "text", None), ("n", "numeric(6,2)", None), ("js", "json[]", None),
        ("d", "hx_pos", None), ("g", "integer", "stored")], ack

    up = {"columns": ["id"], "do": "update", "set": ["v"]}
    acks = [c.request({"id": "u%d" % i, "table": "hx", "row": {"id": 9, "v": "u%d" % i}, "on_conflict": up})
            for i in range(2)]
    assert [a.get("action") for a in acks] == ["insert", "update"], acks
    assert t.db.rows("SELECT v FROM hx WHERE id = 9") == [{"v": "u1"}]

    keyed = {"id": "k", "table": "hx", "row": {"id": 20, "v": "keyed"}, "key": "k-1"}
    assert c.request(keyed) == {"id": "k", "ok": True}
    assert c.request(dict(keyed, id="k2")) == {"id": "k2", "ok": True, "duplicate": True}
    assert t.db.rows("SELECT key FROM pgcoalesce.keys") == [{"key": "k-1"}]
    wait_for(lambda: d.stats().get("keys_pruned") == 1, 40, interval=0.2, what="the key pruned")
    assert t.db.scalar("SELECT count(*) FROM pgcoalesce.keys") == 0
    assert "level=warn" not in d.log() and "level=error" not in d.log(), d.log()


def test_search_path_operator_does_not_let_copy_write_an_identity_column(t):
    """--write-path copy: a "char" = of the role's own, ahead of pg_catalog,
    that says attidentity is never 'a', must not make the sidecar take an
    identity ALWAYS column for one COPY may write: the row still gets
    INSERT's 428C9, and a plain row still goes by COPY."""
    t.db.execute('CREATE TABLE hi (id int GENERATED ALWAYS AS IDENTITY, v int); CREATE SCHEMA ev; '
                 'CREATE FUNCTION ev.char_eq(a pg_catalog."char", b pg_catalog."char") '
                 'RETURNS pg_catalog.bool LANGUAGE sql AS $$SELECT a OPERATOR(pg_catalog.=) b '
                 "AND b OPERATOR(pg_catalog.<>) 'a'$$; "
                 'CREATE OPERATOR ev.= (LEFTARG = pg_catalog."char", RIGHTARG = pg_catalog."char", '
                 'FUNCTION = ev.char_eq)')
    d = t.daemon("--write-path", "copy", dsn=t.db.dsn + " options='-c search_path=ev,pg_catalog,public'")
    c = d.client()
    assert c.request({"id": 1, "table": "hi", "row": {"v": 1}}) == {"id": 1, "ok": True}
    r = c.request({"id": 2, "table": "hi", "row": {"id": 99, "v": 2}})
    assert not r["ok"] and r["error"]["code"] == "428C9", r
    assert t.db.rows("SELECT id, v FROM hi") == [{"id": 1, "v": 1}]
    assert d.stats()["copy_statements"] >= 1


def test_shutdown_answers_pc005(t):
    """After SIGTERM: new requests get PC005 at once (ping still answered);
    rows not written within --shutdown-timeout-ms get PC005 and are not stored."""
    d = t.daemon("--shutdown-timeout-ms", "3000")
    holder = Session(t, "BEGIN; LOCK TABLE t_keyed IN ACCESS EXCLUSIVE MODE;", "holder")
    c = d.client()
    c.send(*[insert("p%d" % i, "t_keyed", k="p%d" % i) for i in range(10)])
    wait_for(lambda: d.stats()["pending_rows"] == 10, 30, what="10 pending rows")
    d.send_signal(signal.SIGTERM)
    wait_for(lambda: "shutting down" in d.log(), 10, what="the shutdown to begin")
    late = c.request(insert("late", "t_keyed", k="late"))
    assert late["id"] == "late" and late["error"]["code"] == "PC005", late
    assert c.request({"op": "ping", "id": "p"})["ok"]
    acks = c.recv_n(10)
    assert {a["error"]["code"] for a in acks} == {"PC005"}, acks
    assert d.wait_exit(30) == 0
    holder.release()
    assert t.db.count("t_keyed") == 0


def test_empty_row_takes_defaults(t):
    """`{}` is a row of defaults (and no column list for the decoder to sort)."""
    c = t.daemon().client()
    ack = c.request({"id": 1, "table": "t_defaults", "row": {}, "returning": ["tag"]})
    assert ack == {"id": 1, "ok": True, "row": {"tag": "none"}}, ack
