"""Runs the scim2-tester checks (PyPI `scim2-tester`) against a SCIM server.

Usage: scim_check.py BASE_URL TOKEN

Prints one line per check (status, tags, title, reason) and exits 1 when a check ends in
ERROR or CRITICAL, unless it is listed in KNOWN_TESTER_ISSUES below with the reason.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

# Checks whose failure is the tester's, not the server's: (title, substring of the reason).
KNOWN_TESTER_ISSUES: list[tuple[str, str, str]] = []

FAILING = {Status.ERROR, Status.CRITICAL}


def known(result) -> str | None:
    for title, needle, why in KNOWN_TESTER_ISSUES:
        if result.title == title and needle in (result.reason or ""):
            return why
    return None


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    http = Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    results = check_server(client)
    failures = 0
    for result in results:
        tags = ",".join(sorted(result.tags or []))
        excuse = known(result) if result.status in FAILING else None
        marker = "EXCUSED" if excuse else result.status.name
        print(
            f"{marker:9} [{result.resource_type or '-'}] [{tags}] {result.title}: {result.reason}"
        )
        if excuse:
            print(f"          (tester issue: {excuse})")
        elif result.status in FAILING:
            failures += 1
    print(f"{len(results)} checks, {failures} failing")
    return 1 if failures or not results else 0


if __name__ == "__main__":
    sys.exit(main())
