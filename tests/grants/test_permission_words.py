"""Pages name KSeF permissions in words, not by their API codes."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from grants.models import PermissionGrant

pytestmark = pytest.mark.django_db


@pytest.fixture
def grant(client_company, accountant):  # type: ignore[no-untyped-def]
    return PermissionGrant.objects.create(
        client=client_company,
        grantee_kind=PermissionGrant.GranteeKind.PERSON,
        grantee_membership=accountant,
        grantee_identifier=accountant.pesel,
        state=PermissionGrant.State.GRANTED,
        permissions=["InvoiceWrite", "InvoiceRead"],
    )


def test_the_grants_page_names_permissions_in_polish_words(login, manager, client_company, grant):
    body = login(manager).get(reverse("grants:client", args=[client_company.pk])).content.decode()

    assert "wystawianie faktur, przeglądanie faktur" in body
    assert "InvoiceWrite, InvoiceRead" not in body


def test_the_departure_page_names_permissions_in_english_words(
    login, admin_member, accountant, grant
):
    browser = login(admin_member)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    body = browser.get(reverse("grants:departure", args=[accountant.pk])).content.decode()

    assert "issuing invoices, viewing invoices" in body
    assert "InvoiceWrite, InvoiceRead" not in body
