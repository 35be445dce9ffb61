"""Social channels (protocol.md sections 5 and 6): the connector WebSocket
(inbound, idempotent external_id, outbound, delivered, redelivery on
reconnect) and the platform webhooks (signatures checked, a good update becomes
a routed conversation, the agent's reply goes to the platform's send API at the
configured base URL, served here by a fake API)."""

import asyncio
import base64
import hashlib
import hmac
import http.server
import json
import os
import socket
import sqlite3
import threading
import time
import urllib.parse

import harness
from harness import (check, start_server, base_config, agent_cfg, sha256_hex, FakeApi,
                     wait_until, db_dump)

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
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
        for k, v in form.items():        # nested objects sent as JSON in a form field
            try:
                v = json.loads(v) if v[:1] in "{[" else v
            except ValueError:
                pass
            out[k] = v
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
    req = await api.expect_request(lambda r: (fields(r).get("text") or {}).get("body") == "hi Kim",
                                   "the reply at the WhatsApp send API")
    check(req["method"] == "POST" and urllib.parse.urlsplit(req["path"]).path == "/v21.0/1099/messages",
          "WhatsApp send: %s %s" % (req["method"], req["path"]))
    check(req["headers"].get("authorization") == "Bearer wa-access",
          "WhatsApp send authorization %r" % req["headers"].get("authorization"))
    f = fields(req)
    check(f.get("to") == "15551234567", "WhatsApp send body %s" % f)


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
                                   and fields(r).get("text") == "¡hola Tomás!",
                                   "the reply at Telegram sendMessage")
    check(urllib.parse.urlsplit(req["path"]).path == "/bot123:ABC/sendMessage",
          "Telegram send path %s" % req["path"])
    f = fields(req)
    check(str(f.get("chat_id")) == "42", "Telegram send %s" % f)


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
    req = await api.expect_request(lambda r: (fields(r).get("message") or {}).get("text")
                                   == "hello PSID1", "the reply at the Messenger Send API")
    check(urllib.parse.urlsplit(req["path"]).path == "/v21.0/me/messages",
          "Messenger send path %s" % req["path"])
    f = fields(req)
    check((f.get("recipient") or {}).get("id") == "PSID1", "Messenger send %s" % f)


# ==========================================================================
# More cases: a fake platform that fails on demand, retries, restarts,
# duplicates, forged signatures, bad input, voice, callbacks, connectors.
# ==========================================================================

VOICE_TOKEN = "twilio-auth-token"
PUBLIC_URL = "https://router.example.com"
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
CALLER_ID = "+15550001111"


class ControlledApi:
    """A fake platform API on loopback like harness.FakeApi, that records every
    request (with the status it got) and fails on demand: `fail(n, status, doc,
    match)` answers the next n requests whose body contains `match` with
    `status`; `drop(n, match)` closes the connection without an answer;
    `always` is the action for requests no script entry takes (None: 200).
    Answers carry ids unique per request (wamid.out<n>, m_out<n>, CA...<n>)."""

    def __init__(self):
        self.requests = []
        self.script = []
        self.always = None
        self.delay = 0.0
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.count = 0
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                text = body.decode("utf-8", "replace")
                with api.lock:
                    api.count += 1
                    seq = api.count
                    api.active += 1
                    api.max_active = max(api.max_active, api.active)
                    action = api.always
                    for i, (act, match) in enumerate(api.script):
                        if match is None or match in text:
                            action = act
                            del api.script[i]
                            break
                    delay = api.delay
                rec = {"method": self.command, "path": self.path, "body": body,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "t": time.monotonic(), "n": seq}
                try:
                    if delay:
                        time.sleep(delay)
                    if action and action[0] == "slow":
                        time.sleep(action[1])
                        action = None
                    if action and action[0] == "drop":
                        rec["status"] = 0
                        api.requests.append(rec)
                        self.close_connection = True
                        try:
                            self.connection.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        return
                    if action:
                        status, doc = action[1], action[2]
                    else:
                        status, doc = 200, api.answer(seq, self.path)
                    rec["status"] = status
                    rec["answer"] = doc
                    api.requests.append(rec)
                    out = json.dumps(doc).encode()
                    try:
                        self.send_response(status)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(out)))
                        self.end_headers()
                        self.wfile.write(out)
                    except OSError:
                        pass            # the router gave up on this request
                finally:
                    with api.lock:
                        api.active -= 1

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        harness._state.apis.append(self)

    @staticmethod
    def answer(n, path):
        if "Calls.json" in path:
            return {"sid": "CAcb%030d" % n, "status": "queued"}
        return {"messaging_product": "whatsapp", "contacts": [{"input": "x", "wa_id": "x"}],
                "messages": [{"id": "wamid.out%d" % n}], "ok": True,
                "result": {"message_id": n, "date": 1700000000, "chat": {"id": 42}},
                "recipient_id": "PSID1", "message_id": "m_out%d" % n}

    def fail(self, n, status=503, doc=None, match=None):
        with self.lock:
            self.script += [(("status", status, doc if doc is not None else
                              {"error": {"message": "try later", "code": 2}}), match)] * n

    def drop(self, n, match=None):
        with self.lock:
            self.script += [(("drop",), match)] * n

    def slow(self, n, seconds, match=None):
        with self.lock:
            self.script += [(("slow", seconds), match)] * n

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def matching(self, text):
        return [r for r in self.requests if text in r["body"].decode("utf-8", "replace")]

    async def expect_request(self, pred, what, timeout=harness.EXPECT_TIMEOUT):
        found = []

        def check_():
            found[:] = [r for r in self.requests if pred(r)]
            return bool(found)

        await wait_until(check_, what, timeout,
                         describe=lambda: "requests so far: %s" % [
                             (r["method"], r["path"], r.get("status"), r["body"][:120])
                             for r in self.requests])
        return found[0]


def full_config(api, **outbox):
    """channels_config plus voice, a voice pool and agent, and a fast outbox."""
    cfg = channels_config(api)
    cfg["pools"] = [{"id": "frontline", "tier": 1}, {"id": "voice", "tier": 1},
                    {"id": "social", "tier": 1}]
    cfg["agents"].append(agent_cfg("victor", "tok-victor", name="Victor", chat=0, voice=1,
                                   pools=("voice",), languages={"en": 10, "es": 8}))
    cfg["channels"]["voice"] = {"auth_token": VOICE_TOKEN, "public_url": PUBLIC_URL,
                                "api_base": api.base, "pool": "voice",
                                "account_sid": ACCOUNT_SID, "caller_id": CALLER_ID}
    cfg["channels"]["outbox_retry_base_ms"] = 200
    cfg["channels"]["outbox_retry_max_s"] = 1
    cfg["channels"].update(outbox)
    return cfg


