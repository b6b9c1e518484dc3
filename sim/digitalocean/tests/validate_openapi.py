#!/usr/bin/env python3
"""Validate recorded simulator exchanges against DigitalOcean's OpenAPI spec.

Usage: validate_openapi.py SPEC_JSON RECORDS_JSON

RECORDS_JSON is a list of {"method", "path", "query": {k: v}, "request_headers": {k: v},
"request_body": str|null, "status", "response_headers": {k: v}, "response_body": str}.

SPEC_JSON is the bundled subset of the spec (sim/digitalocean/spec/digitalocean-v2.json, made by
scripts/bundle-digitalocean-spec); the script hands it to openapi-core. Every response is
validated (status documented, headers and body match the schema); requests are validated when the simulator accepted them (2xx), since the
error cases send invalid requests on purpose. Every /v2 response must also carry the documented
`ratelimit-*` headers and `x-request-id`. Exits 0 when everything conforms, 1 otherwise.
"""

import json
import pathlib
import sys

try:
    from openapi_core import OpenAPI
    from openapi_core.testing import MockRequest, MockResponse
except ImportError as missing:
    here = pathlib.Path(__file__).resolve().parent
    sys.exit(f"missing Python package ({missing}): pip install -r {here / 'requirements.txt'}")

RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "x-request-id")


def strip_read_only(schema):
    if isinstance(schema, list):
        return [strip_read_only(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {k: strip_read_only(v) for k, v in schema.items() if k != "readOnly"}


def request_parameters_writable(node):
    """A parameter's `readOnly` (meant for response properties) would reject every request."""
    if isinstance(node, list):
        return [request_parameters_writable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: request_parameters_writable(v) for k, v in node.items()}
    if "in" in out and isinstance(out.get("schema"), dict):
        out["schema"] = strip_read_only(out["schema"])
    return out


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
    spec = request_parameters_writable(json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8")))
    records = json.loads(pathlib.Path(sys.argv[2]).read_text(encoding="utf-8"))
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
