"""Agent endpoint (protocol.md section 4): auth/welcome, away until available,
Bearer authentication, reconnecting desktops."""

import json

import harness
from harness import check, start_server, base_config, agent_cfg


def cfg_with(*agents):
    cfg = base_config()
    cfg["agents"] = list(agents)
    return cfg


async def test_agent_welcome():
    srv = await start_server(cfg_with(
        agent_cfg("alice", "tok-alice", name="Alice", languages={"en": 10, "es": 6},
                  skills={"billing": 7, "technical": 3}, chat=3, voice=1)))
    a = await srv.agent()
    w = await a.auth("tok-alice")
    ag = w["agent"]
    check(ag.get("id") == "alice" and ag.get("name") == "Alice" and ag.get("role") == "agent",
          "welcome agent %s" % ag)
    check(ag.get("pools") == ["frontline"], "welcome pools %r" % ag.get("pools"))
    check(ag.get("languages") == {"en": 10, "es": 6}, "welcome languages %r" % ag.get("languages"))
    skills = {k: v for k, v in (ag.get("skills") or {}).items() if v}
    check(skills == {"billing": 7, "technical": 3}, "welcome skills %r" % ag.get("skills"))
    cap = ag.get("capacity") or {}
    check(cap.get("chat") == 3 and cap.get("voice") == 1, "welcome capacity %r" % cap)
    check(w.get("conversations") == [], "fresh agent: conversations %r, want []"
          % w.get("conversations"))
    await a.request_ok({"type": "status", "state": "available"})


async def test_agent_is_away_until_available():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice")))
    c = await srv.customer()
    w = await c.hello()
    await c.expect("queue", position=1)
    a = await srv.agent()
    await a.auth("tok-alice")
    await a.expect_none("assigned", within=1.0)
    await c.expect_none("agent_joined", within=0.1)
    await a.status("available")
    conv = await a.expect_assigned(w["conversation_id"])
    check(conv["id"] == w["conversation_id"], "assigned %s" % conv["id"])
    await c.expect("agent_joined", name="Alice")


async def test_away_stops_new_assignments():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", chat=5)))
    a = await srv.online_agent("tok-alice")
    await a.status("away")
    c = await srv.customer()
    w = await c.hello()
    await c.expect("queue", position=1)
    await a.expect_none("assigned", within=1.0)
    await a.status("available")
    await a.expect_assigned(w["conversation_id"])


async def test_bearer_header_authenticates():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice")))
    a = await srv.agent(headers={"Authorization": "Bearer tok-alice"})
    w = await a.expect("welcome")
    check(w.get("agent", {}).get("id") == "alice", "welcome after Bearer: %s" % w)
    await a.status("available")


async def test_reconnecting_desktop_gets_its_conversations():
    srv = await start_server(cfg_with(agent_cfg("alice", "tok-alice", chat=2)))
    a = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Ivo")
    cid = w["conversation_id"]
    await a.expect_assigned(cid)
    await c.message("before the drop")
    await a.expect("message", seq=1)
    await a.close()

    a2 = await srv.agent()
    w2 = await a2.auth("tok-alice")
    convs = w2.get("conversations")
    check(isinstance(convs, list) and [x.get("id") for x in convs] == [cid],
          "reconnected agent's welcome conversations %r, want [%r]"
          % ([x.get("id") for x in convs or []], cid))
    tr = convs[0].get("transcript") or []
    check([m.get("text") for m in tr] == ["before the drop"], "transcript in welcome %s" % tr)
    s = await a2.message(cid, "still here")
    m = await c.expect("message", seq=s)
    check(m["text"] == "still here" and m["from"] == "agent", "customer got %s" % m)


async def test_supervisor_monitor_stats():
    srv = await start_server(cfg_with(
        agent_cfg("alice", "tok-alice"),
        agent_cfg("sam", "tok-sam", name="Sam", role="supervisor", pools=["frontline"])))
    c = await srv.customer()
    await c.hello()
    await c.expect("queue", position=1)
    sam = await srv.agent()
    w = await sam.auth("tok-sam")
    check(w["agent"].get("role") == "supervisor", "role %r" % w["agent"].get("role"))
    await sam.send({"type": "monitor", "pools": ["frontline"]})
    s1 = await sam.expect("stats", timeout=3)
    s2 = await sam.expect("stats", timeout=3)
    gap = sam.arrival(s2) - sam.arrival(s1)
    check(gap <= 1.6, "stats %.2f s apart: want at least every second" % gap)
    check("frontline" in json.dumps(s2), "stats do not mention the pool: %s" % s2)


if __name__ == "__main__":
    harness.run()
