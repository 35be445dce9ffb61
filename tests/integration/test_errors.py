"""Bad input (protocol.md section 1): every bad frame gets an `error` with the
right code and the request's ref, the same socket stays usable, the process
stays up; the exceptions close with 1009 (frame too large), 1008 (failed
authentication, a flood of bad frames)."""

import json

import websockets

import harness
from harness import check, start_server, base_config, agent_cfg

MAX_FRAME = 4096


def cfg_with(*agents, **server):
    cfg = base_config()
    cfg["server"]["max_frame_bytes"] = MAX_FRAME
    cfg["server"].update(server)
    cfg["agents"] = list(agents)
    return cfg


def two_agents():
    return cfg_with(agent_cfg("alice", "tok-alice", name="Alice", chat=2),
                    agent_cfg("bob", "tok-bob", name="Bob", chat=2))


def frame_of_size(n, **fields):
    """A JSON text frame of exactly n bytes (ASCII), padded through an unknown field."""
    obj = dict(fields, pad="")
    base = len(json.dumps(obj, separators=(",", ":")))
    check(n >= base, "frame_of_size: %d < %d" % (n, base))
    obj["pad"] = "p" * (n - base)
    s = json.dumps(obj, separators=(",", ":"))
    assert len(s.encode()) == n
    return s


async def still_usable(c, what):
    """The customer's socket still answers a valid request."""
    r = await c.request({"type": "message", "text": "still usable after " + what})
    check(r["type"] == "ok", "after %s the socket no longer works: %s" % (what, r))


CUSTOMER_BAD_FRAMES = [
    # (what, raw text, code, ref the error must carry, field the message must name)
    ("not JSON", "this is not json", "bad_json", None, None),
    ("truncated JSON", '{"type":"message","text":"x"', "bad_json", None, None),
    ("empty frame", "", "bad_json", None, None),
    ("JSON array", '[{"type":"message"}]', "bad_request", None, None),
    ("JSON string", '"message"', "bad_request", None, None),
    ("JSON number", "42", "bad_request", None, None),
    ("JSON null", "null", "bad_request", None, None),
    ("object without type", '{"ref":"nt1","text":"x"}', "bad_request", "nt1", "type"),
    ("type not a string", '{"type":5,"ref":"nt2"}', "bad_request", "nt2", "type"),
    ("unknown type", '{"type":"frobnicate","ref":"u1"}', "unknown_type", "u1", None),
    ("text of the wrong type", '{"type":"message","ref":"t1","text":5}', "bad_request", "t1", "text"),
    ("text missing", '{"type":"message","ref":"t2"}', "bad_request", "t2", "text"),
    ("ref not a string", '{"type":"message","ref":17,"text":"x"}', "bad_request", None, "ref"),
    ("ref too long", '{"type":"message","ref":"%s","text":"x"}' % ("r" * 65), "bad_request", None, "ref"),
]


async def test_customer_bad_frames_keep_the_socket():
    srv = await start_server(cfg_with())
    c = await srv.customer()
    await c.hello(name="Eve")
    failures = []
    for what, raw, code, ref, field in CUSTOMER_BAD_FRAMES:
        await c.send_raw(raw)
        try:
            r = await c.expect("error", timeout=4)
            harness.check_error(r, code, field, what)
            if ref is not None:
                check(r.get("ref") == ref, "%s: error ref %r, want %r" % (what, r.get("ref"), ref))
            await still_usable(c, what)
        except harness.TestFailure as e:
            failures.append(str(e).split("\n")[0])
            c.inbox.clear()
            if c.closed:
                failures.append("the socket was closed (code %s) after %s" % (c.close_code, what))
                break
    check(not failures, "bad frames:\n  " + "\n  ".join(failures))
    r = await c.request_ok({"type": "message", "ref": "x" * 64, "text": "a 64-char ref"})
    check(r.get("ref") == "x" * 64, "a 64-char ref came back as %r" % r.get("ref"))
    await srv.healthz()


