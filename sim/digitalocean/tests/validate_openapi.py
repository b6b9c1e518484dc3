#!/usr/bin/env python3
"""Validate recorded simulator exchanges against DigitalOcean's OpenAPI spec.

Usage: validate_openapi.py SPEC_ENTRY_YAML RECORDS_JSON

RECORDS_JSON is a list of {"method", "path", "query": {k: v}, "request_headers": {k: v},
"request_body": str|null, "status", "response_headers": {k: v}, "response_body": str}.

The spec is split over many files and its operations carry `x-codeSamples` whose files are not
shipped; the script inlines every `$ref` of the paths the simulator serves, drops `x-codeSamples`,
and hands the result to openapi-core. Every response is validated (status documented, headers and
body match the schema); requests are validated when the simulator accepted them (2xx), since the
error cases send invalid requests on purpose. Every /v2 response must also carry the documented
`ratelimit-*` headers and `x-request-id`. Exits 0 when everything conforms, 1 otherwise.
"""

import json
import pathlib
import re
import sys

try:
    import yaml
    from openapi_core import OpenAPI
    from openapi_core.testing import MockRequest, MockResponse
except ImportError as missing:
    here = pathlib.Path(__file__).resolve().parent
    sys.exit(f"missing Python package ({missing}): pip install -r {here / 'requirements.txt'}")

SERVED_PREFIXES = (
    "/v2/account",
    "/v2/actions",
    "/v2/droplets",
    "/v2/volumes",
    "/v2/snapshots",
    "/v2/firewalls",
    "/v2/registry",
    "/v2/tags",
)
SERVED_EXCLUDED = ("/v2/registry/{registry_name}",)
# Served paths under an excluded prefix.
SERVED_EXACT = ("/v2/registry/{registry_name}/repositories/{repository_name}/tags",)


class SpecLoader(yaml.SafeLoader):
    """YAML 1.2 booleans only: the spec's `off` (a droplet status) must stay a string."""


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "x-request-id")


class Bundler:
    """Inlines `$ref`s across the spec's files."""

    def __init__(self):
        self.files = {}

    def load(self, path):
        if path not in self.files:
            with open(path, encoding="utf-8") as handle:
                self.files[path] = yaml.load(handle, Loader=SpecLoader)
        return self.files[path]

    @staticmethod
    def follow(document, pointer):
        node = document
        for part in [p for p in pointer.split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def resolve(self, node, base, stack=frozenset()):
        if isinstance(node, list):
            return [self.resolve(item, base, stack) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target_file, _, pointer = node["$ref"].partition("#")
            path = (base.parent / target_file).resolve() if target_file else base
            key = (path, pointer)
            if key in stack:  # a recursive schema: accept anything below this depth
                return {}
            target = self.follow(self.load(path), pointer)
            return self.resolve(target, path, stack | {key})
        resolved = {
            key: self.resolve(value, base, stack)
            for key, value in node.items()
            # Code samples point at files that are not shipped; discriminator mappings are `$ref`
            # strings that no longer resolve once inlined (the oneOf/anyOf still validates).
            if key not in ("x-codeSamples", "discriminator")
        }
        if "in" in resolved and isinstance(resolved.get("schema"), dict):
            # A parameter: `readOnly` (meant for response properties) would reject every request.
            resolved["schema"] = strip_read_only(resolved["schema"])
        return resolved


def strip_read_only(schema):
    if isinstance(schema, list):
        return [strip_read_only(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {k: strip_read_only(v) for k, v in schema.items() if k != "readOnly"}


def served(path):
    if path in SERVED_EXACT:
        return True
    return path.startswith(SERVED_PREFIXES) and not path.startswith(SERVED_EXCLUDED)


def bundle(entry):
    bundler = Bundler()
    root = bundler.load(entry)
    paths = {p: item for p, item in root["paths"].items() if served(p)}
    spec = {
        "openapi": root["openapi"],
        "info": root["info"],
        "servers": root["servers"],
        "paths": bundler.resolve(paths, entry),
        "components": {"securitySchemes": bundler.resolve(root["components"]["securitySchemes"], entry)},
        "security": root.get("security", [{"bearer_auth": []}]),
    }
    return spec


def check(openapi, server, record):
    errors = []
    headers = {k.lower(): v for k, v in record["response_headers"].items()}
    request = MockRequest(
        server,
        record["method"].lower(),
        record["path"],
        args=record.get("query") or {},
        headers=record.get("request_headers") or {},
        data=(record.get("request_body") or "").encode() or None,
        content_type="application/json",
    )
    body = record.get("response_body") or ""
    response = MockResponse(
        body.encode(),
        status_code=record["status"],
        headers=headers,
        content_type=headers.get("content-type", "application/json").split(";")[0] if body else None,
    )
    if 200 <= record["status"] < 300:
        try:
            openapi.validate_request(request)
        except Exception as error:  # openapi-core raises many error types; report them all
            errors.append(f"request: {describe(error)}")
    try:
        openapi.validate_response(request, response)
    except Exception as error:
        errors.append(f"response: {describe(error)}")
    missing = [h for h in RATE_HEADERS if h not in headers]
    if missing:
        errors.append(f"response lacks headers {missing}")
    return errors


def describe(error):
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__
    while cause is not None:
        text += f" <- {type(cause).__name__}: {cause}"
        details = getattr(cause, "schema_errors", None)
        if details:
            text += " [" + "; ".join(str(d.message) for d in list(details)[:5]) + "]"
        cause = cause.__cause__
    return text[:2000]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    entry = pathlib.Path(sys.argv[1]).resolve()
    records = json.loads(pathlib.Path(sys.argv[2]).read_text(encoding="utf-8"))
    spec = bundle(entry)
    openapi = OpenAPI.from_dict(spec)
    server = spec["servers"][0]["url"]
    failures = 0
    for record in records:
        errors = check(openapi, server, record)
        label = f'{record["method"]} {record["path"]} -> {record["status"]}'
        if errors:
            failures += 1
            print(f"FAIL {label}")
            for error in errors:
                print(f"    {error}")
    print(f"{len(records) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
