"""The Sign never reaches an access log: the filter alone, then through a real Werkzeug server,
`python -m example_app` (what `make run` starts), and gunicorn with the README's config file."""

from __future__ import annotations

import http.client
import logging
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_friendcb.logging import ACCESS_LOGGERS, MASK, SignFilter, mask_sign, mask_sign_in_logs
from flask_friendcb.testing import SAMPLE_REQUEST, callback_query, sign

from .conftest import FrozenClock, build_receiver, serving
from .servers import ROOT, free_port, gunicorn, wait_for_port

SIGN = sign("a-token", 1_700_000_000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"POST /cb?SdkAppid=1&Sign={SIGN}&RequestTime=1 HTTP/1.1",
            "POST /cb?SdkAppid=1&Sign=***&RequestTime=1 HTTP/1.1",
        ),
        (f'"POST /cb?Sign={SIGN} HTTP/1.1" 200 81', '"POST /cb?Sign=*** HTTP/1.1" 200 81'),
        (f"Sign={SIGN}", "Sign=***"),
        (f"/cb?sign={SIGN}&SIGN={SIGN}", "/cb?sign=***&SIGN=***"),
        (f"/cb?Sign={SIGN}&Sign=x", "/cb?Sign=***&Sign=***"),
        (
            f"next=%2Fcb%3FSign%3D{SIGN}%26RequestTime%3D1",
            "next=%2Fcb%3FSign%3D***%26RequestTime%3D1",
        ),
        (f"/cb?Sign={SIGN};x", "/cb?Sign=***;x"),
        (f'{{"url": "/cb?Sign={SIGN}", "status": 200}}', '{"url": "/cb?Sign=***", "status": 200}'),
        ("/cb?Sign=", "/cb?Sign=***"),
        (f"/cb?XSign={SIGN}&Signature={SIGN}", f"/cb?XSign={SIGN}&Signature={SIGN}"),
        ("no query at all", "no query at all"),
    ],
)
def test_mask_sign(text: str, expected: str) -> None:
    assert mask_sign(text) == expected


def record(msg: str, args: object) -> logging.LogRecord:
    return logging.LogRecord("werkzeug", logging.INFO, __file__, 1, msg, args, None)  # type: ignore[arg-type]


def test_the_filter_rewrites_records_that_hold_a_sign_and_passes_everything() -> None:
    signed = record('%s - - "%s" %s', ("127.0.0.1", f"POST /cb?Sign={SIGN} HTTP/1.1", 200))
    assert SignFilter().filter(signed) is True
    assert signed.getMessage() == '127.0.0.1 - - "POST /cb?Sign=*** HTTP/1.1" 200'
    # gunicorn logs with a mapping of atoms
    atoms = record("%(h)s %(r)s", {"h": "127.0.0.1", "r": f"GET /?Sign={SIGN}"})
    SignFilter().filter(atoms)
    assert atoms.getMessage() == "127.0.0.1 GET /?Sign=***"
    plain = record("%s", ("nothing to hide",))
    SignFilter().filter(plain)
    assert (plain.msg, plain.args) == ("%s", ("nothing to hide",))
    broken = record("%d", ("not a number",))
    assert SignFilter().filter(broken) is True


@pytest.fixture
def masked_loggers() -> Iterator[SignFilter]:
    sign_filter = mask_sign_in_logs()
    try:
        yield sign_filter
    finally:
        for name in ACCESS_LOGGERS:
            logging.getLogger(name).removeFilter(sign_filter)


def test_mask_sign_in_logs_covers_the_servers_loggers_once(masked_loggers: SignFilter) -> None:
    for name in ACCESS_LOGGERS:
        assert logging.getLogger(name).filters.count(masked_loggers) == 1
    again = mask_sign_in_logs()
    assert all(again not in logging.getLogger(name).filters for name in ACCESS_LOGGERS)


def werkzeug_request_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "werkzeug" and "/im/callback" in r.getMessage()
    ]


