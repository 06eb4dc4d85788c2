"""The identity the suite, the benchmarks and the scripts sign with, and a clock stopped at a
known time."""

from __future__ import annotations

from flask_friendcb import testing

SDKAPPID = "1400000000"
TOKEN = "test-token-0123456789"
OLD_TOKEN = "old-token-9876543210"
#: The Unix time a :class:`FrozenClock` shows unless told otherwise.
NOW = 1_700_000_000
PATH = "/im/callback"


class FrozenClock(testing.FrozenClock):
    """The testing kit's clock, stopped at NOW unless told otherwise."""

    def __init__(self, now: float = NOW) -> None:
        super().__init__(now)
