"""Credentials never reach the server's logs: a logging filter for ``plait serve``.

uvicorn's access log writes each request's path with its query string, so a client that puts a
credential in the URL (``?key=``, ``?token=``, a presigned ``?signature=``) would have it kept in
the log. :class:`RedactCredentials` rewrites every record of the loggers it is attached to: the
value of each query parameter whose name looks like a credential becomes ``[redacted]``, and so
do ``Bearer``/``Basic`` credentials and plait API keys (``plait_<id>_<secret>``) anywhere in the
message. Request headers are never logged by plait or uvicorn.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

_CREDENTIAL_NAME = (
    r"[A-Za-z0-9_.\-]*(?:key|token|secret|passw(?:or)?d|pwd|signature|auth|credential|session)"
    r"[A-Za-z0-9_.\-]*"
)
_QUERY_VALUE = re.compile(rf"(?i)([?&;]{_CREDENTIAL_NAME}=)[^&;\s\"']*")
_SCHEME_VALUE = re.compile(r"(?i)\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=\-]+")
_API_KEY = re.compile(r"\bplait_[A-Za-z0-9]+_[A-Za-z0-9]+")


def redact(text: str) -> str:
    """``text`` with the credentials it may hold replaced by ``[redacted]``."""
    text = _QUERY_VALUE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SCHEME_VALUE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _API_KEY.sub(REDACTED, text)


class RedactCredentials(logging.Filter):
    """Redact credentials in a record's message and string arguments (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}  # fmt: skip
        return True


def install(*loggers: str) -> None:
    """Attach a :class:`RedactCredentials` to each named logger (once)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())
