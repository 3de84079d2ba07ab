"""``@message`` classes behave as the frozen dataclasses they replace (chalicelib/handlers/message.py)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.handlers.message import Message, message
from chalicelib.handlers.protocol import PutEntity


@message
class Point(Message):
    x: int
    label: str
    tags: list[str] = dataclasses.field(default_factory=list)
    note: str | None = None
    weight: float = 1.5


@dataclasses.dataclass(frozen=True)
class DataPoint:
    x: int
    label: str
    tags: list[str] = dataclasses.field(default_factory=list)
    note: str | None = None
    weight: float = 1.5


@message
class Plain(Message):
    """A docstring of its own."""

    a: int


@message
class Child(Point):
    extra: int = 0


@dataclasses.dataclass(frozen=True)
class DataChild(DataPoint):
    extra: int = 0


NAMES = ("x", "label", "tags", "note", "weight", "nope")
values = st.one_of(st.integers(-3, 3), st.text(max_size=3), st.none(), st.lists(st.text(max_size=2), max_size=2))


def outcome(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
    try:
        obj = cls(*args, **kwargs)
    except TypeError as exc:  # the messages differ only in the class name
        return "TypeError", str(exc).replace(cls.__qualname__, "C")
    return "ok", (repr(obj).replace(cls.__qualname__, "C"), dataclasses.asdict(obj))


@given(
    args=st.lists(values, max_size=7).map(tuple),
    kwargs=st.dictionaries(st.sampled_from(NAMES), values, max_size=4),
)
def test_construction_matches_a_frozen_dataclass(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    assert outcome(Point, args, kwargs) == outcome(DataPoint, args, kwargs)
    assert outcome(Child, args, kwargs) == outcome(DataChild, args, kwargs)


@message
class Pair(Message):
    x: int
    label: str = ""


@dataclasses.dataclass(frozen=True)
class DataPair:
    x: int
    label: str = ""


@given(a=st.tuples(st.integers(0, 2), st.text(max_size=2)), b=st.tuples(st.integers(0, 2), st.text(max_size=2)))
def test_equality_and_hash_match_a_frozen_dataclass(a: tuple[int, str], b: tuple[int, str]) -> None:
    pa, pb = Pair(*a), Pair(*b)
    assert (pa == pb) == (DataPair(*a) == DataPair(*b))
    assert (pa != pb) == (DataPair(*a) != DataPair(*b))
    assert hash(pa) == hash(DataPair(*a))  # both hash the tuple of the fields
    # keywords in another order make an equal instance with the same hash and repr
    same = Pair(label=a[1], x=a[0])
    assert same == pa and hash(same) == hash(pa) and repr(same) == repr(pa)


def test_hash_follows_fields_and_unhashable_fields_raise_as_in_a_dataclass() -> None:
    assert hash(Plain(3)) == hash(Plain(3)) and Plain(3) in {Plain(3)}
    assert hash(PutEntity("db", "k", "v")) == hash(PutEntity(key="k", db="db", value="v"))
    with pytest.raises(TypeError):
        hash(Point(1, "a"))  # a list field, as hash(DataPoint(1, "a")) raises


@message
class SameFields(Pair):
    """A subclass with no field of its own: equal fields, another class."""


def test_other_classes_are_never_equal() -> None:
    assert Point(1, "a") != DataPoint(1, "a")
    assert Point(1, "a") != Child(1, "a")
    assert Pair(1, "a") != SameFields(1, "a") and SameFields(1, "a") != Pair(1, "a")
    assert DataPair(1, "a") != Pair(1, "a")
    assert Point(1, "a").__eq__(object()) is NotImplemented


def test_repr_names_the_class_as_a_dataclass_does() -> None:
    @message
    class Inner(Message):
        a: int

    @dataclasses.dataclass(frozen=True)
    class DataInner:
        a: int

    assert repr(Inner(1)) == repr(DataInner(1)).replace("DataInner", "Inner")
    assert "test_repr_names_the_class_as_a_dataclass_does.<locals>.Inner(a=1)" in repr(Inner(1))


def declared(name: str, base: type = Message, **namespace: Any) -> type:
    """``@message class <name>(base)`` with the fields ``a: int`` (and ``b: int`` after a defaulted ``a``)."""
    annotations = {"a": "int", "b": "int"} if namespace.get("a") == 1 else {"a": "int"}
    return message(type(name, (base,), {"__annotations__": annotations, **namespace}))


@pytest.mark.parametrize(
    "declare",
    [
        lambda: declared("NotAMessage", base=object),
        lambda: declared("OwnInit", __init__=lambda self: None),
        lambda: declared("PostInit", __post_init__=print),
        lambda: declared("KwOnly", a=dataclasses.field(kw_only=True)),
        lambda: declared("NoInit", a=dataclasses.field(init=False)),
        lambda: declared("Hidden", a=dataclasses.field(repr=False)),
        lambda: declared("NoCmp", a=dataclasses.field(compare=False)),
        lambda: declared("NoHash", a=dataclasses.field(hash=False)),
        lambda: declared("Order", a=1),
    ],
    ids=["not-a-Message", "own-init", "post-init", "kw_only", "init-False", "repr-False", "compare-False",
         "hash", "required-after-default"],
)  # fmt: skip
def test_options_message_would_not_honour_are_refused_at_declaration(declare: Any) -> None:
    with pytest.raises(TypeError):
        declare()


def test_the_declaration_helper_makes_a_working_message() -> None:
    fine = declared("Fine")  # so the refusals above are the options', not the helper's
    assert fine(3).a == 3 and fine(3) == fine(a=3)


def test_frozen() -> None:
    p = Point(1, "a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.new = 2  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.x  # type: ignore[misc]
    assert p.x == 1


def test_default_factory_gives_each_instance_its_own_value() -> None:
    a, b = Point(1, "a"), Point(1, "a")
    assert a.tags == [] and a.tags is not b.tags
    given_list = ["t"]
    assert Point(1, "a", given_list).tags is given_list


def test_dataclass_tools_work() -> None:
    p = Point(1, "a", ["t"], note="n")
    assert [f.name for f in dataclasses.fields(p)] == ["x", "label", "tags", "note", "weight"]
    assert dataclasses.is_dataclass(p)
    assert dataclasses.replace(p, x=2) == Point(2, "a", ["t"], note="n")
    assert copy.deepcopy(p) == p and copy.copy(p) == p
    assert pickle.loads(pickle.dumps(p)) == p


def test_a_subclass_has_its_own_init_whichever_class_is_made_first() -> None:
    @message
    class Base(Message):
        a: int

    @message
    class Sub(Base):
        b: int = 5

    assert Sub(1, 2) == Sub(a=1, b=2) and Sub(1).b == 5
    assert Base(1).__dict__ == {"a": 1}
    with pytest.raises(TypeError):
        Base(1, 2)  # type: ignore[call-arg]

    @message
    class Base2(Message):
        a: int

    @message
    class Sub2(Base2):
        b: int = 5

    assert Base2(1).__dict__ == {"a": 1}  # the base first this time
    assert Sub2(1, 2).__dict__ == {"a": 1, "b": 2} and Sub2(1).b == 5


def test_first_instances_made_at_once_by_many_threads() -> None:
    @message
    class Fresh(Message):
        a: int
        b: str = "x"

    made: list[Fresh] = []
    start = threading.Barrier(8)

    def make(i: int) -> None:
        start.wait()
        made.append(Fresh(i))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m.a for m in made) == list(range(8)) and {m.b for m in made} == {"x"}


def test_docstrings() -> None:
    assert Plain.__doc__ == "A docstring of its own."
    assert Point.__doc__ == "Point(x, label, tags, note, weight)"