def restart_config(cfg, db_path):
    cfg = dict(cfg)
    cfg["store"] = dict(cfg["store"], path=db_path)
    return cfg


def twilio_signature(token, url, params):
    data = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


async def post_voice(srv, params, signature=None, content_type="application/x-www-form-urlencoded"):
    url = PUBLIC_URL + "/v1/webhooks/voice"
    headers = {"Content-Type": content_type}
    sig = signature if signature is not None else twilio_signature(VOICE_TOKEN, url, params)
    if sig:
        headers["X-Twilio-Signature"] = sig
    return await srv.http("POST", "/v1/webhooks/voice", body=urllib.parse.urlencode(params),
                          headers=headers)


def call_params(sid, status, direction="inbound", frm="+15551112222", to=CALLER_ID, **more):
    p = {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": frm, "To": to,
         "CallStatus": status, "Direction": direction, "ApiVersion": "2010-04-01"}
    p.update(more)
    return p


async def post_signed(srv, path, secret, doc=None, raw=None):
    body = raw if raw is not None else json.dumps(doc).encode()
    return await srv.http("POST", path, body=body,
                          headers={"Content-Type": "application/json",
                                   "X-Hub-Signature-256": hub_signature(secret, body)})


async def post_telegram(srv, doc=None, raw=None, secret=TG_SECRET):
    body = raw if raw is not None else json.dumps(doc).encode()
    return await srv.http("POST", "/v1/webhooks/telegram", body=body,
                          headers={"Content-Type": "application/json",
                                   "X-Telegram-Bot-Api-Secret-Token": secret})


def telegram_update(update_id, message_id, text, chat=42, lang="en"):
    return {"update_id": update_id, "message": {
        "message_id": message_id, "date": 1700000000, "text": text,
        "from": {"id": chat, "is_bot": False, "first_name": "Tom", "language_code": lang},
        "chat": {"id": chat, "type": "private", "first_name": "Tom"}}}


def messenger_update(mid, text, psid="PSID1"):
    return {"object": "page", "entry": [{"id": "PAGE1", "time": 1700000000000, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": "PAGE1"}, "timestamp": 1700000000000,
        "message": {"mid": mid, "text": text}}]}]}


def whatsapp_statuses(wamid, status, recipient="15551234567", errors=None):
    st = {"id": wamid, "status": status, "timestamp": "1700000100", "recipient_id": recipient}
    if errors:
        st["errors"] = errors
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "WABA1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1099"},
            "statuses": [st]}}]}]}


def body_text(r):
    return r["body"].decode("utf-8", "replace")


def count_rows(path, sql, args=()):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, args).fetchone()[0]
    finally:
        con.close()


async def whatsapp_conversation(srv, alice, text="hello from whatsapp", wamid="wamid.IN1"):
    status, _, body = await post_signed(srv, "/v1/webhooks/whatsapp", WA_SECRET,
                                        whatsapp_update(text, wamid))
    check(status == 200, "signed update: %s %r" % (status, body))
    return await alice.expect_assigned()


# -- delivery state, retries, giving up -------------------------------------

async def test_whatsapp_retry_then_delivery_states():
    api = ControlledApi()
    api.fail(2, 503, match="hi after failures")
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    conv = await whatsapp_conversation(srv, alice)
    seq = await alice.message(conv["id"], "hi after failures")
    d = await alice.expect("delivery", seq=seq, state="sent")
    check(d.get("conversation_id") == conv["id"] and d.get("channel") == "whatsapp",
          "delivery event %s" % d)
    tries = api.matching("hi after failures")
    check([r["status"] for r in tries] == [503, 503, 200],
          "attempts at the send API: %s (want 503, 503, 200)" % [r["status"] for r in tries])
    gaps = [b["t"] - a["t"] for a, b in zip(tries, tries[1:])]
    # backoff: base 200 ms doubled, with equal jitter: >= 100 ms then >= 200 ms
    check(gaps[0] >= 0.09 and gaps[1] >= 0.18 and gaps[1] < 5,
          "retry intervals %s: want exponential backoff from 200 ms" % gaps)
    print("  retry intervals: %s" % ", ".join("%.0f ms" % (g * 1000) for g in gaps))
    wamid = tries[-1]["answer"]["messages"][0]["id"]

    # The platform's delivery reports move it forward, and only forward.
    for st in ("delivered", "read", "delivered"):
        status, _, _ = await post_signed(srv, "/v1/webhooks/whatsapp", WA_SECRET,
                                         whatsapp_statuses(wamid, st))
        check(status == 200, "status webhook %s: %s" % (st, status))
    await alice.expect("delivery", seq=seq, state="delivered")
    await alice.expect("delivery", seq=seq, state="read")
    await alice.expect_none("delivery", within=0.5, seq=seq)
    await srv.stop()
    check(count_rows(srv.db_path, "SELECT count(*) FROM outbox WHERE text = ? AND state = 'read'"
                     " AND platform_id = ?", ("hi after failures", wamid)) == 1,
          "outbox row of the message is not 'read' with the platform's id")


async def test_permanent_failure_is_not_retried():
    api = ControlledApi()
    err = {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException",
                     "code": 100}}
    api.fail(1, 400, err, match="refused text")
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    conv = await whatsapp_conversation(srv, alice)
    seq = await alice.message(conv["id"], "refused text")
    d = await alice.expect("delivery", seq=seq, state="failed")
    check("(#100) Invalid parameter" in d.get("reason", ""), "failure reason %s" % d)
    await asyncio.sleep(0.8)
    check(len(api.matching("refused text")) == 1, "a 400 answer was retried: %d requests"
          % len(api.matching("refused text")))
    # A later message of the conversation still goes.
    seq2 = await alice.message(conv["id"], "after the refusal")
    await alice.expect("delivery", seq=seq2, state="sent")


