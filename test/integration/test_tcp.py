"""The TCP listener (--listen): the same protocol as the Unix socket, for a
client that shares a network namespace but no filesystem with the sidecar;
loopback only unless --listen-remote on. The client libraries and the CLI
reach it with HOST:PORT addresses."""
import os
import subprocess
import sys

import harness
from harness import insert


def test_tcp_listener_speaks_the_protocol_next_to_the_socket(t):
    d = t.daemon("--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
    host, port = d.tcp_address()
    assert host == "127.0.0.1" and port > 0
    c = d.tcp_client()
    u = d.client()
    c.send(*[insert(i) for i in range(50)])
    u.send(*[insert(100 + i) for i in range(50)])
    assert all(a["ok"] for a in c.recv_n(50) + u.recv_n(50))
    assert c.request({"op": "ping", "id": "p"}) == {"id": "p", "ok": True, "db": "up", "features": ["describe", "on_conflict", "key"]}
    assert c.request(insert(7, returning=["id"]))["row"]["id"] > 0
    assert t.db.count() == 101
    st = c.request({"op": "stats", "id": 1})["stats"]
    assert st["clients_connected"] == 2 and st["clients_connected_tcp"] == 1, st
    assert st["listen"] == "127.0.0.1:%d" % port, st
    m = d.metrics()
    assert m.value("pgcoalesce_tcp_clients_connected") == 1
    assert m.value("pgcoalesce_tcp_listening") == 1
    # a bad line over TCP is answered like over the socket
    c.send_raw(b"nope\n")
    assert c.recv()["error"]["code"] == "PC001"


def test_tcp_listener_refuses_non_loopback_without_the_flag(t):
    for spec in ("0.0.0.0:0", ":0"):
        p = subprocess.run([harness.DAEMON, "--listen", spec, "--socket", os.path.join(t.tmp, "x.sock"),
                            "--dsn", t.db.dsn], capture_output=True, text=True, timeout=30)
        assert p.returncode != 0, p
        assert "not a loopback address" in p.stderr and "--listen-remote on" in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    d = t.daemon("--listen", "0.0.0.0:0", "--listen-remote", "on")
    host, port = d.tcp_address()
    c = harness.Client(("127.0.0.1", port))
    assert c.request(insert(1)) == {"id": 1, "ok": True}
    c.close()


def test_client_libraries_and_cli_over_tcp(t):
    d = t.daemon("--listen", "localhost:0")
    host, port = d.tcp_address()
    addr = "%s:%d" % ("127.0.0.1" if "." in host else "[::1]", port)
    # the Python client library
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from pgcoalesce import Client\n"
            "with Client(%r) as c:\n"
            "    print(c.insert('events', {'device_id': 1, 'kind': 'py-tcp'}, returning=['kind']))\n"
            % (os.path.join(harness.ROOT, "clients", "python"), "tcp:" + addr))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "{'kind': 'py-tcp'}\n", p
    # the CLI (libpgcoalesce)
    p = t.cli("-s", addr, "-c", "INSERT INTO events (device_id, kind) VALUES (2, 'cli-tcp')")
    assert p.returncode == 0 and p.stdout == "INSERT 0 1\n", p
    assert t.db.count(where="kind IN ('py-tcp', 'cli-tcp')") == 2
