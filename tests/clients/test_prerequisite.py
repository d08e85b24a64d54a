"""The ZAW-FA decision, over every legal form and seal answer, and its re-evaluation."""

from __future__ import annotations

import pytest

from clients.models import LegalForm, Prerequisite
from clients.prerequisite import (
    prerequisite_decide,
    prerequisite_reevaluated_state,
    seal_question_needed,
)

State = Prerequisite.State


@pytest.mark.parametrize("has_seal", [True, False])
@pytest.mark.parametrize("legal_form", LegalForm.values)
def test_the_decision_follows_the_rule_for_every_legal_form_and_seal_answer(legal_form, has_seal):
    decision = prerequisite_decide(legal_form=legal_form, has_qualified_seal=has_seal)

    if legal_form == LegalForm.SOLE_PROPRIETORSHIP:
        assert decision.state == State.NOT_REQUIRED
        assert "profilem zaufanym" in str(decision.next_steps)
    elif has_seal:
        assert decision.state == State.NOT_REQUIRED
        assert "pieczęć" in str(decision.reason)
    else:
        assert decision.state == State.TO_FILE
        assert decision.required
        explanation = str(decision.next_steps)
        assert "urzędzie skarbowym" in explanation
        assert "PESEL" in explanation and "NIP" in explanation
    assert str(decision.reason)


@pytest.mark.parametrize("legal_form", LegalForm.values)
def test_the_seal_question_is_asked_of_everyone_but_a_sole_proprietor(legal_form):
    assert seal_question_needed(legal_form) is (legal_form != LegalForm.SOLE_PROPRIETORSHIP)


def test_an_unknown_legal_form_is_a_programming_error():
    with pytest.raises(ValueError):
        prerequisite_decide(legal_form="llc", has_qualified_seal=False)


@pytest.mark.parametrize(
    ("current", "legal_form", "has_seal", "expected"),
    [
        # A company that gets a seal no longer needs ZAW-FA, whatever its progress.
        (State.TO_FILE, LegalForm.LIMITED_LIABILITY_COMPANY, True, State.NOT_REQUIRED),
        (State.FILED, LegalForm.JOINT_STOCK_COMPANY, True, State.NOT_REQUIRED),
        # A JDG that becomes a company without a seal must file.
        (State.NOT_REQUIRED, LegalForm.LIMITED_LIABILITY_COMPANY, False, State.TO_FILE),
        # Progress is kept while ZAW-FA is still required.
        (State.FILED, LegalForm.GENERAL_PARTNERSHIP, False, State.FILED),
        (State.CONFIRMED, LegalForm.FOUNDATION, False, State.CONFIRMED),
        (None, LegalForm.COOPERATIVE, False, State.TO_FILE),
        (State.CONFIRMED, LegalForm.SOLE_PROPRIETORSHIP, False, State.NOT_REQUIRED),
    ],
)
def test_re_evaluation_moves_only_what_the_new_answer_changes(
    current, legal_form, has_seal, expected
):
    decision = prerequisite_decide(legal_form=legal_form, has_qualified_seal=has_seal)
    assert prerequisite_reevaluated_state(current=current, decision=decision) == expected
