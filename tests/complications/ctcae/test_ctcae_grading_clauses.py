"""Every generic clause mapping, shown on real CTCAE terms: which facts make it hold, which not."""

from __future__ import annotations

from typing import Any

import pytest

from complications.ctcae import (
    FACT_NAMES,
    GENERIC_CLAUSES,
    Facts,
    GradingError,
    Term,
    grade,
    normalise_clause,
)
from complications.ctcae.clauses import LEADING_QUALIFIER
from complications.ctcae.facts import ORDINAL_SCALES

BLOOD_OTHER = "Blood and lymphatic system disorders - Other, specify"
IV_ANTI = "IV antibiotic, antifungal, or antiviral intervention indicated"
ORAL_ANTI = "Oral intervention indicated (e.g., antibiotic, antifungal, or antiviral)"

# (term, facts, the grade the event takes, a clause of that grade that must hold by the facts)
CURATED_CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("Anemia", {"death": True}, 5, "Death"),
    ("Anemia", {"life_threatening": True}, 4, "Life-threatening consequences"),
    ("Hypothermia", {"life_threatening": True}, 4,
     "life-threatening consequences (e.g., coma, hypotension, pulmonary edema, acidemia, "
     "ventricular fibrillation)"),
    ("Hypertension", {"life_threatening": True}, 4,
     "Adult and Pediatric: Life-threatening consequences (e.g., malignant hypertension, "
     "transient or permanent neurologic deficit, hypertensive crisis)"),
    ("Hypotension", {"life_threatening": True, "intervention": "urgent"}, 4,
     "Life-threatening consequences and urgent intervention indicated"),
    ("Anemia", {"intervention": "urgent"}, 4, "urgent intervention indicated"),
    ("Arterial injury", {"intervention": "urgent"}, 4, "urgent operative intervention indicated"),
    ("Hematuria", {"intervention": "urgent"}, 4, "urgent invasive intervention indicated"),
    ("Hypoxia", {"intervention": "urgent"}, 4,
     "urgent intervention indicated (e.g., tracheotomy or intubation)"),
    ("Thromboembolic event", {"intervention": "urgent"}, 3,
     "Urgent medical intervention indicated (e.g., pulmonary embolism or intracardiac thrombus)"),
    ("Aspiration", {"intervention": "urgent"}, 4, "intubation or urgent intervention indicated"),
    ("Respiratory failure", {"intervention": "urgent"}, 4,
     "urgent intervention, intubation, or ventilatory support indicated"),
    ("Atrial fibrillation", {"symptoms": "mild", "intervention": "urgent"}, 3,
     "Symptomatic, urgent intervention indicated"),
    ("Psychiatric disorders - Other, specify", {"hospitalization": True}, 4,
     "hospitalization or urgent intervention indicated"),
    ("Gait disturbance", {"adl": "self_care"}, 3, "Limiting self care ADL"),
    ("Intraoperative ear injury", {"adl": "self_care"}, 3,
     "limiting self care ADL (e.g., impaired hearing"),
    ("Pruritus", {"adl": "self_care"}, 3, "limiting self care ADL or sleep"),
    (BLOOD_OTHER, {"adl": "instrumental"}, 2, "limiting age-appropriate instrumental ADL"),
    ("Pain in extremity", {"adl": "instrumental"}, 2, "limiting instrumental ADL"),
    ("Vomiting", {"intervention": "none"}, 1, "Intervention not indicated"),
    ("Thromboembolic event", {"intervention": "none"}, 1,
     "Medical intervention not indicated (e.g., superficial thrombosis)"),
    ("Allergic reaction", {"intervention": "local"}, 1, "Systemic intervention not indicated"),
    ("Wound complication", {"intervention": "none"}, 1, "Observation only"),
    (BLOOD_OTHER, {"intervention": "none"}, 1, "clinical or diagnostic observations only"),
    ("Fracture", {"symptoms": "none"}, 1, "Asymptomatic"),
    ("Arterial injury", {"symptoms": "none"}, 1, "Asymptomatic diagnostic finding"),
    ("Atrial fibrillation", {"symptoms": "none", "intervention": "none"}, 1,
     "Asymptomatic, intervention not indicated"),
    ("Ileus", {"symptoms": "none", "intervention": "none"}, 1,
     "Asymptomatic and radiologic observations only"),
    ("Ileus", {"symptoms": "mild"}, 2, "Symptomatic"),
    ("Venous injury", {"symptoms": "severe"}, 3, "Severe symptoms"),
    ("Venous injury", {"symptoms": "mild"}, 2, "Symptomatic (e.g., claudication)"),
    ("Seroma", {"symptoms": "mild", "intervention": "invasive"}, 3,
     "Symptomatic, elective invasive intervention indicated"),
    ("Pain in extremity", {"symptoms": "mild"}, 1, "Mild pain"),
    ("Postoperative hemorrhage", {"symptoms": "mild"}, 1, "Mild symptoms"),
    ("Hip fracture", {"symptoms": "mild"}, 2, "mild pain"),
    (BLOOD_OTHER, {"symptoms": "moderate"}, 2, "Moderate"),
    ("Pain in extremity", {"symptoms": "moderate"}, 2, "Moderate pain"),
    ("Intra-abdominal hemorrhage", {"symptoms": "moderate"}, 2, "Moderate symptoms"),
    ("Pain in extremity", {"symptoms": "severe"}, 3, "Severe pain"),
    ("Myocardial infarction", {"symptoms": "severe"}, 3, "Severe symptoms"),
    (BLOOD_OTHER, {"symptoms": "none"}, 1, "Asymptomatic or mild symptoms"),
    (BLOOD_OTHER, {"symptoms": "mild"}, 1, "Asymptomatic or mild symptoms"),
    (BLOOD_OTHER, {"symptoms": "severe"}, 3,
     "Severe or medically significant but not immediately life-threatening"),
    ("Atrial fibrillation", {"intervention": "oral"}, 2,
     "Non-urgent medical intervention indicated"),
    ("Osteonecrosis", {"intervention": "oral"}, 2,
     "medical intervention indicated (e.g., analgesics or bisphosphonates)"),
    ("Burn", {"intervention": "local"}, 2, "Medical intervention"),
    ("Hematuria", {"intervention": "iv"}, 3,
     "transfusion, IV medications, or hospitalization indicated"),
    ("Hematuria", {"transfusion_units": 2}, 3,
     "transfusion, IV medications, or hospitalization indicated"),
    ("Intra-abdominal hemorrhage", {"intervention": "local"}, 2, "intervention indicated"),
    (BLOOD_OTHER, {"intervention": "oral"}, 2,
     "minimal, local or noninvasive intervention indicated"),
    ("Fall", {"intervention": "local"}, 2, "noninvasive intervention indicated"),
    ("Wound complication", {"intervention": "local"}, 1, "topical intervention indicated"),
    ("Catheter related infection", {"intervention": "local"}, 2, "local intervention indicated"),
    ("Bone infection", {"intervention": "oral"}, 2, ORAL_ANTI),
    ("Allergic reaction", {"intervention": "oral"}, 2, "Oral intervention indicated"),
    ("Wound infection", {"intervention": "iv"}, 3, IV_ANTI),
    ("Allergic reaction", {"intervention": "iv"}, 3, "intravenous intervention indicated"),
    ("Anaphylaxis", {"intervention": "iv"}, 3, "parenteral intervention indicated"),
    ("Urticaria", {"intervention": "iv"}, 3, "IV intervention indicated"),
    ("Hematoma", {"intervention": "minimally_invasive"}, 2,
     "Minimally invasive evacuation or aspiration indicated"),
    ("Seroma", {"intervention": "minimally_invasive"}, 2, "simple aspiration indicated"),
    ("Joint infection", {"intervention": "minimally_invasive"}, 2,
     "needle aspiration indicated (single or multiple)"),
    ("Bone infection", {"intervention": "invasive"}, 3, "invasive intervention indicated"),
    ("Wound complication", {"intervention": "invasive"}, 3, "Operative intervention indicated"),
    # urgent is above invasive: it satisfies "operative intervention indicated" too
    ("Wound complication", {"intervention": "urgent"}, 3, "Operative intervention indicated"),
    ("Pelvic soft tissue necrosis", {"intervention": "invasive"}, 3,
     "Operative debridement or other invasive intervention indicated (e.g., tissue "
     "reconstruction, flap, or grafting)"),
    ("Urinary retention", {"intervention": "invasive"}, 3,
     "Elective invasive intervention indicated"),
    ("Fecal incontinence", {"intervention": "invasive"}, 3,
     "elective operative intervention indicated"),
    ("Atelectasis", {"hospitalization": True}, 3,
     "hospitalization or elective operative intervention indicated (e.g., stent, laser)"),
    ("Bladder perforation", {"intervention": "iv"}, 2, "Invasive intervention not indicated"),
    ("Bladder perforation", {"intervention": "minimally_invasive"}, 2,
     "Invasive intervention not indicated"),
    (BLOOD_OTHER, {"hospitalization": True}, 3,
     "hospitalization or prolongation of existing hospitalization indicated"),
    ("Intra-abdominal hemorrhage", {"hospitalization": True}, 3, "hospitalization"),
    ("Allergic reaction", {"hospitalization": True}, 3,
     "hospitalization indicated for clinical sequelae"),
    ("Vomiting", {"hospitalization": True}, 3, "Tube feeding, TPN, or hospitalization indicated"),
    ("Anemia", {"transfusion_units": 1}, 3, "transfusion indicated"),
    ("Hematoma", {"transfusion_units": 2}, 3, "Transfusion"),
    # clauses naming only an intervention, a symptom level or a disability
    ("Delirium", {"life_threatening": True}, 4,
     "Life-threatening consequences, threats of harm to self or others"),
    ("Sepsis", {"intervention": "iv"}, 3, "treatment indicated"),
    ("Urinary retention", {"intervention": "oral"}, 2, "medication indicated"),
    ("Urinary retention", {"intervention": "none"}, 1,
     "Urinary, suprapubic or intermittent catheter placement not indicated"),
    ("Spinal fracture", {"symptoms": "mild"}, 1, "Mild back pain"),
    ("Spinal fracture", {"symptoms": "moderate"}, 2, "Moderate back pain"),
    ("Spinal fracture", {"symptoms": "severe"}, 3, "Severe back pain"),
    ("Spinal fracture", {"disabling": True}, 3, "disability"),
    ("Spinal fracture", {"hospitalization": True}, 3,
     "hospitalization or intervention indicated for pain control (e.g., vertebroplasty)"),
    ("Hip fracture", {"intervention": "invasive"}, 3,
     "hospitalization or intervention indicated for pain control (e.g., traction)"),
    ("Hip fracture", {"intervention": "minimally_invasive"}, 2,
     "non-operative intervention indicated"),
    ("Peripheral ischemia", {"intervention": "invasive"}, 3,
     "Prolonged (>=24 hrs) or recurring symptoms and/or invasive intervention indicated"),
    ("Pelvic soft tissue necrosis", {"intervention": "local"}, 2, "Local wound care"),
    ("Vomiting", {"intervention": "iv", "hospitalization": False}, 2, "Outpatient IV hydration"),
    ("Intraoperative hemorrhage", {"intervention": "invasive"}, 3,
     "Postoperative invasive intervention indicated"),
    ("Wound dehiscence", {"intervention": "invasive"}, 3,
     "revision by operative intervention indicated"),
    ("Arterial injury", {"intervention": "invasive"}, 3, "repair or revision indicated"),
    # a qualifier no fact records is assumed (Grading conventions, docs/domain.md)
    ("Wound infection", {"intervention": "local"}, 1, "Localized, local intervention indicated"),
    ("Skin infection", {"intervention": "local"}, 1, "Localized, local intervention indicated"),
    ("Wound dehiscence", {"intervention": "none"}, 1,
     "Incisional separation, intervention not indicated"),
    ("Wound dehiscence", {"intervention": "oral"}, 2,
     "Incisional separation, local care (e.g., suturing) or medical intervention indicated "
     "(e.g., analgesic)"),
]  # fmt: skip

