"""The main pages fit a phone (390 px) and a laptop (1366 px) without sideways page scroll.

Seeded like a working office: long client names, several accountants, credentials in every
expiry bucket and audit entries with long details.
"""

from __future__ import annotations

import datetime

import pytest

from portal.audit import audit_record
from tests.browser.conftest import live_url, log_in
from tests.certificates.expiry.factories import days_from_now, make_credential, new_client
from tests.factories import make_member

pytestmark = pytest.mark.browser

LONG_FORM = "spółka z ograniczoną odpowiedzialnością"
WIDTHS = {"phone": (390, 844), "laptop": (1366, 900)}


@pytest.fixture
def busy_office(office, admin_member, manager, accountant, unassigned_accountant):  # type: ignore[no-untyped-def]
    colleagues = [
        make_member(
            office,
            "accountant",
            f"ksiegowa{i}",
            first_name="Małgorzata",
            last_name=f"Wiśniewska-Kowalczyk {i}",
        )
        for i in range(3)
    ]
    clients = []
    for i, days in enumerate([-3, 5, 40, 75, 400, 800]):
        client = new_client(
            office,
            assigned=[accountant, *colleagues],
            name=f"Przedsiębiorstwo Handlowo-Usługowe Długa Nazwa Numer {i} {LONG_FORM}",
        )
        make_credential(office, client, valid_to=days_from_now(days))
        clients.append(client)
    audit_record(
        office=office,
        actor=admin_member.user,
        action="grant.requested",
        obj=clients[0],
        details={
            "client_nip": clients[0].nip,
            "grantee": "90010112345",
            "permissions": ["InvoiceWrite", "InvoiceRead"],
            "can_delegate": False,
            "warnings": ["x" * 300],
        },
    )
    audit_record(
        office=office,
        actor=None,
        action="staff.grants_revoke_finished",
        obj=accountant,
        details={"results": [[c.pk, "revoked"] for c in clients]},
    )
    return clients


def _pages(clients):  # type: ignore[no-untyped-def]
    return {
        "client list": ("clients:list", ()),
        "client page": ("clients:detail", (clients[0].pk,)),
        "expiry dashboard": ("expiry:dashboard", ()),
        "audit log": ("audit:list", ()),
    }


def _too_wide(page, live_server, member, width, pages):  # type: ignore[no-untyped-def]
    """The pages (name -> URL name and args) whose content is wider than the window."""
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[width], strict=True)))
    log_in(page, live_server, member)
    too_wide = {}
    for name, (url_name, args) in pages.items():
        page.goto(live_url(live_server, url_name, *args))
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > inner:
            too_wide[name] = scroll
    return too_wide


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_main_pages_never_scroll_sideways(page, live_server, admin_member, busy_office, width):
    too_wide = _too_wide(page, live_server, admin_member, width, _pages(busy_office))
    assert not too_wide, f"pages wider than {WIDTHS[width][0]} px: {too_wide}"


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_the_sending_pages_never_scroll_sideways(page, live_server, admin_member, office, width):
    """Upload, the confirm form with its modes and the offline24 warning, the offline
    dashboard and an offline invoice, with a long client name and long invoice numbers."""
    from certificates.expiry.selectors import local_today
    from tests.invoices.sending.offline_core import checked_job, store_offline
    from tests.invoices.sending.offline_support import offline_invoice
    from tests.invoices.sending.support import seller

    client = seller(office)
    client.name = f"Przedsiębiorstwo Handlowo-Usługowe Długa Nazwa {LONG_FORM}"
    client.save(update_fields=["name"])
    store_offline(office, client)
    long_number = "FV/2026/02/SPRZEDAZ-HURTOWA-ODDZIAL-POLNOCNY/{n:06d}"
    job = checked_job(
        client, [long_number.format(n=n) for n in range(3)], day=datetime.date(2026, 2, 13)
    )
    waiting = offline_invoice(
        client,
        deadline=local_today() - datetime.timedelta(days=2),
        number=long_number.format(n=99),
    )
    pages = {
        "upload": ("invoices:send", (client.pk,)),
        "confirm": ("invoices:send_job", (client.pk, job.pk)),
        "offline dashboard": ("invoices:offline", ()),
        "offline invoice": ("invoices:outgoing_view", (client.pk, waiting.pk)),
    }

    too_wide = _too_wide(page, live_server, admin_member, width, pages)

    assert not too_wide, f"pages wider than {WIDTHS[width][0]} px: {too_wide}"
    page.goto(live_url(live_server, "invoices:send_job", client.pk, job.pk))
    assert page.locator("#send-offline24-late").is_visible()


def test_the_admins_header_fits_on_one_line_on_a_laptop(
    page, live_server, admin_member, busy_office
):
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, live_server, admin_member)

    height = page.evaluate("document.querySelector('header.topbar').getBoundingClientRect().height")
    brand = page.evaluate("document.querySelector('header .brand').getBoundingClientRect().height")

    assert height < brand * 2.5, f"the header wraps: {height} px high"


def test_a_client_row_on_a_phone_reads_as_a_labelled_card(
    page, live_server, admin_member, busy_office
):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, admin_member)
    page.goto(live_url(live_server, "clients:list"))

    row = page.locator(f"#client-{busy_office[0].pk}")
    expect(row.locator("td[data-label='NIP']")).to_be_visible()
    box = row.bounding_box()
    assert box is not None and box["width"] <= 390
