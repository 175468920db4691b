"""Writes to reference data. Every row is validated (``full_clean``) before it reaches the database."""

import hashlib
import secrets
from typing import TypeVar

from django.db import models, transaction
from django.utils import timezone

from hub.registry.models import CSDLink, Participant, ParticipantToken, SecuritiesAccount

ModelT = TypeVar("ModelT", bound=models.Model)


def reference_row_ensure(*, model: type[ModelT], lookup: dict, values: dict) -> tuple[ModelT, bool]:
    """The row identified by ``lookup``; created from ``lookup | values`` after validation if absent.

    An existing row is returned as it is, so running a seed again changes nothing. Returns (row, created).
    """
    existing = model.objects.filter(**lookup).first()
    if existing is not None:
        return existing, False
    row = model(**lookup, **values)
    row.full_clean()
    row.save(force_insert=True)
    return row, True


def csd_link_activate(*, link: CSDLink) -> None:
    """Open ``link`` to settlement; refused (``ValidationError``) until it has its omnibus account at the
    issuer CSD and its mirror account at the investor CSD (the database refuses it too, migration 0010)."""
    with transaction.atomic():
        csd_link_accounts_lock(link=link)
        link.is_active = True
        link.full_clean()
        link.save(update_fields=["is_active"])


def csd_link_accounts_lock(*, link: CSDLink) -> None:
    """Holds ``link``'s accounts until the transaction ends, so that the accounts validation of its
    activation finds are still there when the activation commits. Without it, an account deleted while the
    link is still inactive, between that validation and the commit, got past both, and the database's own
    check refused the commit (a server error instead of a validation error). A deletion that comes after
    the lock waits for the activation, then migration 0009's trigger refuses it. (SQLite takes no row
    locks: there one writer at a time holds the whole database.)"""
    if link.pk is not None:
        list(SecuritiesAccount.objects.select_for_update().filter(link_id=link.pk).values_list("pk"))


def participant_token_issue(*, participant: Participant, label: str = "") -> str:
    """A new API key for ``participant``; returns the key itself, which is not stored and never shown again."""
    key = f"hub_{secrets.token_urlsafe(32)}"
    ParticipantToken.objects.create(
        participant=participant, key_hash=token_hash(key), key_prefix=key[:12], label=label
    )
    return key


def participant_token_revoke(*, token: ParticipantToken) -> None:
    ParticipantToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def participant_tokens_revoke(*, participant: Participant, key_prefix: str | None = None) -> list[str]:
    """Revoke the participant's live tokens, every one or the one whose key starts with ``key_prefix``
    (a token's ``key_prefix``, as ``issue_token`` printed it or longer); returns the prefixes revoked."""
    live = ParticipantToken.objects.filter(participant=participant, revoked_at__isnull=True)
    if key_prefix is not None:
        live = live.filter(key_prefix=key_prefix[:12])
    revoked = list(live.order_by("created_at").values_list("pk", "key_prefix"))
    ParticipantToken.objects.filter(pk__in=[pk for pk, _ in revoked], revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return [prefix for _, prefix in revoked]


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
