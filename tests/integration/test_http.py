"""HTTP endpoints (protocol.md section 6; config.md `channels`, `admin_token_sha256`,
`allowed_origins`, `max_connections`)."""

import json
import re

import harness
from harness import check, start_server, base_config, agent_cfg, sha256_hex

ADMIN = "admin-secret"


def http_config(**server):
    cfg = base_config()
    cfg["server"]["admin_token_sha256"] = sha256_hex(ADMIN)
    cfg["server"].update(server)
    cfg["agents"] = [agent_cfg("alice", "tok-alice", name="Alice")]
    return cfg


async def test_healthz_and_unknown_paths():
    srv = await start_server(http_config())
    await srv.healthz()
    status, _, body = await srv.http("GET", "/no/such/path")
    check(status == 404, "GET /no/such/path: %s %r" % (status, body))
    # Channels that are not configured answer 404 (config.md "channels").
    for path in ("/v1/webhooks/whatsapp", "/v1/webhooks/messenger", "/v1/webhooks/telegram",
                 "/v1/webhooks/voice"):
        status, _, body = await srv.http("POST", path, body=b"{}",
                                         headers={"Content-Type": "application/json"})
        check(status == 404, "POST %s with the channel not configured: %s %r" % (path, status, body))
    await srv.healthz()


async def test_metrics():
    srv = await start_server(http_config())
    c = await srv.customer()
    await c.hello()
    status, headers, body = await srv.http("GET", "/metrics")
    check(status == 200, "GET /metrics: %s" % status)
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    check(ctype.startswith("text/plain"), "GET /metrics content type %r" % ctype)
    text = body.decode("utf-8")
    sample = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.eE+-]+(\s+-?[0-9]+)?$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (NaN|[+-]Inf)$")
    bad = [l for l in text.splitlines() if l and not l.startswith("#") and not sample.match(l)]
    check(not bad, "lines that are not Prometheus samples: %s" % bad[:5])
    check(any(l.startswith("# TYPE ") for l in text.splitlines()), "no # TYPE lines:\n%s" % text[:500])
    check(any(l and not l.startswith("#") for l in text.splitlines()), "no samples")


async def test_admin_conversation_api():
    srv = await start_server(http_config())
    alice = await srv.online_agent("tok-alice")
    c = await srv.customer()
    w = await c.hello(name="Uma")
    cid = w["conversation_id"]
    await alice.expect_assigned(cid)
    await c.message("admin can read this")
    path = "/v1/conversations/%s" % cid
    status, _, body = await srv.http("GET", path)
    check(status == 401, "GET %s without a token: %s %r" % (path, status, body))
    status, _, body = await srv.http("GET", path, headers={"Authorization": "Bearer wrong"})
    check(status in (401, 403), "GET %s with a wrong token: %s %r" % (path, status, body))
    status, _, body = await srv.http("GET", path, headers={"Authorization": "Bearer " + ADMIN})
    check(status == 200, "GET %s with the admin token: %s %r" % (path, status, body))
    conv = json.loads(body)
    conv = conv.get("conversation", conv)
    check(conv.get("id") == cid, "admin context id %r" % conv.get("id"))
    check([m.get("text") for m in conv.get("transcript") or []] == ["admin can read this"],
          "admin context transcript %s" % conv.get("transcript"))
    check((conv.get("customer") or {}).get("name") == "Uma", "customer %r" % conv.get("customer"))
    status, _, body = await srv.http("GET", "/v1/conversations/no-such-id",
                                     headers={"Authorization": "Bearer " + ADMIN})
    check(status == 404, "GET an unknown conversation: %s %r" % (status, body))


async def test_allowed_origins():
    srv = await start_server(http_config(allowed_origins=["https://shop.example"]))
    ok = await srv.customer(headers={"Origin": "https://shop.example"})
    await ok.hello()
    try:
        bad = await srv.customer(headers={"Origin": "https://evil.example"})
    except harness.ConnectFailed as e:
        # Refused at the upgrade: with 401/403, or the connection dropped.
        check(e.status in (None, 401, 403), "refused origin: %s" % e)
    else:
        await bad.send({"type": "hello"})
        await harness.wait_until(lambda: bad.closed or bad.received("welcome"),
                                 "the refused origin to be closed")
        check(not bad.received("welcome"), "a customer from a refused Origin got a welcome")
    await srv.healthz()


async def test_max_connections():
    limit = 4
    srv = await start_server(http_config(max_connections=limit))
    cs = []
    for _ in range(limit):
        c = await srv.customer()
        await c.hello()
        cs.append(c)

    async def one_more():
        try:
            c = await srv.customer()
        except harness.ConnectFailed:
            check(srv.proc.poll() is None, "the server exited")
            return None
        await c.send({"type": "hello"})
        await harness.wait_until(lambda: c.closed or c.received("welcome") or c.received("error"),
                                 "an answer to the connection over the limit")
        return c if c.received("welcome") else None

    extra = await one_more()
    check(extra is None, "connection %d was served with max_connections = %d" % (limit + 1, limit))
    await cs[0].close()
    # The freed slot becomes usable (the server notices the close asynchronously).
    got = None
    for _ in range(50):
        got = await one_more()
        if got:
            break
    check(got is not None, "no connection accepted after one of %d closed" % limit)


if __name__ == "__main__":
    harness.run()
