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


def test_readme_c_client(t):
    """The C example, built as it says (pkg-config against an installed library)."""
    from test_client_c import build_c
    d = t.daemon()
    src = os.path.join(t.tmp, "events.c")
    with open(src, "w") as f:
        f.write(readme_block("### C: libpgcoalesce", "c"))
    run, env = build_c(t, src, "events")
    p = subprocess.run(run, capture_output=True, text=True, timeout=120,
                       env=dict(env, PGCOALESCE_SOCKET=d.socket))
    last = t.db.scalar("SELECT id FROM events WHERE kind = 'last'")
    assert p.returncode == 0 and p.stderr == "", p
    assert p.stdout == "0 failed, the last row has id %d\n" % last, p.stdout
    assert t.db.count() == 1001
    assert t.db.scalar("SELECT sum(value) FROM events") == sum(i * 0.5 for i in range(1000))


def test_readme_cli_scripting(t):
    """The CLI's scripting lines, run as written (load.sql made for the last one)."""
    d = t.daemon()
    block = readme_block("**Scripting.**", "sh")
    with open(os.path.join(t.tmp, "load.sql"), "w") as f:
        f.write("INSERT INTO events (device_id, kind) VALUES (:dev, 'loaded');\n")
    script = "set -e\n" + block + 'printf "%s\\n" "$id"\n'
    env = dict(harness.os.environ, PGCOALESCE_SOCKET=d.socket, HOME=t.tmp,
               PATH=os.path.dirname(harness.CLI) + ":" + os.environ["PATH"])
    p = subprocess.run(["sh", "-c", script], capture_output=True, text=True, cwd=t.tmp, env=env,
                       timeout=60)
    assert p.returncode == 0, p
    # the -f line's tag, then the id the first line assigned, alone
    assert p.stdout == "INSERT 0 1\n%d\n" % t.db.scalar("SELECT id FROM events WHERE device_id = 5"), \
        p.stdout
    with open(os.path.join(t.tmp, "new.csv")) as f:
        lines = f.read().splitlines()
    assert lines[0] == "id,created_at,device_id,kind,value,payload" and lines[1].endswith(",6,y,,"), lines
    assert t.db.count(where="device_id = 7 AND kind = 'loaded'") == 1
