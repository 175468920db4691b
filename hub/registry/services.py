"""Writes to reference data. Every row is validated (``full_clean``) before it reaches the database."""

import base64
import hashlib
import logging
import secrets
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from hub.clock import database_now
from hub.ledger.verifier import key_id_for
from hub.registry.models import (
    CSD,
    CSDKey,
    CSDLink,
    CSDToken,
    Participant,
    ParticipantToken,
    SecuritiesAccount,
)
from hub.registry.validators import validate_ed25519_public_key

log = logging.getLogger(__name__)

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
    issuer CSD and its mirror account at the investor CSD (the database refuses it too, migration 0011)."""
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


def csd_key_change(*, csd: CSD, public_key: str, cause: str) -> CSDKey:
    """Puts ``public_key`` in force as the key ``csd`` endorses ledger blocks with, and returns its record.

    The key in force until now is retired at this moment and kept: what the CSD endorsed with it still
    verifies, and an endorsement made with it from now on does not count. The key already in force changes
    nothing (its record is returned), so a seed run again writes nothing. Refused with a ValidationError:
    a key that is no Ed25519 public key, a cause left blank, and a key the CSD had before and retired
    (a key is retired because it is lost or exposed: bringing it back would honour whatever was signed
    with it meanwhile). The one way a CSD's key changes: the admin and the reference CSDs' export call it.
    """
    cause = " ".join(cause.split())
    if not cause:
        raise ValidationError({"cause": "say who changes the key and why"})
    with transaction.atomic():
        # the endorsements the ledger stores lock the same row (hub.ledger.services), so an endorsement is
        # stored either before the change, with the old key, or after it, with the new one
        locked = CSD.objects.select_for_update(no_key=True).get(pk=csd.pk)
        csd_key_check(csd=locked, public_key=public_key)
        key_id = key_id_for(base64.b64decode(public_key))
        current = CSDKey.objects.filter(csd=locked, retired_at__isnull=True).first()
        if current is not None and current.key_id == key_id:
            return current
        now = database_now()
        if current is not None:
            CSDKey.objects.filter(pk=current.pk).update(retired_at=now)
        record = CSDKey.objects.create(
            csd=locked, key_id=key_id, public_key=public_key, in_force_from=now, cause=cause[:200]
        )
        CSD.objects.filter(pk=locked.pk).update(signing_public_key=public_key)
    csd.signing_public_key = public_key
    log.info(
        "registry: %s signs its ledger endorsements with key %s from %s (%s)%s",
        locked.code,
        key_id,
        now.isoformat(),
        cause,
        f"; {current.key_id} retired" if current is not None else "",
    )
    return record


def csd_key_check(*, csd: CSD, public_key: str) -> None:
    """Whether ``public_key`` may be put in force for ``csd`` (``csd_key_change``): a ValidationError on
    ``signing_public_key`` says why not, for a form to show before anything is saved."""
    try:
        validate_ed25519_public_key(public_key)
    except ValidationError as exc:
        raise ValidationError({"signing_public_key": exc.messages}) from None
    key_id = key_id_for(base64.b64decode(public_key))
    if csd.pk and CSDKey.objects.filter(csd=csd, key_id=key_id, retired_at__isnull=False).exists():
        raise ValidationError(
            {
                "signing_public_key": f"{csd.code} had key {key_id} before and retired it; a retired key is "
                "never put back in force: give the CSD a new key"
            }
        )


# what each kind of key starts with: an API taking one kind refuses the other by its prefix alone
PARTICIPANT_KEY_PREFIX = "hub_"
CSD_KEY_PREFIX = "csd_"


def participant_token_issue(*, participant: Participant, label: str = "") -> str:
    """A new API key for ``participant``; returns the key itself, which is not stored and never shown again."""
    key = f"{PARTICIPANT_KEY_PREFIX}{secrets.token_urlsafe(32)}"
    ParticipantToken.objects.create(
        participant=participant, key_hash=token_hash(key), key_prefix=key[:12], label=label
    )
    return key


def participant_token_revoke(*, token: ParticipantToken) -> None:
    ParticipantToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def participant_tokens_revoke(*, participant: Participant, key_prefix: str | None = None) -> list[str]:
    """Revoke the participant's live tokens, every one or the one whose key starts with ``key_prefix``
    (a token's ``key_prefix``, as ``issue_token`` printed it or longer); returns the prefixes revoked."""
    return _tokens_revoke(ParticipantToken.objects.filter(participant=participant), key_prefix=key_prefix)


def csd_token_issue(*, csd: CSD, label: str = "") -> str:
    """A new key of the CSD ledger API for ``csd``; returns the key itself, which is not stored and never
    shown again."""
    key = f"{CSD_KEY_PREFIX}{secrets.token_urlsafe(32)}"
    CSDToken.objects.create(csd=csd, key_hash=token_hash(key), key_prefix=key[:12], label=label)
    return key


def csd_token_revoke(*, csd: CSD, key_prefix: str | None = None) -> list[str]:
    """Revoke the CSD's live tokens, every one or the one whose key starts with ``key_prefix`` (a token's
    ``key_prefix``, as ``issue_csd_token`` printed it, or longer); returns the prefixes revoked."""
    return _tokens_revoke(CSDToken.objects.filter(csd=csd), key_prefix=key_prefix)


def _tokens_revoke(tokens: models.QuerySet, *, key_prefix: str | None) -> list[str]:
    """Revoke the live ones of ``tokens`` (one owner's API keys, of either kind), or the one among them whose
    key starts with ``key_prefix``; returns the prefixes revoked, oldest first."""
    live = tokens.filter(revoked_at__isnull=True)
    if key_prefix is not None:
        live = live.filter(key_prefix=key_prefix[:12])
    revoked = list(live.order_by("created_at").values_list("pk", "key_prefix"))
    tokens.model.objects.filter(pk__in=[pk for pk, _ in revoked], revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return [prefix for _, prefix in revoked]


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