async def test_platform_failed_status_reaches_agent():
    api = ControlledApi()
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    conv = await whatsapp_conversation(srv, alice)
    seq = await alice.message(conv["id"], "will bounce")
    await alice.expect("delivery", seq=seq, state="sent")
    wamid = api.matching("will bounce")[0]["answer"]["messages"][0]["id"]
    errors = [{"code": 131047, "title": "Re-engagement message"}]
    status, _, _ = await post_signed(srv, "/v1/webhooks/whatsapp", WA_SECRET,
                                     whatsapp_statuses(wamid, "failed", errors=errors))
    check(status == 200, "failed status webhook: %s" % status)
    d = await alice.expect("delivery", seq=seq, state="failed")
    check("Re-engagement" in d.get("reason", ""), "failed reason %s" % d)


async def test_gives_up_after_max_age():
    api = ControlledApi()
    api.fail(1000, 503, {"error": {"message": "down", "code": 2}}, match="never arrives")
    srv = await start_server(full_config(api, outbox_max_age_s=1))
    alice = await srv.online_agent("tok-alice")
    conv = await whatsapp_conversation(srv, alice)
    t0 = time.monotonic()
    seq = await alice.message(conv["id"], "never arrives")
    d = await alice.expect("delivery", seq=seq, state="failed", timeout=8)
    dt = time.monotonic() - t0
    check("expired" in d.get("reason", ""), "give-up reason %s" % d)
    check(0.5 <= dt <= 6, "gave up after %.1f s (outbox_max_age_s = 1)" % dt)
    n = len(api.matching("never arrives"))
    check(n >= 2, "only %d attempts before giving up" % n)
    await asyncio.sleep(0.8)
    check(len(api.matching("never arrives")) == n, "attempts after giving up")
    await srv.stop()
    check(count_rows(srv.db_path, "SELECT count(*) FROM outbox WHERE text = 'never arrives'"
                     " AND state = 'expired'") == 1, "the given-up row is not 'expired'")
    check(count_rows(srv.db_path, "SELECT count(*) FROM events WHERE kind = 'delivery_failed'")
          == 1, "the delivery_failed event is not in the store")


async def test_telegram_retry_after_hint():
    api = ControlledApi()
    api.fail(1, 429, {"ok": False, "error_code": 429,
                      "description": "Too Many Requests: retry after 1",
                      "parameters": {"retry_after": 1}}, match="slow down")
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    status, _, _ = await post_telegram(srv, telegram_update(5001, 9, "hello bot"))
    check(status == 200, "telegram update: %s" % status)
    conv = await alice.expect_assigned()
    seq = await alice.message(conv["id"], "slow down")
    await alice.expect("delivery", seq=seq, state="sent")
    tries = api.matching("slow down")
    check(len(tries) == 2 and tries[1]["t"] - tries[0]["t"] >= 0.95,
          "Telegram's retry_after (1 s) not honoured: %s"
          % [(r["status"], round(r["t"] - tries[0]["t"], 3)) for r in tries])


async def test_connection_failures_are_retried():
    api = ControlledApi()
    api.drop(1, match="through a dropped connection")
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    conv = await whatsapp_conversation(srv, alice)
    seq = await alice.message(conv["id"], "through a dropped connection")
    await alice.expect("delivery", seq=seq, state="sent")
    check([r["status"] for r in api.matching("through a dropped connection")] == [0, 200],
          "a dropped connection should be retried")


async def test_unreachable_api_is_retried_then_delivered():
    """api_base points at a closed port first: connection refused is retried;
    the same delivery arrives once the platform is back (after a restart with
    the right api_base)."""
    api = ControlledApi()
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    cfg = full_config(api)
    cfg["channels"]["whatsapp"]["api_base"] = "http://127.0.0.1:%d/v21.0" % dead_port
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    conv = await whatsapp_conversation(srv, alice)
    await alice.message(conv["id"], "waiting for the platform")
    await wait_until(lambda: "not sent (connection failed" in srv.log(),
                     "a refused connection in the log, to be retried")
    await srv.stop()
    srv2 = await start_server(restart_config(full_config(api), srv.db_path), name="restarted")
    req = await api.expect_request(lambda r: "waiting for the platform" in body_text(r),
                                   "the message after the restart")
    check(urllib.parse.urlsplit(req["path"]).path == "/v21.0/1099/messages", req["path"])
    del srv2


async def test_slow_api_times_out_and_is_retried():
    api = ControlledApi()
    api.slow(1, 2.5, match="behind a slow API")
    srv = await start_server(full_config(api, outbox_timeout_s=1))
    alice = await srv.online_agent("tok-alice")
    conv = await whatsapp_conversation(srv, alice)
    t0 = time.monotonic()
    seq = await alice.message(conv["id"], "behind a slow API")
    await alice.expect("delivery", seq=seq, state="sent")
    dt = time.monotonic() - t0
    check(1.0 <= dt < 2.4, "sent after %.2f s: want the 1 s timeout, then a retry" % dt)
    check("timed out" in srv.log(), "the timeout is not in the log")
    await alice.expect_none("delivery", within=1.5, seq=seq)   # the late answer changes nothing


async def test_api_host_name_resolved_off_the_loop():
    api = ControlledApi()
    cfg = full_config(api)
    cfg["channels"]["telegram"]["api_base"] = "http://localhost:%d" % api.port
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    status, _, _ = await post_telegram(srv, telegram_update(6001, 1, "hello", chat=61))
    check(status == 200, "telegram %s" % status)
    conv = await alice.expect_assigned()
    seq = await alice.message(conv["id"], "by name")
    await alice.expect("delivery", seq=seq, state="sent")
    req = api.matching("by name")[0]
    check(req["headers"].get("host", "").startswith("localhost"), "Host header %r"
          % req["headers"].get("host"))


