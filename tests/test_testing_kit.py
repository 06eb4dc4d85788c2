"""The public testing kit and the ``flask friendcb`` commands."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from flask_friendcb import ResponseAction, sign
from flask_friendcb.testing import (
    SAMPLE_REQUEST,
    callback_query,
    friend_response_body,
    response_item,
    signed_client,
)

from .conftest import NOW, SDKAPPID, TOKEN, FrozenClock, flask_app, serving


def test_tencents_known_answer() -> None:
    expected = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"
    assert sign("xxxxyyyy", 1669872112) == expected
    assert sign("xxxxyyyy", "1669872112") == expected


def test_sign_depends_on_token_and_time() -> None:
    assert sign("xxxxyyyy", 1669872113) != sign("xxxxyyyy", 1669872112)
    assert sign("xxxxyyyz", 1669872112) != sign("xxxxyyyy", 1669872112)
    assert len(sign("", 0)) == 64


def test_callback_query_is_what_tencent_sends() -> None:
    query = parse_qs(callback_query(1400000000, token="xxxxyyyy", request_time=1669872112))
    assert query == {
        "SdkAppid": ["1400000000"],
        "CallbackCommand": ["Sns.CallbackPrevFriendResponse"],
        "contenttype": ["json"],
        "ClientIP": ["127.0.0.1"],
        "OptPlatform": ["RESTAPI"],
        "RequestTime": ["1669872112"],
        "Sign": ["17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"],
    }
    assert "Sign" not in parse_qs(callback_query(1))
    assert parse_qs(callback_query(1, Sign="x"))["Sign"] == ["x"]


def test_body_builders() -> None:
    body = friend_response_body(
        "bob",
        ["alice", response_item("eve", ResponseAction.REJECT, remark="r", tag_name="t")],
        event_time_ms=5,
    )
    assert body == {
        "CallbackCommand": "Sns.CallbackPrevFriendResponse",
        "Requester_Account": "bob",
        "From_Account": "bob",
        "ResponseFriendItem": [
            {
                "To_Account": "alice",
                "Remark": "",
                "TagName": "",
                "ResponseAction": "Response_Action_AgreeAndAdd",
            },
            {
                "To_Account": "eve",
                "Remark": "r",
                "TagName": "t",
                "ResponseAction": "Response_Action_Reject",
            },
        ],
        "EventTime": 5,
    }
    with pytest.raises(ValueError, match="Response_Action_Maybe"):
        response_item("x", "Response_Action_Maybe")


def test_signed_client_signs_at_the_apps_frozen_clock() -> None:
    clock = FrozenClock(NOW)
    app, _ = flask_app(FRIENDCB_CLOCK=clock)
    client = signed_client(app)
    response = client.callback(SAMPLE_REQUEST)
    assert response.status_code == 200
    assert response.request.args["Sign"] == sign(TOKEN, NOW)
    assert client.callback(SAMPLE_REQUEST, request_time=NOW - 61).status_code == 401
    assert client.callback(SAMPLE_REQUEST, token="other").status_code == 401
    assert client.callback(SAMPLE_REQUEST, signed=False).status_code == 401
    assert client.callback(b"raw bytes").status_code == 400
    assert client.callback(SAMPLE_REQUEST, SdkAppid="1").status_code == 403


def test_cli_sign_prints_the_known_answer() -> None:
    app, _ = flask_app()
    result = app.test_cli_runner().invoke(
        args=["friendcb", "sign", "--token", "xxxxyyyy", "--time", "1669872112"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == sign("xxxxyyyy", 1669872112)
    default = app.test_cli_runner().invoke(args=["friendcb", "sign", "--time", "5"])
    assert default.output.strip() == sign(TOKEN, 5)


def test_cli_send_to_the_app_itself() -> None:
    app, blueprint = flask_app()
    blueprint.on_friend_response(
        lambda item, event: (
            None
            if item.to_account != "spammer"
            else __import__("flask_friendcb").Reject(38001, "spam")
        )
    )
    result = app.test_cli_runner().invoke(
        args=[
            "friendcb",
            "send",
            "--from",
            "bob",
            "--to",
            "spammer",
            "--to",
            "alice",
            "--count",
            "2",
        ]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    status, _, text = lines[0].partition(" ")
    assert status == "200"
    assert [i["ResultCode"] for i in json.loads(text)["ResultItem"]] == [38001, 0]


def test_cli_send_over_http() -> None:
    target, _ = flask_app()
    sender, _ = flask_app()
    with serving(target) as address:
        result = sender.test_cli_runner().invoke(
            args=[
                "friendcb",
                "send",
                "--url",
                f"http://{address}/im/callback",
                "--action",
                "reject",
                "--to",
                "x",
            ]
        )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("200 ")
    assert json.loads(result.output[4:])["ResultItem"][0]["To_Account"] == "x"


def test_cli_send_reports_refusals_and_bad_urls() -> None:
    target, _ = flask_app(FRIENDCB_SDKAPPID=1400000009)
    sender, _ = flask_app()
    with serving(target) as address:
        result = sender.test_cli_runner().invoke(
            args=["friendcb", "send", "--url", f"http://{address}/im/callback"]
        )
    assert result.output.startswith("403 ")
    # Not accepted: a script sees it in the exit status.
    assert result.exit_code == 1
    result = sender.test_cli_runner().invoke(args=["friendcb", "send", "--url", "file:///etc"])
    assert result.exit_code != 0
    assert "http://" in result.output


def test_cli_send_to_a_wrong_path_shows_a_line_of_the_page_and_fails() -> None:
    target, _ = flask_app()
    sender, _ = flask_app()
    with serving(target) as address:
        result = sender.test_cli_runner().invoke(
            args=["friendcb", "send", "--url", f"http://{address}/im/calback"]
        )
    assert result.exit_code == 1
    assert result.output.startswith("404 ")
    assert len(result.output.strip().splitlines()) == 1
    assert len(result.output) < 400


def test_cli_send_to_a_server_that_hangs_up_is_one_line() -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def hang_up() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.close()  # no answer at all

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    sender, _ = flask_app()
    try:
        port = listener.getsockname()[1]
        result = sender.test_cli_runner().invoke(
            args=["friendcb", "send", "--url", f"http://127.0.0.1:{port}/im/callback"]
        )
    finally:
        thread.join(10)
        listener.close()
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        f"Error: no answer from http://127.0.0.1:{port}/im/callback: RemoteDisconnected: "
        "Remote end closed connection without response"
    ]


def test_cli_check_shows_the_console_settings() -> None:
    app, _ = flask_app()
    result = app.test_cli_runner().invoke(args=["friendcb", "check"])
    assert result.exit_code == 0, result.output
    assert SDKAPPID in result.output
    assert "/im/callback" in result.output
    assert TOKEN not in result.output
    unsigned, _ = flask_app(FRIENDCB_TOKEN=None, FRIENDCB_ALLOW_UNSIGNED=True)
    result = unsigned.test_cli_runner().invoke(args=["friendcb", "check"])
    assert "Warning" in result.output
