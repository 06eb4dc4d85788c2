"""Ready policies: hooks for the common abuse patterns, built on the field's own libraries.

```python
from flask_friendcb.policies import BlocklistPolicy, ContentPolicy, RateLimitPolicy

friendcb.on_friend_response(BlocklistPolicy(storage_uri="redis://localhost:6379/0"))
friendcb.on_friend_response(ContentPolicy(banned_words=words, allowed_words=["essex"]))
friendcb.on_friend_response(RateLimitPolicy("20/minute", storage_uri="redis://localhost:6379/0"))
```

Each name is imported when first used, so an app that uses only the blocklist on SQLite needs
no optional dependency; one that lacks a policy's extra gets an ``ImportError`` naming it
(``flask-friendcb[policies]`` or ``flask-friendcb[redis]``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Policy
    from .blocklist import BlocklistPolicy
    from .content import ContentMatch, ContentPolicy
    from .errors import PolicyStorageError
    from .ratelimit import RateLimitPolicy
    from .storage import BlocklistEntry

__all__ = [
    "BlocklistEntry",
    "BlocklistPolicy",
    "ContentMatch",
    "ContentPolicy",
    "Policy",
    "PolicyStorageError",
    "RateLimitPolicy",
]

_MODULES = {
    "BlocklistEntry": ".storage",
    "BlocklistPolicy": ".blocklist",
    "ContentMatch": ".content",
    "ContentPolicy": ".content",
    "Policy": ".base",
    "PolicyStorageError": ".errors",
    "RateLimitPolicy": ".ratelimit",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
