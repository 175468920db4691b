"""Settlement parties (``SETPRTY`` sequences) and reasons (``REAS``) shared by MT540-548.

Party roles (``:95P::<role>//BIC`` with an optional ``:97A::SAFE//account`` in the same sequence):

| side of the instruction | counterparty's agent | counterparty's client | own client | place of settlement |
|---|---|---|---|---|
| receive (MT540/541/544/545) | ``DEAG`` | ``SELL`` | ``BUYR`` | ``PSET`` (counterparty's CSD) |
| deliver (MT542/543/546/547) | ``REAG`` | ``BUYR`` | ``SELL`` | ``PSET`` (counterparty's CSD) |
"""

from __future__ import annotations

from iso20022.errors import BuildError, MessageError, ReasonCode
from iso20022.models import Counterparty, Reason, Side
from iso20022.mt.access import F, Reader, S
from iso20022.mt.fields import unwrap, wrap
from iso20022.mt.fin import Sequence

ROLES = {
    Side.RECEIVE: ("DEAG", "SELL", "BUYR"),
    Side.DELIVER: ("REAG", "BUYR", "SELL"),
}
# the sender's own agent, which SWIFT market practice has an MT54x name beside the counterparty's: the
# account owner itself, in the hub's model
OWN_AGENT = {Side.RECEIVE: "REAG", Side.DELIVER: "DEAG"}


def read_parties(reader: Reader, setdet: Sequence | None) -> dict[str, tuple[str | None, str | None]]:
    """Role -> (BIC, safekeeping account) of every SETPRTY in SETDET (or SETTRAN)."""
    found: dict[str, tuple[str | None, str | None]] = {}
    if setdet is None:
        return found
    for party in setdet.sequences("SETPRTY"):
        identifier = party.field("95a")
        if identifier is None:
            reader.fail("SETPRTY without a :95a: party field", party, ReasonCode.PARTY)
            continue
        bic = identifier.value if identifier.tag in ("95P",) else None
        if identifier.tag not in ("95P",) and identifier.qualifier in ("DEAG", "REAG", "PSET"):
            reader.fail(
                f":{identifier.tag}::{identifier.qualifier} must identify the party by BIC (95P)",
                identifier,
                ReasonCode.PARTY,
            )
        role = identifier.qualifier or ""
        if role in found:
            # a second party in the same role would replace the first: refused, never dropped
            reader.fail(f"party :{identifier.tag}::{role} is given twice", identifier, ReasonCode.PARTY)
        found[role] = (bic, party.value("97A", "SAFE"))
    return found


def counterparty_from(
    reader: Reader,
    setdet: Sequence | None,
    side: Side,
    *,
    required: bool = True,
    owner: str | None = None,
    account: str | None = None,
) -> tuple[Counterparty | None, str | None, str | None]:
    """(counterparty, own client BIC, own client account) from the SETPRTY sequences. With ``owner``, the
    sender's own agent, when named, must be that account owner on ``account``: any other would be a party
    the hub drops."""
    parties = read_parties(reader, setdet)
    agent_role, client_role, own_role = ROLES[side]
    for role in sorted(set(parties) - {agent_role, client_role, own_role, OWN_AGENT[side], "PSET"}):
        # an intermediary, say: the hub settles between the two parties' accounts alone, and a party it
        # dropped would be a party the CSD never heard of
        reader.fail(
            f"party role {role} is not one the hub carries for a {side.value.lower()} instruction "
            f"({agent_role}, {client_role}, {OWN_AGENT[side]}, {own_role}, PSET)",
            setdet,
            ReasonCode.PARTY,
        )
    own_agent, own_agent_account = parties.get(OWN_AGENT[side], (None, None))
    if (
        owner is not None
        and own_agent is not None
        and (own_agent[:8] != owner[:8] or own_agent_account not in (None, account))
    ):
        reader.fail(
            f"the own agent :95P::{OWN_AGENT[side]}//{own_agent} (account {own_agent_account}) is not the "
            f"account owner {owner} on {account}",
            setdet,
            ReasonCode.PARTY,
        )
    agent_bic, agent_account = parties.get(agent_role, (None, None))
    csd_bic, _ = parties.get("PSET", (None, None))
    if setdet is not None and required:
        if agent_bic is None:
            reader.fail(
                f"SETPRTY with :95P::{agent_role}: (the counterparty) is missing", setdet, ReasonCode.PARTY
            )
        if csd_bic is None:
            reader.fail(
                "SETPRTY with :95P::PSET: (place of settlement) is missing",
                setdet,
                ReasonCode.PLACE_OF_SETTLEMENT,
            )
    client_bic, client_account = parties.get(client_role, (None, None))
    own_bic, own_account = parties.get(own_role, (None, None))
    if agent_bic is None or csd_bic is None:
        return None, own_bic, own_account
    return (
        Counterparty(
            bic=agent_bic,
            csd_bic=csd_bic,
            safekeeping_account=agent_account,
            client_bic=client_bic,
            client_account=client_account,
        ),
        own_bic,
        own_account,
    )


def write_parties(
    side: Side,
    counterparty: Counterparty | None,
    client_bic: str | None = None,
    client_account: str | None = None,
) -> list[Sequence]:
    if counterparty is None:
        return []
    agent_role, client_role, own_role = ROLES[side]
    for bic, account, role in (
        (counterparty.client_bic, counterparty.client_account, client_role),
        (client_bic, client_account, own_role),
    ):
        if account and not bic:
            raise BuildError(
                MessageError(
                    reason=ReasonCode.PARTY,
                    path=f"SETPRTY/:95P::{role}",
                    message=f"MT needs the BIC of the {role} party to carry its account",
                )
            )
    out = [
        S(
            "SETPRTY",
            F("95P", agent_role, counterparty.bic),
            F("97A", "SAFE", counterparty.safekeeping_account),
        )
    ]
    if counterparty.client_bic or counterparty.client_account:
        out.append(
            S(
                "SETPRTY",
                F("95P", client_role, counterparty.client_bic or None),
                F("97A", "SAFE", counterparty.client_account),
            )
        )
    if client_bic or client_account:
        out.append(S("SETPRTY", F("95P", own_role, client_bic), F("97A", "SAFE", client_account)))
    out.append(S("SETPRTY", F("95P", "PSET", counterparty.csd_bic)))
    return out


def read_reasons(status: Sequence) -> tuple[Reason, ...]:
    reasons = []
    for reas in status.sequences("REAS"):
        code = reas.field("24B")
        if code is None:
            continue
        narrative = reas.value("70D", "REAS")
        reasons.append(
            Reason(code=code.value, issuer=code.issuer, narrative=unwrap(narrative) if narrative else None)
        )
    return tuple(reasons)


def write_reasons(qualifier: str, reasons: tuple[Reason, ...]) -> list[Sequence]:
    return [
        S(
            "REAS",
            F("24B", qualifier, r.code, r.issuer),
            F("70D", "REAS", wrap(r.narrative) if r.narrative else None),
        )
        for r in reasons
    ]
