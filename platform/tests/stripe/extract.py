"""Writes openapi-subset.json and fixtures.json from Stripe's published OpenAPI description.

Source: the public stripe/openapi repository, commit 63a674638635c68de26b9f3add13e58198f4df44
(2023-09-12), files openapi/spec3.yaml (API version 2023-08-16) and openapi/fixtures3.json;
MIT licence, copied beside this script as LICENSE. The subset keeps the operations the
platform calls and the schemas they reach, unchanged except for one reduction: an expandable
field (`anyOf` of an id string and the object, marked `x-expansionResources`) keeps only its
unexpanded form, the id string, which is what Stripe answers unless asked to expand. That
keeps the copy small without loosening any check on what is sent or answered.

Usage: python3 extract.py SPEC3_YAML FIXTURES3_JSON
"""

import json
import sys

import yaml

OPERATIONS = [
    ("/v1/customers", "post"),
    ("/v1/checkout/sessions", "post"),
    ("/v1/checkout/sessions/{session}", "get"),
    ("/v1/billing_portal/sessions", "post"),
    ("/v1/subscriptions", "get"),
    ("/v1/subscriptions/{subscription_exposed_id}", "get"),
    ("/v1/subscriptions/{subscription_exposed_id}", "post"),
    ("/v1/charges/{charge}", "get"),
    ("/v1/accounts", "post"),
    ("/v1/account_links", "post"),
]
FIXTURES = ["customer", "checkout.session", "billing_portal.session", "subscription", "charge", "account", "account_link"]


def reduce_expandable(node):
    if isinstance(node, dict):
        if "x-expansionResources" in node and "anyOf" in node:
            strings = [s for s in node["anyOf"] if isinstance(s, dict) and s.get("type") == "string"]
            reduced = dict(strings[0]) if strings else {"type": "string"}
            for key in ("description", "nullable"):
                if key in node:
                    reduced[key] = node[key]
            return reduced
        return {k: reduce_expandable(v) for k, v in node.items()}
    if isinstance(node, list):
        return [reduce_expandable(v) for v in node]
    return node


def refs(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for v in node.values():
            refs(v, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)


def main():
    spec = yaml.safe_load(open(sys.argv[1]))
    fixtures = json.load(open(sys.argv[2]))
    paths = {}
    for path, method in OPERATIONS:
        paths.setdefault(path, {})[method] = reduce_expandable(spec["paths"][path][method])
    schemas = spec["components"]["schemas"]
    wanted, todo = set(), set()
    refs(paths, todo)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        schemas[name] = reduce_expandable(schemas[name])
        refs(schemas[name], todo)
    subset = {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "paths": paths,
        "components": {"schemas": {name: schemas[name] for name in sorted(wanted)}},
    }
    with open("openapi-subset.json", "w") as out:
        json.dump(subset, out, separators=(",", ":"), sort_keys=True)
        out.write("\n")
    with open("fixtures.json", "w") as out:
        json.dump({k: fixtures["resources"][k] for k in FIXTURES}, out, indent=1, sort_keys=True)
        out.write("\n")


if __name__ == "__main__":
    main()
