"""A real SMTP server for latchkey's tests (aiosmtpd).

usage: smtp_sink.py PORT MAILDIR [--starttls CERT KEY | --implicit CERT KEY] [--auth USER PASS]

Accepts mail for any recipient except addresses at `refused.example`, which get
`550 5.1.1 mailbox unavailable` at RCPT TO. Each accepted message is written to
MAILDIR/<n>.eml, with the envelope in MAILDIR/<n>.json. Prints `ready` when listening.
With --auth, clients must authenticate (AUTH PLAIN/LOGIN) with USER/PASS.
"""
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, maildir, implicit_tls):
        self.maildir = maildir
        self.implicit_tls = implicit_tls
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().endswith("@refused.example"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.maildir, f"{self.n:04d}")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       # An implicit-TLS listener only ever speaks TLS.
                       "tls": self.implicit_tls or session.ssl is not None,
                       "auth": session.authenticated}, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 Message accepted"


def main():
    port, maildir = int(sys.argv[1]), sys.argv[2]
    args = sys.argv[3:]
    kwargs = {}
    tls = None
    if args[:1] in (["--starttls"], ["--implicit"]):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args[1], args[2])
        tls = (args[0], ctx)
        args = args[3:]
    if tls and tls[0] == "--starttls":
        kwargs["tls_context"] = tls[1]
        kwargs["require_starttls"] = True
    elif tls:
        kwargs["ssl_context"] = tls[1]
    if args[:1] == ["--auth"]:
        user, password = args[1].encode(), args[2].encode()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
            return AuthResult(success=ok)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        # Plain-text auth only over TLS: after STARTTLS (aiosmtpd checks that itself), or on
        # an implicit-TLS listener (where aiosmtpd's check does not see the TLS layer).
        kwargs["auth_require_tls"] = bool(tls) and tls[0] == "--starttls"
    implicit = bool(tls) and tls[0] == "--implicit"
    controller = Controller(Sink(maildir, implicit), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # runs until the test closes our stdin (or kills us)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
