"""The clause mappings as data: predicate building blocks and ``GENERIC_CLAUSES``.

A spec is (fact, op, value) or ("all" | "any", (spec, ...)); see ``grading`` for how
they are read.
"""

from __future__ import annotations

import re
from typing import Any

Spec = tuple[Any, ...]


# --- Predicate building blocks --------------------------------------------------------------
# A spec is (fact, op, value) or ("all" | "any", (spec, ...)). Ordinal facts compare by their
# position in facts.SYMPTOMS / INTERVENTIONS / ADL.

DEATH: Spec = ("death", "is", True)
LIFE_THREATENING: Spec = ("life_threatening", "is", True)
DISABLING: Spec = ("disabling", "is", True)
HOSPITALIZATION: Spec = ("hospitalization", "is", True)
NO_HOSPITALIZATION: Spec = ("hospitalization", "is", False)
TRANSFUSION: Spec = ("transfusion_units", "ge", 1)

ASYMPTOMATIC: Spec = ("symptoms", "eq", "none")
SYMPTOMATIC: Spec = ("symptoms", "ge", "mild")
MILD: Spec = ("symptoms", "eq", "mild")
MODERATE: Spec = ("symptoms", "eq", "moderate")
SEVERE: Spec = ("symptoms", "eq", "severe")
MILD_AT_MOST: Spec = ("symptoms", "le", "mild")

# A self-care limitation implies an instrumental one, so "instrumental" clauses accept both.
INSTRUMENTAL_ADL: Spec = ("adl", "ge", "instrumental")
SELF_CARE_ADL: Spec = ("adl", "eq", "self_care")
NO_ADL_LIMIT: Spec = ("adl", "eq", "none")

NO_INTERVENTION: Spec = ("intervention", "eq", "none")
ANY_INTERVENTION: Spec = ("intervention", "ge", "local")
LOCAL: Spec = ("intervention", "eq", "local")
ORAL: Spec = ("intervention", "eq", "oral")
IV: Spec = ("intervention", "eq", "iv")
MINIMAL_LOCAL_NONINVASIVE: Spec = ("intervention", "in", ("local", "oral"))
MEDICAL: Spec = ("intervention", "in", ("local", "oral", "iv"))
SYSTEMIC: Spec = ("intervention", "in", ("oral", "iv"))
NO_SYSTEMIC: Spec = ("intervention", "in", ("none", "local"))
MINIMALLY_INVASIVE: Spec = ("intervention", "eq", "minimally_invasive")
INVASIVE: Spec = ("intervention", "ge", "invasive")
ELECTIVE_INVASIVE: Spec = ("intervention", "eq", "invasive")
NOT_INVASIVE: Spec = ("intervention", "lt", "invasive")
NON_URGENT: Spec = ("intervention", "in", ("local", "oral", "iv", "minimally_invasive", "invasive"))
NON_OPERATIVE: Spec = ("intervention", "in", ("local", "oral", "iv", "minimally_invasive"))
URGENT: Spec = ("intervention", "eq", "urgent")


def all_of(*specs: Spec) -> Spec:
    return ("all", specs)


def any_of(*specs: Spec) -> Spec:
    return ("any", specs)


# Optional examples in parentheses, e.g. " (e.g., topical antibiotic, antifungal, or antiviral)";
# CTCAE sometimes forgets the closing parenthesis.
_EG = r"(?:,? \(e\.g\.,? [^)]*\)?)?"

