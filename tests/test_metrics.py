"""Prometheus metrics: what each adapter records with FRIENDCB_METRICS / metrics=True, that
nothing is recorded (or even imported) with it off, and gunicorn's workers counted as one
service in prometheus_client's multiprocess mode."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from flask_friendcb import ConfigError, Reject, metrics
from flask_friendcb.testing import SAMPLE_REQUEST, callback_query

from .conftest import NOW, SDKAPPID, TOKEN, FrozenClock, Receiver, build_receiver
from .servers import ROOT, gunicorn

KINDS = ["blueprint", "middleware"]


def value(name: str, **labels: str) -> float:
    """The current value of a sample of the default registry; 0 when it does not exist yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Values:
    """The samples of the default registry at one moment, to compare with a later one."""

    def __init__(self) -> None:
        self.before = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in REGISTRY.collect()
            if family.name.startswith("friendcb_")
            for sample in family.samples
        }

    def delta(self, name: str, **labels: str) -> float:
        return value(name, **labels) - self.before.get((name, tuple(sorted(labels.items()))), 0)


@pytest.fixture(params=KINDS)
def measured(request: pytest.FixtureRequest) -> Receiver:
    """A receiver with metrics on and a hook that blocks ``spam...`` and raises on ``boom...``."""
    receiver = build_receiver(request.param, FrozenClock(), metrics=True)

    @receiver.hooks.on_friend_response
    def no_spam(item: Any, event: Any) -> Reject | None:
        if item.to_account.startswith("boom"):
            raise RuntimeError("the hook failed")
        return Reject(38001, "spam") if item.to_account.startswith("spam") else None

    return receiver


HOOK = f"{__name__}.measured.<locals>.no_spam"


def items(*accounts: str, **changes: Any) -> dict[str, Any]:
    return {
        **SAMPLE_REQUEST,
        "ResponseFriendItem": [
            {"To_Account": account, "ResponseAction": "Response_Action_Agree", **changes}
            for account in accounts
        ],
    }


def test_callbacks_are_counted_by_status_and_error_code(measured: Receiver) -> None:
    values = Values()
    assert measured.post(items("alice")).status == 200
    assert measured.post(items("bob")).status == 200
    forged = callback_query(SDKAPPID, token="forged", request_time=NOW)
    assert measured.post(items("eve"), forged).status == 401
    assert measured.post(b"{", measured.query()).status == 400
    assert measured.post(method="GET").status == 405
    counted = "friendcb_callbacks_total"
    assert (
        values.delta(
            counted, status="200", error_code="0", command="Sns.CallbackPrevFriendResponse"
        )
        == 2
    )
    assert values.delta(counted, status="401", error_code="38902", command="") == 1
    assert values.delta(counted, status="400", error_code="38910", command="") == 1
    assert values.delta(counted, status="405", error_code="38920", command="") == 1


def test_items_are_counted_by_outcome_hook_and_result_code(measured: Receiver) -> None:
    values = Values()
    body = items("alice", "spam1", "spam2", "boom")
    body["ResponseFriendItem"].append({"To_Account": "odd", "ResponseAction": "New_Action"})
    assert measured.post(body).status == 200
    counted = "friendcb_items_total"
    assert (
        values.delta(
            counted,
            command="Sns.CallbackPrevFriendResponse",
            outcome="no_decision",
            hook="",
            result_code="0",
        )
        == 1
    )
    assert (
        values.delta(
            counted,
            command="Sns.CallbackPrevFriendResponse",
            outcome="rejected",
            hook=HOOK,
            result_code="38001",
        )
        == 2
    )
    assert (
        values.delta(
            counted,
            command="Sns.CallbackPrevFriendResponse",
            outcome="hook_error",
            hook=HOOK,
            result_code="0",
        )
        == 1
    )
    assert (
        values.delta(
            counted,
            command="Sns.CallbackPrevFriendResponse",
            outcome="invalid_item",
            hook="",
            result_code="0",
        )
        == 1
    )
    # The hook ran on four items (not on the invalid one), raising once: four observations.
    assert values.delta("friendcb_hook_duration_seconds_count", hook=HOOK) == 4
    assert values.delta("friendcb_hook_duration_seconds_sum", hook=HOOK) > 0
    assert values.delta("friendcb_hook_duration_seconds_bucket", hook=HOOK, le="+Inf") == 4


