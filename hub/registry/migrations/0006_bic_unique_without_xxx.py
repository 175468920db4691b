# One institution, one row: a BIC with its primary office's XXX (DEMAZAJJXXX) is the same institution as
# without it (DEMAZAJJ), as intake reads BICs in messages, so the registry may hold only one of them. A
# database that holds both stops this migration with the pair's unique-index error: merge or remove one
# row first (SQLite adds an index here; no table is rebuilt, so the cross-table triggers stay).

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0005_owner_rules'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='csd',
            constraint=models.UniqueConstraint(models.Case(models.When(bic__endswith='XXX', then=django.db.models.functions.text.Left('bic', 8)), default=models.F('bic')), name='csd_bic_unique_without_xxx', violation_error_message="a CSD with this BIC, with or without its primary office's XXX, already exists"),
        ),
        migrations.AddConstraint(
            model_name='participant',
            constraint=models.UniqueConstraint(models.Case(models.When(bic__endswith='XXX', then=django.db.models.functions.text.Left('bic', 8)), default=models.F('bic')), name='participant_bic_unique_without_xxx', violation_error_message="a participant with this BIC, with or without its primary office's XXX, already exists"),
        ),
    ]
