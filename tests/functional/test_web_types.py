"""The web client's API types are what the served OpenAPI document says (regenerate them with
`python -m functions.core.api.web_types` after changing a model they cover)."""

import httpx

from functions.core.api.web_types import TARGET, render


def test_the_generated_web_types_match_the_served_openapi_document(base_url: str) -> None:
    document = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    assert TARGET.read_text(encoding="utf-8") == render(document), (
        "web/src/lib/api-types.ts is stale: run .venv/bin/python -m functions.core.api.web_types"
    )


def test_a_schema_becomes_an_interface_with_its_optional_nullable_and_referred_types() -> None:
    document = {
        "components": {
            "schemas": {
                "Kind": {"type": "string", "enum": ["a", "b"]},
                "Thing": {
                    "type": "object",
                    "description": "A thing.",
                    "required": ["id", "kind"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "kind": {"$ref": "#/components/schemas/Kind"},
                        "size": {"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "In bytes"},
                        "tags": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                        "extra": {"type": "object", "additionalProperties": {"type": "boolean"}},
                        "anything": {"title": "Anything"},
                    },
                },
                "Unrelated": {"type": "string"},
            }
        }
    }
    assert render(document, ("Thing",)).split("\n", 2)[2] == (
        '\nexport type Kind = "a" | "b";\n'
        "\n/** A thing. */\n"
        "export interface Thing {\n"
        "  id: string;\n"
        "  kind: Kind;\n"
        "  /** In bytes */\n"
        "  size?: number | null;\n"
        "  tags?: (string | null)[];\n"
        "  extra?: Record<string, boolean>;\n"
        "  anything?: unknown;\n"
        "}\n"
    )
