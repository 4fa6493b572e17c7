"""Three indexes fewer to keep up on every signature and event recorded: the letter's own
index on signatures and on event rows (indexes that start with the letter serve its
look-ups) and a second index on an event row's party (its foreign key has one)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("register", "0002_dispute_events_name_their_letter"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="eventrecord",
            name="register_ev_party_i_6e9c66_idx",
        ),
        migrations.AlterField(
            model_name="eventrecord",
            name="letter",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                to="register.letter",
            ),
        ),
        migrations.AlterField(
            model_name="signature",
            name="letter",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="signatures",
                to="register.letter",
            ),
        ),
    ]