@pytest.mark.parametrize("kind", KINDS)
def test_deadline_fallbacks_are_counted(kind: str) -> None:
    receiver = build_receiver(kind, FrozenClock(), metrics=True, deadline=0.05)

    @receiver.hooks.on_friend_response
    def slow(item: Any, event: Any) -> None:
        time.sleep(0.1)  # past the deadline: the items after the first fall back

    values = Values()
    answer = receiver.post(items("a", "b", "c"))
    assert [r["ResultCode"] for r in answer.json["ResultItem"]] == [0, 0, 0]
    assert values.delta("friendcb_deadline_fallbacks_total") == 2
    hook = f"{__name__}.test_deadline_fallbacks_are_counted.<locals>.slow"
    assert (
        values.delta(
            "friendcb_items_total",
            command="Sns.CallbackPrevFriendResponse",
            outcome="deadline",
            hook=hook,
            result_code="0",
        )
        == 2
    )
    assert values.delta("friendcb_hook_duration_seconds_count", hook=hook) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_is_recorded_with_metrics_off(kind: str) -> None:
    metrics.enable()  # registered by another receiver of the process, as in a mixed app
    receiver = build_receiver(kind, FrozenClock())
    assert receiver.wsgi is not None
    values = Values()
    receiver.post(items("alice", "spam"))
    receiver.post(items("eve"), callback_query(SDKAPPID, token="forged", request_time=NOW))
    after = Values()
    assert after.before == values.before


