"""A local SMTP sink for the black-box tests.

Usage: <venv python> platform/tests/peers/smtp_sink.py --port PORT --dir DIR

Listens on 127.0.0.1:PORT (aiosmtpd) and stores every message it accepts as
DIR/<counter>-<uuid>.json with the keys "mail_from", "rcpt_tos" and "data"
(the raw message, decoded as UTF-8). The counter is zero-padded, so sorting
the names gives the order of arrival. Each file is written under a temporary
name (starting with "." and ending in ".tmp") and then renamed, so a reader
that lists "*.json" never sees a partial file.

Any AUTH credentials are accepted (without TLS), so a client configured with
a username and password works too. Prints "ready" on stdout once listening;
runs until SIGTERM or SIGINT. Exits 1 without printing "ready" if it cannot
listen (e.g. the port is taken).
"""

import argparse
import itertools
import json
import logging
import os
import signal
import sys
import threading
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

# aiosmtpd 1.4 itself sets the deprecated Session.login_data on every AUTH
# and logs a warning about it; hide that noise.
logging.getLogger("mail.log").addFilter(
    lambda record: "login_data is deprecated" not in record.getMessage()
)


class Sink:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            number = next(self.counter)
        name = f"{number:08d}-{uuid.uuid4()}.json"
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": envelope.content.decode("utf-8", errors="replace"),
        }
        final = os.path.join(self.directory, name)
        temporary = os.path.join(self.directory, f".{name}.tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.replace(temporary, final)
        return "250 Message accepted for delivery"


def accept_any_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="Local SMTP sink for tests.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True, help="where to write the messages")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    controller = Controller(
        Sink(args.dir),
        hostname="127.0.0.1",
        port=args.port,
        enable_SMTPUTF8=True,
        authenticator=accept_any_login,
        auth_require_tls=False,
    )
    try:
        controller.start()
    except Exception as err:  # noqa: BLE001 - report any bind failure plainly
        print(f"smtp_sink: cannot listen on 127.0.0.1:{args.port}: {err}", file=sys.stderr)
        return 1
    try:
        print("ready", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
