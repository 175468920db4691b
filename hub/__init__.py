"""The CSD interoperability hub: a Django project with its Celery application."""

from hub.celery import app as celery_app

__all__ = ("celery_app",)
