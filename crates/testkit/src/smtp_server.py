"""A real SMTP server for Warden's tests (aiosmtpd==1.4.6), run by
warden-testkit's `smtp` module.

Listens on 127.0.0.1 (port 0 unless --port), prints `READY <port>` once it
accepts connections, and writes every accepted message to
`<maildir>/<n>.eml` (the DATA content as received, after three lines of
its own: `X-Envelope-From`, `X-Envelope-To` and `X-Received-TLS`, how the
message came), so the test reads what a mailbox would.

  --tls starttls   STARTTLS offered and required before MAIL/AUTH
  --tls implicit   TLS from the first byte (smtps)
  --tls none       plain
  --user/--password  AUTH PLAIN/LOGIN required, only over TLS
  --refuse ADDR    answer RCPT TO:<ADDR> with 550 (may repeat)

`smtp_server.py parse FILE...` prints each delivered message as one line of
JSON (headers and decoded parts, as a mail client sees them) for the test
to check; one interpreter for them all, since starting Python is the slow
part.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, maildir, refused):
        self.maildir = maildir
        self.refused = {r.lower() for r in refused}
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.maildir, "%06d.eml" % self.count)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(("X-Envelope-From: %s\r\n" % envelope.mail_from).encode())
            f.write(("X-Envelope-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            f.write(("X-Received-TLS: %s\r\n" % tls_of(server)).encode())
            f.write(envelope.original_content or envelope.content)
        os.replace(tmp, path)
        return "250 2.0.0 Message accepted for delivery"


def tls_of(server):
    """How the message came: `starttls TLSv1.3`, `implicit TLSv1.3` or `none`."""
    ssl_object = server.transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return "none"
    # aiosmtpd keeps the plain transport it upgraded only after STARTTLS.
    how = "starttls" if server._original_transport is not None else "implicit"
    return "%s %s" % (how, ssl_object.version())


def parse(path):
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        parts.append({"type": part.get_content_type(), "body": part.get_content()})
    print(json.dumps({
        "envelope_from": msg["X-Envelope-From"],
        "envelope_to": msg["X-Envelope-To"],
        "tls": msg["X-Received-TLS"],
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "message_id": str(msg["Message-ID"]),
        "date": str(msg["Date"]),
        "content_type": msg.get_content_type(),
        "parts": parts,
    }))


def main():
    # aiosmtpd 1.4 warns about its own use of Session.login_data.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    if len(sys.argv) >= 2 and sys.argv[1] == "parse":
        for path in sys.argv[2:]:
            parse(path)
        return 0
    p = argparse.ArgumentParser()
    p.add_argument("--tls", choices=["starttls", "implicit", "none"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--maildir", required=True)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--refuse", action="append", default=[])
    args = p.parse_args()

    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == args.user
            and auth_data.password.decode() == args.password
        )
        return AuthResult(success=ok)

    handler = Handler(args.maildir, args.refuse)

    def factory():
        kwargs = {"hostname": "smtp.test"}
        if args.tls == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        if args.user:
            kwargs.update(
                authenticator=authenticator,
                auth_required=True,
                # With implicit TLS the whole session is encrypted, but
                # aiosmtpd only counts STARTTLS as TLS for this check.
                auth_require_tls=args.tls == "starttls",
            )
        return SMTP(handler, **kwargs)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory,
            host="127.0.0.1",
            port=args.port,
            ssl=context if args.tls == "implicit" else None,
            reuse_address=True,
        )
        port = server.sockets[0].getsockname()[1]
        print("READY %d" % port, flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
