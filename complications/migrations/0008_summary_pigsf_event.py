from django.db import migrations, models

TERM_SUMMARY = ("fracturetermoutcome", "proceduretermoutcome", "outcometermmonth")
# Every summary table: emptied whole so that ``manage.py registry_deploy``, run after every
# migrate, recomputes it with the release's code (it rebuilds when a fracture lacks its row).
SUMMARY = (
    "fractureoutcome",
    "procedureoutcome",
    "fracturetermoutcome",
    "proceduretermoutcome",
    "outcomemonth",
    "outcometermmonth",
)


def empty_summary(apps, schema_editor):
    # Derived data (no state of its own): emptied before the unique constraints change.
    for name in SUMMARY:
        apps.get_model("complications", name).objects.all().delete()


def _field():
    return models.CharField(blank=True, default="", max_length=32)


class Migration(migrations.Migration):
    dependencies = [
        ("complications", "0007_summary_started_on_all_fractures"),
        ("registry", "0007_procedure_started_on_followup_all_fractures"),
    ]

    operations = [
        migrations.RunPython(empty_summary, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="fracturetermoutcome", name="fto_one_row_per_term"),
        migrations.RemoveConstraint(model_name="proceduretermoutcome", name="pto_one_row_per_term"),
        *[
            migrations.AddField(model_name=name, name="pigsf_event", field=_field())
            for name in TERM_SUMMARY
        ],
        migrations.AddConstraint(
            model_name="fracturetermoutcome",
            constraint=models.UniqueConstraint(
                fields=("fracture", "window", "term", "pigsf_event"), name="fto_one_row_per_term"
            ),
        ),
        migrations.AddConstraint(
            model_name="proceduretermoutcome",
            constraint=models.UniqueConstraint(
                fields=("procedure", "window", "term", "pigsf_event"), name="pto_one_row_per_term"
            ),
        ),
        # Backwards, the per-term rows are emptied before the narrower constraints
        # return (a term's events would collide); run outcomes_rebuild afterwards.
        migrations.RunPython(migrations.RunPython.noop, empty_summary),
    ]
