"""Every value rule of PROTOCOL.md, checked against what PostgreSQL stores (issue 2)."""
import json

from harness import Failure


def send_rows(t, d, table, raw_rows):
    """Insert rows given as raw JSON object text (so numbers stay exactly as
    written); returns the acks in order of the rows."""
    c = d.client()
    c.send_raw("".join('{"id":%d,"table":%s,"row":%s}\n' % (i, json.dumps(table), r)
                       for i, r in enumerate(raw_rows)))
    acks = c.by_id(c.recv_n(len(raw_rows)))
    return [acks[str(i)] for i in range(len(raw_rows))]


def one(t, d, table, raw_row, select):
    """Insert one raw row, expect ok, return `select` of that row as text columns."""
    ack = send_rows(t, d, table, [raw_row])[0]
    assert ack["ok"] is True, (raw_row, ack)
    rows = t.db.rows("SELECT %s FROM %s ORDER BY id DESC LIMIT 1" % (select, table))
    return rows[0]


def test_numbers_reach_postgresql_digit_for_digit(t):
    d = t.daemon()
    cases = [
        ("n", "12345678901234567890.123456789012345678", "12345678901234567890.123456789012345678"),
        ("n", "-0.000000000000000000000000000001", "-0.000000000000000000000000000001"),
        ("n", "1.50", "1.50"),
        ("n", "1E+2", "100"),
        ("n", "2.5e-3", "0.0025"),
        ("b", "9223372036854775807", "9223372036854775807"),
        ("b", "-9223372036854775808", "-9223372036854775808"),
        ("i", "-2147483648", "-2147483648"),
        ("f", "0.1", "0.1"),
        ("f", "1.7976931348623157e308", "1.7976931348623157e+308"),
        ("f", "5e-324", "5e-324"),
        ("r", "3.4028235e38", "3.4028235e+38"),
        ("t", "1.50", "1.50"),             # a number into text keeps its spelling
        ("t", "-0", "-0"),
    ]
    acks = send_rows(t, d, "t_values", ['{"%s":%s,"u":null}' % (col, lit) for col, lit, _ in cases])
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]]
    stored = t.db.rows("SELECT id, n::text, b::text, i::text, f::text, r::text, t FROM t_values ORDER BY id")
    for (col, lit, want), row in zip(cases, stored):
        assert row[col] == want, "%s=%s stored as %r, want %r" % (col, lit, row[col], want)


def test_out_of_range_numbers_fail_with_postgresql_errors(t):
    d = t.daemon()
    acks = send_rows(t, d, "t_values", ['{"i":2147483648}', '{"b":9223372036854775808}',
                                        '{"i":1.5}', '{"i":7}'])
    assert acks[0]["error"]["code"] == "22003", acks[0]
    assert acks[1]["error"]["code"] == "22003", acks[1]
    assert acks[2]["error"]["code"] == "22P02", acks[2]
    assert acks[3] == {"id": 3, "ok": True}, acks[3]
    assert t.db.rows("SELECT i FROM t_values") == [{"i": 7}]


def test_text_with_any_unicode_is_stored_exactly(t):
    d = t.daemon()
    texts = ["h\u00e9llo", "\u65e5\u672c\u8a9e", "\U0001F600 emoji", "tab\there\nnewline\r",
             'quote " and backslash \\', "{braces,comma}", "NULL", "", " lead and trail ",
             "e\u0301 combining", "\u05e9\u05dc\u05d5\u05dd rtl", "\u2028\u2029", "\x7f\x01"]
    raw = ['{"t":%s}' % json.dumps(s, ensure_ascii=(k % 2 == 0)) for k, s in enumerate(texts)]
    acks = send_rows(t, d, "t_values", raw)
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]]
    stored = [r["t"] for r in t.db.rows("SELECT t FROM t_values ORDER BY id")]
    assert stored == texts, [(a, b) for a, b in zip(stored, texts) if a != b]
    # "NULL" is a string, never SQL NULL; "" is not NULL either
    assert t.db.scalar("SELECT count(*) FROM t_values WHERE t IS NULL") == 0


