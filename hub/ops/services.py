"""Operational writes that are not business data."""

from django.conf import settings
from django.contrib.auth import get_user_model


def demo_operator_ensure(*, username: str, password: str) -> bool:
    """A superuser for the local demo's admin, created only in DEBUG; True if it was created now."""
    if not settings.DEBUG:
        raise RuntimeError("the demo operator is only created in DEBUG (local development) mode")
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        return False
    user_model.objects.create_superuser(username=username, email="", password=password)
    return True
