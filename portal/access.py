"""Office scoping and role checks: the one family of lookup helpers every view uses.

Rules: an object of another office is invisible (404). A client not assigned to an
accountant is invisible to that accountant too (404), because accountants see only their
own clients. An action that the user's role does not allow on a visible object is 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from portal.models import Membership

Role = Membership.Role
ALL_ROLES = (Role.ADMIN, Role.MANAGER, Role.ACCOUNTANT)
MANAGERS = (Role.ADMIN, Role.MANAGER)
ADMINS = (Role.ADMIN,)

M = TypeVar("M", bound=Model)
View = Callable[..., HttpResponse]


def membership_of(request: HttpRequest) -> Membership:
    """The logged-in user's membership; a user outside any office may do nothing."""
    membership = getattr(request.user, "membership", None)
    if membership is None:
        raise PermissionDenied(_("Konto nie jest przypisane do żadnego biura."))
    return membership  # type: ignore[no-any-return]


def require_role(membership: Membership, roles: Iterable[str]) -> None:
    if membership.role not in tuple(roles):
        raise PermissionDenied(_("Twoja rola nie pozwala na tę czynność."))


def role_required(*roles: str) -> Callable[[View], View]:
    """Decorator for views: login, then a role check (403) before the view runs."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            require_role(membership_of(request), roles or ALL_ROLES)
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def scoped_get(
    membership: Membership, queryset: QuerySet[M], *, office_field: str = "office", **lookup: Any
) -> M:
    """Fetch one object of the member's office or raise 404 (never reveals other offices)."""
    try:
        return queryset.get(**{office_field: membership.office}, **lookup)
    except ObjectDoesNotExist as exc:
        raise Http404 from exc
