"""harness.py - start the real switchboard binary and talk to it as real clients do.

Each tests/integration/test_*.py imports this module, defines `async def test_*()`
functions and ends with `harness.run()`. For every test:

  * servers started with `await start_server(cfg)` get their own temp directory,
    a configuration file written from `cfg` (a dict, see `base_config()`), and a
    free loopback port (the server prints "listening on 127.0.0.1:PORT");
  * on any exception the whole log of every server of the test is printed;
  * afterwards every client is closed and every server is stopped with SIGTERM;
    a non-zero exit or a sanitizer report in its log fails the test.

Run one file by hand:
    SB_BINARY=build/switchboard /usr/bin/python3 tests/integration/test_relay.py
and only the tests whose name contains a word with SB_ONLY=word.

Only the Python standard library and python3-websockets 10.4 (asyncio API).
"""

import asyncio
import copy
import hashlib
import http.client
import inspect
import itertools
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import websockets

BINARY = os.environ.get("SB_BINARY", "")
SOURCE_DIR = os.environ.get("SB_SOURCE_DIR", "")

START_TIMEOUT = 10.0     # seconds until "listening on"
STOP_TIMEOUT = 10.0      # seconds from SIGTERM to exit
EXPECT_TIMEOUT = 10.0    # default wait for an expected frame (generous: sanitizer builds)
QUIET_WINDOW = 0.7       # default window for "nothing of this type arrives"
TEST_TIMEOUT = 50.0      # one test function

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                   "ERROR: ThreadSanitizer", "ERROR: MemorySanitizer")


class TestFailure(AssertionError):
    pass


class ConnectFailed(TestFailure):
    """The WebSocket handshake failed. `status` is the HTTP status when the server
    answered the upgrade with one, else None (connection refused or dropped)."""

    def __init__(self, msg, cause):
        super().__init__(msg)
        self.cause = cause
        self.status = getattr(cause, "status_code", None)


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def sha256_hex(secret):
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def now_ms():
    return int(time.time() * 1000)


# --------------------------------------------------------------------------
# configuration

def base_config():
    """A small valid configuration (spec/config.md). Tests copy and adjust it.

    Agents are listed with a clear `token`; the writer replaces it with
    `token_sha256`. The rate limit is generous so that fast tests are not
    throttled; detect_language is off so that languages are deterministic."""
    return {
        "server": {
            "listen": "127.0.0.1:0",
            "max_frame_bytes": 65536,
            "rate": {"messages_per_second": 2000, "burst": 4000},
        },
        "store": {"engine": "sqlite", "path": "switchboard.db"},
        "routing": {"default_language": "en", "detect_language": False, "wrap_up_s": 0},
        "skills": ["billing", "technical", "sales"],
        "languages": ["en", "es", "pt", "de"],
        "topics": [
            {"id": "billing", "pool": "frontline", "skills": {"billing": 5}, "priority": 0},
            {"id": "tech", "pool": "frontline", "skills": {"technical": 3}},
        ],
        "default_pool": "frontline",
        "pools": [
            {"id": "frontline", "tier": 1, "strategy": "longest_idle", "accept": "direct"},
        ],
        "agents": [],
        "templates": {
            "en": {
                "queued": "You are number {position} in line (about {eta}).",
                "agent_joined": "{agent} has joined the conversation.",
                "transferring": "Connecting you with {pool}. Your conversation comes with you.",
                "closed": "This conversation is closed. Thank you!",
            },
            "es": {
                "queued": "Usted es el número {position} en la fila (unos {eta}).",
                "agent_joined": "{agent} se ha unido a la conversación.",
            },
        },
    }


def agent_cfg(id, token, name=None, languages=None, skills=None, chat=1,
              pools=("frontline",), role="agent", voice=None):
    """One agents entry; `token` is given in clear."""
    a = {"id": id, "name": name or id.capitalize(), "role": role, "token": token,
         "pools": list(pools), "languages": languages or {"en": 10}}
    if skills is not None:
        a["skills"] = skills
    cap = {"chat": chat}
    if voice is not None:
        cap["voice"] = voice
    a["capacity"] = cap
    return a


