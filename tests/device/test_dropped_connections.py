"""A kept-alive connection the server closes without answering (nginx does on every reload) is
retried once on a new connection; a second drop is an error like any other."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from govmobile_device.gateway import send_once_more_if_dropped


async def _server(drops: int) -> tuple[asyncio.Server, list[bytes]]:
    """Answers the first request and keeps the connection alive; the next ``drops`` requests,
    on whatever connection, are dropped unanswered (the connection closed); then it answers."""
    answered: list[bytes] = []
    left = [drops]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if answered and left[0] > 0:
                    left[0] -= 1
                    return
                if b"Content-Length: 2" in head:
                    await reader.readexactly(2)
                answered.append(head.split(b" ", 1)[0])
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), answered


@pytest.mark.parametrize(("drops", "answered"), [(0, True), (1, True), (2, False)])
def test_a_dropped_kept_alive_connection_is_retried_once(drops: int, answered: bool) -> None:
    async def scenario() -> None:
        server, requests = await _server(drops)
        port = server.sockets[0].getsockname()[1]
        async with server, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await send_once_more_if_dropped(client, "GET", "/")).status_code == 200
            if answered:
                assert (
                    await send_once_more_if_dropped(client, "POST", "/", content=b"{}")
                ).status_code == 200
                assert requests == [b"GET", b"POST"]
            else:
                with pytest.raises(httpx.RemoteProtocolError):
                    await send_once_more_if_dropped(client, "POST", "/", content=b"{}")
                assert requests == [b"GET"]

    asyncio.run(scenario())
