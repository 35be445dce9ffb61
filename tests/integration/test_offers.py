"""Pools that ask agents to accept (protocol.md section 4.4): offer, accept,
decline, expiry."""

import time

import harness
from harness import check, start_server, base_config, agent_cfg

OFFER_TIMEOUT_S = 2


def offer_config():
    cfg = base_config()
    cfg["pools"] = [{"id": "frontline", "tier": 1, "accept": "offer",
                     "offer_timeout_s": OFFER_TIMEOUT_S}]
    cfg["agents"] = [agent_cfg("alice", "tok-alice", name="Alice"),
                     agent_cfg("bob", "tok-bob", name="Bob")]
    return cfg


async def expect_offer(agent, cid):
    o = await agent.expect("offer", conversation=lambda c: c.get("id") == cid)
    check(isinstance(o.get("expires_in_ms"), int)
          and 0 < o["expires_in_ms"] <= OFFER_TIMEOUT_S * 1000,
          "offer expires_in_ms %r, want 1..%d" % (o.get("expires_in_ms"), OFFER_TIMEOUT_S * 1000))
    check(isinstance(o["conversation"].get("transcript"), list), "offer context %s" % o)
    return o


async def test_decline_then_accept():
    srv = await start_server(offer_config())
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Rita")
    cid = w["conversation_id"]
    await expect_offer(alice, cid)
    await c.expect_none("agent_joined", within=0.3)
    check(not alice.received("assigned"), "an offer pool assigned without an accept")
    bob = await srv.online_agent("tok-bob")
    await bob.expect_none("offer", within=0.3)            # offered to Alice only
    await alice.request_ok({"type": "decline", "conversation_id": cid})
    await expect_offer(bob, cid)
    await bob.request_ok({"type": "accept", "conversation_id": cid})
    await c.expect("agent_joined", name="Bob")
    s = await bob.message(cid, "hello from Bob")
    await c.expect("message", seq=s, name="Bob")
    await alice.request_error({"type": "message", "conversation_id": cid, "text": "me?"},
                              "forbidden")


async def test_offer_expires():
    srv = await start_server(offer_config())
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    t0 = time.monotonic()             # before the hello: a lower bound of the offer's life
    w = await c.hello()
    cid = w["conversation_id"]
    await expect_offer(alice, cid)
    bob = await srv.online_agent("tok-bob")
    rel = await alice.expect("released", conversation_id=cid, timeout=OFFER_TIMEOUT_S + 8)
    check(rel.get("reason") == "offer_expired", "released reason %r, want offer_expired"
          % rel.get("reason"))
    waited = alice.arrival(rel) - t0
    check(waited >= OFFER_TIMEOUT_S - 0.05, "the offer expired after %.2f s, before its %d s"
          % (waited, OFFER_TIMEOUT_S))
    check(not c.received("agent_joined"), "customer got agent_joined for an expired offer")
    # Offered again (to either agent); accepting it works.
    await harness.wait_until(lambda: alice.find("offer") or bob.find("offer"),
                             "a new offer after the expiry")
    taker = bob if bob.find("offer") else alice
    await expect_offer(taker, cid)
    await taker.request_ok({"type": "accept", "conversation_id": cid})
    await c.expect("agent_joined", name=taker.welcome["agent"]["name"])


if __name__ == "__main__":
    harness.run()
