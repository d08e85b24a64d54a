from django.db import migrations, models


def client_of_client_events(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Events whose object is a client get its id; others stay unfiltered by client."""
    AuditEvent = apps.get_model("portal", "AuditEvent")
    # The historical model has the plain manager, not the append-only one: this fills a
    # new column once and changes nothing that was recorded.
    for event in AuditEvent.objects.filter(object_type="clients.Client").exclude(object_id=""):
        if event.object_id.isdigit():
            AuditEvent.objects.filter(pk=event.pk).update(client_id=int(event.object_id))


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0002_auditevent_office_action_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="client_id",
            field=models.BigIntegerField(blank=True, db_index=True, null=True),
        ),
        migrations.RunPython(client_of_client_events, migrations.RunPython.noop),
    ]
