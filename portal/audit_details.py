"""An audit event's details in words, per action, in the reader's language.

Services store details as data (codes, ids, NIPs, dates in ISO form); the log page shows
them here as short sentences. Internal ids (of checks, jobs, links) are left out: they mean
nothing to a reader. An action without a sentence of its own falls back to labelled
values, never to a Python repr, so a new action is still readable and never widens the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.utils import formats
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from portal.ksef_terms import permissions_text, subject_types_text
from portal.messages import render
from portal.models import Membership
from portal.text import format_sentence

Details = Mapping[str, Any]
MAX_ITEMS = 5

# Keys that are references for the portal itself, not information for a reader.
HIDDEN_KEYS = {
    "check_id",
    "job_id",
    "link_id",
    "credential_id",
    "client_id",
    "replaced_by",
    "renewal_id",
    "new_credential_id",
    "secret",
    "ip",
    "fingerprint",
}

KEY_LABELS: dict[str, Any] = {
    "nip": gettext_lazy("NIP"),
    "context_nip": gettext_lazy("NIP klienta"),
    "client_nip": gettext_lazy("NIP klienta"),
    "email": gettext_lazy("e-mail"),
    "recipient": gettext_lazy("odbiorca"),
    "to": gettext_lazy("do"),
    "cc": gettext_lazy("DW"),
    "username": gettext_lazy("login"),
    "role": gettext_lazy("rola"),
    "name": gettext_lazy("nazwa"),
    "legal_form": gettext_lazy("forma prawna"),
    "has_qualified_seal": gettext_lazy("pieczęć kwalifikowana"),
    "contact_emails": gettext_lazy("adresy e-mail"),
    "assigned_accountants": gettext_lazy("opiekunowie"),
    "is_archived": gettext_lazy("zarchiwizowany"),
    "kind": gettext_lazy("rodzaj"),
    "expires_at": gettext_lazy("ważny do"),
    "valid_to": gettext_lazy("ważny do"),
    "not_after": gettext_lazy("ważny do"),
    "subject": gettext_lazy("podmiot"),
    "fingerprint": gettext_lazy("odcisk"),
    "permissions": gettext_lazy("uprawnienia"),
    "grantee": gettext_lazy("dla"),
    "mode": gettext_lazy("sposób"),
    "reason": gettext_lazy("powód"),
    "code": gettext_lazy("kod"),
    "result": gettext_lazy("wynik"),
    "purpose": gettext_lazy("cel"),
    "filed_on": gettext_lazy("data złożenia"),
    "tax_office": gettext_lazy("urząd skarbowy"),
    "confirmed_on": gettext_lazy("data potwierdzenia"),
    "person": gettext_lazy("osoba"),
    "source": gettext_lazy("plik"),
    "threshold": gettext_lazy("próg (dni)"),
    "from": gettext_lazy("z"),
    "cause": gettext_lazy("przyczyna"),
    "given_by": gettext_lazy("zgodę wyraził"),
    "given_on": gettext_lazy("dnia"),
    "subject_types": gettext_lazy("zakres"),
    "week_start": gettext_lazy("tydzień od"),
    "warnings": gettext_lazy("ostrzeżenia"),
    "serial": gettext_lazy("numer seryjny"),
    "owner": gettext_lazy("właściciel"),
    "token_reference": gettext_lazy("numer referencyjny tokenu"),
    "invited": gettext_lazy("zaproszenie"),
    "assigned": gettext_lazy("opiekunowie"),
    "prerequisite": gettext_lazy("ZAW-FA"),
    "created": gettext_lazy("dodano"),
    "already_registered": gettext_lazy("już w rejestrze"),
    "identifier_type": gettext_lazy("identyfikator"),
    "verification": gettext_lazy("weryfikacja"),
    "can_delegate": gettext_lazy("z prawem dalszego przekazywania"),
}

# Stored codes of a few keys, in words (other apps' choices the base layer cannot import).
VALUE_LABELS: dict[str, dict[str, Any]] = {
    "kind": {
        "authentication": gettext_lazy("certyfikat uwierzytelniający"),
        "offline": gettext_lazy("certyfikat offline"),
        "token": gettext_lazy("token KSeF"),
    },
    "source": {
        "staff": gettext_lazy("pracownik biura"),
        "client_link": gettext_lazy("klient (link jednorazowy)"),
        "demo": gettext_lazy("dane demonstracyjne"),
    },
    "result": {
        "ok": gettext_lazy("działa"),
        "failed": gettext_lazy("nie działa"),
    },
}

PURPOSE_LABELS: dict[str, Any] = {
    "live_check": gettext_lazy("test połączenia"),
    "grants": gettext_lazy("nadawanie uprawnień"),
    "invoice_sync": gettext_lazy("synchronizacja faktur"),
    "offline_sign": gettext_lazy("podpis kodu QR faktury offline (KOD II)"),
}


def value_text(value: Any) -> str:
    """One stored value in words: yes/no, dates in the reader's format, short lists."""
    if isinstance(value, bool):
        return _("tak") if value else _("nie")
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list | tuple):
        shown = [value_text(item) for item in value[:MAX_ITEMS]]
        rest = len(value) - len(shown)
        more = (
            (" " + ngettext("i %(n)d inny", "i %(n)d innych", rest) % {"n": rest}) if rest else ""
        )
        return ", ".join(shown) + more
    if isinstance(value, Mapping):
        return "; ".join(f"{key_label(k)}: {value_text(v)}" for k, v in value.items())
    if isinstance(value, str):
        return _date_text(value) or value[:120]
    return str(value)


