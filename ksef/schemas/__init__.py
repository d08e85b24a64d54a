"""The official KSeF XML schemas, shipped unmodified as data of this package.

One folder per family, laid out as the Ministry publishes them:

* ``fa`` — FA(3), FA(2) and FA_RR(1); their base types in ``fa/bazowe``;
* ``pef`` — PEF(3) and PEF_KOR(3) (UBL 2.1); the UBL and PEFPL modules in ``pef/bazowe``;
* ``auth`` — the ``AuthTokenRequest`` of XAdES authentication, 2.0 and 2.1;
* ``upo`` — the official receipt (UPO) v4-3.

``SOURCES.md`` names the repository, commit and licence of every file and ``SHA256SUMS``
pins its bytes: a schema that KSeF itself enforces is never edited here, only replaced by
the Ministry's next release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

__all__ = ["SchemaFamily", "schema_dir"]

SchemaFamily = Literal["fa", "pef", "auth", "upo"]

# lxml compiles schemas from real files (imports resolve relative to them), so the folder
# is the package's own directory rather than an importlib.resources traversable.
_ROOT = Path(__file__).resolve().parent


def schema_dir(family: SchemaFamily) -> Path:
    """The folder holding the official XSDs of FAMILY, e.g. ``schema_dir("fa")``.

    ``fa3.validate(xml)`` reads ``schema_dir("fa")`` unless given another folder.
    """
    if family not in get_args(SchemaFamily):
        raise ValueError(f"unknown KSeF schema family {family!r}")
    return _ROOT / family
