"""Customer endpoint (protocol.md section 3): hello/welcome, language, queue and
agent_joined notices with localized text (section 7), resume, /healthz."""

import harness
from harness import check, start_server, base_config, agent_cfg, now_ms


def cfg_with(*agents):
    cfg = base_config()
    cfg["agents"] = list(agents)
    return cfg


async def test_healthz():
    srv = await start_server()
    await srv.healthz()


async def test_welcome_fields_when_no_agent():
    srv = await start_server()
    c = await srv.customer()
    w = await c.hello(name="Ana", email="ana@example.com")
    check(w["seq"] == 0, "welcome seq %r, want 0" % w["seq"])
    check(w["state"] == "queued", "no agent online: welcome state %r, want queued" % w["state"])
    check(w["language"] == "en", "no language declared: welcome language %r, want en" % w["language"])
    check(w["conversation_id"] and w["token"], "empty conversation_id or token: %s" % w)
    q = await c.expect("queue")
    check(q.get("pool") == "frontline", "queue pool %r" % q.get("pool"))
    check(q.get("position") == 1, "first customer: position %r, want 1" % q.get("position"))
    check(isinstance(q.get("eta_s"), int) and q["eta_s"] >= 0, "queue eta_s %r" % q.get("eta_s"))
    check(isinstance(q.get("text"), str) and q["text"].startswith("You are number 1 in line (about "),
          "queue text %r does not follow the en template" % q.get("text"))
    check("{" not in q["text"], "placeholder left in queue text %r" % q["text"])

    c2 = await srv.customer()
    w2 = await c2.hello()
    check(w2["conversation_id"] != w["conversation_id"], "two customers share a conversation id")
    check(w2["token"] != w["token"], "two conversations share a resume token")
    q2 = await c2.expect("queue")
    check(q2.get("position") == 2, "second customer: position %r, want 2" % q2.get("position"))
    await c.expect_none("agent_joined")
    await srv.healthz()


async def test_language_tags():
    srv = await start_server()
    cases = [("pt-BR", "pt"), ("es", "es"), ("es-419", "es"), ("de", "de"), ("EN-gb", "en"),
             ("zz", "en"), ("x-klingon", "en"), (None, "en")]
    bad = []
    for tag, want in cases:
        c = await srv.customer()
        w = await c.hello(**({"language": tag} if tag is not None else {}))
        if w["language"] != want:
            bad.append("hello language %r: welcome language %r, want %r" % (tag, w["language"], want))
    check(not bad, "\n".join(bad))


async def test_queue_text_is_localized_with_fallback():
    srv = await start_server()
    es = await srv.customer()
    await es.hello(language="es")
    q = await es.expect("queue")
    check(q["text"].startswith("Usted es el número 1 en la fila (unos "),
          "es customer: queue text %r does not follow the es template" % q["text"])
    de = await srv.customer()          # no de templates: the default language's
    await de.hello(language="de")
    q = await de.expect("queue")
    check(q["text"].startswith("You are number 2 in line (about "),
          "de customer (no de template): queue text %r, want the en template" % q["text"])


async def test_agent_joined_at_once():
    srv = await start_server(cfg_with(
        agent_cfg("alice", "tok-alice", name="Alice", languages={"en": 10, "es": 8}, chat=2)))
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Bea")
    j = await c.expect("agent_joined")
    check(j.get("name") == "Alice" and j.get("pool") == "frontline",
          "agent_joined %s: want name Alice, pool frontline" % j)
    check(j.get("text") == "Alice has joined the conversation.", "agent_joined text %r" % j.get("text"))
    check(not c.received("queue"), "assigned at once, yet got queue: %s" % c.received("queue"))
    conv = await alice.expect_assigned(w["conversation_id"])
    check(conv.get("state") == "assigned", "assigned context state %r" % conv.get("state"))

    es = await srv.customer()
    w = await es.hello(language="es")
    check(w["language"] == "es", "welcome language %r" % w["language"])
    j = await es.expect("agent_joined")
    check(j.get("text") == "Alice se ha unido a la conversación.",
          "es agent_joined text %r (es template)" % j.get("text"))
    await alice.expect_assigned(w["conversation_id"])


async def test_resume():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice")))
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Rui")
    cid, token = w["conversation_id"], w["token"]
    await alice.expect_assigned(cid)
    s1 = await c.message("one")
    s2 = await alice.message(cid, "two")
    await c.expect("message", seq=s2)
    await c.close()
    s3 = await alice.message(cid, "three")      # while the customer is away

    wrong = await srv.customer()
    await wrong.send({"type": "hello", "ref": "bad-resume",
                      "resume": {"conversation_id": cid, "token": token + "x", "last_seq": 0}})
    await wrong.expect_error("unauthorized", ref="bad-resume")

    c2 = await srv.customer()
    await c2.send({"type": "hello", "resume": {"conversation_id": cid, "token": token,
                                               "last_seq": s1}})
    w2 = await c2.expect(("welcome", "error"))
    check(w2["type"] == "welcome", "resume: want welcome, got %s" % w2)
    check(w2.get("conversation_id") == cid, "resume welcome names %r, want %r"
          % (w2.get("conversation_id"), cid))
    check(w2.get("seq") == s3, "resume welcome seq %r, want the last seq %r" % (w2.get("seq"), s3))
    got = {}
    order = []
    while set(got) != {s2, s3}:
        m = await c2.expect("message")
        check(m["seq"] > s1, "resume with last_seq %d replayed seq %d" % (s1, m["seq"]))
        if m["seq"] not in got:
            order.append(m["seq"])
        got[m["seq"]] = m["text"]
    check(order == [s2, s3], "replayed out of order: %s" % order)
    check(got == {s2: "two", s3: "three"}, "replayed texts %s" % got)
    s4 = await c2.message("four")
    check(s4 == s3 + 1, "seq after resume %d, want %d" % (s4, s3 + 1))
    m = await alice.expect("message", seq=s4)
    check(m["text"] == "four" and m["from"] == "customer", "agent got %s" % m)


async def test_message_timestamps_are_ms():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice")))
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello()
    await alice.expect_assigned(w["conversation_id"])
    t0 = now_ms()
    await c.message("hi")
    m = await alice.expect("message")
    check(isinstance(m.get("ts"), int) and abs(m["ts"] - t0) < 60000,
          "message ts %r is not milliseconds near now (%d)" % (m.get("ts"), t0))


if __name__ == "__main__":
    harness.run()
