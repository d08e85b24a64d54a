"""KSeF environments: API base URL and QR verification host (digest §1).

``TEST``, ``DEMO`` and ``PRODUCTION`` are the Ministry's hosts; :meth:`Environment.custom`
makes one for any other base URL, such as the local simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["DEMO", "ENVIRONMENTS", "PRODUCTION", "TEST", "Environment"]


def _check_https_like_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what} must be an absolute http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must not carry a query or fragment, got {value!r}")
    return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class Environment:
    """Where a KSeF API lives.

    ``api_base_url`` has no trailing slash and includes the version path (``.../v2``);
    every API path is relative to it. ``qr_base_url`` is the scheme and host used in
    KOD I / KOD II links (``https://qr-test.ksef.mf.gov.pl``).
    """

    name: str
    api_base_url: str
    qr_base_url: str
    is_production: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "api_base_url", _check_https_like_url(self.api_base_url, "api_base_url")
        )
        object.__setattr__(
            self, "qr_base_url", _check_https_like_url(self.qr_base_url, "qr_base_url")
        )

    @property
    def qr_host(self) -> str:
        """The QR host without the scheme — the start of the string signed in KOD II."""
        return urlsplit(self.qr_base_url).netloc

    @classmethod
    def custom(cls, api_base_url: str, qr_base_url: str, *, name: str = "custom") -> Environment:
        """An environment at any base URL (e.g. ``http://127.0.0.1:8765/v2``).

        ``qr_base_url`` is required because a QR link must name a host that verifies it;
        a simulator usually passes its own URL, or a Ministry QR host to build links that
        look like the real ones.
        """
        return cls(name=name, api_base_url=api_base_url, qr_base_url=qr_base_url)

    @classmethod
    def by_name(cls, name: str) -> Environment:
        """``"test"``, ``"demo"`` or ``"production"`` (``"prd"`` accepted), case-insensitive."""
        key = name.strip().lower()
        key = {"prd": "production", "prod": "production"}.get(key, key)
        try:
            return ENVIRONMENTS[key]
        except KeyError:
            known = ", ".join(sorted(ENVIRONMENTS))
            raise ValueError(f"unknown KSeF environment {name!r}; known: {known}") from None


TEST = Environment(
    name="test",
    api_base_url="https://api-test.ksef.mf.gov.pl/v2",
    qr_base_url="https://qr-test.ksef.mf.gov.pl",
)
DEMO = Environment(
    name="demo",
    api_base_url="https://api-demo.ksef.mf.gov.pl/v2",
    qr_base_url="https://qr-demo.ksef.mf.gov.pl",
)
PRODUCTION = Environment(
    name="production",
    api_base_url="https://api.ksef.mf.gov.pl/v2",
    qr_base_url="https://qr.ksef.mf.gov.pl",
    is_production=True,
)

ENVIRONMENTS: dict[str, Environment] = {e.name: e for e in (TEST, DEMO, PRODUCTION)}
