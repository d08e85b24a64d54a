"""Typing and response helpers shared by the views of every app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that passed through django-htmx's middleware (`request.htmx`)."""

    htmx: HtmxDetails


def redirect_after_post(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """Post/redirect/get for plain forms; a full-page client redirect for HTMX forms."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