# Clauses whose only v5.0 occurrences are outside the curated catalogue.
REFERENCE_CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("Methemoglobinemia", {"intervention": "urgent"}, 3, "Requiring urgent intervention"),
    ("Pulmonary edema", {"intervention": "urgent"}, 4,
     "urgent intervention or intubation with ventilatory support indicated"),
    ("Generalized edema", {"adl": "self_care"}, 3, "Interferes with self care ADL"),
    ("Generalized edema", {"adl": "instrumental"}, 2, "Interfering with instrumental ADLs"),
    ("Injury to jugular vein", {"symptoms": "mild", "adl": "self_care"}, 3,
     "Symptomatic limiting self care ADL"),
    ("Folliculitis", {"intervention": "none"}, 1, "no intervention indicated"),
    ("Sinus bradycardia", {"symptoms": "moderate", "intervention": "none"}, 2,
     "Symptomatic, intervention not indicated"),
    ("Sinus bradycardia", {"symptoms": "mild", "intervention": "oral"}, 3,
     "Symptomatic, intervention indicated"),
    ("Anal fistula", {"symptoms": "mild", "intervention": "minimally_invasive"}, 2,
     "Symptomatic, invasive intervention not indicated"),
    ("Floaters", {"symptoms": "mild", "adl": "none"}, 1, "Symptomatic but not limiting ADL"),
    ("Testosterone deficiency", {"symptoms": "mild", "intervention": "none"}, 1,
     "mild symptoms with no intervention indicated"),
    ("Pharyngeal mucositis", {"symptoms": "mild", "intervention": "none"}, 1,
     "mild pain but analgesics not indicated"),
    ("Pharyngeal mucositis", {"symptoms": "moderate", "intervention": "oral"}, 2,
     "Moderate pain, analgesics indicated"),
    ("Vasculitis", {"symptoms": "severe", "intervention": "oral"}, 3,
     "Severe symptoms, medical intervention indicated (e.g., steroids)"),
    ("Cushingoid", {"symptoms": "severe", "hospitalization": True}, 3,
     "Severe symptoms, medical intervention or hospitalization indicated"),
    ("Hypoparathyroidism", {"hospitalization": True}, 3,
     "medical intervention or hospitalization indicated"),
    ("Hemolysis", {"transfusion_units": 1}, 3,
     "Transfusion or medical intervention indicated (e.g., steroids)"),
    ("Belching", {"intervention": "local"}, 2,
     "Intervention initiated (including over the counter medications)"),
    ("Atrioventricular block first degree", {"intervention": "invasive"}, 2,
     "Non-urgent intervention indicated"),
    ("Eczema", {"intervention": "oral"}, 2, "topical or oral intervention indicated"),
    ("Folliculitis", {"intervention": "iv"}, 3, "systemic intervention indicated"),
    ("Renal calculi", {"intervention": "iv"}, 3, "IV intervention (e.g., analgesics, antiemetics)"),
    ("Papulopustular rash", {"intervention": "iv"}, 3, "IV antibiotics indicated"),
    ("Serum sickness", {"intervention": "iv"}, 3, "steroids or IV fluids indicated"),
    ("Intracranial hemorrhage", {"intervention": "invasive"}, 3,
     "Ventriculostomy, ICP monitoring, intraventricular thrombolysis, or invasive intervention "
     "indicated"),
    ("Pneumothorax", {"intervention": "invasive"}, 3,
     "Sclerosis and/or operative intervention indicated"),
    ("Ankle fracture", {"intervention": "invasive", "hospitalization": True}, 3,
     "elective operative intervention indicated requiring hospitalization"),
    ("Ankle fracture", {"intervention": "invasive", "hospitalization": False}, 2,
     "outpatient operative intervention indicated"),
    ("Renal colic", {"intervention": "oral"}, 1, "nonprescription medication indicated"),
    ("Laryngeal inflammation", {"intervention": "oral"}, 2, "analgesics indicated"),
    ("Cough", {"intervention": "oral"}, 1, "nonprescription intervention indicated"),
    ("Prostatic obstruction", {"intervention": "oral"}, 2, "elective intervention indicated"),
    ("Thrush", {"intervention": "local"}, 1, "local symptomatic management"),
    ("Gum infection", {"intervention": "local"}, 1, "Local therapy indicated (swish and swallow)"),
    ("Oropharyngeal pain", {"intervention": "local"}, 2, "topical analgesics initiated"),
    ("Generalized edema", {"intervention": "oral"}, 2, "oral therapy initiated"),
]  # fmt: skip

