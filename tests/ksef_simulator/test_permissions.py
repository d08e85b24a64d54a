"""Permission grants between a client, an accounting office and its staff (digest §4)."""

from __future__ import annotations

from typing import Any

import httpx

from ksef_simulator.state import State
from tests.ksef_simulator.helpers import (
    add_person,
    auth_status,
    bearer,
    error_codes,
    grant_testdata,
    login_xades,
    make_credential,
    owner_login,
    submit_xades,
)

CLIENT = "5265877635"
OFFICE = "7680002466"
ACCOUNTANT_PESEL = "90010112345"
PERSON_DETAILS = {
    "subjectDetailsType": "PersonByIdentifier",
    "personById": {"firstName": "Anna", "lastName": "Nowak"},
}


def _done(sim: httpx.Client, access: str, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    status = sim.get(
        f"/permissions/operations/{response.json()['referenceNumber']}", headers=bearer(access)
    )
    assert status.status_code == 200
    return status.json()["status"]  # type: ignore[no-any-return]


def _entity_grant(sim: httpx.Client, access: str, can_delegate: bool = True) -> dict[str, Any]:
    response = sim.post(
        "/permissions/entities/grants",
        json={
            "subjectIdentifier": {"type": "Nip", "value": OFFICE},
            "permissions": [
                {"type": "InvoiceRead", "canDelegate": can_delegate},
                {"type": "InvoiceWrite", "canDelegate": can_delegate},
            ],
            "description": "Biuro rachunkowe",
            "subjectDetails": {"fullName": "Biuro Rachunkowe Sp. z o.o."},
        },
        headers=bearer(access),
    )
    return _done(sim, access, response)


def _indirect_grant(
    sim: httpx.Client, access: str, target: dict[str, str] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subjectIdentifier": {"type": "Pesel", "value": ACCOUNTANT_PESEL},
        "permissions": ["InvoiceRead"],
        "description": "Księgowa klienta",
        "subjectDetails": PERSON_DETAILS,
    }
    if target is not None:
        body["targetIdentifier"] = target
    response = sim.post("/permissions/indirect/grants", json=body, headers=bearer(access))
    return _done(sim, access, response)


def _accountant_status(sim: httpx.Client) -> int:
    response = submit_xades(sim, make_credential(pesel=ACCOUNTANT_PESEL), ("Nip", CLIENT))
    return auth_status(sim, response.json())["status"]["code"]  # type: ignore[no-any-return]


def test_pattern_a_staff_work_for_the_client_only_while_the_entity_grant_exists(
    sim: httpx.Client,
) -> None:
    client = owner_login(sim, CLIENT)
    office = owner_login(sim, OFFICE)
    assert _entity_grant(sim, client.access)["code"] == 200
    assert _indirect_grant(sim, office.access, {"type": "Nip", "value": CLIENT})["code"] == 200

    staff = login_xades(sim, make_credential(pesel=ACCOUNTANT_PESEL), CLIENT)
    assert sim.get("/limits/context", headers=bearer(staff.access)).status_code == 200

    received = sim.post(
        "/permissions/query/entities/grants", json={}, headers=bearer(office.access)
    ).json()["permissions"]
    grant_id = next(p["id"] for p in received if p["permissionScope"] == "InvoiceRead")
    revoke = sim.delete(f"/permissions/common/grants/{grant_id}", headers=bearer(client.access))
    assert _done(sim, client.access, revoke)["code"] == 200

    assert _accountant_status(sim) == 415
    # Gotcha 28: the access token issued before the revocation still works until exp.
    assert sim.get("/limits/context", headers=bearer(staff.access)).status_code == 200


def test_the_office_owner_uses_the_entity_grant_directly(sim: httpx.Client) -> None:
    client = owner_login(sim, CLIENT)
    _entity_grant(sim, client.access, can_delegate=False)

    office_in_client = login_xades(sim, make_credential(nip=OFFICE), CLIENT)

    listed = sim.post(
        "/permissions/query/personal/grants", json={}, headers=bearer(office_in_client.access)
    ).json()["permissions"]
    assert {p["permissionScope"] for p in listed} == {"InvoiceRead", "InvoiceWrite"}


def test_a_selective_indirect_grant_needs_a_delegable_entity_grant(sim: httpx.Client) -> None:
    client = owner_login(sim, CLIENT)
    office = owner_login(sim, OFFICE)
    _entity_grant(sim, client.access, can_delegate=False)

    status = _indirect_grant(sim, office.access, {"type": "Nip", "value": CLIENT})

    assert status["code"] == 440
    assert _accountant_status(sim) == 415


def test_a_general_indirect_grant_covers_every_client_that_delegated(sim: httpx.Client) -> None:
    client = owner_login(sim, CLIENT)
    office = owner_login(sim, OFFICE)
    _entity_grant(sim, client.access)

    assert _indirect_grant(sim, office.access, None)["code"] == 200

    assert _accountant_status(sim) == 200
    granted = sim.post(
        "/permissions/query/persons/grants",
        json={"queryType": "PermissionsGrantedInCurrentContext"},
        headers=bearer(office.access),
    ).json()["permissions"]
    assert [(p["authorizedIdentifier"]["value"], p["targetIdentifier"]) for p in granted] == [
        (ACCOUNTANT_PESEL, {"type": "AllPartners"})
    ]


def test_a_direct_person_grant_lets_the_person_in_and_is_listed(sim: httpx.Client) -> None:
    client = owner_login(sim, CLIENT)
    response = sim.post(
        "/permissions/persons/grants",
        json={
            "subjectIdentifier": {"type": "Pesel", "value": ACCOUNTANT_PESEL},
            "permissions": ["InvoiceRead", "CredentialsRead"],
            "description": "Księgowa",
            "subjectDetails": PERSON_DETAILS,
        },
        headers=bearer(client.access),
    )
    assert _done(sim, client.access, response)["code"] == 200

    staff = login_xades(sim, make_credential(pesel=ACCOUNTANT_PESEL), CLIENT)
    listed = sim.post(
        "/permissions/query/persons/grants",
        json={"queryType": "PermissionsInCurrentContext"},
        headers=bearer(staff.access),
    ).json()["permissions"]

    assert sorted(p["permissionScope"] for p in listed) == ["CredentialsRead", "InvoiceRead"]
    assert listed[0]["subjectPersonDetails"]["lastName"] == "Nowak"


def test_grants_without_subject_details_get_21405(sim: httpx.Client) -> None:
    client = owner_login(sim, CLIENT)

    response = sim.post(
        "/permissions/persons/grants",
        json={
            "subjectIdentifier": {"type": "Pesel", "value": ACCOUNTANT_PESEL},
            "permissions": ["InvoiceRead"],
            "description": "Księgowa",
        },
        headers=bearer(client.access),
    )

    assert error_codes(response) == [21405]


def test_granting_needs_credentials_manage(sim: httpx.Client) -> None:
    grant_testdata(sim, CLIENT, ("Pesel", ACCOUNTANT_PESEL), ["InvoiceRead"])
    staff = login_xades(sim, make_credential(pesel=ACCOUNTANT_PESEL), CLIENT)

    response = sim.post(
        "/permissions/entities/grants",
        json={
            "subjectIdentifier": {"type": "Nip", "value": OFFICE},
            "permissions": [{"type": "InvoiceRead", "canDelegate": True}],
            "description": "Biuro rachunkowe",
            "subjectDetails": {"fullName": "Biuro Rachunkowe Sp. z o.o."},
        },
        headers=bearer(staff.access),
    )

    assert response.status_code == 403
    assert response.json()["security"] == {
        "requiredAnyOfPermissions": ["CredentialsManage"],
        "presentPermissions": ["InvoiceRead"],
    }


def test_a_grant_is_not_in_force_until_its_operation_ends(
    sim: httpx.Client, sim_state: State
) -> None:
    sim_state.config.permission_processing_seconds = 10
    client = owner_login(sim, CLIENT)
    response = sim.post(
        "/permissions/persons/grants",
        json={
            "subjectIdentifier": {"type": "Pesel", "value": ACCOUNTANT_PESEL},
            "permissions": ["InvoiceRead"],
            "description": "Księgowa",
            "subjectDetails": PERSON_DETAILS,
        },
        headers=bearer(client.access),
    )

    assert _done(sim, client.access, response)["code"] == 100
    assert _accountant_status(sim) == 415
    sim_state.clock.advance(10)
    assert _done(sim, client.access, response)["code"] == 200
    assert _accountant_status(sim) == 200


def test_testdata_grants_show_the_system_as_author(sim: httpx.Client) -> None:
    grant_testdata(sim, CLIENT, ("Pesel", ACCOUNTANT_PESEL), ["InvoiceRead"])
    client = owner_login(sim, CLIENT)

    listed = sim.post(
        "/permissions/query/persons/grants",
        json={"queryType": "PermissionsInCurrentContext", "authorIdentifier": {"type": "System"}},
        headers=bearer(client.access),
    ).json()["permissions"]

    assert [p["authorIdentifier"] for p in listed] == [{"type": "System"}]
    revoke = sim.post(
        "/testdata/permissions/revoke",
        json={
            "contextIdentifier": {"type": "Nip", "value": CLIENT},
            "authorizedIdentifier": {"type": "Pesel", "value": ACCOUNTANT_PESEL},
        },
    )
    assert revoke.status_code == 200
    assert _accountant_status(sim) == 415


def test_queries_page_with_page_offset(sim: httpx.Client) -> None:
    client = owner_login(sim, CLIENT)
    for index in range(12):
        grant_testdata(sim, CLIENT, ("Pesel", f"900101123{index:02d}"), ["InvoiceRead"])

    first = sim.post(
        "/permissions/query/persons/grants",
        params={"pageSize": 10},
        json={"queryType": "PermissionsInCurrentContext"},
        headers=bearer(client.access),
    ).json()
    second = sim.post(
        "/permissions/query/persons/grants",
        params={"pageSize": 10, "pageOffset": 1},
        json={"queryType": "PermissionsInCurrentContext"},
        headers=bearer(client.access),
    ).json()

    assert (len(first["permissions"]), first["hasMore"]) == (10, True)
    assert (len(second["permissions"]), second["hasMore"]) == (2, False)


def test_the_owner_linked_by_pesel_can_grant(sim: httpx.Client) -> None:
    add_person(sim, CLIENT, "85121212345")
    owner = login_xades(sim, make_credential(pesel="85121212345"), CLIENT)

    assert _entity_grant(sim, owner.access)["code"] == 200


def test_entity_roles_and_attachment_consent_come_from_test_data(sim: httpx.Client) -> None:
    sim.post(
        "/testdata/subject",
        json={"subjectNip": CLIENT, "subjectType": "EnforcementAuthority", "description": "Urząd"},
    )
    sim.post("/testdata/attachment", json={"nip": CLIENT})
    client = owner_login(sim, CLIENT)

    roles = sim.get("/permissions/query/entities/roles", headers=bearer(client.access)).json()
    consent = sim.get("/permissions/attachments/status", headers=bearer(client.access)).json()

    assert [r["role"] for r in roles["roles"]] == ["EnforcementAuthority"]
    assert consent["isAttachmentAllowed"] is True


def test_the_client_context_lists_its_office_entity_grant_and_the_offices_indirect_grants(
    sim: httpx.Client,
) -> None:
    client = owner_login(sim, CLIENT)
    assert _entity_grant(sim, client.access)["code"] == 200
    office = owner_login(sim, OFFICE)
    assert _indirect_grant(sim, office.access, {"type": "Nip", "value": CLIENT})["code"] == 200

    listed = sim.post(
        "/permissions/query/persons/grants",
        json={"queryType": "PermissionsInCurrentContext"},
        headers=bearer(client.access),
    ).json()["permissions"]

    entity = sorted(
        (p["permissionScope"], p["canDelegate"])
        for p in listed
        if p["authorizedIdentifier"] == {"type": "Nip", "value": OFFICE}
    )
    assert entity == [("InvoiceRead", True), ("InvoiceWrite", True)]
    indirect = [p for p in listed if p["authorizedIdentifier"]["value"] == ACCOUNTANT_PESEL]
    assert indirect and all(p["targetIdentifier"]["value"] == CLIENT for p in indirect)
