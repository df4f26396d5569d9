"""Many concurrent GETs released together, over asyncio raw streams (one connection each)."""

from __future__ import annotations

import asyncio


async def _storm(port: int, path: str, count: int, limit: float) -> list[int | None]:
    gate = asyncio.Event()
    connected = 0
    all_connected = asyncio.Event()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()

    async def one() -> int | None:
        nonlocal connected
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), limit
            )
        finally:
            connected += 1
            if connected == count:
                all_connected.set()
        try:
            await gate.wait()
            writer.write(request)
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), limit)
            await asyncio.wait_for(reader.read(), limit)
            parts = line.split()
            return int(parts[1]) if len(parts) >= 2 else None
        finally:
            writer.close()

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    await asyncio.wait_for(all_connected.wait(), limit)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    return [r if isinstance(r, int) else None for r in results]


def storm(port: int, path: str, count: int, timeout: float = 30.0) -> list[int | None]:
    """Open `count` connections, then send `GET path` on all of them at the same moment.

    Returns each response's status (None where the exchange failed).
    """
    return asyncio.run(_storm(port, path, count, timeout))
