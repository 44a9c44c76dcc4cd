"""Webhook signatures (generic HMAC, Stripe, GitHub), request-to-event mapping, and settings."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from typing import Any

import orjson
import pytest

from plait.resources.webhooks import Webhook
from plait.service.signatures import SCHEMES, SignatureRejected, sign, verify
from plait.service.webhook_events import WebhookMappingError, event_from_request
from plait.service.webhooks import WebhookInvalid, new_webhook
from plait.store.records import WebhookRecord

NOW = 1_800_000_000.0
SECRET = "whsec_test_secret"
BODY = b'{"id":"evt_1","type":"charge.succeeded","data":{"object":{"amount":500}}}'


def _hex(payload: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def _reason(scheme: str, headers: dict[str, str], body: bytes = BODY, **kw: Any) -> str:
    with pytest.raises(SignatureRejected) as info:
        verify(scheme, SECRET, headers, body, now=kw.pop("now", NOW), **kw)
    return info.value.reason


# -- formats, pinned against an independent HMAC ------------------------------------------------


def test_stripe_signs_timestamp_dot_body() -> None:
    headers = {"Stripe-Signature": f"t=1800000000,v1={_hex(b'1800000000.' + BODY)}"}
    verify("stripe", SECRET, headers, BODY, now=NOW)
    assert sign("stripe", SECRET, BODY, timestamp=NOW) == headers


def test_github_signs_the_raw_body() -> None:
    headers = {"X-Hub-Signature-256": f"sha256={_hex(BODY)}"}
    verify("github", SECRET, headers, BODY, now=NOW)
    assert sign("github", SECRET, BODY, timestamp=NOW) == headers


def test_generic_signs_timestamp_dot_body_when_a_timestamp_is_sent() -> None:
    headers = {
        "X-Signature-256": f"sha256={_hex(b'1800000000.' + BODY)}",
        "X-Signature-Timestamp": "1800000000",
    }
    verify("hmac-sha256", SECRET, headers, BODY, now=NOW)
    assert sign("hmac-sha256", SECRET, BODY, timestamp=NOW) == headers


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Signature-256": f"sha256={_hex(BODY)}"},
        {"X-Signature": f"sha256={_hex(BODY)}"},
        {"X-Signature-256": _hex(BODY)},
        {"x-signature": _hex(BODY).upper()},
    ],
    ids=["sha256-header", "plain-header", "bare-hex", "upper-case"],
)
def test_generic_without_timestamp_signs_the_body(headers: dict[str, str]) -> None:
    verify("hmac-sha256", SECRET, headers, BODY, now=NOW)


def test_generic_prefers_x_signature_256_over_x_signature() -> None:
    headers = {"X-Signature-256": f"sha256={_hex(BODY)}", "X-Signature": "0" * 64}
    verify("hmac-sha256", SECRET, headers, BODY, now=NOW)
    headers = {"X-Signature-256": "0" * 64, "X-Signature": f"sha256={_hex(BODY)}"}
    assert _reason("hmac-sha256", headers) == "signature does not match"


# -- round trips and rejections, every scheme ---------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("body", [BODY, b"", b"not json \xff\x00", b"x" * 100_000])
def test_sign_then_verify_round_trips(scheme: str, body: bytes) -> None:
    verify(scheme, SECRET, sign(scheme, SECRET, body, timestamp=NOW), body, now=NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_header_names_are_case_insensitive(scheme: str) -> None:
    headers = sign(scheme, SECRET, BODY, timestamp=NOW)
    for convert in (str.lower, str.upper):
        verify(scheme, SECRET, {convert(k): v for k, v in headers.items()}, BODY, now=NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_tampered_body_does_not_match(scheme: str) -> None:
    headers = sign(scheme, SECRET, BODY, timestamp=NOW)
    tampered = BODY.replace(b"500", b"900")
    assert _reason(scheme, headers, tampered) == "signature does not match"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_wrong_secret_does_not_match(scheme: str) -> None:
    headers = sign(scheme, "another secret", BODY, timestamp=NOW)
    assert _reason(scheme, headers) == "signature does not match"


@pytest.mark.parametrize("scheme", ["stripe", "hmac-sha256"])
@pytest.mark.parametrize("skew", [301.0, -301.0, 86_400.0 * 365])
def test_stale_and_future_timestamps_are_rejected(scheme: str, skew: float) -> None:
    headers = sign(scheme, SECRET, BODY, timestamp=NOW - skew)
    assert _reason(scheme, headers) == "timestamp outside the 300s tolerance"


@pytest.mark.parametrize("scheme", ["stripe", "hmac-sha256"])
def test_timestamps_within_the_tolerance_pass(scheme: str) -> None:
    for skew in (-300.0, 0.0, 299.5, 300.0):
        verify(scheme, SECRET, sign(scheme, SECRET, BODY, timestamp=NOW - skew), BODY, now=NOW)


def test_the_tolerance_is_configurable() -> None:
    headers = sign("stripe", SECRET, BODY, timestamp=NOW - 100)
    verify("stripe", SECRET, headers, BODY, now=NOW, tolerance=100)
    reason = _reason("stripe", headers, tolerance=60)
    assert reason == "timestamp outside the 60s tolerance"


def test_a_forged_request_with_a_stale_timestamp_is_told_only_that_it_does_not_match() -> None:
    headers = sign("stripe", "not the secret", BODY, timestamp=NOW - 10_000)
    assert _reason("stripe", headers) == "signature does not match"


def test_a_timestamp_cannot_be_moved_without_the_secret() -> None:
    signed = sign("stripe", SECRET, BODY, timestamp=NOW - 10_000)["Stripe-Signature"]
    moved = signed.replace(f"t={int(NOW - 10_000)}", f"t={int(NOW)}")
    assert _reason("stripe", {"Stripe-Signature": moved}) == "signature does not match"
    generic = sign("hmac-sha256", SECRET, BODY, timestamp=NOW - 10_000)
    generic["X-Signature-Timestamp"] = str(int(NOW))
    assert _reason("hmac-sha256", generic) == "signature does not match"


def test_a_generic_signature_of_the_body_alone_fails_once_a_timestamp_is_sent() -> None:
    headers = {"X-Signature-256": f"sha256={_hex(BODY)}", "X-Signature-Timestamp": str(int(NOW))}
    assert _reason("hmac-sha256", headers) == "signature does not match"


@pytest.mark.parametrize(
    ("scheme", "header"),
    [("stripe", "Stripe-Signature"), ("github", "X-Hub-Signature-256"),
     ("hmac-sha256", "X-Signature-256")],
)  # fmt: skip
def test_a_missing_header_is_named(scheme: str, header: str) -> None:
    headers = {"Content-Type": "application/json", "X-Hub-Signature": "sha1=abc"}
    assert _reason(scheme, headers) == f"missing signature header {header!r}"


def test_stripe_accepts_any_v1_and_ignores_other_versions() -> None:
    good = _hex(b"1800000000." + BODY)
    header = f"t=1800000000, v0={'1' * 64}, v1={'0' * 64}, v1={good}, v1=not-hex"
    verify("stripe", SECRET, {"Stripe-Signature": header}, BODY, now=NOW)
    wrong = f"t=1800000000,v1={'0' * 64},v1={'f' * 64}"
    assert _reason("stripe", {"Stripe-Signature": wrong}) == "signature does not match"


GOOD_V1 = _hex(b"1800000000." + BODY)
MALFORMED = {
    "stripe": [
        "",
        "garbage",
        f"v1={GOOD_V1}",
        "t=1800000000",
        f"t=1800000000,v0={GOOD_V1}",
        f"t=abc,v1={GOOD_V1}",
        f"t=-1800000000,v1={GOOD_V1}",
        f"t=1800000000.5,v1={GOOD_V1}",
        f"t=1800000000,t=1800000001,v1={GOOD_V1}",
        f"t={'9' * 5000},v1={GOOD_V1}",
        f"t=1800000000,v1={GOOD_V1[:-1]}",
        f"t=1800000000,v1={GOOD_V1}é",
        f"t=\uff11\uff18\uff10\uff10,v1={GOOD_V1}",  # full-width digits
        "t=1800000000," + ",".join([f"v1={GOOD_V1}"] * 200),
        "," * 10_000,
    ],
    "github": [
        "",
        _hex(BODY),
        f"sha1={_hex(BODY)}",
        f"sha256={_hex(BODY)[:-2]}",
        f"sha256={_hex(BODY)}00",
        f"sha256={'g' * 64}",
        "sha256=" + "é" * 64,
        "sha256=" + "a" * 1_000_000,
    ],
    "hmac-sha256": ["", "sha256=", "sha512=" + "0" * 64, "0" * 63, "z" * 64, "\u0663" * 64],
}


@pytest.mark.parametrize(
    ("scheme", "value"), [(s, v) for s, values in MALFORMED.items() for v in values]
)
def test_malformed_headers_are_rejected_as_malformed(scheme: str, value: str) -> None:
    header = {"stripe": "Stripe-Signature", "github": "X-Hub-Signature-256"}.get(
        scheme, "X-Signature-256"
    )
    assert _reason(scheme, {header: value}) == "malformed signature header"


@pytest.mark.parametrize("stamp", ["", "soon", "1.5", "-5", "1" * 13, "\u0661\u0668\u0660\u0660"])
def test_a_malformed_generic_timestamp_is_rejected(stamp: str) -> None:
    headers = {"X-Signature-256": f"sha256={_hex(BODY)}", "X-Signature-Timestamp": stamp}
    reason = _reason("hmac-sha256", headers)
    assert reason == "malformed timestamp header 'X-Signature-Timestamp'"


def test_garbage_never_raises_anything_but_signature_rejected() -> None:
    rng = random.Random(7)
    alphabet = "tv01=, \t;:abcdefABCDEF0123456789sha256é\x00\xff\u202e"
    names = ["Stripe-Signature", "X-Hub-Signature-256", "X-Signature-256", "X-Signature",
             "X-Signature-Timestamp", "X-GitHub-Delivery"]  # fmt: skip
    for _ in range(2000):
        headers = {
            rng.choice(names): "".join(rng.choices(alphabet, k=rng.randrange(0, 120)))
            for _ in range(rng.randrange(0, 4))
        }
        for scheme in SCHEMES:
            with pytest.raises(SignatureRejected):
                verify(scheme, SECRET, headers, rng.randbytes(rng.randrange(0, 50)), now=NOW)


def test_an_unknown_scheme_or_an_empty_secret_rejects_every_request() -> None:
    with pytest.raises(SignatureRejected, match="unknown signature scheme 'svix'"):
        verify("svix", SECRET, {}, BODY, now=NOW)
    headers = {"X-Hub-Signature-256": f"sha256={_hex(BODY, '')}"}
    with pytest.raises(SignatureRejected, match="no secret"):
        verify("github", "", headers, BODY, now=NOW)


def test_sign_refuses_what_it_cannot_sign() -> None:
    with pytest.raises(ValueError, match="needs a timestamp"):
        sign("stripe", SECRET, BODY, timestamp=None)
    with pytest.raises(ValueError, match="unknown signature scheme"):
        sign("svix", SECRET, BODY, timestamp=NOW)
    assert sign("hmac-sha256", SECRET, BODY, timestamp=None) == {
        "X-Signature-256": f"sha256={_hex(BODY)}"
    }


# -- requests to events -------------------------------------------------------------------------


def _spec(
    scheme: str = "hmac-sha256", event_type: str | None = None, mapping: str | None = None
) -> WebhookRecord:
    return WebhookRecord(
        "webhook_a1B2c3D4", "acme", "hook", scheme, SECRET, event_type, mapping, NOW
    )


def test_a_fixed_event_type_carries_the_json_body_as_data() -> None:
    event = event_from_request(_spec(event_type="Payment.received"), {}, BODY)
    assert event == ("Payment.received", orjson.loads(BODY), None)


@pytest.mark.parametrize(
    ("body", "data"),
    [
        (b"plain text", {"body": "plain text"}),
        (b"", {"body": ""}),
        (b"\xff\xfe", {"body": "\ufffd\ufffd"}),
        (b"[1, 2]", {"body": [1, 2]}),
        (b"42", {"body": 42}),
        (b"null", {"body": None}),
    ],
)
def test_a_body_that_is_not_a_json_object_is_wrapped(body: bytes, data: dict[str, Any]) -> None:
    assert event_from_request(_spec(event_type="T"), {}, body)[1] == data


@pytest.mark.parametrize(
    ("scheme", "headers", "body", "event_id"),
    [
        ("stripe", {}, BODY, "evt_1"),
        ("stripe", {"X-Request-Id": "req_9"}, b'{"id": 5}', "req_9"),
        ("github", {"X-GitHub-Delivery": "72d3162e", "X-Request-Id": "r"}, BODY, "72d3162e"),
        ("github", {"x-github-delivery": " 72d3162e "}, BODY, "72d3162e"),
        ("github", {}, BODY, None),
        ("hmac-sha256", {"X-Request-Id": "req_1", "Idempotency-Key": "k"}, BODY, "req_1"),
        ("hmac-sha256", {"idempotency-key": "key_1"}, BODY, "key_1"),
        ("hmac-sha256", {"X-Request-Id": "", "Idempotency-Key": "key_1"}, BODY, "key_1"),
        ("hmac-sha256", {"X-GitHub-Delivery": "not for this scheme"}, BODY, None),
        ("hmac-sha256", {}, BODY, None),
    ],
)
def test_default_event_ids(
    scheme: str, headers: dict[str, str], body: bytes, event_id: str | None
) -> None:
    assert event_from_request(_spec(scheme, event_type="T"), headers, body)[2] == event_id


def test_a_mapping_computes_type_data_and_id() -> None:
    mapping = '{"type": "Stripe." + body.type, "data": body.data.object, "id": body.id}'
    event = event_from_request(_spec("stripe", mapping=mapping), {}, BODY)
    assert event == ("Stripe.charge.succeeded", {"amount": 500}, "evt_1")


def test_a_mapping_reads_lower_cased_headers_and_defaults_data_and_id() -> None:
    mapping = '{"type": "GitHub." + headers["x-github-event"]}'
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1"}
    event = event_from_request(_spec("github", mapping=mapping), headers, BODY)
    assert event == ("GitHub.push", orjson.loads(BODY), "d-1")


def test_a_mapping_id_may_be_a_number_and_null_or_empty_means_the_default() -> None:
    spec = _spec(mapping='{"type": "T", "id": body.n}')
    assert event_from_request(spec, {"X-Request-Id": "r"}, b'{"n": 7}')[2] == "7"
    assert event_from_request(spec, {"X-Request-Id": "r"}, b'{"n": null}')[2] == "r"
    assert event_from_request(spec, {"X-Request-Id": "r"}, b'{"n": ""}')[2] == "r"


def test_a_mapping_can_read_a_text_body() -> None:
    spec = _spec(mapping='{"type": "Text", "data": {"text": body}}')
    assert event_from_request(spec, {}, b"hello") == ("Text", {"text": "hello"}, None)


@pytest.mark.parametrize(
    ("mapping", "body", "reason"),
    [
        ('{"type": body.kind}', BODY, "the mapping failed: no key 'kind' in body"),
        ('{"type": body.type}', b"text", "the mapping failed: body is a string"),
        ('"Payment.received"', BODY, "the mapping gave a string, not a map with a type"),
        ('{"data": body}', BODY, "the mapping's type is null, not a non-empty string"),
        ('{"type": ""}', BODY, "the mapping's type is an empty string"),
        ('{"type": 1}', BODY, "the mapping's type is an int"),
        ('{"type": "T", "evenType": "x"}', BODY, "unknown key 'evenType'"),
        ('{"type": "T", "data": body.id}', BODY, "the mapping's data is a string, not a map"),
        ('{"type": "T", "id": [1]}', BODY, "the mapping's id is a list, not a string"),
        ('{"type": "T", "id": true}', BODY, "the mapping's id is a bool, not a string"),
        ('{"type": "T", "id": body.id + body.id}', b'{"id": "' + b"x" * 200 + b'"}',
         "the event id is longer than 255 characters"),
    ],
)  # fmt: skip
def test_mapping_failures_say_why(mapping: str, body: bytes, reason: str) -> None:
    with pytest.raises(WebhookMappingError) as info:
        event_from_request(_spec(mapping=mapping), {}, body)
    assert info.value.webhook == "hook"
    assert reason in info.value.reason


def test_an_over_long_header_id_is_refused() -> None:
    with pytest.raises(WebhookMappingError, match="longer than 255"):
        event_from_request(_spec(event_type="T"), {"X-Request-Id": "r" * 256}, BODY)


# -- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "0", "stripe-prod", "gh_1.x", "a" * 63, "webhook-1"])
def test_valid_names(name: str) -> None:
    spec = new_webhook("acme", name, "github", SECRET, event_type="GitHub.push", now=NOW)
    assert spec.name == name
    assert re.fullmatch(r"webhook_[0-9A-Za-z]{8}", spec.id)
    assert (spec.org, spec.scheme, spec.secret, spec.created_at) == ("acme", "github", SECRET, NOW)


@pytest.mark.parametrize(
    "name",
    ["", "A", "Stripe", "-x", ".x", "_x", "a" * 64, "has space", "ü", "a/b", "a\n", "webhook_a1"],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(WebhookInvalid) as info:
        new_webhook("acme", name, "github", SECRET, event_type="T", now=NOW)
    assert info.value.path == "name"


@pytest.mark.parametrize(
    ("kwargs", "path", "reason"),
    [
        ({"scheme": "svix"}, "scheme", "unknown scheme 'svix'"),
        ({"secret": ""}, "secret", "the secret is empty"),
        ({"secret": "whsec_abc\n"}, "secret", "whitespace"),
        ({"secret": "s" * 1025}, "secret", "longer than 1024"),
        ({"event_type": None}, "eventType", "give an event type or a mapping"),
        ({"mapping": '{"type": "T"}'}, "mapping", "not both"),
        ({"event_type": ""}, "eventType", "the event type is an empty string"),
        ({"event_type": "T" * 201}, "eventType", "longer than 200"),
        ({"event_type": None, "mapping": '{"type": '}, "mapping", "does not compile"),
        ({"event_type": None, "mapping": '{"type": input.x}'}, "mapping", "unknown name 'input'"),
    ],
)
def test_invalid_settings_name_the_field(kwargs: dict[str, Any], path: str, reason: str) -> None:
    settings: dict[str, Any] = {"scheme": "stripe", "secret": SECRET, "event_type": "T"}
    with pytest.raises(WebhookInvalid) as info:
        new_webhook("acme", "hook", **{**settings, **kwargs}, now=NOW)
    assert info.value.path == path
    assert reason in info.value.reason


def test_a_mapping_webhook_is_valid() -> None:
    mapping = '{"type": "Stripe." + body.type, "id": headers["x-request-id"]}'
    spec = new_webhook("acme", "stripe", "stripe", SECRET, mapping=mapping, now=NOW)
    assert (spec.event_type, spec.mapping) == (None, mapping)


def test_the_resource_and_repr_leave_the_secret_out() -> None:
    spec = new_webhook("acme", "stripe", "stripe", SECRET, event_type="Payment.received", now=NOW)
    assert Webhook.of(spec).wire() == {
        "$id": spec.id,
        "$type": "Webhook",
        "name": "stripe",
        "scheme": "stripe",
        "eventType": "Payment.received",
        "mapping": None,
        "createdAt": "2027-01-15T08:00:00.000Z",
        "url": "/~acme/webhooks/stripe",
    }
    assert SECRET not in repr(spec)
    assert SECRET not in str(Webhook.of(spec).wire())
