"""Staff services: the office's rules and the audit trail each change leaves."""

from __future__ import annotations

import pytest

from portal import services
from portal.models import AuditEvent
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def _events(office):  # type: ignore[no-untyped-def]
    return list(AuditEvent.objects.filter(office=office).order_by("id"))


def test_creating_a_person_records_who_added_whom_with_which_role(office, admin_member):
    created = services.staff_create(
        office=office,
        actor=admin_member,
        username="jan.nowy",
        first_name="Jan",
        last_name="Nowy",
        email="jan@biuro.example",
        role="manager",
    )

    [event] = _events(office)
    assert (event.action, event.actor, event.object_id) == (
        "staff.created",
        admin_member.user,
        str(created.pk),
    )
    assert event.details == {"username": "jan.nowy", "role": "manager", "invited": True}
    assert "Jan Nowy" in event.object_repr


def test_a_person_created_with_a_password_can_log_in_without_an_invitation(
    client, office, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.staff_create(
            office=office,
            actor=None,
            username="demo",
            first_name="D",
            last_name="Emo",
            email="demo@biuro.example",
            role="accountant",
            password="Znane-haslo-1",
        )

    assert client.login(username="demo", password="Znane-haslo-1")
    assert mailoutbox == []
    [event] = _events(office)
    assert event.actor is None and event.actor_label == "system"


def test_role_change_deactivation_and_reactivation_each_leave_one_event(
    office, admin_member, accountant
):
    services.staff_change_role(membership=accountant, actor=admin_member, role="manager")
    services.staff_deactivate(membership=accountant, actor=admin_member)
    services.staff_reactivate(membership=accountant, actor=admin_member)

    events = _events(office)
    assert [e.action for e in events] == [
        "staff.role_changed",
        "staff.deactivated",
        "staff.reactivated",
    ]
    assert events[0].details == {"from": "accountant", "to": "manager"}
    assert {e.actor for e in events} == {admin_member.user}


def test_repeating_a_change_that_is_already_in_place_records_nothing(
    office, admin_member, accountant
):
    services.staff_change_role(membership=accountant, actor=admin_member, role="accountant")
    services.staff_reactivate(membership=accountant, actor=admin_member)
    services.staff_deactivate(membership=accountant, actor=admin_member)
    services.staff_deactivate(membership=accountant, actor=admin_member)

    assert [e.action for e in _events(office)] == ["staff.deactivated"]


def test_two_admins_demoting_each_other_cannot_leave_the_office_without_an_admin(
    office, admin_member
):
    second = make_member(office, "admin", "drugi.admin")
    services.staff_change_role(membership=admin_member, actor=second, role="manager")

    # admin_member's page was loaded before the demotion; its request arrives late.
    with pytest.raises(
        services.StaffRuleError, match="co najmniej jednego aktywnego administratora"
    ):
        services.staff_change_role(membership=second, actor=admin_member, role="manager")
    with pytest.raises(
        services.StaffRuleError, match="co najmniej jednego aktywnego administratora"
    ):
        services.staff_deactivate(membership=second, actor=admin_member)

    second.refresh_from_db()
    assert second.role == "admin" and second.user.is_active
    assert [e.action for e in _events(office)] == ["staff.role_changed"]


def test_a_deactivated_admin_does_not_count_as_the_remaining_admin(office, admin_member):
    second = make_member(office, "admin", "drugi.admin")
    services.staff_deactivate(membership=admin_member, actor=second)

    with pytest.raises(services.StaffRuleError):
        services.staff_change_role(membership=second, actor=admin_member, role="accountant")


def test_an_admin_cannot_deactivate_or_demote_themselves(admin_member):
    with pytest.raises(services.StaffRuleError, match="własnego konta"):
        services.staff_deactivate(membership=admin_member, actor=admin_member)
    with pytest.raises(services.StaffRuleError, match="własnej roli"):
        services.staff_change_role(membership=admin_member, actor=admin_member, role="manager")


def test_an_admin_of_another_office_cannot_change_our_staff(accountant, outsider):
    with pytest.raises(services.StaffRuleError, match="własnego biura"):
        services.staff_deactivate(membership=accountant, actor=outsider)

    accountant.user.refresh_from_db()
    assert accountant.user.is_active
    assert not AuditEvent.objects.exists()


def test_resending_an_invitation_is_recorded(
    office, admin_member, mailoutbox, django_capture_on_commit_callbacks
):
    invited = services.staff_create(
        office=office,
        actor=admin_member,
        username="z",
        first_name="Zofia",
        last_name="Z",
        email="zofia@biuro.example",
        role="accountant",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.staff_invitation_resend(membership=invited, actor=admin_member)

    assert [e.action for e in _events(office)] == ["staff.created", "staff.invitation_sent"]
    assert len(mailoutbox) == 1
    assert "biuro Biuro Rachunkowe Bilans założyło Ci konto" in mailoutbox[0].body
    assert mailoutbox[0].subject == "Zaproszenie do portalu KSeF biura Biuro Rachunkowe Bilans"


def test_no_invitation_goes_to_a_deactivated_person(office, admin_member):
    invited = services.staff_create(
        office=office,
        actor=admin_member,
        username="z",
        first_name="Zofia",
        last_name="Z",
        email="zofia@biuro.example",
        role="accountant",
    )
    services.staff_deactivate(membership=invited, actor=admin_member)

    with pytest.raises(services.StaffRuleError, match="nieaktywne"):
        services.staff_invitation_resend(membership=invited, actor=admin_member)
