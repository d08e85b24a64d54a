"""Load: 50 staff sessions against gunicorn (4 workers) on PostgreSQL, 1,000 clients, 60 s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_load \\
        .venv/bin/python benchmarks/load_portal.py [--seconds 60] [--sessions 50] [--think 3]

1. A fresh database (dropped first if it exists, dropped at the end unless --keep) gets the
   migrations and one office: 50 staff (5 admins, 10 managers, 35 accountants), 1,000
   clients with contacts and assigned accountants, ~1,400 credentials (authentication
   certificates expiring over the next 400 days, offline certificates, tokens, replaced
   history), ~1,500 KSeF grants, sync state with two cursors per client, 10,000 invoices
   linked to their clients and 20,000 audit events.
2. gunicorn serves `portal.wsgi` with 4 sync workers and the production settings
   (DEBUG off, PBKDF2 passwords, sessions in the database saved on every request, the
   cache in Redis when CACHE_URL is given).
3. 50 sessions log in through the login form (mixed roles), then each, in its own thread,
   opens pages its role may see for --seconds: dashboard, client list (plain, search,
   legal-form filter, sort, page N), a client's detail, credentials, grants and sync
   status, the expiry dashboard and the audit log (managers and admins), the invoice list
   where the portal has one. Between two pages a session waits a random 0..2x --think
   seconds (default 3: a person reads a page before the next click, so 50 people make
   ~16 requests/s); --think 0 is a closed loop that only measures queueing behind 4
   workers.
4. It prints requests, errors and p50/p95/p99 per page and overall, the load average, and
   the CPU time per request of gunicorn, of the database backends serving it and of this
   client (what the machine's load does not change), and exits non-zero on any error or an
   overall p95 above 300 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

P95_TARGET_MS = 300.0
PASSWORD = "Obciazenie-Portalu-2026!"
CLIENTS, INVOICES_PER_CLIENT, AUDIT_EVENTS = 1_000, 10, 20_000
ROLES = ["admin"] * 5 + ["manager"] * 10 + ["accountant"] * 35


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--think", type=float, default=3.0, help="mean pause between pages, s")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def _environment() -> dict[str, str]:
    """The variables both this process (seeding) and gunicorn run with."""
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_load")
    if not url.startswith("postgres"):
        sys.exit("load_portal.py needs PostgreSQL: DATABASE_URL=postgres://...")
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
        "CRYPTOGRAPHY_KEY": os.environ.get("CRYPTOGRAPHY_KEY") or secrets.token_urlsafe(48),
        "EMAIL_URL": "memorymail://",
        "ALLOWED_HOSTS": "127.0.0.1",
        # Connections live through the run (as with CONN_MAX_AGE in production), so the
        # backends counted for CPU are the same at the start and the end.
        "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "600"),
        "LOG_LEVEL": "WARNING",
        "KSEF_RATE_LIMIT_URL": f"sqlite:///{tmp / 'limits.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    env.setdefault("CACHE_URL", "locmemcache://")
    return env


# --- database ------------------------------------------------------------------------------


@contextmanager
def fresh_database(url: str, keep: bool) -> Iterator[None]:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield
    finally:
        if not keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed() -> dict[str, list[int]]:
    """The office; returns, per username, the client ids that person may open."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.utils import timezone

    from certificates.models import Credential
    from clients.models import AccessModel, Client, LegalForm, Prerequisite
    from grants.models import PermissionGrant
    from invoices.models import InvoiceSyncState, SyncCursor
    from portal.models import AuditEvent, Membership, Office
    from tests.factories import valid_nip, valid_pesel

    call_command("migrate", verbosity=0)
    rng = random.Random(20261202)  # noqa: S311 - reproducible data, not secrets
    now = timezone.now()
    office = Office.objects.create(name="Biuro Obciążeniowe", nip=valid_nip(1))
    hashed = make_password(PASSWORD)  # one PBKDF2 hash for every account: seeding is fast
    users = get_user_model().objects.bulk_create(
        get_user_model()(
            username=f"{role}{n:02d}",
            password=hashed,
            first_name=f"Osoba{n}",
            last_name=role.capitalize(),
            email=f"{role}{n:02d}@biuro.example",
        )
        for n, role in enumerate(ROLES)
    )
    members = Membership.objects.bulk_create(
        Membership(user=user, office=office, role=role, pesel=valid_pesel(n + 10))
        for n, (user, role) in enumerate(zip(users, ROLES, strict=True))
    )
    accountants = [m for m in members if m.role == "accountant"]
    forms, access = list(LegalForm.values), [AccessModel.OFFICE, AccessModel.CLIENT_CREDENTIAL]
    clients = Client.objects.bulk_create(
        Client(
            office=office,
            nip=valid_nip(1000 * (n + 2)),
            name=f"{rng.choice(['Piekarnia', 'Hurtownia', 'Serwis', 'Transport'])} {n} sp. z o.o.",
            legal_form=forms[n % len(forms)],
            contact_emails=[f"ksiegowosc{n}@klient.example"],
            access_model=access[n % 2],
            is_archived=n % 50 == 0,
        )
        for n in range(CLIENTS)
    )
    through = Client.assigned_accountants.through
    links = []
    for n, client in enumerate(clients):
        for accountant in {accountants[n % 35], accountants[(n * 7) % 35]}:
            links.append(through(client_id=client.pk, membership_id=accountant.pk))
    through.objects.bulk_create(links)
    Prerequisite.objects.bulk_create(
        Prerequisite(client=c, state=Prerequisite.State.NOT_REQUIRED) for c in clients
    )
    credentials = []
    for n, client in enumerate(clients):
        valid_to = now + timedelta(days=rng.randint(-10, 400), hours=rng.randint(0, 23))
        credentials.append(
            Credential(
                office=office,
                client=client,
                kind=Credential.Kind.AUTHENTICATION,
                status=Credential.Status.ACTIVE,
                owner_identifier_type=Credential.OwnerIdentifierType.NIP,
                owner_identifier=client.nip,
                owner_name=client.name,
                serial_number=f"5A{n:08X}",
                valid_from=valid_to - timedelta(days=730),
                valid_to=valid_to,
            )
        )
        if n % 3 == 0:
            credentials.append(
                Credential(
                    office=office,
                    client=client,
                    kind=Credential.Kind.OFFLINE,
                    status=Credential.Status.ACTIVE,
                    owner_name=client.name,
                    serial_number=f"6B{n:08X}",
                    valid_from=now - timedelta(days=300),
                    valid_to=now + timedelta(days=rng.randint(1, 700)),
                )
            )
        if n % 10 == 0:
            credentials.append(
                Credential(
                    office=office,
                    client=client,
                    kind=Credential.Kind.TOKEN,
                    status=Credential.Status.ACTIVE,
                    token_reference=f"20260101-EC-{n:010d}-TOKEN",
                )
            )
        if n % 8 == 0:
            credentials.append(
                Credential(
                    office=office,
                    client=client,
                    kind=Credential.Kind.AUTHENTICATION,
                    status=Credential.Status.REPLACED,
                    owner_name=client.name,
                    serial_number=f"7C{n:08X}",
                    valid_from=now - timedelta(days=900),
                    valid_to=now - timedelta(days=rng.randint(1, 100)),
                )
            )
    Credential.objects.bulk_create(credentials)
    people = [m for m in members if m.role != "admin"]
    PermissionGrant.objects.bulk_create(
        PermissionGrant(
            client=client,
            grantee_kind=PermissionGrant.GranteeKind.PERSON,
            grantee_membership=person,
            grantee_identifier_type="Pesel",
            grantee_identifier=person.pesel,
            permissions=["InvoiceRead", "InvoiceWrite"],
            state=PermissionGrant.State.GRANTED,
            completed_at=now - timedelta(days=rng.randint(1, 200)),
        )
        for n, client in enumerate(clients)
        for person in ([people[n % len(people)]] + ([people[(n + 3) % len(people)]] * (n % 2)))
    )
    InvoiceSyncState.objects.bulk_create(
        InvoiceSyncState(client=c, last_success_at=now - timedelta(minutes=rng.randint(1, 90)))
        for c in clients
    )
    SyncCursor.objects.bulk_create(
        SyncCursor(client=c, subject_type=subject, high_water_mark=now - timedelta(minutes=20))
        for c in clients
        for subject in ("Subject1", "Subject2")
    )
    _seed_invoices(clients, rng, now)
    actions = ["credential.uploaded", "credential.used", "grant.requested", "staff.created"]
    AuditEvent.objects.bulk_create(
        AuditEvent(
            office=office,
            actor=users[n % len(users)],
            action=actions[n % len(actions)],
            object_type="client",
            object_id=str(clients[n % CLIENTS].pk),
            object_repr=clients[n % CLIENTS].name,
            details={"n": n},
        )
        for n in range(AUDIT_EVENTS)
    )
    # Statistics for the planner, as autovacuum would gather them after a bulk load; without
    # them PostgreSQL guesses 9 audit events instead of 20,000 and sorts them all.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    visible: dict[str, list[int]] = {}
    active_ids = [c.pk for c in clients if not c.is_archived]
    by_member = defaultdict(list)
    for link in links:
        by_member[link.membership_id].append(link.client_id)
    for member, user in zip(members, users, strict=True):
        visible[user.username] = active_ids if member.role != "accountant" else by_member[member.pk]
    return visible


