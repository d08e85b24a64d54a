"""The grant screen says what is true now: a revoked grant is no longer "Potwierdzone w KSeF"."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from grants.models import PermissionGrant

pytestmark = pytest.mark.django_db

State = PermissionGrant.State
Verification = PermissionGrant.Verification


def _grant(client, member, *, state, verification=Verification.VERIFIED):
    return PermissionGrant.objects.create(
        client=client,
        grantee_kind=PermissionGrant.GranteeKind.PERSON,
        grantee_membership=member,
        grantee_identifier_type="Pesel",
        grantee_identifier=member.pesel,
        permissions=["InvoiceRead"],
        state=state,
        verification=verification,
        verified_at=timezone.now(),
    )


def _row(html: str, grant: PermissionGrant) -> str:
    return html.split(f'id="grant-{grant.pk}"')[1].split("</tr>")[0]


def test_a_revoked_grant_no_longer_shows_a_green_confirmation(login, accountant, client_company):
    revoked = _grant(client_company, accountant, state=State.REVOKED)

    html = (
        login(accountant).get(reverse("grants:client", args=[client_company.pk])).content.decode()
    )

    row = _row(html, revoked)
    assert "Potwierdzone w KSeF" not in row
    assert "badge ok" not in row
    assert "Nieaktywne — odebrane w KSeF" in row


def test_a_granted_and_verified_grant_still_shows_the_confirmation(
    login, accountant, client_company
):
    granted = _grant(client_company, accountant, state=State.GRANTED)

    html = (
        login(accountant).get(reverse("grants:client", args=[client_company.pk])).content.decode()
    )

    row = _row(html, granted)
    assert '<span class="badge ok">Potwierdzone w KSeF</span>' in row


def test_a_grant_missing_in_ksef_stays_red(login, accountant, client_company):
    missing = _grant(
        client_company, accountant, state=State.GRANTED, verification=Verification.MISSING
    )

    html = (
        login(accountant).get(reverse("grants:client", args=[client_company.pk])).content.decode()
    )

    assert '<span class="badge bad">Brak w KSeF</span>' in _row(html, missing)
