"""Ids in HTML attributes are plain digits even above 999 (no thousand separator).

USE_THOUSAND_SEPARATOR formats amounts as "1 626,01"; an id printed the same way would
break HTMX targets ("#staff-12 345") and filter values once an office has 1,000 rows.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from portal.models import Membership


def test_an_id_above_999_is_rendered_without_a_separator(login, admin_member):
    user = get_user_model().objects.create_user(username="tysieczny", email="t@biuro.example")
    Membership.objects.create(pk=12345, user=user, office=admin_member.office, role="manager")

    page = login(admin_member).get(reverse("staff:list")).content.decode()

    assert 'id="staff-12345"' in page
    assert 'hx-target="#staff-12345"' in page
    assert "12\xa0345" not in page and "12 345" not in page


def test_the_invoice_list_s_client_filter_and_page_links_use_plain_digits(
    login, manager, office, monkeypatch
):
    from invoices import list_views
    from tests.factories import make_client
    from tests.invoices.browse.support import make_invoices

    monkeypatch.setattr(list_views, "PAGE_SIZE", 1)
    client = make_client(office, pk=12345, name="Tysięczny sp. z o.o.")
    make_invoices(client, 1002)

    page = login(manager).get(reverse("invoices:list") + "?page=1001").content.decode()

    assert '<option value="12345"' in page
    assert "page=1000" in page and "page=1002" in page
    assert "page=1\xa0" not in page and "page=1 0" not in page


# A value inside an HTML attribute that Django may localise: an id, a page number, a count.
# Such a value must pass through |unlocalize (or sit in {% localize off %}); a label or a
# string field whose name merely ends in "number" is listed as known text.
_ATTRIBUTE = re.compile(r'[\w:-]+="([^"]*)"')
_VARIABLE = re.compile(r"\{\{\s*([^}|]+?)\s*(\|[^}]*)?\}\}")
_NUMERIC = re.compile(
    r"(^|\.)(pk|id|\w+_id|\w*number|num_pages|counter0?|count|year|page|width|height|x|y)$"
)
_KNOWN_TEXT = {"l_number", "field.auto_id", "invoice.invoice_number", "invoice.ksef_number"}
_LOCALIZE_OFF = re.compile(r"{% localize off %}.*?{% endlocalize %}", re.S)


def test_no_template_puts_a_localisable_number_into_an_attribute():
    offenders = []
    for template in sorted((settings.BASE_DIR / "templates").rglob("*.html")):
        text = _LOCALIZE_OFF.sub("", template.read_text(encoding="utf-8"))
        for attribute in _ATTRIBUTE.finditer(text):
            for variable in _VARIABLE.finditer(attribute.group(1)):
                expression, filters = variable.group(1), variable.group(2) or ""
                if expression in _KNOWN_TEXT or not _NUMERIC.search(expression):
                    continue
                if not re.search(r"unlocalize|stringformat|floatformat:'\d*u'", filters):
                    offenders.append(f"{template.name}: {attribute.group(0)}")

    assert offenders == []
