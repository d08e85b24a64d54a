"""The ZAW-FA decision: does this client have to file ZAW-FA before it can use KSeF?

KSeF 2.0 needs someone who may act in the client's context (grant permissions, request
certificates). Who that is depends on the legal form:

- a sole proprietor (JDG) *is* the owner of its context: the owner logs in with Profil
  Zaufany, e-Dowód or a qualified signature carrying their PESEL/NIP, so nothing is filed;
- any other legal form (spółka, fundacja, …) either authenticates with a qualified
  electronic seal whose certificate carries the company's NIP, or files ZAW-FA at its tax
  office (urząd skarbowy), naming a natural person (by PESEL or NIP) who will administer
  the company's KSeF permissions.

Source: https://ksef.podatki.gov.pl/ (ZAW-FA — "Zawiadomienie o nadaniu lub odebraniu
uprawnień do korzystania z KSeF"). This module is pure logic: no database access.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from clients.models import LegalForm, Prerequisite

State = Prerequisite.State

# What ZAW-FA is, shown whenever the form has to be filed.
ZAW_FA_EXPLANATION = _(
    "ZAW-FA to zawiadomienie składane w urzędzie skarbowym właściwym dla firmy (osobiście, "
    "pocztą lub elektronicznie). Wskazuje się w nim osobę fizyczną — z jej numerem PESEL "
    "albo NIP — która będzie zarządzać uprawnieniami firmy w KSeF: nadawać je biuru i "
    "pracownikom oraz odbierać. Zawiadomienie podpisuje osoba uprawniona do reprezentacji "
    "firmy (np. członek zarządu). Po przyjęciu przez urząd wskazana osoba loguje się do "
    "KSeF własnym profilem zaufanym, e-Dowodem lub podpisem kwalifikowanym."
)


@dataclass(frozen=True)
class Decision:
    """The wizard's verdict, with the reasons a member can read out to the client."""

    state: State
    reason: Promise
    next_steps: Promise

    @property
    def required(self) -> bool:
        return self.state != State.NOT_REQUIRED


def seal_question_needed(legal_form: str) -> bool:
    """A sole proprietor never needs ZAW-FA, so the wizard does not ask about a seal."""
    return legal_form != LegalForm.SOLE_PROPRIETORSHIP


def prerequisite_decide(*, legal_form: str, has_qualified_seal: bool) -> Decision:
    """Whether ZAW-FA must be filed; the seal answer matters only for non-JDG forms."""
    if legal_form not in LegalForm.values:
        raise ValueError(f"unknown legal form: {legal_form!r}")
    if legal_form == LegalForm.SOLE_PROPRIETORSHIP:
        return Decision(
            state=State.NOT_REQUIRED,
            reason=_(
                "Jednoosobowa działalność gospodarcza nie składa ZAW-FA: właściciel jest "
                "właścicielem swojego kontekstu w KSeF."
            ),
            next_steps=_(
                "Właściciel loguje się do KSeF profilem zaufanym, e-Dowodem albo podpisem "
                "kwalifikowanym i może od razu nadać uprawnienia biuru lub wygenerować "
                "certyfikat KSeF."
            ),
        )
    if has_qualified_seal:
        return Decision(
            state=State.NOT_REQUIRED,
            reason=_(
                "Firma ma kwalifikowaną pieczęć elektroniczną z własnym numerem NIP, więc "
                "uwierzytelnia się nią w KSeF bez zawiadomienia ZAW-FA."
            ),
            next_steps=_(
                "Pieczęcią firmy można od razu nadać uprawnienia biuru lub wygenerować "
                "certyfikat KSeF. Upewnij się, że certyfikat pieczęci zawiera NIP firmy."
            ),
        )
    return Decision(
        state=State.TO_FILE,
        reason=_(
            "Firma nie jest jednoosobową działalnością i nie ma kwalifikowanej pieczęci "
            "z NIP, więc nikt nie może jeszcze działać w jej imieniu w KSeF — trzeba złożyć "
            "ZAW-FA."
        ),
        next_steps=ZAW_FA_EXPLANATION,
    )


@dataclass(frozen=True)
class StateText:
    """What the wizard says about ZAW-FA in the prerequisite's current state."""

    headline: Promise
    reason: Promise
    next_steps: Promise


def prerequisite_state_text(decision: Decision, state: str | None) -> StateText:
    """The wizard's words for the state the prerequisite is in, not only the verdict.

    The verdict ("ZAW-FA trzeba złożyć … nikt nie może jeszcze działać") is true only until
    the form is filed; once filed or confirmed the texts say so and what comes next.
    """
    if not decision.required:
        return StateText(_("ZAW-FA nie jest potrzebny."), decision.reason, decision.next_steps)
    if state == State.FILED:
        return StateText(
            _("ZAW-FA złożony — czekamy na przyjęcie przez urząd."),
            _(
                "Zawiadomienie jest w urzędzie skarbowym. Dopóki urząd go nie przyjmie, "
                "osoba wskazana w ZAW-FA nie może jeszcze działać w imieniu firmy w KSeF."
            ),
            _(
                "Gdy urząd potwierdzi przyjęcie (albo osoba wskazana zaloguje się do KSeF "
                "w kontekście firmy), zapisz potwierdzenie poniżej."
            ),
        )
    if state == State.CONFIRMED:
        return StateText(
            _("ZAW-FA potwierdzony."),
            _(
                "Urząd przyjął zawiadomienie: osoba wskazana w ZAW-FA działa w KSeF w imieniu "
                "firmy i zarządza jej uprawnieniami."
            ),
            _(
                "Osoba wskazana w ZAW-FA może teraz nadać uprawnienia biuru lub wygenerować "
                "certyfikat KSeF firmy — przejdź do poświadczeń."
            ),
        )
    return StateText(_("ZAW-FA trzeba złożyć."), decision.reason, decision.next_steps)


def prerequisite_reevaluated_state(*, current: str | None, decision: Decision) -> State:
    """The state after the client's legal form or seal answer changed.

    Progress is kept: a company already filing or confirmed stays where it is while ZAW-FA
    is still required; only a client that no longer needs it (or newly needs it) moves.
    """
    if not decision.required:
        return State.NOT_REQUIRED
    if current in (State.TO_FILE, State.FILED, State.CONFIRMED):
        return State(current)
    return State.TO_FILE