# Two rows match no v5.0 clause but are clauses the contract's facts name (grading.md lists
# them), and "hospitalization not indicated" only appears above its terms' lowest grade, where it
# qualifies its neighbours and is left to the checklist; a made-up term shows all three.
SYNTHETIC = Term(
    code="10000001",
    name="Synthetic event",
    soc="Test",
    grades={
        1: "Hospitalization not indicated",
        2: "Radiologic, endoscopic, or operative intervention indicated",
        3: "Disabling",
        4: None,
        5: None,
    },
)
SYNTHETIC_CASES: list[tuple[dict[str, Any], int, str]] = [
    ({"intervention": "invasive"}, 2,
     "Radiologic, endoscopic, or operative intervention indicated"),
    ({"disabling": True}, 3, "Disabling"),
    ({"hospitalization": False}, 1, "Hospitalization not indicated"),
]  # fmt: skip

# (term, facts, grade, clause) where the clause must NOT hold.
NOT_HOLDING: list[tuple[str, dict[str, Any], int, str]] = [
    # unknown is not "no": negative clauses need the fact recorded
    ("Vomiting", {"symptoms": "mild"}, 1, "Intervention not indicated"),
    ("Bladder perforation", {"symptoms": "mild"}, 2, "Invasive intervention not indicated"),
    ("Atrial fibrillation", {"symptoms": "none"}, 1, "Asymptomatic, intervention not indicated"),
    ("Vomiting", {"intervention": "local"}, 1, "Intervention not indicated"),
    ("Bladder perforation", {"intervention": "invasive"}, 2, "Invasive intervention not indicated"),
    (BLOOD_OTHER, {"symptoms": "moderate"}, 1, "Asymptomatic or mild symptoms"),
    (BLOOD_OTHER, {"intervention": "iv"}, 2,
     "minimal, local or noninvasive intervention indicated"),
    ("Wound infection", {"intervention": "minimally_invasive"}, 3,
     "invasive intervention indicated"),
    ("Wound infection", {"intervention": "invasive"}, 3, IV_ANTI),
    ("Bone infection", {"intervention": "iv"}, 2, ORAL_ANTI),
    ("Hematuria", {"hospitalization": False, "intervention": "oral", "transfusion_units": 0}, 3,
     "transfusion, IV medications, or hospitalization indicated"),
    ("Hypotension", {"life_threatening": True, "intervention": "iv"}, 4,
     "Life-threatening consequences and urgent intervention indicated"),
    ("Seroma", {"symptoms": "none", "intervention": "invasive"}, 3,
     "Symptomatic, elective invasive intervention indicated"),
    ("Urinary retention", {"intervention": "urgent"}, 3,
     "Elective invasive intervention indicated"),
    ("Pain in extremity", {"adl": "instrumental"}, 3, "limiting self care ADL"),
    ("Allergic reaction", {"intervention": "oral"}, 1, "Systemic intervention not indicated"),
    ("Thromboembolic event", {"intervention": "local"}, 1,
     "Medical intervention not indicated (e.g., superficial thrombosis)"),
    ("Hematoma", {"transfusion_units": 0}, 3, "Transfusion"),
    ("Pain in extremity", {"symptoms": "moderate"}, 1, "Mild pain"),
    ("Wound complication", {"intervention": "minimally_invasive"}, 3,
     "Operative intervention indicated"),
]  # fmt: skip


