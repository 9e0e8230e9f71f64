"""The API reference as Markdown, from the OpenAPI document and one recorded example per operation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from b1e55ed.api.schema import Schema

ITEMS_SHOWN = 2
BASE_URL = "http://127.0.0.1:5050"
TOKEN_VARIABLE = "B1E55ED_API__AUTH_TOKEN"

_INTRO = f"""\
# API reference

Generated from the server's own `GET /openapi.json` by `python -m b1e55ed.apidocs`; do not edit by hand (a test
regenerates it and fails when this file differs). Each example response is what a real server answered, serving the
event log of a short paper run on the seeded simulated market (BTC and ETH, hourly), with lists cut to their first
{ITEMS_SHOWN} items.

The server listens on `api.host`:`api.port` (`127.0.0.1:5050` by default). **Auth:** with a token configured
(`{TOKEN_VARIABLE}`), every route but `/health`, `/auth/session`, the dashboard page and its assets needs
`Authorization: Bearer <token>` or the HttpOnly cookie that `POST /auth/session` sets; without a token the server
binds loopback only and the mutating routes (`POST /scan`, `POST /killswitch`) answer 403 saying how to set one.
Every route is rate-limited per IP (`api.rate_limit_per_min`, 429 with `Retry-After`). Errors are JSON:
`{{"error": "...", "parameter": "..."}}`, `parameter` naming the bad one.
"""


@dataclass(frozen=True)
class Example:
    """One request sent to the real server and its answer."""

    method: str
    path: str  # with its query string
    status: int
    content_type: str
    body: str  # as rendered: JSON pretty-printed and cut, or text
    headers: Mapping[str, str] | None = None  # the request's, beyond the token
    json_body: Any = None  # the request's body


def render_reference(document: Schema, examples: Mapping[tuple[str, str], Example]) -> str:
    """The whole file: the introduction, each operation in the document's order, then the schemas."""
    parts = [_INTRO]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parts.append(_operation(document, path, method, operation, examples.get((method.upper(), path))))
    parts.append(_schemas(document["components"]["schemas"]))
    return "\n".join(parts)


def abbreviated(value: Any, items: int = ITEMS_SHOWN) -> Any:
    """``value`` with every list cut to its first ``items`` items, at any depth."""
    if isinstance(value, list):
        return [abbreviated(item, items) for item in value[:items]]
    if isinstance(value, dict):
        return {key: abbreviated(item, items) for key, item in value.items()}
    return value


def _operation(document: Schema, path: str, method: str, operation: Schema, example: Example | None) -> str:
    lines = [f"## {method.upper()} {path}", "", operation["summary"], ""]
    lines += [f"**Auth:** {_auth(document, method, operation)}", ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | type | required | description |", "| --- | --- | --- | --- | --- |"]
        for parameter in parameters:
            required = "yes" if parameter.get("required") else "no"
            description = parameter.get("description", "")
            kind = _cell(_type(parameter["schema"]))
            row = f"| `{parameter['name']}` | {parameter['in']} | {kind} | {required} |"
            lines.append(f"{row} {description} |")
        lines.append("")
    body = operation.get("requestBody")
    if body is not None:
        lines += [f"**Body** (JSON): {_type(body['content']['application/json']['schema'])}", ""]
    lines += ["**Responses:**", ""]
    for status, response in operation["responses"].items():
        content = response.get("content", {})
        shapes = ", ".join(f"{_type(media['schema'])} ({kind})" for kind, media in content.items())
        lines.append(f"- {status}: {response['description']}" + (f": {shapes}" if shapes else ""))
    lines.append("")
    if example is not None:
        lines += _example(document, operation, example)
    return "\n".join(lines)


def _auth(document: Schema, method: str, operation: Schema) -> str:
    if operation.get("security", document.get("security")) == []:
        return "none"
    if method == "post":
        return "bearer token or session cookie; with no token configured the server answers 403"
    return "bearer token or session cookie, when a token is configured"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _example(document: Schema, operation: Schema, example: Example) -> list[str]:
    command = ["curl", "-sN" if example.content_type == "text/event-stream" else "-s"]
    if _auth(document, example.method.lower(), operation) != "none":
        command.append(f'-H "Authorization: Bearer ${TOKEN_VARIABLE}"')
    for name, value in (example.headers or {}).items():
        command.append(f"-H '{name}: {value}'")
    if example.method != "GET":
        command.append(f"-X {example.method}")
    if example.json_body is not None:
        command += ["-H 'Content-Type: application/json'", f"-d '{json.dumps(example.json_body)}'"]
    command.append(f"'{BASE_URL}{example.path}'")
    fence = "json" if example.content_type == "application/json" else "text"
    return [
        "Example request:",
        "",
        "```sh",
        " ".join(command),
        "```",
        "",
        f"Example response ({example.status}, `{example.content_type}`):",
        "",
        f"```{fence}",
        example.body.rstrip("\n"),
        "```",
        "",
    ]


def _schemas(schemas: Schema) -> str:
    lines = ["## Schemas", ""]
    for name, schema in schemas.items():
        lines += [f"### {name}", ""]
        properties = schema.get("properties")
        if not properties:
            lines += [_type(schema), ""]
            continue
        required = set(schema.get("required", []))
        lines += ["| field | type | always present |", "| --- | --- | --- |"]
        for field, field_schema in properties.items():
            note = f" ({field_schema['description']})" if "description" in field_schema else ""
            present = "yes" if field in required else "no"
            lines.append(f"| `{field}` | {_cell(_type(field_schema))}{note} | {present} |")
        lines.append("")
    return "\n".join(lines)


def _type(schema: Schema) -> str:
    """A JSON Schema in a few words: ``integer``, ``list of [Signal](#signal)``, ``one of long, short``."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_type(option) for option in schema["anyOf"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and "properties" in schema:
        return "object {" + ", ".join(f"`{field}`" for field in schema["properties"]) + "}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type(schema['additionalProperties'])}"
    limits = [f"{key} {schema[key]}" for key in ("minimum", "maximum", "minLength", "maxLength") if key in schema]
    if "pattern" in schema:
        limits.append(f"pattern `{schema['pattern']}`")
    return str(kind) + (f" ({', '.join(limits)})" if limits else "")
