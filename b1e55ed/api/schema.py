"""The pieces the OpenAPI document is written with: JSON Schema scalars, objects, references, arrays."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
OPT_STRING: Schema = {"type": ["string", "null"]}
OPT_INTEGER: Schema = {"type": ["integer", "null"]}
OPT_NUMBER: Schema = {"type": ["number", "null"]}


def obj(properties: dict[str, Schema], *, extra: bool = True) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "required": sorted(properties)}
    if not extra:
        schema["additionalProperties"] = False
    return schema


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}