def holding(term: Term, facts: dict[str, Any]) -> set[tuple[int, str]]:
    try:
        result = grade(term, Facts(**facts))
    except GradingError:
        return set()
    return {(match.grade, match.clause) for match in result.matched if match.source == "generic"}


def check_case(term: Term, facts: dict[str, Any], expected: int, clause: str) -> None:
    assert clause in term.clauses(expected), f"{clause!r} is not at grade {expected} of {term.name}"
    result = grade(term, Facts(**facts))
    assert result.grade == expected
    assert (expected, clause) in {
        (m.grade, m.clause) for m in result.matched if m.source == "generic"
    }


@pytest.mark.parametrize(("name", "facts", "expected", "clause"), CURATED_CASES)
def test_a_generic_clause_of_a_curated_term_holds_on_its_facts(
    curated_by_name: dict[str, Term], name: str, facts: dict[str, Any], expected: int, clause: str
) -> None:
    check_case(curated_by_name[name], facts, expected, clause)


@pytest.mark.parametrize(("name", "facts", "expected", "clause"), REFERENCE_CASES)
def test_a_generic_clause_of_another_term_holds_on_its_facts(
    reference_by_name: dict[str, Term], name: str, facts: dict[str, Any], expected: int, clause: str
) -> None:
    check_case(reference_by_name[name], facts, expected, clause)


