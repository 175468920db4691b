"""Beat schedules live in the database (django-celery-beat); apps add theirs from a data migration."""


def periodic_task_ensure(apps, *, name: str, task: str, every_seconds: int, description: str) -> None:
    """Create or update an interval schedule entry; ``apps`` is the migration's app registry."""
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    # intervals are not unique (the beat admin adds one that exists already): any of them will do
    interval = interval_model.objects.filter(every=every_seconds, period="seconds").order_by("pk").first()
    if interval is None:
        interval = interval_model.objects.create(every=every_seconds, period="seconds")
    task_model.objects.update_or_create(
        name=name,
        defaults={
            "task": task,
            "interval": interval,
            "enabled": True,
            "description": description,
            # a run that could not start in time is dropped: the next one does the same work
            "expire_seconds": max(every_seconds, 10),
        },
    )


def periodic_task_remove(apps, *, name: str) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name).delete()
