"""The OpenAPI description: generated from the schemas, valid, served on request only, and
true of a live server (schemathesis, bounded)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from typing import Any

import pytest
from hypothesis import settings
from openapi_spec_validator import validate
from werkzeug.test import Client

from flask_friendcb import ConfigError, ErrorCode
from flask_friendcb.openapi import STATUS_CODES, openapi_document
from flask_friendcb.schemas import FriendResponseBodySchema, FriendResponseItemSchema
from flask_friendcb.testing import SAMPLE_REQUEST

from .conftest import PATH, SDKAPPID, TOKEN, FrozenClock, build_receiver, flask_app, serving
from .servers import ROOT
from .test_wire import CASES

# Every status of the README's wire table.
WIRE_STATUSES = {"200", "400", "401", "403", "405", "413", "500"}


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("sdkappid", [None, SDKAPPID])
def test_the_document_is_valid_openapi(signed: bool, sdkappid: str | None) -> None:
    document = openapi_document(PATH, sdkappid=sdkappid, signed=signed)
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert list(document["paths"]) == [PATH]


def test_every_wire_status_is_described_with_the_error_envelope() -> None:
    operation = openapi_document(PATH)["paths"][PATH]["post"]
    assert set(operation["responses"]) == WIRE_STATUSES
    for status, response in operation["responses"].items():
        assert response["description"]
        schema = response["content"]["application/json"]["schema"]
        if status == "200":
            assert schema == {"$ref": "#/components/schemas/FriendResponseAnswer"}
        else:
            envelope, codes = schema["allOf"]
            assert envelope == {"$ref": "#/components/schemas/CallbackError"}
            assert codes["properties"]["ErrorCode"]["enum"] == [
                int(code) for code in STATUS_CODES[int(status)]
            ]
    assert operation["responses"]["405"]["headers"]["Allow"]["schema"]["enum"] == ["POST"]


def test_every_refusal_code_has_one_status() -> None:
    listed = [code for codes in STATUS_CODES.values() for code in codes]
    assert sorted(listed) == sorted(set(ErrorCode) - {ErrorCode.HOOK_FAILED})


@pytest.mark.parametrize("case", [c for c in CASES if c.code is not None], ids=lambda c: c.id)
def test_the_wire_matrix_answers_as_documented(case: Any) -> None:
    # The wire tests pin each refusal's status and code; the document must say the same.
    assert case.code in STATUS_CODES[case.status]


def test_bodies_are_the_marshmallow_schemas() -> None:
    schemas = openapi_document(PATH)["components"]["schemas"]
    body, item = schemas["FriendResponseCallback"], schemas["FriendResponseItem"]
    wire_names = {field.data_key for field in FriendResponseBodySchema().fields.values()}
    assert set(body["properties"]) == wire_names | {"CallbackCommand"}
    assert set(body["required"]) == {"From_Account", "ResponseFriendItem", "EventTime"}
    assert body["properties"]["ResponseFriendItem"]["items"] == {
        "$ref": "#/components/schemas/FriendResponseItem"
    }
    assert body["properties"]["EventTime"]["maximum"] == 253_402_300_799_999
    item_names = {field.data_key for field in FriendResponseItemSchema().fields.values()}
    assert set(item["properties"]) == item_names
    # One bad item costs one item: only To_Account is required of an item; the known actions
    # are examples, not a constraint; a null list reads as [].
    assert item["required"] == ["To_Account"]
    assert item["properties"]["ResponseAction"]["examples"] == [
        "Response_Action_AgreeAndAdd",
        "Response_Action_Agree",
        "Response_Action_Reject",
    ]
    assert "enum" not in item["properties"]["ResponseAction"]
    assert "type" not in item["properties"]["Remark"]
    assert body["properties"]["ResponseFriendItem"]["type"] == ["array", "null"]
    for schema in schemas.values():
        for name, prop in schema["properties"].items():
            assert prop.get("description"), (name, prop)


def test_the_example_is_tencents_sample() -> None:
    body = openapi_document(PATH)["paths"][PATH]["post"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["example"] == SAMPLE_REQUEST


def test_query_parameters_and_security() -> None:
    document = openapi_document(PATH, sdkappid=SDKAPPID)
    operation = document["paths"][PATH]["post"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) == {
        "SdkAppid",
        "CallbackCommand",
        "contenttype",
        "ClientIP",
        "OptPlatform",
    }
    assert all(p["in"] == "query" for p in parameters.values())
    assert parameters["SdkAppid"]["required"] is True
    assert parameters["SdkAppid"]["schema"]["enum"] == [SDKAPPID]
    assert operation["security"] == [{"Sign": [], "RequestTime": []}]
    schemes = document["components"]["securitySchemes"]
    assert schemes["Sign"] == schemes["Sign"] | {"type": "apiKey", "in": "query", "name": "Sign"}
    assert schemes["RequestTime"]["in"] == "query"
    unsigned = openapi_document(PATH, signed=False)
    assert "security" not in unsigned["paths"][PATH]["post"]
    assert "securitySchemes" not in unsigned["components"]


def test_the_route_is_off_by_default() -> None:
    app, _ = flask_app()
    assert app.test_client().get("/im/openapi.json").status_code == 404
    assert not any(rule.endpoint.endswith(".openapi") for rule in app.url_map.iter_rules())
    wrapped = build_receiver("middleware", FrozenClock()).wsgi
    # The middleware passes the request on to the app it wraps.
    assert Client(wrapped).get("/im/openapi.json").json["app"] == "other"


def test_the_blueprint_serves_the_document_of_its_own_callback() -> None:
    app, blueprint = flask_app(FRIENDCB_OPENAPI_ROUTE="/openapi.json")
    app.register_blueprint(blueprint, url_prefix="/legacy", name="friendcb_legacy")
    client = app.test_client()
    for prefix in ("/im", "/legacy"):
        response = client.get(f"{prefix}/openapi.json")
        assert response.status_code == 200
        assert response.content_type == "application/json"
        assert response.json == openapi_document(f"{prefix}/callback", sdkappid=SDKAPPID)
    assert client.post("/im/openapi.json").status_code == 405
    # Mounted below a path prefix (SCRIPT_NAME), the document names the public path.
    mounted = client.get("/im/openapi.json", base_url="http://localhost/chat/")
    assert list(mounted.json["paths"]) == ["/chat/im/callback"]


def test_the_middleware_serves_the_document_of_its_path() -> None:
    wrapped = build_receiver("middleware", FrozenClock(), openapi_route="/docs/callback.json").wsgi
    client = Client(wrapped)
    response = client.get("/docs/callback.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json == openapi_document(PATH, sdkappid=SDKAPPID)
    assert client.head("/docs/callback.json").get_data() == b""
    refused = client.post("/docs/callback.json")
    assert (refused.status_code, refused.headers["Allow"]) == (405, "GET, HEAD")


def test_an_unsigned_app_documents_no_security() -> None:
    app, _ = flask_app(
        FRIENDCB_TOKEN=None, FRIENDCB_ALLOW_UNSIGNED=True, FRIENDCB_OPENAPI_ROUTE="/openapi.json"
    )
    document = app.test_client().get("/im/openapi.json").json
    assert "security" not in document["paths"]["/im/callback"]["post"]


@pytest.mark.parametrize("value", ["openapi.json", "", True, 5, "/a/<int:x>", "/a?b"])
def test_a_bad_route_fails_at_registration(value: Any) -> None:
    with pytest.raises(ConfigError) as raised:
        flask_app(FRIENDCB_OPENAPI_ROUTE=value)
    assert raised.value.key == "FRIENDCB_OPENAPI_ROUTE"


@pytest.mark.parametrize("value", [None, False])
def test_none_and_false_turn_the_route_off(value: Any) -> None:
    app, _ = flask_app(FRIENDCB_OPENAPI_ROUTE=value)
    assert app.extensions["friendcb"].settings.openapi_route is None


def test_without_apispec_the_route_fails_at_registration_and_the_cli_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "apispec" else find_spec(name, *a),
    )
    with pytest.raises(ConfigError, match=re.escape("pip install 'flask-friendcb[openapi]'")):
        flask_app(FRIENDCB_OPENAPI_ROUTE="/openapi.json")
    app, _ = flask_app()
    monkeypatch.setitem(sys.modules, "flask_friendcb.openapi", None)  # import fails
    result = app.test_cli_runner().invoke(args=["friendcb", "openapi"])
    assert result.exit_code == 1
    assert "pip install 'flask-friendcb[openapi]'" in result.output


def test_cli_prints_the_document() -> None:
    app, _ = flask_app()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["friendcb", "openapi"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == openapi_document("/im/callback", sdkappid=SDKAPPID)
    result = runner.invoke(args=["friendcb", "openapi", "--path", "/x", "--indent", "0"])
    assert result.output.count("\n") == 1
    assert list(json.loads(result.output)["paths"]) == ["/x"]


# --- schemathesis against a live server ------------------------------------------------------


@pytest.mark.parametrize("kind", ["blueprint", "middleware"])
def test_schemathesis_finds_nothing_against_a_live_server(kind: str) -> None:
    """Schemathesis reads the document from the opt-in route of a live server on loopback,
    generates conforming and non-conforming requests (signed by tests/schemathesis_hooks.py at
    the server's frozen clock) and checks every answer: no server error, statuses, content
    types, headers and bodies as documented, valid requests accepted, invalid ones refused,
    unsigned ones refused, other methods answered 405."""
    clock = FrozenClock(time.time())
    route = "/openapi.json" if kind == "blueprint" else "/im/openapi.json"
    receiver = build_receiver(kind, clock, openapi_route=route)
    profile = settings()
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        "--checks",
        "all",
        "--max-examples",
        str(profile.max_examples),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
    ]
    if profile.derandomize:
        command += ["--seed", "0"]
    with serving(receiver.wsgi) as address:
        result = subprocess.run(
            [*command, f"http://{address}/im/openapi.json"],
            cwd=ROOT,
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
                "FRIENDCB_TEST_TOKEN": TOKEN,
                "FRIENDCB_TEST_REQUEST_TIME": str(int(clock())),
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    generated = re.search(r"(\d+) generated, \1 passed", output)
    assert generated is not None, output
    assert int(generated.group(1)) >= profile.max_examples
    for phase in ("Examples", "Coverage", "Fuzzing"):  # Tencent's sample, boundaries, random
        assert f"\u2705 {phase}" in output, output
