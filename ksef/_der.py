"""A small, bounded DER reader: enough to look inside key files before decrypting them.

Loading an encrypted key runs its key-derivation function with whatever cost the file
asks for, and PKCS#8 and PKCS#12 let a file ask for 2^31-1 PBKDF2 rounds or a scrypt
cost that takes gigabytes. :func:`key_derivation_costs` reads those parameters without
running anything, so a loader can refuse a file whose cost is beyond reason first.

The reader never recurses deeper than :data:`MAX_DEPTH`, visits at most
:data:`MAX_NODES` elements and rejects lengths that run past the data, so a hostile file
costs at most a few milliseconds here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

__all__ = ["DerError", "KdfCost", "der_oids", "key_derivation_costs"]

MAX_DEPTH: Final = 24
MAX_NODES: Final = 20_000

SEQUENCE: Final = 0x30
INTEGER: Final = 0x02
OCTET_STRING: Final = 0x04
OID: Final = 0x06

PBKDF2: Final = "1.2.840.113549.1.5.12"
SCRYPT: Final = "1.3.6.1.4.1.11591.4.11"
# PKCS#5 PBES1 and PKCS#12 PBE schemes: parameters SEQUENCE { salt, iterations }.
PBE_WITH_SALT_AND_ITERATIONS: Final = frozenset(
    {
        "1.2.840.113549.1.5.1",
        "1.2.840.113549.1.5.3",
        "1.2.840.113549.1.5.4",
        "1.2.840.113549.1.5.6",
        "1.2.840.113549.1.5.10",
        "1.2.840.113549.1.5.11",
        *(f"1.2.840.113549.1.12.1.{n}" for n in range(1, 7)),
    }
)


class DerError(ValueError):
    """The bytes are not DER this reader can walk."""


@dataclass(frozen=True)
class Node:
    tag: int
    start: int  # first byte of the contents
    end: int  # one past the last byte of the contents
    after: int  # where the next sibling starts (past an end-of-contents marker in BER)

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)


@dataclass(frozen=True)
class KdfCost:
    """One key derivation a file asks for: PBKDF2/PBE rounds, or scrypt N, r and p."""

    scheme: str  # "pbkdf2", "pbe", "pkcs12-mac" or "scrypt"
    iterations: int = 0
    scrypt_n: int = 0
    scrypt_r: int = 0
    scrypt_p: int = 0


class _Walker:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.nodes = 0

    def children(self, start: int, end: int) -> list[Node]:
        found: list[Node] = []
        position = start
        while position < end:
            node = self._header(position, end)
            found.append(node)
            position = node.after
        return found

    def _header(self, position: int, end: int) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise DerError("too many elements")
        data = self.data
        if position + 2 > end:
            raise DerError("truncated header")
        tag = data[position]
        if tag & 0x1F == 0x1F:
            raise DerError("multi-byte tags are not used by key files")
        first = data[position + 1]
        position += 2
        if first == 0x80:
            # BER's indefinite length (older PKCS#12 writers use it): the contents run to
            # an end-of-contents marker, 00 00, after the last child.
            if not tag & 0x20:
                raise DerError("indefinite length on a primitive element")
            inner = position
            while not (inner + 1 < end and data[inner] == 0 and data[inner + 1] == 0):
                inner = self._header(inner, end).after
            return Node(tag=tag, start=position, end=inner, after=inner + 2)
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or position + count > end:
                raise DerError("bad length")
            length = int.from_bytes(data[position : position + count], "big")
            position += count
        if position + length > end:
            raise DerError("length runs past the data")
        return Node(tag=tag, start=position, end=position + length, after=position + length)

    def integer(self, node: Node) -> int:
        if node.tag != INTEGER or node.end == node.start:
            raise DerError("expected an INTEGER")
        if node.end - node.start > 9:
            return 2**64  # far beyond any bound a caller checks
        return int.from_bytes(self.data[node.start : node.end], "big", signed=True)

    def oid(self, node: Node) -> str:
        raw = self.data[node.start : node.end]
        if not raw or len(raw) > 64:
            raise DerError("bad OBJECT IDENTIFIER")
        arcs: list[int] = []
        value = 0
        for byte in raw:
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                arcs.append(value)
                value = 0
        first = min(arcs[0] // 40, 2)
        return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def _walk(walker: _Walker, start: int, end: int, depth: int) -> Iterator[tuple[Node, list[Node]]]:
    """Every element with its siblings, depth first; OCTET STRINGs holding DER included."""
    if depth > MAX_DEPTH:
        raise DerError("nested too deeply")
    siblings = walker.children(start, end)
    for node in siblings:
        yield node, siblings
        if node.constructed:
            yield from _walk(walker, node.start, node.end, depth + 1)
        elif (
            node.tag == OCTET_STRING
            and node.end - node.start > 2
            and walker.data[node.start] == SEQUENCE
        ):
            # PKCS#12 wraps its SafeContents in OCTET STRINGs; look inside when it parses.
            try:
                yield from _walk(walker, node.start, node.end, depth + 1)
            except DerError:
                continue


def der_oids(data: bytes) -> list[str]:
    """Every OBJECT IDENTIFIER in ``data`` (e.g. the statement ids of a qcStatements value)."""
    walker = _Walker(data)
    nodes = _walk(walker, 0, len(data), 0)
    return [walker.oid(node) for node, _siblings in nodes if node.tag == OID]


def _parameters(walker: _Walker, node: Node, siblings: list[Node]) -> list[Node]:
    """The children of the parameters SEQUENCE that follows the algorithm OID ``node``."""
    index = siblings.index(node)
    if index + 1 >= len(siblings) or siblings[index + 1].tag != SEQUENCE:
        return []
    parameters = siblings[index + 1]
    return walker.children(parameters.start, parameters.end)


def key_derivation_costs(data: bytes) -> list[KdfCost]:
    """The key derivations an encrypted PKCS#8 or PKCS#12 file in DER asks for.

    Raises :class:`DerError` when the bytes are not DER (the caller's loader then reports
    the file as unreadable).
    """
    walker = _Walker(data)
    costs: list[KdfCost] = []
    top = walker.children(0, len(data))
    if len(top) != 1 or top[0].tag != SEQUENCE:
        raise DerError("not a single DER SEQUENCE")
    costs.extend(_pkcs12_mac(walker, top[0]))
    for node, siblings in _walk(walker, 0, len(data), 0):
        if node.tag != OID:
            continue
        scheme = walker.oid(node)
        if scheme == PBKDF2:
            parameters = _parameters(walker, node, siblings)
            if len(parameters) >= 2:
                costs.append(KdfCost("pbkdf2", iterations=walker.integer(parameters[1])))
        elif scheme == SCRYPT:
            parameters = _parameters(walker, node, siblings)
            if len(parameters) >= 4:
                n, r, p = (walker.integer(parameters[i]) for i in (1, 2, 3))
                costs.append(KdfCost("scrypt", scrypt_n=n, scrypt_r=r, scrypt_p=p))
        elif scheme in PBE_WITH_SALT_AND_ITERATIONS:
            parameters = _parameters(walker, node, siblings)
            if len(parameters) >= 2:
                costs.append(KdfCost("pbe", iterations=walker.integer(parameters[1])))
    return costs


def _pkcs12_mac(walker: _Walker, pfx: Node) -> list[KdfCost]:
    """PFX ::= SEQUENCE { version 3, authSafe, macData SEQUENCE { mac, salt, iterations } }."""
    parts = walker.children(pfx.start, pfx.end)
    if len(parts) != 3 or parts[0].tag != INTEGER or parts[2].tag != SEQUENCE:
        return []
    mac_data = walker.children(parts[2].start, parts[2].end)
    if len(mac_data) < 3:
        return []  # iterations DEFAULT 1
    return [KdfCost("pkcs12-mac", iterations=walker.integer(mac_data[2]))]