def test_text_reaches_a_non_utf8_database_converted(t):
    """Requests are UTF-8 whatever the database's encoding: the sidecar's
    connections speak UTF-8 (even when PGCLIENTENCODING says otherwise), so a
    LATIN1 database stores \u00e9 as one character, and a character LATIN1
    cannot hold fails for its row alone with PostgreSQL's 22P05 (the answer
    itself valid UTF-8)."""
    from harness import Database
    name = "latin1_%d" % t.next_serial()
    Database(t.cluster, "postgres").execute(
        "CREATE DATABASE %s TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'" % name)
    db = Database(t.cluster, name)
    db.execute("CREATE TABLE words (id serial PRIMARY KEY, w text NOT NULL)")
    d = t.daemon(dsn=db.dsn, env={"PGCLIENTENCODING": "LATIN1"})
    c = d.client()
    c.send({"id": 1, "table": "words", "row": {"w": "caf\u00e9"}},
           {"id": 2, "table": "words", "row": {"w": "\u6f22"}},
           {"id": 3, "table": "words", "row": {"w": "plain"}})
    acks = c.by_id(c.recv_n(3))
    assert acks["1"] == {"id": 1, "ok": True} and acks["3"] == {"id": 3, "ok": True}, acks
    assert acks["2"]["error"]["code"] == "22P05", acks
    assert "LATIN1" in acks["2"]["error"]["message"], acks
    stored = db.rows("SELECT length(w) AS n, encode(convert_to(w, 'UTF8'), 'hex') AS utf8 FROM words ORDER BY id")
    assert stored == [{"n": 4, "utf8": "café".encode().hex()}, {"n": 5, "utf8": b"plain".hex()}], stored


def test_u0000_is_refused_never_truncated(t):
    d = t.daemon()
    c = d.client()
    c.send_raw('{"id":1,"table":"t_values","row":{"t":"before\\u0000after"}}\n')
    a = c.recv()
    assert a["id"] == 1 and a["ok"] is False and a["error"]["code"] == "PC002", a
    assert "U+0000" in a["error"]["message"], a
    c.send_raw(b'{"id":2,"table":"t_values","row":{"t":"raw\x00nul"}}\n')
    a = c.recv()
    assert a["ok"] is False and a["error"]["code"] in ("PC001", "PC002"), a
    c.send_raw('{"id":3,"table":"t_values","row":{"j":{"k":"\\u0000"}}}\n')
    a = c.recv()
    assert a["ok"] is False and a["error"]["code"] == "PC002", a
    assert t.db.count("t_values") == 0


def test_json_and_jsonb_columns_take_objects_and_arrays(t):
    d = t.daemon()
    acks = send_rows(t, d, "t_values", [
        '{"j":{"a":1.50,"b":[true,null,"x"],"c":{"d":12345678901234567890}},'
        '"jb":{"z":1,"a":[1,2,{"q":"\\u00e9"}]}}',
        '{"j":[1,2,3],"jb":[{"a":1}]}',
        '{"j":"{\\"as\\": \\"text\\"}","jb":"\\"a JSON string, as text\\""}',
        '{"j":42,"jb":true}',
    ])
    assert all(a["ok"] for a in acks), acks
    rows = t.db.rows("SELECT j::text AS j, jb::text AS jb FROM t_values ORDER BY id")
    # objects and arrays arrive as compact JSON text, numbers as written
    assert rows[0]["j"] == '{"a":1.50,"b":[true,null,"x"],"c":{"d":12345678901234567890}}', rows[0]
    assert json.loads(rows[0]["jb"]) == {"z": 1, "a": [1, 2, {"q": "\u00e9"}]}, rows[0]
    assert rows[1] == {"j": "[1,2,3]", "jb": '[{"a": 1}]'}, rows[1]
    # a JSON string is text for the column's input function (PROTOCOL.md "string")
    assert rows[2] == {"j": '{"as": "text"}', "jb": '"a JSON string, as text"'}, rows[2]
    assert rows[3] == {"j": "42", "jb": "true"}, rows[3]


