"""The credential badge on the client list, the client page and the dashboard follows the
expiry dashboard's buckets: its colour and its words ("za 5 dni", "wygasł 3 dni temu")."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from certificates.expiry.selectors import BUCKET_TONES, bucket_of, expiry_status
from certificates.models import Credential
from clients.models import AccessModel, Prerequisite
from tests.factories import make_client

pytestmark = pytest.mark.django_db

State = Prerequisite.State


def _credential(client, *, days, office=None, kind=Credential.Kind.AUTHENTICATION):
    # Noon in Warsaw, `days` calendar days from today: days left are exact whatever the hour.
    today = timezone.localdate()
    valid_to = datetime.datetime.combine(
        today + datetime.timedelta(days=days),
        datetime.time(12),
        tzinfo=timezone.get_current_timezone(),
    )
    return Credential.objects.create(
        office=office or client.office, client=client, kind=kind, valid_to=valid_to
    )


def _list_cell(body: str, client) -> str:
    row = body.split(f'id="client-{client.pk}"')[1].split("</tr>")[0]
    return row.split('data-label="Poświadczenie"')[1].split("</td>")[0]


@pytest.mark.parametrize(
    ("days", "tone", "words"),
    [
        (5, "bad", "za 5 dni"),
        (1, "bad", "za 1 dzień"),
        (20, "warn", "za 20 dni"),
        (45, "warn", "za 45 dni"),
        (75, "ok", "za 75 dni"),
        (400, "ok", "za 400 dni"),
        (-3, "bad", "wygasł 3 dni temu"),
        (-1, "bad", "wygasł 1 dzień temu"),
    ],
)
def test_the_client_list_colours_and_words_the_credential_by_days_left(
    login, manager, office, days, tone, words
):
    client = make_client(office, prerequisite=State.NOT_REQUIRED)
    _credential(client, days=days)

    cell = _list_cell(login(manager).get(reverse("clients:list")).content.decode(), client)

    assert f'class="badge {tone}"' in cell
    assert words in cell


def test_the_badge_tone_is_the_expiry_dashboards_tone_of_the_same_bucket(office):
    now = timezone.now()
    for days in (-2, 0, 3, 7, 8, 30, 31, 60, 61, 90, 91, 500):
        status = expiry_status(
            Credential.Kind.AUTHENTICATION, now + datetime.timedelta(days=days, hours=1), now=now
        )
        assert status is not None
        assert status.bucket == bucket_of(status.expires_at, now)
        assert status.tone == BUCKET_TONES[status.bucket]
    today_expired = expiry_status(
        Credential.Kind.AUTHENTICATION, now - datetime.timedelta(minutes=1), now=now
    )
    assert today_expired is not None and today_expired.bucket == "expired"


def test_the_python_buckets_agree_with_the_dashboards_sql_buckets(office):
    from certificates.expiry.selectors import stored_credentials

    days_left = (-4, 0, 6, 7, 8, 29, 30, 31, 60, 61, 90, 91)
    made = {days: _credential(make_client(office), days=days) for days in days_left}
    now = timezone.now()
    sql = dict(stored_credentials(office, now=now).values_list(*["pk", "bucket"]))
    for credential in made.values():
        status = expiry_status(credential.kind, credential.valid_to, now=now)
        assert status is not None
        assert sql[credential.pk] == status.bucket


def test_a_token_counts_down_to_the_31_december_2026_cut_off(login, manager, office):
    client = make_client(office, prerequisite=State.NOT_REQUIRED)
    Credential.objects.create(office=office, client=client, kind=Credential.Kind.TOKEN)
    status = expiry_status(Credential.Kind.TOKEN, None)
    assert status is not None

    cell = _list_cell(login(manager).get(reverse("clients:list")).content.decode(), client)

    assert "31.12.2026" in cell
    assert status.text in cell
    assert f'class="badge {status.tone}"' in cell


def test_the_client_page_checklist_shows_the_days_left(login, manager, office):
    client = make_client(office, prerequisite=State.NOT_REQUIRED)
    _credential(client, days=12)

    body = login(manager).get(reverse("clients:detail", args=[client.pk])).content.decode()

    step = body.split('id="step-credentials"')[1].split("</li>")[0]
    assert 'class="badge warn"' in step
    assert "za 12 dni" in step


def test_an_office_model_client_names_the_office_certificate_in_the_list(login, manager, office):
    client = make_client(office, prerequisite=State.NOT_REQUIRED, access_model=AccessModel.OFFICE)
    _credential(None, days=200, office=office)

    cell = _list_cell(login(manager).get(reverse("clients:list")).content.decode(), client)

    assert "certyfikat biura" in cell
    assert "za 200 dni" in cell


def test_the_dashboard_lists_expiring_credentials_soonest_first_with_days_left(
    login, manager, office
):
    soon = make_client(office, name="Pilna sp. z o.o.")
    later = make_client(office, name="Spokojna S.A.")
    gone = make_client(office, name="Po terminie s.c.")
    fine = make_client(office, name="Daleko Sp. j.")
    _credential(soon, days=5)
    _credential(later, days=50)
    _credential(gone, days=-2)
    _credential(fine, days=300)

    body = login(manager).get(reverse("dashboard")).content.decode()

    card = body.split('id="dashboard-expiring"')[1].split("</section>")[0]
    assert card.index("Po terminie") < card.index("Pilna") < card.index("Spokojna")
    assert "Daleko" not in card
    assert "wygasł 2 dni temu" in card and "za 5 dni" in card and "za 50 dni" in card
    assert 'data-bucket="7"' in card and 'class="badge bad"' in card


def test_an_accountant_sees_only_their_clients_credentials_on_the_dashboard(
    login, accountant, office, other_office
):
    mine = make_client(office, name="Moja firma", assigned=[accountant])
    theirs = make_client(office, name="Cudza firma")
    foreign = make_client(other_office, name="Obce biuro")
    for client in (mine, theirs, foreign):
        _credential(client, days=3)
    _credential(None, days=3, office=office)

    card = (
        login(accountant)
        .get(reverse("dashboard"))
        .content.decode()
        .split('id="dashboard-expiring"')[1]
    ).split("</section>")[0]

    assert "Moja firma" in card
    assert "Cudza firma" not in card and "Obce biuro" not in card and "Biuro (model" not in card
