"""Whose address the upload-link rate limit counts, with and without a trusted proxy."""

from __future__ import annotations

from django.http import HttpRequest
from django.test import RequestFactory, override_settings

from certificates.ratelimit import client_ip


def _request(forwarded: str = "") -> HttpRequest:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1")
    if forwarded:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


def test_without_a_trusted_proxy_a_forged_forwarded_header_is_ignored() -> None:
    assert client_ip(_request("1.2.3.4")) == "10.0.0.1"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_the_address_it_appended_is_used_not_a_forged_one() -> None:
    assert client_ip(_request("6.6.6.6, 203.0.113.7")) == "203.0.113.7"


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_a_header_shorter_than_the_proxy_chain_falls_back_to_the_socket_address() -> None:
    assert client_ip(_request("203.0.113.7")) == "10.0.0.1"
