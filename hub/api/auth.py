"""Who is calling: a participant or a CSD, each by its own kind of API token (``Authorization: Token <key>``).

A participant's key starts ``hub_``, a CSD's ``csd_``; the participant API takes participants' keys only and
the CSD ledger API CSDs' keys only, so that a key of the one kind is never taken for the other."""

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission

from hub.registry.models import CSD, Participant
from hub.registry.selectors import csd_for_token, participant_for_token
from hub.registry.services import CSD_KEY_PREFIX, PARTICIPANT_KEY_PREFIX


@dataclass(frozen=True)
class ParticipantCaller:
    """The authenticated participant, in the place DRF keeps a user."""

    participant: Participant
    is_authenticated: bool = True
    is_active: bool = True

    @property
    def pk(self) -> str:
        return self.participant.bic

    @property
    def rate_key(self) -> str:
        """Whose budgets the rate limits count (``hub.api.ratelimit``)."""
        return self.participant.bic


@dataclass(frozen=True)
class CSDCaller:
    """The authenticated CSD, in the place DRF keeps a user."""

    csd: CSD
    is_authenticated: bool = True
    is_active: bool = True

    @property
    def pk(self) -> str:
        return self.csd.code

    @property
    def rate_key(self) -> str:
        # a BIC has no colon, so no CSD's budgets are a participant's
        return f"csd:{self.csd.code}"


class _TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>``, the key of the kind this API takes (``prefix``): one of the other
    kind is refused by its prefix, saying which API it is for, before anything is looked up."""

    keyword = "Token"
    prefix = ""
    other_prefix = ""
    other_kind = ""

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
        if key.startswith(self.other_prefix):
            raise exceptions.AuthenticationFailed(
                f"this is {self.other_kind}'s token ({self.other_prefix}…), which this API does not take: "
                f"send a token of the kind it is for ({self.prefix}…)"
            )
        caller = self.caller_for(key)
        if caller is None:
            raise exceptions.AuthenticationFailed("unknown or revoked token")
        return caller, key

    def caller_for(self, key: str):
        raise NotImplementedError

    def authenticate_header(self, request) -> str:
        return self.keyword


class ParticipantTokenAuthentication(_TokenAuthentication):
    prefix, other_prefix, other_kind = PARTICIPANT_KEY_PREFIX, CSD_KEY_PREFIX, "a CSD"

    def caller_for(self, key: str) -> ParticipantCaller | None:
        participant = participant_for_token(key)
        return ParticipantCaller(participant) if participant else None


class CSDTokenAuthentication(_TokenAuthentication):
    prefix, other_prefix, other_kind = CSD_KEY_PREFIX, PARTICIPANT_KEY_PREFIX, "a participant"

    def caller_for(self, key: str) -> CSDCaller | None:
        csd = csd_for_token(key)
        return CSDCaller(csd) if csd else None


class IsParticipant(BasePermission):
    message = "this endpoint is for participants: authenticate with 'Authorization: Token <key>'"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ParticipantCaller)


def caller(request) -> Participant:
    """The one scoping helper of participant endpoints: everything a view reads goes through it."""
    return request.user.participant


class IsCSD(BasePermission):
    message = "this endpoint is for CSDs: authenticate with 'Authorization: Token <key>' and a CSD's key"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, CSDCaller)


def calling_csd(request) -> CSD:
    """The one scoping helper of the CSD ledger API: everything a view reads goes through it."""
    return request.user.csd


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


class CSDTokenScheme(OpenApiAuthenticationExtension):
    target_class = "hub.api.auth.CSDTokenAuthentication"
    name = "csdToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "'Token <key>' with a CSD's key (csd_…); keys are issued with "
            "`manage.py issue_csd_token <CSD code>`",
        }
