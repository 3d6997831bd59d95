"""The type-and-relation matrix (issue 10, "Done when"; items 0, 4, 6, 7).

Every built-in type PostgreSQL has (read from pg_type: the base, range and
multirange types of pg_catalog that are not arrays and not pseudo-types),
length-limited and precision-limited variants, an enum, domains (CHECK, NOT
NULL, over length-limited types, over an array), a composite, a user range
(and its multirange), and an array of each (1-D and 2-D, with NULLs). Each
type gets a pair of twin tables; each literal is written (a) by a direct
INSERT of the same literal into one twin (each statement on its own, its
SQLSTATE caught) and (b) through the sidecar into the other: as a JSON
string, and where natural as a JSON number, boolean, object or array too.
Stored values are compared by their ::text, failures by SQLSTATE.

Then the relation kinds of item 4, compared the same way: a plain table, a
partitioned table, a postgres_fdw foreign table (loopback over the cluster's
socket), an auto-updatable view WITH CHECK OPTION, a view with an INSTEAD OF
trigger, a table the role may insert only some columns of, and a table with
row-level security and a WITH CHECK policy.

Everything goes through ONE daemon, connected as a non-superuser role (the
direct INSERTs run as that role too), in one pipelined burst. A failure
prints every mismatching cell.

Literals: picked from PostgreSQL's own regression suite
(src/test/regress/sql/*.sql of postgresql-15) and the types' documented
edges: valid values, edge values (limits, infinities, NaN, spacing, case),
and invalid ones.
"""
import json
import re
import subprocess
import threading

from faultkit import login_role, loopback_fdw
from harness import Failure

ROLE = "pgc_matrix"

