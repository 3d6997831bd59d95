"""Strict parsers for what operators read: the Prometheus text exposition
format (0.0.4) of GET /metrics, and log lines (logfmt or JSON).

    fams = parse_exposition(text)        # Failure on any format error
    fams.value("pgcoalesce_db_up")       # one sample's value
    fams.total("pgcoalesce_rows_failed_total", table="events", **{"class": "23"})
    ev = parse_logfmt('ts=... level=info msg="listening" socket="/tmp/x.sock"')
    ev["socket"] == "/tmp/x.sock"
"""
import json
import math
import re

from harness import Failure

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_float(s, where):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise Failure("%s: not a number: %r" % (where, s))
    return float(s)


def unescape_label(v, where):
    out, i = [], 0
    while i < len(v):
        c = v[i]
        if c == "\\":
            if i + 1 >= len(v) or v[i + 1] not in '\\"n':
                raise Failure("%s: bad escape in label value %r" % (where, v))
            out.append({"\\": "\\", '"': '"', "n": "\n"}[v[i + 1]])
            i += 2
            continue
        if c == "\n":
            raise Failure("%s: raw newline in a label value" % where)
        out.append(c)
        i += 1
    return "".join(out)


def parse_labels(s, where):
    """{a="x",b="y"} body -> dict; strict about quoting and escapes."""
    labels, i = {}, 0
    while i < len(s):
        m = LABEL.match(s, i)
        if not m or m.end() >= len(s) or s[m.end()] != "=" or s[m.end() + 1:m.end() + 2] != '"':
            raise Failure("%s: bad label at %r" % (where, s[i:]))
        name = m.group(0)
        j = m.end() + 2
        k = j
        while k < len(s) and s[k] != '"':
            k += 2 if s[k] == "\\" else 1
        if k >= len(s):
            raise Failure("%s: unterminated label value" % where)
        if name in labels:
            raise Failure("%s: label %s twice" % (where, name))
        labels[name] = unescape_label(s[j:k], where)
        i = k + 1
        if i < len(s):
            if s[i] != ",":
                raise Failure("%s: expected ',' between labels, got %r" % (where, s[i:]))
            i += 1
    return labels


class Families(dict):
    """name -> {"type", "help", "samples": [(sample_name, labels, value)]}"""

    def samples(self, name, **labels):
        base = family_of(name, self)
        return [(n, l, v) for n, l, v in self[base]["samples"] if n == name and
                all(l.get(k) == str(x) for k, x in labels.items())] if base in self else []

    def value(self, name, **labels):
        """The value of the one sample of `name` whose labels are exactly `labels`, else None."""
        for n, l, v in self.samples(name, **labels):
            if l == {k: str(x) for k, x in labels.items()}:
                return v
        return None

    def total(self, name, **labels):
        """Sum of every sample of `name` carrying at least these labels."""
        return sum(v for _, _, v in self.samples(name, **labels))


def family_of(sample, fams):
    for suffix in ("_bucket", "_sum", "_count"):
        if sample.endswith(suffix) and sample[:-len(suffix)] in fams and \
                fams[sample[:-len(suffix)]]["type"] in ("histogram", "summary"):
            return sample[:-len(suffix)]
    return sample


class _Exposition:
    """Parser state: the families so far and which one the current lines belong to."""

    def __init__(self):
        self.fams, self.done, self.current = Families(), set(), None

    def family(self, name):
        return self.fams.setdefault(name, {"type": "untyped", "help": None, "samples": [], "typed": False})

    def enter(self, name, where):
        """Lines of family `name` start or go on; a family must not come back later."""
        if name == self.current:
            return
        if name in self.done:
            raise Failure("%s: family %s is split" % (where, name))
        if self.current:
            self.done.add(self.current)
        self.current = name

    def comment(self, line, where):
        parts = line.split(" ", 3)
        if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
            return  # any other comment is allowed
        name = parts[2]
        if not NAME.fullmatch(name):
            raise Failure("%s: bad metric name" % where)
        f = self.family(name)
        if parts[1] == "TYPE":
            if f["typed"] or f["samples"]:
                raise Failure("%s: TYPE twice or after samples" % where)
            if len(parts) != 4 or parts[3] not in TYPES:
                raise Failure("%s: bad type" % where)
            f["type"], f["typed"] = parts[3], True
        else:
            if f["help"] is not None:
                raise Failure("%s: HELP twice" % where)
            f["help"] = parts[3] if len(parts) == 4 else ""
        self.enter(name, where)

    def sample(self, line, where):
        m = NAME.match(line)
        if not m:
            raise Failure("%s: bad sample name" % where)
        name, rest = m.group(0), line[m.end():]
        labels = {}
        if rest.startswith("{"):
            k, inq = 1, False
            while k < len(rest) and (inq or rest[k] != "}"):
                if rest[k] == "\\" and inq:
                    k += 2
                    continue
                if rest[k] == '"':
                    inq = not inq
                k += 1
            if k >= len(rest):
                raise Failure("%s: unterminated labels" % where)
            labels = parse_labels(rest[1:k], where)
            rest = rest[k + 1:]
        if not rest.startswith(" "):
            raise Failure("%s: expected a space before the value" % where)
        fields = rest[1:].split(" ")
        if len(fields) not in (1, 2):
            raise Failure("%s: expected 'value [timestamp]'" % where)
        value = parse_float(fields[0], where)
        fam = family_of(name, self.fams)
        self.enter(fam, where)
        f = self.family(fam)
        if any(n == name and l == labels for n, l, _ in f["samples"]):
            raise Failure("%s: duplicate sample" % where)
        f["samples"].append((name, labels, value))