def test_json_string_that_is_not_json_fails_for_that_row(t):
    d = t.daemon()
    acks = send_rows(t, d, "t_values", ['{"jb":"not json"}', '{"jb":{"ok":1}}'])
    assert acks[0]["error"]["code"] == "22P02", acks[0]
    assert acks[1]["ok"] is True, acks[1]


def test_json_arrays_become_postgresql_arrays(t):
    d = t.daemon()
    acks = send_rows(t, d, "t_values", [
        '{"ia":[1,2,3],"ta":["a","b,c","\\"q\\"","back\\\\slash",null,"NULL","{x}"," sp "],"na":[1.50,2e3]}',
        '{"ia":[[1,2],[3,4]],"ta":[],"na":[]}',
        '{"ia":"{5,6}","ta":["\\u00e9\\n"]}',
        '{"ia":[null,7]}',
    ])
    assert all(a["ok"] for a in acks), acks
    rows = t.db.rows("SELECT ia::text, ta, na::text, array_length(ta, 1) AS tl, "
                     "ta[5] IS NULL AS t5null, ta[6] AS t6 FROM t_values ORDER BY id")
    assert rows[0]["ia"] == "{1,2,3}", rows[0]
    assert rows[0]["ta"] == ["a", "b,c", '"q"', "back\\slash", None, "NULL", "{x}", " sp "], rows[0]
    assert rows[0]["t5null"] is True and rows[0]["t6"] == "NULL", rows[0]
    assert rows[0]["na"] == "{1.50,2000}", rows[0]
    assert rows[1]["ia"] == "{{1,2},{3,4}}" and rows[1]["ta"] == [] and rows[1]["na"] == "{}", rows[1]
    assert rows[2]["ia"] == "{5,6}" and rows[2]["ta"] == ["\u00e9\n"], rows[2]
    assert rows[3]["ia"] == "{NULL,7}", rows[3]


def test_booleans_null_and_defaults(t):
    d = t.daemon()
    acks = send_rows(t, d, "t_values", [
        '{"bo":true,"t":null}', '{"bo":false}', '{"bo":"yes"}', '{"t":true}',
        '{"dflt":"given"}', '{"dflt":null}', '{}',
    ])
    assert [a["ok"] for a in acks] == [True, True, True, True, True, False, True], acks
    assert acks[5]["error"]["code"] == "23502", acks[5]  # explicit null is NULL, not DEFAULT
    rows = t.db.rows("SELECT bo, t, dflt FROM t_values ORDER BY id")
    assert rows == [
        {"bo": True, "t": None, "dflt": "the default"},
        {"bo": False, "t": None, "dflt": "the default"},
        {"bo": True, "t": None, "dflt": "the default"},
        {"bo": None, "t": "true", "dflt": "the default"},
        {"bo": None, "t": None, "dflt": "given"},
        {"bo": None, "t": None, "dflt": "the default"},
    ], rows


def test_empty_row_inserts_defaults(t):
    d = t.daemon()
    c = d.client()
    c.send(*[{"id": i, "table": "t_defaults", "row": {}, "returning": ["id", "tag"]} for i in range(50)])
    acks = c.recv_n(50)
    assert all(a["ok"] and a["row"]["tag"] == "none" for a in acks), acks[:3]
    assert len({a["row"]["id"] for a in acks}) == 50
    assert t.db.scalar("SELECT count(*) FROM t_defaults WHERE tag = 'none'") == 50


