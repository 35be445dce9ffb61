"""Closing a conversation both ways (protocol.md sections 3.8, 4.10, 4.11) and
the agent's capacity coming back."""

import harness
from harness import check, start_server, base_config, agent_cfg


def cfg_with(*agents):
    cfg = base_config()
    cfg["agents"] = list(agents)
    return cfg


async def pair(srv, a=None, token="tok-alice", **hello):
    a = a or await srv.online_agent(token)
    c = await srv.customer()
    w = await c.hello(**hello)
    await a.expect_assigned(w["conversation_id"])
    await c.expect("agent_joined")
    return a, c, w["conversation_id"]


async def test_agent_closes():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice")))
    a, c, cid = await pair(srv)
    await c.message("bye soon")
    r = await a.request_ok({"type": "close", "conversation_id": cid, "resolution": "solved"})
    rel = await a.expect("released", conversation_id=cid)
    check(rel.get("reason") == "closed", "released reason %r, want closed" % rel.get("reason"))
    cl = await c.expect("closed")
    check(cl.get("reason") == "agent", "customer closed reason %r, want agent" % cl.get("reason"))
    check(cl.get("text") == "This conversation is closed. Thank you!",
          "closed text %r (en template)" % cl.get("text"))
    # The conversation is no longer the agent's (the spec names no code for this).
    r = await a.request({"type": "message", "conversation_id": cid, "text": "still there?"})
    check(r["type"] == "error" and r.get("code") in ("not_found", "forbidden", "conflict"),
          "a message on a closed conversation: %s" % r)
    await srv.healthz()


async def test_customer_closes():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice")))
    a, c, cid = await pair(srv)
    await c.request_ok({"type": "close"})
    cl = await c.expect("closed")
    check(cl.get("reason") == "customer", "closed reason %r, want customer" % cl.get("reason"))
    check(isinstance(cl.get("text"), str) and cl["text"], "closed without text: %s" % cl)
    rel = await a.expect("released", conversation_id=cid)
    check(rel.get("reason") == "customer_left", "released reason %r, want customer_left"
          % rel.get("reason"))
    await a.expect_none("message", within=0.3)
    await srv.healthz()


async def test_closed_text_is_localized():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice",
                                                languages={"en": 10, "es": 10})))
    # es has no "closed" template: the default language's text.
    a, c, cid = await pair(srv, language="es")
    await a.request_ok({"type": "close", "conversation_id": cid})
    cl = await c.expect("closed", reason="agent")
    check(cl.get("text") == "This conversation is closed. Thank you!",
          "es customer closed text %r: want the en fallback" % cl.get("text"))


async def test_close_frees_capacity_for_the_next_in_line():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice", chat=1)))
    a, c1, cid1 = await pair(srv)
    c2 = await srv.customer()
    w2 = await c2.hello()
    await c2.expect("queue", position=1)
    c3 = await srv.customer()
    w3 = await c3.hello()
    await c3.expect("queue", position=2)
    await a.expect_none("assigned", within=0.5)

    await a.request_ok({"type": "close", "conversation_id": cid1})
    await a.expect("released", conversation_id=cid1, reason="closed")
    await a.expect_assigned(w2["conversation_id"])
    await c2.expect("agent_joined", name="Alice")
    await c3.expect("queue", position=1)

    # Customer-side close frees the slot as well.
    await c2.request_ok({"type": "close"})
    await a.expect("released", conversation_id=w2["conversation_id"], reason="customer_left")
    await a.expect_assigned(w3["conversation_id"])
    await c3.expect("agent_joined", name="Alice")


async def test_queued_customer_closes():
    """A customer who leaves the queue: the ones behind move up; no agent hears of it."""
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice", chat=1)))
    c1 = await srv.customer()
    await c1.hello()
    await c1.expect("queue", position=1)
    c2 = await srv.customer()
    w2 = await c2.hello()
    await c2.expect("queue", position=2)
    await c1.request_ok({"type": "close"})
    await c1.expect("closed", reason="customer")
    await c2.expect("queue", position=1)
    a = await srv.online_agent("tok-alice")
    await a.expect_assigned(w2["conversation_id"])
    await a.expect_none("assigned", within=0.5)


if __name__ == "__main__":
    harness.run()
