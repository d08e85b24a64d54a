"""The invoice document as the templates draw it: sections of typed blocks.

A renderer (fa.py for FA (2)/FA (3), fa_rr.py, pef.py) turns the XML into a
:class:`Document`; every value in it is already text in the official formatting, so the
HTML view and the PDF print exactly the same strings. Each block class names its template
partial through ``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(slots=True)
class Line:
    """ "Label: value"; `href` makes the value a link."""

    label: str
    value: str
    href: str = ""


@dataclass(slots=True)
class Fields:
    kind: ClassVar[str] = "fields"
    lines: list[Line]
    title: str = ""


@dataclass(slots=True)
class Notes:
    """Free text: statements ("- Faktura, o której mowa w art. 109 ust. 3d ustawy") or
    paragraphs of an attachment."""

    kind: ClassVar[str] = "notes"
    texts: list[str]
    title: str = ""


@dataclass(slots=True)
class Column:
    label: str
    numeric: bool = False


@dataclass(slots=True)
class Table:
    """A table with only the columns that carry data (see :func:`table`)."""

    kind: ClassVar[str] = "table"
    columns: list[Column]
    rows: list[list[str]]
    title: str = ""
    footer: list[str] = field(default_factory=list)

    @property
    def body(self) -> list[list[tuple[str, bool]]]:
        """The rows as (text, numeric) cells, for the template to align numbers."""
        numeric = [column.numeric for column in self.columns]
        return [list(zip(row, numeric, strict=False)) for row in self.rows]


@dataclass(slots=True)
class Total:
    """The large right-aligned line: "Kwota należności ogółem: 2 051,00 PLN"."""

    kind: ClassVar[str] = "total"
    label: str
    value: str


@dataclass(slots=True)
class Box:
    """A titled group of blocks: one party, one bank account."""

    kind: ClassVar[str] = "box"
    title: str
    blocks: list[Block]


@dataclass(slots=True)
class Columns:
    """Boxes side by side (two per row, one on a narrow screen)."""

    kind: ClassVar[str] = "columns"
    boxes: list[Box]


@dataclass(slots=True)
class CorrectedInvoice:
    """One invoice a correction corrects; `url` is set by the view when the portal holds
    it and the reader may see it."""

    position: int
    number: str
    issue_date: str
    ksef_number: str
    outside_ksef: bool = False
    url: str = ""


@dataclass(slots=True)
class CorrectedList:
    kind: ClassVar[str] = "corrected"
    invoices: list[CorrectedInvoice]


Block = Fields | Notes | Table | Total | Box | Columns | CorrectedList


@dataclass(slots=True)
class Section:
    key: str
    title: str
    blocks: list[Block]


@dataclass(slots=True)
class Code:
    """A verification QR code: the link, the label under it, the SVG image."""

    url: str
    label: str
    svg: str


@dataclass(slots=True)
class Document:
    form: str  # "FA (3)", "FA (2)", "FA_RR (1)", "PEF (3)"
    number: str
    kind: str  # the invoice type in words
    sections: list[Section]
    ksef_number: str = ""
    currency: str = ""
    system_info: str = ""
    created_at: str = ""
    corrected: list[CorrectedInvoice] = field(default_factory=list)
    other_data: list[Line] = field(default_factory=list)
    kod1: Code | None = None
    # KOD II, the issuer's certificate link: only on an invoice issued offline (digest §7.3).
    kod2: Code | None = None


def line(label: str, value: str, href: str = "") -> list[Line]:
    """A one-item list for the lines that exist only when the value does."""
    return [Line(label, value, href)] if value else []


def table(
    columns: list[Column], rows: list[list[str]], *, title: str = "", keep: int = 1
) -> Table | None:
    """The table without the columns no row fills (the first `keep` always stay), or
    None when there are no rows."""
    if not rows:
        return None
    used = [
        i for i in range(len(columns)) if i < keep or any(row[i] for row in rows if i < len(row))
    ]
    return Table(
        columns=[columns[i] for i in used],
        rows=[[row[i] if i < len(row) else "" for i in used] for row in rows],
        title=title,
    )


def blocks(*items: Block | None) -> list[Block]:
    """The blocks that exist (builders return None for an empty part)."""
    result: list[Block] = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, Fields) and not item.lines:
            continue
        if isinstance(item, Notes) and not item.texts:
            continue
        result.append(item)
    return result
