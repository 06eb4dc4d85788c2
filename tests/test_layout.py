"""The layout holds: no import cycle inside the package, and the benchmarks and scripts share
helpers through ``devtools/``, never through ``tests/``.

Imports are read with :mod:`ast`, not by importing: every ``import`` statement of a module
counts, wherever it stands: at module level, inside ``if TYPE_CHECKING:``, and inside
functions (a lazy import is still a dependency, and only hides a cycle until the function
runs). Importing ``a.b.c`` is counted as a dependency on ``a.b.c`` only, not on the packages
``a`` and ``a.b`` whose ``__init__`` Python runs first: otherwise every sibling import would
"import" the package's ``__init__``, which imports its public modules.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import ROOT

PACKAGE = "flask_friendcb"
#: The folders whose code must not import the test suite.
OUTSIDE_TESTS = ("bench", "scripts", "devtools")


def module_names(package_dir: Path, package: str) -> dict[str, Path]:
    """Every module of the package (``__init__`` files named for their package)."""
    modules: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((package, *parts))] = path
    return modules


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """The absolute names every import statement of ``tree`` asks for (a module, or a module
    followed by a name taken from it), wherever the statement stands."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # A relative import counts from the module's package (a package's __init__
                # is its own package).
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, node.module] if node.module else parts)
            else:
                base = node.module or ""
            for alias in node.names:
                yield f"{base}.{alias.name}"


def import_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    """For each module of the package, the package's modules it imports."""
    modules = module_names(package_dir, package)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for name in imported_names(tree, module, path.name == "__init__.py"):
            # The longest prefix that is a module: `from .a import b` is module a.b when b is
            # a submodule, else the name b of module a.
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its first module repeated at the end), or ``None``."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph(ROOT / PACKAGE, PACKAGE)
    # The graph is not empty by accident: the adapters import the handler.
    assert f"{PACKAGE}.handler" in graph[f"{PACKAGE}.blueprint"]
    assert f"{PACKAGE}.handler" in graph[f"{PACKAGE}.wsgi"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {
                "__init__.py": "",
                "a.py": "def f():\n    from .b import g\n",
                "b.py": "from pkg import a\n",
            },
            {"pkg.a", "pkg.b"},
            id="lazy import in a function",
        ),
        pytest.param(
            {
                "__init__.py": "",
                "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.b\n",
                "b.py": "from .sub.c import x\n",
                "sub/__init__.py": "",
                "sub/c.py": "from ..a import y\n",
            },
            {"pkg.a", "pkg.b", "pkg.sub.c"},
            id="through a subpackage and TYPE_CHECKING",
        ),
        pytest.param(
            {"__init__.py": "from .a import thing\n", "a.py": "from . import __version__\n"},
            {"pkg", "pkg.a"},
            id="a module that imports the package back",
        ),
    ],
)
def test_the_cycle_check_finds_cycles(
    tmp_path: Path, files: dict[str, str], expected: set[str]
) -> None:
    cycle = find_cycle(import_graph(write_package(tmp_path, files), "pkg"))
    assert cycle is not None
    assert set(cycle) == expected


def test_the_cycle_check_passes_a_one_way_package(tmp_path: Path) -> None:
    package = write_package(
        tmp_path,
        {
            "__init__.py": "from .a import f\nfrom .b import g\n",
            "a.py": "from . import b\nfrom .sub import c\n",
            "b.py": "import json\n",
            "sub/__init__.py": "",
            "sub/c.py": "from ..b import g\n",
        },
    )
    graph = import_graph(package, "pkg")
    assert graph["pkg.a"] == {"pkg.b", "pkg.sub.c"}
    assert find_cycle(graph) is None


def test_imports_of_tests(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "import json\nfrom tests.conftest import TOKEN\ndef f():\n    import tests\n"
    )
    (tmp_path / "b.py").write_text("from devtools.servers import gunicorn\nimport testsuite\n")
    assert list(imports_of_tests(tmp_path)) == [
        (tmp_path / "a.py", "tests.conftest"),
        (tmp_path / "a.py", "tests"),
    ]


def imports_of_tests(folder: Path) -> Iterator[tuple[Path, str]]:
    """Each import of ``tests`` or a module of it, in the Python files under ``folder``."""
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            yield from ((path, name) for name in names if name.split(".")[0] == "tests")


@pytest.mark.parametrize("folder", OUTSIDE_TESTS)
def test_benchmarks_and_scripts_do_not_import_tests(folder: str) -> None:
    assert list((ROOT / folder).glob("*.py")), f"{folder}/ holds no Python file"
    found = [f"{path.relative_to(ROOT)}: {name}" for path, name in imports_of_tests(ROOT / folder)]
    assert found == [], "import the shared helpers from devtools/ instead"


#: The framework-free core: what an adapter for another framework would reuse as it is.
CORE = ("protocol", "models", "errors", "schemas", "auth", "config", "hooks", "handler")
FRAMEWORKS = ("flask", "werkzeug")
#: The modules built on the core: the core never imports them.
ADAPTERS = ("blueprint", "state", "wsgi", "asgi", "cli", "testing", "pytest_plugin")


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_no_framework_and_no_adapter(module: str) -> None:
    path = ROOT / PACKAGE / f"{module}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = list(imported_names(tree, f"{PACKAGE}.{module}", is_package=False))
    assert names, f"{module} imports nothing: is the check reading it?"
    assert [name for name in names if name.split(".")[0] in FRAMEWORKS] == []
    adapters = [f"{PACKAGE}.{adapter}" for adapter in ADAPTERS]
    assert [name for name in names if name.startswith(tuple(adapters))] == []


#: What the ASGI adapter must not import: it is pure ASGI 3, in front of any of these.
ASGI_FRAMEWORKS = (
    *FRAMEWORKS,
    "starlette",
    "fastapi",
    "quart",
    "litestar",
    "anyio",
    "httpx",
    "uvicorn",
    "hypercorn",
    "asgiref",
    "a2wsgi",
)


def test_the_asgi_adapter_imports_no_framework_and_only_the_core() -> None:
    path = ROOT / PACKAGE / "asgi.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = list(imported_names(tree, f"{PACKAGE}.asgi", is_package=False))
    assert f"{PACKAGE}.handler.CallbackHandler" in names
    assert [name for name in names if name.split(".")[0] in ASGI_FRAMEWORKS] == []
    # Of the package, only the core and the signals: not the Flask adapters.
    own = {name.split(".")[1] for name in names if name.startswith(f"{PACKAGE}.")}
    assert own <= {*CORE, "signals", "openapi"}, own - {*CORE, "signals", "openapi"}
