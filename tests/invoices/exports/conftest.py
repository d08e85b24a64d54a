"""Every export test writes its files into a folder of its own."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _exports_root(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.EXPORTS_ROOT = tmp_path / "exports"
    return settings.EXPORTS_ROOT


@pytest.fixture
def fake_pdf():  # type: ignore[no-untyped-def]
    """A stand-in for the PDF renderer where a test is about the archive, not the PDF."""

    def render(invoice):  # type: ignore[no-untyped-def]
        return b"%PDF-1.7 " + invoice.ksef_number.encode() + b" %%EOF"

    return render
