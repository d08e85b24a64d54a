"""Writing the audit log. Every service that changes data calls `audit_record`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models import AuditEvent, Office


def audit_record(
    *,
    office: Office,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    obj: models.Model | None = None,
    details: dict[str, Any] | None = None,
    actor_label: str = "",
    client_id: int | None = None,
) -> AuditEvent:
    """Append one event. `details` must never carry a secret (keys, passwords, tokens).

    `actor_label` names an actor who is not a logged-in user as a code, rendered in the
    reader's language by `actor_text`: "system", "client_link" or "client_link:<id>".
    """
    # Any: the stubs type the FK as the concrete user model, the signature as the abstract one.
    user: Any = actor if isinstance(actor, AbstractBaseUser) else None
    return AuditEvent.objects.create(
        client_id=client_id if client_id is not None else _client_of(obj),
        office=office,
        actor=user,
        actor_label=actor_label or ("" if user else "system"),
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=_object_repr(obj),
        details=details or {},
    )


def _object_repr(obj: models.Model | None) -> str:
    """How the log names the object: stored once, read in any language, so models whose
    `__str__` carries translated words (a role, a kind) offer a neutral `audit_repr`."""
    if obj is None:
        return ""
    return str(getattr(obj, "audit_repr", None) or obj)[:300]


def _client_of(obj: models.Model | None) -> int | None:
    """The client an object is, or belongs to (credentials, grants, ZAW-FA...)."""
    if obj is None:
        return None
    if obj._meta.label == "clients.Client":
        return int(obj.pk)
    client_id = getattr(obj, "client_id", None)
    return int(client_id) if isinstance(client_id, int) else None


def actor_text(event: AuditEvent) -> str:
    """Who did it, in the reader's language: the person, the system or the client's link."""
    if event.actor is not None:
        return str(event.actor.get_full_name() or event.actor.get_username())
    label = event.actor_label
    if label in ("", "system"):
        return str(_("system"))
    if label == "seed_demo":
        return str(_("dane demonstracyjne"))
    if label == "client_link":
        return str(_("klient (link jednorazowy)"))
    if label.startswith("client_link:"):
        return str(_("klient (link jednorazowy #%(id)s)")) % {"id": label.partition(":")[2]}
    return label  # older rows stored the label as text


# Human names of the actions, for the audit-log page. Unknown actions show their code, so
# an app that records a new action is never hidden from the log.
ACTION_LABELS: dict[str, Any] = {
    "staff.created": _("Dodano pracownika"),
    "staff.invitation_sent": _("Ponownie wysłano zaproszenie"),
    "staff.role_changed": _("Zmieniono rolę pracownika"),
    "staff.deactivated": _("Dezaktywowano konto pracownika"),
    "staff.reactivated": _("Przywrócono konto pracownika"),
    "staff.login_unlocked": _("Zdjęto blokadę logowania pracownika"),
    "demo.seeded": _("Załadowano dane demonstracyjne"),
    "client.created": _("Dodano klienta"),
    "client.imported": _("Zaimportowano klientów z CSV"),
    "client.updated": _("Zmieniono dane klienta"),
    "client.archived": _("Zarchiwizowano klienta"),
    "client.access_model_set": _("Wybrano model dostępu do KSeF"),
    "prerequisite.person_set": _("ZAW-FA: wskazano osobę upoważnioną"),
    "prerequisite.owner_set": _("Zapisano dane właściciela firmy (JDG)"),
    "prerequisite.filed": _("ZAW-FA: złożono w urzędzie"),
    "prerequisite.confirmed": _("ZAW-FA: potwierdzono"),
    "prerequisite.reevaluated": _("ZAW-FA: ponownie oceniono wymóg"),
    "credential.uploaded": _("Wgrano poświadczenie KSeF"),
    "credential.replaced": _("Zastąpiono poświadczenie KSeF"),
    "credential.deleted": _("Usunięto poświadczenie KSeF"),
    "credential.used": _("Użyto poświadczenia KSeF"),
    "grant.requested": _("Zlecono nadanie uprawnień w KSeF"),
    "grant.granted": _("Nadano uprawnienia w KSeF"),
    "grant.failed": _("Nadanie uprawnień w KSeF nie powiodło się"),
    "grant.revoked": _("Odebrano uprawnienia w KSeF"),
    "grant.discovered": _("Odnaleziono uprawnienie w KSeF"),
    "grant.missing": _("Uprawnienie zniknęło z KSeF"),
    "grant.retried": _("Ponowiono nadanie uprawnień"),
    "grant.revoke_requested": _("Zlecono odebranie uprawnień w KSeF"),
    "grant.revoke_failed": _("Odebranie uprawnień w KSeF nie powiodło się"),
    "grants.check_requested": _("Zlecono sprawdzenie uprawnień w KSeF"),
    "grants.checked": _("Sprawdzono uprawnienia w KSeF"),
    "staff.clients_handed_over": _("Przekazano klientów odchodzącego pracownika"),
    "staff.grants_revoke_started": _("Rozpoczęto odbieranie uprawnień odchodzącego pracownika"),
    "staff.grants_revoke_finished": _("Zakończono odbieranie uprawnień odchodzącego pracownika"),
    "credential.check_requested": _("Zlecono test połączenia z KSeF"),
    "credential.checked": _("Wykonano test połączenia z KSeF"),
    "credential.consent_recorded": _("Zapisano zgodę właściciela certyfikatu osobistego"),
    "upload_link.created": _("Wysłano klientowi link do przesłania poświadczenia"),
    "upload_link.used": _("Klient przesłał poświadczenie przez link"),
    "upload_link.revoked": _("Unieważniono link do przesłania poświadczenia"),
    "upload_link.attempt_refused": _("Odrzucono próbę użycia linku do przesłania"),
    "reminder.sent": _("Wysłano przypomnienie o wygaśnięciu poświadczenia"),
    "reminders.digest_sent": _("Wysłano cotygodniowe zestawienie wygasających poświadczeń"),
    "reminders.settings_changed": _("Zmieniono ustawienia przypomnień"),
    "reminders.sent_now": _("Wysłano od razu przypomnienia klienta („Wyślij teraz”)"),
    "invoices.sync_requested": _("Zlecono synchronizację faktur z KSeF"),
    "invoices.sync_paused": _("Wstrzymano synchronizację faktur klienta"),
    "invoices.sync_resumed": _("Wznowiono synchronizację faktur klienta"),
    "invoices.backfill_set": _("Zmieniono początek pobierania historii faktur klienta"),
    "invoices.settings_changed": _("Zmieniono ustawienia synchronizacji faktur"),
    "invoices.export_requested": _("Zlecono eksport faktur (ZIP lub rejestr)"),
    "invoices.export_downloaded": _("Pobrano eksport faktur"),
    "invoices.digest_subscribed": _("Włączono codzienny e-mail o nowych fakturach"),
    "invoices.digest_unsubscribed": _("Wyłączono codzienny e-mail o nowych fakturach"),
    # Automatic renewal of KSeF certificates (certificates/renewal/)
    "renewal.settings_changed": _("Zmieniono ustawienia odnawiania certyfikatów"),
    "credential.renewal_consent": _("Zmieniono zgodę klienta na automatyczne odnawianie"),
    "credential.renewal_requested": _("Zlecono odnowienie certyfikatu KSeF"),
    "credential.renewal_attempt": _("Próba odnowienia certyfikatu KSeF"),
    "credential.renewal_enrolled": _("Wysłano do KSeF wniosek o nowy certyfikat"),
    "credential.renewed": _("Odnowiono certyfikat KSeF"),
    "credential.renewal_failed": _("Odnowienie certyfikatu KSeF nie powiodło się"),
    "credential.renewal_activated": _("Odnowiony certyfikat KSeF stał się aktywny"),
    "credential.renewal_discarded": _("Odrzucono odnowiony certyfikat (w miejscu jest nowszy)"),
    "credential.retired": _("Poprzedni certyfikat wygasł, jego klucz zniszczono"),
    "credential.revoked": _("Unieważniono poprzedni certyfikat w KSeF"),
    "credential.revocation_failed": _("Unieważnienie poprzedniego certyfikatu nie powiodło się"),
    # Sending invoices (invoices/sending).
    "invoices.send_checked": _("Sprawdzono pliki faktur do wysłania"),
    "invoices.send_started": _("Zlecono wysłanie faktur do KSeF"),
    "invoices.sent": _("Wysłano fakturę do KSeF (nadano numer KSeF)"),
    "invoices.send_rejected": _("KSeF odrzucił wysłaną fakturę"),
    "invoices.send_failed": _("Wysyłka faktur nie powiodła się"),
    "invoices.send_finished": _("Zakończono wysyłkę faktur"),
    "invoices.upo_downloaded": _("Pobrano UPO faktury"),
    "invoices.send_cancelled": _("Anulowano sprawdzoną wysyłkę faktur"),
    "invoices.offline_deadline_reminded": _("Wysłano przypomnienie o terminie faktur offline"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))
