"""The audit filter's list of actions: distinct, in order, and only the office's own."""

from __future__ import annotations

from portal.audit import audit_record
from portal.selectors import audit_actions_of_office


def test_the_actions_are_each_listed_once_in_order_and_only_for_the_office(admin_member, outsider):
    office = admin_member.office
    for action in ["staff.created", "credential.used", "staff.created", "credential.used"] * 3:
        audit_record(office=office, actor=admin_member.user, action=action)
    audit_record(office=office, actor=None, action="a.first")
    audit_record(office=outsider.office, actor=outsider.user, action="foreign.only")

    assert audit_actions_of_office(admin_member) == [
        "a.first",
        "credential.used",
        "staff.created",
    ]
    assert audit_actions_of_office(outsider) == ["foreign.only"]


def test_an_office_with_no_events_has_no_actions(admin_member):
    assert audit_actions_of_office(admin_member) == []