async def test_webhook_while_store_locked():
    """A commit that fails turns the held 200 into 503; while the store is down
    webhooks get 503 at once; once it is back the platform's retry is taken
    (or, when the first attempt got into memory before its commit failed, is
    a duplicate of what was kept), and stored once either way."""
    api = ControlledApi()
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    await whatsapp_conversation(srv, alice, "before the lock", "wamid.L0")
    lock = sqlite3.connect(srv.db_path, isolation_level=None, timeout=5)
    lock.execute("BEGIN EXCLUSIVE")
    doc = whatsapp_update("while locked", "wamid.L1")
    try:
        status, _, body = await post_signed(srv, "/v1/webhooks/whatsapp", WA_SECRET, doc)
        check(status == 503, "webhook whose commit failed: %s %r" % (status, body))
        status, _, body = await post_signed(srv, "/v1/webhooks/whatsapp", WA_SECRET,
                                            whatsapp_update("refused", "wamid.L2"))
        check(status == 503, "webhook while the store is down: %s %r" % (status, body))
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    await wait_until(lambda: "writes succeed again" in srv.log(), "the store back")
    await wait_until(lambda: "channels: writing again" in srv.log(),
                     "the inbound id the failed commit lost written again")
    await asyncio.sleep(0.3)
    status, _, body = await post_signed(srv, "/v1/webhooks/whatsapp", WA_SECRET, doc)
    check(status == 200 and json.loads(body).get("messages") == 1
          and json.loads(body).get("duplicates") in (0, 1),
          "the platform's retry after the store came back: %s %r" % (status, body))
    status, _, body = await post_signed(srv, "/v1/webhooks/whatsapp", WA_SECRET,
                                        whatsapp_update("refused", "wamid.L2"))
    check(status == 200 and json.loads(body).get("messages") == 1, "%s %r" % (status, body))
    await srv.stop()
    for text in ("while locked", "refused"):
        n = count_rows(srv.db_path, "SELECT count(*) FROM messages WHERE text = ?", (text,))
        check(n == 1, "%r stored %d times" % (text, n))


async def test_closed_conversation_then_a_new_one():
    """The agent closes: the customer gets the closed notice on the platform;
    the contact's next message opens a new conversation (many times over)."""
    api = ControlledApi()
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    seen = set()
    for i in range(5):
        status, _, _ = await post_telegram(srv, telegram_update(8000 + i, 80 + i, "round %d" % i,
                                                                chat=808))
        check(status == 200, "round %d: %s" % (i, status))
        conv = await alice.expect_assigned()
        check(conv["id"] not in seen, "round %d reopened a closed conversation" % i)
        seen.add(conv["id"])
        check([m["text"] for m in conv["transcript"]] == ["round %d" % i],
              "round %d transcript %s" % (i, conv["transcript"]))
        await alice.request_ok({"type": "close", "conversation_id": conv["id"]})
        await alice.expect("released", conversation_id=conv["id"])
    await wait_until(lambda: len(api.matching("This conversation is closed")) == 5,
                     "five closed notices at sendMessage")
    await wait_until(lambda: len(api.matching("has joined the conversation")) == 5,
                     "five joined notices at sendMessage")


async def test_telegram_64bit_chat_and_messenger_echo():
    api = ControlledApi()
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    big = 9007199254740993                  # 2^53 + 1: not a double
    status, _, _ = await post_telegram(srv, telegram_update(9100, 3, "from a big id", chat=big))
    check(status == 200, "telegram %s" % status)
    conv = await alice.expect_assigned()
    check(conv["customer"]["contact"] == str(big), "contact %r" % conv["customer"]["contact"])
    seq = await alice.message(conv["id"], "to a big id")
    await alice.expect("delivery", seq=seq, state="sent")
    sent = json.loads(api.matching("to a big id")[0]["body"])
    check(sent["chat_id"] == big, "chat_id %r, want %d exactly" % (sent["chat_id"], big))
    # Messenger echoes our page's own messages: acknowledged, nothing opened.
    echo = {"object": "page", "entry": [{"id": "PAGE1", "time": 1, "messaging": [{
        "sender": {"id": "PAGE1"}, "recipient": {"id": "PSIDE"}, "timestamp": 1,
        "message": {"mid": "m_echo", "text": "our own reply", "is_echo": True}}]}]}
    status, _, body = await post_signed(srv, "/v1/webhooks/messenger", MS_SECRET, echo)
    check(status == 200 and json.loads(body).get("ignored") == 1, "echo %s %r" % (status, body))
    await alice.expect_none("assigned", within=0.4)


async def test_voice_greeting_localized():
    api = ControlledApi()
    cfg = full_config(api)
    cfg["routing"]["default_language"] = "es"
    cfg["templates"]["es"]["voice_greeting"] = "Gracias por llamar a {pool}. Espere, por favor."
    srv = await start_server(cfg)
    status, headers, body = await post_voice(srv, call_params("CAlocal0001", "ringing"))
    text = body.decode()
    check(status == 200 and '<Say language="es">Gracias por llamar a voice. Espere, por favor.</Say>'
          in text, "localized TwiML %r" % text)


# -- restart ------------------------------------------------------------------

async def test_delivery_survives_kill9():
    api = ControlledApi()
    api.fail(1000, 503, {"error": {"message": "down", "code": 2}}, match="survive the crash")
    cfg = full_config(api)
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    conv = await whatsapp_conversation(srv, alice)
    await alice.message(conv["id"], "survive the crash")
    await api.expect_request(lambda r: "survive the crash" in body_text(r) and r["status"] == 503,
                             "a failed attempt before the crash")
    await srv.kill()
    api.script.clear()
    srv2 = await start_server(restart_config(cfg, srv.db_path), name="restarted")
    await api.expect_request(lambda r: "survive the crash" in body_text(r) and r["status"] == 200,
                             "the same message sent after the restart")
    alice2 = await srv2.online_agent("tok-alice")
    check(any(c.get("id") == conv["id"] for c in alice2.welcome.get("conversations", [])),
          "the conversation is not back with alice")
    await wait_until(lambda: count_rows(srv.db_path, "SELECT count(*) FROM outbox WHERE text = "
                                        "'survive the crash' AND state = 'sent'") == 1,
                     "the row marked sent after the restart")
    # The conversation of the contact is found again: the next message joins it.
    status, _, _ = await post_signed(srv2, "/v1/webhooks/whatsapp", WA_SECRET,
                                     whatsapp_update("after the restart", "wamid.IN2"))
    check(status == 200, "webhook after restart: %s" % status)
    m = await alice2.expect("message", conversation_id=conv["id"])
    check(m["text"] == "after the restart", "message after restart %s" % m)


async def test_connector_outbound_survives_restart():
    api = ControlledApi()
    cfg = full_config(api)
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    conn = await srv.connector()
    await conn.auth(LINE_KEY)
    r = await conn.request_ok({"type": "inbound", "channel": "line", "contact": {"id": "U9"},
                               "text": "hi", "external_id": "e-1"})
    cid = r["conversation_id"]
    await alice.expect_assigned(cid)
    await conn.close()
    s = await alice.message(cid, "kept for the connector")
    await srv.stop()                                  # a clean stop this time
    srv2 = await start_server(restart_config(cfg, srv.db_path), name="restarted")
    conn2 = await srv2.connector()
    await conn2.auth(LINE_KEY)
    out = await conn2.expect("outbound", seq=s)
    check(out["text"] == "kept for the connector" and out["conversation_id"] == cid,
          "outbound after restart %s" % out)
    await conn2.request_ok({"type": "delivered", "delivery_id": out["delivery_id"]})
    # delivered for a delivery that is not this connector's / does not exist
    await conn2.request_error({"type": "delivered", "delivery_id": "999999"}, "not_found")
    await conn2.request_error({"type": "delivered", "delivery_id": "x1"}, "bad_request")


