"""Open instructions that named their counterparty (or a client) with the primary office's branch, XXX,
are keyed again as intake keys them now: by the counterparty's BIC as the registry holds it, and client BICs
without XXX. Their keys had differed from the counterpart's, so neither side could ever match."""

from django.db import migrations

OPEN = ("ACCEPTED", "UNMATCHED")


def _bic8(bic: str) -> str:
    return bic[:8] if len(bic) == 8 or bic.endswith("XXX") else bic


def rekey(apps, schema_editor):
    from hub.settlement.matching import matching_key

    Instruction = apps.get_model("settlement", "Instruction")
    Participant = apps.get_model("registry", "Participant")
    registered = set(Participant.objects.values_list("bic", "home_csd_id"))
    rows = Instruction.objects.filter(status__in=OPEN).select_related(
        "participant", "csd", "security", "counterparty_csd"
    )
    for row in rows.iterator():
        counterparty = row.counterparty_bic
        if (counterparty, row.counterparty_csd_id) not in registered:
            counterparty = _bic8(counterparty)
        changed = {
            "counterparty_bic": counterparty,
            "client_bic": _bic8(row.client_bic),
            "counterparty_client_bic": _bic8(row.counterparty_client_bic),
        }
        if all(getattr(row, name) == value for name, value in changed.items()):
            continue
        changed["matching_key"] = matching_key(
            side=row.side,
            isin=row.security.isin,
            quantity=row.quantity,
            trade_date=row.trade_date,
            intended_settlement_date=row.intended_settlement_date,
            sender_bic=row.participant.bic,
            sender_csd_bic=row.csd.bic,
            counterparty_bic=counterparty,
            counterparty_csd_bic=row.counterparty_csd.bic,
        )
        Instruction.objects.filter(pk=row.pk, status=row.status).update(**changed)


class Migration(migrations.Migration):
    dependencies = [("settlement", "0011_open_instruction_and_event_indexes")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
