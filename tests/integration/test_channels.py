"""Social channels (protocol.md sections 5 and 6): the connector WebSocket
(inbound, idempotent external_id, outbound, delivered, redelivery on
reconnect) and the platform webhooks (signatures checked, a good update becomes
a routed conversation, the agent's reply goes to the platform's send API at the
configured base URL, served here by a fake API)."""

import hashlib
import hmac
import json
import urllib.parse

import harness
from harness import check, start_server, base_config, agent_cfg, sha256_hex, FakeApi

WA_SECRET = "wa-app-secret"
MS_SECRET = "ms-app-secret"
TG_SECRET = "tg-secret-token"
LINE_KEY = "line-connector-key"

API_REPLY = {"messaging_product": "whatsapp", "contacts": [{"input": "x", "wa_id": "x"}],
             "messages": [{"id": "wamid.out"}], "ok": True,
             "result": {"message_id": 1, "date": 1700000000, "chat": {"id": 42}},
             "recipient_id": "PSID1", "message_id": "m_out"}


def channels_config(api):
    cfg = base_config()
    cfg["agents"] = [agent_cfg("alice", "tok-alice", name="Alice", languages={"en": 10, "es": 10},
                               chat=5)]
    cfg["channels"] = {
        "whatsapp": {"app_secret": WA_SECRET, "verify_token": "wa-verify",
                     "access_token": "wa-access", "phone_number_id": "1099",
                     "api_base": api.base + "/v21.0", "pool": "frontline"},
        "messenger": {"app_secret": MS_SECRET, "verify_token": "ms-verify",
                      "page_access_token": "ms-page", "api_base": api.base + "/v21.0"},
        "telegram": {"secret_token": TG_SECRET, "bot_token": "123:ABC", "api_base": api.base},
        "connectors": [{"id": "line-bridge", "key_sha256": sha256_hex(LINE_KEY),
                        "channels": ["line"]}],
    }
    return cfg


def hub_signature(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def fields(req):
    """The request's parameters: JSON body, else form body, plus the query string."""
    out = {}
    query = urllib.parse.urlsplit(req["path"]).query
    out.update({k: v[0] for k, v in urllib.parse.parse_qs(query).items()})
    body = req["body"]
    try:
        doc = json.loads(body)
        if isinstance(doc, dict):
            out.update(doc)
    except ValueError:
        out.update({k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()})
    return out


async def post(srv, path, doc, headers):
    body = json.dumps(doc).encode()
    return await srv.http("POST", path, body=body,
                          headers=dict({"Content-Type": "application/json"}, **headers))


# -- connector --------------------------------------------------------------

async def test_connector_auth():
    api = FakeApi(API_REPLY)
    srv = await start_server(channels_config(api))
    bad = await srv.connector()
    await bad.send({"type": "auth", "key": "wrong"})
    await bad.expect_error("unauthorized")
    await bad.expect_close(1008)
    conn = await srv.connector()
    w = await conn.auth(LINE_KEY)
    check("line" in json.dumps(w), "connector welcome does not name its channel: %s" % w)


async def test_connector_inbound_outbound_redelivery():
    api = FakeApi(API_REPLY)
    srv = await start_server(channels_config(api))
    alice = await srv.online_agent("tok-alice")
    conn = await srv.connector()
    await conn.auth(LINE_KEY)
    inbound = {"type": "inbound", "channel": "line",
               "contact": {"id": "U1", "name": "Mei", "language": "en"},
               "text": "hi from line", "external_id": "ext-1"}
    r1 = await conn.request_ok(inbound)
    cid = r1.get("conversation_id")
    check(isinstance(cid, str) and r1.get("seq") == 1, "inbound ok %s: want conversation_id, seq 1" % r1)
    conv = await alice.expect_assigned(cid)
    check(conv.get("channel") == "line", "context channel %r" % conv.get("channel"))
    cust = conv.get("customer") or {}
    check(cust.get("name") == "Mei" and "U1" in str(cust.get("contact")), "customer %r" % cust)
    tr = [m.get("text") for m in conv.get("transcript") or []]
    check(tr == ["hi from line"], "transcript %s" % tr)

    again = await conn.request_ok(inbound)        # the same external_id: same seq, stored once
    check(again.get("seq") == 1 and again.get("conversation_id") == cid,
          "repeated external_id: %s, want seq 1 of %s" % (again, cid))
    r2 = await conn.request_ok(dict(inbound, text="second", external_id="ext-2"))
    check(r2.get("seq") == 2 and r2.get("conversation_id") == cid, "second inbound %s" % r2)
    m = await alice.expect("message", seq=2)
    check(m["text"] == "second" and m["from"] == "customer", "agent got %s" % m)
    check(len(alice.received("message", seq=1)) <= 1 and not alice.received("message", seq=3),
          "the repeated inbound was delivered again")

    s3 = await alice.message(cid, "hello Mei")
    out = await conn.expect("outbound", seq=s3)
    check(out.get("channel") == "line" and out.get("contact_id") == "U1"
          and out.get("conversation_id") == cid and out.get("text") == "hello Mei"
          and out.get("delivery_id"), "outbound %s" % out)
    await conn.send({"type": "delivered", "delivery_id": out["delivery_id"]})

    s4 = await alice.message(cid, "are you there?")
    out4 = await conn.expect("outbound", seq=s4)
    await conn.close()                               # not acknowledged
    conn2 = await srv.connector()
    await conn2.auth(LINE_KEY)
    again4 = await conn2.expect("outbound", seq=s4)
    check(again4.get("text") == "are you there?", "redelivered %s" % again4)
    await conn2.expect_none("outbound", within=0.5, seq=s3)    # that one was delivered
    await conn2.send({"type": "delivered", "delivery_id": again4["delivery_id"]})
    await conn2.request_ok({"type": "inbound", "channel": "line", "contact": {"id": "U1"},
                            "text": "barrier", "external_id": "ext-3"})
    await conn2.close()
    conn3 = await srv.connector()
    await conn3.auth(LINE_KEY)
    await conn3.expect_none("outbound", within=0.7)
    del out4


# -- webhooks ---------------------------------------------------------------

def whatsapp_update(text, wamid="wamid.IN1"):
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "WABA1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1099"},
            "contacts": [{"profile": {"name": "Kim"}, "wa_id": "15551234567"}],
            "messages": [{"from": "15551234567", "id": wamid, "timestamp": "1700000000",
                          "type": "text", "text": {"body": text}}]}}]}]}