# typname (pg_catalog) -> literals. A type missing here gets GENERIC and is
# named in the output (a newer PostgreSQL with a new type still runs).
LITERALS = {
    "int2": ["0", "-32768", "32767", "32768", " 12 ", "1.5", "abc", "+7"],
    "int4": ["0", "-2147483648", "2147483647", "2147483648", "1e3", "  -5  ", "abc"],
    "int8": ["9223372036854775807", "-9223372036854775808", "9223372036854775808", "12.0", "-0"],
    "oid": ["0", "4294967295", "4294967296", "-1", "abc"],
    "float4": ["3.4028235e38", "1e39", "NaN", "-Infinity", "1.17549435e-38", "0.1", "-0", "1e-46", "xyz"],
    "float8": ["1.7976931348623157e308", "1e309", "5e-324", "1e-400", "NaN", "Infinity", "-0", "0.1",
               "   -1.5  ", "abc"],
    "numeric": ["12345678901234567890.123456789012345678", "-0.000001", "NaN", "Infinity", "-Infinity",
                "1.50", "1e-20", "1e131072", "abc", "  3.14  "],
    "money": ["$123.45", "123", "-92233720368547758.08", "92233720368547758.08", "1,000.5", "abc"],
    "bool": ["true", "false", "yes", "off", "t", "1", "maybe", "  TRUE  "],
    "char": ["a", "", "ab", "\\101", "\u00e9"],
    "name": ["abc", "x" * 70, "", "\u00dcn\u00efcode", "with space"],
    "text": ["", "hello", "tab\there", 'quote " and \\ back', "NULL", "{a,b}", "\u00e9\U0001F600"],
    "varchar": ["", "abc", "x" * 300, " lead"],
    "bpchar": ["ab", "ab   ", "", "x"],
    "bytea": ["\\x0102ff", "\\x", "abc\\000", "\\x0", "plain", "\\xzz", "\\\\"],
    "uuid": ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}",
             "a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0ee-bc99", "nope"],
    "json": ['{"a":1}', '[1,2,{"b":null}]', '{"a": 1,\n "b" : [true]}', '"str"', "12.50", "null",
             '{"a":1,"a":2}', "{bad}", "", '{"k":"\\u0000"}'],
    "jsonb": ['{"b":2,"a":1}', '[1,2,{"b":null}]', '{"a": 1,\n "b" : [true]}', '"str"', "12.50", "1e400",
              "null", '{"a":1,"a":2}', "{bad}", '{"k":"\\u0000"}'],
    "jsonpath": ["$.a[*] ? (@ > 1)", "strict $.b", "$", "$.a +", "last"],
    "xml": ["<a>1</a>", "text only", "<a>", '<?xml version="1.0"?><r/>'],
    "date": ["2026-02-28", "2026-02-30", "infinity", "epoch", "4714-11-24 BC", "5874897-12-31",
             "5874898-01-01", "20260301", "Jan 8 1999", "garbage"],
    "time": ["04:05:06.789", "24:00:00", "24:00:01", "allballs", "04:05 PM", "25:00"],
    "timetz": ["04:05:06-08", "04:05:06 PST", "24:00:00+1559", "04:05:06+16", "x"],
    "timestamp": ["2026-11-22 10:00:00", "2026-11-22T10:00:00.123456789", "infinity", "-infinity",
                  "294277-01-01", "1999-01-08 04:05:06 +02", "J2451187", "nope"],
    "timestamptz": ["2026-11-22 10:00:00+00", "2026-11-22T10:00:00Z", "1999-01-08 04:05:06 America/New_York",
                    "infinity", "epoch", "2026-13-01", "Tue Dec 23 12:00:00 1997 PST"],
    "interval": ["1 day 02:03:04", "P1Y2M3DT4H5M6S", "-1.5 months", "@ 1 minute ago", "178000000 years",
                 "1 fortnight"],
    "bit": ["1", "0", "10", "2", ""],
    "varbit": ["", "101010", "x1F", "102"],
    "inet": ["192.168.1.5", "192.168.1.5/24", "::1", "2001:db8::/32", "256.1.1.1", "10.1"],
    "cidr": ["192.168.1.0/24", "192.168.1.5/24", "10", "::/0"],
    "macaddr": ["08:00:2b:01:02:03", "08002b010203", "0800.2b01.0203", "not even close", "08:00:2b:01:02:03:04"],
    "macaddr8": ["08:00:2b:01:02:03:04:05", "08002b:010203", "08:00:2b:01:02:03", "nope"],
    "point": ["(1,2)", "1e300,-1e300", "(10.0, 1e+500)", "asdf", "(NaN,1)"],
    "lseg": ["[(1,2),(3,4)]", "(0,0),(6,6)", "[1,2,3, 4", "[(NaN,1),(NaN,90)]"],
    "line": ["{1,-1,0}", "{0,0,1}", "[(1,3),(2,3)]", "(0,0),(6,6)"],
    "box": ["(2.0,2.0,0.0,0.0)", "((-8, 2), (-2, -10))", "(2.3, 4.5)", "asdf"],
    "path": ["[(1,2),(3,4)]", "((1,2),(3,4))", "(1,2)", "[1,2,3, 4]", "[(1,2),(3,4)"],
    "polygon": ["(2.0,0.0),(2.0,4.0),(0.0,0.0)", "(0.0,0.0)", "(0,1,2)", "asdf"],
    "circle": ["<(5,1),3>", "((1,2),100)", " 1 , 3 , 5 ", "<(1,2),-1>", "<(1,2),3"],
    "tsvector": ["'a' 'b':1,2 c:3A", "the quick brown", "a:0", "'unterminated"],
    "tsquery": ["a & b | !c", "'a':* & b:AB", "a &", "!"],
    "pg_lsn": ["0/0", "FFFFFFFF/FFFFFFFF", "G/0", "/ABCD"],
    "txid_snapshot": ["12:13:", "12:20:13,15,18", "31:12:", "x"],
    "pg_snapshot": ["12:13:", "100001:100009:100005,100007,100008", "31:12:", "x"],
    "xid": ["0", "4294967295", "42", "abc"],
    "xid8": ["0", "18446744073709551615", "0xffffffffffffffff", "-1"],
    "cid": ["0", "4294967295", "x"],
    "tid": ["(0,1)", "(4294967295,65535)", "(1,2", "(-1,0)"],
    "int2vector": ["1 2 3", "", "1 x"],
    "oidvector": ["1 2", "", "x"],
    "aclitem": ["pg_monitor=r/pg_monitor", "=arwd/pg_monitor", "pgc_no_such_role=r/pg_monitor", "x"],
    "refcursor": ["portal", ""],
    "regclass": ["pg_class", "1259", "pgc_no_such_rel", "pg_catalog.pg_type", '"pg_class"'],
    "regcollation": ['"C"', '"default"', "pgc_nope"],
    "regconfig": ["english", "simple", "pgc_nope"],
    "regdictionary": ["simple", "english_stem", "pgc_nope"],
    "regnamespace": ["pg_catalog", "public", "pgc_nope", "11"],
    "regoper": ["||/", "^@", "+", "pgc_nope"],
    "regoperator": ["+(int4,int4)", "-(NONE,int4)", "+(int4)"],
    "regproc": ["now", "abs", "pgc_nope"],
    "regprocedure": ["abs(int4)", "now()", "abs(pgc_nope)"],
    "regrole": ["pg_monitor", "pgc_no_such_role"],
    "regtype": ["int4", "character varying(5)", "integer[]", "pgc_nope"],
    "int4range": ["[1,10)", "(1,10]", "empty", "[10,1)", "(,)", "[1,"],
    "int8range": ["[1,9223372036854775806]", "[1,9223372036854775807]", "empty"],
    "numrange": ["[1.5,2.5]", "(,)", "[2,1]", "[NaN,1]"],
    "tsrange": ["[2026-01-01,2026-02-01)", "[infinity,-infinity]", "empty"],
    "tstzrange": ['["2026-01-01 00:00+00","2026-01-02 00:00+00")', "(,)"],
    "daterange": ["[2026-01-01,2026-01-31]", "[2026-01-01,2026-01-01)", "[x,y]"],
    "int4multirange": ["{}", "{[1,3),[2,5)}", "{[1,3), [5,7)}", "{[1,3)"],
    "int8multirange": ["{[1,2]}", "{empty}"],
    "nummultirange": ["{[1.5,2.5]}", "{(,)}"],
    "tsmultirange": ["{[2026-01-01,2026-02-01)}", "{[x,y)}"],
    "tstzmultirange": ["{}", '{["2026-01-01 00:00+00",)}'],
    "datemultirange": ["{[2026-01-01,2026-01-31]}", "bad"],
}
# Types whose input refuses every value: a column can have them, nothing can be written.
REFUSING = ("gtsvector", "pg_node_tree", "pg_ndistinct", "pg_dependencies", "pg_mcv_list",
            "pg_brin_bloom_summary", "pg_brin_minmax_multi_summary")
