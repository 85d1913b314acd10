"""SOAP, DAP and BIRP present the same record: every field once, nothing added."""
import pytest

from notes import schemas as s
from notes.presentations import PRESENTATIONS, present

from .conftest import progress_content


@pytest.mark.parametrize("name", PRESENTATIONS)
def test_every_field_appears_exactly_once(name):
    content = s.dump_content(s.load(s.ProgressNoteContentSchema, progress_content()))
    laid_out = present(content, name)
    seen = [f for section in laid_out.values() for f in section]
    assert sorted(seen) == sorted(content)
    assert {f: v for section in laid_out.values() for f, v in section.items()} == content


def test_sections():
    assert list(present({}, "soap")) == ["subjective", "objective", "assessment", "plan"]
    assert list(present({}, "dap")) == ["data", "assessment", "plan"]
    assert list(present({}, "birp")) == ["behavior", "intervention", "response", "plan"]
    assert present({"a": 1}, None) == {"a": 1}
