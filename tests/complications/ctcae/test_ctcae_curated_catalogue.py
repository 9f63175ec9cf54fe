"""The project's own curated catalogue: what it holds, and that it matches the NCI text."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from complications.ctcae import Term, load_curated_catalogue

NEEDED = [
    # infections
    "Wound infection", "Bone infection", "Joint infection", "Skin infection",
    "Soft tissue infection", "Urinary tract infection", "Lung infection", "Sepsis",
    "Device related infection",
    # bleeding
    "Hematoma", "Intraoperative hemorrhage", "Postoperative hemorrhage",
    "Retroperitoneal hemorrhage", "Bruising",
    # pain
    "Pain", "Pain in extremity", "Back pain", "Buttock pain", "Bone pain", "Arthralgia",
    "Pelvic pain", "Neuralgia",
    # nerves
    "Peripheral sensory neuropathy", "Peripheral motor neuropathy", "Paresthesia",
    "Radiculitis", "Intraoperative neurological injury",
    # fractures, thrombosis, allergy, general
    "Fracture", "Hip fracture", "Spinal fracture", "Thromboembolic event",
    "Arterial thromboembolism", "Allergic reaction", "Anaphylaxis", "Fever", "Anemia",
    "Urinary retention", "Hypotension", "Seroma", "Wound dehiscence", "Wound complication",
    "Osteonecrosis",
    # what an interventional radiology department meets besides (issue 13)
    "Sinus bradycardia", "Sinus tachycardia", "Bronchospasm", "Laryngospasm", "Dyspnea",
    "Pulmonary edema", "Headache", "Agitation", "Somnolence", "Depressed level of consciousness",
    "Dermatitis radiation", "INR increased", "Activated partial thromboplastin time prolonged",
    "Injury to inferior vena cava", "Pneumothorax", "Skin induration",
]  # fmt: skip


@pytest.fixture(scope="module")
def curated() -> dict[str, Term]:
    return load_curated_catalogue()


def test_it_holds_a_focused_subset_not_the_whole_table(curated: dict[str, Term]) -> None:
    assert 120 <= len(curated) <= 200


@pytest.mark.parametrize("name", NEEDED)
def test_it_holds_the_terms_screw_fixation_needs(
    curated_by_name: dict[str, Term], name: str
) -> None:
    assert name in curated_by_name


def test_it_holds_all_26_other_specify_terms_one_per_soc(curated: dict[str, Term]) -> None:
    others = [term for term in curated.values() if term.is_other_specify]
    assert len(others) == 26
    assert len({term.soc for term in others}) == 26


def test_it_holds_every_intraoperative_injury_term(
    curated: dict[str, Term], reference_terms: list[Term]
) -> None:
    intraoperative = {
        term.code
        for term in reference_terms
        if term.name.startswith("Intraoperative") and term.name.endswith("injury")
    }
    assert len(intraoperative) == 17
    assert intraoperative <= set(curated)


def test_each_curated_term_matches_the_nci_text(
    curated: dict[str, Term], reference_terms: list[Term]
) -> None:
    reference = {term.code: term for term in reference_terms}
    for code, term in curated.items():
        original = reference[code]
        assert (term.name, term.soc, term.definition) == (
            original.name,
            original.soc,
            original.definition,
        )
        assert term.grades_available == original.grades_available
        for grade in range(1, 6):
            assert term.clauses(grade) == original.clauses(grade), (term.name, grade)


def test_the_file_is_ordered_by_soc_then_term_and_cites_its_source() -> None:
    path = resources.files("complications.ctcae").joinpath("data/curated_terms.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    keys = [(record["soc"], record["term"]) for record in document["terms"]]
    assert keys == sorted(keys)
    assert document["version"] == "5.0"
    for fact in ("CTCAE", "v5.0", "2017-11-27", "National Cancer Institute", "public domain"):
        assert fact in document["source"]


def test_it_returns_a_fresh_mapping_each_time() -> None:
    first = load_curated_catalogue()
    first.clear()
    assert load_curated_catalogue()
