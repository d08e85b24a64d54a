"""Every client view: 404 for another office or an unassigned accountant, 403 for the wrong
role, 405 for the wrong method, and the fragment for htmx versus the page without it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

MANAGERS = {"admin_member", "manager"}
EVERYONE = MANAGERS | {"accountant"}

# name, takes the client's pk, allowed methods, personas allowed
VIEWS = [
    ("clients:list", False, {"GET"}, EVERYONE),
    ("clients:create", False, {"GET", "POST"}, MANAGERS),
    ("clients:import", False, {"GET", "POST"}, MANAGERS),
    ("clients:import_confirm", False, {"POST"}, MANAGERS),
    ("clients:import_example", False, {"GET"}, MANAGERS),
    ("clients:detail", True, {"GET"}, EVERYONE),
    ("clients:edit", True, {"GET", "POST"}, EVERYONE),
    ("clients:archive", True, {"POST"}, MANAGERS),
    ("clients:prerequisite", True, {"GET"}, EVERYONE),
    ("clients:prerequisite_seal", True, {"POST"}, EVERYONE),
    ("clients:prerequisite_person", True, {"POST"}, EVERYONE),
    ("clients:prerequisite_filing", True, {"POST"}, EVERYONE),
    ("clients:prerequisite_confirm", True, {"POST"}, EVERYONE),
]
OBJECT_VIEWS = [v for v in VIEWS if v[1]]
ids = [v[0] for v in VIEWS]


def _url(name, takes_pk, client_company):
    return reverse(name, args=[client_company.pk] if takes_pk else [])


def _call(http, method, url, **extra):
    return getattr(http, method.lower())(url, **extra)


@pytest.mark.parametrize(
    ("name", "takes_pk", "methods", "allowed"), OBJECT_VIEWS, ids=[v[0] for v in OBJECT_VIEWS]
)
def test_a_member_of_another_office_gets_404(
    login, outsider, client_company, name, takes_pk, methods, allowed
):
    http = login(outsider)
    for method in methods:
        assert _call(http, method, _url(name, takes_pk, client_company)).status_code == 404


@pytest.mark.parametrize(
    ("name", "takes_pk", "methods", "allowed"), OBJECT_VIEWS, ids=[v[0] for v in OBJECT_VIEWS]
)
def test_an_accountant_not_assigned_to_the_client_gets_404(
    login, unassigned_accountant, client_company, name, takes_pk, methods, allowed
):
    http = login(unassigned_accountant)
    for method in methods:
        assert _call(http, method, _url(name, takes_pk, client_company)).status_code == 404


MANAGER_VIEWS = [v for v in VIEWS if "accountant" not in v[3]]


@pytest.mark.parametrize(
    ("name", "takes_pk", "methods", "allowed"), MANAGER_VIEWS, ids=[v[0] for v in MANAGER_VIEWS]
)
def test_an_accountant_gets_403_where_only_managers_may_act(
    login, accountant, client_company, name, takes_pk, methods, allowed
):
    http = login(accountant)
    for method in methods:
        assert _call(http, method, _url(name, takes_pk, client_company)).status_code == 403


@pytest.mark.parametrize(("name", "takes_pk", "methods", "allowed"), VIEWS, ids=ids)
def test_a_user_outside_any_office_gets_403(
    client, client_company, name, takes_pk, methods, allowed
):
    user = get_user_model().objects.create_user(username="bez-biura", password="x-Haslo-123!")
    client.force_login(user)
    for method in methods:
        assert _call(client, method, _url(name, takes_pk, client_company)).status_code == 403


@pytest.mark.parametrize(("name", "takes_pk", "methods", "allowed"), VIEWS, ids=ids)
def test_an_anonymous_visitor_is_sent_to_the_login_page(
    client, client_company, name, takes_pk, methods, allowed
):
    for method in methods:
        response = _call(client, method, _url(name, takes_pk, client_company))
        assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize(("name", "takes_pk", "methods", "allowed"), VIEWS, ids=ids)
def test_the_wrong_method_gets_405(
    login, manager, client_company, name, takes_pk, methods, allowed
):
    http = login(manager)
    wrong = ({"GET", "POST", "PUT", "DELETE"} - methods) - ({"PUT"} if "POST" in methods else set())
    for method in wrong:
        assert _call(http, method, _url(name, takes_pk, client_company)).status_code == 405


@pytest.mark.parametrize(
    ("name", "takes_pk", "fragment_id"),
    [
        ("clients:list", False, 'id="client-results"'),
        ("clients:create", False, 'id="client-form"'),
        ("clients:import", False, 'id="client-import"'),
        ("clients:detail", True, 'id="onboarding-checklist"'),
        ("clients:edit", True, 'id="client-form"'),
        ("clients:prerequisite", True, 'id="zaw-fa-wizard"'),
    ],
)
@pytest.mark.parametrize("persona", ["manager", "admin_member"])
def test_htmx_gets_the_fragment_and_a_browser_the_whole_page(
    request, login, client_company, name, takes_pk, fragment_id, persona
):
    member = request.getfixturevalue(persona)
    http = login(member)
    url = _url(name, takes_pk, client_company)

    page = http.get(url)
    fragment = http.get(url, HTTP_HX_REQUEST="true")
    boosted = http.get(url, HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true")

    assert page.status_code == fragment.status_code == boosted.status_code == 200
    assert "<html" in page.content.decode() and fragment_id in page.content.decode()
    assert "<html" not in fragment.content.decode() and fragment_id in fragment.content.decode()
    assert "<html" in boosted.content.decode()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("clients:prerequisite_seal", {"has_qualified_seal": "nie"}),
        ("clients:prerequisite_person", {"first_name": ""}),
        ("clients:prerequisite_filing", {}),
        ("clients:prerequisite_confirm", {}),
    ],
)
def test_wizard_steps_answer_htmx_with_the_wizard_fragment(
    login, accountant, client_company, name, data
):
    response = login(accountant).post(
        reverse(name, args=[client_company.pk]), data, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and 'id="zaw-fa-wizard"' in body


def test_archiving_with_htmx_redirects_the_browser_without_a_page(login, manager, client_company):
    response = login(manager).post(
        reverse("clients:archive", args=[client_company.pk]), HTTP_HX_REQUEST="true"
    )
    assert response["HX-Redirect"] == reverse("clients:detail", args=[client_company.pk])
    assert "<html" not in response.content.decode()


@pytest.mark.parametrize(
    ("name", "fragment_id"),
    [
        ("clients:detail", 'id="onboarding-checklist"'),
        ("clients:edit", 'id="client-form"'),
        ("clients:prerequisite", 'id="zaw-fa-wizard"'),
    ],
)
def test_an_assigned_accountant_gets_fragments_and_pages_of_their_client(
    login, accountant, client_company, name, fragment_id
):
    http = login(accountant)
    url = reverse(name, args=[client_company.pk])
    assert "<html" in http.get(url).content.decode()
    fragment = http.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and fragment_id in fragment
