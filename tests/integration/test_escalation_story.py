"""The escalation issue's own example, end to end through real sockets: a
customer cannot cancel a subscription; a bot fails twice and hands over to a
support agent; the agent adds a note and transfers to technical experts; the
expert sees every earlier message (the bot's too), the note and both hops,
answers on the customer's same socket, and the first agent can no longer
write to it. Also: a Spanish phrase to a Spanish-speaking supervisor with the
Spanish template, escalation to an empty pool, the limit, the admin API."""

import json

import harness
from harness import check, start_server, base_config, agent_cfg


def story_config():
    cfg = base_config()
    cfg["server"]["admin_token_sha256"] = harness.sha256_hex("admin-secret")
    cfg["skills"] = ["billing", "technical"]
    cfg["topics"].append({"id": "subscription", "pool": "bots"})
    cfg["pools"] = [
        {"id": "bots", "tier": 0, "escalate_to": "frontline"},
        {"id": "frontline", "tier": 1, "escalate_to": "supervisors"},
        {"id": "tech-experts", "tier": 2, "escalate_to": "supervisors"},
        {"id": "supervisors", "tier": 3},
        {"id": "night-shift", "tier": 2},
    ]
    cfg["agents"] = [
        agent_cfg("helpbot", "tok-bot", name="Help Bot", role="bot", pools=["bots"],
                  languages={"en": 8, "es": 8}, chat=10),
        agent_cfg("sara", "tok-sara", name="Sara", pools=["frontline"],
                  languages={"en": 10}, chat=3),
        agent_cfg("theo", "tok-theo", name="Theo", pools=["tech-experts"],
                  languages={"en": 10}, skills={"technical": 9}, chat=3),
        agent_cfg("mark", "tok-mark", name="Mark", role="supervisor", pools=["supervisors"],
                  languages={"en": 10}, chat=3),
        agent_cfg("lucia", "tok-lucia", name="Lucía", role="supervisor", pools=["supervisors"],
                  languages={"es": 10, "en": 5}, chat=3),
    ]
    cfg["escalation"] = {
        "max_per_conversation": 2,
        "bot_fallbacks": 2,
        "phrases": [
            {"language": "es", "match": ["hablar con un supervisor"], "kind": "hierarchical"},
        ],
    }
    cfg["templates"]["es"]["transferring"] = "Le comunicamos con {pool}. Su conversación le acompaña."
    return cfg


async def test_the_story():
    srv = await start_server(story_config())
    bot = await srv.online_agent("tok-bot")
    sara = await srv.online_agent("tok-sara")
    theo = await srv.online_agent("tok-theo")
    c = await srv.customer()
    w = await c.hello(name="Nora", topic="subscription")
    cid = w["conversation_id"]
    await bot.expect_assigned(cid)

    texts = []
    async def customer_says(t):
        await c.message(t)
        texts.append(t)
    async def bot_says(t):
        await bot.request_ok({"type": "message", "conversation_id": cid, "text": t,
                              "fallback": True})
        texts.append(t)

    await customer_says("I cannot cancel my subscription")
    await bot_says("Sorry, I did not understand.")
    await customer_says("CANCEL. MY. SUBSCRIPTION.")
    await bot_says("Sorry, I still did not understand.")
    await c.expect("transferring", to_pool="frontline")
    await bot.expect("released", conversation_id=cid, reason="escalated")
    ctx = await sara.expect_assigned(cid)
    check([m["text"] for m in ctx["transcript"]] == texts, "support sees %s" % ctx["transcript"])

    await sara.request_ok({"type": "note", "conversation_id": cid,
                           "text": "Cancel button errors out: technical"})
    s = await sara.message(cid, "I am passing you to a technical expert.")
    texts.append("I am passing you to a technical expert.")
    await c.expect("message", seq=s)
    await sara.request_ok({"type": "transfer", "conversation_id": cid, "to_pool": "tech-experts",
                           "skills": {"technical": 5}, "note": "cancel flow broken"})
    await sara.expect("released", conversation_id=cid, reason="transferred")
    t = await c.expect("transferring", to_pool="tech-experts", kind="functional")
    ctx = await theo.expect_assigned(cid)

    # the expert has everything
    check([m["text"] for m in ctx["transcript"]] == texts, "expert transcript %s" % ctx["transcript"])
    check([m["from"] for m in ctx["transcript"]] ==
          ["customer", "bot", "customer", "bot", "agent"], "senders %s" % ctx["transcript"])
    check([n["text"] for n in ctx["notes"]] == ["Cancel button errors out: technical"],
          "notes %s" % ctx["notes"])
    hops = [(h["event"], h.get("from_pool"), h.get("pool"), h.get("kind"))
            for h in ctx["history"] if h["event"] in ("escalated", "transferred")]
    check(hops == [("escalated", "bots", "frontline", "functional"),
                   ("transferred", "frontline", "tech-experts", "functional")]
          or hops == [("escalated", "bots", "frontline", "hierarchical"),
                      ("transferred", "frontline", "tech-experts", "functional")],
          "both hops in the history: %s" % ctx["history"])
    transfer = [h for h in ctx["history"] if h["event"] == "transferred"][0]
    check(transfer.get("agent") == "sara" and transfer.get("note") == "cancel flow broken",
          "who moved it and why: %s" % transfer)

    # same customer socket, the expert answers
    s = await theo.message(cid, "Fixed: your subscription is cancelled.")
    m = await c.expect("message", seq=s)
    check(m["from"] == "agent" and m["name"] == "Theo", "answer on the same socket: %s" % m)
    # the first agent can no longer write
    r = await sara.request({"type": "message", "conversation_id": cid, "text": "still me?"})
    check(r["type"] == "error" and r["code"] == "forbidden", "previous agent: %s" % r)
    r = await bot.request({"type": "message", "conversation_id": cid, "text": "me too?"})
    check(r["type"] == "error" and r["code"] == "forbidden", "the bot: %s" % r)

    # the admin API returns the whole context; wrong or no token: 401; unknown id: 404
    status, _, body = await srv.http("GET", "/v1/conversations/" + cid,
                                     headers={"Authorization": "Bearer admin-secret"})
    check(status == 200, "admin API: %s %r" % (status, body[:200]))
    doc = json.loads(body)
    check(len(doc["transcript"]) == len(texts) + 1 and len(doc["notes"]) == 1,
          "admin context: %s" % body[:300])
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "admin-secret"}):
        status, _, _ = await srv.http("GET", "/v1/conversations/" + cid, headers=headers)
        check(status == 401, "admin API with %s: %s" % (headers, status))
    status, _, _ = await srv.http("GET", "/v1/conversations/nope",
                                  headers={"Authorization": "Bearer admin-secret"})
    check(status == 404, "unknown id: %s" % status)


