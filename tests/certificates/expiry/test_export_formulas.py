"""The expiry CSV never hands a spreadsheet a formula, in ASCII or full-width letters."""

from __future__ import annotations

import csv
import datetime
import io

from django.urls import reverse
from django.utils import timezone

from tests.certificates.expiry.factories import make_credential, new_client


def test_client_and_owner_names_that_look_like_formulas_are_exported_as_text(login, manager):
    office = manager.office
    names = ['＝HYPERLINK("http://zlo.example";"Faktura")', "=1+1", "＠SUM(A1)", "－2+3"]
    for name in names:
        client = new_client(office, name=name)
        make_credential(
            office, client, valid_to=timezone.now() + datetime.timedelta(days=10), owner_name=name
        )

    response = login(manager).get(reverse("expiry:export"))

    content = response.content.decode("utf-8").removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(content), delimiter=";"))[1:]
    assert sorted(row[0] for row in rows) == sorted("'" + name for name in names)
    assert sorted(row[5] for row in rows) == sorted("'" + name for name in names)
