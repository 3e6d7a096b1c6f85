"""A webhook receiver for the tests: verifies every delivery with the Standard Webhooks
reference library (`standardwebhooks`), records it, and answers as told.

Usage: <venv python> platform/tests/peers/webhook_receiver.py

Binds 127.0.0.1 on a free port and prints `ready PORT`. Then:
  PUT  /_config    {"secrets": ["whsec_..."], "statuses": [500, 200]}: the secrets to verify
                   with, and the statuses of the next answers (then 200 for ever).
  GET  /_received  every delivery so far, in order: path, webhook headers, body, and
                   `verified_with`: the indexes of the configured secrets that verify it.
  POST anything    a delivery.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

LOCK = threading.Lock()
STATE = {"secrets": [], "statuses": [], "received": []}
MAX_BODY = 1 << 20


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length)

    def _answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        config = json.loads(self._body())
        with LOCK:
            STATE["secrets"] = config.get("secrets", [])
            STATE["statuses"] = list(config.get("statuses", []))
        self._answer(204)

    def do_GET(self):
        with LOCK:
            body = json.dumps(STATE["received"]).encode()
        self._answer(200, body)

    def do_POST(self):
        body = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        with LOCK:
            secrets = list(STATE["secrets"])
            status = STATE["statuses"].pop(0) if STATE["statuses"] else 200
        verified_with = []
        errors = []
        for index, secret in enumerate(secrets):
            try:
                Webhook(secret).verify(body, headers)
                verified_with.append(index)
            except WebhookVerificationError as err:
                errors.append(str(err))
        record = {
            "path": self.path,
            "webhook_id": headers.get("webhook-id"),
            "webhook_timestamp": headers.get("webhook-timestamp"),
            "signatures": headers.get("webhook-signature", "").split(" "),
            "body": body.decode("utf-8", "replace"),
            "verified_with": verified_with,
            "errors": errors,
            "answered": status,
        }
        with LOCK:
            STATE["received"].append(record)
        self._answer(status, json.dumps({"answered": status}).encode())


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