for _t in REFUSING:
    LITERALS[_t] = ["x", ""]
GENERIC = ["", "x", "0"]

# The types the test makes (user-defined kinds, typmods): (sql type, literals).
SETUP_SQL = """
CREATE TYPE mood_m AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE comp_m AS (a int, b text, c numeric(4,1));
CREATE TYPE floatrange_m AS RANGE (subtype = float8, multirange_type_name = floatmultirange_m);
CREATE DOMAIN d_posint AS int CHECK (VALUE > 0);
CREATE DOMAIN d_vc5 AS varchar(5);
CREATE DOMAIN d_ch3 AS char(3);
CREATE DOMAIN d_bit4 AS bit(4);
CREATE DOMAIN d_num AS numeric(5,2) CHECK (VALUE >= 0);
CREATE DOMAIN d_nn AS text NOT NULL;
CREATE DOMAIN d_intarr AS int[] CHECK (cardinality(VALUE) <= 3);
CREATE FUNCTION pgc_try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
"""
EXTRA_TYPES = [
    ("varchar(5)", ["abcde", "abcdef", "abcde   ", "", "\u00e9" * 5]),
    ("char(3)", ["ab", "abc   ", "abcd"]),
    ("numeric(5,2)", ["123.456", "1000", "-999.995", "0.001"]),
    ("bit(4)", ["1010", "10", "10100"]),
    ("varbit(3)", ["101", "1011"]),
    ("timestamp(0)", ["2026-11-22 10:00:00.6"]),
    ("timestamptz(2)", ["2026-11-22 10:00:00.126+00"]),
    ("time(1)", ["04:05:06.75"]),
    ("interval(0)", ["1.5 seconds"]),
    ("mood_m", ["sad", "happy", "angry", "Sad", ""]),
    ("comp_m", ["(1,x,2.5)", "(,,)", '(1,"a,b",)', "(1,2,3,4)", "(x,,)", "(1,y,1234.5)", " ( 7 , q , 1 ) "]),
    ("floatrange_m", ["[1.5,2.5)", "empty", "[2,1]"]),
    ("floatmultirange_m", ["{[1,2),[3,4)}", "{[1,2)"]),
    ("d_posint", ["5", "0", "-1", "x"]),
    ("d_vc5", ["short", "short text", "abcde "]),
    ("d_ch3", ["ab", "abcdef", "abc  "]),
    ("d_bit4", ["1010", "10"]),
    ("d_num", ["1.234", "-1", "1000"]),
    ("d_nn", ["x", ""]),
    ("d_intarr", ["{1,2}", "{1,2,3,4}", "{{1},{2}}", "{}"]),
]
# JSON values that naturally stand for a literal besides the JSON string.
EXTRA_NATIVE = {("d_intarr", "{1,2}"): "[1,2]", ("d_intarr", "{1,2,3,4}"): "[1,2,3,4]",
                ("d_intarr", "{{1},{2}}"): "[[1],[2]]", ("d_intarr", "{}"): "[]"}

JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def sql_str(s):
    return "NULL" if s is None else "'" + s.replace("'", "''") + "'"


def pg_array(elems, delim):
    """PostgreSQL's array literal of `elems` (str, None or nested lists)."""
    def one(e):
        if e is None:
            return "NULL"
        if isinstance(e, list):
            return pg_array(e, delim)
        return '"' + e.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "{" + delim.join(one(e) for e in elems) + "}"


class TypeEntry:
    """A column type of the matrix: its SQL name, literals, and what the
    catalog says of it (category, array delimiter, whether it has an array)."""

    def __init__(self, label, sqltype, literals, cat, delim, has_array):
        self.label, self.sqltype, self.literals = label, sqltype, literals
        self.cat, self.delim, self.has_array = cat, delim, has_array

    @property
    def is_json(self):
        return self.label in ("json", "jsonb")

    def native(self, lit):
        """The raw JSON text that naturally stands for `lit` (a number, a
        boolean, a compact JSON object/array), or None."""
        if (self.label, lit) in EXTRA_NATIVE:
            return EXTRA_NATIVE[(self.label, lit)]
        if self.cat == "N" and JSON_NUMBER.fullmatch(lit):
            return lit
        if self.cat == "B" and lit in ("true", "false"):
            return lit
        if self.is_json and not re.search(r"\s", lit) and "\\u0000" not in lit:  # U+0000: PC002 by protocol
            try:
                v = json.loads(lit)
            except ValueError:
                return None
            if isinstance(v, (dict, list, int, float)) and not isinstance(v, bool):
                return lit
        return None


def matrix_types(db):
    cat = db.rows("SELECT t.typname, t.typcategory AS cat, t.typdelim AS delim, t.typarray <> 0 AS has_array "
                  "FROM pg_type t WHERE t.typnamespace = 'pg_catalog'::regnamespace "
                  "AND t.typtype IN ('b', 'r', 'm') "
                  "AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid) ORDER BY t.typname")
    entries, unknown = [], []
    for r in cat:
        lits = LITERALS.get(r["typname"])
        if lits is None:
            unknown.append(r["typname"])
            lits = GENERIC
        entries.append(TypeEntry(r["typname"], 'pg_catalog."%s"' % r["typname"], lits, r["cat"], r["delim"],
                                 r["has_array"]))
    extra = db.rows("SELECT typcategory AS cat, typdelim AS delim, typarray <> 0 AS has_array FROM "
                    "unnest(ARRAY[%s]::regtype[]) WITH ORDINALITY AS x(t, i) JOIN pg_type ON oid = t ORDER BY i"
                    % ", ".join(sql_str(t) for t, _ in EXTRA_TYPES))
    for (sqltype, lits), r in zip(EXTRA_TYPES, extra):
        entries.append(TypeEntry(sqltype, sqltype, lits, r["cat"], r["delim"], r["has_array"]))
    return entries, unknown


