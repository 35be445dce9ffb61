"""Escalation (protocol.md sections 3.4, 3.6, 4.8, 4.9, 4.12; ARCHITECTURE.md
"Escalation"): transfer, agent and customer escalation, configured phrases, bot
fallbacks. Every hop keeps the conversation: same id, transcript, notes, and a
history that says where it went."""

import json

import harness
from harness import check, start_server, base_config, agent_cfg


def escalation_config():
    cfg = base_config()
    cfg["skills"] = ["billing", "technical", "sales", "legal"]
    cfg["topics"].append({"id": "assist", "pool": "bots"})
    cfg["pools"] = [
        {"id": "bots", "tier": 0, "escalate_to": "frontline", "overflow": "frontline"},
        {"id": "frontline", "tier": 1, "escalate_to": "supervisors", "overflow": "experts"},
        {"id": "experts", "tier": 2, "escalate_to": "supervisors"},
        {"id": "legal", "tier": 2, "escalate_to": "supervisors"},
        {"id": "supervisors", "tier": 3},
    ]
    cfg["agents"] = [
        agent_cfg("alice", "tok-alice", name="Alice", chat=3),
        agent_cfg("xavier", "tok-xavier", name="Xavier", pools=["experts"],
                  skills={"billing": 9}, chat=3),
        agent_cfg("lena", "tok-lena", name="Lena", pools=["legal"], skills={"legal": 8}, chat=3),
        agent_cfg("sam", "tok-sam", name="Sam", role="supervisor", pools=["supervisors"], chat=3),
        agent_cfg("botty", "tok-botty", name="Botty", role="bot", pools=["bots"], chat=10),
    ]
    cfg["escalation"] = {
        "max_per_conversation": 5,
        "bot_fallbacks": 2,
        "phrases": [
            {"language": "en", "match": ["manager", "speak to a human"], "kind": "hierarchical"},
            {"language": "en", "match": ["lawyer", "legal action"], "kind": "functional",
             "to": "legal"},
        ],
    }
    return cfg


async def assigned_to_alice(srv, **hello):
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(**hello)
    await alice.expect_assigned(w["conversation_id"])
    await c.expect("agent_joined", name="Alice")
    return alice, c, w["conversation_id"]


def events(conv):
    return [h.get("event") for h in conv.get("history") or []]


async def check_moved(c, old_agent, new_agent, cid, to_pool, kind, reason, new_name):
    t = await c.expect("transferring")
    check(t.get("to_pool") == to_pool and t.get("kind") == kind,
          "transferring %s: want to_pool %s kind %s" % (t, to_pool, kind))
    check(isinstance(t.get("text"), str) and t["text"].startswith("Connecting you with "),
          "transferring text %r (en template)" % t.get("text"))
    rel = await old_agent.expect("released", conversation_id=cid)
    check(rel.get("reason") == reason, "released reason %r, want %r" % (rel.get("reason"), reason))
    conv = await new_agent.expect_assigned(cid)
    check(conv.get("pool") == to_pool, "context pool %r, want %r" % (conv.get("pool"), to_pool))
    await c.expect("agent_joined", name=new_name, pool=to_pool)
    return conv


async def test_transfer_keeps_context():
    srv = await start_server(escalation_config())
    xavier = await srv.online_agent("tok-xavier")
    alice, c, cid = await assigned_to_alice(srv, name="Olga", email="olga@example.com",
                                            attributes={"order": "A-17"})
    s1 = await c.message("my invoice is wrong")
    s2 = await alice.message(cid, "let me check")
    await c.expect("message", seq=s2)
    await alice.request_ok({"type": "note", "conversation_id": cid, "text": "needs an expert"})
    await alice.request_ok({"type": "transfer", "conversation_id": cid, "to_pool": "experts",
                            "note": "over to you"})
    conv = await check_moved(c, alice, xavier, cid, "experts", "functional", "transferred", "Xavier")
    tr = [(m.get("seq"), m.get("from"), m.get("text")) for m in conv.get("transcript") or []]
    check(tr == [(s1, "customer", "my invoice is wrong"), (s2, "agent", "let me check")],
          "transcript after transfer: %s" % tr)
    notes = conv.get("notes") or []
    check(any(n.get("text") == "needs an expert" and n.get("agent") in ("alice", "Alice")
              and isinstance(n.get("ts"), int) for n in notes), "notes after transfer: %s" % notes)
    check("over to you" in json.dumps(conv), "the transfer note is not in the context")
    ev = events(conv)
    check("created" in ev and "assigned" in ev and "transferred" in ev,
          "history after transfer: %s" % ev)
    check(ev.index("transferred") > ev.index("assigned"), "history order: %s" % ev)
    check(conv.get("attributes") == {"order": "A-17"}, "attributes %r" % conv.get("attributes"))
    check((conv.get("customer") or {}).get("name") == "Olga", "customer %r" % conv.get("customer"))
    s3 = await xavier.message(cid, "fixed it")
    check(s3 == s2 + 1, "seq after transfer %d, want %d" % (s3, s2 + 1))
    m = await c.expect("message", seq=s3)
    check(m["name"] == "Xavier" and m["from"] == "agent", "customer got %s" % m)
    await alice.request_error({"type": "message", "conversation_id": cid, "text": "me again"},
                              "forbidden")


