"""Shared set-up of the sending tests: the KSeF simulator in-process on the sender's own
virtual clock (as the sync tests run it), a client with its company seal stored, invoice
files sold by that client, and faults that strike after KSeF processed a request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from lxml import etree

from clients.models import Client
from invoices.models import SendJob
from invoices.sending import checks, services
from invoices.sending.sender import Sender
from invoices.sync.clock import ManualClock
from ksef.fa3 import FA3_NAMESPACE
from ksef_simulator.verification import assigned_ksef_numbers
from tests.invoices.documents.support import sample_bytes, sample_names
from tests.invoices.sync.support import START, DropRecordingTransport, make_syncsim, sync_client

FA3_SAMPLES = [
    name
    for name in sample_names()
    if etree.QName(etree.fromstring(sample_bytes(name))).namespace == FA3_NAMESPACE
]


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the sender may catch it."""


def as_sold_by(xml: bytes, nip: str, *, number: str | None = None) -> bytes:
    root = etree.fromstring(xml)
    root.find("{*}Podmiot1/{*}DaneIdentyfikacyjne/{*}NIP").text = nip
    if number is not None:
        root.find("{*}Fa/{*}P_2").text = number
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def example(client: Client, number: str) -> bytes:
    return as_sold_by(sample_bytes("mf-fa3-example-01.xml"), client.nip, number=number)


# The steps of sending a fault can strike, as (method, path pattern below the host).
STEPS = {
    "online_open": ("POST", r"/v2/sessions/online"),
    "online_send": ("POST", r"/v2/sessions/online/[^/]+/invoices"),
    "online_close": ("POST", r"/v2/sessions/online/[^/]+/close"),
    "batch_open": ("POST", r"/v2/sessions/batch"),
    "batch_send": ("PUT", r"/storage/batch/[^/]+/parts/\d+"),
    "batch_close": ("POST", r"/v2/sessions/batch/[^/]+/close"),
    "status": ("GET", r"/v2/sessions/[^/]+"),
}


def _lost(kind: str, request: httpx.Request) -> httpx.Response:
    if kind == "500":
        return httpx.Response(500, json={"exception": {}}, request=request)
    if kind == "timeout":
        raise httpx.ReadTimeout("the answer was lost", request=request)
    raise WorkerKilled()


class AfterPostFaults(DropRecordingTransport):
    """Lets KSeF process the N-th invoice POST, then loses its answer: a 500, a timeout,
    or the worker killed before it could store the reference. `strike_at` = (step of
    STEPS, N, kind) does the same to the N-th request of any step, once."""

    def __init__(self, app: Any, state: Any) -> None:
        super().__init__(app, state)
        self.strike: tuple[int, str] | None = None
        self.strike_at: tuple[str, int, str] | None = None
        self.invoice_posts = 0
        self.step_counts: dict[str, int] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        path = request.url.path
        if request.method == "POST" and "/sessions/online/" in path and path.endswith("/invoices"):
            self.invoice_posts += 1
            if self.strike and self.strike[0] == self.invoice_posts:
                return _lost(self.strike[1], request)
        if self.strike_at is not None:
            step, nth, kind = self.strike_at
            method, pattern = STEPS[step]
            if request.method == method and re.fullmatch(pattern, path):
                self.step_counts[step] = self.step_counts.get(step, 0) + 1
                if self.step_counts[step] == nth:
                    self.strike_at = None
                    return _lost(kind, request)
        return response


@dataclass
class SendSim:
    app: Any
    state: Any
    transport: AfterPostFaults
    clock: ManualClock
    http: httpx.Client
    sync: Any = None  # the sync tests' SyncSim, for an engine

    def sender(self, kind: str | None = None) -> Sender:
        return Sender(now=self.clock.now, sleep=self.clock.advance, poll=1.0, session_kind=kind)

    def ksef_numbers(self) -> dict[str, int]:
        return dict(assigned_ksef_numbers(self.state))

    def faults(self, **values: Any) -> None:
        response = self.http.post("http://ksef-sim/_sim/faults", json=values)
        assert response.status_code == 200, response.text


@pytest.fixture(name="sendsim")
def sendsim_fixture(settings, tmp_path, monkeypatch) -> Iterator[SendSim]:  # type: ignore[no-untyped-def]
    import tests.invoices.sync.support as sync_support

    monkeypatch.setattr(sync_support, "DropRecordingTransport", AfterPostFaults)
    for sim in make_syncsim(settings, tmp_path):
        yield SendSim(sim.app, sim.state, sim.transport, sim.clock, sim.http, sim)  # type: ignore[arg-type]


def seller(office: Any) -> Client:
    return sync_client(office, name="Piekarnia Pod Lipą sp. z o.o.")


def queued_job(client: Client, files: list[tuple[str, bytes]], actor: Any = None) -> SendJob:
    """An upload checked and started, as the screen and the command do it."""
    unpacked = checks.unpack([checks.InvoiceFile(name, content) for name, content in files])
    checked = checks.check_files(client, unpacked.files)
    job = services.send_job_create(
        actor=actor, client=client, checked=checked, unpack_problems=unpacked.problems
    )
    return services.send_job_start(actor=actor, job=job, enqueue=False)


__all__ = ["START"]
