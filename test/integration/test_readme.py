"""The README's client examples, run as a reader would run them (docs that match the code)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

import harness
from faultkit import Session
from harness import Failure, wait_for


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


# ---------------------------------------------------------------- client libraries

CLIENTS = os.path.join(harness.ROOT, "clients")


def doc_blocks(path, after_text, langs):
    """The consecutive fenced blocks of `langs` (e.g. ("python", "text"))
    that come first after the line containing `after_text` in file `path`."""
    with open(path) as f:
        text = f.read()
    pos = text.index(after_text)
    out = []
    for lang in langs:
        m = re.compile(r"```%s\n(.*?)```" % lang, re.S).search(text, pos)
        if not m:
            raise Failure("no ```%s block after %r in %s" % (lang, after_text, path))
        out.append(m.group(1))
        pos = m.end()
    return out


def library_env(t, socket_path):
    """The environment an app using the libraries has: the socket in
    PGCOALESCE_SOCKET, the packages where `import` and `require` find them."""
    modules = os.path.join(t.tmp, "node_modules")
    if not os.path.isdir(modules):
        os.makedirs(modules)
        os.symlink(os.path.join(CLIENTS, "node"), os.path.join(modules, "pgcoalesce"))
    e = {k: v for k, v in os.environ.items() if not k.startswith("PGCOALESCE_")}
    e.update(PGCOALESCE_SOCKET=socket_path, PYTHONPATH=os.path.join(CLIENTS, "python"),
             NODE_PATH=modules)
    return e


def run_example(t, d, lang, code):
    if lang == "js" and shutil.which("node") is None:
        raise Failure("node is not installed: `make deps` installs Debian's nodejs")
    cmd = [sys.executable, "-c", code] if lang == "python" else ["node", "-e", code]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=library_env(t, d.socket))
    assert p.returncode == 0 and p.stderr == "", p
    return p.stdout


def test_readme_library_examples(t):
    """The top README's example apps print exactly what the README shows."""
    readme = os.path.join(harness.ROOT, "README.md")
    for lang, heading in (("python", "A small app in Python"), ("js", "The same in Node.js")):
        t.db.execute("TRUNCATE events RESTART IDENTITY")
        d = t.daemon()
        code, shown = doc_blocks(readme, heading, (lang, "text"))
        assert run_example(t, d, lang, code) == shown, (lang, shown)
        assert t.db.count() == 1001
        assert t.db.scalar("SELECT sum((payload->>'n')::int) FROM events") == sum(range(1000))
        d.stop()


def test_readme_client_readme_examples(t):
    """Each client's own README example prints what it shows."""
    d = t.daemon()
    code, shown = doc_blocks(os.path.join(CLIENTS, "python", "README.md"), "Install:", ("python", "text"))
    assert run_example(t, d, "python", code) == shown, shown
    code, shown = doc_blocks(os.path.join(CLIENTS, "node", "README.md"), "Install:", ("js", "text"))
    assert run_example(t, d, "js", code) == shown, shown
    assert t.db.count() == 201 and t.db.count("t_checks") == 90


def test_readme_lost_connection_sorting(t):
    """The README's store() sorts rows as it says: refused, in doubt after the
    sidecar died with them in flight, retry when it cannot be reached."""
    code, = doc_blocks(os.path.join(harness.ROOT, "README.md"), "**A lost connection.**", ("python",))
    sys.path.insert(0, os.path.join(CLIENTS, "python"))
    import pgcoalesce
    scope = {}
    exec(code, scope)
    store = scope["store"]
    d = t.daemon()
    client = pgcoalesce.Client(d.socket, connect_timeout=0.5)
    good, bad = {"device_id": 1, "kind": "ok"}, {"device_id": 2}
    assert store(client, [good, bad]) == ([bad], [], [])
    holder = Session(t, "BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE;", "holder")
    rows = [{"device_id": i, "kind": "held"} for i in range(20)]
    out = []
    th = threading.Thread(target=lambda: out.append(store(client, rows)))
    th.start()
    wait_for(lambda: d.stats()["pending_rows"] == 20, 30, what="20 rows pending")
    d.send_signal(signal.SIGKILL)
    th.join(60)
    assert out == [([], [], rows)], out
    d.wait_exit(30)  # until then its listening socket may still take a connection
    got = store(client, rows)
    assert got == ([], rows, []), got  # nothing listens: never sent
    holder.release()
    client.close()