def _lc_string(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_GROUP_LISTS = {"topics", "pools", "agents", "steps", "phrases", "connectors"}


def _lc_value(v, indent, key=None):
    pad = "  " * indent
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        r = repr(v)
        return r if ("." in r or "e" in r) else r + ".0"
    if isinstance(v, str):
        return _lc_string(v)
    if isinstance(v, dict):
        if not v:
            return "{ }"
        lines = ["{"]
        for k, x in v.items():
            lines.append("%s  %s = %s;" % (pad, k, _lc_value(x, indent + 1, k)))
        lines.append(pad + "}")
        return "\n".join(lines)
    if isinstance(v, (list, tuple)):
        if not v:
            return "( )" if key in _GROUP_LISTS else "[ ]"
        if all(isinstance(x, dict) for x in v):     # a list of groups
            inner = (",\n%s  " % pad).join(_lc_value(x, indent + 1) for x in v)
            return "(\n%s  %s\n%s)" % (pad, inner, pad)
        return "[ " + ", ".join(_lc_value(x, indent + 1) for x in v) + " ]"
    raise TypeError("cannot write %r as libconfig" % (v,))


def to_libconfig(cfg):
    """The dict as a libconfig file. Agent `token` (clear) becomes `token_sha256`."""
    cfg = copy.deepcopy(cfg)
    for a in cfg.get("agents", []):
        if "token" in a:
            a["token_sha256"] = sha256_hex(a.pop("token"))
    lines = ["# written by tests/integration/harness.py"]
    for k, v in cfg.items():
        lines.append("%s = %s;" % (k, _lc_value(v, 0, k)))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# per-test bookkeeping

class _TestState:
    def __init__(self):
        self.servers = []
        self.clients = []
        self.apis = []


_state = _TestState()


# --------------------------------------------------------------------------
# the server process

class Server:
    """One switchboard process with its own temp directory and configuration."""

    def __init__(self, cfg, name="server", wrapper=None):
        self.name = name
        self.wrapper = list(wrapper or [])   # e.g. ["fiu-run", "-x"]
        self.dir = tempfile.mkdtemp(prefix="sb-it-")
        self.cfg = copy.deepcopy(cfg)
        self.cfg.setdefault("server", {})["listen"] = "127.0.0.1:0"
        store = self.cfg.setdefault("store", {})
        path = store.get("path", "switchboard.db")
        if path != ":memory:" and not os.path.isabs(path):
            path = os.path.join(self.dir, path)
        store["path"] = path
        self.db_path = None if path == ":memory:" else path
        self.conf_path = os.path.join(self.dir, "switchboard.conf")
        with open(self.conf_path, "w", encoding="utf-8") as f:
            f.write(to_libconfig(self.cfg))
        self.proc = None
        self.port = None
        self.log_lines = []
        self._log_lock = threading.Lock()
        self._listening = threading.Event()
        self._reader = None
        self.returncode = None
        self.stopped = False
        self.exit_expected = False

    # -- lifecycle

    def _read_log(self):
        pat = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._log_lock:
                self.log_lines.append(line)
            if self.port is None:
                m = pat.search(line)
                if m:
                    self.port = int(m.group(1))
                    self._listening.set()
        self._listening.set()   # EOF: wake the starter

    async def start(self):
        check(BINARY and os.path.exists(BINARY),
              "SB_BINARY is not set or does not exist: %r" % BINARY)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        if self.wrapper:      # a preloaded library comes before ASan's runtime
            env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"] + ":verify_asan_link_order=0"
        self.proc = subprocess.Popen(self.wrapper + [BINARY, "-c", self.conf_path], cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        ok = await asyncio.to_thread(self._listening.wait, START_TIMEOUT)
        if self.port is None:
            rc = self.proc.poll()
            if rc is None:
                fail("%s: no 'listening on 127.0.0.1:PORT' line within %.0f s"
                     % (self.name, START_TIMEOUT) if not ok else
                     "%s: log ended without a 'listening on' line" % self.name)
            fail("%s: exited with code %s before listening" % (self.name, rc))
        return self

    def log(self):
        with self._log_lock:
            return "\n".join(self.log_lines)

    def sanitizer_report(self):
        text = self.log()
        return [m for m in SANITIZER_MARKS if m in text]

    def signal(self, sig):
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
            self.exit_expected = True
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def died(self):
        """The exit status when the process ended without being asked to, else None."""
        rc = self.proc.poll() if self.proc else None
        return None if rc is None or self.exit_expected else rc

    async def wait_exit(self, timeout=STOP_TIMEOUT):
        """Waits for the process to end; returns its exit code (kills it after timeout)."""
        try:
            rc = await asyncio.to_thread(self.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)
            self.stopped = True
            if self._reader:
                await asyncio.to_thread(self._reader.join, 5)
            fail("%s did not exit within %.0f s of SIGTERM (killed)" % (self.name, timeout))
        if self._reader:
            await asyncio.to_thread(self._reader.join, 5)
        self.returncode = rc
        self.stopped = True
        return rc

    async def stop(self):
        """SIGTERM, wait, and check: exit code 0 and no sanitizer report."""
        if self.stopped:
            return self.returncode
        self.signal(signal.SIGTERM)
        rc = await self.wait_exit()
        check_clean_exit(self, rc)
        return rc

    async def kill(self):
        """SIGKILL (no checks on the exit code)."""
        self.signal(signal.SIGKILL)
        try:
            await self.wait_exit()
        finally:
            self.stopped = True

    # -- HTTP

    def _http(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    async def http(self, method, path, body=None, headers=None):
        return await asyncio.to_thread(self._http, method, path, body, headers)

    async def healthz(self):
        """Asserts GET /healthz answers 200 {"status":"ok"} (the process is alive and serving)."""
        check(self.proc.poll() is None, "%s has exited (code %s)" % (self.name, self.proc.poll()))
        status, _, body = await self.http("GET", "/healthz")
        check(status == 200, "GET /healthz: status %s, body %r" % (status, body))
        try:
            doc = json.loads(body)
        except ValueError:
            fail("GET /healthz: body is not JSON: %r" % body)
        check(isinstance(doc, dict) and doc.get("status") == "ok",
              "GET /healthz: body %r, want {\"status\":\"ok\"}" % body)

    # -- clients

    def url(self, path):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    async def customer(self, **kw):
        c = Customer(self)
        await c.connect(**kw)
        return c

    async def agent(self, **kw):
        a = Agent(self)
        await a.connect(**kw)
        return a

    async def online_agent(self, token):
        """An agent connected, authenticated and available. Its welcome is in .welcome."""
        a = await self.agent()
        await a.auth(token)
        await a.status("available")
        return a

    async def connector(self, **kw):
        c = Connector(self)
        await c.connect(**kw)
        return c

    async def online_customer(self, **hello):
        c = await self.customer()
        await c.hello(**hello)
        return c


def describe_exit(rc):
    if rc is not None and rc < 0:
        try:
            return "killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name)
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit code %s" % rc


def check_clean_exit(server, rc):
    """Exit code 0 and no sanitizer report in the log."""
    problems = []
    if rc != 0:
        problems.append("ended with %s (want exit code 0)" % describe_exit(rc))
    marks = server.sanitizer_report()
    if marks:
        problems.append("sanitizer report in its log (%s)" % ", ".join(marks))
    check(not problems, "%s %s" % (server.name, " and ".join(problems)))


async def start_server(cfg=None, name="server", wrapper=None):
    """Starts a server for the current test (stopped and checked when the test ends).
    wrapper: a command the binary runs under (fault injection: ["fiu-run", "-x"])."""
    srv = Server(cfg if cfg is not None else base_config(), name=name, wrapper=wrapper)
    _state.servers.append(srv)
    await srv.start()
    return srv


# --------------------------------------------------------------------------
# clients

_refs = itertools.count(1)


def new_ref():
    return "r%d" % next(_refs)


def _matches(frame, type_, match):
    if type_ is not None:
        if isinstance(type_, (tuple, list, set)):
            if frame.get("type") not in type_:
                return False
        elif frame.get("type") != type_:
            return False
    for k, want in match.items():
        if k not in frame:
            return False
        if callable(want):
            try:
                if not want(frame[k]):
                    return False
            except Exception:
                return False
        elif frame[k] != want:
            return False
    return True


def _describe(type_, match):
    parts = []
    for k, v in match.items():
        parts.append("%s=%s" % (k, "<predicate>" if callable(v) else json.dumps(v, ensure_ascii=False)))
    return "%s%s" % (type_, (" {" + ", ".join(parts) + "}") if parts else "")


def _short(frame, limit=300):
    s = json.dumps(frame, ensure_ascii=False) if not isinstance(frame, str) else frame
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


class Client:
    """A WebSocket client. A background task reads every frame into `inbox`
    (frames not yet consumed by recv/expect) and `history` (every frame)."""

    path = "/"
    label = "client"

    def __init__(self, server):
        self.server = server
        self.ws = None
        self.inbox = []
        self.history = []
        self.arrived = []       # time.monotonic() of each frame in history
        self.closed = False
        self._cond = asyncio.Condition()
        self._task = None

    async def connect(self, headers=None, path=None):
        url = self.server.url(path or self.path)
        try:
            self.ws = await websockets.connect(
                url, extra_headers=headers, max_size=None, max_queue=None,
                ping_interval=None, compression=None, open_timeout=10, close_timeout=3)
        except (websockets.InvalidHandshake, OSError, asyncio.TimeoutError, EOFError) as e:
            alive = self.server.proc.poll()
            raise ConnectFailed("%s: cannot connect to %s: %s: %s%s"
                                % (self.label, url, type(e).__name__, e,
                                   "" if alive is None else " (the server has exited: %s)"
                                   % describe_exit(alive)), e) from e
        _state.clients.append(self)
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self):
        try:
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    frame = {"type": "<binary frame>", "bytes": raw[:100].hex()}
                else:
                    try:
                        frame = json.loads(raw)
                    except ValueError:
                        frame = {"type": "<not JSON>", "raw": raw[:300]}
                    if not isinstance(frame, dict):
                        frame = {"type": "<not an object>", "raw": raw[:300]}
                async with self._cond:
                    self.inbox.append(frame)
                    self.history.append(frame)
                    self.arrived.append(time.monotonic())
                    self._cond.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            async with self._cond:
                self.closed = True
                self._cond.notify_all()

    @property
    def close_code(self):
        return self.ws.close_code if self.ws else None

    # -- sending

    async def send(self, obj):
        await self.ws.send(json.dumps(obj, ensure_ascii=False))

    async def send_raw(self, data):
        """Sends `data` as is: str -> text frame, bytes -> binary frame."""
        await self.ws.send(data)

    async def send_binary(self, data=b'{"type":"ping"}'):
        await self.ws.send(bytes(data))

    # -- receiving

    async def _wait(self, pred, timeout):
        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(pred), timeout)

    def _context(self):
        pend = "\n".join("    " + _short(f) for f in self.inbox) or "    (nothing)"
        recent = "\n".join("    " + _short(f) for f in self.history[-12:]) or "    (nothing)"
        state = "closed (code %s)" % self.close_code if self.closed else "open"
        return ("  %s socket is %s\n  unconsumed frames:\n%s\n  last frames received:\n%s"
                % (self.label, state, pend, recent))

    async def recv(self, timeout=EXPECT_TIMEOUT):
        """The next frame not yet consumed."""
        try:
            await self._wait(lambda: self.inbox or self.closed, timeout)
        except asyncio.TimeoutError:
            fail("%s: no frame within %.1f s\n%s" % (self.label, timeout, self._context()))
        if not self.inbox:
            fail("%s: connection closed (code %s) while waiting for a frame"
                 % (self.label, self.close_code))
        return self.inbox.pop(0)

    def find(self, type_=None, **match):
        """Unconsumed frames matching, without consuming them."""
        return [f for f in self.inbox if _matches(f, type_, match)]

    def received(self, type_=None, **match):
        """Every frame ever received that matches."""
        return [f for f in self.history if _matches(f, type_, match)]

    def arrival(self, frame):
        """time.monotonic() when `frame` (an object from history) arrived."""
        for f, t in zip(self.history, self.arrived):
            if f is frame:
                return t
        fail("%s: arrival of a frame it never received" % self.label)

    async def expect(self, type_, timeout=EXPECT_TIMEOUT, **match):
        """Waits for the first unconsumed frame of `type_` whose fields equal `match`
        (a callable value is a predicate on the field), consumes and returns it.
        Frames passed over stay in `inbox`."""
        found = []

        def pred():
            for i, f in enumerate(self.inbox):
                if _matches(f, type_, match):
                    found.append(i)
                    return True
            return self.closed

        try:
            await self._wait(pred, timeout)
        except asyncio.TimeoutError:
            fail("%s: expected %s within %.1f s; it did not arrive\n%s"
                 % (self.label, _describe(type_, match), timeout, self._context()))
        if not found:
            fail("%s: connection closed (code %s) while expecting %s\n%s"
                 % (self.label, self.close_code, _describe(type_, match), self._context()))
        return self.inbox.pop(found[0])

    async def expect_none(self, type_, within=QUIET_WINDOW, **match):
        """Asserts no frame of `type_` matching arrives (or is pending) within `within` s."""
        start = len(self.history)
        pending = self.find(type_, **match)
        if pending:
            fail("%s: unexpected %s: %s\n%s" % (self.label, _describe(type_, match),
                                                 _short(pending[0]), self._context()))
        await asyncio.sleep(within)
        late = [f for f in self.history[start:] if _matches(f, type_, match)]
        if late:
            fail("%s: unexpected %s within %.1f s: %s\n%s"
                 % (self.label, _describe(type_, match), within, _short(late[0]), self._context()))

    async def request(self, obj, timeout=EXPECT_TIMEOUT):
        """Sends obj with a fresh `ref` (unless it has one) and returns the `ok` or
        `error` that carries that ref."""
        obj = dict(obj)
        ref = obj.setdefault("ref", new_ref())
        await self.send(obj)
        try:
            return await self.expect(("ok", "error"), timeout=timeout, ref=ref)
        except TestFailure as e:
            fail("request %s got no ok/error with ref %r:\n%s"
                 % (_short(obj), ref, e))

    async def request_ok(self, obj, timeout=EXPECT_TIMEOUT):
        r = await self.request(obj, timeout)
        check(r["type"] == "ok", "%s: request %s: want ok, got %s"
              % (self.label, _short(obj), _short(r)))
        return r

    async def request_error(self, obj, code, field=None, timeout=EXPECT_TIMEOUT):
        r = await self.request(obj, timeout)
        check_error(r, code, field, "%s: request %s" % (self.label, _short(obj)))
        return r

    async def expect_error(self, code, field=None, timeout=EXPECT_TIMEOUT, **match):
        """The next `error` frame (any ref); checks its code (and that its message names field)."""
        r = await self.expect("error", timeout=timeout, **match)
        check_error(r, code, field, self.label)
        return r

    async def expect_close(self, code, timeout=EXPECT_TIMEOUT):
        """Waits until the server closes the connection; checks the close code."""
        try:
            await self._wait(lambda: self.closed, timeout)
        except asyncio.TimeoutError:
            fail("%s: expected the server to close with %s within %.1f s; still open\n%s"
                 % (self.label, code, timeout, self._context()))
        check(self.close_code == code, "%s: close code %s (reason %r), want %s\n%s"
              % (self.label, self.close_code, self.ws.close_reason, code, self._context()))

    async def close(self):
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except Exception:
                pass
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5)
            except Exception:
                pass


