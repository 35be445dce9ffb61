"""Connections that never make a request, or make a broken one: the router
neither crashes nor leaks (a browser opens spare connections ahead of time
and closes them unused)."""

import asyncio
import socket

import harness
from harness import check, start_server


def raw(port, data, read=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        if data:
            s.sendall(data)
        if read:
            try:
                return s.recv(4096)
            except socket.timeout:
                return b""
        return b""
    finally:
        s.close()


async def test_idle_and_broken_connections():
    srv = await start_server()
    for _ in range(20):                      # connect and close, no request
        await asyncio.to_thread(raw, srv.port, b"")
    await asyncio.to_thread(raw, srv.port, b"GET /heal")          # half a request line
    await asyncio.to_thread(raw, srv.port, b"\x16\x03\x01\x02\x00")  # a TLS hello on plain HTTP
    answer = await asyncio.to_thread(raw, srv.port, b"NOT HTTP AT ALL\r\n\r\n", True)
    check(not answer or answer[:12] in (b"HTTP/1.1 400", b"HTTP/1.0 400", b"HTTP/1.1 403", b"HTTP/1.0 403"),
          "garbage should get a 4xx or a close, got %r" % answer[:80])
    # an upgrade to an unknown path is refused, the process lives on
    answer = await asyncio.to_thread(
        raw, srv.port,
        b"GET /v1/nowhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", True)
    check(b"101" not in answer[:20], "an upgrade on an unknown path was accepted: %r" % answer[:80])
    await srv.healthz()
    await srv.stop()


if __name__ == "__main__":
    harness.run()
