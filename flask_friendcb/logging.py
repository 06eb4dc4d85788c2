"""Keep Tencent's ``Sign`` out of access logs.

Servers log each request line, query string included, and a callback's ``Sign`` is a
credential for as long as its ``RequestTime`` is inside the window: anyone who reads it in a
log can replay the callback, with a body of their own, for up to a minute. The library never
logs it; the server in front of it does. :class:`SignFilter` masks it in any log record::

    from flask_friendcb.logging import mask_sign_in_logs

    mask_sign_in_logs()  # Werkzeug's development server, gunicorn's access and error logs

For gunicorn, put those two lines in its config file (``gunicorn -c gunicorn.conf.py``).
"""

from __future__ import annotations

import logging
import re

#: The loggers that write request lines: Werkzeug's development server, gunicorn's access log,
#: and gunicorn's error log (which quotes the request line of a request it cannot parse).
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")

#: What a masked Sign reads as.
MASK = "***"

# A Sign parameter, literal or percent-encoded as a whole (a URL quoted inside another), up to
# the end of its value; the name is matched in any case, as a parser might read it.
_SIGN = re.compile(
    r"(?:(?<=%3F)|(?<=%26)|(?<![A-Z0-9_.-]))(Sign(?:=|%3D))((?:(?!%26)[^&\s\"';,<>])*)",
    re.IGNORECASE,
)


def mask_sign(text: str) -> str:
    """``text`` with the value of every ``Sign=`` query parameter replaced by :data:`MASK`.

    >>> mask_sign("POST /im/callback?SdkAppid=1400000000&Sign=17773bc3&RequestTime=1 HTTP/1.1")
    'POST /im/callback?SdkAppid=1400000000&Sign=***&RequestTime=1 HTTP/1.1'
    """
    return _SIGN.sub(lambda match: match.group(1) + MASK, text)


class SignFilter(logging.Filter):
    """A logging filter that masks ``Sign`` in each record's message and lets it through.

    Attach it to a logger (it then sees that logger's own records) or to a handler (it sees
    everything the handler writes). A record whose message holds a Sign is rewritten to its
    masked, already formatted text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask ``Sign`` in the record's message and arguments; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:
            return True  # not ours to fix: the handler will report the broken record
        masked = mask_sign(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


def mask_sign_in_logs(*names: str) -> SignFilter:
    """Attach one :class:`SignFilter` to each named logger (by default
    :data:`ACCESS_LOGGERS`) and return it; a logger that has one already is left alone."""
    sign_filter = SignFilter()
    for name in names or ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, SignFilter) for existing in logger.filters):
            logger.addFilter(sign_filter)
    return sign_filter


__all__ = ["ACCESS_LOGGERS", "MASK", "SignFilter", "mask_sign", "mask_sign_in_logs"]
