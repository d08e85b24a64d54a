"""CSV cells a spreadsheet would run as a formula, full-width and small forms included."""

from __future__ import annotations

import pytest

from portal.spreadsheet import spreadsheet_safe


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("http://zlo.example")',
        "+48 600 100 200",
        "-2+3",
        "@SUM(A1)",
        "\t=1+1",
        "\r=1+1",
        "\n=1+1",
        "  =1+1",
        '＝HYPERLINK("http://zlo.example")',  # FULLWIDTH EQUALS SIGN
        "＋1",  # FULLWIDTH PLUS SIGN
        "－1",  # FULLWIDTH HYPHEN-MINUS
        "＠SUM(A1)",  # FULLWIDTH COMMERCIAL AT
        "﹦1",  # SMALL EQUALS SIGN
        "﹢1",  # SMALL PLUS SIGN
        "﹣1",  # SMALL HYPHEN-MINUS
        "﹫x",  # SMALL COMMERCIAL AT
        "−1",  # MINUS SIGN
        "\u3000＝1",  # IDEOGRAPHIC SPACE then a full-width equals sign
    ],
)
def test_a_cell_that_would_run_gets_a_leading_apostrophe(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize(
    "value", ["Piekarnia Pod Lipą sp. z o.o.", "1234567890", "a=b", "", " ", 42, -5, None]
)
def test_ordinary_values_are_left_alone(value: object) -> None:
    assert spreadsheet_safe(value) == value
