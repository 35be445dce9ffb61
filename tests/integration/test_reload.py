"""SIGHUP reload (config.md; ARCHITECTURE.md "Configuration"): agents and
templates change without dropping connections; a file that does not validate
is reported as FILE:LINE and the running configuration stays."""

import signal

import harness
from harness import check, start_server, base_config, agent_cfg, to_libconfig, wait_until


def write_config(srv, cfg):
    cfg = dict(cfg, server=dict(cfg["server"], listen="127.0.0.1:0"),
               store=dict(cfg["store"], path=srv.db_path or ":memory:"))
    with open(srv.conf_path, "w", encoding="utf-8") as f:
        f.write(to_libconfig(cfg))


async def try_auth(srv, token):
    """Authenticates with token on a new socket: the welcome, or None when refused."""
    a = await srv.agent()
    await a.send({"type": "auth", "token": token})
    await wait_until(lambda: a.received("welcome") or a.received("error") or a.closed,
                     "an answer to auth")
    if a.received("welcome"):
        return a
    await a.close()
    return None


async def test_reload_adds_agents_and_keeps_connections():
    cfg = base_config()
    cfg["agents"] = [agent_cfg("alice", "tok-alice", name="Alice")]
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello()
    cid = w["conversation_id"]
    await alice.expect_assigned(cid)
    check(await try_auth(srv, "tok-bob") is None, "bob signed in before he was configured")

    cfg2 = base_config()
    cfg2["agents"] = [agent_cfg("alice", "tok-alice", name="Alice"),
                      agent_cfg("bob", "tok-bob", name="Bob")]
    cfg2["templates"]["en"]["queued"] = "Reloaded: you are #{position}."
    write_config(srv, cfg2)
    srv.signal(signal.SIGHUP)
    bob = None
    for _ in range(100):
        bob = await try_auth(srv, "tok-bob")
        if bob:
            break
    check(bob is not None, "bob cannot sign in after SIGHUP added him")
    # Nothing dropped: the customer and Alice still talk.
    s = await c.message("still connected after the reload")
    await alice.expect("message", seq=s)
    s = await alice.message(cid, "me too")
    await c.expect("message", seq=s)
    # The new template is used (Alice's 1 slot and Bob, away, leave the next customer waiting).
    c2 = await srv.customer()
    await c2.hello()
    q = await c2.expect("queue")
    check(q.get("text") == "Reloaded: you are #1.", "queue text after reload %r" % q.get("text"))


async def test_bad_reload_keeps_running_configuration():
    cfg = base_config()
    cfg["agents"] = [agent_cfg("alice", "tok-alice", name="Alice")]
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    text = to_libconfig(dict(cfg, store=dict(cfg["store"], path=srv.db_path)))
    lines = text.split("\n")
    n = next(i for i, l in enumerate(lines) if "max_frame_bytes" in l)
    lines[n] = '  max_frame_bytes = "huge";'
    with open(srv.conf_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    srv.signal(signal.SIGHUP)
    where = "%s:%d:" % (srv.conf_path, n + 1)
    await wait_until(lambda: where in srv.log(), "the reload error %s in the log" % where)
    await srv.healthz()
    await alice.request_ok({"type": "status", "state": "available"})
    again = await try_auth(srv, "tok-alice")
    check(again is not None, "alice cannot sign in after a bad reload")


if __name__ == "__main__":
    harness.run()
