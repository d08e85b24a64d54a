"""Demo data: an office with one person per role and ~20 clients at every ZAW-FA stage,
and — unless `--no-simulator` — their side in the KSeF simulator at settings.KSEF_BASE_URL
(credentials, entity grants to the office, invoices; see demo/simulator.py).

Idempotent: everything is looked up by its natural key (office NIP, username, client NIP)
and created only when missing, so running the command twice changes nothing the second
time. Writes go through the same services the UI uses, so the demo's audit log is real.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from clients import services as client_services
from clients.models import Client, LegalForm, Prerequisite
from demo import simulator as demo_simulator
from invoices.sync.services import sync_request, syncable_clients
from ksef.identifiers import nip_check_digit
from portal import services as portal_services
from portal.audit import audit_record
from portal.models import Membership, Office

DEMO_PASSWORD = "Demo-KSeF-2026!"
OFFICE_NAME = "Biuro Rachunkowe Demo"

Role = Membership.Role
State = Prerequisite.State


def demo_nip(seed: int) -> str:
    """A checksum-valid NIP starting 526 (a Warsaw tax-office prefix), fixed per seed."""
    for step in range(100):
        first_nine = f"526{(seed * 7919 + step) % 1_000_000:06d}"
        check = nip_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
    raise AssertionError("unreachable: some of 100 consecutive numbers has a check digit")


def demo_pesel(year: int, month: int, day: int, serial: int) -> str:
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    digits = f"{year % 100:02d}{month:02d}{day:02d}{serial:04d}"
    check = (10 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10) % 10
    return digits + str(check)


def jdg_owner_pesel(seed: int) -> str:
    """The PESEL of the owner of the sole proprietorship seeded as client number ``seed``."""
    return demo_pesel(1960 + seed, 1 + seed % 12, 1 + seed, 1000 + seed)


@dataclass(frozen=True)
class StaffSpec:
    username: str
    first_name: str
    last_name: str
    role: str
    pesel: str


STAFF = (
    StaffSpec("admin", "Agnieszka", "Nowak", Role.ADMIN, demo_pesel(1978, 3, 14, 2468)),
    StaffSpec("kierownik", "Marek", "Wiśniewski", Role.MANAGER, demo_pesel(1982, 7, 2, 1357)),
    StaffSpec("ksiegowa", "Katarzyna", "Kowalska", Role.ACCOUNTANT, demo_pesel(1990, 11, 23, 4682)),
    StaffSpec("ksiegowy", "Tomasz", "Zieliński", Role.ACCOUNTANT, demo_pesel(1987, 5, 9, 3571)),
)


@dataclass(frozen=True)
class ClientSpec:
    name: str
    legal_form: str
    target: str  # the ZAW-FA state the demo client should end in
    has_qualified_seal: bool = False


CLIENTS = (
    ClientSpec("Jan Kowalski Usługi Remontowe", LegalForm.SOLE_PROPRIETORSHIP, State.NOT_REQUIRED),
    ClientSpec("Anna Lewandowska Studio Fryzur", LegalForm.SOLE_PROPRIETORSHIP, State.NOT_REQUIRED),
    ClientSpec("Piotr Wójcik Transport", LegalForm.SOLE_PROPRIETORSHIP, State.NOT_REQUIRED),
    ClientSpec(
        "Ewa Kamińska Gabinet Stomatologiczny", LegalForm.SOLE_PROPRIETORSHIP, State.NOT_REQUIRED
    ),
    ClientSpec("Piekarnia Pod Lipą sp. z o.o.", LegalForm.LIMITED_LIABILITY_COMPANY, State.TO_FILE),
    ClientSpec(
        "Mazowiecka Hurtownia Budowlana sp. z o.o.",
        LegalForm.LIMITED_LIABILITY_COMPANY,
        State.FILED,
    ),
    ClientSpec("Kowalczyk i Synowie sp.j.", LegalForm.GENERAL_PARTNERSHIP, State.CONFIRMED),
    ClientSpec("Zakład Stolarski Dąb s.c.", LegalForm.CIVIL_PARTNERSHIP, State.TO_FILE),
    ClientSpec(
        "Kancelaria Radców Prawnych Nowicki i Partnerzy",
        LegalForm.PROFESSIONAL_PARTNERSHIP,
        State.CONFIRMED,
    ),
    ClientSpec("Logistyka Wisła sp. z o.o. sp.k.", LegalForm.LIMITED_PARTNERSHIP, State.FILED),
    ClientSpec("Polskie Młyny S.A.", LegalForm.JOINT_STOCK_COMPANY, State.NOT_REQUIRED, True),
    ClientSpec(
        "Inwestycje Bałtyk S.K.A.", LegalForm.LIMITED_JOINT_STOCK_PARTNERSHIP, State.TO_FILE
    ),
    ClientSpec("Aplikacje Chmurowe P.S.A.", LegalForm.SIMPLE_JOINT_STOCK_COMPANY, State.CONFIRMED),
    ClientSpec("Spółdzielnia Mleczarska Łąka", LegalForm.COOPERATIVE, State.FILED),
    ClientSpec("Fundacja Zielone Miasto", LegalForm.FOUNDATION, State.CONFIRMED),
    ClientSpec("Stowarzyszenie Biegaczy Kabaty", LegalForm.ASSOCIATION, State.TO_FILE),
    ClientSpec(
        "Tech-Serwis sp. z o.o.", LegalForm.LIMITED_LIABILITY_COMPANY, State.NOT_REQUIRED, True
    ),
    ClientSpec(
        "Ogrody Warszawskie sp. z o.o.", LegalForm.LIMITED_LIABILITY_COMPANY, State.CONFIRMED
    ),
    ClientSpec("Apteka Pod Orłem sp.j.", LegalForm.GENERAL_PARTNERSHIP, State.TO_FILE),
    ClientSpec("Wspólnota Mieszkaniowa Solec 12", LegalForm.OTHER, State.FILED),
)

PERSONS = (
    ("Barbara", "Mazur", demo_pesel(1970, 1, 17, 5821)),
    ("Krzysztof", "Krawczyk", demo_pesel(1965, 9, 30, 6931)),
    ("Magdalena", "Grabowska", demo_pesel(1984, 4, 5, 7042)),
)
TAX_OFFICES = ("Pierwszy Urząd Skarbowy Warszawa-Śródmieście", "Urząd Skarbowy Warszawa-Mokotów")


class Command(BaseCommand):
    help = (
        "Create the demo office, its staff (one per role) and about 20 clients, and their "
        "side in the KSeF simulator; idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-simulator",
            action="store_true",
            help="only the portal's data: no credentials, grants or invoices in the simulator",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            office, office_created = Office.objects.get_or_create(
                nip=demo_nip(0), defaults={"name": OFFICE_NAME}
            )
            staff = {spec.username: self._member(office, spec) for spec in STAFF}
            accountants = [staff["ksiegowa"], staff["ksiegowy"]]
            admin = staff["admin"]
            created = [
                self._client(office, admin, spec, seed, accountants[seed % 2])
                for seed, spec in enumerate(CLIENTS, start=1)
            ]
            created_count = sum(created)
            if office_created or created_count:
                audit_record(
                    office=office,
                    actor=None,
                    actor_label="seed_demo",
                    action="demo.seeded",
                    obj=office,
                    details={"clients_created": created_count},
                )
        report = None
        syncs = 0
        if not options["no_simulator"]:
            report = self._simulator(office, admin)
            syncs = self._sync_start(office)
        self._print_summary(office, created_count, report)
        if syncs:
            self.stdout.write(
                f"Queued the first invoice sync of {syncs} clients; the Celery worker fetches "
                "their invoices from the simulator."
            )

    def _simulator(self, office: Office, admin: Membership) -> demo_simulator.Report:
        # One INFO line per HTTP request would bury the summary the demo user needs.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        try:
            return demo_simulator.seed_simulator(
                office=office, admin=admin.user, persons=self._persons(office)
            )
        except demo_simulator.SimulatorUnavailable as exc:
            raise CommandError(
                f"Symulator KSeF nie odpowiada ({exc}). Uruchom go: .venv/bin/python -m "
                "ksef_simulator --port 8765 --profile fast — albo dodaj --no-simulator."
            ) from None

    def _sync_start(self, office: Office) -> int:
        """Queue the first sync of every demo client that can sync and never did.

        The invoices just sent to the simulator then arrive as soon as the worker that
        `make demo` starts next is up, instead of at beat's first sweep minutes later.
        Clients that already have cursors are left to beat, so a re-run queues nothing."""
        fresh = list(syncable_clients(office).filter(sync_cursors__isnull=True).distinct())
        for client in fresh:
            sync_request(actor=None, client=client)
        return len(fresh)

    def _persons(self, office: Office) -> dict[str, str]:
        """Whom the simulator should know: JDG owners, ZAW-FA persons, the office's admin."""
        persons = {office.nip: next(s.pesel for s in STAFF if s.role == Role.ADMIN)}
        for seed, spec in enumerate(CLIENTS, start=1):
            nip = demo_nip(seed)
            if spec.legal_form == LegalForm.SOLE_PROPRIETORSHIP:
                persons[nip] = jdg_owner_pesel(seed)
        confirmed = Prerequisite.objects.filter(
            client__office=office, state=State.CONFIRMED
        ).exclude(person_identifier="")
        for prerequisite in confirmed.select_related("client"):
            persons[prerequisite.client.nip] = prerequisite.person_identifier
        return persons

    def _member(self, office: Office, spec: StaffSpec) -> Membership:
        user = get_user_model().objects.filter(username=spec.username).first()
        if user is not None:
            membership: Membership | None = getattr(user, "membership", None)
            if membership is None or membership.office_id != office.pk:
                raise SystemExit(
                    f"User {spec.username!r} exists outside {OFFICE_NAME}; "
                    "seed_demo will not take it over. Use a fresh database."
                )
            return membership
        membership = portal_services.staff_create(
            office=office,
            actor=None,
            username=spec.username,
            first_name=spec.first_name,
            last_name=spec.last_name,
            email=f"{spec.username}@biuro-demo.example",
            role=spec.role,
            pesel=spec.pesel,
            password=DEMO_PASSWORD,
        )
        if spec.role == Role.ADMIN:
            # The demo admin may also open Django's admin at /admin/ to inspect every model.
            get_user_model().objects.filter(pk=membership.user_id).update(
                is_staff=True, is_superuser=True
            )
        return membership

    def _client(
        self, office: Office, admin: Membership, spec: ClientSpec, seed: int, accountant: Membership
    ) -> bool:
        nip = demo_nip(seed)
        if Client.objects.filter(office=office, nip=nip).exists():
            return False
        slug = nip[-4:]
        client = client_services.client_create(
            office=office,
            actor=admin.user,
            nip=nip,
            name=spec.name,
            legal_form=spec.legal_form,
            has_qualified_seal=spec.has_qualified_seal,
            contact_emails=[f"ksiegowosc-{slug}@klient-demo.example"],
            assigned_accountants=[accountant],
        )
        # Some companies still to file have already named their person, some have not.
        names_person = spec.target in (State.FILED, State.CONFIRMED) or (
            spec.target == State.TO_FILE and seed % 2 == 0
        )
        if names_person:
            first_name, last_name, pesel = PERSONS[seed % len(PERSONS)]
            client_services.prerequisite_person_set(
                client=client,
                actor=accountant.user,
                first_name=first_name,
                last_name=last_name,
                identifier_type=Prerequisite.IdentifierType.PESEL,
                identifier=pesel,
            )
        if spec.legal_form == LegalForm.SOLE_PROPRIETORSHIP:
            # The owner, named in the firm's name, so a PESEL certificate of theirs is accepted.
            first_name, last_name = spec.name.split()[:2]
            client_services.prerequisite_person_set(
                client=client,
                actor=accountant.user,
                first_name=first_name,
                last_name=last_name,
                identifier_type=Prerequisite.IdentifierType.PESEL,
                identifier=jdg_owner_pesel(seed),
            )
        if spec.target in (State.FILED, State.CONFIRMED):
            filed_on = timezone.localdate() - datetime.timedelta(days=10 + seed)
            client_services.prerequisite_file(
                client=client,
                actor=accountant.user,
                filed_on=filed_on,
                tax_office=TAX_OFFICES[seed % len(TAX_OFFICES)],
            )
            if spec.target == State.CONFIRMED:
                client_services.prerequisite_confirm(
                    client=client,
                    actor=accountant.user,
                    confirmed_on=filed_on + datetime.timedelta(days=7),
                )
        return True

    def _print_summary(
        self, office: Office, created_count: int, report: demo_simulator.Report | None
    ) -> None:
        write = self.stdout.write
        write(
            self.style.SUCCESS(
                f"{office.name}: {created_count} new clients, {office.clients.count()} in total."
            )
        )
        if report is not None:
            write(
                f"KSeF simulator ({settings.KSEF_BASE_URL}): {report.certificates} new "
                f"certificates, {report.tokens} new KSeF tokens, {report.entity_grants} new "
                f"entity grants to the office, {report.invoices} new invoices; "
                f"{report.office_model} clients on the office model."
            )
        write("")
        demo_url = settings.PORTAL_BASE_URL.rstrip("/")  # scripts/demo.sh sets PORTAL_PORT's
        write(f"Open {demo_url} and log in as:")
        for spec in STAFF:
            person = f"{Membership.Role(spec.role).label}: {spec.first_name} {spec.last_name}"
            write(f"  {spec.username:<10} / {DEMO_PASSWORD}   ({person})")
        write(f"Django admin: {demo_url}/admin/ (login: admin)")
