"""Shutdown and durability: SIGTERM closes clients with 1001 and exits 0, the
SQLite file holds the conversations and messages (the schema is discovered
through sqlite_master, not assumed), acknowledged messages survive kill -9
(ARCHITECTURE.md "Durability"), and a restarted server lets a customer resume."""

import signal

import harness
from harness import (check, start_server, base_config, agent_cfg, db_dump,
                     db_tables_containing, check_clean_exit)


def cfg_with(*agents):
    cfg = base_config()
    cfg["agents"] = list(agents)
    return cfg


def check_in_db(dump, values, what):
    missing = [v for v in values if not db_tables_containing(dump, v)]
    check(not missing, "%s not found in any table of the store (tables: %s): %s"
          % (what, {t: len(r) for t, r in dump.items()}, missing))


async def test_sigterm_closes_1001_and_keeps_data():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice", chat=1)))
    alice = await srv.online_agent("tok-alice")
    c1 = await srv.customer()
    w1 = await c1.hello(name="Gil")
    await alice.expect_assigned(w1["conversation_id"])
    texts = ["first from Gil: ação", "reply from Alice 😀", "second from Gil"]
    await c1.message(texts[0])
    await alice.message(w1["conversation_id"], texts[1])
    await c1.message(texts[2])
    c2 = await srv.customer()
    w2 = await c2.hello(name="Hana")
    await c2.expect("queue", position=1)
    await c2.message("queued and waiting")

    srv.signal(signal.SIGTERM)
    for cl in (c1, c2, alice):
        await cl.expect_close(1001)
    rc = await srv.wait_exit()
    check_clean_exit(srv, rc)

    dump = db_dump(srv.db_path)
    check_in_db(dump, [w1["conversation_id"], w2["conversation_id"]], "conversation ids")
    check_in_db(dump, texts + ["queued and waiting"], "message texts")


async def test_sigterm_with_nobody_connected():
    srv = await start_server()
    await srv.healthz()
    await srv.stop()


async def test_acknowledged_messages_survive_kill9():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice")))
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Ken")
    cid = w["conversation_id"]
    await alice.expect_assigned(cid)
    texts = []
    for i in range(10):
        t = "durable customer %d" % i
        await c.message(t)
        texts.append(t)
        t = "durable agent %d" % i
        await alice.message(cid, t)
        texts.append(t)
    await srv.kill()
    dump = db_dump(srv.db_path)
    check_in_db(dump, [cid], "the conversation id")
    check_in_db(dump, texts, "acknowledged messages after kill -9")


async def test_restart_then_resume():
    cfg = cfg_with(agent_cfg("alice", "tok-alice", name="Alice"))
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Lia")
    cid, token = w["conversation_id"], w["token"]
    await alice.expect_assigned(cid)
    s1 = await c.message("before the restart")
    s2 = await alice.message(cid, "answer before the restart")
    await c.expect("message", seq=s2)
    await srv.stop()

    cfg2 = dict(cfg, store=dict(cfg["store"], path=srv.db_path))
    srv2 = await start_server(cfg2, name="restarted server")
    c2 = await srv2.customer()
    await c2.send({"type": "hello", "resume": {"conversation_id": cid, "token": token,
                                               "last_seq": 0}})
    w2 = await c2.expect(("welcome", "error"))
    check(w2["type"] == "welcome", "resume: want welcome, got %s" % w2)
    check(w2.get("conversation_id") == cid and w2.get("seq") == s2,
          "resume after restart: welcome %s, want conversation %s seq %d" % (w2, cid, s2))
    m1 = await c2.expect("message", seq=s1)
    m2 = await c2.expect("message", seq=s2)
    check(m1["text"] == "before the restart" and m2["text"] == "answer before the restart",
          "replayed %s %s" % (m1, m2))
    a2 = await srv2.agent()
    wa = await a2.auth("tok-alice")
    ids = [x.get("id") for x in wa.get("conversations") or []]
    check(ids == [cid], "after restart the agent's welcome lists %s, want [%s]" % (ids, cid))
    s3 = await c2.message("after the restart")
    check(s3 == s2 + 1, "seq after restart %d, want %d" % (s3, s2 + 1))


if __name__ == "__main__":
    harness.run()
