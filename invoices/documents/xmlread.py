"""Reading an invoice's XML while keeping count of what was read.

The renderers walk the document through :class:`Node`; every value they take (``get``,
``flag``, ``take``) marks its element as consumed. :func:`XmlDocument.leftovers` then lists
every element holding data that no renderer consumed, by path, so the view can show it in
"Pozostałe dane" instead of losing it: an element the schema adds tomorrow, or one a
section does not know, still reaches the reader. An element's attributes belong to it:
consumed with it, listed with it when it is left over.

Elements are matched by local name, so one renderer reads FA (2) and FA (3) (the same
element names in two namespaces) and UBL's cbc:/cac: prefixes need no mapping. Parsing
refuses DTDs and never touches the network (KSeF invoices never declare a DOCTYPE).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree


class DocumentError(ValueError):
    """The stored bytes are not an XML document the portal can read."""


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def parse(xml: bytes) -> Any:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise DocumentError("the document declares a DOCTYPE")
    return root


@dataclass(frozen=True, slots=True)
class Leftover:
    path: str
    value: str


class XmlDocument:
    def __init__(self, xml: bytes) -> None:
        self.root_element = parse(xml)
        self.consumed: set[Any] = set()
        self.root = Node(self.root_element, self)

    @property
    def namespace(self) -> str:
        return etree.QName(self.root_element).namespace or ""

    def leftovers(self) -> list[Leftover]:
        """Every element with text or attributes that nothing consumed, in document order."""
        found = []
        for element in self.root_element.iter():
            if not isinstance(element.tag, str) or element in self.consumed:
                continue
            has_children = any(isinstance(child.tag, str) for child in element)
            text = (element.text or "").strip()
            attributes = [
                f"{_local(name)}={value}"
                for name, value in element.attrib.items()
                if not str(name).startswith("{http://www.w3.org/2001/XMLSchema-instance}")
            ]
            if has_children and not attributes:
                continue
            value = " ".join(
                part for part in [text if not has_children else "", *attributes] if part
            )
            if value:
                found.append(Leftover(self._path(element), value))
        return found

    def _path(self, element: Any) -> str:
        parts = []
        while element is not None and element is not self.root_element:
            name = _local(element.tag)
            parent = element.getparent()
            same = [c for c in parent if _local(c.tag) == name] if parent is not None else []
            parts.append(f"{name}[{same.index(element) + 1}]" if len(same) > 1 else name)
            element = parent
        return "/".join(reversed(parts))


class Node:
    """One element of the document; the methods read its children by local name."""

    __slots__ = ("doc", "element")

    def __init__(self, element: Any, doc: XmlDocument) -> None:
        self.element = element
        self.doc = doc

    @property
    def name(self) -> str:
        return _local(self.element.tag)

    def _children(self, name: str) -> Iterator[Any]:
        for child in self.element:
            if _local(child.tag) == name:
                yield child

    def child(self, name: str) -> Node | None:
        """The first child called `name` (not consumed: its own values are)."""
        for child in self._children(name):
            return Node(child, self.doc)
        return None

    def children(self, name: str) -> list[Node]:
        return [Node(child, self.doc) for child in self._children(name)]

    def get(self, name: str) -> str:
        """The text of the first child called `name` ("" when absent), consumed."""
        for child in self._children(name):
            self.doc.consumed.add(child)
            return (child.text or "").strip()
        return ""

    def all(self, name: str) -> list[str]:
        """The texts of every child called `name`, consumed."""
        values = []
        for child in self._children(name):
            self.doc.consumed.add(child)
            values.append((child.text or "").strip())
        return values

    def flag(self, name: str) -> bool:
        """A "1 = yes" marker of the schema; any other value (2, absent) is no."""
        return self.get(name) == "1"

    def attr(self, name: str) -> str:
        """An attribute of this element; reading it consumes the element itself."""
        self.doc.consumed.add(self.element)
        return str(self.element.get(name, ""))

    @property
    def text(self) -> str:
        self.doc.consumed.add(self.element)
        return (self.element.text or "").strip()

    def take(self) -> None:
        """Consume this element and everything inside it (a part shown as a whole)."""
        self.doc.consumed.update(self.element.iter())

    def path(self, name: str) -> str:
        """The text at a slash-separated path of local names, consumed ("" when absent)."""
        node: Node | None = self
        *parents, last = name.split("/")
        for part in parents:
            node = node.child(part) if node is not None else None
        return node.get(last) if node is not None else ""
