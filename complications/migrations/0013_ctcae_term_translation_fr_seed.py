"""French names (and, for the commonest screw-fixation complications, grade texts and clauses) of a
handful of CTCAE terms, frozen here: a department completes the table with
``manage.py ctcae_translations_load``. A term absent from the catalogue is skipped."""

from django.db import migrations

LANGUAGE = "fr"
# code -> (name, {English clause: French clause}); grade texts are the clauses joined by "; ".
FR = {
    "10048038": (
        "Infection de plaie",
        {
            "Localized, local intervention indicated": "Localisée, traitement local indiqué",
            "Oral intervention indicated (e.g., antibiotic, antifungal, or antiviral)": (
                "Traitement oral indiqué (p. ex. antibiotique, antifongique ou antiviral)"
            ),
            "IV antibiotic, antifungal, or antiviral intervention indicated": (
                "Antibiotique, antifongique ou antiviral IV indiqué"
            ),
            "invasive intervention indicated": "intervention invasive indiquée",
            "Life-threatening consequences": "Mise en jeu du pronostic vital",
            "urgent intervention indicated": "intervention urgente indiquée",
            "Death": "Décès",
        },
    ),
    "10053692": (
        "Complication de plaie",
        {
            "Observation only": "Surveillance seule",
            "topical intervention indicated": "traitement topique indiqué",
            "Bedside local care indicated": "Soins locaux au lit indiqués",
            "Operative intervention indicated": "Intervention chirurgicale indiquée",
            "Life-threatening consequences": "Mise en jeu du pronostic vital",
            "Death": "Décès",
        },
    ),
    "10048031": ("Déhiscence de plaie", {}),
    "10019428": (
        "Hématome",
        {
            "Mild symptoms": "Symptômes légers",
            "intervention not indicated": "pas d'intervention indiquée",
            "Minimally invasive evacuation or aspiration indicated": (
                "Évacuation ou aspiration mini-invasive indiquée"
            ),
            "Transfusion": "Transfusion",
            "invasive intervention indicated": "intervention invasive indiquée",
            "Life-threatening consequences": "Mise en jeu du pronostic vital",
            "urgent intervention indicated": "intervention urgente indiquée",
            "Death": "Décès",
        },
    ),
    "10033425": (
        "Douleur d'un membre",
        {
            "Mild pain": "Douleur légère",
            "Moderate pain": "Douleur modérée",
            "limiting instrumental ADL": "limitant les activités instrumentales de la vie quotidienne",
            "Severe pain": "Douleur sévère",
            "limiting self care ADL": "limitant les soins personnels de la vie quotidienne",
        },
    ),
    "10016558": ("Fièvre", {}),
    "10002272": ("Anémie", {}),
    "10017076": ("Fracture", {}),
    "10041569": ("Fracture vertébrale", {}),
    "10020100": ("Fracture de la hanche", {}),
    "10043565": ("Événement thromboembolique", {}),
    "10055322": ("Hémorragie postopératoire", {}),
    "10055298": ("Hémorragie peropératoire", {}),
    "10061017": ("Infection osseuse", {}),
    "10064687": ("Infection liée à un dispositif", {}),
    "10062255": ("Infection des tissus mous", {}),
}


def seed(apps, schema_editor):
    CtcaeTerm = apps.get_model("complications", "CtcaeTerm")
    Translation = apps.get_model("complications", "CtcaeTermTranslation")
    for term in CtcaeTerm.objects.filter(code__in=FR):
        name, clauses = FR[term.code]
        grades = {}
        for grade in range(1, 6):
            english = getattr(term, f"grade_{grade}") or ""
            parts = [part.strip() for part in english.split(";") if part.strip()]
            if parts and all(part in clauses for part in parts):
                grades[f"grade_{grade}"] = "; ".join(clauses[part] for part in parts)
        Translation.objects.update_or_create(
            term=term, language=LANGUAGE, defaults={"name": name, "clauses": clauses, **grades}
        )


def unseed(apps, schema_editor):
    apps.get_model("complications", "CtcaeTermTranslation").objects.filter(
        language=LANGUAGE, term_id__in=FR
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("complications", "0012_ctcae_term_translation")]
    operations = [migrations.RunPython(seed, unseed)]
