from __future__ import annotations

import dataclasses
import datetime as dt

import pydantic
import pytest

from plait import values


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Customer(pydantic.BaseModel):
    name: str
    since: dt.date


class Opaque:
    pass


def test_dataclasses_and_pydantic_models_become_plain_json() -> None:
    data = {"p": Point(1, 2), "c": Customer(name="Ada", since=dt.date(2020, 1, 2))}
    assert values.decode(values.encode(data)) == {
        "p": {"x": 1, "y": 2},
        "c": {"name": "Ada", "since": "2020-01-02"},
    }


def test_unserialisable_values_name_the_offending_type() -> None:
    with pytest.raises(TypeError, match="Opaque"):
        values.encode({"ok": 1, "bad": [Opaque()]})
    assert values.offending_type({"ok": 1, "bad": [Opaque()]}) == "Opaque"


def test_error_info_keeps_type_message_and_traceback() -> None:
    try:
        raise ValueError("card declined")
    except ValueError as exc:
        info = values.error_info(exc)
    assert info["type"] == "ValueError"
    assert info["message"] == "card declined"
    assert "raise ValueError" in info["traceback"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"ratio": float("nan")}, r"the number at \$\.ratio is NaN"),
        ([1.5, {"x": [float("inf")]}], r"the number at \$\[1\]\.x\[0\] is Infinity"),
        ({"a b": -float("inf")}, r'the number at \$\["a b"\] is -Infinity'),
    ],
)
def test_nan_and_infinity_are_refused_naming_where_not_stored_as_null(
    value: object, message: str
) -> None:
    with pytest.raises(TypeError, match=message + ", which JSON cannot hold"):
        values.encode(value)
    assert values.encode({"ratio": None, "n": 1.5}) == b'{"ratio":null,"n":1.5}'
