"""Load the project's curated CTCAE v5.0 catalogue (complications/ctcae/data/curated_terms.json).

A site that needs all 837 terms runs ``manage.py ctcae_import CTCAE_v5.0_2017-11-27.xlsx``.
"""

from django.db import migrations

from complications.ctcae import load_curated_catalogue


def load(apps, schema_editor):
    CtcaeTerm = apps.get_model("complications", "CtcaeTerm")
    for term in load_curated_catalogue().values():
        CtcaeTerm.objects.update_or_create(
            code=term.code,
            defaults={
                "name": term.name,
                "soc": term.soc,
                "definition": term.definition,
                "curated": True,
                **{f"grade_{g}": term.grades.get(g) for g in range(1, 6)},
            },
        )


class Migration(migrations.Migration):
    dependencies = [("complications", "0002_outcome_facts")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