def test_names_are_exact_and_case_sensitive(t):
    t.db.execute('CREATE TABLE "we.ird" (id serial PRIMARY KEY, "Quote""d" text)')
    d = t.daemon()
    c = d.client()
    reqs = [
        {"id": 1, "table": "App.Events", "row": {"Kind": "upper", "kind": "lower"}},
        {"id": 2, "schema": "App", "table": "Events", "row": {"Kind": "via schema field"}},
        {"id": 3, "table": "app.events", "row": {"kind": "lower-case schema"}},
        {"id": 4, "table": "app.Events", "row": {"kind": "x"}},            # no such table
        {"id": 5, "table": "App.Events", "row": {"KIND": "x"}},            # no such column
        {"id": 6, "schema": "public", "table": "we.ird", "row": {'Quote"d': "dots and quotes"}},
        {"id": 7, "table": "t_values", "row": {"CamelCol": "camel", "sp ace": "space"}},
        {"id": 8, "table": "t_values", "row": {"camelcol": "folded?"}},    # no folding
    ]
    c.send(*reqs)
    acks = c.by_id(c.recv_n(len(reqs)))
    for i in (1, 2, 3, 6, 7):
        assert acks[str(i)] == {"id": i, "ok": True}, acks[str(i)]
    assert acks["4"]["error"]["code"] == "42P01", acks["4"]
    assert acks["5"]["error"]["code"] == "42703", acks["5"]
    assert acks["8"]["error"]["code"] == "42703", acks["8"]
    assert t.db.rows('SELECT "Kind", kind FROM "App"."Events" ORDER BY id') == [
        {"Kind": "upper", "kind": "lower"}, {"Kind": "via schema field", "kind": None}]
    assert t.db.rows("SELECT kind FROM app.events") == [{"kind": "lower-case schema"}]
    got = t.db.rows('SELECT "Quote""d" AS q FROM "we.ird"')
    assert got == [{"q": "dots and quotes"}], got
    assert t.db.rows('SELECT "CamelCol" AS c, "sp ace" AS s FROM t_values') == [{"c": "camel", "s": "space"}]


def test_input_functions_parse_strings_for_every_type(t):
    d = t.daemon()
    r = one(t, d, "t_values",
            '{"ts":"2026-11-22T10:00:00Z","d":"2026-02-28","u":"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",'
            '"n":"NaN","f":"-Infinity","i":" 42 ","vc":"abcde"}',
            "ts = '2026-11-22 10:00:00+00' AS ts_ok, d::text, u::text, n::text, f::text, i, vc")
    assert r == {"ts_ok": True, "d": "2026-02-28", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                 "n": "NaN", "f": "-Infinity", "i": 42, "vc": "abcde"}, r
    acks = send_rows(t, d, "t_values", ['{"vc":"abcdef"}', '{"d":"2026-02-30"}', '{"u":"nope"}'])
    assert acks[0]["error"]["code"] == "22001", acks[0]
    assert acks[1]["error"]["code"] == "22008", acks[1]
    assert acks[2]["error"]["code"] == "22P02", acks[2]


def test_domains_and_generated_columns(t):
    d = t.daemon()
    acks = send_rows(t, d, "t_domain", ['{"p":5}', '{"p":-1}', '{"p":3,"twice":9}', '{"p":"7"}'])
    assert acks[0]["ok"] is True, acks[0]
    assert acks[1]["error"]["code"] == "23514", acks[1]
    assert acks[2]["error"]["code"] == "428C9", acks[2]
    assert acks[3]["ok"] is True, acks[3]
    assert t.db.rows("SELECT p, twice FROM t_domain ORDER BY id") == [{"p": 5, "twice": 10},
                                                                       {"p": 7, "twice": 14}]


def test_mixed_column_sets_in_one_batch(t):
    d = t.daemon("--max-delay-ms", "100", "--eager-flush", "off")
    raw = []
    for i in range(300):
        m = i % 3
        if m == 0:
            raw.append('{"i":%d}' % i)
        elif m == 1:
            raw.append('{"t":"t%d","i":%d}' % (i, i))
        else:
            raw.append('{"i":%d,"t":"t%d","bo":true}' % (i, i))  # key order differs
    acks = send_rows(t, d, "t_values", raw)
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
    rows = {r["i"]: r for r in t.db.rows("SELECT i, t, bo FROM t_values")}
    assert len(rows) == 300
    for i in range(300):
        want_t = None if i % 3 == 0 else "t%d" % i
        want_b = True if i % 3 == 2 else None
        assert rows[i] == {"i": i, "t": want_t, "bo": want_b}, rows[i]


