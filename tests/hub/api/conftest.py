import uuid

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from hub.api import ratelimit
from hub.registry.models import Participant
from hub.registry.services import participant_token_issue

from ..settlement.messages import NSD_BROKER, STRATE_BROKER


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


def client_for(bic: str) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {participant_token_issue(participant=Participant.objects.get(bic=bic))}"
    )
    return client


@pytest.fixture
def nsd_broker(demo) -> APIClient:
    return client_for(NSD_BROKER)


@pytest.fixture
def strate_broker(demo) -> APIClient:
    return client_for(STRATE_BROKER)


def post(client: APIClient, body: bytes, *, mt: bool = False, path: str = "/api/v1/messages/"):
    return client.generic("POST", path, body, content_type="text/plain" if mt else "application/xml")


WINDOW = 60
NOW = 1_800_000_015.25  # 15.25 s into a 60 s window (windows are aligned to the epoch)


@pytest.fixture
def limits(settings, monkeypatch):
    """Small budgets in a namespace of the test's own (counts of other tests never reach it), on a clock
    that stands still, so that no request crosses into the next window."""
    settings.API_RATE_LIMIT_NAMESPACE = f"test-rate-{uuid.uuid4().hex}"
    settings.API_RATE_LIMIT_WINDOW_SECONDS = WINDOW
    settings.API_RATE_LIMIT_WRITES = 2
    settings.API_RATE_LIMIT_READS = 3
    monkeypatch.setattr(ratelimit, "clock", lambda: NOW)
    ratelimit._limiter.cache_clear()
    yield settings
    ratelimit._limiter.cache_clear()
