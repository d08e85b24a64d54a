"""invoices:detail, invoices:xml and invoices:pdf for every persona, and the links between
a correction and the invoice it corrects."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from invoices.documents.corrections import corrections_index
from tests.factories import make_client, make_member
from tests.invoices.documents.support import store_sample

pytestmark = pytest.mark.django_db
VIEWS = ["invoices:detail", "invoices:xml", "invoices:pdf"]


@pytest.fixture
def stored(client_company):  # type: ignore[no-untyped-def]
    return store_sample(client_company, "mf-fa3-example-01.xml")


@pytest.mark.parametrize("name", VIEWS)
@pytest.mark.parametrize("persona", ["accountant", "manager", "admin_member"])
def test_members_who_see_the_client_open_the_invoice(name, persona, stored, login, request):  # type: ignore[no-untyped-def]
    response = login(request.getfixturevalue(persona)).get(reverse(name, args=[stored.invoice.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize("name", VIEWS)
@pytest.mark.parametrize("persona", ["unassigned_accountant", "outsider"])
def test_members_who_do_not_see_the_client_get_404(name, persona, stored, login, request):  # type: ignore[no-untyped-def]
    response = login(request.getfixturevalue(persona)).get(reverse(name, args=[stored.invoice.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("name", VIEWS)
def test_a_user_outside_any_office_gets_403(name, stored, client, django_user_model):  # type: ignore[no-untyped-def]
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(reverse(name, args=[stored.invoice.pk])).status_code == 403


@pytest.mark.parametrize("name", VIEWS)
def test_anonymous_visitors_are_sent_to_the_login_page(name, stored, client):  # type: ignore[no-untyped-def]
    response = client.get(reverse(name, args=[stored.invoice.pk]))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize("name", VIEWS)
def test_the_views_refuse_post(name, stored, login, manager):  # type: ignore[no-untyped-def]
    assert login(manager).post(reverse(name, args=[stored.invoice.pk])).status_code == 405


def test_an_unknown_invoice_is_404(login, manager):  # type: ignore[no-untyped-def]
    assert login(manager).get(reverse("invoices:detail", args=[999999])).status_code == 404


def test_the_xml_download_is_the_original_bytes_with_ksefs_hash(stored, login, accountant):  # type: ignore[no-untyped-def]
    response = login(accountant).get(reverse("invoices:xml", args=[stored.invoice.pk]))
    assert response["Content-Type"] == "application/xml"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="{stored.invoice.ksef_number}.xml"'
    )
    assert response.content == stored.xml
    assert (
        base64.b64encode(hashlib.sha256(response.content).digest()).decode()
        == stored.invoice.invoice_hash
    )


def test_the_pdf_download_is_an_a4_pdf_with_page_numbers(stored, login, accountant):  # type: ignore[no-untyped-def]
    response = login(accountant).get(reverse("invoices:pdf", args=[stored.invoice.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="{stored.invoice.ksef_number}.pdf"'
    )
    reader = PdfReader(io.BytesIO(response.content))
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    assert "1 z 2" in reader.pages[0].extract_text()


def test_the_page_shows_the_clients_the_hash_and_the_downloads(
    stored, client_company, login, accountant
):  # type: ignore[no-untyped-def]
    response = login(accountant).get(reverse("invoices:detail", args=[stored.invoice.pk]))
    html = response.content.decode()
    assert "<html" in html and 'id="invoice-document"' in html
    assert client_company.name in html and "Zakupy (Podmiot2)" in html
    assert stored.invoice.invoice_hash in html
    assert reverse("invoices:xml", args=[stored.invoice.pk]) in html
    assert reverse("invoices:pdf", args=[stored.invoice.pk]) in html
    assert "Sprawdź, czy Twoja faktura znajduje się w KSeF!" in html


def test_htmx_gets_the_document_alone(stored, login, accountant):  # type: ignore[no-untyped-def]
    response = login(accountant).get(
        reverse("invoices:detail", args=[stored.invoice.pk]), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<article class="invoice-document"')
    assert "<html" not in html and "Pobierz XML" not in html


def test_the_page_lists_only_the_clients_the_member_sees(
    stored, office, accountant, manager, login
):  # type: ignore[no-untyped-def]
    other = make_client(office, name="Hurtownia Obca sp. z o.o.")
    store_link = stored.invoice.client_links.create(
        client=other, subject_type="Subject1", issue_date=stored.invoice.issue_date
    )
    assert store_link.pk
    seen_by_accountant = (
        login(accountant).get(reverse("invoices:detail", args=[stored.invoice.pk])).content.decode()
    )
    assert "Hurtownia Obca" not in seen_by_accountant
    seen_by_manager = (
        login(manager).get(reverse("invoices:detail", args=[stored.invoice.pk])).content.decode()
    )
    assert "Hurtownia Obca" in seen_by_manager and "Sprzedaż (Podmiot1)" in seen_by_manager


def test_a_correction_and_the_invoice_it_corrects_link_to_each_other(
    client_company, login, accountant
):  # type: ignore[no-untyped-def]
    # MF example 2 corrects example 1, naming it by this KSeF number.
    original = store_sample(
        client_company, "mf-fa3-example-01.xml", ksef="9999999999-20230908-8BEF280C8D35-4D"
    )
    correction = store_sample(client_company, "mf-fa3-example-02.xml")
    assert corrections_index(invoices=[correction.invoice]) == 1
    browser = login(accountant)

    correction_page = browser.get(
        reverse("invoices:detail", args=[correction.invoice.pk])
    ).content.decode()
    original_url = reverse("invoices:detail", args=[original.invoice.pk])
    assert f'<a href="{original_url}">9999999999-20230908-8BEF280C8D35-4D</a>' in correction_page
    assert "Dane faktury korygowanej" in correction_page

    original_page = browser.get(original_url).content.decode()
    assert "Korekty tej faktury" in original_page
    assert reverse("invoices:detail", args=[correction.invoice.pk]) in original_page


def test_links_to_invoices_of_clients_the_member_does_not_see_are_not_made(
    office, client_company, login
):  # type: ignore[no-untyped-def]
    someone = make_member(office, "accountant")
    their_client = make_client(office, assigned=[someone])
    original = store_sample(
        client_company, "mf-fa3-example-01.xml", ksef="9999999999-20230908-8BEF280C8D35-4D"
    )
    correction = store_sample(their_client, "mf-fa3-example-02.xml")
    corrections_index(invoices=[correction.invoice])

    page = (
        login(someone)
        .get(reverse("invoices:detail", args=[correction.invoice.pk]))
        .content.decode()
    )
    assert "9999999999-20230908-8BEF280C8D35-4D" in page  # the number, as the document says
    assert reverse("invoices:detail", args=[original.invoice.pk]) not in page
