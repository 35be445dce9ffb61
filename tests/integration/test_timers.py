"""Routing over time (config.md pools/routing; ARCHITECTURE.md "Routing"):
max_wait_s overflow, steps that relax skill levels, wrap_up_s, and queue
updates at most once a second (protocol.md 3.4)."""

import time

import harness
from harness import check, start_server, base_config, agent_cfg


async def test_max_wait_overflows():
    cfg = base_config()
    cfg["pools"] = [{"id": "frontline", "tier": 1, "max_wait_s": 1, "overflow": "experts"},
                    {"id": "experts", "tier": 2}]
    cfg["agents"] = [agent_cfg("xavier", "tok-xavier", name="Xavier", pools=["experts"])]
    srv = await start_server(cfg)
    xavier = await srv.online_agent("tok-xavier")
    c = await srv.customer()
    t0 = time.monotonic()             # before the hello: a lower bound of the wait
    w = await c.hello()
    cid = w["conversation_id"]
    await c.expect("queue", pool="frontline")
    t = await c.expect("transferring", timeout=8)
    check(t.get("to_pool") == "experts" and t.get("kind") == "functional",
          "overflow: transferring %s" % t)
    waited = c.arrival(t) - t0
    check(waited >= 0.95, "overflowed after %.2f s, before max_wait_s = 1" % waited)
    conv = await xavier.expect_assigned(cid)
    check(conv.get("pool") == "experts", "context pool %r" % conv.get("pool"))
    ev = [h.get("event") for h in conv.get("history") or []]
    check("queued" in ev and len(ev) >= 3, "history after overflow %s" % ev)
    await c.expect("agent_joined", name="Xavier", pool="experts")


async def test_steps_relax_skill_levels():
    cfg = base_config()          # topic billing needs billing >= 5
    cfg["pools"] = [{"id": "frontline", "tier": 1,
                     "steps": [{"after_s": 1, "relax_skill_levels": 2}]}]
    cfg["agents"] = [agent_cfg("bob", "tok-bob", name="Bob", skills={"billing": 3})]
    srv = await start_server(cfg)
    bob = await srv.online_agent("tok-bob")
    c = await srv.customer()
    t0 = time.monotonic()
    w = await c.hello(topic="billing")
    await c.expect("queue", position=1)
    conv = await bob.expect_assigned(w["conversation_id"], timeout=8)
    waited = time.monotonic() - t0
    check(waited >= 0.95, "billing 3 agent got a billing 5 conversation after %.2f s, "
          "before the 1 s step" % waited)
    await c.expect("agent_joined", name="Bob")
    check(conv.get("topic") == "billing", "context topic %r" % conv.get("topic"))


async def test_wrap_up_delays_the_next_assignment():
    cfg = base_config()
    cfg["routing"]["wrap_up_s"] = 2
    cfg["agents"] = [agent_cfg("alice", "tok-alice", name="Alice", chat=1)]
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    c1 = await srv.customer()
    w1 = await c1.hello()
    await alice.expect_assigned(w1["conversation_id"])
    c2 = await srv.customer()
    w2 = await c2.hello()
    await c2.expect("queue", position=1)
    t0 = time.monotonic()             # before the close: a lower bound of the wrap-up
    await alice.request_ok({"type": "close", "conversation_id": w1["conversation_id"]})
    await alice.expect("released", conversation_id=w1["conversation_id"])
    await alice.expect_none("assigned", within=1.0)
    await alice.expect_assigned(w2["conversation_id"], timeout=8)
    waited = alice.arrival(alice.received("assigned")[-1]) - t0
    check(waited >= 1.95, "next assignment %.2f s after the close, wrap_up_s = 2" % waited)


async def test_queue_updates_at_most_once_a_second():
    cfg = base_config()
    srv = await start_server(cfg)
    cs = []
    for i in range(5):
        c = await srv.customer()
        await c.hello()
        await c.expect("queue", position=i + 1)
        cs.append(c)
    last = cs[-1]
    for c in cs[:-1]:               # four leave the queue at once: 5 -> 4 -> 3 -> 2 -> 1
        await c.request_ok({"type": "close"})
    await last.expect("queue", position=1, timeout=8)
    qs = last.received("queue")
    times = [last.arrival(q) for q in qs]
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(all(g >= 0.9 for g in gaps[1:]) and len(qs) <= 4,
          "queue updates %s arrived %s s apart (at most once a second)"
          % ([q["position"] for q in qs], ["%.2f" % g for g in gaps]))


if __name__ == "__main__":
    harness.run()