def check_error(r, code, field=None, what="request"):
    check(r.get("type") == "error",
          "%s: want error %s, got %s" % (what, code, _short(r)))
    check(r.get("code") == code,
          "%s: want error code %r, got %s" % (what, code, _short(r)))
    check(isinstance(r.get("message"), str) and r["message"],
          "%s: error without a message: %s" % (what, _short(r)))
    if field is not None:
        check(field in r["message"],
              "%s: error message should name %r: %s" % (what, field, _short(r)))


class Customer(Client):
    path = "/v1/customer"
    label = "customer"

    def __init__(self, server):
        super().__init__(server)
        self.welcome = None
        self.conversation_id = None

    async def hello(self, **fields):
        """Sends hello and returns the welcome (checked for the spec's fields)."""
        await self.send(dict(type="hello", **fields))
        w = await self.expect("welcome")
        for k, t in (("conversation_id", str), ("token", str), ("language", str),
                     ("state", str), ("seq", int)):
            check(isinstance(w.get(k), t) and not isinstance(w.get(k), bool),
                  "welcome: field %r missing or not %s: %s" % (k, t.__name__, _short(w)))
        self.welcome = w
        self.conversation_id = w["conversation_id"]
        if "name" in fields:
            self.label = "customer %s" % fields["name"]
        return w

    async def message(self, text):
        """Sends a message; returns its seq (from the ok)."""
        r = await self.request_ok({"type": "message", "text": text})
        check(isinstance(r.get("seq"), int), "ok for a message without an integer seq: %s" % _short(r))
        return r["seq"]


