"""Message relay (protocol.md sections 2, 3.3, 4.5-4.7): frames, gap-free seq in
both directions, no echo, unicode, the context an agent receives."""

import asyncio

import harness
from harness import check, start_server, base_config, agent_cfg, now_ms


def cfg_with(*agents):
    cfg = base_config()
    cfg["agents"] = list(agents)
    return cfg


async def pair(srv, token="tok-alice", **hello):
    a = await srv.online_agent(token)
    c = await srv.customer()
    w = await c.hello(**hello)
    await a.expect_assigned(w["conversation_id"])
    await c.expect("agent_joined")
    return a, c, w["conversation_id"]


def check_message(m, cid, seq, frm, name, text):
    check(m.get("type") == "message", "not a message: %s" % m)
    check(m.get("conversation_id") == cid, "message conversation_id %r, want %r"
          % (m.get("conversation_id"), cid))
    check(m.get("seq") == seq, "message seq %r, want %r" % (m.get("seq"), seq))
    check(m.get("from") == frm, "message from %r, want %r" % (m.get("from"), frm))
    check(m.get("name") == name, "message name %r, want %r" % (m.get("name"), name))
    check(m.get("text") == text, "message text %r, want %r" % (m.get("text"), text))
    check(isinstance(m.get("ts"), int) and not isinstance(m.get("ts"), bool),
          "message ts %r is not an integer" % m.get("ts"))


async def test_relay_basic():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice")))
    a, c, cid = await pair(srv, name="Bruno")

    s1 = await c.message("hello, I need help")
    check(s1 == 1, "first message seq %d, want 1" % s1)
    check_message(await a.expect("message"), cid, 1, "customer", "Bruno", "hello, I need help")

    r = await a.request_ok({"type": "message", "conversation_id": cid, "text": "Sure!"})
    check(r.get("seq") == 2, "agent ok %s: want seq 2" % r)
    check_message(await c.expect("message"), cid, 2, "agent", "Alice", "Sure!")

    s3 = await c.message("thanks")
    check(s3 == 3, "third message seq %d, want 3" % s3)
    check_message(await a.expect("message"), cid, 3, "customer", "Bruno", "thanks")

    await c.expect_none("message", within=0.5, **{"from": "customer"})
    await a.expect_none("message", within=0.1, **{"from": "agent"})


async def test_note_is_not_shown_to_customer():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice")))
    a, c, cid = await pair(srv)
    await a.request_ok({"type": "note", "conversation_id": cid, "text": "VIP, be nice"})
    await c.expect_none("message", within=0.7)
    s = await c.message("after the note")
    check(s == 1, "a note took a message seq: next seq %d, want 1" % s)


async def test_context_on_assignment():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice",
                                                skills={"technical": 5})))
    c = await srv.customer()
    t0 = now_ms()
    w = await c.hello(name="Dora", email="dora@example.com", topic="tech",
                      attributes={"plan": "gold", "visits": 3, "vip": True})
    cid = w["conversation_id"]
    await c.expect("queue", position=1)
    s1 = await c.message("is anyone there?")
    s2 = await c.message("my router is blinking ✨")
    check((s1, s2) == (1, 2), "queued customer's seqs %s" % ((s1, s2),))

    a = await srv.online_agent("tok-alice")
    conv = await a.expect_assigned(cid)
    check(conv.get("channel") == "webchat", "channel %r" % conv.get("channel"))
    check(conv.get("state") == "assigned", "state %r" % conv.get("state"))
    cust = conv.get("customer") or {}
    check(cust.get("name") == "Dora" and cust.get("email") == "dora@example.com",
          "customer %r" % cust)
    check(conv.get("language") == "en" and conv.get("topic") == "tech",
          "language %r topic %r" % (conv.get("language"), conv.get("topic")))
    check(conv.get("skills") == {"technical": 3}, "skills %r" % conv.get("skills"))
    check(conv.get("pool") == "frontline", "pool %r" % conv.get("pool"))
    check(isinstance(conv.get("priority"), int), "priority %r" % conv.get("priority"))
    check(conv.get("attributes") == {"plan": "gold", "visits": 3, "vip": True},
          "attributes %r" % conv.get("attributes"))
    tr = conv.get("transcript")
    check(isinstance(tr, list) and len(tr) == 2, "transcript %r" % tr)
    for m, (seq, text) in zip(tr, [(1, "is anyone there?"), (2, "my router is blinking ✨")]):
        check(m.get("seq") == seq and m.get("text") == text and m.get("from") == "customer"
              and m.get("name") == "Dora", "transcript entry %r, want seq %d %r" % (m, seq, text))
        check(isinstance(m.get("ts"), int) and m["ts"] >= t0 - 1000, "transcript ts %r" % m.get("ts"))
    check(conv.get("notes") == [], "notes %r" % conv.get("notes"))
    hist = conv.get("history")
    check(isinstance(hist, list), "history %r" % hist)
    events = [h.get("event") for h in hist]
    for e in ("created", "queued", "assigned"):
        check(e in events, "history lacks %r: %s" % (e, events))
    check(events.index("created") < events.index("queued") < events.index("assigned"),
          "history out of order: %s" % events)
    assigned = hist[events.index("assigned")]
    check(assigned.get("agent") in ("alice", "Alice"),
          "assigned history entry names agent %r" % assigned.get("agent"))
    check(all(isinstance(h.get("ts"), int) for h in hist), "history ts: %s" % hist)
    ts = [h["ts"] for h in hist]
    check(ts == sorted(ts), "history timestamps not in order: %s" % ts)


