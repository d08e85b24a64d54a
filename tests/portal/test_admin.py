"""Django admin: every model has a page; the audit log there is read-only."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.urls import reverse

from grants.models import PermissionGrant
from portal.audit import audit_record

pytestmark = pytest.mark.django_db

# Every model of our apps has an admin page, except the encrypted secrets and the cached
# KSeF session tokens, which no page of the portal ever shows.
NOT_IN_ADMIN = {"certificates_credentialsecret", "certificates_ksefsessiontokens"}
MODELS = [
    "auth_user",
    *sorted(
        f"{model._meta.app_label}_{model._meta.model_name}"
        for app in ("portal", "clients", "certificates", "grants", "invoices")
        for model in apps.get_app_config(app).get_models()
        if f"{model._meta.app_label}_{model._meta.model_name}" not in NOT_IN_ADMIN
    ),
]


@pytest.fixture
def superuser_client(client):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_a_superuser_can_list_every_model(superuser_client, model, client_company, manager):
    PermissionGrant.objects.create(
        client=client_company,
        grantee_kind="person",
        grantee_identifier_type="Pesel",
        grantee_identifier="90010112345",
        permissions=["InvoiceRead"],
    )
    audit_record(office=client_company.office, actor=manager.user, action="staff.created")

    response = superuser_client.get(reverse(f"admin:{model}_changelist"))

    assert response.status_code == 200


def test_the_audit_log_in_the_admin_offers_no_add_change_or_delete(
    superuser_client, office, manager
):
    event = audit_record(office=office, actor=manager.user, action="staff.created", obj=manager)

    assert superuser_client.get(reverse("admin:portal_auditevent_add")).status_code == 403
    assert (
        superuser_client.get(reverse("admin:portal_auditevent_delete", args=[event.pk])).status_code
        == 403
    )
    detail = superuser_client.get(reverse("admin:portal_auditevent_change", args=[event.pk]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert (
        superuser_client.post(
            reverse("admin:portal_auditevent_change", args=[event.pk]), {"action": "x"}
        ).status_code
        == 403
    )
