"""docs/policies.md: every Python example runs, and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "policies.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
PRINTED = re.compile(r"^print\(.*\)\s+# (.*)$")


def expected_output(block: str) -> list[str]:
    """The lines the block's comments say it prints: ``print(...)  # out``, or ``# out`` on
    the line after a print without one."""
    lines = block.splitlines()
    expected = []
    for index, line in enumerate(lines):
        match = PRINTED.match(line)
        if match:
            expected.append(match.group(1).strip())
        elif line.startswith("print(") and index + 1 < len(lines):
            expected.append(lines[index + 1].removeprefix("# ").strip())
    return expected


def test_examples_run_as_printed() -> None:
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    for block in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102
        printed = [line.strip() for line in out.getvalue().splitlines()]
        assert printed == expected_output(block), block
