"""Holds an answer of the hub to what its OpenAPI schema (drf-spectacular) declares for that operation."""

import jsonschema
from drf_spectacular.generators import SchemaGenerator


def declared_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _json_schema(node, components: dict):
    """An OpenAPI 3.0 schema as JSON Schema: ``$ref`` inlined, ``nullable`` as a null type."""
    if isinstance(node, list):
        return [_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    out = {key: _json_schema(value, components) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def assert_answers_as_declared(response, *, path: str, method: str = "get") -> None:
    """``response`` (a test client's) is one of the statuses the schema declares for ``method path`` (a path
    template, as the schema spells it), and its JSON body is valid against that status's schema."""
    schema = declared_schema()
    responses = schema["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in responses, (
        f"{method.upper()} {path} answered {status}, not declared: {sorted(responses)}"
    )
    content = responses[status].get("content", {}).get("application/json")
    if content is not None:
        jsonschema.validate(response.json(), _json_schema(content["schema"], schema["components"]["schemas"]))
