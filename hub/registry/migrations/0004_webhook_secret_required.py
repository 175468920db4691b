from django.db import migrations, models


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
    ]
