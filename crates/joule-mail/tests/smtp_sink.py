"""A real SMTP server for the receipt email test (aiosmtpd).

Listens on 127.0.0.1, port chosen by the OS, prints "PORT <n>" on stdout once
it accepts connections, and saves every message it receives into OUT_DIR:
  <n>.eml   the raw message, as received
  <n>.json  what Python's own MIME parser reads in it (envelope, subject,
            each part's type, file name, text or PDF bytes' head and size)
so the Rust test checks the email with an independent parser.
With AUTH_USER and AUTH_PASSWORD set, it requires SMTP AUTH (PLAIN/LOGIN,
allowed without TLS since this is loopback only) with those credentials.
Stops when its standard input closes (the test ends).

Usage: python smtp_sink.py OUT_DIR
"""

import asyncio
import email
import email.policy
import json
import os
import sys
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult


class SaveToDir:
    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = self.out_dir / str(self.count)
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                parts.append({"content_type": part.get_content_type()})
                continue
            payload = part.get_payload(decode=True) or b""
            entry = {
                "content_type": part.get_content_type(),
                "filename": part.get_filename(),
                "size": len(payload),
            }
            if part.get_content_maintype() == "text":
                entry["text"] = part.get_content()
            else:
                entry["head"] = payload[:8].decode("latin-1")
            parts.append(entry)
        summary = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth": session.authenticated,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "parts": parts,
        }
        (base.with_suffix(".eml")).write_bytes(raw)
        # Written last and renamed, so a reader never sees half a file.
        tmp = base.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, ensure_ascii=False))
        tmp.rename(base.with_suffix(".json"))
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            auth_data is not None
            and getattr(auth_data, "login", None) == user.encode()
            and getattr(auth_data, "password", None) == password.encode()
        )
        # handled=False: aiosmtpd itself answers (235, or 535 on failure).
        return AuthResult(success=ok, handled=False)

    return check


async def main(out_dir: Path):
    handler = SaveToDir(out_dir)
    user, password = os.environ.get("AUTH_USER"), os.environ.get("AUTH_PASSWORD")
    kwargs = {}
    if user and password:
        kwargs = {
            "authenticator": authenticator(user, password),
            "auth_required": True,
            "auth_require_tls": False,
        }
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="joule-test-smtp", **kwargs), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    # Serve until stdin closes: the test holds the pipe for its lifetime.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
