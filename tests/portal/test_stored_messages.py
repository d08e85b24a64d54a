"""Stored outcomes keep codes and parameters and are rendered in the reader's language."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext_noop

from portal.messages import deferred, joined, render, to_data


def test_a_deferred_message_renders_in_the_language_active_when_read() -> None:
    with translation.override("pl"):
        stored = to_data(
            deferred(gettext_noop("Sprawdzono w KSeF — %(summary)s."), {"summary": "x"})
        )

    with translation.override("en"):
        assert render(stored) == "Checked in KSeF — x."
    with translation.override("pl"):
        assert render(stored) == "Sprawdzono w KSeF — x."


def test_nested_and_joined_messages_are_rendered_part_by_part() -> None:
    with translation.override("pl"):
        parts = [
            deferred(gettext_noop("potwierdzone: %(n)d"), {"n": 2}),
            deferred(gettext_noop("brakujące: %(n)d"), {"n": 0}),
        ]
        summary = deferred(
            gettext_noop("Sprawdzono w KSeF — %(summary)s."), {"summary": joined(parts, ", ")}
        )
        stored = to_data(joined([summary, "tekst bez kodu"]))

    with translation.override("en"):
        assert render(stored) == "Checked in KSeF — confirmed: 2, missing: 0. tekst bez kodu"


def test_plain_text_is_kept_as_it_was_written() -> None:
    assert render(to_data("Stary komunikat")) == "Stary komunikat"
    assert render({}) == ""