class Matrix:
    """Cases: one direct INSERT each, and the sidecar requests that must end
    the same way. Ids are unique across every table: the direct row and each
    sidecar row of a case carry their own id."""

    def __init__(self):
        self.next_id = 0
        self.cases = []        # (label, literal shown, direct id, direct SQL, [(form, sidecar id, line)])
        self.create = []       # DDL
        self.readback = []     # SELECT id, <text> AS v FROM ... (as the superuser: what is stored)

    def new_id(self):
        self.next_id += 1
        return self.next_id

    def case(self, label, shown, direct_table, direct_cols, sidecar_table, forms):
        """direct_cols: {column: literal or None}; forms: [(form name, {column: raw JSON text})]."""
        did = self.new_id()
        cols = dict(direct_cols, id=str(did))
        sql = "INSERT INTO %s (%s) VALUES (%s)" % (direct_table, ", ".join(cols),
                                                   ", ".join(sql_str(v) for v in cols.values()))
        out = []
        for form, row in forms:
            sid = self.new_id()
            body = ",".join('"%s":%s' % (k, v) for k, v in dict(row, id=str(sid)).items())
            out.append((form, sid, '{"id":%d,"table":"%s","row":{%s}}' % (sid, sidecar_table, body)))
        self.cases.append((label, shown, did, sql, out))

    def add_type(self, n, e):
        self.create.append("CREATE TABLE m%d_d (id int, v %s); CREATE TABLE m%d_s (id int, v %s);"
                           % (n, e.sqltype, n, e.sqltype))
        self.readback.append("SELECT id, v::text AS v FROM m%d_d UNION ALL SELECT id, v::text FROM m%d_s" % (n, n))
        for lit in e.literals + [None]:
            forms = [("string", {"v": json.dumps(lit)})] if lit is not None else [("null", {"v": "null"})]
            nat = e.native(lit) if lit is not None else None
            if nat is not None:
                forms.append(("native", {"v": nat}))
            self.case(e.label, lit, "m%d_d" % n, {"v": lit}, "m%d_s" % n, forms)

    def elem_json(self, e, lit):
        if lit is None:
            return "null"
        nat = e.native(lit) if (e.label, lit) not in EXTRA_NATIVE else None  # [1,2] in an array: a dimension
        return nat if nat is not None else json.dumps(lit)

    def add_array(self, n, e):
        label = e.label + "[]"
        self.create.append("CREATE TABLE m%d_d (id int, v %s[]); CREATE TABLE m%d_s (id int, v %s[]);"
                           % (n, e.sqltype, n, e.sqltype))
        self.readback.append("SELECT id, v::text AS v FROM m%d_d UNION ALL SELECT id, v::text FROM m%d_s" % (n, n))
        d, s = "m%d_d" % n, "m%d_s" % n
        lits = e.literals
        for lit in lits:
            text = pg_array([lit, None], e.delim)
            forms = [("string", {"v": json.dumps(text)})]
            if not e.is_json:   # in a json[] a JSON string or null element has two readings: not used
                forms.append(("json array", {"v": "[%s,null]" % self.elem_json(e, lit)}))
            self.case(label, text, d, {"v": text}, s, forms)
            if e.is_json and e.native(lit) is not None:   # item 7: each element is one JSON value
                text1 = pg_array([lit, lit], e.delim)
                self.case(label, text1, d, {"v": text1}, s,
                          [("json array", {"v": "[%s,%s]" % (e.native(lit), e.native(lit))})])
        a, b = lits[0], lits[1 % len(lits)]
        two = pg_array([[a, b], [None, a]], e.delim)
        forms = [("string", {"v": json.dumps(two)})]
        if not e.is_json:
            forms.append(("json array", {"v": "[[%s,%s],[null,%s]]" % (self.elem_json(e, a), self.elem_json(e, b),
                                                                       self.elem_json(e, a))}))
        self.case(label, two, d, {"v": two}, s, forms)
        self.case(label, "{}", d, {"v": "{}"}, s, [("string", {"v": '"{}"'}), ("json array", {"v": "[]"})])
        self.case(label, None, d, {"v": None}, s, [("null", {"v": "null"})])
        bad = '{"%s"' % a.replace("\\", "\\\\").replace('"', '\\"')
        self.case(label, bad, d, {"v": bad}, s, [("string", {"v": json.dumps(bad)})])


