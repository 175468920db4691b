import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

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
