"""Load the curated CTCAE v5.0 catalogue as it was when this migration was written.

The terms are frozen beside this file (``data/0003_curated_terms.json``); the
project's newest curated catalogue is loaded at each release by
``manage.py registry_deploy`` (through ``ctcae_import``, which re-grades what
a changed term touches). A site that needs all 837 terms runs
``manage.py ctcae_import CTCAE_v5.0_2017-11-27.xlsx``.
"""

import json
from pathlib import Path

from django.db import migrations

TERMS = Path(__file__).resolve().parent / "data" / "0003_curated_terms.json"


def load(apps, schema_editor):
    CtcaeTerm = apps.get_model("complications", "CtcaeTerm")
    for record in json.loads(TERMS.read_text(encoding="utf-8"))["terms"]:
        grades = record["grades"]
        CtcaeTerm.objects.update_or_create(
            code=str(record["code"]),
            defaults={
                "name": str(record["term"]),
                "soc": str(record["soc"]),
                "definition": str(record.get("definition") or ""),
                "curated": True,
                **{
                    f"grade_{g}": None if grades[str(g)] is None else "; ".join(grades[str(g)])
                    for g in range(1, 6)
                },
            },
        )


class Migration(migrations.Migration):
    dependencies = [("complications", "0002_outcome_facts")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