def test_sql_in_names_and_values_is_data(t):
    d = t.daemon()
    c = d.client()
    evil = ["events; DROP TABLE events; --", 'events" ; DROP TABLE events; --', "events')--"]
    for k, name in enumerate(evil):
        a = c.request({"id": k, "table": name, "row": {"device_id": 1, "kind": "x"}})
        assert a["ok"] is False and a["error"]["code"] == "42P01", a
    a = c.request({"id": 10, "table": "events",
                   "row": {"device_id": 1, "kind) VALUES (1,'x'); DROP TABLE events; --": "x"}})
    assert a["ok"] is False and a["error"]["code"] == "42703", a
    a = c.request({"id": 11, "table": "events",
                   "row": {"device_id": 1, "kind": "'); DROP TABLE events; --"}})
    assert a == {"id": 11, "ok": True}, a
    assert t.db.rows("SELECT kind FROM events") == [{"kind": "'); DROP TABLE events; --"}]


def test_returned_negative_and_non_finite_numbers(t):
    """PROTOCOL.md: numeric columns come back as JSON numbers, exact; NaN and
    Infinity are no JSON numbers, so they come back as strings."""
    d = t.daemon()
    c = d.client()
    c.send_raw('{"id":1,"table":"t_values","returning":["i","b","n","f","r"],"row":'
               '{"i":-3,"b":-9223372036854775808,"n":-1.50,"f":"NaN","r":"-Infinity"}}\n')
    line = c.readline().decode()
    assert line.startswith('{"id":1,"ok":true,"row":{'), line
    assert json.loads(line)["row"] == {"i": -3, "b": -9223372036854775808, "n": -1.5,
                                       "f": "NaN", "r": "-Infinity"}, line
    assert '"n":-1.50' in line, line  # PostgreSQL's exact text, not a float's
    ack = c.request({"id": 2, "table": "t_values", "row": {"n": "Infinity"}, "returning": ["n"]})
    assert ack == {"id": 2, "ok": True, "row": {"n": "Infinity"}}, ack


def test_rows_with_many_columns(t):
    """More than 16 columns (the decoder sorts them another way): every value
    reaches its own column, and a duplicate among them is still PC002."""
    t.db.execute("CREATE TABLE t_wide (id serial, %s)" % ", ".join("c%02d int" % i for i in range(40)))
    d = t.daemon()
    c = d.client()
    row = {"c%02d" % i: 100 + i for i in reversed(range(40))}
    ack = c.request({"id": 1, "table": "t_wide", "row": row, "returning": ["c39", "c00"]})
    assert ack == {"id": 1, "ok": True, "row": {"c39": 139, "c00": 100}}, ack
    c.send_raw('{"id":2,"table":"t_wide","row":{%s,"c07":1}}\n' %
               ",".join('"c%02d":%d' % (i, i) for i in range(40)))
    ack = c.recv()
    assert ack["error"]["code"] == "PC002" and '"c07"' in ack["error"]["message"], ack
    stored = t.db.rows("SELECT * FROM t_wide")
    assert stored == [dict({"id": 1}, **{"c%02d" % i: 100 + i for i in range(40)})], stored


def test_more_column_sets_than_prepared_statements(t):
    """Rows naming 256 different sets of columns, one at a time, then the same
    sets again: each connection holds at most 128 prepared statements and
    starts over past that. Every value still reaches its own column."""
    t.db.execute("CREATE TABLE t_sets (id serial, %s)" % ", ".join("c%d int" % i for i in range(8)))
    d = t.daemon()
    c = d.client()
    sets = [[k for k in range(8) if m >> k & 1] for m in range(1, 256)]
    for rnd in range(2):
        for m, cols in enumerate(sets):
            rid = rnd * 1000 + m
            ack = c.request({"id": rid, "table": "t_sets", "row": {"c%d" % k: rid * 10 + k for k in cols}})
            assert ack == {"id": rid, "ok": True}, ack
    rows = t.db.rows("SELECT * FROM t_sets")
    assert len(rows) == 2 * len(sets), len(rows)
    for r in rows:
        rid = next(r["c%d" % k] for k in range(8) if r["c%d" % k] is not None) // 10
        want = sets[rid % 1000]
        assert r == dict({"id": r["id"]}, **{"c%d" % k: rid * 10 + k if k in want else None
                                             for k in range(8)}), r