async def test_transfer_to_agent():
    cfg = escalation_config()
    cfg["agents"].append(agent_cfg("bea", "tok-bea", name="Bea", chat=3))
    srv = await start_server(cfg)
    xavier = await srv.online_agent("tok-xavier")
    alice, c, cid = await assigned_to_alice(srv)
    bea = await srv.online_agent("tok-bea")
    # To a named agent of the same pool ...
    await alice.request_ok({"type": "transfer", "conversation_id": cid, "to_agent": "bea"})
    await alice.expect("released", conversation_id=cid, reason="transferred")
    await bea.expect_assigned(cid)
    await c.expect("agent_joined", name="Bea")
    # ... and to a named agent of another pool.
    await bea.request_ok({"type": "transfer", "conversation_id": cid, "to_pool": "experts",
                          "to_agent": "xavier"})
    await bea.expect("released", conversation_id=cid, reason="transferred")
    await xavier.expect_assigned(cid)
    await c.expect("agent_joined", name="Xavier")


async def test_agent_escalates_to_supervisor():
    srv = await start_server(escalation_config())
    sam = await srv.online_agent("tok-sam")
    alice, c, cid = await assigned_to_alice(srv)
    await c.message("this is the third time I write")
    await alice.request_ok({"type": "escalate", "conversation_id": cid, "note": "angry customer"})
    conv = await check_moved(c, alice, sam, cid, "supervisors", "hierarchical", "escalated", "Sam")
    check("escalated" in events(conv), "history after escalation: %s" % events(conv))
    check([m.get("text") for m in conv.get("transcript") or []] == ["this is the third time I write"],
          "transcript after escalation: %s" % conv.get("transcript"))
    s = await sam.message(cid, "I am the supervisor")
    await c.expect("message", seq=s, name="Sam")


async def test_customer_escalates():
    srv = await start_server(escalation_config())
    sam = await srv.online_agent("tok-sam")
    alice, c, cid = await assigned_to_alice(srv)
    r = await c.request({"type": "escalate", "reason": "I want a supervisor"})
    check(r["type"] == "ok", "customer escalate: %s" % r)
    await check_moved(c, alice, sam, cid, "supervisors", "hierarchical", "escalated", "Sam")


async def test_phrases_escalate():
    srv = await start_server(escalation_config())
    sam = await srv.online_agent("tok-sam")
    lena = await srv.online_agent("tok-lena")
    alice, c, cid = await assigned_to_alice(srv)
    await c.message("Let me speak to your manager right now")
    conv = await check_moved(c, alice, sam, cid, "supervisors", "hierarchical", "escalated", "Sam")
    check([m.get("text") for m in conv.get("transcript") or []]
          == ["Let me speak to your manager right now"], "transcript %s" % conv.get("transcript"))
    c2 = await srv.customer()
    w2 = await c2.hello(name="Pat")
    cid2 = w2["conversation_id"]
    await alice.expect_assigned(cid2)
    await c2.message("I will talk to my lawyer about this")
    t = await c2.expect("transferring")
    check(t.get("to_pool") == "legal" and t.get("kind") == "functional",
          "functional phrase: transferring %s" % t)
    await lena.expect_assigned(cid2)
    await c2.expect("agent_joined", name="Lena")
    await c2.message("an ordinary sentence")
    await c2.expect_none("transferring", within=0.5)


async def test_bot_fallbacks_hand_over_to_humans():
    srv = await start_server(escalation_config())
    bot = await srv.online_agent("tok-botty")
    check(bot.welcome["agent"].get("role") == "bot", "bot welcome role %r"
          % bot.welcome["agent"].get("role"))
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Quinn", topic="assist")
    cid = w["conversation_id"]
    await bot.expect_assigned(cid)
    await c.expect("agent_joined", name="Botty")
    await c.message("blorp")
    r = await bot.request_ok({"type": "message", "conversation_id": cid,
                              "text": "Sorry, I did not get that.", "fallback": True})
    m = await c.expect("message", seq=r["seq"])
    check(m.get("from") == "bot" and m.get("name") == "Botty", "bot message %s" % m)
    await c.expect_none("transferring", within=0.3)      # one fallback is not enough
    await c.message("blorp blorp")
    r = await bot.request_ok({"type": "message", "conversation_id": cid,
                              "text": "Sorry, still lost.", "fallback": True})
    t = await c.expect("transferring")
    check(t.get("to_pool") == "frontline", "bot hand-over: transferring %s" % t)
    await bot.expect("released", conversation_id=cid)
    conv = await alice.expect_assigned(cid)
    froms = [m.get("from") for m in conv.get("transcript") or []]
    check(froms == ["customer", "bot", "customer", "bot"], "transcript froms %s" % froms)
    await c.expect("agent_joined", name="Alice")


if __name__ == "__main__":
    harness.run()
