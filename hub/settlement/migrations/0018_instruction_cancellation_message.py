"""The cancellation request an instruction has pending the counterparty's is recorded on it, so that its final
answer (denied once settlement starts, settles or fails) names it without searching the sender's inbound
messages and reading each again, inside the transaction that holds the batch's transfers. A request
pending now is found once here, the way that search found it: the participant's last accepted message
about the instruction, since the instruction came, that reads as a cancellation."""

import django.db.models.deletion
from django.db import migrations, models

from iso20022 import models as m
from iso20022 import mx
from iso20022.errors import Iso20022Error
from iso20022.mt import parse_mt


def record_pending(apps, schema_editor):
    Instruction = apps.get_model("settlement", "Instruction")
    InboundMessage = apps.get_model("messaging", "InboundMessage")
    for instruction in Instruction.objects.filter(cancellation_requested=True, cancellation_message=None):
        received = InboundMessage.objects.filter(
            sender_id=instruction.participant_id,
            transaction_id=instruction.transaction_id,
            outcome="ACCEPTED",
            received_at__gte=instruction.created_at,
        ).order_by("-received_at", "-pk")
        for pk, fmt, raw in received.values_list("pk", "format", "raw"):
            try:
                body = parse_mt(bytes(raw)) if fmt == "MT" else mx.parse(bytes(raw)).body
            except Iso20022Error:
                continue
            if isinstance(body, m.CancellationRequest):
                Instruction.objects.filter(pk=instruction.pk).update(cancellation_message_id=pk)
                break


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0004_replay_indexes"),
        ("settlement", "0017_transfer_started_at_backfill"),
    ]

    operations = [
        migrations.AddField(
            model_name="instruction",
            name="cancellation_message",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                help_text="The cancellation request last accepted pending the counterparty's, as received: its "
                "final answer names it",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="messaging.inboundmessage",
            ),
        ),
        migrations.RunPython(record_pending, migrations.RunPython.noop),
    ]
