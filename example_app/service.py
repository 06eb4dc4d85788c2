"""What one app of the service holds: its settings, its stores, its clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

from .drainer import Drainer
from .settings import ExampleSettings
from .spool import Spool
from .store import Store

#: The key of the service's state in ``app.extensions``.
EXTENSION_KEY = "example_app"


@dataclass(frozen=True)
class Service:
    """The per-app state that hooks, signal receivers and the operator views share."""

    settings: ExampleSettings
    store: Store
    #: Unix seconds; the library's ``FRIENDCB_CLOCK``, so a test freezes both at once.
    clock: Callable[[], float]
    #: Where each answered callback is recorded before its answer leaves.
    spool: Spool
    #: Ships the spool to the audit database (``store.audit``); its ``on_shipped`` observers
    #: hear of each committed batch.
    drainer: Drainer

    def now_ms(self) -> int:
        """The clock, in milliseconds."""
        return int(self.clock() * 1000)


def get_service(app: Flask) -> Service:
    """``app``'s service state."""
    service: Service = app.extensions[EXTENSION_KEY]
    return service


def current_service() -> Service:
    """The service state of the app handling the current request."""
    return get_service(current_app)
