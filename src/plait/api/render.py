"""JSON responses of the API: the service's resources, sent as they are (no re-validation)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class Json(Response):
    """``application/json`` serialised with orjson (datetimes as ISO 8601)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def items(found: list[dict[str, Any]]) -> Json:
    """An unpaged list in the shape of a page: ``{"items": [...], "nextCursor": null}``. For
    short lists only: a listing that can grow pages with ``limit`` and a cursor."""
    return Json({"items": found, "nextCursor": None})


def no_content() -> Response:
    return Response(status_code=204)
