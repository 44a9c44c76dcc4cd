"""A webhook as every interface shows it (never its secret), pages of them, and the answer to a
request it received."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plait.resources.base import Page, Resource, Stamp, required_stamp
from plait.store.records import WebhookRecord


class Webhook(Resource):
    """A webhook: signed requests to ``url`` become events of the organization."""

    id: str = Field(alias="$id")
    type: Literal["Webhook"] = Field("Webhook", alias="$type")
    name: str
    scheme: Literal["hmac-sha256", "stripe", "github"]
    event_type: str | None = Field(None, description="The type of every event it emits.")
    mapping: str | None = Field(
        None, description="Or: a CEL expression of body and headers giving {type, data?, id?}."
    )
    created_at: Stamp
    url: str = Field(description="Where senders post: ``/~{org}/webhooks/{name}``.")

    @classmethod
    def of(cls, w: WebhookRecord) -> Webhook:
        return cls(
            id=w.id, name=w.name, scheme=w.scheme,  # type: ignore[arg-type]
            event_type=w.event_type, mapping=w.mapping, created_at=required_stamp(w.created_at),
            url=f"/~{w.org}/webhooks/{w.name}",
        )  # fmt: skip


class WebhookPage(Page[Webhook]):
    """Webhooks by name, a page at a time."""


class WebhookReceipt(Resource):
    """What a webhook request that verified became: the event it emitted."""

    id: str = Field(alias="$id", description="The event's id.")
    duplicate: bool = Field(
        False,
        description="True for a delivery already received (a repeated event id, or a replay of "
        "signed content accepted within the replay window): the first delivery's event, and "
        "no new run.",
    )