def parse_exposition(text):
    """Parse and check a whole exposition; returns Families. Failure on a format error,
    a family whose samples are not together, or an inconsistent histogram."""
    if not text.endswith("\n"):
        raise Failure("exposition does not end with a newline")
    p = _Exposition()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d %r" % (n, line[:120])
        if line.startswith("#"):
            p.comment(line, where)
        elif line:
            p.sample(line, where)
    for name, f in p.fams.items():
        if f["type"] == "histogram":
            check_histogram(name, f)
    return p.fams


def check_histogram(name, f):
    """Buckets cumulative, le increasing, +Inf present and equal to _count, per label set."""
    groups = {}
    for n, l, v in f["samples"]:
        key = tuple(sorted((k, x) for k, x in l.items() if k != "le"))
        g = groups.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if n == name + "_bucket":
            if "le" not in l:
                raise Failure("%s: bucket without le" % name)
            g["buckets"].append((parse_float(l["le"], name), v))
        elif n == name + "_sum":
            g["sum"] = v
        elif n == name + "_count":
            g["count"] = v
        else:
            raise Failure("%s: unexpected sample %s in a histogram" % (name, n))
    for key, g in groups.items():
        bs = g["buckets"]
        if not bs or bs[-1][0] != math.inf:
            raise Failure("%s%s: no +Inf bucket last" % (name, key))
        for (le1, c1), (le2, c2) in zip(bs, bs[1:]):
            if not le1 < le2:
                raise Failure("%s: le not increasing: %s then %s" % (name, le1, le2))
            if c2 < c1:
                raise Failure("%s: buckets not cumulative: %s then %s" % (name, c1, c2))
        if g["count"] is None or g["sum"] is None:
            raise Failure("%s%s: _sum or _count missing" % (name, key))
        if g["count"] != bs[-1][1]:
            raise Failure("%s: _count %s != +Inf bucket %s" % (name, g["count"], bs[-1][1]))


# ---------------------------------------------------------------- logs

LOGFMT_KEY = re.compile(r"[a-z][a-z0-9_]*")
LEVELS = ("error", "warn", "info", "debug")


def parse_logfmt(line):
    """One logfmt line -> dict of str (quoted values unescaped). Strict: keys
    [a-z0-9_], values bare (no spaces, quotes or '=') or double-quoted with
    \\" \\\\ \\n \\r \\t \\uXXXX escapes; the line starts with ts, level, msg."""
    out, i, n = {}, 0, len(line)
    while i < n:
        m = LOGFMT_KEY.match(line, i)
        if not m or m.end() >= n or line[m.end()] != "=":
            raise Failure("logfmt: bad key at %r in %r" % (line[i:i + 40], line[:200]))
        key, i = m.group(0), m.end() + 1
        if key in out:
            raise Failure("logfmt: key %s twice in %r" % (key, line[:200]))
        if i < n and line[i] == '"':
            j, val = i + 1, []
            while j < n and line[j] != '"':
                if line[j] == "\\":
                    e = line[j + 1:j + 2]
                    if e in ('"', "\\"):
                        val.append(e)
                    elif e in ("n", "r", "t"):
                        val.append({"n": "\n", "r": "\r", "t": "\t"}[e])
                    elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", line[j + 2:j + 6]):
                        val.append(chr(int(line[j + 2:j + 6], 16)))
                        j += 4
                    else:
                        raise Failure("logfmt: bad escape in %r" % line[:200])
                    j += 2
                    continue
                if ord(line[j]) < 0x20:
                    raise Failure("logfmt: raw control character in %r" % line[:200])
                val.append(line[j])
                j += 1
            if j >= n:
                raise Failure("logfmt: unterminated quoted value in %r" % line[:200])
            out[key], i = "".join(val), j + 1
        else:
            j = i
            while j < n and line[j] != " ":
                if line[j] in '"=' or ord(line[j]) < 0x20:
                    raise Failure("logfmt: %r in a bare value in %r" % (line[j], line[:200]))
                j += 1
            out[key], i = line[i:j], j
        if i < n:
            if line[i] != " ":
                raise Failure("logfmt: expected a space after %s in %r" % (key, line[:200]))
            i += 1
    check_event(list(out), out, line)
    return out


def parse_json_log(line):
    try:
        ev = json.loads(line)
    except ValueError as ex:
        raise Failure("log line is not JSON (%s): %r" % (ex, line[:200]))
    if not isinstance(ev, dict):
        raise Failure("log line is not a JSON object: %r" % line[:200])
    check_event(list(ev), ev, line)
    return ev


def check_event(keys, ev, line):
    if keys[:3] != ["ts", "level", "msg"]:
        raise Failure("log line does not start with ts, level, msg: %r" % line[:200])
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(ev["ts"])):
        raise Failure("bad ts in %r" % line[:200])
    if ev["level"] not in LEVELS:
        raise Failure("bad level in %r" % line[:200])


def parse_log(text, fmt="logfmt"):
    """Every line of a daemon log as an event (Failure on any line that does not parse)."""
    parse = parse_json_log if fmt == "json" else parse_logfmt
    return [parse(l) for l in text.splitlines()]
