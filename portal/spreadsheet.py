"""Cells of a CSV export that a spreadsheet must show as text, never run as a formula.

Excel, LibreOffice and Google Sheets run a cell starting with = + - @ (or a tab / line break
followed by one) as a formula: "CSV injection" (OWASP). The spreadsheet also reads the
full-width and small forms (＝ ＋ － ＠, ﹦ ﹢ ﹣ ﹫) and the minus sign (−) as those
characters, so those are neutralised too. A neutralised cell gets a leading apostrophe,
which every spreadsheet shows as "text follows" and hides.
"""

from __future__ import annotations

import unicodedata
from typing import Any

FORMULA_STARTS = frozenset("=+-@")
_ALSO_FORMULA = frozenset("\u2212")  # MINUS SIGN: NFKC leaves it alone, spreadsheets do not
_LEADING_BLANKS = " \t\r\n\u3000"


def starts_formula(text: str) -> bool:
    """Whether a spreadsheet would read this text as a formula."""
    stripped = text.lstrip(_LEADING_BLANKS)
    if not stripped:
        return False
    if stripped != text and text[:1] in "\t\r\n":
        return True  # a cell opening with a control character is suspect whatever follows
    first = stripped[0]
    return first in _ALSO_FORMULA or unicodedata.normalize("NFKC", first)[:1] in FORMULA_STARTS


def spreadsheet_safe(value: Any) -> Any:
    """`value`, with a leading apostrophe when it is text a spreadsheet would run."""
    if isinstance(value, str) and starts_formula(value):
        return "'" + value
    return value