async def test_binary_frame():
    srv = await start_server(cfg_with())
    c = await srv.customer()
    await c.hello()
    await c.send_binary(b'{"type":"message","text":"in a binary frame"}')
    await c.expect_error("bad_request")
    await still_usable(c, "a binary frame")
    a = await srv.agent()
    await a.send_binary(b"\x00\x01\x02")
    r = await a.expect("error")
    check(r.get("code") in ("bad_request", "unauthorized"), "agent binary frame: %s" % r)
    await srv.healthz()


async def test_hello_errors():
    srv = await start_server(cfg_with())
    c = await srv.customer()
    await c.request_error({"type": "message", "text": "before hello"}, "bad_request")
    await c.request_error({"type": "hello", "language": 3}, "bad_request", "language")
    await c.request_error({"type": "hello", "name": ["x"]}, "bad_request", "name")
    await c.request_error({"type": "hello", "topic": "astrology"}, "bad_request", "topic")
    await c.request_error({"type": "hello", "topic": 7}, "bad_request", "topic")
    await c.request_error({"type": "hello", "attributes": "gold"}, "bad_request", "attributes")
    await c.request_error({"type": "hello", "attributes": {"plan": {"nested": 1}}},
                          "bad_request", "attributes")
    check(not c.received("welcome"), "a refused hello got a welcome: %s" % c.received("welcome"))
    w = await c.hello(name="Eve", topic="tech")
    check(w["seq"] == 0, "welcome %s" % w)
    await c.request_error({"type": "hello", "name": "again"}, "conflict")
    await still_usable(c, "a second hello")
    await srv.healthz()


async def test_oversize_frame_closes_1009():
    srv = await start_server(cfg_with())
    c = await srv.customer()
    await c.hello()
    # Exactly the limit is fine ...
    r = await c.send_raw(frame_of_size(MAX_FRAME, type="message", ref="at-limit", text="x"))
    r = await c.expect(("ok", "error"), ref="at-limit")
    check(r["type"] == "ok", "a frame of exactly max_frame_bytes: %s" % r)
    # ... one byte more closes with 1009.
    await c.send_raw(frame_of_size(MAX_FRAME + 1, type="message", ref="over", text="x"))
    await c.expect_close(1009)
    check(not c.find("ok", ref="over"), "the oversize frame was accepted")
    # Far over the limit, on a socket that has not said hello, and on the agent endpoint.
    c2 = await srv.customer()
    await c2.send_raw(frame_of_size(MAX_FRAME * 16, type="hello"))
    await c2.expect_close(1009)
    a = await srv.agent()
    await a.send_raw(frame_of_size(MAX_FRAME * 4, type="auth", token="tok"))
    await a.expect_close(1009)
    await srv.healthz()
    c3 = await srv.customer()
    await c3.hello()
    await still_usable(c3, "other clients' oversize frames")


async def test_agent_auth_failures_close_1008():
    srv = await start_server(two_agents())
    cases = [
        ("bad token", {"type": "auth", "token": "not-a-token"}),
        ("empty token", {"type": "auth", "token": ""}),
        ("token of the wrong type", {"type": "auth", "token": 42}),
        ("first frame not auth", {"type": "status", "state": "available"}),
        ("message before auth", {"type": "message", "conversation_id": "x", "text": "hi"}),
    ]
    for what, frame in cases:
        a = await srv.agent()
        await a.send(dict(frame, ref="auth-" + what.replace(" ", "-")))
        try:
            r = await a.expect("error")
            harness.check_error(r, "unauthorized", None, what)
            await a.expect_close(1008)
        except harness.TestFailure as e:
            harness.fail("%s: %s" % (what, e))
        check(not a.received("welcome"), "%s: got a welcome" % what)
    # Bearer with a bad token on the upgrade: refused (HTTP 401/403) or error + 1008.
    try:
        a = await srv.agent(headers={"Authorization": "Bearer not-a-token"})
    except harness.ConnectFailed as e:
        check(e.status in (401, 403), "bad Bearer token: %s" % e)
    else:
        await a.expect_error("unauthorized")
        await a.expect_close(1008)
    good = await srv.online_agent("tok-alice")
    await good.request_ok({"type": "status", "state": "away"})
    await srv.healthz()