# ---- relation kinds (item 4): (name, DDL for twin X in {d, s}, storage readback, cases)
# A case: ({column: literal or None}, {column: raw JSON}): the direct INSERT
# quotes every literal ('1'), the sidecar's row is written naturally (1, "x").
RELATIONS = [
    ("plain table",
     "CREATE TABLE rel_plain_{X} (id int, a int CHECK (a <> 13), b text NOT NULL DEFAULT 'dflt');",
     "SELECT id, concat_ws('|', a, b) AS v FROM rel_plain_{X}",
     [({"a": "1", "b": "x"}, {"a": "1", "b": '"x"'}), ({"a": "13", "b": "x"}, {"a": "13", "b": '"x"'}),
      ({"a": "2"}, {"a": "2"}), ({"a": "3", "b": None}, {"a": "3", "b": "null"}),
      ({"a": "x", "b": "x"}, {"a": '"x"', "b": '"x"'})]),
    ("partitioned table",
     "CREATE TABLE rel_part_{X} (id int, a int, b text) PARTITION BY RANGE (a); "
     "CREATE TABLE rel_part_{X}_p1 PARTITION OF rel_part_{X} FOR VALUES FROM (0) TO (10); "
     "CREATE TABLE rel_part_{X}_p2 PARTITION OF rel_part_{X} FOR VALUES FROM (10) TO (20);",
     "SELECT id, concat_ws('|', a, b, right(tableoid::regclass::text, 2)) AS v FROM rel_part_{X}",
     [({"a": "1", "b": "x"}, {"a": "1", "b": '"x"'}), ({"a": "15", "b": "y"}, {"a": "15", "b": '"y"'}),
      ({"a": "100", "b": "z"}, {"a": "100", "b": '"z"'}), ({"a": None, "b": "n"}, {"a": "null", "b": '"n"'}),
      ({"a": "x"}, {"a": '"x"'})]),
    ("postgres_fdw foreign table",
     "CREATE TABLE fdwbase_{X} (id int, a int CHECK (a >= 0), b text); "
     "CREATE FOREIGN TABLE rel_fdw_{X} (id int, a int, b text) SERVER loopback "
     "OPTIONS (table_name 'fdwbase_{X}');",
     "SELECT id, concat_ws('|', a, b) AS v FROM fdwbase_{X}",
     [({"a": "1", "b": "x"}, {"a": "1", "b": '"x"'}), ({"a": "-1", "b": "x"}, {"a": "-1", "b": '"x"'}),
      ({"a": "2"}, {"a": "2"}), ({"a": "x"}, {"a": '"x"'})]),
    ("auto-updatable view",
     "CREATE TABLE viewbase_{X} (id int, a int, b text DEFAULT 'base dflt'); "
     "CREATE VIEW rel_view_{X} AS SELECT id, a, b FROM viewbase_{X} WHERE a > 0 WITH CHECK OPTION;",
     "SELECT id, concat_ws('|', a, b) AS v FROM viewbase_{X}",
     [({"a": "1", "b": "x"}, {"a": "1", "b": '"x"'}), ({"a": "-1", "b": "x"}, {"a": "-1", "b": '"x"'}),
      ({"a": "2"}, {"a": "2"}), ({"a": "x"}, {"a": '"x"'})]),
    ("view with INSTEAD OF trigger",
     "CREATE TABLE iviewbase_{X} (id int, a int, b text); "
     "CREATE VIEW rel_iview_{X} AS SELECT DISTINCT id, a, b FROM iviewbase_{X}; "
     "CREATE FUNCTION rel_iview_{X}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
     "IF NEW.a < 0 THEN RAISE EXCEPTION 'negative a' USING ERRCODE = 'U0002'; END IF; "
     "INSERT INTO iviewbase_{X} VALUES (NEW.id, NEW.a * 10, upper(NEW.b)); RETURN NEW; END $$; "
     "CREATE TRIGGER rel_iview_{X} INSTEAD OF INSERT ON rel_iview_{X} FOR EACH ROW "
     "EXECUTE FUNCTION rel_iview_{X}();",
     "SELECT id, concat_ws('|', a, b) AS v FROM iviewbase_{X}",
     [({"a": "1", "b": "x"}, {"a": "1", "b": '"x"'}), ({"a": "-1", "b": "x"}, {"a": "-1", "b": '"x"'}),
      ({"a": "2"}, {"a": "2"}), ({"a": "x"}, {"a": '"x"'})]),
    ("column-level GRANT INSERT (id, a)",
     "CREATE TABLE rel_colg_{X} (id int, a int, b text);",
     "SELECT id, concat_ws('|', a, b) AS v FROM rel_colg_{X}",
     [({"a": "1"}, {"a": "1"}), ({"a": "2", "b": "x"}, {"a": "2", "b": '"x"'}), ({"a": "x"}, {"a": '"x"'})]),
    ("row-level security WITH CHECK",
     "CREATE TABLE rel_rls_{X} (id int, a int, b text); ALTER TABLE rel_rls_{X} ENABLE ROW LEVEL SECURITY; "
     "CREATE POLICY p_ins ON rel_rls_{X} FOR INSERT WITH CHECK (a >= 0); "
     "CREATE POLICY p_sel ON rel_rls_{X} FOR SELECT USING (true);",
     "SELECT id, concat_ws('|', a, b) AS v FROM rel_rls_{X}",
     [({"a": "1", "b": "x"}, {"a": "1", "b": '"x"'}), ({"a": "-1", "b": "x"}, {"a": "-1", "b": '"x"'}),
      ({"a": "2"}, {"a": "2"})]),
]
COLUMN_GRANTS = ("REVOKE ALL ON rel_colg_d, rel_colg_s FROM {role}; "
                 "GRANT INSERT (id, a), SELECT ON rel_colg_d, rel_colg_s TO {role};")


