"""What every config shares: type checks at construction, strict copying and loading, and the
range rules with their messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from aiayn.config import ModelConfig, TrainConfig
from aiayn.config._base import ConfigBase, at_least, greater_than, in_range, one_of


@dataclass(frozen=True)
class Toy(ConfigBase):
    count: int = 1
    rate: float = 0.5
    limit: int | None = None
    mode: Literal["a", "b"] = "a"
    name: str = "x"
    flag: bool = False

    def validate(self) -> None:
        at_least("count", self.count, 0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"count": "3"}, "count must be an integer, got '3'"),
        ({"count": 2.0}, "count must be an integer, got 2.0"),
        ({"rate": "fast"}, "rate must be a number, got 'fast'"),
        ({"limit": 1.5}, "limit must be an integer or null, got 1.5"),
        ({"name": 3}, "name must be a string, got 3"),
        ({"flag": 1}, "flag must be true or false, got 1"),
        ({"mode": "c"}, "mode must be 'a' or 'b', got 'c'"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_by_name(changes: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        Toy(**changes)
    assert str(error.value) == message


@pytest.mark.parametrize("field", ["count", "limit"])
def test_a_bool_is_not_an_integer(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be an integer.*got True"):
        Toy(**{field: True})


def test_a_bool_is_not_a_number() -> None:
    with pytest.raises(ValueError, match="rate must be a number, got False"):
        Toy(rate=False)
    with pytest.raises(ValueError, match="lr must be a number or null, got True"):
        TrainConfig(lr=True)


def test_an_integer_is_accepted_for_a_float_and_becomes_one() -> None:
    toy = Toy(rate=2)
    assert toy.rate == 2.0 and type(toy.rate) is float
    assert type(ModelConfig(p_drop=0).p_drop) is float
    assert type(TrainConfig(lr=1).lr) is float  # a `float | None` field too
    assert TrainConfig(lr=None).lr is None


def test_literal_fields_take_only_their_values() -> None:
    assert Toy(mode="b").mode == "b"
    with pytest.raises(ValueError, match="arch must be 'encoder-decoder' or 'decoder-only'"):
        ModelConfig(arch="rnn")  # type: ignore[arg-type]


def test_the_class_rules_run_after_the_type_checks() -> None:
    with pytest.raises(ValueError, match="count must be >= 0, got -1"):
        Toy(count=-1)


def test_replace_checks_again_and_refuses_unknown_names() -> None:
    toy = Toy()
    assert toy.replace(count=5) == Toy(count=5) and toy.count == 1  # a copy
    with pytest.raises(ValueError, match="count must be an integer"):
        toy.replace(count="5")
    with pytest.raises(ValueError, match=r"unknown Toy field\(s\): cuont, nmae"):
        toy.replace(nmae="y", cuont=2)
    with pytest.raises(ValueError, match="unknown ModelConfig field.*d_modle"):
        ModelConfig().replace(d_modle=3)


def test_from_dict_refuses_unknown_names_and_what_is_not_a_table() -> None:
    toy = Toy(count=3, rate=0.1, limit=4, mode="b", name="y", flag=True)
    assert Toy.from_dict(toy.to_dict()) == toy
    assert Toy.field_names() == {"count", "rate", "limit", "mode", "name", "flag"}
    with pytest.raises(ValueError, match=r"unknown Toy field\(s\): colour"):
        Toy.from_dict({"count": 2, "colour": "red"})
    with pytest.raises(ValueError, match="a Toy must be a table of settings, got"):
        Toy.from_dict([("count", 2)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="count must be an integer"):
        Toy.from_dict({"count": "2"})


def test_rule_helpers_name_the_value_and_the_limit() -> None:
    at_least("n", None, 1)  # None means "not set"
    greater_than("x", None, 0.0)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        at_least("n", 0, 1)
    with pytest.raises(ValueError, match="x must be > 0.0, got 0.0"):
        greater_than("x", 0.0, 0.0)
    in_range("p", 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"p must be in \[0.0, 1.0\), got 1.0"):
        in_range("p", 1.0, 0.0, 1.0)
    in_range("p", 1.0, 0.0, 1.0, closed=True)
    with pytest.raises(ValueError, match=r"p must be in \[0.0, 1.0\], got 1.5"):
        in_range("p", 1.5, 0.0, 1.0, closed=True)
    with pytest.raises(ValueError, match="k must be one of 'a', 'b', got 'c'"):
        one_of("k", "c", ("a", "b"))
