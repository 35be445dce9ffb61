"""The store fails under a running router (another process holds SQLite's
write lock, as a stuck backup or a second writer would): nothing is
acknowledged that was not stored, new writes are refused with
`unavailable`, the process keeps serving, the failure is logged once, and
when the lock goes away the held work is written and acknowledged."""

import asyncio
import sqlite3

import harness
from harness import check, start_server, base_config, agent_cfg, db_dump, wait_until


def cfg_with_alice():
    cfg = base_config()
    cfg["agents"] = [agent_cfg("alice", "tok-alice", name="Alice", chat=2)]
    return cfg


async def test_locked_store_refuses_then_recovers():
    srv = await start_server(cfg_with_alice())
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Lou")
    cid = w["conversation_id"]
    await alice.expect_assigned(cid)
    s1 = await c.message("before the lock")

    lock = sqlite3.connect(srv.db_path, isolation_level=None, timeout=5)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        # The first write after the lock cannot commit: its ok is held, and
        # the agent does not see the message either.
        await c.send({"type": "message", "ref": "held", "text": "written while locked"})
        await wait_until(lambda: "store: writes are failing" in srv.log(),
                         "the store failure in the log")
        await c.expect_none("ok", within=0.5, ref="held")
        await alice.expect_none("message", within=0.1, text="written while locked")
        # While the store is down, new writes are refused before they change anything.
        r = await c.request({"type": "message", "text": "refused while locked"})
        check(r["type"] == "error" and r["code"] == "unavailable",
              "a message while the store is down: want unavailable, got %s" % r)
        r = await alice.request({"type": "message", "conversation_id": cid, "text": "agent refused"})
        check(r["type"] == "error" and r["code"] == "unavailable",
              "an agent message while the store is down: want unavailable, got %s" % r)
        # The process still serves what needs no write.
        await srv.healthz()
        status, _, body = await srv.http("GET", "/healthz")
        check(b'"store_up":false' in body, "healthz should say store_up false: %r" % body)
        await c.request_ok({"type": "typing", "on": True})
        # Logged once, not per message (the store's own first error and the hub's line).
        check(srv.log().count("store: writes are failing") == 1,
              "the hub should log the failure once:\n" + srv.log())
        check(srv.log().count("database is locked") == 1,
              "the store should log the failure once:\n" + srv.log())
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    # The lock is gone: the held message is stored, then acknowledged and delivered.
    ok = await c.expect("ok", timeout=10, ref="held")
    check(ok["seq"] == s1 + 1, "held message got seq %s, want %d" % (ok["seq"], s1 + 1))
    await alice.expect("message", seq=s1 + 1, text="written while locked")
    await wait_until(lambda: "store: writes succeed again" in srv.log(), "the recovery in the log")
    s3 = await c.message("after the lock")
    check(s3 == s1 + 2, "seq after recovery %d, want %d (no gap)" % (s3, s1 + 2))
    await alice.expect("message", seq=s3)
    status, _, body = await srv.http("GET", "/healthz")
    check(b'"store_up":true' in body, "healthz after recovery: %r" % body)
    await srv.stop()

    dump = db_dump(srv.db_path)
    texts = [v for rows in dump.values() for row in rows for v in row if isinstance(v, str)]
    for t in ("before the lock", "written while locked", "after the lock"):
        check(t in texts, "%r not in the store" % t)
    for t in ("refused while locked", "agent refused"):
        check(t not in texts, "%r was refused but is in the store" % t)


if __name__ == "__main__":
    harness.run()