# -- duplicates ---------------------------------------------------------------

async def test_duplicates_stored_once():
    api = ControlledApi()
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    # WhatsApp: the same wamid twice, and once more inside a batch.
    doc = whatsapp_update("only once", "wamid.DUP")
    st1, _, b1 = await post_signed(srv, "/v1/webhooks/whatsapp", WA_SECRET, doc)
    conv = await alice.expect_assigned()
    st2, _, b2 = await post_signed(srv, "/v1/webhooks/whatsapp", WA_SECRET, doc)
    check(st1 == 200 and st2 == 200, "statuses %s %s" % (st1, st2))
    check(json.loads(b2).get("duplicates") == 1, "second delivery not seen as duplicate: %r" % b2)
    batch = whatsapp_update("only once", "wamid.DUP")
    msgs = batch["entry"][0]["changes"][0]["value"]["messages"]
    msgs.append(dict(msgs[0], id="wamid.NEW", text={"body": "new one"}))
    msgs.append(dict(msgs[0], id="wamid.NEW", text={"body": "new one"}))
    st3, _, b3 = await post_signed(srv, "/v1/webhooks/whatsapp", WA_SECRET, batch)
    check(st3 == 200 and json.loads(b3).get("duplicates") == 2, "batch %s %r" % (st3, b3))
    await alice.expect("message", conversation_id=conv["id"], text="new one")
    # Telegram: the same update twice; Messenger: the same mid twice.
    upd = telegram_update(7001, 77, "telegram once", chat=4242)
    for _ in range(2):
        status, _, _ = await post_telegram(srv, upd)
        check(status == 200, "telegram %s" % status)
    tconv = await alice.expect_assigned()
    mdoc = messenger_update("m_dup", "messenger once", psid="PSID7")
    for _ in range(2):
        status, _, _ = await post_signed(srv, "/v1/webhooks/messenger", MS_SECRET, mdoc)
        check(status == 200, "messenger %s" % status)
    mconv = await alice.expect_assigned()
    await asyncio.sleep(0.5)
    # Each message reached the agent once: in the assigned context, and at most
    # once more as a message frame (protocol.md: at least once, drop seen seqs).
    for text in ("only once", "new one", "telegram once", "messenger once"):
        frames = alice.received("message", text=text)
        check(len(frames) <= 1 and all(f["seq"] == frames[0]["seq"] for f in frames),
              "%r delivered to the agent %d times" % (text, len(frames)))
    for c in (conv, tconv, mconv):
        check(not alice.received("message", conversation_id=c["id"],
                                 seq=lambda q: q > (2 if c is conv else 1)),
              "a duplicate got a new seq in %s" % c["id"])
    await srv.stop()
    for text in ("only once", "new one", "telegram once", "messenger once"):
        n = count_rows(srv.db_path, "SELECT count(*) FROM messages WHERE text = ?", (text,))
        check(n == 1, "%r stored %d times" % (text, n))
    check(count_rows(srv.db_path, "SELECT count(*) FROM conversations") == 3,
          "one conversation per contact")


async def test_webhook_answer_means_durable():
    """The 200 comes only once the message is committed: another reader of the
    database file sees it as soon as the answer arrives."""
    api = ControlledApi()
    srv = await start_server(full_config(api))
    for i in range(20):
        status, _, _ = await post_telegram(srv, telegram_update(9000 + i, 900 + i, "durable %d" % i,
                                                                chat=100 + i))
        check(status == 200, "update %d: %s" % (i, status))
        n = count_rows(srv.db_path, "SELECT count(*) FROM messages WHERE text = ?",
                       ("durable %d" % i,))
        check(n == 1, "answered 200 before message %d was committed" % i)


# -- signatures and bad input ----------------------------------------------------

async def test_forged_signatures_every_platform():
    api = ControlledApi()
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    victor = await srv.online_agent("tok-victor")
    wa = json.dumps(whatsapp_update("forged")).encode()
    ms = json.dumps(messenger_update("m_forged", "forged")).encode()
    tampered = wa.replace(b"forged", b"FORGED")
    cases = [
        ("wa wrong secret", "/v1/webhooks/whatsapp", wa, hub_signature("nope", wa)),
        ("wa other body", "/v1/webhooks/whatsapp", tampered, hub_signature(WA_SECRET, wa)),
        ("wa messenger's secret", "/v1/webhooks/whatsapp", wa, hub_signature(MS_SECRET, wa)),
        ("wa uppercase hex", "/v1/webhooks/whatsapp", wa,
         "sha256=" + hub_signature(WA_SECRET, wa)[7:].upper()),
        ("wa sha1 prefix", "/v1/webhooks/whatsapp", wa, "sha1=" + hub_signature(WA_SECRET, wa)[7:]),
        ("wa empty", "/v1/webhooks/whatsapp", wa, ""),
        ("ms wrong secret", "/v1/webhooks/messenger", ms, hub_signature(WA_SECRET, ms)),
        ("ms truncated", "/v1/webhooks/messenger", ms, hub_signature(MS_SECRET, ms)[:-2]),
    ]
    for what, path, body, sig in cases:
        headers = {"Content-Type": "application/json"}
        if sig:
            headers["X-Hub-Signature-256"] = sig
        status, _, resp = await srv.http("POST", path, body=body, headers=headers)
        check(status in (401, 403), "%s: status %s %r" % (what, status, resp))
    for secret in ("wrong", TG_SECRET + "x", TG_SECRET[:-1], ""):
        status, _, _ = await post_telegram(srv, telegram_update(1, 1, "forged"), secret=secret)
        check(status in (401, 403), "telegram secret %r: %s" % (secret, status))
    params = call_params("CAforged1", "ringing")
    url = PUBLIC_URL + "/v1/webhooks/voice"
    for what, sig in (("wrong token", twilio_signature("nope", url, params)),
                      ("wrong url", twilio_signature(VOICE_TOKEN, "https://evil.example/v1/webhooks/voice",
                                                     params)),
                      ("missing", "")):
        status, _, _ = await post_voice(srv, params, signature=sig)
        check(status in (401, 403), "voice %s: %s" % (what, status))
    # Signed over other parameters than those sent.
    sig = twilio_signature(VOICE_TOKEN, url, dict(params, From="+10000000000"))
    status, _, _ = await post_voice(srv, params, signature=sig)
    check(status in (401, 403), "voice params changed after signing: %s" % status)
    await alice.expect_none("assigned", within=0.5)
    await victor.expect_none("assigned", within=0.1)
    await srv.healthz()
    await srv.stop()
    dump = db_dump(srv.db_path)
    check(not dump.get("conversations") and not dump.get("inbound") and not dump.get("messages"),
          "forged webhooks changed the store: %s" % {k: len(v) for k, v in dump.items()})


