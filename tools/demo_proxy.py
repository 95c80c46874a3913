"""The demo's reverse proxy: what nginx does in front of Odoo in production,
for one machine and no configuration.

    python3 tools/demo_proxy.py LISTEN_PORT HTTP_PORT GEVENT_PORT

Odoo with workers serves pages on its HTTP port and its real-time channel
(``/websocket``) on its gevent port; a browser reaches one address. Each
connection goes, by the path of its first request, to the gevent port
(``/websocket``) or to the HTTP port (everything else), and then bytes flow
both ways untouched. A browser opens a websocket on a connection of its own,
so one decision per connection is enough. Listens on 127.0.0.1 only.
"""

import asyncio
import contextlib
import sys

MAX_REQUEST_LINE = 16 * 1024


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def handle(reader, writer, http_port, gevent_port):
    try:
        first = await reader.readuntil(b"\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    parts = first.split(b" ")
    path = parts[1] if len(parts) > 1 else b"/"
    port = gevent_port if path.startswith(b"/websocket") else http_port
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        writer.write(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n"
        )
        writer.close()
        return
    up_writer.write(first)
    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def main(listen_port, http_port, gevent_port):
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, http_port, gevent_port),
        "127.0.0.1",
        listen_port,
        limit=MAX_REQUEST_LINE,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    listen, http, gevent = (int(arg) for arg in sys.argv[1:4])
    asyncio.run(main(listen, http, gevent))
