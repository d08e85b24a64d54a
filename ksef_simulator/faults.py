"""Fault injection: server errors, 429 storms, latency, dropped connections, stuck or
expiring exports, corrupted export parts, and a whole-system outage.

Set at start (SimulatorConfig.faults / --fault NAME=VALUE) or at run time through the
control endpoint `POST /_sim/faults` (outside /v2, so no client calls it by accident).

Server errors, latency and dropped connections hit the /v2 API and the pre-signed storage
links (export parts, UPO) alike; `path_prefix` is matched against the path below /v2, or
the whole path for storage (`/storage/exports` = only part downloads). 429 storms spare
storage, which KSeF does not rate-limit. With `seed` set, the sequence of faults is the
same on every run for the same sequence of requests.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class Faults:
    # Probability (0..1) that a /v2 request fails with `error_status` (500 or 503).
    error_rate: float = 0.0
    error_status: int = 500
    # Probability (0..1) that a /v2 request gets 429 regardless of its rate-limit bucket.
    rate_limit_storm: float = 0.0
    storm_retry_after: int = 5
    # Added latency before every /v2 request is handled.
    latency_ms: int = 0
    # Probability (0..1) that the connection is closed without any response.
    drop_rate: float = 0.0
    # Exports stay in status 100 forever (read by exports.py).
    exports_stuck: bool = False
    # Probability (0..1) that a downloaded export part has bytes flipped (its hashes fail).
    corrupt_part_rate: float = 0.0
    # N > 0: the N-th status call of every finished export answers 210 (package expired)
    # and so does every later one; its part links stop working. 0 = off.
    export_expire_on_status_call: int = 0
    # KSeF is down: every /v2 request and storage link answers 503 with Retry-After
    # (`outage_retry_after` seconds) until switched off; `path_prefix` does not narrow it.
    outage: bool = False
    outage_retry_after: int = 60
    # Only requests whose path (below /v2) starts with this prefix are affected; "" = all.
    path_prefix: str = ""
    # Seed for reproducible fault sequences (None = random).
    seed: int | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - not security relevant

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
            setattr(self, name, _coerce(name, value, getattr(self, name)))
        self._validate()
        if "seed" in values:
            self._random = random.Random(self.seed)  # noqa: S311

    def reset(self) -> None:
        self.update(asdict(Faults()))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def applies_to(self, path_below_v2: str) -> bool:
        return path_below_v2.startswith(self.path_prefix)

    def roll(self, probability: float) -> bool:
        return probability > 0 and self._random.random() < probability

    def corrupt(self, data: bytes) -> bytes:
        """DATA with a few bytes flipped at positions drawn from the seeded stream."""
        if not data:
            return data
        damaged = bytearray(data)
        for _ in range(3):
            damaged[self._random.randrange(len(damaged))] ^= 0xFF
        return bytes(damaged)

    def _validate(self) -> None:
        for name in ("error_rate", "rate_limit_storm", "drop_rate", "corrupt_part_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.error_status not in (500, 502, 503, 504):
            raise ValueError("error_status must be 500, 502, 503 or 504")
        if self.outage_retry_after < 1:
            raise ValueError("outage_retry_after must be >= 1")
        if self.latency_ms < 0 or self.storm_retry_after < 1:
            raise ValueError("latency_ms must be >= 0 and storm_retry_after >= 1")
        if self.export_expire_on_status_call < 0:
            raise ValueError("export_expire_on_status_call must be >= 0")

    def __getstate__(self) -> dict[str, Any]:
        return asdict(self)

    def __setstate__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)
        self.__post_init__()


def _coerce(name: str, value: Any, current: Any) -> Any:
    if name == "seed":
        return None if value in (None, "") else int(value)
    if isinstance(current, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(current, int):
        return int(value)
    if isinstance(current, float):
        return float(value)
    return str(value)