def test_off_means_not_even_imported(tmp_path: Path) -> None:
    # Zero cost when off: a callback answered with metrics off imports neither the metrics
    # module nor prometheus_client.
    script = """
import sys
from tests.conftest import FrozenClock, build_receiver
for kind in ("blueprint", "middleware"):
    answer = build_receiver(kind, FrozenClock()).post()
    assert answer.status == 200, answer.body
watched = ("prometheus", "flask_friendcb.metrics")
print(sorted(name for name in sys.modules if name.startswith(watched)))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_every_metric_name_starts_with_friendcb() -> None:
    instance = metrics.enable()
    assert metrics.enable() is instance  # registered once per process
    names = [
        family.name
        for collector in (
            instance.callbacks,
            instance.items,
            instance.hook_seconds,
            instance.deadline_fallbacks,
            instance.storage_fallbacks,
        )
        for family in collector.collect()
    ]
    assert names == [
        "friendcb_callbacks",
        "friendcb_items",
        "friendcb_hook_duration_seconds",
        "friendcb_deadline_fallbacks",
        "friendcb_storage_fallbacks",
    ]


def test_storage_fallbacks_are_recorded_for_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_metrics", None)
    values = Values()
    metrics.record_storage_fallback("RateLimitPolicy")  # off: a no-op
    assert Values().before == values.before
    monkeypatch.undo()
    metrics.enable()
    values = Values()
    metrics.record_storage_fallback("RateLimitPolicy")
    metrics.record_storage_fallback("BlocklistPolicy", reason="timeout")
    metrics.record_storage_fallback("BlocklistPolicy", reason="timeout")
    counted = "friendcb_storage_fallbacks_total"
    assert values.delta(counted, policy="RateLimitPolicy", reason="error") == 1
    assert values.delta(counted, policy="BlocklistPolicy", reason="timeout") == 2
    with pytest.raises(ValueError, match="reason must be one of"):
        metrics.record_storage_fallback("BlocklistPolicy", reason="slow")


def test_render_metrics_is_the_text_exposition_of_the_default_registry() -> None:
    metrics.enable()
    body, content_type = metrics.render_metrics()
    assert content_type.startswith("text/plain; version=")
    assert b"# TYPE friendcb_callbacks_total counter" in body
    assert b"# TYPE friendcb_hook_duration_seconds histogram" in body


@pytest.mark.parametrize("setting", [True, "true", "1", "yes", "on"])
def test_the_setting_reads_like_every_boolean_setting(setting: Any) -> None:
    receiver = build_receiver("blueprint", FrozenClock(), metrics=setting)
    assert receiver.extra["app"].extensions["friendcb"].settings.metrics is True


def test_a_bad_setting_names_its_key() -> None:
    with pytest.raises(ConfigError, match="FRIENDCB_METRICS: must be True or False"):
        build_receiver("blueprint", FrozenClock(), metrics="sometimes")
    with pytest.raises(ConfigError, match=r"^metrics: must be True or False"):
        build_receiver("middleware", FrozenClock(), metrics=2)


@pytest.mark.parametrize("kind", KINDS)
def test_without_prometheus_client_the_setting_fails_at_start_up(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "prometheus_client" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(
        ConfigError, match=r"needs prometheus_client: pip install 'flask-friendcb\[metrics\]'"
    ):
        build_receiver(kind, FrozenClock(), metrics=True)
    build_receiver(kind, FrozenClock())  # off, nothing is needed


# --- gunicorn, two workers, one set of numbers ---------------------------------------------


def post(address: str, path: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        if body is None:
            connection.request("GET", path)
        else:
            connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        reply = connection.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        connection.close()


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[str]:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    with gunicorn(
        "tests.metrics_app:create_app()",
        env={"FRIENDCB_TEST_TOKEN": TOKEN, metrics.MULTIPROC_DIR: str(directory)},
        args=["--workers", "2", "--timeout", "30"],
    ) as address:
        yield address


def scraped(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.escape(f"{name}{{{wanted}}}" if labels else name) + r" ([0-9.e+]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_gunicorn_workers_are_counted_as_one_service(two_workers: str) -> None:
    callbacks = 24

    def callback(number: int) -> set[str]:
        query = callback_query(SDKAPPID, token=TOKEN, request_time=int(time.time()))
        status, _, body = post(two_workers, f"/im/callback?{query}", items(f"u{number}", "spam"))
        assert status == 200, body
        return {result["ResultInfo"] for result in json.loads(body)["ResultItem"]}

    with ThreadPoolExecutor(6) as pool:
        infos = set().union(*pool.map(callback, range(callbacks)))
        forged = callback_query(SDKAPPID, token="forged", request_time=int(time.time()))
        assert post(two_workers, f"/im/callback?{forged}", SAMPLE_REQUEST)[0] == 401
        # The blocked items name the worker that decided them: both workers served callbacks.
        assert len(infos - {""}) == 2, infos
        # Every scrape, whichever worker serves it, counts every worker's callbacks.
        served_by: set[str] = set()
        for _ in range(5):
            for status, headers, body in pool.map(
                lambda _: post(two_workers, "/metrics"), range(6)
            ):
                assert status == 200
                served_by.add(headers["X-Worker"])
                text = body.decode()
                assert (
                    scraped(
                        text,
                        "friendcb_callbacks_total",
                        error_code="0",
                        status="200",
                        command="Sns.CallbackPrevFriendResponse",
                    )
                    == callbacks
                )
                assert (
                    scraped(
                        text,
                        "friendcb_callbacks_total",
                        error_code="38902",
                        status="401",
                        command="",
                    )
                    == 1
                )
                hook = "tests.metrics_app.create_app.<locals>.refuse_spam"
                rejected = {
                    "command": "Sns.CallbackPrevFriendResponse",
                    "hook": hook,
                    "outcome": "rejected",
                    "result_code": "38001",
                }
                assert scraped(text, "friendcb_items_total", **rejected) == callbacks
                assert (
                    scraped(text, "friendcb_hook_duration_seconds_count", hook=hook)
                    == 2 * callbacks
                )
            if len(served_by) == 2:
                break
    assert len(served_by) == 2, served_by
    assert os.environ.get(metrics.MULTIPROC_DIR) is None  # the test process stayed single


def test_the_docs_flask_example_serves_the_metrics() -> None:
    # docs/metrics.md's example, executed as printed.
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    [example] = [
        block
        for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL)
        if "@app.get" in block
    ]
    namespace: dict[str, Any] = {"__name__": "docs_metrics_example"}
    exec(compile(example, "docs/metrics.md", "exec"), namespace)  # noqa: S102
    client = namespace["app"].test_client()
    query = callback_query(SDKAPPID, token="the console token", request_time=int(time.time()))
    values = Values()
    assert client.post(f"/im/callback?{query}", json=SAMPLE_REQUEST).status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert b"friendcb_items_total" in response.data
    assert (
        values.delta(
            "friendcb_callbacks_total",
            status="200",
            error_code="0",
            command="Sns.CallbackPrevFriendResponse",
        )
        == 1
    )


def test_the_docs_name_every_metric() -> None:
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    instance = metrics.enable()
    for counter in (instance.callbacks, instance.items, instance.deadline_fallbacks):
        assert f"`{counter._name}_total`" in text
    assert "`friendcb_hook_duration_seconds`" in text
    assert "`friendcb_storage_fallbacks_total`" in text