def test_readme_lost_connection_sorting_node(t):
    """The Node README's store(), the same three ways."""
    code, = doc_blocks(os.path.join(CLIENTS, "node", "README.md"), "## A lost connection", ("js",))
    driver = code + r"""
const { Client } = require('pgcoalesce');
const client = new Client({ connectTimeout: 500 });
const show = (o) => console.log(JSON.stringify(o));
const nextLine = () => new Promise((resolve) => process.stdin.once('data', resolve));
(async () => {
  show(await store(client, [{ device_id: 1, kind: 'ok' }, { device_id: 2 }]));
  await nextLine();
  const rows = Array.from({ length: 20 }, (_, i) => ({ device_id: i, kind: 'held' }));
  show(await store(client, rows));
  show(await store(client, rows));
  await client.close();
  process.stdin.destroy();
})().catch((e) => { console.error(e); process.exitCode = 1; });
"""
    if shutil.which("node") is None:
        raise Failure("node is not installed: `make deps` installs Debian's nodejs")
    d = t.daemon()
    p = subprocess.Popen(["node", "-e", driver], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=library_env(t, d.socket))
    t.cleanups.append(lambda: p.poll() is None and p.kill())
    first = json.loads(p.stdout.readline())
    holder = Session(t, "BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE;", "holder")
    p.stdin.write("go\n")
    p.stdin.flush()
    wait_for(lambda: d.stats()["pending_rows"] == 20, 30, what="20 rows pending")
    os.unlink(d.socket)  # the third store() must find nothing, not the dying listener
    d.send_signal(signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    holder.release()
    assert p.returncode == 0 and err == "", (out, err)
    rows = [{"device_id": i, "kind": "held"} for i in range(20)]
    assert first == {"refused": [{"device_id": 2}], "retry": [], "inDoubt": []}, first
    assert [json.loads(line) for line in out.splitlines()] == [
        {"refused": [], "retry": [], "inDoubt": rows},
        {"refused": [], "retry": rows, "inDoubt": []}], out

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


# ---------------------------------------------------------------- idempotency keys (issue 13)
# These need the daemon side of issue 13 (the clients refuse keys to a
# sidecar whose ping does not list them): on a branch without it they fail.

def test_readme_keyed_resend_python(t):
    """The Python README's store_once(): rows in flight when the sidecar is
    killed are resent with their keys to the sidecar started again, and each
    is stored exactly once, whether or not the first copy committed."""
    code, = doc_blocks(os.path.join(CLIENTS, "python", "README.md"), "**With idempotency keys**", ("python",))
    sys.path.insert(0, os.path.join(CLIENTS, "python"))
    import pgcoalesce
    scope = {}
    exec(code, scope)
    store_once = scope["store_once"]
    d = t.daemon()
    client = pgcoalesce.Client(d.socket, connect_timeout=30)
    assert store_once(client, [{"device_id": 1, "kind": "ok"}, {"device_id": 2}]) == ([{"device_id": 2}], [])
    holder = Session(t, "BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE;", "holder")
    rows = [{"device_id": i, "kind": "held"} for i in range(20)]
    out = []
    th = threading.Thread(target=lambda: out.append(store_once(client, rows)))
    th.start()
    wait_for(lambda: d.stats()["pending_rows"] == 20, 30, what="20 rows pending")
    d.send_signal(signal.SIGKILL)
    d.wait_exit(30)
    t.daemon("--socket", d.socket)  # the same address: the client reconnects there
    holder.release()
    th.join(120)
    client.close()
    assert out == [([], [])], out
    assert t.db.rows("SELECT device_id, count(*) AS n FROM events WHERE kind = 'held' GROUP BY 1 ORDER BY 1") == \
        [{"device_id": i, "n": 1} for i in range(20)]


def test_readme_keyed_resend_node(t):
    """The Node README's storeOnce(), the same way."""
    code, = doc_blocks(os.path.join(CLIENTS, "node", "README.md"), "**With idempotency keys**", ("js",))
    driver = code + r"""
const { Client } = require('pgcoalesce');
const client = new Client({ connectTimeout: 30000 });
const show = (o) => console.log(JSON.stringify(o));
const nextLine = () => new Promise((resolve) => process.stdin.once('data', resolve));
(async () => {
  show(await storeOnce(client, [{ device_id: 1, kind: 'ok' }, { device_id: 2 }]));
  await nextLine();
  show(await storeOnce(client, Array.from({ length: 20 }, (_, i) => ({ device_id: i, kind: 'held' }))));
  await client.close();
  process.stdin.destroy();
})().catch((e) => { console.error(e); process.exitCode = 1; });
"""
    if shutil.which("node") is None:
        raise Failure("node is not installed: `make deps` installs Debian's nodejs")
    d = t.daemon()
    p = subprocess.Popen(["node", "-e", driver], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=library_env(t, d.socket))
    t.cleanups.append(lambda: p.poll() is None and p.kill())
    first = json.loads(p.stdout.readline())
    assert first == {"refused": [{"device_id": 2}], "pending": []}, first
    holder = Session(t, "BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE;", "holder")
    p.stdin.write("go\n")
    p.stdin.flush()
    wait_for(lambda: d.stats()["pending_rows"] == 20, 30, what="20 rows pending")
    d.send_signal(signal.SIGKILL)
    d.wait_exit(30)
    t.daemon("--socket", d.socket)
    holder.release()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and err == "", (out, err)
    assert json.loads(out) == {"refused": [], "pending": []}, out
    assert t.db.rows("SELECT device_id, count(*) AS n FROM events WHERE kind = 'held' GROUP BY 1 ORDER BY 1") == \
        [{"device_id": i, "n": 1} for i in range(20)]


def shell_example(t, d, after):
    """Run the ```sh block after `after` in README.md against daemon d; (answers, shown), by id."""
    block = readme_block(after, "sh")
    lines = block.splitlines()
    cmd_end = next(i for i, l in enumerate(lines) if "nc -N -U" in l)
    cmd = "\n".join(lines[:cmd_end + 1]).replace("/tmp/pgcoalesce.sock", d.socket)
    shown = [json.loads(l) for l in lines[cmd_end + 1:] if l.strip()]
    p = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p
    got = sorted((json.loads(l) for l in p.stdout.splitlines()), key=lambda a: a["id"])
    return got, sorted(shown, key=lambda a: a["id"])


def test_readme_shell_upserts_and_keys(t):
    """The README's nc examples of upserts and keys answer what it shows."""
    d = t.daemon()
    got, shown = shell_example(t, d, "**Upserts.** An insert with")
    assert got == shown, (got, shown)
    assert t.db.rows("SELECT device_id, hits FROM devices") == [{"device_id": 7, "hits": 2}]
    got, shown = shell_example(t, d, "**Idempotency keys.** An insert with")
    assert got == shown, (got, shown)
    assert t.db.count(where="kind = 'paid'") == 1
