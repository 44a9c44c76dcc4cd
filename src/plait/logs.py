"""Credentials and secrets never reach the logs: a logging filter every ``plait`` command installs.

uvicorn's access log writes each request's path with its query string, so a client that puts a
credential in the URL (``?key=``, ``?token=``, a presigned ``?signature=``) would have it kept in
the log. :class:`RedactCredentials` rewrites every record of the loggers it is attached to: the
value of each query parameter whose name looks like a credential becomes ``[redacted]``, and so
do ``Bearer``/``Basic`` credentials and plait API keys (``plait_<id>_<secret>``) anywhere in the
message. Request headers are never logged by plait or uvicorn. A record written while a run
executes also has the values of the secrets that run read replaced by their markers
(``[secret:NAME]``), whichever library wrote it (httpx logs every URL it requests), its
traceback included.
"""

from __future__ import annotations

import logging
import re

from plait.secrets import redacted

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
    """Redact credentials and the current run's secrets in a record: its message (formatted
    with its arguments) and its traceback. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: the handler reports it as logging always does
            return True
        cleaned = redacted(redact(message))
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redacted(redact(_FORMATTER.formatException(record.exc_info)))
        return True


_FORMATTER = logging.Formatter()


def install(*loggers: str) -> None:
    """Attach a :class:`RedactCredentials` to each named logger and to every handler of the
    root logger, which every logger's records reach (once each)."""
    for holder in [*map(logging.getLogger, loggers), *logging.getLogger().handlers]:
        if not any(isinstance(f, RedactCredentials) for f in holder.filters):
            holder.addFilter(RedactCredentials())
