"""TypeScript types of API schemas for the web client, generated from the OpenAPI document.

`python -m functions.core.api.web_types` rewrites `web/src/lib/api-types.ts` with the schemas in
`SCHEMAS` and every schema they refer to; `tests/functional/test_web_types.py` fails when the file is
not what the running API's document gives, so a changed model shows up as a type error in the client.
"""

import json
from pathlib import Path
from typing import Any

TARGET = Path(__file__).resolve().parents[3] / "web" / "src" / "lib" / "api-types.ts"

# The schemas the web client reads or sends; the ones they refer to come along.
SCHEMAS = (
    "ToolOut",
    "ToolCreated",
    "ToolCreate",
    "ToolPatch",
    "ToolTest",
    "ToolTestResult",
    "ContactIn",
    "ContactOut",
    "ContactSaved",
)

HEADER = (
    "// Generated from the API's OpenAPI document by `python -m functions.core.api.web_types`; do not edit.\n"
    "// tests/functional/test_web_types.py fails when it no longer matches the API.\n"
)


def _name(reference: str) -> str:
    return reference.rsplit("/", 1)[-1].replace("-", "")


def _references(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = {_name(schema["$ref"])} if isinstance(schema.get("$ref"), str) else set()
        return found.union(*(_references(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_references(value) for value in schema))
    return set()


def _type(schema: dict[str, Any]) -> str:
    """The TypeScript type of a JSON Schema as pydantic writes them."""
    if "$ref" in schema:
        return _name(schema["$ref"])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return " | ".join(dict.fromkeys(_type(part) for part in schema[union]))
    kind = schema.get("type")
    if kind == "string":
        return "string"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "null":
        return "null"
    if kind == "array":
        item = _type(schema.get("items", {}))
        return f"({item})[]" if " " in item else f"{item}[]"
    if kind == "object":
        if "properties" in schema:
            return _object(schema, "")
        extra = schema.get("additionalProperties", True)
        return f"Record<string, {_type(extra) if isinstance(extra, dict) else 'unknown'}>"
    return "unknown"


def _comment(schema: dict[str, Any], indent: str) -> str:
    description = schema.get("description")
    if not isinstance(description, str) or not description:
        return ""
    return f"{indent}/** {' '.join(description.split()).replace('*/', '* /')} */\n"


def _object(schema: dict[str, Any], indent: str) -> str:
    required = set(schema.get("required", []))
    lines = ["{"]
    for key, value in schema.get("properties", {}).items():
        optional = "" if key in required else "?"
        lines.append(f"{_comment(value, indent + '  ')}{indent}  {key}{optional}: {_type(value)};")
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def render(document: dict[str, Any], names: tuple[str, ...] = SCHEMAS) -> str:
    """The TypeScript module for `names` and what they refer to, in alphabetical order."""
    schemas: dict[str, Any] = {_name(key): value for key, value in document["components"]["schemas"].items()}
    wanted: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted.add(name)
        pending.extend(_references(schemas[name]) - wanted)
    parts = [HEADER]
    for name in sorted(wanted):
        schema = schemas[name]
        comment = _comment(schema, "")
        if schema.get("type") == "object" and "properties" in schema:
            parts.append(f"\n{comment}export interface {name} {_object(schema, '')}\n")
        else:
            parts.append(f"\n{comment}export type {name} = {_type(schema)};\n")
    return "".join(parts)


def main() -> None:
    from functions.core.local import create_local_app

    TARGET.write_text(render(create_local_app().openapi()), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