async def test_relay_bulk_interleaved_unicode():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice")))
    a, c, cid = await pair(srv, name="Zoë")
    samples = ["olá, ação ñandú", "😀🎉👍🏽 family: 👨‍👩‍👧", "مرحبا بالعالم", "שלום עולם",
               "中文字符", "quote \" backslash \\ tab\t newline\n end", "\u200f\u202e rtl marks",
               "Ærøskøbing ß ǅ", "a" * 2000]
    n = 50
    c_texts = ["c%02d %s" % (i, samples[i % len(samples)]) for i in range(n)]
    a_texts = ["a%02d %s" % (i, samples[(i + 3) % len(samples)]) for i in range(n)]

    async def send_all(sender, texts, make):
        # Send everything at once (refs distinguish the replies), then collect the oks.
        refs = []
        for t in texts:
            ref = harness.new_ref()
            refs.append(ref)
            await sender.send(dict(make(t), ref=ref))
        seqs = []
        for ref in refs:
            r = await sender.expect(("ok", "error"), ref=ref)
            check(r["type"] == "ok" and isinstance(r.get("seq"), int), "%s: reply %s" % (sender.label, r))
            seqs.append(r["seq"])
        return seqs

    c_seqs, a_seqs = await asyncio.gather(
        send_all(c, c_texts, lambda t: {"type": "message", "text": t}),
        send_all(a, a_texts, lambda t: {"type": "message", "conversation_id": cid, "text": t}))

    check(c_seqs == sorted(c_seqs), "customer's seqs not in send order: %s" % c_seqs)
    check(a_seqs == sorted(a_seqs), "agent's seqs not in send order: %s" % a_seqs)
    check(sorted(c_seqs + a_seqs) == list(range(1, 2 * n + 1)),
          "seqs across both sides are not exactly 1..%d: %s" % (2 * n, sorted(c_seqs + a_seqs)))

    async def collect(receiver, want):
        got = {}
        while len(got) < len(want):
            m = await receiver.expect("message")
            if m["seq"] in got:     # at least once: a repeat must be identical
                check(got[m["seq"]] == m["text"], "seq %d delivered twice with different text"
                      % m["seq"])
                continue
            got[m["seq"]] = m["text"]
            check(m["seq"] in want, "%s got seq %d that it did not expect: %s"
                  % (receiver.label, m["seq"], m))
        return got

    got_by_agent, got_by_customer = await asyncio.gather(
        collect(a, dict(zip(c_seqs, c_texts))), collect(c, dict(zip(a_seqs, a_texts))))
    check(got_by_agent == dict(zip(c_seqs, c_texts)), "agent received altered texts")
    check(got_by_customer == dict(zip(a_seqs, a_texts)), "customer received altered texts")
    order_a = [m["seq"] for m in a.received("message")]
    order_c = [m["seq"] for m in c.received("message")]
    check(order_a == sorted(order_a), "agent received out of seq order: %s" % order_a)
    check(order_c == sorted(order_c), "customer received out of seq order: %s" % order_c)
    check(not c.received("message", **{"from": "customer"}), "customer got its own messages echoed")
    check(not a.received("message", **{"from": "agent"}), "agent got its own messages echoed")
    for m in a.received("message"):
        check(m.get("name") == "Zoë" and m.get("from") == "customer", "agent got %s" % m)
    for m in c.received("message"):
        check(m.get("name") == "Alice" and m.get("from") == "agent", "customer got %s" % m)


async def test_typing_both_ways():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice")))
    a, c, cid = await pair(srv)
    await c.send({"type": "typing", "on": True})
    t = await a.expect("typing")
    check(t.get("on") is True and t.get("conversation_id") == cid,
          "agent got typing %s: want on true for %s" % (t, cid))
    await a.send({"type": "typing", "conversation_id": cid, "on": False})
    t = await c.expect("typing")
    check(t.get("on") is False, "customer got typing %s" % t)
    s = await c.message("typing is not a message")
    check(s == 1, "typing took a seq: first message seq %d" % s)


async def test_frames_of_every_header_size():
    """Frames reach the socket in batches, each with its own header: payloads
    under 126 bytes, up to 64 KiB, and over it (the `assigned` of a long
    queued transcript, ~150 KB), followed and preceded by small ones."""
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice")))
    c = await srv.customer()
    w = await c.hello(name="Long")
    cid = w["conversation_id"]
    await c.expect("queue", position=1)
    texts = [("%03d " % i) + ("ü" if i % 2 else "x") * (3000 + i) for i in range(50)]
    for i, t in enumerate(texts):
        check(await c.message(t) == i + 1, "queued message %d" % i)
    a = await srv.online_agent("tok-alice")
    conv = await a.expect_assigned(cid)
    tr = conv.get("transcript") or []
    check([m.get("text") for m in tr] == texts, "transcript of %d entries, want the 50 sent"
          % len(tr))
    await c.expect("agent_joined")
    # a burst both ways right after the big frame: tiny and mid-size ones mixed
    burst = ["k%d" % i if i % 3 else "m%d " % i + "y" * (700 * (i % 7)) for i in range(60)]
    for t in burst:
        await a.send({"type": "message", "conversation_id": cid, "text": t})
    got = [(await c.expect("message"))["text"] for _ in burst]
    check(got == burst, "customer got the burst altered or out of order")
    r = await a.request_ok({"type": "message", "conversation_id": cid, "text": "z" * 65000})
    check(r.get("seq") == 50 + len(burst) + 1, "ok after the burst %s" % r)
    check((await c.expect("message"))["text"] == "z" * 65000, "64 KiB frame altered")


if __name__ == "__main__":
    harness.run()