class Agent(Client):
    path = "/v1/agent"
    label = "agent"

    def __init__(self, server):
        super().__init__(server)
        self.welcome = None

    async def auth(self, token):
        await self.send({"type": "auth", "token": token})
        w = await self.expect("welcome")
        check(isinstance(w.get("agent"), dict), "agent welcome without agent: %s" % _short(w))
        self.welcome = w
        self.label = "agent %s" % w["agent"].get("id")
        return w

    async def status(self, state):
        return await self.request_ok({"type": "status", "state": state})

    async def message(self, conversation_id, text):
        r = await self.request_ok({"type": "message", "conversation_id": conversation_id,
                                   "text": text})
        check(isinstance(r.get("seq"), int), "ok for a message without an integer seq: %s" % _short(r))
        return r["seq"]

    async def expect_assigned(self, conversation_id=None, timeout=EXPECT_TIMEOUT):
        if conversation_id is None:
            f = await self.expect("assigned", timeout=timeout)
        else:
            f = await self.expect("assigned", timeout=timeout,
                                  conversation=lambda c: c.get("id") == conversation_id)
        check(isinstance(f.get("conversation"), dict) and isinstance(f["conversation"].get("id"), str),
              "assigned without a conversation context: %s" % _short(f))
        return f["conversation"]