async def test_bad_input_clear_status_nothing_stored():
    api = ControlledApi()
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    wa = "/v1/webhooks/whatsapp"
    cases = []

    async def expect(what, got, want):
        status, _, body = got
        cases.append(what)
        check(status == want, "%s: status %s (want %s) %r" % (what, status, want, body[:200]))
        check(status < 500, "%s: a 5xx makes the platform retry forever" % what)

    await expect("malformed JSON", await post_signed(srv, wa, WA_SECRET, raw=b'{"object":'), 400)
    await expect("not an object", await post_signed(srv, wa, WA_SECRET, raw=b'[1,2]'), 400)
    missing = whatsapp_update("x")
    del missing["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    await expect("missing from", await post_signed(srv, wa, WA_SECRET, missing), 400)
    wrong_type = whatsapp_update("x")
    wrong_type["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = 5
    await expect("timestamp not a string", await post_signed(srv, wa, WA_SECRET, wrong_type), 400)
    body = json.dumps(whatsapp_update("x")).encode()
    await expect("text/plain", await srv.http("POST", wa, body=body, headers={
        "Content-Type": "text/plain", "X-Hub-Signature-256": hub_signature(WA_SECRET, body)}), 415)
    await expect("no content type", await srv.http("POST", wa, body=body, headers={
        "X-Hub-Signature-256": hub_signature(WA_SECRET, body)}), 415)
    huge = json.dumps({"object": "whatsapp_business_account", "entry": [],
                       "pad": "x" * 300000}).encode()
    await expect("huge body", await post_signed(srv, wa, WA_SECRET, raw=huge), 413)
    await expect("PUT", await srv.http("PUT", wa, body=body, headers={
        "Content-Type": "application/json"}), 405)
    await expect("handshake without token", await srv.http(
        "GET", wa + "?hub.mode=subscribe&hub.challenge=1"), 400)
    await expect("handshake challenge with markup", await srv.http(
        "GET", wa + "?hub.mode=subscribe&hub.verify_token=wa-verify&hub.challenge=%3Cb%3E"), 400)
    await expect("handshake ok (messenger)", await srv.http(
        "GET", "/v1/webhooks/messenger?hub.mode=subscribe&hub.verify_token=ms-verify&hub.challenge=42"),
        200)
    unknown = {"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [
        {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}]}]}
    got = await post_signed(srv, wa, WA_SECRET, unknown)
    await expect("unknown event kind", got, 200)
    check(json.loads(got[2]).get("ignored") == 1, "unknown kind not reported ignored: %r" % got[2])
    image = whatsapp_update("x")
    image["entry"][0]["changes"][0]["value"]["messages"][0] = {
        "from": "15551234567", "id": "wamid.IMG", "timestamp": "1700000000", "type": "image",
        "image": {"id": "1", "mime_type": "image/jpeg"}}
    await expect("image message", await post_signed(srv, wa, WA_SECRET, image), 200)
    await expect("telegram GET", await srv.http("GET", "/v1/webhooks/telegram"), 405)
    await expect("telegram bad JSON", await post_telegram(srv, raw=b'{"update_id":'), 400)
    await expect("telegram missing update_id", await post_telegram(
        srv, {"message": {"message_id": 1}}), 400)
    await expect("telegram callback_query", await post_telegram(srv, {
        "update_id": 55, "callback_query": {"id": "1", "from": {"id": 1, "first_name": "A"}}}), 200)
    await expect("messenger instagram", await post_signed(
        srv, "/v1/webhooks/messenger", MS_SECRET, {"object": "instagram", "entry": []}), 400)
    await expect("voice bad CallSid", await post_voice(srv, {"CallSid": "CA%zz",
                                                             "CallStatus": "ringing"}), 400)
    await expect("voice malformed form", await srv.http("POST", "/v1/webhooks/voice",
        body=b"CallSid=%zz&CallStatus=ringing", headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}), 400)
    await expect("voice missing CallStatus", await post_voice(srv, {"CallSid": "CA1"}), 400)
    await expect("voice JSON body", await post_voice(srv, call_params("CA2", "ringing"),
                                                     content_type="application/json"), 415)
    await expect("unknown webhook", await srv.http("POST", "/v1/webhooks/line", body=b"{}"), 404)
    await expect("telegram without its secret", await srv.http(
        "POST", "/v1/webhooks/telegram", body=b"{}", headers={"Content-Type": "application/json"}),
        401)
    await alice.expect_none("assigned", within=0.5)
    await srv.healthz()
    # Each refusal left a line in the log.
    log = srv.log()
    for needle in ("payload refused (400)", "content type", "refused (401)"):
        check(needle in log, "no log line with %r" % needle)
    await srv.stop()
    dump = db_dump(srv.db_path)
    check(not dump.get("conversations") and not dump.get("messages") and not dump.get("outbox"),
          "bad input changed the store: %s" % {k: len(v) for k, v in dump.items()})
    print("  %d bad inputs answered 4xx or 200-ignored" % len(cases))


async def test_unconfigured_channels_answer_404():
    srv = await start_server(base_config())
    for path in ("/v1/webhooks/whatsapp", "/v1/webhooks/messenger", "/v1/webhooks/telegram",
                 "/v1/webhooks/voice"):
        status, _, body = await srv.http("POST", path, body=b"{}",
                                         headers={"Content-Type": "application/json"})
        check(status == 404, "%s unconfigured: %s %r" % (path, status, body))
    c = await srv.online_customer(name="Ana")
    await c.request_error({"type": "callback", "phone": "+15557654321"}, "unavailable")


# -- routing and language ----------------------------------------------------------

