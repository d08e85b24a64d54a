"""Writes for the office's staff: create (invite), change role, deactivate, reactivate.

Each service owns its transaction and records one audit event. Callers (views, the demo
seeder) have already scoped the membership to the actor's office; the services check it
again because an audit trail naming the wrong office would be worse than an error.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from portal import throttling
from portal.audit import audit_record
from portal.models import Membership, Office

User = get_user_model()


class StaffRuleError(Exception):
    """A staff change the office's rules forbid; the message is shown to the admin."""


def staff_create(
    *,
    office: Office,
    actor: Membership | None,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    role: str,
    pesel: str = "",
    nip: str = "",
    password: str | None = None,
) -> Membership:
    """Create a user and their membership in `office`.

    Without `password` the new person gets an unusable password and an invitation e-mail
    with a one-time link to set their own, so the admin never knows anyone's password.
    The demo seeder passes a known `password` instead and sends nothing.
    """
    _check_actor(office=office, actor=actor)
    with transaction.atomic():
        user = User.objects.create_user(
            username=username,
            email=email,
            first_name=first_name,
            last_name=last_name,
            password=password,  # None -> unusable password until the invitation is used
        )
        membership = Membership.objects.create(
            user=user, office=office, role=role, pesel=pesel, nip=nip
        )
        audit_record(
            office=office,
            actor=actor.user if actor else None,
            action="staff.created",
            obj=membership,
            details={"username": username, "role": role, "invited": password is None},
        )
        if password is None:
            transaction.on_commit(lambda: staff_invitation_send(membership=membership))
    return membership


def staff_invitation_send(*, membership: Membership) -> None:
    """E-mail the person a link to set their password (Django's password-reset token).

    The token is bound to the current password hash and last login, so the link stops
    working once used, and after PASSWORD_RESET_TIMEOUT (three days by default).
    """
    user = membership.user
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {
        "membership": membership,
        "office": membership.office,
        "link": settings.PORTAL_BASE_URL.rstrip("/") + path,
        "timeout_days": settings.PASSWORD_RESET_TIMEOUT // 86400,
    }
    # In Polish, like every e-mail, even when the inviting admin browses in English.
    with translation.override("pl"):
        subject = _("Zaproszenie do portalu KSeF biura %(office)s") % {
            "office": membership.office.name
        }
        body = render_to_string("portal/emails/staff_invitation.txt", context)
    send_mail(subject=subject, message=body, from_email=None, recipient_list=[user.email])


def staff_invitation_resend(*, membership: Membership, actor: Membership) -> None:
    """Send a fresh set-password link to someone who has not set a password yet."""
    _check_actor(office=membership.office, actor=actor)
    membership = Membership.objects.select_related("user", "office").get(pk=membership.pk)
    if not membership.user.is_active:
        raise StaffRuleError(_("To konto jest nieaktywne — najpierw je przywróć."))
    if membership.user.has_usable_password():
        raise StaffRuleError(
            _("Ta osoba ma już hasło. Jeśli go nie pamięta, niech użyje „Nie pamiętasz hasła?”.")
        )
    with transaction.atomic():
        audit_record(
            office=membership.office,
            actor=actor.user,
            action="staff.invitation_sent",
            obj=membership,
            details={"email": membership.user.email},
        )
        transaction.on_commit(lambda: staff_invitation_send(membership=membership))


def staff_change_role(*, membership: Membership, actor: Membership, role: str) -> Membership:
    """Give a staff member another role; the office always keeps an active admin."""
    _check_actor(office=membership.office, actor=actor)
    if membership.pk == actor.pk:
        raise StaffRuleError(
            _("Nie możesz zmienić własnej roli — poproś o to innego administratora.")
        )
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        )
        previous = membership.role
        if previous == role:
            return membership
        if previous == Membership.Role.ADMIN and membership.is_active:
            _ensure_another_active_admin(membership)
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            office=membership.office,
            actor=actor.user,
            action="staff.role_changed",
            obj=membership,
            details={"from": previous, "to": role},
        )
    return membership


def staff_deactivate(*, membership: Membership, actor: Membership) -> Membership:
    """Block the person's login. Django refuses sessions of inactive users at once.

    Later steps that must happen when someone leaves (revoking their KSeF grants) belong
    here, inside the same transaction, so a departure is one auditable act.
    """
    _check_actor(office=membership.office, actor=actor)
    if membership.pk == actor.pk:
        raise StaffRuleError(_("Nie możesz dezaktywować własnego konta."))
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        )
        if not membership.user.is_active:
            return membership
        if membership.role == Membership.Role.ADMIN:
            _ensure_another_active_admin(membership)
        membership.user.is_active = False
        membership.user.save(update_fields=["is_active"])
        audit_record(
            office=membership.office,
            actor=actor.user,
            action="staff.deactivated",
            obj=membership,
        )
    return membership


def staff_reactivate(*, membership: Membership, actor: Membership) -> Membership:
    """Let a deactivated person log in again, with the role they had."""
    _check_actor(office=membership.office, actor=actor)
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        )
        if membership.user.is_active:
            return membership
        membership.user.is_active = True
        membership.user.save(update_fields=["is_active"])
        audit_record(
            office=membership.office,
            actor=actor.user,
            action="staff.reactivated",
            obj=membership,
        )
    return membership


def _check_actor(*, office: Office, actor: Membership | None) -> None:
    if actor is not None and actor.office_id != office.pk:
        raise StaffRuleError(_("Możesz zarządzać tylko personelem własnego biura."))


def _ensure_another_active_admin(membership: Membership) -> None:
    # Lock the office's admin rows so two admins demoting each other at the same moment
    # cannot both succeed and leave the office without an administrator.
    other_admins = (
        Membership.objects.select_for_update()
        .filter(office_id=membership.office_id, role=Membership.Role.ADMIN, user__is_active=True)
        .exclude(pk=membership.pk)
    )
    if not list(other_admins):
        raise StaffRuleError(
            _(
                "Biuro musi mieć co najmniej jednego aktywnego administratora — "
                "najpierw nadaj tę rolę komuś innemu."
            )
        )


def staff_login_unlock(*, membership: Membership, actor: Membership) -> None:
    """Lift the lockout after failed logins, for the account (its IP counters stay)."""
    _check_actor(office=membership.office, actor=actor)
    removed = throttling.login_unlock(membership.user.username)
    audit_record(
        office=membership.office,
        actor=actor.user,
        action="staff.login_unlocked",
        obj=membership,
        details={"counters_removed": removed},
    )
