"""The core path: rows in, multi-row INSERTs out, every row acked with the truth."""
import signal
import time

from harness import Failure, insert


def test_lone_row_is_acked(t):
    d = t.daemon()
    c = d.client()
    ack = c.request(insert(1))
    assert ack == {"id": 1, "ok": True}, ack
    assert t.db.count() == 1
