"""Links and e-mail addresses in a folded text (:func:`~.normalize.plain_view`).

A host name counts as a link when the public suffix list (``tldextract``'s bundled snapshot,
never fetched at run time) knows its suffix, and it reads like an address rather than a
sentence: a scheme or ``www.`` before it, a path or port after it, a subdomain, a suffix of two
labels (``com.cn``), or a suffix of at most three letters with a name of two letters or more
before it (and not a title such as ``Mr.``). So ``example.com``, ``例子.cn`` and ``t.me/spam``
are links; ``best.friends``, ``No.1``, ``Mr.Li`` and ``hello.world`` are not.
"""

from __future__ import annotations

import functools
import re
import threading

from .errors import missing_extra

try:
    import tldextract
except ImportError as error:
    raise missing_extra("policies", error) from error

_SCHEME = re.compile(r"(?<![a-z0-9])[a-z][a-z0-9+.-]{1,15}://[^\s]+|(?<![a-z0-9.])www\.[^\s.]+")
_LABEL = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|[\u3400-\u9fff]+)"
_HOST = re.compile(
    rf"(?<![a-z0-9.@_-])((?:{_LABEL}\.)+(?:[a-z]{{2,24}}|[\u3400-\u9fff]{{2,4}}))"
    r"(?![a-z0-9_-])([:/?#][^\s]*)?"
)
_EMAIL = re.compile(
    r"(?<![a-z0-9._%+-])[a-z0-9._%+-]{1,64}@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}"
    r"(?![a-z0-9])"
)

_extractor: tldextract.TLDExtract | None = None
_lock = threading.Lock()


def _extract() -> tldextract.TLDExtract:
    global _extractor
    if _extractor is None:
        with _lock:
            if _extractor is None:
                # No URL to fetch and no cache: the snapshot inside the package, offline.
                _extractor = tldextract.TLDExtract(
                    suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True
                )
    return _extractor


def find_email(text: str) -> tuple[int, int] | None:
    """The span of the first e-mail address in folded ``text``, or ``None``."""
    match = _EMAIL.search(text) if "@" in text else None
    return match.span() if match else None


def find_link(text: str) -> tuple[int, int] | None:
    """The span of the first link in folded ``text``, or ``None``."""
    scheme = _SCHEME.search(text) if "://" in text or "www." in text else None
    found = [scheme.span()] if scheme else []
    for match in _HOST.finditer(text):
        if _is_link(match.group(1), bool(match.group(2))):
            found.append(match.span())
            break
    return min(found) if found else None


#: Titles written before a name without a space: "Mr.Li" and "Dr.Ma" are people, not hosts
#: in Liechtenstein and Morocco.
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "st", "no", "sr", "jr"})


_top_levels: frozenset[str] | None = None


def _top_level(label: str) -> bool:
    """Whether ``label`` ends some public suffix (``com``, ``cn``, ``中国``): a host whose last
    label ends none is no link, and costs no look-up in the list."""
    global _top_levels
    if _top_levels is None:
        _top_levels = frozenset(suffix.rsplit(".", 1)[-1] for suffix in _extract().tlds if suffix)
    return label in _top_levels


@functools.lru_cache(maxsize=4096)
def _is_link(host: str, has_path: bool) -> bool:
    if not _top_level(host.rsplit(".", 1)[-1]):
        return False
    parts = _extract()(host)
    if not parts.suffix or not parts.domain:
        return False
    if has_path or parts.subdomain or "." in parts.suffix or not parts.suffix.isascii():
        return True  # bit.ly/x, a.example.com, example.com.cn, 例子.中国
    return len(parts.suffix) <= 3 and len(parts.domain) >= 2 and parts.domain not in _TITLES
