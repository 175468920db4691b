# Participant API credentials and webhook settings.

import django.db.models.deletion
from django.db import migrations, models

from hub.registry.dbfunctions import create_triggers, drop_triggers


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0002_cross_table_rules'),
    ]

    # SQLite rebuilds a table to add a column, which the cross-table triggers would trip over: they are
    # dropped around the change and recreated after it (on PostgreSQL this is a no-op pair).
    operations = [
        migrations.RunPython(drop_triggers, create_triggers),
        migrations.AddField(
            model_name='participant',
            name='webhook_secret',
            field=models.CharField(blank=True, help_text='Shared secret of the webhook HMAC', max_length=64),
        ),
        migrations.AddField(
            model_name='participant',
            name='webhook_url',
            field=models.URLField(blank=True, help_text='Where the hub POSTs each outbound message, signed with HMAC-SHA256 (optional)'),
        ),
        migrations.CreateModel(
            name='ParticipantToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key_hash', models.CharField(max_length=64, unique=True)),
                ('key_prefix', models.CharField(help_text='First characters of the key, to tell keys apart', max_length=12)),
                ('label', models.CharField(blank=True, max_length=100)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('participant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tokens', to='registry.participant')),
            ],
            options={
                'ordering': ['participant', 'created_at'],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