async def test_whatsapp_webhook():
    api = FakeApi(API_REPLY)
    srv = await start_server(channels_config(api))
    alice = await srv.online_agent("tok-alice")
    path = "/v1/webhooks/whatsapp"
    q = "?hub.mode=subscribe&hub.verify_token=%s&hub.challenge=8675309"
    status, _, body = await srv.http("GET", path + q % "wa-verify")
    check(status == 200 and body.strip() == b"8675309", "verify handshake: %s %r" % (status, body))
    status, _, body = await srv.http("GET", path + q % "wrong")
    check(status in (401, 403), "verify with a wrong token: %s %r" % (status, body))

    doc = whatsapp_update("hello from whatsapp")
    raw = json.dumps(doc).encode()
    status, _, _ = await post(srv, path, doc, {"X-Hub-Signature-256": hub_signature("wrong", raw)})
    check(status in (401, 403), "bad signature: %s" % status)
    status, _, _ = await post(srv, path, doc, {})
    check(status in (401, 403), "missing signature: %s" % status)
    await alice.expect_none("assigned", within=0.5)

    status, _, body = await post(srv, path, doc, {"X-Hub-Signature-256": hub_signature(WA_SECRET, raw)})
    check(status == 200, "signed update: %s %r" % (status, body))
    conv = await alice.expect_assigned()
    check(conv.get("channel") == "whatsapp", "context channel %r" % conv.get("channel"))
    cust = conv.get("customer") or {}
    check(cust.get("name") == "Kim" and "15551234567" in str(cust.get("contact")),
          "customer %r" % cust)
    check([m.get("text") for m in conv.get("transcript") or []] == ["hello from whatsapp"],
          "transcript %s" % conv.get("transcript"))

    await alice.message(conv["id"], "hi Kim")
    req = await api.expect_request(lambda r: "hi Kim" in r["body"].decode("utf-8", "replace"),
                                   "the reply at the WhatsApp send API")
    check(req["method"] == "POST" and urllib.parse.urlsplit(req["path"]).path == "/v21.0/1099/messages",
          "WhatsApp send: %s %s" % (req["method"], req["path"]))
    check(req["headers"].get("authorization") == "Bearer wa-access",
          "WhatsApp send authorization %r" % req["headers"].get("authorization"))
    f = fields(req)
    check(f.get("to") == "15551234567" and (f.get("text") or {}).get("body") == "hi Kim",
          "WhatsApp send body %s" % f)


