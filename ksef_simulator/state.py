"""Everything the simulator knows, in memory, behind one lock.

Views run with `State.lock` held (see `app.SimulatorFlask.dispatch_request`), so code
called from a view may read and write the dictionaries below freely. Background threads
must take the lock themselves.
"""

from __future__ import annotations

import pickle
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app

from ksef_simulator.clock import Clock
from ksef_simulator.config import SimulatorConfig
from ksef_simulator.faults import Faults
from ksef_simulator.keys import KeyRing


@dataclass
class Identifier:
    """A typed identifier as the contract spells it: {"type": "Nip", "value": "..."}."""

    type: str
    value: str

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.value)


@dataclass
class Subject:
    """An entity registered with POST /testdata/subject or implied by /testdata/person."""

    nip: str
    subject_type: str  # EnforcementAuthority, VatGroup, JST, ... or "Person"
    description: str
    created: datetime
    subunits: list[dict[str, Any]] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    attachments_allowed: bool = False
    attachments_revoked: str | None = None  # date the consent ends/ended


@dataclass
class Person:
    """A natural person registered with POST /testdata/person (owner of their NIP)."""

    nip: str
    pesel: str
    is_bailiff: bool
    is_deceased: bool
    description: str
    created: datetime


@dataclass
class Grant:
    """One permission held by `authorized` in `context` (a row of the query endpoints)."""

    id: str
    kind: str  # person | entity | indirect | authorization | subunit | eu-admin | eu-rep | testdata
    context: Identifier  # where the right is exercised (for indirect: the intermediary)
    authorized: Identifier  # who holds it (Nip, Pesel, Fingerprint, PeppolId)
    permission: str
    description: str
    author: Identifier
    start_date: datetime
    can_delegate: bool = False
    target: Identifier | None = None  # indirect grants: Nip / InternalId / AllPartners
    subject_details: dict[str, Any] | None = None
    # Grants and revocations take effect when their permission operation reaches 200.
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.start_date <= now and (self.revoked_at is None or self.revoked_at > now)

    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class AsyncOperation:
    """A permission operation or certificate enrollment polled by reference number."""

    reference_number: str
    created: datetime
    ready_at: datetime
    final_code: int
    final_description: str
    final_details: list[str] | None = None
    owner: tuple[str, str] | None = None  # context key of the caller
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuthOperation:
    reference_number: str
    started: datetime
    ready_at: datetime
    method: str  # xades | token
    method_info: dict[str, str]
    authentication_method: str  # deprecated enum value
    context: Identifier
    subject: Identifier  # Nip / Pesel / Fingerprint (token: the token's author)
    client_ip: str
    ip_policy: dict[str, Any] | None
    status_code: int  # the final outcome once ready
    status_details: list[str] | None = None
    permissions: list[str] = field(default_factory=list)
    via_token: str | None = None  # reference number of the KSeF token used
    via_certificate_fingerprint: str | None = None
    # SHA-256 (Base64) of the signed AuthTokenRequest, quoted by the UPO (XAdES only).
    document_hash: str | None = None
    # DN attributes of the signing certificate (for /certificates/enrollments/data).
    certificate_subject: dict[str, str] | None = None
    redeemed: bool = False
    revoked: bool = False
    last_refresh: datetime | None = None
    refresh_valid_until: datetime | None = None
    auth_token_valid_until: datetime | None = None


@dataclass
class KsefToken:
    reference_number: str
    secret: str
    author: Identifier
    context: Identifier
    description: str
    permissions: list[str]
    created: datetime
    active_at: datetime
    status: str = "Pending"  # Pending -> Active -> Revoking -> Revoked | Failed
    last_use: datetime | None = None


@dataclass
class Certificate:
    serial: str
    name: str
    type: str  # Authentication | Offline
    common_name: str
    owner: Identifier  # Nip / Pesel / Fingerprint of the enrolling subject
    der: bytes
    valid_from: datetime
    valid_to: datetime
    request_date: datetime
    fingerprint: str
    public_key_sha256: str  # hex SHA-256 of the SPKI: one key may serve one subject only
    status: str = "Active"  # Active | Blocked | Revoked
    revocation_reason: str | None = None
    last_use: datetime | None = None


@dataclass
class State:
    config: SimulatorConfig
    clock: Clock
    keys: KeyRing
    faults: Faults = field(default_factory=Faults)
    # -- core (auth, permissions, certificates, testdata) ---------------------------------
    subjects: dict[str, Subject] = field(default_factory=dict)  # by NIP
    persons: dict[str, Person] = field(default_factory=dict)  # by PESEL
    grants: dict[str, Grant] = field(default_factory=dict)  # by permission id
    permission_operations: dict[str, AsyncOperation] = field(default_factory=dict)
    challenges: dict[str, dict[str, Any]] = field(default_factory=dict)
    auth_operations: dict[str, AuthOperation] = field(default_factory=dict)
    ksef_tokens: dict[str, KsefToken] = field(default_factory=dict)  # by reference number
    certificates: dict[str, Certificate] = field(default_factory=dict)  # by serial
    enrollments: dict[str, AsyncOperation] = field(default_factory=dict)
    blocked_contexts: set[tuple[str, str]] = field(default_factory=set)
    context_limits: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    subject_limits: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # Rate-limit overrides per context set through /testdata/rate-limits.
    rate_limit_overrides: dict[tuple[str, str], dict[str, dict[str, int]]] = field(
        default_factory=dict
    )
    # -- invoices (owned by sessions.py / invoices.py / exports.py / upo.py) --------------
    sessions: dict[str, Any] = field(default_factory=dict)
    invoices: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)
    upos: dict[str, Any] = field(default_factory=dict)
    # Free-form room for the invoice modules (indexes, counters); must stay picklable.
    extra: dict[str, Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # Bumped by every state-changing request; the snapshot writer compares it.
    version: int = 0

    def now(self) -> datetime:
        return self.clock.now()

    def touch(self) -> None:
        self.version += 1

    # -- persistence ---------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data.pop("lock")
        data.pop("config")
        return data

    def __setstate__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)
        self.lock = threading.RLock()

    def save(self, path: Path) -> None:
        with self.lock:
            payload = pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(payload)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, config: SimulatorConfig) -> State:
        # The file is our own snapshot written by save(); never point --state at
        # untrusted data (pickle executes code on load).
        state = pickle.loads(path.read_bytes())  # noqa: S301
        if not isinstance(state, cls):
            raise ValueError(f"{path} is not a simulator snapshot")
        state.config = config
        state.clock.scale = config.time_scale
        return state


def new_state(config: SimulatorConfig) -> State:
    clock = Clock(scale=config.time_scale)
    state = State(config=config, clock=clock, keys=KeyRing.default(clock.now()))
    state.faults.update(config.faults)
    return state


def current_state() -> State:
    """The State of the app serving the current request."""
    return current_app.extensions["ksef_simulator"]  # type: ignore[no-any-return]
