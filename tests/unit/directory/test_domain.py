"""Given events, when a command, then events (or a domain error before any event exists)."""
import pytest

from confide.contracts import directory as d
from directory.domain import commands as c
from directory.domain import errors
from directory.domain import model as m

AT = "2026-05-01T10:00:00.000000Z"


def member(member_id, *events):
    return d.fold_member(member_id, [(e.type, e.to_data()) for e in events])


def enrolled(member_id="M-1", roles=("clinician",)):
    return d.WorkforceMemberEnrolled(member_id=member_id, name="Ada", credentials="PsyD", roles=list(roles),
                                     by="A", at=AT)


def test_enrol_a_new_member():
    [event] = m.decide_member(member("M-1"), c.EnrolMember("M-1", "Ada", "PsyD", ("clinician",), "A", AT))
    assert event == enrolled()


def test_enrol_twice_is_refused():
    with pytest.raises(errors.MemberExistsError, match="M-1"):
        m.decide_member(member("M-1", enrolled()), c.EnrolMember("M-1", "Ada", "PsyD", ("clinician",), "A", AT))


def test_grant_then_grant_again_records_one_fact():
    state = member("M-1", enrolled())
    [granted] = m.decide_member(state, c.GrantRole("M-1", "supervisor", "A", AT))
    assert m.decide_member(member("M-1", enrolled(), granted), c.GrantRole("M-1", "supervisor", "A", AT)) == []


def test_revoke_a_role_not_granted_is_refused():
    with pytest.raises(errors.RoleNotGrantedError, match="billing"):
        m.decide_member(member("M-1", enrolled()), c.RevokeRole("M-1", "billing", "A", AT))


def test_unknown_or_deactivated_member_refused():
    with pytest.raises(errors.MemberNotFoundError):
        m.decide_member(member("M-9"), c.GrantRole("M-9", "billing", "A", AT))
    gone = member("M-1", enrolled(), d.WorkforceMemberDeactivated(member_id="M-1", by="A", at=AT))
    with pytest.raises(errors.MemberInactiveError):
        m.decide_member(gone, c.DeactivateMember("M-1", "A", AT))


def test_supervision_needs_a_supervisor_and_a_trainee():
    sup = member("S-1", enrolled("S-1", ("clinician", "supervisor")))
    trainee = member("T-1", enrolled("T-1", ("trainee",)))
    [linked] = m.decide_supervision(sup, trainee, c.LinkSupervision("S-1", "T-1", "A", AT))
    assert linked.trainee_id == "T-1"
    with pytest.raises(errors.RoleNotGrantedError, match="supervisor"):
        m.decide_supervision(trainee, sup, c.LinkSupervision("T-1", "S-1", "A", AT))
    with pytest.raises(errors.SupervisionNotFoundError):
        m.decide_supervision(sup, trainee, c.EndSupervision("S-1", "T-1", "A", AT))
    linked_sup = member("S-1", enrolled("S-1", ("clinician", "supervisor")), linked)
    assert m.decide_supervision(linked_sup, trainee, c.LinkSupervision("S-1", "T-1", "A", AT)) == []
    [ended] = m.decide_supervision(linked_sup, trainee, c.EndSupervision("S-1", "T-1", "A", AT))
    assert ended.type == "SupervisionEnded"


def test_first_admin_only_while_no_active_admin():
    m.may_enrol_first_admin([member("M-1", enrolled())])
    admin = member("M-A", enrolled("M-A", ("practice_admin",)))
    with pytest.raises(errors.FirstAdminExistsError, match="M-A"):
        m.may_enrol_first_admin([admin])
    m.may_enrol_first_admin([member("M-A", enrolled("M-A", ("practice_admin",)),
                                    d.WorkforceMemberDeactivated(member_id="M-A", by="A", at=AT))])


def test_patient_must_be_registered_before_a_representative():
    with pytest.raises(errors.PatientNotRegisteredError, match="P-1"):
        m.decide_patient(d.Patient("P-1"), c.RecordRepresentative("P-1", "R-1", "Mum", "parent", "F", AT))
    [reg] = m.decide_patient(d.Patient("P-1"), c.RegisterPatient("P-1", "Cy", "2012-01-01", "F", AT))
    state = d.fold_patient("P-1", [(reg.type, reg.to_data())])
    with pytest.raises(errors.PatientExistsError):
        m.decide_patient(state, c.RegisterPatient("P-1", "Cy", "2012-01-01", "F", AT))
    with pytest.raises(errors.RepresentativeNotFoundError):
        m.decide_patient(state, c.RevokeRepresentative("P-1", "R-1", "F", AT))


def test_payer_lifecycle():
    jwks = {"keys": [{"kty": "EC", "kid": "k1"}]}
    [reg] = m.decide_payer(d.Payer("ORG-1"), c.RegisterPayer("ORG-1", "Acme", "insurer_health_plan", jwks, "A", AT))
    state = d.fold_payer("ORG-1", [(reg.type, reg.to_data())])
    [off] = m.decide_payer(state, c.DeactivatePayer("ORG-1", "A", AT))
    gone = d.fold_payer("ORG-1", [(reg.type, reg.to_data()), (off.type, off.to_data())])
    with pytest.raises(errors.PayerInactiveError):
        m.decide_payer(gone, c.ReplacePayerKeys("ORG-1", jwks, "A", AT))
    with pytest.raises(errors.PayerNotRegisteredError):
        m.decide_payer(d.Payer("ORG-2"), c.DeactivatePayer("ORG-2", "A", AT))
