"""The log filter of `plait serve` (plait.logs): credentials in access-log lines and
messages become [redacted]; everything else is kept as written."""

from __future__ import annotations

import logging

import pytest

from plait.logs import RedactCredentials, redact


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("GET /~acme/runs?key=plait_AbCd1234_s3cr3t&limit=2 HTTP/1.1",
         "GET /~acme/runs?key=[redacted]&limit=2 HTTP/1.1"),
        ("GET /x?limit=1&api_key=abc&access_token=def HTTP/1.1",
         "GET /x?limit=1&api_key=[redacted]&access_token=[redacted] HTTP/1.1"),
        ("GET /f?X-Amz-Signature=0a1b&password=hunter2&client_secret=zz",
         "GET /f?X-Amz-Signature=[redacted]&password=[redacted]&client_secret=[redacted]"),
        ("Authorization: Bearer plait_AbCd1234_s3cr3t", "Authorization: Bearer [redacted]"),
        ("retrying with plait_AbCd1234_s3cr3t", "retrying with [redacted]"),
        ("GET /~acme/runs?workflow=greet&status=failed",
         "GET /~acme/runs?workflow=greet&status=failed"),
    ],
)  # fmt: skip
def test_credentials_are_redacted_and_the_rest_kept(line: str, shown: str) -> None:
    assert redact(line) == shown


def test_the_filter_rewrites_the_access_log_record_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/healthz?token=t0k3n", "1.1", 200), None,
    )  # fmt: skip
    assert RedactCredentials().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5000 - "GET /healthz?token=[redacted] HTTP/1.1" 200'
