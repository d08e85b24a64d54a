"""Request-wide behaviour: the chosen language, and no caching of credential pages."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers


class ChosenLanguageMiddleware:
    """Activate the language from the switch's cookie, else LANGUAGE_CODE (Polish).

    Django's LocaleMiddleware would also follow the browser's Accept-Language, so staff
    with an English browser would get an English portal they never asked for; the product
    speaks Polish by default and English only on request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.available = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.available else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ["Cookie"])
        response.headers.setdefault("Content-Language", language)
        return response


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every page of the NO_STORE_URL_NAMESPACES namespaces.

    Those pages show credential data (certificate owners, serials, custody logs, the upload
    forms and the client's link page): neither the browser's cache, its back button after
    logout, nor a proxy may keep a copy. Keyed on the URL namespace, so a new view in those
    apps is covered without remembering a decorator.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.namespaces = frozenset(settings.NO_STORE_URL_NAMESPACES)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and self.namespaces.intersection(match.namespaces):
            patch_cache_control(response, no_store=True, private=True)
            response.headers.pop("Expires", None)
        return response


def stamp_session_touch(sender: object, request: HttpRequest, **kwargs: object) -> None:
    """On login (the `user_logged_in` signal): the new session counts as just touched."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SessionIdleMiddleware.KEY] = int(time.time())


class SessionIdleMiddleware:
    """Move a session's expiry on while it is used, writing it at most once a minute.

    The session row expires SESSION_COOKIE_AGE (SESSION_IDLE_MINUTES) after its last save.
    Saving on every request (SESSION_SAVE_EVERY_REQUEST) would cost an UPDATE per page;
    instead a request marks the session changed when its last touch is a minute old or
    more, so an idle session still ends on time (to the minute) and a busy one lives on.
    """

    TOUCH_EVERY_SECONDS = 60
    KEY = "_touched_at"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.session_key:
            now = int(time.time())
            if now - int(session.get(self.KEY, 0)) >= self.TOUCH_EVERY_SECONDS:
                session[self.KEY] = now
        return self.get_response(request)
