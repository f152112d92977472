"""The OpenAPI description (backend/api_description/openapi.yaml) is true to the app: every
/api and /predict route is described and every described operation exists, with the same path
parameters; the document is valid OpenAPI 3.1 whose schemas are valid JSON Schema 2020-12
without misspelt keywords; the security it describes is what the routes do; and it is served
at /api/openapi.json. The live fuzzing from it is tests/backend/test_api_fuzzing.py."""

import re

import jsonschema_rs
import pytest
import schemathesis

from backend.api_description.routes import description

METHODS = ("get", "put", "post", "delete", "patch")
CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")  # <int:user_id>, <name>
# JSON Schema 2020-12's keywords and the OpenAPI 3.1 dialect's: anything else in a schema is a
# typo (a "requird" would silently drop a rule the fuzzer and integrators rely on).
SCHEMA_KEYWORDS = {
    "$ref", "$defs", "$schema", "$id", "$comment", "type", "enum", "const", "format",
    "title", "description", "default", "examples", "example", "deprecated", "readOnly",
    "writeOnly", "properties", "required", "additionalProperties", "patternProperties",
    "propertyNames", "minProperties", "maxProperties", "items", "prefixItems", "minItems",
    "maxItems", "uniqueItems", "contains", "minLength", "maxLength", "pattern", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "allOf", "anyOf", "oneOf",
    "not", "if", "then", "else", "contentMediaType", "contentEncoding", "discriminator",
}  # fmt: skip
# Path converters and the parameter type each one admits.
CONVERTER_TYPES = {None: "string", "default": "string", "path": "string", "int": "integer"}


def _is_api(rule: str) -> bool:
    return rule == "/predict" or rule.startswith(("/api/", "/predict/"))


def _openapi_path(rule: str) -> str:
    return CONVERTER.sub(r"{\2}", rule)


def registered(app) -> dict[tuple[str, str], dict[str, str]]:
    """(method, OpenAPI path) -> {parameter: its converter} of every API route."""
    routes = {}
    for rule in app.url_map.iter_rules():
        if not _is_api(rule.rule):
            continue
        converters = {name: kind for kind, name in CONVERTER.findall(rule.rule)}
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes[(method.lower(), _openapi_path(rule.rule))] = converters
    return routes


def described() -> dict[tuple[str, str], dict]:
    paths = description()["paths"]
    return {
        (method, path): operation
        for path, item in paths.items()
        for method, operation in item.items()
        if method in METHODS
    }


@pytest.mark.database_free
def test_every_route_is_described_and_every_description_is_a_route(app):
    routes, operations = set(registered(app)), set(described())
    assert routes, "no API routes found: the filter is wrong"
    assert sorted(routes - operations) == [], "routes missing from openapi.yaml"
    assert sorted(operations - routes) == [], "described in openapi.yaml but not routes"


@pytest.mark.database_free
def test_path_parameters_match_the_routes_converters(app):
    operations = described()
    for key, converters in registered(app).items():
        params = {p["name"]: p for p in _parameters(operations[key]) if p["in"] == "path"}
        assert set(params) == set(converters), key
        for name, kind in converters.items():
            assert params[name]["required"] is True, (key, name)
            assert params[name]["schema"]["type"] == CONVERTER_TYPES[kind or None], (key, name)


def _parameters(operation: dict) -> list[dict]:
    return [_resolve(p) for p in operation.get("parameters", [])]


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        target = description()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_the_description_is_valid_openapi_3_1():
    schema = schemathesis.openapi.from_dict(description())
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    operations = list(schema.get_all_operations())
    errors = [str(o.err()) for o in operations if not hasattr(o, "ok")]
    assert errors == [] and len(operations) == len(described())


def test_every_schema_is_json_schema_2020_12_with_known_keywords_and_refs_that_resolve():
    doc = description()
    schemas = list(_schemas(doc))
    assert len(schemas) > 50
    for where, schema in schemas:
        jsonschema_rs.meta.validate(schema)
        unknown = _unknown_keywords(schema)
        assert not unknown, f"{where}: unknown keywords {unknown}"
        # Compiled against the whole document, so every $ref in it must resolve.
        root = {"$ref": "#/x", "x": schema, "components": doc["components"]}
        jsonschema_rs.Draft202012Validator(root)


def _schemas(node, where: str = "#"):
    """Every Schema Object of the document: the values of `schema` keys and the components."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}/{key}"
            if key == "schema" and isinstance(value, dict):
                yield here, value
            elif where == "#/components/schemas":
                yield here, value
            else:
                yield from _schemas(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schemas(value, f"{where}/{i}")


def _unknown_keywords(schema) -> set[str]:
    if not isinstance(schema, dict):
        return set()
    unknown = {k for k in schema if k not in SCHEMA_KEYWORDS and not k.startswith("x-")}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "$defs"):
            children = list(value.values())
        elif key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            children = value
        elif key in ("items", "not", "additionalProperties", "if", "then", "else", "contains"):
            children = [value]
        else:
            children = []
        for child in children:
            unknown |= _unknown_keywords(child)
    return unknown


@pytest.mark.sqlite_only  # reads empty tables (the model listing); the answer is no database's
def test_the_described_security_is_what_the_routes_do(client):
    """Without a token a protected operation is 401 missing_token, a public one is not 401."""
    default = description()["security"]
    for (method, path), operation in described().items():
        url = re.sub(r"\{(\w+)\}", "1", path)
        response = client.open(url, method=method.upper())
        public = operation.get("security", default) == []
        if public:
            assert response.status_code != 401, (method, path)
        else:
            assert response.status_code == 401, (method, path)
            assert response.get_json()["error"]["code"] == "missing_token", (method, path)


@pytest.mark.database_free
def test_served_as_public_cacheable_json(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == description()
    assert response.get_json()["openapi"].startswith("3.1.")
    assert {"public", "no-cache"} <= set(response.headers["Cache-Control"].split(", "))
    again = client.get("/api/openapi.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
