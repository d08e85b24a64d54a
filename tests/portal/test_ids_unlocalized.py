"""Ids in HTML attributes are plain digits even above 999 (no thousand separator).

USE_THOUSAND_SEPARATOR formats amounts as "1 626,01"; an id printed the same way would
break HTMX targets ("#staff-12 345") and filter values once an office has 1,000 rows.
"""

from __future__ import annotations

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
