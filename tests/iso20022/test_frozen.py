"""``iso20022.frozen``: the models' quicker ``__init__`` makes the same objects as the dataclass's own, takes
the same arguments, and leaves every model as frozen as before."""

import dataclasses
import datetime as dt
import inspect
from decimal import Decimal

import pytest

from csd_adapters import base
from iso20022 import models as m
from iso20022.frozen import frozen, has_quick_init

MODELS = [
    cls
    for module in (m, base)
    for cls in vars(module).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
]


def stock(cls: type) -> type:
    """The same fields as ``cls`` in a plain frozen dataclass, with the dataclass's own ``__init__``."""
    return dataclasses.make_dataclass(
        f"Stock{cls.__name__}",
        [(f.name, f.type, dataclasses.field(default=f.default)) for f in dataclasses.fields(cls)],
        frozen=True,
        slots=True,
        kw_only=True,
    )


def test_every_model_has_the_quick_init():
    assert len(MODELS) >= 30
    assert [cls.__name__ for cls in MODELS if not has_quick_init(cls)] == []


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
def test_a_model_takes_the_arguments_its_dataclass_would(cls):
    ours = inspect.signature(cls).parameters
    theirs = inspect.signature(stock(cls)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [
        (p.name, p.kind, p.default) for p in theirs.values()
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in ours.values())


@pytest.mark.parametrize(
    "cls",
    [cls for cls in MODELS if not hasattr(cls, "__post_init__")],  # those check their values: see below
    ids=lambda cls: cls.__name__,
)
def test_a_model_made_quickly_holds_what_it_was_given_and_stays_frozen(cls):
    fields = dataclasses.fields(cls)
    values = {f.name: object() for f in fields if f.default is dataclasses.MISSING}
    made = cls(**values)
    assert {f.name: getattr(made, f.name) for f in fields} == {
        f.name: values.get(f.name, f.default) for f in fields
    }
    name = fields[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, name, "changed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(made, name)
    changed = dataclasses.replace(made, **{name: "changed"})
    assert getattr(changed, name) == "changed" and getattr(made, name) is not getattr(changed, name)


def test_wrong_arguments_are_refused_as_by_a_dataclass():
    with pytest.raises(TypeError):
        m.Security()  # isin is required
    with pytest.raises(TypeError):
        m.Security(isin="RU000A0JX0J2", colour="blue")
    with pytest.raises(TypeError):
        m.Security("RU000A0JX0J2")  # keyword-only


def test_post_init_still_checks_what_crosses_the_adapter_interface():
    leg = dict(
        leg_id="T1L1",
        csd="NSD",
        isin="RU000A0JX0J2",
        debit_account="A",
        credit_account="B",
        intended_settlement_date=dt.date(2026, 11, 25),
        transfer_reference="T1",
    )
    assert base.Leg(quantity=Decimal(5), **leg).quantity == Decimal(5)
    with pytest.raises(ValueError, match="positive Decimal"):
        base.Leg(quantity=Decimal(0), **leg)
    with pytest.raises(ValueError, match="exactly one"):
        base.LegResult(leg_id="T1L1")


def test_equal_values_make_equal_and_equally_hashed_models():
    one = m.Quantity(amount=Decimal("10"), type=m.QuantityType.UNIT)
    two = m.Quantity(amount=Decimal("10.0"), type=m.QuantityType.UNIT)
    assert one == two and hash(one) == hash(two)


def test_a_class_the_quick_init_cannot_stand_in_for_keeps_the_dataclass_init():
    @frozen
    class WithFactory:
        items: list = dataclasses.field(default_factory=list)

    @frozen
    class WithInitVar:
        seed: dataclasses.InitVar[int]
        doubled: int = 0

        def __post_init__(self, seed):
            object.__setattr__(self, "doubled", seed * 2)

    assert not has_quick_init(WithFactory) and WithFactory().items == []
    assert not has_quick_init(WithInitVar) and WithInitVar(seed=2).doubled == 4


def test_a_model_without_fields_is_made_too():
    @frozen
    class Empty:
        pass

    assert has_quick_init(Empty) and Empty() == Empty()
