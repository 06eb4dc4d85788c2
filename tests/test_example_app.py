"""example_app: `python -m example_app` serves, and the curl line it prints gets an answer."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time

from example_app import SPAM_REQUESTER_CODE, config_from_env, create_app
from flask_friendcb.testing import friend_response_body, signed_client

from .servers import ROOT, free_port, wait_for_port


def test_spam_requesters_are_refused() -> None:
    app = create_app({"FRIENDCB_SDKAPPID": 1400000000, "FRIENDCB_TOKEN": "t"})
    response = signed_client(app).callback(friend_response_body("bob", ["spam42", "alice"]))
    assert [item["ResultCode"] for item in response.json["ResultItem"]] == [SPAM_REQUESTER_CODE, 0]


def test_config_from_env_decodes_json_and_fills_dev_defaults() -> None:
    config = config_from_env(
        {
            "FRIENDCB_SDKAPPID": "1400000042",
            "FRIENDCB_TOKEN": "abc",
            "FRIENDCB_MAX_SKEW": "30",
            "OTHER": "x",
        }
    )
    assert config == {
        "FRIENDCB_SDKAPPID": 1400000042,
        "FRIENDCB_TOKEN": "abc",
        "FRIENDCB_MAX_SKEW": 30,
    }
    defaults = config_from_env({})
    assert defaults["FRIENDCB_SDKAPPID"] == 1400000000
    assert defaults["FRIENDCB_TOKEN"]


def test_make_run_prints_a_curl_line_that_works() -> None:
    port = free_port()
    env = {**os.environ, "EXAMPLE_PORT": str(port)}
    env.pop("FRIENDCB_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "example_app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        started = time.monotonic()
        while not any(line.startswith("curl ") for line in lines):
            assert time.monotonic() - started < 30, lines
            lines.append(process.stdout.readline())
        assert f"Callback URL: http://127.0.0.1:{port}/im/callback\n" in lines
        wait_for_port(port, process)
        curl = next(line for line in lines if line.startswith("curl "))
        answer = subprocess.run(
            shlex.split(curl), capture_output=True, text=True, timeout=30, check=True
        )
        result = json.loads(answer.stdout)
        assert result["ActionStatus"] == "OK"
        assert [item["ResultCode"] for item in result["ResultItem"]] == [SPAM_REQUESTER_CODE, 0]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