async def test_agent_forbidden_and_not_found():
    srv = await start_server(two_agents())
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Fay")
    cid = w["conversation_id"]
    await alice.expect_assigned(cid)
    bob = await srv.online_agent("tok-bob")
    await bob.expect_none("assigned", within=0.3)

    for frame in ({"type": "message", "conversation_id": cid, "text": "hijack"},
                  {"type": "note", "conversation_id": cid, "text": "hijack"},
                  {"type": "close", "conversation_id": cid}):
        r = await bob.request_error(frame, "forbidden")
        check(r.get("ref"), "error without ref: %s" % r)
        await bob.request_ok({"type": "status", "state": "available"})
    for frame in ({"type": "message", "conversation_id": "no-such-conversation", "text": "x"},
                  {"type": "note", "conversation_id": "no-such-conversation", "text": "x"},
                  {"type": "close", "conversation_id": "no-such-conversation"}):
        await alice.request_error(frame, "not_found")
        await alice.request_ok({"type": "status", "state": "available"})

    # Nothing reached the customer; the conversation is still Alice's and still works.
    await c.expect_none("message", within=0.3)
    await c.expect_none("closed", within=0.1)
    s = await alice.message(cid, "all good")
    check(s == 1, "seq %d after refused requests, want 1" % s)
    m = await c.expect("message", seq=1)
    check(m["text"] == "all good", "customer got %s" % m)
    await srv.healthz()


async def test_agent_bad_fields():
    srv = await start_server(two_agents())
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello()
    cid = w["conversation_id"]
    await alice.expect_assigned(cid)
    cases = [
        ({"type": "message", "conversation_id": 123, "text": "x"}, "bad_request", "conversation_id"),
        ({"type": "message", "text": "x"}, "bad_request", "conversation_id"),
        ({"type": "message", "conversation_id": cid, "text": 5}, "bad_request", "text"),
        ({"type": "message", "conversation_id": cid}, "bad_request", "text"),
        ({"type": "note", "conversation_id": cid, "text": None}, "bad_request", "text"),
        ({"type": "close", "conversation_id": ["x"]}, "bad_request", "conversation_id"),
        ({"type": "status", "state": "sleeping"}, "bad_request", "state"),
        ({"type": "status", "state": 1}, "bad_request", "state"),
        ({"type": "teleport", "conversation_id": cid}, "unknown_type", None),
    ]
    failures = []
    for frame, code, field in cases:
        try:
            await alice.request_error(frame, code, field)
            await alice.request_ok({"type": "status", "state": "available"})
        except harness.TestFailure as e:
            failures.append(str(e).split("\n")[0])
    await alice.send_raw("{not json")
    try:
        await alice.expect_error("bad_json")
    except harness.TestFailure as e:
        failures.append(str(e).split("\n")[0])
    check(not failures, "agent bad fields:\n  " + "\n  ".join(failures))
    s = await alice.message(cid, "still fine")
    check(s == 1, "seq %d, want 1" % s)
    await srv.healthz()


async def test_flood_of_bad_frames_closes_1008():
    srv = await start_server(cfg_with(rate={"messages_per_second": 5, "burst": 10}))
    c = await srv.customer()
    await c.hello()
    try:
        for i in range(300):
            await c.send_raw("garbage %d" % i)
            if c.closed:
                break
    except websockets.ConnectionClosed:
        pass
    await c.expect_close(1008)
    codes = {f.get("code") for f in c.received("error")}
    check(codes <= {"bad_json", "rate_limited"}, "error codes during the flood: %s" % codes)
    await srv.healthz()
    c2 = await srv.customer()
    await c2.hello()
    await still_usable(c2, "another client's flood")


if __name__ == "__main__":
    harness.run()