def _seed_invoices(clients: list[Any], rng: random.Random, now: datetime) -> None:
    import base64
    import hashlib

    from invoices.models import ClientInvoice, Invoice

    invoices, links = [], []
    for n, client in enumerate(clients):
        for k in range(INVOICES_PER_CLIENT):
            xml = f"<Faktura><Numer>FV/{n}/{k}</Numer></Faktura>".encode()
            issued = date(2026, 1 + k % 11, 1 + n % 28)
            net = Decimal(rng.randint(100, 100_000)) / 100
            invoices.append(
                Invoice(
                    ksef_number=f"{client.nip}-20260101-{n:06d}{k:04d}-{k:02X}",
                    invoice_number=f"FV/{n}/{k}",
                    form_code="FA (3)",
                    invoice_type="Vat",
                    invoicing_mode="Online",
                    issue_date=issued,
                    invoicing_date=now,
                    acquisition_date=now,
                    permanent_storage_date=now,
                    seller_nip=client.nip,
                    seller_name=client.name,
                    buyer_identifier_type="Nip",
                    buyer_identifier="5260250274",
                    buyer_name="Nabywca S.A.",
                    net_amount=net,
                    vat_amount=(net * Decimal("0.23")).quantize(Decimal("0.01")),
                    gross_amount=(net * Decimal("1.23")).quantize(Decimal("0.01")),
                    currency="PLN",
                    invoice_hash=base64.b64encode(hashlib.sha256(xml).digest()).decode(),
                    metadata={},
                    xml=xml,
                    size=len(xml),
                )
            )
            links.append((client, issued))
    stored = Invoice.objects.bulk_create(invoices, batch_size=2_000)
    ClientInvoice.objects.bulk_create(
        (
            ClientInvoice(client=client, invoice=invoice, subject_type="Subject1", issue_date=day)
            for invoice, (client, day) in zip(stored, links, strict=True)
        ),
        batch_size=2_000,
    )


