"""Beat schedules that apps add from their data migrations."""

import pytest
from django.apps import apps
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from hub.ops.schedules import periodic_task_ensure

pytestmark = pytest.mark.django_db


def test_a_schedule_is_added_when_an_operator_already_made_the_same_interval_twice():
    # the beat admin lets an operator add an interval that exists already: nothing makes them unique
    IntervalSchedule.objects.create(every=17, period=IntervalSchedule.SECONDS)
    IntervalSchedule.objects.create(every=17, period=IntervalSchedule.SECONDS)
    periodic_task_ensure(
        apps, name="test: every 17 s", task="hub.ops.ping", every_seconds=17, description="a test schedule"
    )
    entry = PeriodicTask.objects.get(name="test: every 17 s")
    assert entry.interval.every == 17 and entry.enabled
    assert IntervalSchedule.objects.filter(every=17).count() == 2  # one of them is used, none added
