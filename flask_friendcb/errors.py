"""The library's exceptions."""

from __future__ import annotations

from .protocol import ErrorCode


class ConfigError(ValueError):
    """A setting is missing or invalid; raised when the blueprint is registered or the
    middleware is built, so a misconfigured app fails at start-up, not on its first callback.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        #: The configuration key at fault, as the user spells it (``FRIENDCB_TOKEN``, ``token``).
        self.key = key


class CallbackRefused(Exception):
    """A callback the library refuses; the handler turns it into a FAIL answer.

    ``info`` goes to the caller as ``ErrorInfo`` and to the log, so it must never hold a
    secret (the token or ``Sign``).
    """

    def __init__(self, status: int, code: ErrorCode, info: str) -> None:
        super().__init__(info)
        self.status = status
        self.code = code
        self.info = info


class BodyReadError(Exception):
    """Raised by an adapter's body reader when the body cannot be read safely.

    Its message is sent to the caller, so it must describe the transport problem only.
    """
