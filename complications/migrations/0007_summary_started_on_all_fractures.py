import datetime

from django.db import migrations, models
from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

SUMMARY = (
    "fractureoutcome",
    "procedureoutcome",
    "fracturetermoutcome",
    "proceduretermoutcome",
)
PREFIX = {
    "fractureoutcome": "fo",
    "procedureoutcome": "po",
    "fracturetermoutcome": "fto",
    "proceduretermoutcome": "pto",
}


def empty_summary(apps, schema_editor):
    # Derived data (no state of its own): emptied so that the new column needs
    # no value, and recomputed whole by ``manage.py registry_deploy`` after migrate.
    for name in (*SUMMARY, "outcomemonth", "outcometermmonth"):
        apps.get_model("complications", name).objects.all().delete()


def flag_all_fractures(apps, schema_editor):
    """Mark the existing contacts and complications that cover every fracture of
    their procedure as "all the procedure's fractures".

    Until now the services stored "all" (no fracture named) as the list of the
    procedure's fractures at that moment, so the rows that name exactly the
    procedure's current fractures are those recorded as "all" (or naming each
    one, which a person could not tell apart either), and nothing added since
    has been left out. From now on they cover fractures added later too. Rows
    that name only some of the fractures stay restricted: that list was either
    chosen, or is an "all" that a fracture added later already fell out of,
    which the data cannot distinguish from a choice.
    """
    Fracture = apps.get_model("registry", "Fracture")
    for app, name in (("registry", "FollowUp"), ("complications", "ComplicationEvent")):
        model = apps.get_model(app, name)
        fractures = Coalesce(
            Subquery(
                Fracture.objects.filter(procedure=OuterRef("procedure"))
                .order_by()
                .values("procedure")
                .annotate(n=Count("pk"))
                .values("n"),
                output_field=IntegerField(),
            ),
            0,
        )
        complete = (
            model.objects.annotate(
                n_fractures=fractures,
                n_named=Count("fractures", distinct=True),
                n_own=Count(
                    "fractures", distinct=True, filter=Q(fractures__procedure=F("procedure"))
                ),
            )
            .filter(n_named=F("n_fractures"), n_own=F("n_fractures"))
            .values("pk")
        )
        model.objects.filter(pk__in=complete).update(all_fractures=True)


def rebuild(apps, schema_editor):
    # Replaced by ``manage.py registry_deploy``, run after every migrate: it
    # recomputes the summary with the release's code whenever a fracture lacks
    # its row, as every one does once ``empty_summary`` has run. A migration
    # that reshapes the summary empties it the same way.
    pass


def _field(**kwargs):
    return models.BooleanField(
        db_default=False,
        default=False,
        editable=False,
        verbose_name="all the procedure's fractures",
        **kwargs,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("complications", "0006_outcome_summary"),
        ("registry", "0007_procedure_started_on_followup_all_fractures"),
    ]

    operations = [
        migrations.AddField(model_name="complicationevent", name="all_fractures", field=_field()),
        migrations.AddField(
            model_name="historicalcomplicationevent", name="all_fractures", field=_field()
        ),
        migrations.RunPython(flag_all_fractures, migrations.RunPython.noop),
        migrations.RunPython(empty_summary, migrations.RunPython.noop),
        *[
            operation
            for name in SUMMARY
            for operation in (
                migrations.RemoveIndex(
                    model_name=name, name=f"{PREFIX[name]}_department_start_idx"
                ),
                migrations.RemoveIndex(model_name=name, name=f"{PREFIX[name]}_start_idx"),
                migrations.AddField(
                    model_name=name,
                    name="started_on",
                    field=models.DateField(default=datetime.date(1970, 1, 1)),
                    preserve_default=False,
                ),
                migrations.AddIndex(
                    model_name=name,
                    index=models.Index(
                        fields=["department", "started_on"],
                        name=f"{PREFIX[name]}_department_start_on_idx",
                    ),
                ),
                migrations.AddIndex(
                    model_name=name,
                    index=models.Index(fields=["started_on"], name=f"{PREFIX[name]}_start_on_idx"),
                ),
            )
        ],
        migrations.RunPython(rebuild, migrations.RunPython.noop),
    ]
