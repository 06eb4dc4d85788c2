"""Every code example of the documentation runs, as a reader would run it.

The fenced ``python`` blocks of each page under ``docs/`` (and of the files a page includes,
such as SECURITY.md) run in order, in one namespace per page, in a fresh folder. A comment
line just before a block changes what happens to it:

- ``% doc-test: file NAME`` writes the block to the file NAME in that folder (so that later
  blocks can import it) and runs it; a ``test_*.py`` file is run with pytest instead, and
  its tests must pass.
- ``% doc-test: skip REASON`` does not run the block. It is for the rare example that cannot
  run here, and must stay rare.

Each page starts with the names the quick start defines, as a reader who has followed it
has them: ``app``, a Flask app with ``friendcb``, a ``FriendCallbackBlueprint``, registered at
``/im`` (``POST /im/callback``), with ``FRIENDCB_SDKAPPID`` 1400000000 and the token
``"the console token"``. A page that defines them itself replaces them.

Every fence names its language, so that no Python example hides in an unlabelled block.
"""

from __future__ import annotations

import doctest
import importlib
import os
import re
import runpy
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .servers import ROOT

DOCS = ROOT / "docs"
#: The languages whose blocks run.
PYTHON = {"python", "py"}
#: The other languages a fence may name: shown, not run.
OTHER_LANGUAGES = {
    "console",
    "shell",
    "bash",
    "sh",
    "nginx",
    "ini",
    "toml",
    "yaml",
    "json",
    "text",
    "lua",
    "csv",
    "http",
    "sql",
}
MARKER = re.compile(r"^%\s*doc-test:\s*(?P<kind>\S+)\s*(?P<argument>.*)$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
INCLUDE = re.compile(r"^\{include\}\s+(?P<path>\S+)")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    source: Path
    line: int
    language: str
    code: str
    #: ``(kind, argument)`` of a ``% doc-test:`` line just before the block, if any.
    marker: tuple[str, str] | None

    @property
    def where(self) -> str:
        return f"{self.source.name}:{self.line}"


def fenced_blocks(path: Path) -> Iterator[Block]:
    """The fenced blocks of a Markdown file, in order, with the blocks of the files it
    includes (``{include}``) in their place."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    marker: tuple[str, str] | None = None
    while index < len(lines):
        line = lines[index]
        opening = FENCE.match(line)
        if opening is None:
            if line.strip():
                found = MARKER.match(line.strip())
                marker = (found["kind"], found["argument"].strip()) if found else None
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        body: list[str] = []
        index += 1
        while index < len(lines):
            closing = FENCE.match(lines[index])
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                break
            body.append(lines[index][indent:] if lines[index][:indent].isspace() else lines[index])
            index += 1
        info = opening["info"].strip()
        include = INCLUDE.match(info)
        if include:
            yield from fenced_blocks((path.parent / include["path"]).resolve())
        else:
            language = info.split()[0] if info else ""
            yield Block(path, index - len(body), language, "\n".join(body) + "\n", marker)
        marker = None
        index += 1


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def quick_start_names() -> dict[str, object]:
    """What a reader has after the quick start: ``app`` and ``friendcb``."""
    from flask import Flask

    from flask_friendcb import FriendCallbackBlueprint

    friendcb = FriendCallbackBlueprint()
    app = Flask("myapp")
    app.config.update(FRIENDCB_SDKAPPID=1400000000, FRIENDCB_TOKEN="the console token")
    app.register_blueprint(friendcb, url_prefix="/im")
    return {"app": app, "friendcb": friendcb}


def run_page(page: Path, folder: Path) -> int:
    """Run the page's Python blocks in ``folder`` (the current directory, and first on
    ``sys.path``); how many ran. Raises whatever a block raises."""
    namespace: dict[str, object] = {"__name__": "__main__", **quick_start_names()}
    test_files: list[str] = []
    ran = 0
    before = set(sys.modules)
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    try:
        for block in fenced_blocks(page):
            if block.language not in PYTHON or (block.marker and block.marker[0] == "skip"):
                continue
            ran += 1
            if block.marker and block.marker[0] == "file":
                target = folder / block.marker[1]
                target.write_text(block.code, encoding="utf-8")
                if target.name.startswith("test_"):
                    test_files.append(target.name)
                else:
                    runpy.run_path(str(target), run_name=target.stem)
                continue
            # Padded so that a traceback's line numbers are the page's.
            code = "\n" * block.line + block.code
            exec(compile(code, str(block.source), "exec"), namespace)  # noqa: S102
        if test_files:
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *test_files],
                cwd=folder,
                env={**os.environ, "PYTHONPATH": str(folder)},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            output = result.stdout + result.stderr
            assert result.returncode == 0, f"{page.name}'s tests failed:\n{output}"
            assert re.search(r"\b\d+ passed\b", output), output
    finally:
        sys.path.remove(str(folder))
        # Modules the page wrote (myapp.py) must not leak into the next page's run.
        for name in set(sys.modules) - before:
            module_file = getattr(sys.modules[name], "__file__", None) or ""
            if module_file.startswith(str(folder)):
                del sys.modules[name]
    return ran


def runnable(page: Path) -> bool:
    return any(block.language in PYTHON for block in fenced_blocks(page))


@pytest.mark.parametrize(
    "page", [*(p for p in pages() if runnable(p)), ROOT / "README.md"], ids=lambda p: p.name
)
def test_the_examples_of_each_page_run(page: Path, tmp_path: Path) -> None:
    # A process per page: examples change global state (loggers, signals) as a reader's
    # program would, and must not change it for the rest of the suite. Warnings are errors,
    # as in the suite.
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "tests.test_docs", str(page), str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.fullmatch(r"ran [1-9]\d* examples", result.stdout.splitlines()[-1]), result.stdout


def package_modules() -> list[str]:
    package = ROOT / "flask_friendcb"
    names = (
        ".".join(("flask_friendcb", *path.relative_to(package).with_suffix("").parts))
        for path in package.rglob("*.py")
    )
    return sorted(name.removesuffix(".__init__") for name in names)


def test_the_docstring_examples_run() -> None:
    """The API reference is made of the docstrings: their ``>>>`` examples run too."""
    attempted = 0
    for name in package_modules():
        module = importlib.import_module(name)
        failed, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=False)
        assert failed == 0, f"{name}: {failed} of its docstring examples failed"
        attempted += tried
    assert attempted > 0


def test_the_api_reference_covers_every_public_module() -> None:
    documented = re.findall(
        r"^\.\. automodule:: (\S+)$", (DOCS / "api.md").read_text(encoding="utf-8"), re.MULTILINE
    )
    public = [
        name for name in package_modules() if not any(p.startswith("_") for p in name.split("."))
    ]
    assert sorted(documented) == public


def test_every_fence_names_a_known_language() -> None:
    unknown = [
        f"{block.where}: {block.language or '(none)'}"
        for page in pages()
        for block in fenced_blocks(page)
        if block.language not in PYTHON | OTHER_LANGUAGES and not block.language.startswith("{")
    ]
    assert unknown == []


def test_examples_that_do_not_run_are_rare() -> None:
    python = [b for page in pages() for b in fenced_blocks(page) if b.language in PYTHON]
    skipped = [b for b in python if b.marker and b.marker[0] == "skip"]
    # The documentation has examples to run, and the ones left out are few and say why.
    assert len(python) >= 15
    assert len(skipped) * 10 <= len(python), [b.where for b in skipped]
    assert all(b.marker and b.marker[1] for b in skipped), "a skip says why"
    markers = [b.marker for page in pages() for b in fenced_blocks(page) if b.marker]
    assert {kind for kind, _ in markers} <= {"skip", "file"}, markers


def test_the_runner_fails_on_a_failing_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    docs = tmp_path / "docs"
    work = tmp_path / "work"
    docs.mkdir()
    work.mkdir()
    (tmp_path / "INCLUDED.md").write_text("```python\nvalue = 41\n```\n")
    page = docs / "page.md"
    page.write_text(
        "# A page\n\n```{include} ../INCLUDED.md\n```\n\n"
        "% doc-test: skip shown only\n```python\nraise SystemExit('never run')\n```\n\n"
        "```python\nassert value + 1 == 43, 'the sum'\n```\n"
    )
    with pytest.raises(AssertionError, match="the sum"):
        run_page(page, work)
    # The quick start's app and blueprint are there; what the page forgets to import is not
    # (the hook raises NameError, the error policy lets the item through, the assert fails).
    hook_and_check = (
        "from flask_friendcb.testing import signed_client\n\n"
        "@friendcb.on_friend_response\ndef refuse(item, event):\n    return Reject(38001)\n\n"
        "answer = signed_client(app).callback().json\n"
        'assert answer["ResultItem"][0]["ResultCode"] == 38001, "refused"\n'
    )
    page.write_text(f"```python\n{hook_and_check}```\n")
    with pytest.raises(AssertionError, match="refused"):
        run_page(page, work)
    page.write_text(f"```python\nfrom flask_friendcb import Reject\n{hook_and_check}```\n")
    assert run_page(page, work) == 1
    page.write_text(
        "% doc-test: file lib.py\n```python\nANSWER = 42\n```\n\n"
        "% doc-test: file test_lib.py\n```python\nfrom lib import ANSWER\n\n"
        "def test_answer():\n    assert ANSWER == 41\n```\n"
    )
    with pytest.raises(AssertionError, match=r"page\.md's tests failed"):
        run_page(page, work)
    assert "lib" not in sys.modules


def test_blocks_are_read_with_their_markers_and_includes(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "SECURITY.md").write_text("- a list item:\n\n  ```python\n  x = 1\n  ```\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "````markdown\n```python\nnot a block of its own\n```\n````\n\n"
        "```{include} ../SECURITY.md\n```\n\n"
        "% doc-test: file app.py\n\n```python\ny = 2\n```\n\n```console\n$ make\n```\n"
    )
    found = [(b.source.name, b.language, b.code, b.marker) for b in fenced_blocks(page)]
    assert found == [
        ("page.md", "markdown", "```python\nnot a block of its own\n```\n", None),
        ("SECURITY.md", "python", "x = 1\n", None),
        ("page.md", "python", "y = 2\n", ("file", "app.py")),
        ("page.md", "console", "$ make\n", None),
    ]


def test_the_site_builds_the_same_here_and_on_read_the_docs() -> None:
    """`make docs`, `make test` and .readthedocs.yaml build the same site with the same pins."""
    config = (ROOT / ".readthedocs.yaml").read_text(encoding="utf-8")
    assert re.search(r'^\s+python: "3\.11"$', config, re.MULTILINE)
    assert re.search(r"^\s+configuration: docs/conf\.py$", config, re.MULTILINE)
    assert re.search(r"extra_requirements:\n\s+- docs$", config, re.MULTILINE)
    assert re.search(r"^\s+fail_on_warning: true$", config, re.MULTILINE)

    setup = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    extra = re.search(r"^docs =\n((?:[ \t]+\S.*\n)+)", setup, re.MULTILINE)
    assert extra, "setup.cfg has no docs extra"
    requirements = [line.strip() for line in extra[1].splitlines()]
    assert any(r.lower().startswith("sphinx==") for r in requirements), requirements
    assert all(re.match(r"^[\w.-]+==[\w.]+(;.*)?$", r) for r in requirements), requirements

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"pip install .*-e '\.\[[^]]*\bdocs\b[^]]*\]'", makefile)
    assert re.search(r"^test:.*\bdocs\b", makefile, re.MULTILINE)
    assert re.search(r"sphinx -W --keep-going .*docs docs/_build/html", makefile)
    assert "docs/_build/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


if __name__ == "__main__":
    # python -m tests.test_docs PAGE FOLDER: run one page's examples (the test above).
    print(f"ran {run_page(Path(sys.argv[1]), Path(sys.argv[2]))} examples")


#: The README's sections before it shrank, each now a heading of a page under docs/.
MOVED_SECTIONS = (
    "Install",
    "Quick start",
    "Hooks",
    "What hooks see",
    "Other callbacks on the same URL",
    "Any WSGI application",
    "Configuration",
    "Wire behaviour and error codes",
    "Error codes",
    "Signals",
    "Logging",
    "Testing your hooks",
    "Command line",
    "OpenAPI",
    "Hostile input, faults and memory",
    "Performance",
    "Before going live",
    "FAQ",
    "The example service",
    "Under load: the soak",
)


def headings(text: str) -> set[str]:
    return {match[1].strip() for match in re.finditer(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def test_the_readme_is_short_and_points_to_every_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # About two screens: what a visitor needs in two minutes, the manual is the site.
    assert len(readme.splitlines()) <= 160, len(readme.splitlines())
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    toctree = re.findall(r"^([\w-]+)$", index, re.MULTILINE)
    assert len(toctree) >= 20, toctree
    unlinked = [page for page in toctree if f"(docs/{page}.md" not in readme]
    assert unlinked == [], "the README links to each page of the site"
    first_python = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert first_python, "the README has a Python example"
    assert "register_blueprint(" in first_python[1], "the quick start comes first"
    assert "make run" in readme
    assert "make test" in readme


def test_what_left_the_readme_is_in_the_docs() -> None:
    documented = set().union(*(headings(page.read_text(encoding="utf-8")) for page in pages()))
    assert [section for section in MOVED_SECTIONS if section not in documented] == []