async def test_telegram_webhook():
    api = FakeApi(API_REPLY)
    srv = await start_server(channels_config(api))
    alice = await srv.online_agent("tok-alice")
    path = "/v1/webhooks/telegram"
    update = {"update_id": 1001, "message": {
        "message_id": 5, "date": 1700000000, "text": "hola desde telegram",
        "from": {"id": 42, "is_bot": False, "first_name": "Tomás", "language_code": "es"},
        "chat": {"id": 42, "type": "private", "first_name": "Tomás"}}}
    status, _, _ = await post(srv, path, update, {"X-Telegram-Bot-Api-Secret-Token": "wrong"})
    check(status in (401, 403), "wrong secret: %s" % status)
    status, _, _ = await post(srv, path, update, {})
    check(status in (401, 403), "missing secret: %s" % status)
    await alice.expect_none("assigned", within=0.5)
    status, _, body = await post(srv, path, update, {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    check(status == 200, "good update: %s %r" % (status, body))
    conv = await alice.expect_assigned()
    check(conv.get("channel") == "telegram", "context channel %r" % conv.get("channel"))
    check(conv.get("language") == "es", "language from language_code: %r" % conv.get("language"))
    check([m.get("text") for m in conv.get("transcript") or []] == ["hola desde telegram"],
          "transcript %s" % conv.get("transcript"))
    await alice.message(conv["id"], "¡hola Tomás!")
    req = await api.expect_request(lambda r: "sendMessage" in r["path"]
                                   and "¡hola Tomás!" in r["body"].decode("utf-8", "replace"),
                                   "the reply at Telegram sendMessage")
    check(urllib.parse.urlsplit(req["path"]).path == "/bot123:ABC/sendMessage",
          "Telegram send path %s" % req["path"])
    f = fields(req)
    check(str(f.get("chat_id")) == "42" and f.get("text") == "¡hola Tomás!", "Telegram send %s" % f)


async def test_messenger_webhook():
    api = FakeApi(API_REPLY)
    srv = await start_server(channels_config(api))
    alice = await srv.online_agent("tok-alice")
    path = "/v1/webhooks/messenger"
    doc = {"object": "page", "entry": [{"id": "PAGE1", "time": 1700000000000, "messaging": [{
        "sender": {"id": "PSID1"}, "recipient": {"id": "PAGE1"}, "timestamp": 1700000000000,
        "message": {"mid": "m_1", "text": "hi from messenger"}}]}]}
    raw = json.dumps(doc).encode()
    status, _, _ = await post(srv, path, doc, {"X-Hub-Signature-256": hub_signature("wrong", raw)})
    check(status in (401, 403), "bad signature: %s" % status)
    await alice.expect_none("assigned", within=0.5)
    status, _, body = await post(srv, path, doc, {"X-Hub-Signature-256": hub_signature(MS_SECRET, raw)})
    check(status == 200, "signed update: %s %r" % (status, body))
    conv = await alice.expect_assigned()
    check(conv.get("channel") == "messenger", "context channel %r" % conv.get("channel"))
    check([m.get("text") for m in conv.get("transcript") or []] == ["hi from messenger"],
          "transcript %s" % conv.get("transcript"))
    await alice.message(conv["id"], "hello PSID1")
    req = await api.expect_request(lambda r: "hello PSID1" in r["body"].decode("utf-8", "replace"),
                                   "the reply at the Messenger Send API")
    check(urllib.parse.urlsplit(req["path"]).path == "/v21.0/me/messages",
          "Messenger send path %s" % req["path"])
    f = fields(req)
    check((f.get("recipient") or {}).get("id") == "PSID1"
          and (f.get("message") or {}).get("text") == "hello PSID1", "Messenger send %s" % f)


if __name__ == "__main__":
    harness.run()
