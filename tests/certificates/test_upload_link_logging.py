"""Django's 404/410/429 warnings for the public upload page name the link, not its token."""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from certificates import views
from certificates.models import UploadLink
from certificates.services import upload_link_create, upload_link_token_hash

TOKEN = "a-live-looking-upload-token-7Hq2Lw9Zx4Vb8Nm3Kp6Rt1Ys5"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    # The portal's own configuration, even if a test before this one (a Celery worker)
    # replaced the root logger's handlers.
    logging.config.dictConfig(settings.LOGGING)
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    handler.setStream(previous)  # type: ignore[attr-defined]


@pytest.fixture
def link(accountant, client_company) -> UploadLink:  # type: ignore[no-untyped-def]
    made = upload_link_create(
        actor=accountant.user,
        client=client_company,
        kind="authentication",
        recipient_email="ksiegowosc@klient.example",
    )
    UploadLink.objects.filter(pk=made.pk).update(token_hash=upload_link_token_hash(TOKEN))
    return UploadLink.objects.get(pk=made.pk)


def test_a_gone_link_is_logged_by_its_id(client, link, console_log):
    UploadLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(days=1))

    assert client.get(reverse("certificates:self_upload", args=[TOKEN])).status_code == 410

    log = console_log.getvalue()
    assert f"Gone: /credentials/u/[upload-link:{link.pk}]/" in log
    assert TOKEN not in log


def test_an_unknown_token_is_logged_without_it(db, client, console_log):
    assert client.get(reverse("certificates:self_upload", args=[TOKEN])).status_code == 404

    log = console_log.getvalue()
    assert "Not Found: /credentials/u/[upload-link:unknown]/" in log
    assert TOKEN not in log


def test_a_throttled_request_is_logged_without_the_token(client, link, console_log, monkeypatch):
    monkeypatch.setattr(views, "LINK_REQUESTS_PER_IP", 1)
    url = reverse("certificates:self_upload", args=[TOKEN])
    assert client.get(url).status_code == 200

    assert client.get(url).status_code == 429

    log = console_log.getvalue()
    assert "Too Many Requests: /credentials/u/[token]/" in log
    assert TOKEN not in log


def test_a_message_logged_by_hand_with_an_upload_path_is_redacted_too(console_log):
    logging.getLogger("portal.test").warning("client opened /credentials/u/%s/", TOKEN)

    log = console_log.getvalue()
    assert "client opened /credentials/u/[token]/" in log
    assert TOKEN not in log
