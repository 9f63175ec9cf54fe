from zoneinfo import ZoneInfo

from django.db import migrations, models


def derive_started_on(apps, schema_editor):
    # The rule of ``registry.models.local_date``, frozen here: the start's
    # calendar day in the department's time zone.
    Procedure = apps.get_model("registry", "Procedure")
    rows = Procedure.objects.values_list("pk", "started_at", "patient__department__time_zone")
    batch = []
    for pk, started_at, zone in rows.order_by("pk").iterator(chunk_size=2000):
        batch.append(Procedure(pk=pk, started_on=started_at.astimezone(ZoneInfo(zone)).date()))
        if len(batch) == 2000:
            Procedure.objects.bulk_update(batch, ["started_on"])
            batch = []
    Procedure.objects.bulk_update(batch, ["started_on"])


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0006_history_immutable"),
    ]

    operations = [
        migrations.AddField(
            model_name="procedure",
            name="started_on",
            field=models.DateField(
                blank=True, editable=False, null=True, verbose_name="start date (local)"
            ),
        ),
        migrations.RunPython(derive_started_on, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="procedure",
            name="started_on",
            field=models.DateField(blank=True, editable=False, verbose_name="start date (local)"),
        ),
        migrations.AddIndex(
            model_name="procedure",
            index=models.Index(fields=["started_on"], name="procedure_started_on_idx"),
        ),
        migrations.AddField(
            model_name="followup",
            name="all_fractures",
            field=models.BooleanField(
                db_default=False,
                default=False,
                editable=False,
                verbose_name="all the procedure's fractures",
            ),
        ),
        migrations.AddField(
            model_name="historicalfollowup",
            name="all_fractures",
            field=models.BooleanField(
                db_default=False,
                default=False,
                editable=False,
                verbose_name="all the procedure's fractures",
            ),
        ),
    ]