def add_relations(m):
    for name, ddl, readback, cases in RELATIONS:
        m.create.append(ddl.replace("{X}", "d") + ddl.replace("{X}", "s"))
        m.readback.append(readback.replace("{X}", "d") + " UNION ALL " + readback.replace("{X}", "s"))
        rel = re.search(r"(?:VIEW|TABLE) (rel_\w+?)_\{X\}", ddl).group(1)
        for direct_cols, row in cases:
            shown = ", ".join("%s=%s" % (k, v) for k, v in direct_cols.items())
            m.case(name, shown, rel + "_d", direct_cols, rel + "_s", [("row", row)])


def run_psql(db, script):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db.dsn, "-f", "-"],
                       input=script, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise Failure("psql failed: %s" % p.stderr[-2000:])
    return p.stdout


def direct_results(t, m):
    """Run every case's direct INSERT as ROLE, each on its own (pgc_try
    catches its SQLSTATE); returns {direct id: "ok" or SQLSTATE}."""
    values = ",\n".join("(%d, %s)" % (did, sql_str(sql)) for _, _, did, sql, _ in m.cases)
    out = run_psql(t.db, "SET ROLE %s;\nSELECT json_object_agg(k, pgc_try(q)) FROM (VALUES\n%s\n) v(k, q);\n"
                   % (ROLE, values))
    return {int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}


def sidecar_results(d, m, only=None):
    """Every sidecar request (of the cases whose direct id is in `only`, if
    given) in one pipelined burst (written on a thread while the acks are
    read); returns {sidecar id: "ok" or the ack's code}."""
    lines = [line for _, _, did, _, forms in m.cases if only is None or did in only
             for _, _, line in forms]
    c = d.client(timeout=300)
    sender = threading.Thread(target=c.send_raw, args=("\n".join(lines) + "\n",), daemon=True)
    sender.start()
    acks = c.recv_n(len(lines), timeout=300)
    sender.join(60)
    out = {}
    for a in acks:
        out[a["id"]] = "ok" if a["ok"] else a["error"]["code"]
    if len(out) != len(lines):
        raise Failure("%d answers for %d requests" % (len(out), len(lines)))
    return out


def check_direct(m, direct):
    """The matrix must not pass for want of anything to compare: every type
    (but the refusing ones) has a value other than NULL that a direct INSERT
    stores, every relation kind a row it stores and one it refuses."""
    ok, err = {}, {}
    for label, shown, did, _, _ in m.cases:
        if direct[did] == "ok" and shown is not None and not shown.startswith("{NULL"):
            ok[label] = ok.get(label, 0) + 1
        elif direct[did] != "ok":
            err[label] = err.get(label, 0) + 1
    labels = list(dict.fromkeys(c[0] for c in m.cases))
    weak = [l for l in labels if not ok.get(l) and l.rstrip("[]") not in REFUSING]
    weak += [name for name, _, _, _ in RELATIONS if not err.get(name)]
    if weak:
        raise Failure("matrix setup: no stored value, or for a relation no refused row, by a direct "
                      "INSERT for: %s" % ", ".join(weak))


