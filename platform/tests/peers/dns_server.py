"""A local DNS server answering TXT queries for the black-box tests.

Usage: <venv python> platform/tests/peers/dns_server.py --records FILE

Binds 127.0.0.1 on a free UDP port (and the same TCP port) with dnslib's
DNSServer and prints "ready <port>" on stdout once listening. Every TXT query
is answered from FILE, a JSON object read afresh on each query that maps a
name (without the trailing dot, any case) to a list of strings:

    {"_lms-verification.example.com": ["lms-domain-verification=..."]}

A name that is not in FILE (or a missing FILE) answers NXDOMAIN; other query
types answer with no records. Runs until SIGTERM or SIGINT.
"""

import argparse
import json
import signal
import socket
import sys
import threading

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class FileResolver(BaseResolver):
    def __init__(self, path: str) -> None:
        self.path = path

    def records(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return {name.lower().rstrip("."): values for name, values in data.items()}

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        values = self.records().get(name)
        if values is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            for value in values:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=0))
        return reply


def free_port() -> int:
    # A port free for both UDP and TCP on loopback.
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                    tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", required=True)
    args = parser.parse_args()
    resolver = FileResolver(args.records)
    logger = DNSLogger(logf=lambda _: None)
    port = free_port()
    udp = DNSServer(resolver, address="127.0.0.1", port=port, logger=logger)
    tcp = DNSServer(resolver, address="127.0.0.1", port=port, tcp=True, logger=logger)
    udp.start_thread()
    tcp.start_thread()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"ready {port}", flush=True)
    stop.wait()
    udp.stop()
    tcp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
