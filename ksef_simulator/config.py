"""Start-up configuration of the simulator (CLI flags and test fixtures build one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Profile = Literal["production", "fast"]


@dataclass
class SimulatorConfig:
    # Rate-limit profile: "production" = the contract's limits, "fast" = limits so high
    # that tests never meet them unless they ask for it.
    profile: Profile = "fast"
    # Snapshot file (pickle) of the whole state; None = memory only.
    state_file: Path | None = None
    # Simulated seconds per real second (60 = one real second is a simulated minute).
    time_scale: float = 1.0
    # Delays of the asynchronous operations (simulated seconds) before they leave status 100.
    auth_processing_seconds: float = 0.0
    permission_processing_seconds: float = 0.0
    enrollment_processing_seconds: float = 0.0
    token_activation_seconds: float = 0.0
    # Invoice-side delays (read by sessions.py / invoices.py / exports.py).
    permanent_storage_seconds: float = 0.0
    session_upo_seconds: float = 0.0
    # From closing a batch session to its package being processed (status 150 until then).
    batch_processing_seconds: float = 0.0
    export_processing_seconds: float = 0.0
    # KSeF's technical caps, shrinkable so tests meet them with a handful of invoices:
    # rows per metadata filter set (isTruncated), invoices per export package
    # (isTruncated + lastPermanentStorageDate) and plain bytes per export part.
    metadata_row_cap: int = 10_000
    export_package_invoice_limit: int = 10_000
    export_part_bytes: int = 50_000_000
    # Token lifetimes. The docs say "a dozen-or-so minutes" for access and 7 days for refresh.
    authentication_token_minutes: float = 15.0
    access_token_minutes: float = 15.0
    refresh_token_days: float = 7.0
    challenge_minutes: float = 10.0
    # Secret for the HS256 JWTs; random per process when None.
    jwt_secret: bytes | None = None
    # Faults active from the start, e.g. {"error_rate": 0.1, "latency_ms": 200}.
    faults: dict[str, object] = field(default_factory=dict)
    # Seed specification handed to the invoice seeding module (owned by invoices/seeding).
    seed: str | None = None
    # Environment name used in UPO and descriptive texts.
    environment: str = "TE"