def key_label(key: str) -> str:
    return str(KEY_LABELS.get(key, key.replace("_", " ")))


def _date_text(text: str) -> str:
    if len(text) == 10 and (day := parse_date(text)) is not None:
        return formats.date_format(day, "SHORT_DATE_FORMAT")
    if len(text) > 18 and "T" in text:
        try:
            moment = parse_datetime(text)
        except ValueError:
            return ""
        if moment is not None:
            if moment.tzinfo is not None:
                moment = localtime(moment)
            return formats.date_format(moment, "SHORT_DATETIME_FORMAT")
    return ""


def _role(code: Any) -> str:
    return str(dict(Membership.Role.choices).get(code, code))


def _labelled(details: Details) -> list[str]:
    return [
        f"{key_label(key)}: {_keyed_value(key, value)}"
        for key, value in details.items()
        if key not in HIDDEN_KEYS
    ]


def _keyed_value(key: str, value: Any) -> str:
    if key == "permissions" and isinstance(value, list):
        return permissions_text(value)
    if key == "role":
        return _role(value)
    words = VALUE_LABELS.get(key, {})
    if isinstance(value, str) and value in words:
        return str(words[value])
    return value_text(value)


def _staff_created(d: Details) -> list[str]:
    lines = [
        _("Login: %(login)s, rola: %(role)s.")
        % {"login": d.get("username", "—"), "role": _role(d.get("role"))}
    ]
    if d.get("invited"):
        lines.append(_("Wysłano zaproszenie e-mailem."))
    return lines


def _role_changed(d: Details) -> list[str]:
    return [
        _("Rola: %(old)s → %(new)s.") % {"old": _role(d.get("from")), "new": _role(d.get("to"))}
    ]


def _client_updated(d: Details) -> list[str]:
    changes = d.get("changes")
    if not isinstance(changes, Mapping):
        return _labelled(d)
    lines = []
    for field, change in changes.items():
        if isinstance(change, list | tuple) and len(change) == 2:
            if field == "assigned_accountants":
                lines.append(_("Zmieniono opiekunów klienta."))
                continue
            lines.append(f"{key_label(field)}: {value_text(change[0])} → {value_text(change[1])}")
        else:
            lines.append(f"{key_label(field)}: {value_text(change)}")
    return lines


def _client_imported(d: Details) -> list[str]:
    created, known = len(d.get("created") or []), len(d.get("already_registered") or [])
    lines = [ngettext("Dodano %(n)d klienta.", "Dodano %(n)d klientów.", created) % {"n": created}]
    if known:
        lines.append(
            ngettext(
                "%(n)d klient był już w rejestrze.", "%(n)d klientów było już w rejestrze.", known
            )
            % {"n": known}
        )
    if d.get("source"):
        lines.append(_("Plik: %(name)s") % {"name": str(d["source"])[:120]})
    return lines


def _handed_over(d: Details) -> list[str]:
    clients = d.get("clients") or []
    n = len(clients)
    line = ngettext("Przekazano %(n)d klienta.", "Przekazano %(n)d klientów.", n) % {"n": n}
    people = d.get("to") or []
    return (
        [line, _("Nowi opiekunowie: %(names)s.") % {"names": value_text(people)}]
        if people
        else [line]
    )


def _revoke_started(d: Details) -> list[str]:
    n = int(d.get("grants") or 0)
    return [
        ngettext("%(n)d uprawnienie do odebrania.", "%(n)d uprawnień do odebrania.", n) % {"n": n}
    ]


def _revoke_finished(d: Details) -> list[str]:
    outcomes = [
        entry[1]
        for entry in d.get("results") or []
        if isinstance(entry, list | tuple) and len(entry) == 2
    ]
    if not outcomes:
        return [_("Nie było czego odebrać.")]
    revoked, pending = outcomes.count("revoked"), outcomes.count("pending")
    failed = outcomes.count("failed")
    lines = []
    if revoked:
        lines.append(
            ngettext("Odebrano u %(n)d klienta.", "Odebrano u %(n)d klientów.", revoked)
            % {"n": revoked}
        )
    if pending:
        lines.append(
            ngettext("W toku u %(n)d klienta.", "W toku u %(n)d klientów.", pending)
            % {"n": pending}
        )
    if failed:
        lines.append(
            ngettext("Nie udało się u %(n)d klienta.", "Nie udało się u %(n)d klientów.", failed)
            % {"n": failed}
        )
    return lines


def _grant_requested(d: Details) -> list[str]:
    lines = [_("Uprawnienia: %(list)s.") % {"list": permissions_text(d.get("permissions") or [])}]
    if d.get("grantee"):
        lines.append(format_sentence(_("Dla: %(who)s."), {"who": str(d["grantee"])}))
    if d.get("can_delegate"):
        lines.append(_("Z prawem dalszego przekazywania."))
    return lines