@pytest.mark.parametrize(("facts", "expected", "clause"), SYNTHETIC_CASES)
def test_clauses_absent_from_v5_are_still_mapped(
    facts: dict[str, Any], expected: int, clause: str
) -> None:
    check_case(SYNTHETIC, facts, expected, clause)


@pytest.mark.parametrize(("name", "facts", "at_grade", "clause"), NOT_HOLDING)
def test_a_generic_clause_does_not_hold_on_other_or_unknown_facts(
    curated_by_name: dict[str, Term], name: str, facts: dict[str, Any], at_grade: int, clause: str
) -> None:
    term = curated_by_name[name]
    assert clause in term.clauses(at_grade)
    assert (at_grade, clause) not in holding(term, facts)


def readings(clause: str) -> list[str]:
    """The clause, and what follows a leading qualifier no fact records ("Localized, ...")."""
    normalised = normalise_clause(clause)
    qualified = LEADING_QUALIFIER.fullmatch(normalised)
    return [normalised, *([qualified.group("rest")] if qualified else [])]


def row_of(clause: str) -> int:
    for text in readings(clause):
        for index, (pattern, _spec) in enumerate(GENERIC_CLAUSES):
            if pattern.fullmatch(text):
                return index
    raise AssertionError(f"{clause!r} matches no generic row")


