"""Routing (protocol.md sections 3-4, ARCHITECTURE.md "Routing"): language,
skill levels, queue positions, capacity under many simultaneous customers."""

import asyncio

import harness
from harness import check, start_server, base_config, agent_cfg, wait_until


def cfg_with(*agents):
    cfg = base_config()
    cfg["agents"] = list(agents)
    return cfg


async def test_language_routing():
    srv = await start_server(cfg_with(
        agent_cfg("eva", "tok-eva", name="Eva", languages={"en": 10}, chat=2),
        agent_cfg("sofia", "tok-sofia", name="Sofia", languages={"es": 10}, chat=2)))
    eva = await srv.online_agent("tok-eva")

    es = await srv.customer()
    w_es = await es.hello(name="Lucía", language="es")
    check(w_es["language"] == "es", "welcome language %r" % w_es["language"])
    q = await es.expect("queue", position=1)
    check(q["text"].startswith("Usted es el número 1"), "es queue text %r" % q["text"])
    await eva.expect_none("assigned", within=1.0)
    await es.expect_none("agent_joined", within=0.1)

    en = await srv.customer()          # Eva is available: an English customer gets her
    w_en = await en.hello(name="John", language="en")
    await eva.expect_assigned(w_en["conversation_id"])
    await en.expect("agent_joined", name="Eva")

    sofia = await srv.online_agent("tok-sofia")
    conv = await sofia.expect_assigned(w_es["conversation_id"])
    check(conv.get("language") == "es", "context language %r" % conv.get("language"))
    await es.expect("agent_joined", name="Sofia")
    ids = [f["conversation"]["id"] for f in eva.received("assigned")]
    check(ids == [w_en["conversation_id"]], "Eva (English only) was assigned %s" % ids)


async def test_skill_levels():
    srv = await start_server(cfg_with(
        agent_cfg("bob", "tok-bob", name="Bob", skills={"billing": 3, "technical": 3}, chat=2),
        agent_cfg("carol", "tok-carol", name="Carol", skills={"billing": 7}, chat=2)))
    bob = await srv.online_agent("tok-bob")

    bill = await srv.customer()
    w_bill = await bill.hello(name="Payer", topic="billing")     # billing >= 5
    await bill.expect("queue", position=1)
    await bob.expect_none("assigned", within=1.0)

    tech = await srv.customer()
    w_tech = await tech.hello(name="Geek", topic="tech")         # technical >= 3: Bob has 3
    await bob.expect_assigned(w_tech["conversation_id"])
    await tech.expect("agent_joined", name="Bob")

    carol = await srv.online_agent("tok-carol")
    conv = await carol.expect_assigned(w_bill["conversation_id"])
    check(conv.get("topic") == "billing", "context topic %r" % conv.get("topic"))
    check(conv.get("skills") == {"billing": 5}, "context skills %r" % conv.get("skills"))
    await bill.expect("agent_joined", name="Carol")
    ids = [f["conversation"]["id"] for f in bob.received("assigned")]
    check(ids == [w_tech["conversation_id"]], "Bob (billing 3) was assigned %s" % ids)


async def test_queue_positions():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", name="Alice", chat=1)))
    cs, ids = [], []
    for i in range(3):
        c = await srv.customer()
        w = await c.hello(name="C%d" % (i + 1))
        q = await c.expect("queue")
        check(q["position"] == i + 1, "customer %d: position %r, want %d" % (i + 1, q["position"], i + 1))
        cs.append(c)
        ids.append(w["conversation_id"])

    alice = await srv.online_agent("tok-alice")
    await alice.expect_assigned(ids[0])
    await cs[0].expect("agent_joined", name="Alice")
    await cs[1].expect("queue", position=1)
    await cs[2].expect("queue", position=2)
    await alice.expect_none("assigned", within=0.5)      # capacity 1

    await alice.request_ok({"type": "close", "conversation_id": ids[0]})
    await alice.expect("released", conversation_id=ids[0], reason="closed")
    await cs[0].expect("closed", reason="agent")
    await alice.expect_assigned(ids[1])
    await cs[1].expect("agent_joined", name="Alice")
    await cs[2].expect("queue", position=1)

    await alice.request_ok({"type": "close", "conversation_id": ids[1]})
    await alice.expect_assigned(ids[2])
    await cs[2].expect("agent_joined", name="Alice")
    for c in cs[1:]:
        bad = [q for q in c.received("queue") if q["position"] > 3 or q["position"] < 1]
        check(not bad, "%s got positions out of range: %s" % (c.label, bad))