async def test_channel_pool_and_language():
    api = ControlledApi()
    cfg = full_config(api)
    cfg["channels"]["telegram"]["pool"] = "social"
    cfg["routing"]["detect_language"] = True
    cfg["agents"].append(agent_cfg("sam", "tok-sam", name="Sam", chat=3, pools=("social",),
                                   languages={"en": 10, "es": 10, "pt": 10, "de": 10}))
    srv = await start_server(cfg)
    alice = await srv.online_agent("tok-alice")
    sam = await srv.online_agent("tok-sam")
    status, _, _ = await post_telegram(srv, telegram_update(3001, 1, "oi", chat=501, lang="pt-BR"))
    check(status == 200, "telegram %s" % status)
    conv = await sam.expect_assigned()
    check(conv.get("pool") == "social" and conv.get("language") == "pt",
          "telegram conversation pool %r language %r (want social, pt from pt-BR)"
          % (conv.get("pool"), conv.get("language")))
    await alice.expect_none("assigned", within=0.3)
    # No language from the platform: detected from the text, else the default.
    status, _, _ = await post_signed(srv, "/v1/webhooks/whatsapp", WA_SECRET, whatsapp_update(
        "Hola, necesito ayuda con mi pedido por favor", "wamid.ES"))
    check(status == 200, "whatsapp %s" % status)
    conv = await alice.expect_assigned()
    check(conv.get("pool") == "frontline" and conv.get("language") == "es",
          "whatsapp conversation pool %r language %r (want frontline, es detected)"
          % (conv.get("pool"), conv.get("language")))
    status, _, _ = await post_signed(srv, "/v1/webhooks/messenger", MS_SECRET,
                                     messenger_update("m_lang", "ok", psid="PSID9"))
    conv = await alice.expect_assigned()
    check(conv.get("language") == "en", "undetectable text: default language, got %r"
          % conv.get("language"))


async def test_outbox_concurrency_and_order():
    api = ControlledApi()
    api.delay = 0.15
    srv = await start_server(full_config(api, outbox_concurrency=2))
    alice = await srv.online_agent("tok-alice")
    convs = []
    for i in range(3):
        status, _, _ = await post_telegram(srv, telegram_update(4000 + i, 1, "hello", chat=700 + i))
        check(status == 200, "telegram %s" % status)
        convs.append(await alice.expect_assigned())
    seqs = []
    for c in convs:
        for k in range(3):
            seqs.append(await alice.message(c["id"], "%s part %d" % (c["customer"]["contact"], k)))
    await wait_until(lambda: len([r for r in api.requests if " part " in body_text(r)]) == 9,
                     "nine replies at the API", timeout=20)
    check(api.max_active <= 2, "%d requests in flight at once (outbox_concurrency = 2)"
          % api.max_active)
    check(api.max_active == 2, "never two in flight: concurrency not used")
    for c in convs:
        texts = [json.loads(r["body"])["text"] for r in api.requests
                 if json.loads(r["body"]).get("chat_id") == int(c["customer"]["contact"])
                 and " part " in body_text(r)]
        want = ["%s part %d" % (c["customer"]["contact"], k) for k in range(3)]
        check(texts == want, "order for %s: %s" % (c["customer"]["contact"], texts))


async def test_long_message_split():
    api = ControlledApi()
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    status, _, _ = await post_signed(srv, "/v1/webhooks/messenger", MS_SECRET,
                                     messenger_update("m_long", "hi", psid="PSIDL"))
    conv = await alice.expect_assigned()
    text = ("word " * 900).strip()          # 4499 characters; Messenger takes 2000
    seq = await alice.message(conv["id"], text)
    await wait_until(lambda: len(api.matching("word word")) == 3, "three parts at the Send API")
    parts = [json.loads(r["body"])["message"]["text"] for r in api.matching("word word")]
    check(all(len(p) <= 2000 for p in parts) and " ".join(parts) == text,
          "parts %s do not make the message" % [len(p) for p in parts])
    for part in range(3):
        await alice.expect("delivery", seq=seq, state="sent",
                           **({"part": part} if part else {}))


# -- voice -------------------------------------------------------------------------

async def test_voice_call_routed_answered_and_ended():
    api = ControlledApi()
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    victor = await srv.online_agent("tok-victor")
    params = call_params("CAinbound0001", "ringing", CallerName="Ana Garcia")
    status, headers, body = await post_voice(srv, params)
    check(status == 200, "inbound call: %s %r" % (status, body))
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    text = body.decode()
    check("xml" in ctype and "<Response>" in text and "<Enqueue" in text and ">voice</Enqueue>" in text
          and '<Say language="en">' in text, "TwiML answer %s %r" % (ctype, text))
    conv = await victor.expect_assigned()
    check(conv.get("channel") == "voice" and conv.get("media") == "voice",
          "voice context %s/%s" % (conv.get("channel"), conv.get("media")))
    check((conv.get("attributes") or {}).get("call_sid") == "CAinbound0001"
          and "+15551112222" in str(conv.get("customer")), "voice context %s" % conv)
    await alice.expect_none("assigned", within=0.3)      # no voice capacity
    # The same webhook again (Twilio retries): the same conversation.
    status, _, body = await post_voice(srv, params)
    check(status == 200 and b"<Enqueue" in body, "repeated ringing webhook %s" % status)
    await victor.expect_none("assigned", within=0.3)
    status, _, _ = await post_voice(srv, call_params("CAinbound0001", "in-progress"))
    await victor.expect("call_status", conversation_id=conv["id"], status="in-progress")
    status, _, body = await post_voice(srv, call_params("CAinbound0001", "completed",
                                                        CallDuration="42"))
    check(status == 200 and b"<Response" in body, "completed webhook %s %r" % (status, body))
    rel = await victor.expect("released", conversation_id=conv["id"])
    check(rel.get("reason") == "customer_left", "released %s" % rel)
    # victor's slot is free again: the next call goes to him.
    status, _, _ = await post_voice(srv, call_params("CAinbound0002", "ringing", frm="+15553334444"))
    conv2 = await victor.expect_assigned()
    check(conv2["id"] != conv["id"], "a new call is a new conversation")
    status, _, _ = await post_voice(srv, call_params("CAinbound0002", "no-answer"))
    await victor.expect("released", conversation_id=conv2["id"])
    # Status for a call nobody knows: acknowledged, nothing opened.
    status, _, body = await post_voice(srv, call_params("CAunknown", "completed"))
    check(status == 200, "unknown call status %s" % status)