def test_every_row_of_the_generic_table_is_shown_by_a_case() -> None:
    shown = {row_of(case[3]) for case in [*CURATED_CASES, *REFERENCE_CASES]}
    shown |= {row_of(case[2]) for case in SYNTHETIC_CASES}
    assert shown == set(range(len(GENERIC_CLAUSES)))


def test_every_row_of_the_generic_table_matches_a_clause_of_ctcae(
    reference_terms: list[Term],
) -> None:
    used = {
        index
        for term in reference_terms
        for grade_ in term.grades_available
        for clause in term.clauses(grade_)
        for text in readings(clause)
        for index, (pattern, _spec) in enumerate(GENERIC_CLAUSES)
        if pattern.fullmatch(text)
    }
    unused = {
        GENERIC_CLAUSES[index][0].pattern for index in set(range(len(GENERIC_CLAUSES))) - used
    }
    assert unused == {"radiologic, endoscopic, or operative intervention indicated"}


def check_spec(spec: tuple[Any, ...]) -> None:
    if spec[0] in ("all", "any"):
        assert len(spec) == 2 and len(spec[1]) >= 2
        for part in spec[1]:
            check_spec(part)
        return
    fact, op, value = spec
    assert fact in FACT_NAMES and fact != "criteria"
    scale = ORDINAL_SCALES.get(fact)
    if op == "is":
        assert isinstance(value, bool)
    elif op == "in":
        assert scale is not None and value and set(value) <= set(scale)
    else:
        assert op in ("eq", "ge", "gt", "le", "lt")
        if scale is not None:
            assert value in scale
        else:
            assert isinstance(value, int) and not isinstance(value, bool)


@pytest.mark.parametrize(
    ("pattern", "spec"), GENERIC_CLAUSES, ids=lambda item: getattr(item, "pattern", "")
)
def test_every_predicate_is_well_formed_data(pattern: Any, spec: tuple[Any, ...]) -> None:
    check_spec(spec)
