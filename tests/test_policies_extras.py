"""A policy whose extra is not installed says which extra to install."""

from __future__ import annotations

import importlib
import sys

import pytest


@pytest.fixture
def fresh_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the policies' modules (restored after the test), so they are imported again."""
    for name in list(sys.modules):
        if name == "flask_friendcb.policies" or name.startswith("flask_friendcb.policies."):
            monkeypatch.delitem(sys.modules, name)


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import module`` fail, as when the package is not installed."""
    for module in modules:
        for name in list(sys.modules):
            if name == module or name.startswith(module + "."):
                monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, module, None)  # type: ignore[arg-type]


@pytest.mark.usefixtures("fresh_policies")
@pytest.mark.parametrize(
    ("hidden", "name"),
    [
        ("ahocorasick", "ContentPolicy"),
        ("opencc", "ContentPolicy"),
        ("confusable_homoglyphs", "ContentPolicy"),
        ("tldextract", "ContentPolicy"),
        ("pypinyin", "ContentPolicy"),
        ("wordfreq", "ContentPolicy"),
        ("limits", "RateLimitPolicy"),
    ],
)
def test_missing_policies_extra(monkeypatch: pytest.MonkeyPatch, hidden: str, name: str) -> None:
    hide(monkeypatch, hidden)
    policies = importlib.import_module("flask_friendcb.policies")
    with pytest.raises(ImportError, match=r"pip install 'flask-friendcb\[policies\]'") as error:
        getattr(policies, name)
    assert hidden in str(error.value)


@pytest.mark.usefixtures("fresh_policies")
def test_missing_redis_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "redis")
    from flask_friendcb.policies import BlocklistPolicy, RateLimitPolicy

    # Memory and SQLite need no extra.
    assert "x" not in BlocklistPolicy()
    with pytest.raises(ImportError, match=r"flask-friendcb\[redis\]"):
        BlocklistPolicy(storage_uri="redis://127.0.0.1:1/0")
    with pytest.raises(ImportError, match=r"flask-friendcb\[redis\]"):
        RateLimitPolicy("1/minute", storage_uri="valkey://127.0.0.1:1/0")


@pytest.mark.usefixtures("fresh_policies")
def test_the_blocklist_needs_no_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "limits", "ahocorasick", "opencc", "redis", "tldextract")
    from flask_friendcb.policies import BlocklistPolicy

    policy = BlocklistPolicy()
    policy.add("a")
    assert "a" in policy


def test_unknown_name() -> None:
    policies = importlib.import_module("flask_friendcb.policies")
    with pytest.raises(AttributeError):
        policies.NoSuchPolicy  # noqa: B018
    assert "ContentPolicy" in dir(policies)