# (pattern over the normalised clause, predicate). Patterns must match the whole clause; the first
# matching row wins, so specific compounds come before their parts where they could overlap.
_GENERIC_ROWS: tuple[tuple[str, Spec], ...] = (
    # Death and life-threatening consequences
    (r"death", DEATH),
    (rf"(?:adult and pediatric: )?life-threatening consequences{_EG}", LIFE_THREATENING),
    (
        r"life-threatening consequences and urgent intervention indicated",
        all_of(LIFE_THREATENING, URGENT),
    ),
    # The comma lists alternatives here (Delirium grade 4).
    (
        r"life-threatening consequences, threats of harm to self or others",
        LIFE_THREATENING,
    ),
    (r"disabling|disability", DISABLING),
    # Urgent interventions
    (rf"urgent (?:operative |invasive |medical )?intervention indicated{_EG}", URGENT),
    (r"requiring urgent intervention", URGENT),
    (r"intubation or urgent intervention indicated", URGENT),
    (r"urgent intervention or intubation with ventilatory support indicated", URGENT),
    (r"urgent intervention, intubation, or ventilatory support indicated", URGENT),
    (r"symptomatic, urgent intervention indicated", all_of(SYMPTOMATIC, URGENT)),
    (r"hospitalization or urgent intervention indicated", any_of(HOSPITALIZATION, URGENT)),
    # Activities of daily living
    (rf"limiting self[ -]care adls?{_EG}", SELF_CARE_ADL),
    (r"limiting self care adl or sleep", SELF_CARE_ADL),
    (r"interferes with self care adl", SELF_CARE_ADL),
    (r"symptomatic limiting self care adl", all_of(SYMPTOMATIC, SELF_CARE_ADL)),
    (r"limiting (?:age-appropriate )?instrumental adls?", INSTRUMENTAL_ADL),
    (r"interfering with instrumental adls?", INSTRUMENTAL_ADL),
    # No intervention / observation only
    (r"(?:physician )?intervention not indicated", NO_INTERVENTION),
    (r"no intervention indicated", NO_INTERVENTION),
    (rf"medical intervention not indicated{_EG}", NO_INTERVENTION),
    (r"systemic intervention not indicated", NO_SYSTEMIC),
    (r"(?:clinical or diagnostic )?observations? only", NO_INTERVENTION),
    # Symptoms (and, for pain terms, pain intensity)
    (r"asymptomatic(?: diagnostic finding)?", ASYMPTOMATIC),
    (r"asymptomatic,? (?:and )?intervention not indicated", all_of(ASYMPTOMATIC, NO_INTERVENTION)),
    (
        r"asymptomatic (?:clinical or diagnostic|and radiologic) observations only",
        all_of(ASYMPTOMATIC, NO_INTERVENTION),
    ),
    (rf"symptomatic{_EG}", SYMPTOMATIC),
    (r"symptomatic,? (?:and )?intervention not indicated", all_of(SYMPTOMATIC, NO_INTERVENTION)),
    (r"symptomatic, intervention indicated", all_of(SYMPTOMATIC, ANY_INTERVENTION)),
    (r"symptomatic, invasive intervention not indicated", all_of(SYMPTOMATIC, NOT_INVASIVE)),
    (
        r"symptomatic, elective invasive intervention indicated",
        all_of(SYMPTOMATIC, ELECTIVE_INVASIVE),
    ),
    (r"symptomatic but not limiting adl", all_of(SYMPTOMATIC, NO_ADL_LIMIT)),
    # A spinal fracture's symptom is its back pain (Spinal fracture grades 1-3).
    (r"mild(?: symptoms| pain| back pain)?", MILD),
    (r"moderate(?: symptoms| pain| back pain)?", MODERATE),
    (r"severe(?: symptoms| pain| back pain)?", SEVERE),
    (r"asymptomatic or mild symptoms", MILD_AT_MOST),
    (r"severe or medically significant but not immediately life-threatening", SEVERE),
    (r"mild symptoms with no intervention indicated", all_of(MILD, NO_INTERVENTION)),
    # "analgesics not indicated" is implied by no intervention at all (the sound direction).
    (r"mild pain but analgesics not indicated", all_of(MILD, NO_INTERVENTION)),
    (
        r"moderate (?:symptoms|pain), (?:medical intervention|analgesics) indicated",
        all_of(MODERATE, MEDICAL),
    ),
    (rf"severe symptoms, medical intervention indicated{_EG}", all_of(SEVERE, MEDICAL)),
    (
        r"severe symptoms, medical intervention or hospitalization indicated",
        all_of(SEVERE, any_of(MEDICAL, HOSPITALIZATION)),
    ),
    # Medical, local, oral, intravenous interventions
    (rf"(?:non-urgent )?medical (?:intervention|management)(?: indicated)?{_EG}", MEDICAL),
    (r"medical intervention or hospitalization indicated", any_of(MEDICAL, HOSPITALIZATION)),
    (rf"transfusion or medical intervention indicated{_EG}", any_of(TRANSFUSION, MEDICAL)),
    (
        r"transfusion, iv medications, or hospitalization indicated",
        any_of(TRANSFUSION, IV, HOSPITALIZATION),
    ),
    (rf"intervention (?:indicated|initiated){_EG}", ANY_INTERVENTION),
    (r"treatment indicated", ANY_INTERVENTION),
    # Medication, prescribed or not, is a medical intervention; which of the two it was is a
    # qualifier no fact records (Renal colic, Spinal fracture: grades 1 and 2).
    (
        r"(?:(?:non)?prescription )?(?:medication|analgesics) indicated"
        r"|nonprescription intervention indicated",
        MEDICAL,
    ),
    (r"elective intervention indicated", NON_URGENT),
    (r"non-operative intervention indicated", NON_OPERATIVE),
    (r"intervention initiated \(including over the counter medications\)", ANY_INTERVENTION),
    (r"non-urgent intervention indicated", NON_URGENT),
    (r"minimal, local or noninvasive intervention indicated", MINIMAL_LOCAL_NONINVASIVE),
    (rf"noninvasive intervention indicated{_EG}", MINIMAL_LOCAL_NONINVASIVE),
    (rf"(?:local|topical) intervention (?:indicated|initiated){_EG}", LOCAL),
    (r"local therapy indicated(?: \([^)]*\))?|topical analgesics initiated", LOCAL),
    (r"local symptomatic management|local wound care|bedside local care indicated", LOCAL),
    (rf"local care \(e\.g\., suturing\) or medical intervention indicated{_EG}", MEDICAL),
    (r"topical or oral intervention indicated", MINIMAL_LOCAL_NONINVASIVE),
    (rf"oral intervention indicated{_EG}", ORAL),
    (r"oral therapy initiated", ORAL),
    (r"systemic intervention(?: indicated)?", SYSTEMIC),
    # "intravenous" is the fact for IV, intravenous and parenteral clauses.
    (
        r"(?:iv|intravenous|parenteral) (?:antibiotic, antifungal, or antiviral |antifungal )?"
        r"intervention indicated",
        IV,
    ),
    (rf"iv intervention{_EG}", IV),
    (r"(?:iv antibiotics|intravenous therapy|iv fluids) indicated", IV),
    (r"steroids or iv fluids indicated", IV),
    (r"outpatient iv hydration", all_of(IV, NO_HOSPITALIZATION)),
    # Minimally invasive aspiration / drainage
    (r"minimally invasive evacuation or aspiration indicated", MINIMALLY_INVASIVE),
    (r"(?:simple|needle) aspiration indicated(?: \(single or multiple\))?", MINIMALLY_INVASIVE),
    # Invasive (radiologic, endoscopic or operative) interventions; "invasive" satisfies
    # invasive and operative clauses, and urgent is above it.
    (rf"(?:invasive|operative) intervention indicated{_EG}", INVASIVE),
    (r"postoperative invasive intervention indicated", INVASIVE),
    (r"revision by operative intervention indicated", INVASIVE),
    # An invasive intervention on an injured vessel is its repair or revision.
    (r"repair or revision indicated", INVASIVE),
    # "A and/or B" holds when B does (Peripheral and Visceral arterial ischemia grade 3).
    (
        r"prolonged \(>=24 hrs\) or recurring symptoms and/or invasive intervention indicated",
        INVASIVE,
    ),
    (
        r"hospitalization or intervention indicated for pain control(?: \(e\.g\., [^)]*\))?",
        any_of(HOSPITALIZATION, INVASIVE),
    ),
    (r"radiologic, endoscopic, or operative intervention indicated", INVASIVE),
    (rf"operative debridement or other invasive intervention indicated{_EG}", INVASIVE),
    (
        r"ventriculostomy, icp monitoring, intraventricular thrombolysis, or invasive intervention "
        r"indicated",
        INVASIVE,
    ),
    (r"sclerosis and/or operative intervention indicated", INVASIVE),
    (
        rf"(?:elective|non-emergent) (?:operative|invasive) intervention indicated{_EG}",
        ELECTIVE_INVASIVE,
    ),
    (
        r"elective operative intervention indicated requiring hospitalization",
        all_of(ELECTIVE_INVASIVE, HOSPITALIZATION),
    ),
    (r"outpatient operative intervention indicated", all_of(ELECTIVE_INVASIVE, NO_HOSPITALIZATION)),
    (
        rf"hospitalization or elective operative intervention indicated{_EG}",
        any_of(HOSPITALIZATION, ELECTIVE_INVASIVE),
    ),
    (r"(?:invasive|operative) intervention not indicated", NOT_INVASIVE),
    # Hospitalisation and transfusion
    (
        r"hospitalization(?: indicated| or prolongation of existing hospitalization indicated"
        r"| indicated for clinical sequelae)?",
        HOSPITALIZATION,
    ),
    (r"hospitalization not indicated", NO_HOSPITALIZATION),
    # no intervention at all implies no catheter (Urinary retention grade 1)
    (r"urinary, suprapubic or intermittent catheter placement not indicated", NO_INTERVENTION),
    (
        r"(?:tube feeding, tpn,? or|tube feeding or|tpn or|oxygen therapy or) hospitalization "
        r"indicated",
        HOSPITALIZATION,
    ),
    (r"transfusion(?: indicated)?", TRANSFUSION),
)

GENERIC_CLAUSES: tuple[tuple[re.Pattern[str], Spec], ...] = tuple(
    (re.compile(pattern), spec) for pattern, spec in _GENERIC_ROWS
)

# A leading qualifier that no fact records, before a clause the facts do reach ("Localized, local
# intervention indicated"; Wound dehiscence "Incisional separation, intervention not indicated").
LEADING_QUALIFIER = re.compile(r"(?P<qualifier>localized|incisional separation), (?P<rest>.+)")
