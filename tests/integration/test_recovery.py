"""Recovery after kill -9 (ARCHITECTURE.md "Durability"; the durability issue):
every message that got `ok` survives, in seq order with no gap; queue order,
assignments and resume work across restarts."""

import asyncio
import copy

import harness
from harness import check, start_server, base_config, agent_cfg, wait_until


def restart_config(cfg, db_path):
    cfg = copy.deepcopy(cfg)
    cfg["store"]["path"] = db_path          # absolute: the same file again
    return cfg


async def kill_mid_stream(total, kill_after):
    """A customer streams up to `total` messages without waiting for answers
    (bursts of 10, a millisecond apart); the router is killed with SIGKILL once
    `kill_after` oks came back, while messages are still arriving. After a
    restart every acknowledged message is there, in seq order, no gap."""
    cfg = base_config()
    srv = await start_server(cfg)
    c = await srv.customer()
    w = await c.hello(name="Kim")
    cid, token = w["conversation_id"], w["token"]
    sent = 0

    async def stream():
        nonlocal sent
        try:
            for i in range(total):
                await c.send({"type": "message", "ref": "k%d" % i, "text": "pipelined %d" % i})
                sent += 1
                if i % 10 == 9:
                    await asyncio.sleep(0.001)
        except Exception:       # the router died under us: expected
            pass

    sender = asyncio.create_task(stream())
    acked = {}
    while len(acked) < kill_after:
        f = await c.expect("ok", timeout=10)
        acked[f["ref"]] = f["seq"]
    await srv.kill()
    await sender
    # oks already on the wire before the kill count too
    while True:
        try:
            f = await c.expect("ok", timeout=0.2)
        except harness.TestFailure:
            break
        acked[f["ref"]] = f["seq"]

    srv2 = await start_server(restart_config(cfg, srv.db_path), name="restarted")
    c2 = await srv2.customer()
    await c2.send({"type": "hello", "resume": {"conversation_id": cid, "token": token,
                                               "last_seq": 0}})
    w2 = await c2.expect("welcome")
    last = w2["seq"]
    check(last >= len(acked), "after restart seq %d < %d acknowledged" % (last, len(acked)))
    got = {}
    for _ in range(last):
        m = await c2.expect("message")
        got[m["seq"]] = m["text"]
    check(sorted(got) == list(range(1, last + 1)),
          "replayed seqs are not 1..%d without gaps: %s" % (last, sorted(got)[:20]))
    for ref, seq in acked.items():
        want = "pipelined %s" % ref[1:]
        check(got.get(seq) == want, "acknowledged %s (seq %d) lost or changed: %r"
              % (ref, seq, got.get(seq)))
    # the conversation goes on with the next seq
    s = await c2.message("after the restart")
    check(s == last + 1, "next seq %d, want %d" % (s, last + 1))
    await srv2.stop()
    print("  kill after %d oks: %d acknowledged, %d stored, %d sent of %d"
          % (kill_after, len(acked), last, sent, total))
    check(sent < total, "the stream had ended before the kill: not a mid-stream kill")
    return len(acked), last


async def test_kill9_early():
    await kill_mid_stream(3000, 20)


async def test_kill9_middle():
    await kill_mid_stream(3000, 300)


async def test_kill9_late():
    await kill_mid_stream(3000, 900)


async def test_queue_order_survives_restart():
    cfg = base_config()
    cfg["topics"].append({"id": "vip", "pool": "frontline", "priority": 5})
    cfg["agents"] = [agent_cfg("alice", "tok-alice", name="Alice", chat=1)]
    srv = await start_server(cfg)
    names = []
    for name, topic in (("first", None), ("vip", "vip"), ("second", None), ("third", None)):
        c = await srv.customer()
        hello = {"name": name}
        if topic:
            hello["topic"] = topic
        w = await c.hello(**hello)
        await c.expect("queue")
        names.append((name, w["conversation_id"]))
    await srv.kill()

    srv2 = await start_server(restart_config(cfg, srv.db_path), name="restarted")
    alice = await srv2.online_agent("tok-alice")
    order = []
    for _ in range(4):
        conv = await alice.expect_assigned()
        order.append(conv["customer"]["name"])
        await alice.request_ok({"type": "close", "conversation_id": conv["id"]})
    check(order == ["vip", "first", "second", "third"],
          "queue order after restart %s, want vip (priority) then arrival order" % order)