async def test_voice_call_ends_after_restart():
    api = ControlledApi()
    cfg = full_config(api)
    srv = await start_server(cfg)
    victor = await srv.online_agent("tok-victor")
    await post_voice(srv, call_params("CArestart01", "ringing"))
    conv = await victor.expect_assigned()
    await srv.kill()
    srv2 = await start_server(restart_config(cfg, srv.db_path), name="restarted")
    victor2 = await srv2.online_agent("tok-victor")
    status, _, _ = await post_voice(srv2, call_params("CArestart01", "busy"))
    check(status == 200, "status after restart %s" % status)
    await victor2.expect("released", conversation_id=conv["id"])


async def test_callback_from_web_chat():
    api = ControlledApi()
    srv = await start_server(full_config(api))
    cust = await srv.online_customer(name="Ana", email="ana@example.com", topic="billing",
                                     attributes={"plan": "gold"})
    await cust.message("please call me about my invoice")
    await cust.request_error({"type": "callback", "phone": "555-1234"}, "bad_request", "phone")
    r = await cust.request_ok({"type": "callback", "phone": "+15557654321"})
    check(isinstance(r.get("callback_id"), str) and "+15557654321" in r.get("text", ""),
          "callback ok %s" % r)
    again = await cust.request_ok({"type": "callback", "phone": "+15557654321"})
    check(again.get("callback_id") == r["callback_id"], "a second request made a second task")
    victor = await srv.online_agent("tok-victor")
    task = await victor.expect_assigned(r["callback_id"])
    attrs = task.get("attributes") or {}
    check(task.get("channel") == "voice" and task.get("media") == "voice", "task %s" % task)
    check(attrs.get("callback_for") == cust.conversation_id and attrs.get("plan") == "gold"
          and "please call me about my invoice" in attrs.get("chat_excerpt", "")
          and attrs.get("callback_phone") == "+15557654321", "task attributes %s" % attrs)
    # The chat's topic travels as context; its skill requirements do not (the
    # voice pool serves callbacks whatever the chat needed).
    check(attrs.get("topic") == "billing" and (task.get("customer") or {}).get("name") == "Ana"
          and (task.get("customer") or {}).get("email") == "ana@example.com",
          "task topic/customer %s %s" % (attrs.get("topic"), task.get("customer")))
    # Taken by an agent: the router asks the Calls API to dial the customer.
    req = await api.expect_request(lambda r: "Calls.json" in r["path"], "the Calls API request")
    check(urllib.parse.urlsplit(req["path"]).path ==
          "/2010-04-01/Accounts/%s/Calls.json" % ACCOUNT_SID, "Calls path %s" % req["path"])
    f = fields(req)
    check(f.get("To") == "+15557654321" and f.get("From") == CALLER_ID
          and f.get("Url") == PUBLIC_URL + "/v1/webhooks/voice", "Calls body %s" % f)
    auth = "Basic " + base64.b64encode(("%s:%s" % (ACCOUNT_SID, VOICE_TOKEN)).encode()).decode()
    check(req["headers"].get("authorization") == auth, "Calls authorization")
    sid = req["answer"]["sid"]
    # Twilio calls back with the new call's webhooks: they find the task.
    await wait_until(lambda: "callback call %s placed" % sid in srv.log(), "the call recorded")
    status, _, body = await post_voice(srv, call_params(sid, "in-progress", direction="outbound-api",
                                                        frm=CALLER_ID, to="+15557654321"))
    check(status == 200 and b"<Enqueue" in body, "callback TwiML %s %r" % (status, body))
    await victor.expect("call_status", conversation_id=task["id"], status="in-progress")
    await post_voice(srv, call_params(sid, "completed", direction="outbound-api", frm=CALLER_ID,
                                      to="+15557654321"))
    await victor.expect("released", conversation_id=task["id"])
    # Once it ended, a new request is a new task.
    r3 = await cust.request_ok({"type": "callback", "phone": "+15557654321"})
    check(r3["callback_id"] != r["callback_id"], "a request after the task ended reused it")


# -- connector ---------------------------------------------------------------------

async def test_connector_errors():
    api = ControlledApi()
    srv = await start_server(full_config(api))
    early = await srv.connector()
    await early.send({"type": "inbound", "channel": "line", "contact": {"id": "U1"},
                      "text": "x", "external_id": "e"})
    await early.expect_error("unauthorized")
    await early.expect_close(1008)
    conn = await srv.connector()
    await conn.auth(LINE_KEY)
    base = {"type": "inbound", "channel": "line", "contact": {"id": "U1"}, "text": "x",
            "external_id": "e1"}
    await conn.request_error(dict(base, channel="whatsapp"), "forbidden", "whatsapp")
    await conn.request_error({k: v for k, v in base.items() if k != "external_id"},
                             "bad_request", "external_id")
    await conn.request_error(dict(base, contact="U1"), "bad_request", "contact")
    await conn.request_error(dict(base, contact={"name": "x"}), "bad_request", "id")
    await conn.request_error(dict(base, text=""), "bad_request", "text")
    await conn.request_error(dict(base, text=5), "bad_request", "text")
    await conn.request_error({"type": "shout"}, "unknown_type")
    await conn.request_error({"type": "auth", "key": LINE_KEY}, "conflict")
    # Still usable.
    r = await conn.request_ok(base)
    check(r.get("seq") == 1, "inbound after errors %s" % r)


async def test_connector_newest_connection_gets_outbound():
    api = ControlledApi()
    srv = await start_server(full_config(api))
    alice = await srv.online_agent("tok-alice")
    c1 = await srv.connector()
    await c1.auth(LINE_KEY)
    c2 = await srv.connector()
    await c2.auth(LINE_KEY)
    r = await c1.request_ok({"type": "inbound", "channel": "line", "contact": {"id": "U5"},
                             "text": "hello", "external_id": "n-1"})
    await alice.expect_assigned(r["conversation_id"])
    s = await alice.message(r["conversation_id"], "to the newest")
    out = await c2.expect("outbound", seq=s)
    await c1.expect_none("outbound", within=0.3)
    await c2.request_ok({"type": "delivered", "delivery_id": out["delivery_id"], "ref": "d1"})
    d = await alice.expect("delivery", seq=s)
    check(d.get("state") == "delivered", "agent delivery event %s" % d)


if __name__ == "__main__":
    harness.run()