def compare(t, d, m, between=None):
    """Returns (number of cells, mismatch lines). With `between`, the cases
    a direct INSERT stored go first, in a burst of their own, then
    between(d) runs, then the other cases."""
    direct = direct_results(t, m)
    check_direct(m, direct)
    if between is None:
        side = sidecar_results(d, m)
    else:
        stored_ids = {did for did, r in direct.items() if r == "ok"}
        side = sidecar_results(d, m, stored_ids)
        between(d)
        side.update(sidecar_results(d, m, set(direct) - stored_ids))
    stored = {}
    for r in t.db.rows(" UNION ALL ".join("(%s)" % q for q in m.readback)):
        stored[r["id"]] = r["v"]

    def result(code, i):
        if code != "ok":
            return "ERROR " + code
        if i not in stored:
            return "ok, not stored"
        return "NULL" if stored[i] is None else repr(stored[i])

    cells, bad = 0, []
    for label, shown, did, _, forms in m.cases:
        want = result(direct[did], did)
        for form, sid, _ in forms:
            cells += 1
            got = result(side[sid], sid)
            if got != want:
                bad.append((label, "NULL" if shown is None else repr(shown), form, want, got))
    return cells, bad


def table(rows):
    head = ("type / relation", "literal", "sent as", "direct INSERT", "sidecar")
    clip = [tuple(c if len(c) <= 60 else c[:57] + "..." for c in r) for r in rows]
    widths = [max(len(r[i]) for r in [head] + clip) for i in range(5)]
    return "\n".join(" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [head] + clip)


def setup_role(t):
    return login_role(t, ROLE, "GRANT INSERT, SELECT ON ALL TABLES IN SCHEMA public TO {role}; "
                      "GRANT EXECUTE ON FUNCTION pgc_try(text) TO {role}; ".format(role=ROLE) +
                      COLUMN_GRANTS.format(role=ROLE))


def build_matrix(t):
    """The matrix's types, relations and role; returns (matrix, daemon DSN, summary head)."""
    t.db.execute(SETUP_SQL)
    entries, unknown = matrix_types(t.db)
    m = Matrix()
    n = 0
    for e in entries:
        n += 1
        m.add_type(n, e)
        if e.has_array:
            n += 1
            m.add_array(n, e)
    login_role(t, ROLE)
    loopback_fdw(t, ROLE)
    add_relations(m)
    run_psql(t.db, "\n".join(m.create))
    dsn = setup_role(t)
    return m, dsn, entries, n, unknown


def report(m, entries, n, unknown, cells, bad):
    summary = "%d types (%d tables), %d cases, %d cells compared" % (len(entries), 2 * n, len(m.cases), cells)
    if unknown:
        summary += "; types without curated literals (generic ones used): %s" % ", ".join(unknown)
    print("    matrix: " + summary)
    if bad:
        raise Failure("%d of %d cells differ (%s):\n%s" % (len(bad), cells, summary, table(bad)))


def test_type_and_relation_matrix(t):
    """Issue 10, "Done when": every type and relation kind, each value written
    directly and through the sidecar, compared value by value and SQLSTATE by
    SQLSTATE; every mismatching cell is listed."""
    m, dsn, entries, n, unknown = build_matrix(t)
    d = t.daemon(dsn=dsn)
    cells, bad = compare(t, d, m)
    report(m, entries, n, unknown, cells, bad)


def test_type_and_relation_matrix_through_copy(t):
    """Issue 12, item 3: the same matrix with --write-path copy. First every
    case a direct INSERT stores, in a burst of their own: each batch is then
    COPY-able rows only (of the relation kinds COPY writes as INSERT does),
    so COPY itself must store each value as the direct INSERT did, and no
    COPY may fail (a failed COPY would hide behind the row-by-row INSERTs).
    Then the refused cases: COPY fails on them and their batches go row by
    row, and each row must get the direct INSERT's SQLSTATE."""
    m, dsn, entries, n, unknown = build_matrix(t)
    d = t.daemon("--write-path", "copy", dsn=dsn)
    seen = {}

    def after_stored(d):
        seen.update(d.stats())

    cells, bad = compare(t, d, m, between=after_stored)
    after = d.stats()
    print("    COPY statements %d, failed %d before the refused cases; %d and %d after"
          % (seen["copy_statements"], seen["copy_failed"], after["copy_statements"], after["copy_failed"]))
    report(m, entries, n, unknown, cells, bad)
    if seen["copy_statements"] < len(entries) or seen["copy_failed"]:
        raise Failure("the stored cases ran %d COPY statements (want one per type at least, %d types) "
                      "and %d failed (want none)" % (seen["copy_statements"], len(entries), seen["copy_failed"]))
    if after["copy_failed"] == 0:
        raise Failure("no COPY failed on the refused cases: the fallback was not exercised")
