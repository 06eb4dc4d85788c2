"""What the policies raise: a storage that failed, and a missing optional dependency."""

from __future__ import annotations


class PolicyStorageError(Exception):
    """A policy's storage failed or took longer than its ``timeout``.

    A policy never lets it escape while deciding an item (its ``on_error`` decides instead);
    the operator calls (``BlocklistPolicy.add`` and the like) raise it.
    """


def missing_extra(extra: str, error: ImportError) -> ImportError:
    """An :class:`ImportError` that names the extra to install for the module ``error`` lacks."""
    module = error.name or str(error)
    return ImportError(
        f"this policy needs {module!r}, which is not installed: "
        f"pip install 'flask-friendcb[{extra}]'",
        name=error.name,
    )
