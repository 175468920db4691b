"""Who is calling: a participant, by its API token (``Authorization: Token <key>``)."""

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission

from hub.registry.models import Participant
from hub.registry.selectors import participant_for_token


@dataclass(frozen=True)
class ParticipantCaller:
    """The authenticated participant, in the place DRF keeps a user."""

    participant: Participant
    is_authenticated: bool = True
    is_active: bool = True

    @property
    def pk(self) -> str:
        return self.participant.bic


class ParticipantTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("use 'Authorization: Token <key>' with exactly one key")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("the token is not ASCII") from None
        participant = participant_for_token(key)
        if participant is None:
            raise exceptions.AuthenticationFailed("unknown or revoked token")
        return ParticipantCaller(participant), key

    def authenticate_header(self, request) -> str:
        return self.keyword


class IsParticipant(BasePermission):
    message = "this endpoint is for participants: authenticate with 'Authorization: Token <key>'"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ParticipantCaller)


def caller(request) -> Participant:
    """The one scoping helper of participant endpoints: everything a view reads goes through it."""
    return request.user.participant


class ParticipantTokenScheme(OpenApiAuthenticationExtension):
    target_class = "hub.api.auth.ParticipantTokenAuthentication"
    name = "participantToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "'Token <key>'; keys are issued with `manage.py issue_token <BIC>`",
        }