async def wait_until(pred, what, timeout=EXPECT_TIMEOUT, describe=None):
    """Waits until pred() is true across several clients' received frames (which the
    clients' reader tasks fill in the background); fails naming `what`."""
    deadline = time.monotonic() + timeout
    while not pred():
        for s in _state.servers:
            rc = s.died()
            if rc is not None:
                fail("%s ended (%s) while waiting for %s" % (s.name, describe_exit(rc), what))
        if time.monotonic() > deadline:
            fail("timed out after %.1f s waiting for %s%s"
                 % (timeout, what, ("\n" + describe()) if describe else ""))
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------
# a fake platform API (the send APIs outbound replies go to)

class FakeApi:
    """An HTTP server on a free loopback port that records every request and
    answers 200 with `reply` (a dict, sent as JSON). Stopped when the test ends."""

    def __init__(self, reply=None):
        import http.server

        self.requests = []          # dicts: method, path, headers (lowercase keys), body (bytes)
        self.reply = reply if reply is not None else {"ok": True}
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                api.requests.append({"method": self.command, "path": self.path,
                                     "headers": {k.lower(): v for k, v in self.headers.items()},
                                     "body": body})
                out = json.dumps(api.reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        _state.apis.append(self)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    async def expect_request(self, pred, what, timeout=EXPECT_TIMEOUT):
        """Waits for a recorded request for which pred(request) is true; returns it."""
        found = []

        def check_():
            found[:] = [r for r in self.requests if pred(r)]
            return bool(found)

        await wait_until(check_, what, timeout,
                         describe=lambda: "requests so far: %s" % [
                             (r["method"], r["path"], r["body"][:200]) for r in self.requests])
        return found[0]


class Connector(Client):
    """A social connector (protocol.md section 5)."""
    path = "/v1/connector"
    label = "connector"

    async def auth(self, key):
        await self.send({"type": "auth", "key": key})
        w = await self.expect(("welcome", "error"))
        check(w["type"] == "welcome", "connector auth: want welcome, got %s" % _short(w))
        return w


# --------------------------------------------------------------------------
# SQLite file

def db_dump(path):
    """{table: [row tuples]} for every table of the SQLite file (schema discovered
    through sqlite_master)."""
    check(os.path.exists(path), "the store file %s does not exist" % path)
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {t: con.execute('SELECT * FROM "%s"' % t.replace('"', '""')).fetchall()
                for t in tables}
    finally:
        con.close()


def db_tables_containing(dump, value):
    """Names of the tables that hold `value` in some column (text compared exactly
    or as a substring of a text/JSON column)."""
    out = []
    for t, rows in dump.items():
        for row in rows:
            if any(isinstance(c, str) and (c == value or value in c) for c in row):
                out.append(t)
                break
    return out


# --------------------------------------------------------------------------
# running

def run_cli(*args, timeout=20, cwd=None):
    """Runs the binary with args; returns (code, stdout, stderr)."""
    check(BINARY and os.path.exists(BINARY), "SB_BINARY is not set or does not exist: %r" % BINARY)
    p = subprocess.run([BINARY] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


async def _teardown(errors):
    st = _state
    for c in st.clients:
        await c.close()
    for s in st.servers:
        if s.proc is None or s.stopped:
            continue
        try:
            await s.stop()
        except Exception as e:   # noqa: BLE001 - every problem is reported
            errors.append(e)
    for api in st.apis:
        await asyncio.to_thread(api.stop)


async def _run_one(fn):
    errors = []
    try:
        await asyncio.wait_for(fn(), TEST_TIMEOUT)
    except asyncio.TimeoutError:
        errors.append(TestFailure("test did not finish within %.0f s" % TEST_TIMEOUT))
    except Exception as e:   # noqa: BLE001
        errors.append(e)
    await _teardown(errors)
    return errors


def run(tests=None):
    """Runs every `async def test_*` of the calling module (in file order), or the
    given list, each in its own event loop. Exits 0 when all pass."""
    if tests is None:
        mod = sys.modules["__main__"]
        tests = [v for k, v in vars(mod).items()
                 if k.startswith("test_") and inspect.iscoroutinefunction(v)]
        tests.sort(key=lambda f: f.__code__.co_firstlineno)
    only = os.environ.get("SB_ONLY")
    if only:
        tests = [t for t in tests if only in t.__name__]
    global _state
    passed, failed = 0, []
    for fn in tests:
        _state = _TestState()
        t0 = time.monotonic()
        errors = asyncio.run(_run_one(fn))
        dt = time.monotonic() - t0
        if not errors:
            passed += 1
            print("PASS %s (%.1fs)" % (fn.__name__, dt), flush=True)
            for s in _state.servers:
                shutil.rmtree(s.dir, ignore_errors=True)
            continue
        failed.append(fn.__name__)
        print("FAIL %s (%.1fs)" % (fn.__name__, dt), flush=True)
        for e in errors:
            if isinstance(e, TestFailure):
                print("  " + str(e).replace("\n", "\n  "))
                tb = traceback.extract_tb(e.__traceback__)
                here = [f for f in tb if os.path.basename(f.filename).startswith("test_")]
                if here:
                    print("  at %s:%d" % (os.path.basename(here[-1].filename), here[-1].lineno))
            else:
                traceback.print_exception(e)
        for s in _state.servers:
            print("---- %s log (%s, port %s, exit %s) ----"
                  % (s.name, s.conf_path, s.port, s.returncode))
            print(s.log() or "(empty)")
            print("---- end of %s log ----" % s.name, flush=True)
    print("%d passed, %d failed%s" % (passed, len(failed),
                                      (": " + ", ".join(failed)) if failed else ""), flush=True)
    sys.exit(1 if failed else 0)
