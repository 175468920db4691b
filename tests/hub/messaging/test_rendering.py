import datetime as dt

from hub.messaging import rendering
from hub.messaging.rendering import business_message_id


def test_business_message_ids_are_unique_and_carry_the_second_they_were_made():
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ids = [business_message_id() for _ in range(2000)]
    after = dt.datetime.now(dt.UTC)

    assert len(set(ids)) == len(ids)
    for made in ids:
        assert len(made) <= 35 and made.startswith("HUB")
        stamp = dt.datetime.strptime(made[3:17], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
        assert before <= stamp <= after


def test_the_second_in_an_identifier_follows_the_clock(monkeypatch):
    monkeypatch.setattr(rendering.time, "time", lambda: 1_800_000_000.9)
    first = business_message_id()
    monkeypatch.setattr(rendering.time, "time", lambda: 1_800_000_001.0)
    second = business_message_id()

    assert first[3:17] == "20270115080000"
    assert second[3:17] == "20270115080001"