# --- the server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants still running."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def postgres_backends(database_url: str) -> list[int]:
    """The server processes serving the benchmark's database (gunicorn keeps its
    connections open, CONN_MAX_AGE), so their CPU is the database's cost of the run."""
    import psycopg

    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(database_url, autocommit=True) as db:
        rows = db.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ).fetchall()
    return [int(row[0]) for row in rows]


def processes_cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


@contextmanager
def gunicorn(env: dict[str, str], workers: int) -> Iterator[tuple[str, int]]:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi:application",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=REPO_ROOT, env=env)  # noqa: S603 - our gunicorn
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/accounts/login/", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.3)
        yield base, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


# --- the sessions --------------------------------------------------------------------------


@dataclass
class Session:
    username: str
    role: str
    client_ids: list[int]
    http: httpx.Client
    samples: list[tuple[str, float, int]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def log_in(base: str, username: str, role: str, client_ids: list[int]) -> Session:
    http = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    page = http.get("/accounts/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert csrf, "the login page has a CSRF field"
    answer = http.post(
        "/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf.group(1)},
        headers={"Referer": f"{base}/accounts/login/"},
    )
    if answer.status_code != 302:
        raise SystemExit(f"login of {username} answered {answer.status_code}")
    return Session(username, role, client_ids, http)


def pages_for(session: Session, rng: random.Random, invoice_list: str | None) -> tuple[str, str]:
    """One (label, path) a person of this role would open next."""
    pk = rng.choice(session.client_ids)
    choices = [
        ("dashboard", "/"),
        ("client list", "/clients/"),
        ("client list: search", f"/clients/?q={rng.choice(['Piekarnia', 'Serwis', '12'])}"),
        ("client list: filter", f"/clients/?legal_form={rng.choice(['spzoo', 'jdg', 'sa'])}"),
        ("client list: sort+page", f"/clients/?sort=-name&page={rng.randint(1, 12)}"),
        ("client detail", f"/clients/{pk}/"),
        ("credentials", f"/credentials/clients/{pk}/"),
        ("grants", f"/grants/clients/{pk}/"),
        ("sync status", f"/invoices/clients/{pk}/sync/"),
    ]
    if session.role in ("admin", "manager"):
        choices += [
            ("expiry dashboard", "/expiry/"),
            ("expiry dashboard: 30 days", "/expiry/?bucket=30"),
            ("audit log", "/audit/"),
            ("audit log: page 5", "/audit/?page=5"),
        ]
    if invoice_list:
        choices.append(("invoice list", invoice_list))
    return rng.choice(choices)


def drive(session: Session, until: float, think: float, seed: int, invoices: str | None) -> None:
    rng = random.Random(seed)  # noqa: S311 - which page next, not a secret
    while time.monotonic() < until:
        label, path = pages_for(session, rng, invoices)
        started = time.perf_counter()
        try:
            status = session.http.get(path).status_code
        except httpx.HTTPError as exc:
            session.failures.append(f"{label} {path}: {type(exc).__name__}")
            continue
        elapsed_ms = (time.perf_counter() - started) * 1000
        session.samples.append((label, elapsed_ms, status))
        if status != 200:
            session.failures.append(f"{label} {path}: HTTP {status}")
        if think > 0:
            time.sleep(rng.uniform(0, 2 * think))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def report(sessions: list[Session], seconds: float) -> tuple[int, float]:
    by_page: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for session in sessions:
        for label, ms, status in session.samples:
            by_page[label].append(ms)
            errors[label] += status != 200
    everything = [ms for values in by_page.values() for ms in values]
    print(f"\n{'page':<28}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for label in sorted(by_page):
        values = by_page[label]
        print(
            f"{label:<28}{len(values):>9}{errors[label]:>8}{percentile(values, 50):>9.1f}"
            f"{percentile(values, 95):>9.1f}{percentile(values, 99):>9.1f}"
        )
    failures = sum(len(s.failures) for s in sessions)
    p95 = percentile(everything, 95)
    print(
        f"{'overall':<28}{len(everything):>9}{failures:>8}{percentile(everything, 50):>9.1f}"
        f"{p95:>9.1f}{percentile(everything, 99):>9.1f}"
    )
    print(
        f"throughput {len(everything) / seconds:.1f} requests/s; "
        f"mean {statistics.fmean(everything):.1f} ms"
    )
    for session in sessions:
        for failure in session.failures[:3]:
            print(f"  error ({session.username}): {failure}")
    return failures, p95


def main() -> int:
    args = _arguments()
    env = _environment()
    os.environ.update(env)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with fresh_database(env["DATABASE_URL"], args.keep):
        import django

        django.setup()
        from django.urls import NoReverseMatch, reverse

        started = time.monotonic()
        visible = seed()
        print(
            f"seeded 1 office, {CLIENTS} clients, {len(visible)} staff in "
            f"{time.monotonic() - started:.1f} s"
        )
        try:
            invoice_list: str | None = reverse("invoices:list")
        except NoReverseMatch:
            invoice_list = None
        from django.db import connections

        connections.close_all()
        with gunicorn(env, args.workers) as (base, server_pid):
            # Every role in the mix, in the office's proportions (1 admin : 2 managers : 7).
            order = [f"{role}{n:02d}" for n, role in enumerate(ROLES)]
            names = sorted(order, key=lambda name: order.index(name) % 10)[: args.sessions]
            roles = {f"{role}{n:02d}": role for n, role in enumerate(ROLES)}
            with _threads(len(names)) as pool:
                sessions = list(
                    pool(lambda name: log_in(base, name, roles[name], visible[name]), names)
                )
            print(
                f"{len(sessions)} sessions logged in "
                f"({sum(r == 'admin' for r in map(roles.get, names))} admins, "
                f"{sum(r == 'manager' for r in map(roles.get, names))} managers, "
                f"{sum(r == 'accountant' for r in map(roles.get, names))} accountants); "
                f"driving for {args.seconds:.0f} s with think time 0..{2 * args.think:.1f} s"
            )
            backends = postgres_backends(env["DATABASE_URL"])
            cpu_before, pg_before = cpu_seconds(server_pid), processes_cpu_seconds(backends)
            own_before = sum(os.times()[:2])
            until = time.monotonic() + args.seconds
            threads = [
                threading.Thread(
                    target=drive, args=(s, until, args.think, n, invoice_list), daemon=True
                )
                for n, s in enumerate(sessions)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            web_cpu = cpu_seconds(server_pid) - cpu_before
            db_cpu = processes_cpu_seconds(backends) - pg_before
            own_cpu = sum(os.times()[:2]) - own_before
            print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            failures, p95 = report(sessions, args.seconds)
            served = sum(len(s.samples) for s in sessions)
            print(
                f"CPU per request: gunicorn {web_cpu / served * 1000:.1f} ms, PostgreSQL "
                f"{db_cpu / served * 1000:.1f} ms ({len(backends)} backends), this client "
                f"{own_cpu / served * 1000:.1f} ms; cores used of {os.cpu_count()}: gunicorn "
                f"{web_cpu / args.seconds:.2f}, PostgreSQL {db_cpu / args.seconds:.2f}, "
                f"client {own_cpu / args.seconds:.2f}"
            )
    ok = failures == 0 and p95 <= P95_TARGET_MS
    print(
        f"{'PASS' if ok else 'FAIL'}: {failures} errors (target 0), "
        f"p95 {p95:.1f} ms (target <= {P95_TARGET_MS:.0f} ms)"
    )
    return 0 if ok else 1


@contextmanager
def _threads(count: int) -> Iterator[Callable[..., Iterator[Any]]]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(count, 16)) as executor:
        yield executor.map


if __name__ == "__main__":
    sys.exit(main())
