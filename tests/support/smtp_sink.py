"""A real SMTP server for tapbridge's mail tests (aiosmtpd).

Writes each accepted message to <dir>/<n>.eml and prints "ready <port>" on stdout once it
listens. Options make it misbehave the ways real servers do: temporary failures, permanent
rejections, slowness, STARTTLS with a given certificate, AUTH.
"""

import argparse
import asyncio
import os
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler:
    def __init__(self, args):
        self.dir = args.dir
        self.fail_first = args.fail_first
        self.reject = set(a.lower() for a in args.reject)
        self.delay = args.delay
        self.count_only = args.count_only
        self.keep_orphans = args.keep_orphans
        self.lock = threading.Lock()
        self.count = 0
        self.started = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.started += 1
            n = self.started
        if not self.count_only:
            open(os.path.join(self.dir, "data-%d.started" % n), "w").close()
        if self.keep_orphans:
            # aiosmtpd cancels the handler when the client goes away; a real MTA that has the
            # final "." goes on and queues the message whoever still waits for its reply.
            return await asyncio.shield(self.accept(server, envelope))
        return await self.accept(server, envelope)

    async def accept(self, server, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        # A client that vanished while we waited never saw an acceptance: do not record it
        # (unless told to keep orphans, see above).
        if not self.keep_orphans and (server.transport is None or server.transport.is_closing()):
            return "421 4.4.2 connection lost"
        with self.lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return "451 4.3.0 Temporary local problem, try again later"
            self.count += 1
            n = self.count
        if self.count_only:
            return "250 2.0.0 Ok: queued as %d" % n
        tmp = os.path.join(self.dir, ".%d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(b"X-Envelope-To: " + ", ".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.dir, "%d.eml" % n))
        return "250 2.0.0 Ok: queued as %d" % n


class Authenticator:
    def __init__(self, user, password):
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == self.user and auth_data.password == self.password
        return AuthResult(success=ok, handled=not ok and None)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--reject", action="append", default=[])
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--count-only", action="store_true", help="accept without writing files (benchmarks)")
    p.add_argument("--keep-orphans", action="store_true",
                   help="accept a message whose client disconnected before the reply, as real MTAs do")
    p.add_argument("--cert")
    p.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (SMTPS) with --cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    port = args.port or free_port()
    kwargs = {}
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        if args.implicit_tls:
            kwargs.update(ssl_context=ctx)
        else:
            kwargs.update(tls_context=ctx, require_starttls=True)
    if args.user:
        kwargs.update(authenticator=Authenticator(args.user, args.password), auth_required=True,
                      auth_require_tls=bool(args.cert))
    controller = Controller(Handler(args), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("ready %d" % port, flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()
        print("accepted %d" % controller.handler.count, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
