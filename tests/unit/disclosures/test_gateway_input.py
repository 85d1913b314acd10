"""Gateway input checks that run before any RPC: NUL characters are refused, naming the field."""
import pytest

from gateway.errors import InvalidBody
from gateway.schemas import DisclosureRequestBodySchema
from gateway.service import _load, _nul_field


@pytest.mark.parametrize("body, field", [
    ({"patient_id": "P\x00"}, "patient_id"),
    ({"patient_id": "P", "claim_id": "ok", "nested": {"list": ["a", "b\x00"]}}, "nested.list.1"),
    ({"patient_id": "P"}, None),
])
def test_nul_field_names_the_first_offending_path(body, field):
    assert _nul_field(body) == field


def test_a_nul_in_the_body_is_a_422_naming_the_field():
    with pytest.raises(InvalidBody) as err:
        _load(DisclosureRequestBodySchema(), {"patient_id": "P-1\x00", "purpose": "payment"})
    assert err.value.field == "patient_id" and "NUL" in str(err.value.messages)
