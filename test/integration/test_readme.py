"""The README's client examples, run as a reader would run them (docs that match the code)."""
import json
import os
import re
import subprocess
import sys

import harness
from harness import Failure


def readme_block(after_heading_text, lang):
    """The first ```lang block after the line containing `after_heading_text`."""
    with open(os.path.join(harness.ROOT, "README.md")) as f:
        text = f.read()
    start = text.index(after_heading_text)
    m = re.compile(r"```%s\n(.*?)```" % lang, re.S).search(text, start)
    if not m:
        raise Failure("no ```%s block after %r in README.md" % (lang, after_heading_text))
    return m.group(1)


def test_readme_python_client(t):
    d = t.daemon()
    code = readme_block("From Python", "python").replace("/tmp/pgcoalesce.sock", d.socket)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", p
    assert t.db.count() == 1000
    assert t.db.scalar("SELECT sum(value) FROM events") == sum(i * 0.5 for i in range(1000))


def test_readme_shell_client(t):
    d = t.daemon()
    block = readme_block("From a shell", "sh")
    lines = block.splitlines()
    cmd_end = next(i for i, l in enumerate(lines) if "nc -N -U" in l)
    cmd = "\n".join(lines[:cmd_end + 1]).replace("/tmp/pgcoalesce.sock", d.socket)
    shown = [json.loads(l) for l in lines[cmd_end + 1:] if l.strip()]
    p = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p
    got = [json.loads(l) for l in p.stdout.splitlines()]
    assert len(got) == len(shown) == 2, (got, shown)
    # the same answers as the README shows, but for the generated values
    for g, s in zip(sorted(got, key=lambda a: a["id"]), shown):
        assert g["id"] == s["id"] and g["ok"] is True and s["ok"] is True, (g, s)
        assert set(g.get("row", {})) == set(s.get("row", {})), (g, s)
    assert t.db.count() == 2
