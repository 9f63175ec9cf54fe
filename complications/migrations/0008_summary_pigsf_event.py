from django.db import migrations, models, transaction

TERM_SUMMARY = ("fracturetermoutcome", "proceduretermoutcome", "outcometermmonth")


def empty_term_summary(apps, schema_editor):
    # Derived data (no state of its own): emptied before the unique constraints
    # change, and recomputed whole by ``rebuild`` below.
    for name in TERM_SUMMARY:
        apps.get_model("complications", name).objects.all().delete()


def rebuild(apps, schema_editor):
    # The summary computed from the clinical tables with the current code (see
    # 0006). Should these models change shape in a later migration, move this
    # rebuild there.
    from complications.live import bump_stats_version
    from complications.outcomes import outcomes_rebuild

    outcomes_rebuild()
    # Statistics cached before the migration have no row per screw-fixation event.
    transaction.on_commit(bump_stats_version)


def _field():
    return models.CharField(blank=True, default="", max_length=32)


class Migration(migrations.Migration):
    dependencies = [
        ("complications", "0007_summary_started_on_all_fractures"),
        ("registry", "0007_procedure_started_on_followup_all_fractures"),
    ]

    operations = [
        migrations.RunPython(empty_term_summary, migrations.RunPython.noop),
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
        migrations.RunPython(rebuild, empty_term_summary),
    ]
