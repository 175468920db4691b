from django.db import migrations, models


def webhooks_without_a_secret_stop(apps, schema_editor):
    """A webhook whose secret is empty or short was signed with a key anyone could guess: it stops (the
    participant pulls its outbox) until an operator sets a secret of at least 16 characters."""
    Participant = apps.get_model("registry", "Participant")
    for participant in Participant.objects.exclude(webhook_url=""):
        if len(participant.webhook_secret) < 16:
            participant.webhook_url = ""
            participant.save(update_fields=["webhook_url"])


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_participant_credentials_and_webhook"),
    ]

    operations = [
        migrations.AlterField(
            model_name="participant",
            name="webhook_secret",
            field=models.CharField(
                blank=True,
                help_text="Shared secret of the webhook HMAC: at least 16 characters when there is a webhook URL",
                max_length=64,
            ),
        ),
        migrations.RunPython(webhooks_without_a_secret_stop, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="participant",
            constraint=models.CheckConstraint(
                condition=models.Q(("webhook_url", ""), ("webhook_secret__regex", "^.{16,}$"), _connector="OR"),
                name="participant_webhook_secret",
                violation_error_message="a webhook URL needs a secret of at least 16 characters",
            ),
        ),
    ]