async def test_agent_picks_up_after_restart():
    cfg = base_config()
    cfg["routing"]["agent_grace_s"] = 30
    cfg["agents"] = [agent_cfg("alice", "tok-alice", name="Alice", chat=2)]
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Ola")
    cid = w["conversation_id"]
    await alice.expect_assigned(cid)
    await c.message("my order is late")
    await alice.message(cid, "let me check")
    await alice.request_ok({"type": "note", "conversation_id": cid, "text": "order 42"})
    await srv.kill()

    srv2 = await start_server(restart_config(cfg, srv.db_path), name="restarted")
    a2 = await srv2.agent()
    wel = await a2.auth("tok-alice")
    convs = {x["id"]: x for x in wel.get("conversations", [])}
    check(cid in convs, "welcome.conversations after restart lacks %s: %s" % (cid, list(convs)))
    ctx = convs[cid]
    check([m["text"] for m in ctx["transcript"]] == ["my order is late", "let me check"],
          "transcript after restart: %s" % ctx["transcript"])
    check([n["text"] for n in ctx["notes"]] == ["order 42"], "notes after restart: %s" % ctx["notes"])
    # the customer resumes on the same conversation and they go on talking
    c2 = await srv2.customer()
    await c2.send({"type": "hello", "resume": {"conversation_id": cid, "token": w["token"],
                                               "last_seq": 2}})
    w2 = await c2.expect("welcome")
    check(w2["state"] == "assigned", "state after restart %r" % w2["state"])
    await a2.status("available")
    s = await c2.message("still there?")
    check(s == 3, "seq after restart %d, want 3" % s)
    await a2.expect("message", seq=3)
    s = await a2.message(cid, "yes")
    await c2.expect("message", seq=s, text="yes")


async def test_unreturned_agent_requeued_after_grace():
    cfg = base_config()
    cfg["routing"]["agent_grace_s"] = 1
    cfg["agents"] = [agent_cfg("alice", "tok-alice", name="Alice"),
                     agent_cfg("bob", "tok-bob", name="Bob")]
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Pat")
    cid = w["conversation_id"]
    await alice.expect_assigned(cid)
    await srv.kill()

    srv2 = await start_server(restart_config(cfg, srv.db_path), name="restarted")
    c2 = await srv2.customer()
    await c2.send({"type": "hello", "resume": {"conversation_id": cid, "token": w["token"],
                                               "last_seq": 0}})
    await c2.expect("welcome")
    # alice never comes back: after the grace period the conversation is back in line
    await c2.expect("queue", timeout=10)
    bob = await srv2.online_agent("tok-bob")
    ctx = await bob.expect_assigned(cid)
    events = [h["event"] for h in ctx["history"]]
    check("requeued" in events, "history should record the requeue: %s" % events)


async def test_resume_closed_and_wrong_token():
    cfg = base_config()
    cfg["agents"] = [agent_cfg("alice", "tok-alice", name="Alice")]
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Rae")
    cid = w["conversation_id"]
    await alice.expect_assigned(cid)
    await c.message("one")
    await alice.message(cid, "two")
    await alice.request_ok({"type": "close", "conversation_id": cid})
    await c.expect("closed")
    await srv.kill()

    srv2 = await start_server(restart_config(cfg, srv.db_path), name="restarted")
    bad = await srv2.customer()
    await bad.send({"type": "hello", "resume": {"conversation_id": cid, "token": "0" * 64,
                                                "last_seq": 0}})
    await bad.expect_error("unauthorized")
    # the same socket stays usable
    await bad.hello(name="someone else")
    c2 = await srv2.customer()
    await c2.send({"type": "hello", "resume": {"conversation_id": cid, "token": w["token"],
                                               "last_seq": 1}})
    w2 = await c2.expect("welcome")
    check(w2["state"] == "closed" and w2["seq"] == 2, "closed resume welcome: %s" % w2)
    m = await c2.expect("message")
    check(m["seq"] == 2 and m["text"] == "two", "replay after last_seq 1: %s" % m)
    r = await c2.request({"type": "message", "text": "hello?"})
    check(r["type"] == "error" and r["code"] == "conflict", "message on a closed conversation: %s" % r)


if __name__ == "__main__":
    harness.run()