def _credential_checked(d: Details) -> list[str]:
    if d.get("result") == "ok":
        return [_("Połączenie działa.")]
    return [_("Połączenie nie działa (kod %(code)s).") % {"code": d.get("code") or "—"}]


def _credential_used(d: Details) -> list[str]:
    purpose = str(PURPOSE_LABELS.get(str(d.get("purpose")), d.get("purpose") or "—"))
    return [
        _("Cel: %(purpose)s, NIP klienta: %(nip)s.")
        % {"purpose": purpose, "nip": d.get("context_nip", "—")}
    ]


def _grants_checked(d: Details) -> list[str]:
    if d.get("result") == "done":
        return [_("Sprawdzenie zakończone.")]
    return [_("Sprawdzenie nie powiodło się.")]


def _sync(d: Details) -> list[str]:
    lines = []
    if d.get("subject_types"):
        lines.append(_("Zakres: %(types)s.") % {"types": subject_types_text(d["subject_types"])})
    if d.get("from"):
        lines.append(_("Historia od: %(date)s.") % {"date": value_text(d["from"])})
    return lines


def _grant_discovered(d: Details) -> list[str]:
    return [_("Uprawnienia: %(list)s.") % {"list": permissions_text(d.get("permissions") or [])}]


def _reminders_changed(d: Details) -> list[str]:
    before, after = d.get("before") or {}, d.get("after") or {}
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return _labelled(d)
    return [
        f"{key_label(key)}: {value_text(before.get(key))} → {value_text(value)}"
        for key, value in after.items()
        if before.get(key) != value
    ]


def _digest_sent(d: Details) -> list[str]:
    if not isinstance(d.get("items"), int):
        return _labelled(d)  # an older or unexpected shape: still readable
    n = int(d["items"])
    return [
        ngettext("%(n)d poświadczenie w zestawieniu.", "%(n)d poświadczeń w zestawieniu.", n)
        % {"n": n}
    ]


def _sent_now(d: Details) -> list[str]:
    sent, failed = int(d.get("sent") or 0), int(d.get("failed") or 0)
    skipped, not_ours = int(d.get("skipped") or 0), int(d.get("not_ours") or 0)
    lines = [
        ngettext("Wysłano %(count)d przypomnienie.", "Wysłano %(count)d przypomnienia.", sent)
        % {"count": sent}
    ]
    if failed:
        lines.append(ngettext("%(n)d nieudane.", "%(n)d nieudanych.", failed) % {"n": failed})
    if skipped:
        lines.append(
            ngettext("%(n)d pominięte (brak adresu).", "%(n)d pominiętych (brak adresu).", skipped)
            % {"n": skipped}
        )
    if not_ours:
        lines.append(
            ngettext(
                "%(n)d wysłane wcześniej lub przez zadanie dzienne.",
                "%(n)d wysłanych wcześniej lub przez zadanie dzienne.",
                not_ours,
            )
            % {"n": not_ours}
        )
    return lines


def _demo_seeded(d: Details) -> list[str]:
    n = int(d.get("clients_created") or 0)
    return [ngettext("Dodano %(n)d klienta.", "Dodano %(n)d klientów.", n) % {"n": n}]


def _renewal_outcome(d: Details) -> list[str]:
    """A renewal attempt or failure: its stored message in the reader's language."""
    message = d.get("message")
    if isinstance(message, Mapping):
        return [render(message)]
    return [_("Próba nr %(n)s.") % {"n": d.get("attempt") or "—"}]


RENDERERS: dict[str, Callable[[Details], list[str]]] = {
    "staff.created": _staff_created,
    "staff.role_changed": _role_changed,
    "staff.clients_handed_over": _handed_over,
    "staff.grants_revoke_started": _revoke_started,
    "staff.grants_revoke_finished": _revoke_finished,
    "client.updated": _client_updated,
    "client.imported": _client_imported,
    "grant.requested": _grant_requested,
    "grant.discovered": _grant_discovered,
    "credential.checked": _credential_checked,
    "credential.used": _credential_used,
    "grants.checked": _grants_checked,
    "invoices.sync_requested": _sync,
    "invoices.backfill_set": _sync,
    "invoices.settings_changed": _sync,
    "reminders.settings_changed": _reminders_changed,
    "reminders.digest_sent": _digest_sent,
    "reminders.sent_now": _sent_now,
    "demo.seeded": _demo_seeded,
    "credential.renewal_attempt": _renewal_outcome,
    "credential.renewal_failed": _renewal_outcome,
}


def audit_details_text(action: str, details: object) -> list[str]:
    """The lines the log shows for an event's details (none for an empty one)."""
    if not isinstance(details, Mapping):
        return [] if details in (None, "") else [value_text(details)]
    renderer = RENDERERS.get(action, _labelled)
    try:
        return renderer(details)
    except (TypeError, ValueError, KeyError, AttributeError):
        # Details written by an older version in another shape: still readable.
        return _labelled(details)
