"""Shared set-up of the sync-engine tests: the KSeF simulator in-process on the engine's
own virtual clock, clients with stored credentials, and the ground-truth comparison.

The simulator follows the engine's `ManualClock`, and the engine "sleeps" by moving that
clock, so waiting for an export, a rate-limit window or a backoff costs no real time and
both sides agree on every timestamp (KSeF's high-water mark included).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import pytest
import redis
from django.conf import settings

from certificates import connection
from clients.models import AccessModel, Client, LegalForm, Prerequisite
from invoices.models import ClientInvoice
from invoices.sync.clock import ManualClock
from invoices.sync.engine import Engine
from invoices.sync.limiter import RateLimiter, RedisStore, SqliteStore
from ksef.crypto import sha256_b64
from ksef_simulator import SimulatorConfig, create_app
from ksef_simulator.bulk import ground_truth
from ksef_simulator.state import State
from portal.models import Office
from tests.factories import valid_nip
from tests.grants.grants_support import SIM_BASE_URL, RecordingTransport, store_seal

# The virtual clock starts at the real time: certificates made by the tests are valid from
# the real now, and KSeF (the simulator) refuses one that is not valid yet.
START = datetime.now(UTC).replace(microsecond=0)


@dataclass
class SyncSim:
    app: Any
    state: State
    transport: DropRecordingTransport
    clock: ManualClock
    limiter: RateLimiter
    http: httpx.Client
    engines: list[Engine] = field(default_factory=list)

    def engine(self, **overrides: Any) -> Engine:
        overrides.setdefault("limiter", self.limiter)
        engine = Engine(clock=self.clock, sleep=self.clock.advance, **overrides)
        self.engines.append(engine)
        return engine

    def faults(self, **values: Any) -> None:
        response = self.http.post(SIM_BASE_URL.removesuffix("/v2") + "/_sim/faults", json=values)
        assert response.status_code == 200, response.text

    def truth(self, nip: str, subject_type: str) -> dict[str, str]:
        return ground_truth(self.state, nip, subject_type)


class DropRecordingTransport(RecordingTransport):
    """Also records a connection the simulator dropped, as status 0."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except httpx.RemoteProtocolError:
            self.exchanges.append((request.method, request.url.path.removeprefix("/v2"), 0))
            raise

    def statuses(self) -> Counter[int]:
        return Counter(status for _method, _path, status in self.exchanges)


def limiter_for_test(clock: ManualClock, tmp_path: Any) -> RateLimiter:
    """A limiter of its own per test, on the configured kind of store (Redis in CI)."""
    url: str = settings.KSEF_RATE_LIMIT_URL
    if url.startswith("redis"):
        store: Any = RedisStore(redis.Redis.from_url(url), prefix=f"test-{uuid.uuid4().hex}:")
    else:
        store = SqliteStore(tmp_path / "limits.sqlite3")
    return RateLimiter(store, clock)


@pytest.fixture(name="syncsim")
def syncsim_fixture(settings, tmp_path) -> Iterator[SyncSim]:  # type: ignore[no-untyped-def]
    yield from make_syncsim(settings, tmp_path)


def make_syncsim(settings: Any, tmp_path: Any, **config: Any) -> Iterator[SyncSim]:
    clock = ManualClock(START)
    app = create_app(
        SimulatorConfig(
            jwt_secret=b"sync-tests-sync-tests-sync-tests", **{"profile": "fast", **config}
        )
    )
    state: State = app.extensions["ksef_simulator"]
    state.clock.follow(clock.now)
    transport = DropRecordingTransport(app, state)
    settings.KSEF_BASE_URL = SIM_BASE_URL
    connection.set_transport(transport)
    with httpx.Client(transport=transport, base_url=SIM_BASE_URL) as http:
        yield SyncSim(app, state, transport, clock, limiter_for_test(clock, tmp_path), http)
    connection.set_transport(None)


def sync_client(office: Office, *, nip: str | None = None, name: str = "") -> Client:
    """A client ready to sync: ZAW-FA not required, its own company seal stored."""
    nip = nip or valid_nip()
    client = Client.objects.create(
        office=office,
        nip=nip,
        name=name or f"Klient {nip}",
        legal_form=LegalForm.LIMITED_LIABILITY_COMPANY,
        access_model=AccessModel.CLIENT_CREDENTIAL,
    )
    Prerequisite.objects.create(client=client, state=Prerequisite.State.NOT_REQUIRED)
    store_seal(office, client, nip)
    return client


def stored_set(client: Client, subject_type: str) -> dict[str, str]:
    """KSeF number -> SHA-256 of the stored XML, computed from the stored bytes."""
    links = ClientInvoice.objects.filter(client=client, subject_type=subject_type)
    return {
        number: sha256_b64(bytes(xml))
        for number, xml in links.values_list("invoice__ksef_number", "invoice__xml")
    }


def cursor_ids(*clients: Client, clock: ManualClock) -> list[int]:
    """The clients' cursors (created where missing, the incremental sync starting now)."""
    from invoices.sync import services

    return [c.pk for client in clients for c in services.cursors_ensure(client, clock=clock)]


class KnowsTheTruth(Protocol):
    def truth(self, nip: str, subject_type: str) -> dict[str, str]: ...


def assert_matches_ground_truth(sim: KnowsTheTruth, clients: list[Client]) -> dict[str, int]:
    """Per client and subject type: every invoice KSeF holds is stored, none twice, none
    extra, byte for byte (the SHA-256 of the stored XML is KSeF's invoiceHash); every
    invoice is one row however many clients it concerns. Returns the sizes compared."""
    from invoices.models import Invoice, SyncCursor

    sizes: dict[str, int] = {}
    union: set[str] = set()
    for client in clients:
        for cursor in SyncCursor.objects.filter(client=client):
            truth = sim.truth(client.nip, cursor.subject_type)
            stored = stored_set(client, cursor.subject_type)
            lost, extra = truth.keys() - stored.keys(), stored.keys() - truth.keys()
            assert not lost, f"{client.nip} {cursor.subject_type}: {len(lost)} lost"
            assert not extra, f"{client.nip} {cursor.subject_type}: {len(extra)} not in KSeF"
            damaged = [n for n in truth if truth[n] != stored[n]]
            assert not damaged, f"{client.nip} {cursor.subject_type}: {len(damaged)} damaged"
            # The count a user sees: each invoice counted once, however often it came.
            assert cursor.invoices_stored == len(truth), (client.nip, cursor.subject_type)
            sizes[f"{client.nip}/{cursor.subject_type}"] = len(truth)
            union |= truth.keys()
    assert Invoice.objects.count() == len(union)
    sizes["invoices"] = len(union)
    return sizes


class StepBudget:
    """A runner `progress` callback that fails the test instead of looping for ever, and
    counts the errors the steps met (by code) and the states they left."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.steps = 0
        self.errors: Counter[str] = Counter()
        self.states: Counter[str] = Counter()

    def __call__(self, outcome: Any, result: Any) -> None:
        self.steps += 1
        assert self.steps <= self.limit, f"no end after {self.limit} steps: {outcome} {result}"
        if result.error_code:
            self.errors[result.error_code] += 1
        self.states[result.state] += 1


def step_budget(limit: int) -> StepBudget:
    return StepBudget(limit)
