#!/usr/bin/env python3
"""Abusive webhook clients (docs/BENCHMARKS.md, "Slow and abusive clients").

Each client opens a connection to POST /webhooks/whatsapp with a well-formed but wrong
X-Hub-Signature-256 (what anyone can send) and a 3,000,000-byte Content-Length, then
either trickles the body (`trickle`: one byte a second) or sends all of it but the last
byte and stalls (`stall`). When the server answers or closes, it reconnects, until the
duration is over. Prints how many connections were made and the answers by status.

Usage: slow_clients.py HOST:PORT CLIENTS trickle|stall SECONDS
"""
import asyncio
import collections
import sys
import time

LENGTH = 3_000_000


async def client(host, port, mode, deadline, counts):
    head = (
        f"POST /webhooks/whatsapp HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"X-Hub-Signature-256: sha256={'00' * 32}\r\nContent-Length: {LENGTH}\r\n\r\n"
    ).encode()
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            counts["connect error"] += 1
            await asyncio.sleep(0.1)
            continue
        counts["connections"] += 1
        try:
            writer.write(head)
            if mode == "stall":
                writer.write(b"{" + b" " * (LENGTH - 2))
                await writer.drain()
            answer = asyncio.ensure_future(reader.read(64))
            while not answer.done() and time.monotonic() < deadline:
                if mode == "trickle":
                    writer.write(b" ")
                    await writer.drain()
                await asyncio.wait([answer], timeout=1.0)
            if answer.done():
                got = answer.result()
                counts[got[9:12].decode() if got.startswith(b"HTTP/1.1 ") else "closed"] += 1
            else:
                answer.cancel()
        except (OSError, asyncio.IncompleteReadError):
            counts["reset"] += 1
        finally:
            writer.close()


async def main():
    host, port = sys.argv[1].rsplit(":", 1)
    clients, mode, seconds = int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    deadline = time.monotonic() + seconds
    counts = collections.Counter()
    await asyncio.gather(*(client(host, int(port), mode, deadline, counts) for _ in range(clients)))
    print(f"slow clients ({mode}, {clients}): {dict(counts)}")


asyncio.run(main())
