"""Knowledge base: the packaged file validates, and broken files fail with file, line and key.

Run: .venv/bin/python -m pytest tests/test_sim_kb.py -q
"""

from __future__ import annotations

import re

import pytest

from medreasoner.errors import InputError
from medreasoner.sim.kb import DEFAULT_KB_PATH, load_knowledge_base


def test_packaged_kb_covers_the_required_breadth():
    kb = load_knowledge_base()
    assert len(kb.conditions) >= 40
    specialties = {c.specialty for c in kb.conditions}
    assert {"cardiology", "pulmonology", "gastroenterology", "neurology", "infectious_disease", "endocrinology",
            "nephrology_urology", "haematology", "rheumatology", "obstetrics"} <= specialties
    for condition in kb.conditions:
        assert set(condition.prevalence) == {"primary_care", "emergency", "inpatient"}
        assert condition.ja and condition.synonyms
        assert len(condition.findings) >= 3, condition.id
    # history-only diagnoses (migraine, tension-type headache) exist, but they are the exception
    with_exam = [c for c in kb.conditions if any(kb.findings[e.f].kind not in ("symptom", "history") for e in c.findings)]
    assert len(with_exam) >= 40
    for exam in kb.exams.values():
        assert exam.cost > 0


def test_every_number_is_sourced_or_marked_assumed():
    kb = load_knowledge_base()
    entries = [e for c in kb.conditions for e in c.findings] + list(kb.findings.values())
    assert all(e.src in kb.sources or e.assumed for e in entries)
    # the data is not all guesses: a real share of the values cite the literature without caveat
    assert sum(1 for e in entries if e.src and not e.assumed) >= 50


def _broken(tmp_path, old: str, new: str):
    text = DEFAULT_KB_PATH.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "kb.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path, text.replace(old, new, 1).splitlines()


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        # sensitivity out of (0, 1): pydantic range error, located at the entry
        ("{f: troponin_elevated, sens: 0.90, src: reichlin2009, assumed: true}",
         "{f: troponin_elevated, sens: 1.2, src: reichlin2009, assumed: true}",
         "conditions[0].findings[6].sens", "less than 1"),
        # a condition naming a finding that does not exist
        ("{f: st_elevation, sens: 0.35, src: panju1998, assumed: true}",
         "{f: st_elevaton, sens: 0.35, src: panju1998, assumed: true}",
         "conditions[0].findings[5].f", "unknown finding 'st_elevaton'"),
        # a value with neither a source nor the assumed flag
        ("{f: hypertension_history, sens: 0.60, assumed: true}", "{f: hypertension_history, sens: 0.60}",
         "conditions[0].findings[4].src", "needs a source"),
        # a lab finding pointing at an exam that does not exist
        ("exam: troponin, pos:", "exam: troponins, pos:", "findings.troponin_elevated.exam", "unknown exam 'troponins'"),
    ],
)
def test_broken_kb_names_file_line_and_key(tmp_path, old, new, field, message):
    path, lines = _broken(tmp_path, old, new)
    with pytest.raises(InputError) as caught:
        load_knowledge_base(path)
    error = caught.value
    assert error.path == str(path) and error.field == field and message in error.message
    assert error.line is not None
    # the reported line is the one holding the broken value (or its mapping)
    assert new.split(",")[0].strip("{ ") in lines[error.line - 1] or field.split(".")[-1] in lines[error.line - 1]
    assert re.match(rf"{re.escape(str(path))}:\d+: field '{re.escape(field)}'", str(error))


def test_unreadable_yaml_is_an_input_error(tmp_path):
    path = tmp_path / "kb.yaml"
    path.write_text("conditions: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="invalid YAML"):
        load_knowledge_base(path)
