"""The OpenAPI schema at /api/schema/ is valid OpenAPI 3 and is generated without a warning: a warning is
a name or type drf-spectacular had to guess, which changes under a client generated from the schema."""

import json

from django.core.management import call_command


def test_the_openapi_schema_validates_and_is_generated_without_warnings(db, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_the_reconciliation_enums_have_names_of_their_own(db, tmp_path):
    call_command("spectacular", "--format", "openapi-json", "--file", str(tmp_path / "schema.json"))
    names = set(json.loads((tmp_path / "schema.json").read_text())["components"]["schemas"])
    assert {"BreakKindEnum", "BreakStatusEnum", "RunKindEnum", "RunStatusEnum"} <= names