async def test_spanish_phrase_to_spanish_supervisor():
    srv = await start_server(story_config())
    mark = await srv.online_agent("tok-mark")            # English only: must not get it
    sara = await srv.online_agent("tok-sara")
    lucia = await srv.online_agent("tok-lucia")
    c = await srv.customer()
    w = await c.hello(name="Ana", language="es")
    cid = w["conversation_id"]
    # frontline has no Spanish speaker (Sara speaks English only): it waits
    await c.expect("queue")
    await sara.expect_none("assigned", within=0.2)
    # a Spanish phrase while waiting escalates hierarchically to supervisors
    await c.message("Quiero HABLAR con un supervisor, por favor")
    t = await c.expect("transferring", to_pool="supervisors", kind="hierarchical")
    check(t["text"] == "Le comunicamos con supervisors. Su conversación le acompaña.",
          "Spanish template: %r" % t["text"])
    ctx = await lucia.expect_assigned(cid)
    check(ctx["language"] == "es", "language across the hop: %s" % ctx["language"])
    check(ctx["transcript"][-1]["text"] == "Quiero HABLAR con un supervisor, por favor",
          "the triggering message is in the transcript: %s" % ctx["transcript"])
    await mark.expect_none("assigned", within=0.3)


async def test_escalation_to_empty_pool_queues_there():
    srv = await start_server(story_config())
    sara = await srv.online_agent("tok-sara")
    c = await srv.customer()
    w = await c.hello(name="Eve")
    cid = w["conversation_id"]
    await sara.expect_assigned(cid)
    await sara.request_ok({"type": "transfer", "conversation_id": cid, "to_pool": "night-shift"})
    await c.expect("transferring", to_pool="night-shift")
    q = await c.expect("queue", pool="night-shift", position=1)
    check(q["text"], "queue text after an escalation to an empty pool")


async def test_limit_and_same_pool():
    srv = await start_server(story_config())
    sara = await srv.online_agent("tok-sara")
    theo = await srv.online_agent("tok-theo")
    mark = await srv.online_agent("tok-mark")
    c = await srv.customer()
    w = await c.hello(name="Max")
    cid = w["conversation_id"]
    await sara.expect_assigned(cid)
    r = await sara.request({"type": "transfer", "conversation_id": cid, "to_pool": "frontline"})
    check(r["type"] == "error" and r["code"] == "conflict", "transfer to its own pool: %s" % r)
    await sara.request_ok({"type": "transfer", "conversation_id": cid, "to_pool": "tech-experts"})
    await theo.expect_assigned(cid)
    await theo.request_ok({"type": "escalate", "conversation_id": cid, "note": "angry"})
    await mark.expect_assigned(cid)
    # max_per_conversation = 2: a third hop is refused and nothing changes
    r = await mark.request({"type": "transfer", "conversation_id": cid, "to_pool": "frontline"})
    check(r["type"] == "error" and r["code"] == "conflict", "beyond the limit: %s" % r)
    s = await mark.message(cid, "I am still here")
    await c.expect("message", seq=s)


if __name__ == "__main__":
    harness.run()
