"""45 CFR 164.528: what is accountable, and the accounting report (six-year lookback,
exclusions, temporary suspension)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from confide.hipaa.accounting import (
    SUSPENDING_ROLES,
    accounting,
    accounting_entries,
    accounting_required,
    period_start,
    suspension_end,
)
from confide.hipaa.rules._case import CaseFileError

REQUIRED = [
    ("a1i_tpo_excluded", "tpo", True, False, "164.528(a)(1)(i)"),
    ("a1ii_to_individual_excluded", "individual", True, False, "164.528(a)(1)(ii)"),
    ("a1iv_authorization_excluded", "authorization", True, False, "164.528(a)(1)(iv)"),
    ("a1v_involvement_excluded", "involvement", True, False, "164.528(a)(1)(v)"),
    ("a1viii_limited_data_set_excluded", "limited_data_set", True, False, "164.528(a)(1)(viii)"),
    ("hhs_included", "hhs", True, True, "164.528(a)(1)"),
    ("164_512_included", "164.512", True, True, "164.528(a)(1)"),
    ("uses_are_not_disclosures", "164.512", False, False, "164.528(a)"),
]


@pytest.mark.parametrize("basis,is_disclosure,required,cite", [r[1:] for r in REQUIRED], ids=[r[0] for r in REQUIRED])
def test_164_528_a_1_accounting_required(basis, is_disclosure, required, cite):
    """45 CFR 164.528(a)(1)(i)-(ix): exclusions from the accounting."""
    got, citation = accounting_required(permitted=True, is_disclosure=is_disclosure, basis=basis,
                                        at=datetime(2026, 5, 1, tzinfo=timezone.utc))
    assert got is required
    assert cite in citation


def test_164_528_a_1_ix_before_compliance_date():
    """45 CFR 164.528(a)(1)(ix)."""
    got, cite = accounting_required(permitted=True, is_disclosure=True, basis="164.512",
                                    at=datetime(2002, 1, 1, tzinfo=timezone.utc))
    assert got is False and cite.endswith("(a)(1)(ix)")


def test_164_528_nothing_released_nothing_accounted():
    assert accounting_required(permitted=False, is_disclosure=True, basis="164.512")[0] is False


def _d(id_, at, basis="164.512", recipient="County Sheriff", role="law_enforcement", **kw):
    return {"id": id_, "disclosed_at": at, "recipient": recipient, "recipient_role": role,
            "description": "progress notes", "purpose": "warrant", "basis": basis, **kw}


DISCLOSURES = [
    _d("old", "2019-05-01T00:00:00Z"),                                      # > 6 years before
    _d("in", "2021-05-02T00:00:00Z", recipient="State Board", role="health_oversight_agency"),
    _d("tpo", "2025-01-01T00:00:00Z", basis="tpo"),                        # excluded
    _d("le", "2026-03-01T00:00:00Z"),
    _d("hhs", "2026-02-01T00:00:00Z", basis="hhs", recipient="HHS OCR", role="hhs_ocr"),
    _d("flag", "2026-02-02T00:00:00Z", basis=None, accounting_required=True, recipient="Coroner",
       role="coroner_me"),
    _d("future", "2026-06-01T00:00:00Z"),
]


def test_164_528_a_1_six_year_lookback_and_exclusions():
    """45 CFR 164.528(a)(1): six years before the request; excluded disclosures left out."""
    ids = [e["disclosure_id"] for e in accounting_entries(DISCLOSURES, as_of="2026-05-01T00:00:00Z")]
    assert ids == ["in", "hhs", "flag", "le"]
    shorter = accounting_entries(DISCLOSURES, as_of="2026-05-01T00:00:00Z", lookback_years=1)
    assert [e["disclosure_id"] for e in shorter] == ["hhs", "flag", "le"]


def test_164_528_b_2_entry_content():
    """45 CFR 164.528(b)(2): date, recipient (and address), description, purpose."""
    entry = accounting_entries([_d("x", "2026-03-01T10:00:00Z", recipient_address="1 Main St")],
                               as_of="2026-05-01T00:00:00Z")[0]
    assert entry == {"disclosure_id": "x", "date": "2026-03-01T10:00:00Z", "recipient": "County Sheriff",
                     "recipient_address": "1 Main St", "description": "progress notes", "purpose": "warrant"}


def test_164_528_a_2_i_written_suspension():
    """45 CFR 164.528(a)(2)(i): suspended for the time the written statement specifies."""
    suspension = {"recipient_role": "law_enforcement", "requested_at": "2026-04-01T00:00:00Z",
                  "in_writing": True, "until": "2026-07-01T00:00:00Z"}
    ids = [e["disclosure_id"] for e in accounting_entries(DISCLOSURES, as_of="2026-05-01T00:00:00Z",
                                                          suspensions=[suspension])]
    assert "le" not in ids and "hhs" in ids
    after = accounting_entries(DISCLOSURES, as_of="2026-07-02T00:00:00Z", suspensions=[suspension])
    assert "le" in [e["disclosure_id"] for e in after]


def test_164_528_a_2_ii_oral_suspension_at_most_30_days():
    """45 CFR 164.528(a)(2)(ii): an oral statement suspends for no longer than 30 days."""
    oral = {"recipient": "County Sheriff", "requested_at": "2026-04-15T00:00:00Z", "in_writing": False,
            "until": "2026-12-31T00:00:00Z"}
    during = accounting_entries(DISCLOSURES, as_of="2026-05-01T00:00:00Z", suspensions=[oral])
    assert "le" not in [e["disclosure_id"] for e in during]
    later = accounting_entries(DISCLOSURES, as_of="2026-05-20T00:00:00Z", suspensions=[oral])
    assert "le" in [e["disclosure_id"] for e in later]


def test_164_528_a_2_withheld_count_and_period_start():
    """45 CFR 164.528(a)(1), (a)(2): the report says where its period starts and how many it withholds."""
    suspension = {"recipient": "county sheriff", "requested_at": "2026-04-01T00:00:00Z", "in_writing": True,
                  "until": "2026-07-01T00:00:00Z"}  # names compared without regard to case
    report = accounting(DISCLOSURES, as_of="2026-05-01T00:00:00Z", suspensions=[suspension])
    assert report["withheld_under_suspension"] == 1
    assert [e["disclosure_id"] for e in report["entries"]] == ["in", "hhs", "flag"]
    assert report["period_start"] == "2020-05-01T00:00:00Z"
    assert accounting_entries(DISCLOSURES, as_of="2026-05-01T00:00:00Z", suspensions=[suspension]) \
        == report["entries"]


def test_164_528_a_1_period_start_six_years_never_before_compliance_date():
    """45 CFR 164.528(a)(1) and (a)(1)(ix)."""
    assert period_start("2024-02-29T12:00:00Z") == datetime(2018, 2, 28, 12, tzinfo=timezone.utc)
    assert period_start("2005-01-01T00:00:00Z") == datetime(2003, 4, 14, tzinfo=timezone.utc)
    with pytest.raises(CaseFileError, match="lookback_years"):
        period_start("2026-01-01T00:00:00Z", lookback_years=-1)


def test_164_528_a_2_suspension_end():
    """45 CFR 164.528(a)(2)(i) written: the stated period (none stated: no suspension); (ii) oral: <= 30 days."""
    start = "2026-04-01T00:00:00Z"
    assert suspension_end(start, "2026-09-01T00:00:00Z", True) == datetime(2026, 9, 1, tzinfo=timezone.utc)
    assert suspension_end(start, None, True) is None
    assert suspension_end(start, None, False) == datetime(2026, 5, 1, tzinfo=timezone.utc)
    assert suspension_end(start, "2026-04-10T00:00:00Z", False) == datetime(2026, 4, 10, tzinfo=timezone.utc)
    with pytest.raises(CaseFileError, match=r"agency\.until"):
        suspension_end(start, "soon", False, "agency")
    assert SUSPENDING_ROLES == {"health_oversight_agency", "law_enforcement"}


def test_accounting_entries_bad_input_names_the_field():
    with pytest.raises(CaseFileError, match=r"disclosures\[0\].disclosed_at"):
        accounting_entries([{"recipient": "x"}], as_of="2026-05-01T00:00:00Z")


ENGINE = [
    ("tpo_disclosure_not_accounted", {}, False),
    ("use_inside_practice_not_accounted", {"requester": {"role": "billing_staff"}, "action": "use"}, False),
    ("court_order_accounted", {"requester": {"role": "court"}, "purpose": "judicial",
                               "legal_process": {"type": "court_order", "signed_by_judge": True,
                                                 "covers": ["progress"]}}, True),
    ("denied_not_accounted", {"requester": {"role": "insurer_non_covered"}}, False),
]


@pytest.mark.parametrize("overrides,required", [e[1:] for e in ENGINE], ids=[e[0] for e in ENGINE])
def test_164_528_engine_accounting_flag(run, overrides, required):
    """45 CFR 164.528(a): the engine's accounting_required flag."""
    assert run(overrides)["accounting_required"] is required