@pytest.mark.parametrize("kind", ["blueprint", "middleware"])
def test_werkzeug_server_access_log(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    receiver = build_receiver(kind, FrozenClock(time.time()))
    query = receiver.query()
    signature = re.search(r"Sign=([0-9a-f]{64})", query)
    assert signature is not None
    with serving(receiver.wsgi) as address, caplog.at_level(logging.INFO, logger="werkzeug"):
        receiver.base_url = address
        assert receiver.post(SAMPLE_REQUEST, query).status == 200
        # Unmasked, the development server writes the Sign down: what the filter is for.
        assert any(signature.group(1) in line for line in werkzeug_request_lines(caplog))
        caplog.clear()
        sign_filter = mask_sign_in_logs("werkzeug")
        try:
            assert receiver.post(SAMPLE_REQUEST, query).status == 200
            assert receiver.post(b"not json", query).status == 400
        finally:
            logging.getLogger("werkzeug").removeFilter(sign_filter)
    lines = werkzeug_request_lines(caplog)
    assert len(lines) == 2
    for line in lines:
        assert "Sign=***" in line
        assert signature.group(1) not in line


def test_make_run_logs_no_sign(tmp_path: Path) -> None:
    """`python -m example_app` prints a signed curl line on purpose; its access log must not
    repeat the Sign when that line is used."""
    port = free_port()
    output = tmp_path / "output.log"
    env = {**os.environ, "EXAMPLE_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    env.pop("FRIENDCB_TOKEN", None)
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "example_app"], cwd=ROOT, env=env, stdout=sink, stderr=sink
        )
        try:
            wait_for_port(port, process)
            curl = next(
                line for line in output.read_text().splitlines() if line.startswith("curl ")
            )
            subprocess.run(shlex.split(curl), capture_output=True, timeout=30, check=True)
            deadline = time.monotonic() + 15
            while "POST /im/callback" not in output.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            process.terminate()
            process.wait(timeout=10)
    lines = output.read_text().splitlines()
    signature = re.search(r"Sign=([0-9a-f]{64})", curl)
    assert signature is not None
    (access,) = [line for line in lines if "POST /im/callback" in line]
    assert f"Sign={MASK}" in access
    # The printed curl line is the only place the Sign appears.
    assert [line for line in lines if signature.group(1) in line] == [curl]


def readme_gunicorn_config() -> str:
    # The config file of the documentation's logging section (it left the README for it).
    page = (ROOT / "docs" / "observing.md").read_text()
    match = re.search(r"```python\n(# gunicorn\.conf\.py.*?)```", page, re.DOTALL)
    assert match is not None, "docs/observing.md shows a gunicorn config file"
    return match.group(1)


@pytest.mark.parametrize("configured", [True, False], ids=["readme-config", "no-config"])
def test_gunicorn_access_log_with_the_readme_config(configured: bool, tmp_path: Path) -> None:
    token = "gunicorn-log-token"
    access_log = tmp_path / "access.log"
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(readme_gunicorn_config() if configured else "")
    query = callback_query(1400000000, token=token)
    signature = re.search(r"Sign=([0-9a-f]{64})", query)
    assert signature is not None
    with gunicorn(
        "tests.served_apps:flask_app()",
        env={"FRIENDCB_TEST_TOKEN": token},
        args=["--config", str(config), "--access-logfile", str(access_log)],
    ) as address:
        host, port = address.split(":")
        for body in (b'{"CallbackCommand": "Sns.CallbackPrevFriendResponse"}', b"[]"):
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                connection.request("POST", f"/im/callback?{query}", body=body)
                assert connection.getresponse().status == 400
            finally:
                connection.close()
    lines = [line for line in access_log.read_text().splitlines() if "/im/callback" in line]
    assert len(lines) == 2
    if configured:
        assert all("Sign=***" in line and signature.group(1) not in line for line in lines)
    else:
        # Without it, gunicorn writes the Sign down: what the config file is for.
        assert all(signature.group(1) in line for line in lines)