async def test_capacity_many_customers():
    caps = {"ag2": 2, "ag3": 3, "ag5": 5}
    srv = await start_server(cfg_with(*[agent_cfg(k, "tok-" + k, name=k.upper(), chat=v)
                                        for k, v in caps.items()]))
    agents = {k: await srv.online_agent("tok-" + k) for k in caps}
    total = sum(caps.values())
    n = 40

    async def arrive(i):
        c = await srv.customer()
        await c.hello(name="cust%02d" % i)
        return c

    cs = await asyncio.gather(*[arrive(i) for i in range(n)])
    by_id = {c.conversation_id: c for c in cs}
    check(len(by_id) == n, "%d customers got %d distinct conversation ids" % (n, len(by_id)))

    def holding(name):
        a = agents[name]
        return len(a.received("assigned")) - len(a.received("released"))

    def over_capacity():
        return {k: holding(k) for k in caps if holding(k) > caps[k]}

    def latest_pos(c):
        qs = c.received("queue")
        return qs[-1]["position"] if qs else None

    def settled():
        joined = [c for c in cs if c.received("agent_joined")]
        queued = sorted(latest_pos(c) or 0 for c in cs if not c.received("agent_joined"))
        return (len(joined) == total and queued == list(range(1, n - total + 1))
                and all(holding(k) == caps[k] for k in caps))

    def describe():
        return "agents hold %s (capacity %s); %d customers joined; queue positions %s" % (
            {k: holding(k) for k in caps}, caps, sum(1 for c in cs if c.received("agent_joined")),
            sorted(latest_pos(c) or 0 for c in cs if not c.received("agent_joined")))

    await wait_until(settled, "10 assigned and 30 queued at positions 1..30", timeout=15,
                     describe=describe)
    check(not over_capacity(), "over capacity: %s" % over_capacity())

    held = {}
    for k, a in agents.items():
        held[k] = []
        for _ in range(caps[k]):
            conv = await a.expect_assigned()
            held[k].append(conv["id"])
    for k in caps:
        for cid in held[k]:
            check(cid in by_id, "agent %s assigned unknown conversation %s" % (k, cid))
            j = by_id[cid].received("agent_joined")
            check(j and j[0]["name"] == k.upper(), "%s holds %s but that customer got %s"
                  % (k, cid, j))
    queue = sorted((c for c in cs if not c.received("agent_joined")), key=latest_pos)

    # Drain: each close frees one slot, which goes to the head of the queue.
    rotation = list(caps)
    step = 0
    while queue:
        k = rotation[step % len(rotation)]
        step += 1
        a = agents[k]
        cid = held[k].pop(0)
        await a.request_ok({"type": "close", "conversation_id": cid})
        await a.expect("released", conversation_id=cid, reason="closed")
        await by_id[cid].expect("closed", reason="agent")
        head = queue.pop(0)
        conv = await a.expect_assigned()
        check(conv["id"] == head.conversation_id,
              "after a close, %s was assigned %s (%s); the head of the queue was %s (%s)"
              % (k, conv["id"], by_id.get(conv["id"], head).label, head.conversation_id, head.label))
        held[k].append(conv["id"])
        await head.expect("agent_joined", name=k.upper())
        check(not over_capacity(), "over capacity: %s" % over_capacity())
    for k, a in agents.items():
        for cid in held[k]:
            await a.request_ok({"type": "close", "conversation_id": cid})
            await a.expect("released", conversation_id=cid, reason="closed")
    for a in agents.values():
        await a.expect_none("assigned", within=0.3)
    check(all(holding(k) == 0 for k in caps), "agents still hold %s" % {k: holding(k) for k in caps})
    await srv.healthz()


if __name__ == "__main__":
    harness.run()
