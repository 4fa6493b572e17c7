"""A filed dispute's event row names the letter of the signature it disputes (the
projector does so from now on; this fills in rows recorded before)."""

from typing import Any

from django.db import migrations


def fill(apps: Any, schema_editor: Any) -> None:
    EventRecord = apps.get_model("register", "EventRecord")
    Dispute = apps.get_model("register", "Dispute")
    db = schema_editor.connection.alias
    for record in EventRecord.objects.using(db).filter(type="dispute.filed", letter__isnull=True):
        # The dispute this event filed has the event's time and party.
        match = Dispute.objects.using(db).filter(filed_at=record.at, party_id=record.party_id)
        letter = match.values_list("letter_id", flat=True).first()
        if letter is not None:
            record.letter_id = letter
            record.save(update_fields=["letter"])


class Migration(migrations.Migration):
    dependencies = [("register", "0001_initial")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
