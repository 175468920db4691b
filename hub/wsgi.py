"""WSGI entry point (gunicorn hub.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from hub.runtime import collector_tune

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
application = get_wsgi_application()
collector_tune()  # in each web worker, once the project is loaded (hub.runtime)
