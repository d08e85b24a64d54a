"""A departing accountant's clients are handed over in bulk; inactive staff are never offered."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clients.forms import ClientForm
from clients.models import Client
from portal.models import AuditEvent
from tests.factories import make_client, make_member

pytestmark = pytest.mark.django_db


def _deactivate(member):  # type: ignore[no-untyped-def]
    member.user.is_active = False
    member.user.save(update_fields=["is_active"])


@pytest.fixture
def colleague(office):  # type: ignore[no-untyped-def]
    return make_member(office, "accountant", "kolega", first_name="Konrad", last_name="Kolega")


@pytest.fixture
def leaver_clients(office, accountant):  # type: ignore[no-untyped-def]
    return [
        make_client(office, assigned=[accountant], name=f"Klient {i} sp. z o.o.") for i in range(3)
    ]


def test_deactivating_an_accountant_with_clients_leads_to_the_handover_page(
    login, admin_member, accountant, leaver_clients
):
    response = login(admin_member).post(reverse("staff:deactivate", args=[accountant.pk]))

    assert response.status_code == 302
    assert response.url == reverse("clients:handover", args=[accountant.pk])


def test_an_htmx_deactivation_with_clients_redirects_the_whole_page_to_the_handover(
    login, admin_member, accountant, leaver_clients
):
    response = login(admin_member).post(
        reverse("staff:deactivate", args=[accountant.pk]), HTTP_HX_REQUEST="true"
    )

    assert response.headers["HX-Redirect"] == reverse("clients:handover", args=[accountant.pk])


def test_the_handover_page_lists_the_persons_clients_and_only_active_colleagues(
    login, admin_member, accountant, colleague, unassigned_accountant, leaver_clients
):
    _deactivate(accountant)
    _deactivate(unassigned_accountant)

    response = login(admin_member).get(reverse("clients:handover", args=[accountant.pk]))

    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body
    assert all(c.name in body for c in leaver_clients)
    assert "Konrad Kolega" in body
    assert "Karol Obcy" not in body  # inactive
    assert ">Katarzyna Księgowa</option>" not in body  # never offered their own clients
    assert ">Konrad Kolega</option>" in body


def test_all_clients_go_to_one_colleague_in_one_step(
    login, admin_member, accountant, colleague, leaver_clients
):
    _deactivate(accountant)

    response = login(admin_member).post(
        reverse("clients:handover", args=[accountant.pk]), {"everyone": str(colleague.pk)}
    )

    assert response.status_code == 302 and response.url == reverse("staff:list")
    for client in leaver_clients:
        assert list(client.assigned_accountants.all()) == [colleague]
    event = AuditEvent.objects.get(action="staff.clients_handed_over")
    assert event.details["to"] == ["Konrad Kolega"]
    assert len(event.details["clients"]) == 3


def test_clients_are_split_between_several_colleagues_row_by_row(
    login, admin_member, accountant, colleague, office, leaver_clients
):
    third = make_member(office, "accountant", "trzecia", first_name="Teresa", last_name="Trzecia")
    first, second, last = leaver_clients
    _deactivate(accountant)

    login(admin_member).post(
        reverse("clients:handover", args=[accountant.pk]),
        {
            "everyone": str(colleague.pk),
            f"client_{second.pk}": str(third.pk),
            f"client_{last.pk}": "nobody",
        },
    )

    assert list(first.assigned_accountants.all()) == [colleague]
    assert list(second.assigned_accountants.all()) == [third]
    assert list(last.assigned_accountants.all()) == []


def test_submitting_without_choosing_anyone_explains_and_changes_nothing(
    login, admin_member, accountant, colleague, leaver_clients
):
    response = login(admin_member).post(reverse("clients:handover", args=[accountant.pk]), {})

    assert response.status_code == 200
    assert "Wybierz osobę, która przejmie klientów" in response.content.decode()
    assert all(list(c.assigned_accountants.all()) == [accountant] for c in leaver_clients)


def test_an_inactive_colleague_cannot_be_posted_as_the_new_opiekun(
    login, admin_member, accountant, unassigned_accountant, leaver_clients
):
    _deactivate(unassigned_accountant)

    response = login(admin_member).post(
        reverse("clients:handover", args=[accountant.pk]),
        {"everyone": str(unassigned_accountant.pk)},
    )

    assert response.status_code == 200
    assert all(list(c.assigned_accountants.all()) == [accountant] for c in leaver_clients)


def test_after_the_handover_the_admin_goes_on_to_revoke_the_persons_grants(
    login, admin_member, accountant, colleague, leaver_clients
):
    from grants.models import PermissionGrant

    PermissionGrant.objects.create(
        client=leaver_clients[0],
        grantee_kind=PermissionGrant.GranteeKind.PERSON,
        grantee_membership=accountant,
        grantee_identifier=accountant.pesel,
        state=PermissionGrant.State.GRANTED,
        permissions=["InvoiceRead"],
    )
    _deactivate(accountant)

    response = login(admin_member).post(
        reverse("clients:handover", args=[accountant.pk]), {"everyone": str(colleague.pk)}
    )

    assert response.url == reverse("grants:departure", args=[accountant.pk])


def test_the_htmx_form_answers_with_its_fragment(login, admin_member, accountant, leaver_clients):
    response = login(admin_member).post(
        reverse("clients:handover", args=[accountant.pk]), {}, HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert "<html" not in body and 'id="handover"' in body


def test_the_staff_list_offers_to_finish_a_departure_that_left_clients(
    login, admin_member, accountant, leaver_clients
):
    _deactivate(accountant)

    body = login(admin_member).get(reverse("staff:list")).content.decode()

    row = body[body.index(f'id="staff-{accountant.pk}"') :]
    assert reverse("clients:handover", args=[accountant.pk]) in row


@pytest.mark.parametrize("persona", ["manager", "accountant"])
def test_only_an_admin_hands_clients_over(login, request, persona, colleague):
    member = request.getfixturevalue(persona)
    url = reverse("clients:handover", args=[colleague.pk])

    assert login(member).get(url).status_code == 403


def test_another_offices_person_is_not_found(login, admin_member, outsider):
    url = reverse("clients:handover", args=[outsider.pk])

    assert login(admin_member).get(url).status_code == 404


def test_the_handover_refuses_other_methods(login, admin_member, accountant):
    url = reverse("clients:handover", args=[accountant.pk])

    assert login(admin_member).delete(url).status_code == 405


# --- inactive staff are never offered for assignment -------------------------------------


def test_the_new_client_form_does_not_offer_an_inactive_accountant(
    office, accountant, unassigned_accountant
):
    _deactivate(unassigned_accountant)

    offered = list(ClientForm(office=office).fields["assigned_accountants"].queryset)  # type: ignore[attr-defined]

    assert offered == [accountant]


def test_an_inactive_accountant_cannot_be_assigned_by_a_posted_form(
    login, manager, unassigned_accountant
):
    _deactivate(unassigned_accountant)

    login(manager).post(
        reverse("clients:create"),
        {
            "nip": "5260250274",
            "name": "Nowa Firma sp. z o.o.",
            "legal_form": "spzoo",
            "contact_emails": "a@b.example",
            "assigned_accountants": [str(unassigned_accountant.pk)],
        },
    )

    client = Client.objects.filter(nip="5260250274").first()
    assert client is None or not client.assigned_accountants.exists()


def test_the_client_list_filter_does_not_offer_an_inactive_accountant(
    login, manager, accountant, unassigned_accountant
):
    _deactivate(unassigned_accountant)

    body = login(manager).get(reverse("clients:list")).content.decode()

    assert "Katarzyna Księgowa" in body
    assert "Karol Obcy" not in body


def test_the_csv_import_refuses_an_inactive_opiekun(login, manager, unassigned_accountant):
    from django.core.files.uploadedfile import SimpleUploadedFile

    _deactivate(unassigned_accountant)
    data = (
        "nip;nazwa;forma_prawna;pieczec;emaile;opiekun\r\n"
        "5260250274;Firma;spzoo;nie;a@b.example;ksiegowy2\r\n"
    )

    response = login(manager).post(
        reverse("clients:import"),
        {"file": SimpleUploadedFile("k.csv", data.encode(), content_type="text/csv")},
    )

    assert "ma nieaktywne konto" in response.content.decode()
