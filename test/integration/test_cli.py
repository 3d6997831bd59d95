"""pgcoalesce-cli against the real sidecar and PostgreSQL."""
import json
import os


def test_cli_unreachable_socket_exits_2(t):
    path = os.path.join(t.tmp, "nobody-listens.sock")
    p = t.cli("-c", "\\ping", socket_path=path)
    assert p.returncode == 2, p
    assert p.stdout == "", p
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and path in lines[0], p.stderr


def test_cli_raw_json_and_ping(t):
    d = t.daemon()
    p = t.cli("-c", '{"id": 7, "table": "events", "row": {"device_id": 3, "kind": "raw"}}',
              "-c", "\\ping", socket_path=d.socket)
    assert p.returncode == 0, p
    lines = p.stdout.splitlines()
    assert lines[0] == '{"id":7,"ok":true}', lines
    assert json.loads(lines[1]) == {"id": None, "ok": True, "db": "up"}, lines
    assert t.db.rows("SELECT device_id, kind FROM events") == [{"device_id": 3, "kind": "raw"}]
