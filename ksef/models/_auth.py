"""Responses of the authentication endpoints (``/auth``, digest §2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ksef.models._common import StatusInfo, TokenInfo, _dt, _list, _req_dt, _str


@dataclass(frozen=True, slots=True)
class AuthenticationChallenge:
    challenge: str
    timestamp: datetime
    timestamp_ms: int
    client_ip: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationChallenge:
        return cls(
            challenge=str(data["challenge"]),
            timestamp=_req_dt(data, "timestamp"),
            timestamp_ms=int(data["timestampMs"]),
            client_ip=str(data.get("clientIp") or ""),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationInit:
    """``202`` of ``/auth/xades-signature`` and ``/auth/ksef-token``."""

    reference_number: str
    authentication_token: TokenInfo

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationInit:
        return cls(
            reference_number=str(data["referenceNumber"]),
            authentication_token=TokenInfo.from_json(data["authenticationToken"]),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationMethodInfo:
    category: str
    code: str
    display_name: str

    @classmethod
    def from_json(cls, data: Any) -> AuthenticationMethodInfo | None:
        if not isinstance(data, dict):
            return None
        return cls(
            category=str(data.get("category") or ""),
            code=str(data.get("code") or ""),
            display_name=str(data.get("displayName") or ""),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationStatus:
    """``GET /auth/{ref}``: ``status.code`` 100 in progress, 200 done, 4xx/5xx failed."""

    start_date: datetime
    status: StatusInfo
    method_info: AuthenticationMethodInfo | None
    is_token_redeemed: bool | None
    last_token_refresh_date: datetime | None
    refresh_token_valid_until: datetime | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationStatus:
        return cls(
            start_date=_req_dt(data, "startDate"),
            status=StatusInfo.from_json(data["status"]),
            method_info=AuthenticationMethodInfo.from_json(data.get("authenticationMethodInfo")),
            is_token_redeemed=data.get("isTokenRedeemed"),
            last_token_refresh_date=_dt(data.get("lastTokenRefreshDate")),
            refresh_token_valid_until=_dt(data.get("refreshTokenValidUntil")),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationTokens:
    """``POST /auth/token/redeem``: access + refresh token (redeemable once)."""

    access_token: TokenInfo
    refresh_token: TokenInfo

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationTokens:
        return cls(
            access_token=TokenInfo.from_json(data["accessToken"]),
            refresh_token=TokenInfo.from_json(data["refreshToken"]),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationSession:
    """One item of ``GET /auth/sessions``."""

    reference_number: str
    start_date: datetime
    status: StatusInfo
    method_info: AuthenticationMethodInfo | None
    is_current: bool
    is_token_redeemed: bool | None
    last_token_refresh_date: datetime | None
    refresh_token_valid_until: datetime | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationSession:
        return cls(
            reference_number=str(data["referenceNumber"]),
            start_date=_req_dt(data, "startDate"),
            status=StatusInfo.from_json(data["status"]),
            method_info=AuthenticationMethodInfo.from_json(data.get("authenticationMethodInfo")),
            is_current=bool(data.get("isCurrent")),
            is_token_redeemed=data.get("isTokenRedeemed"),
            last_token_refresh_date=_dt(data.get("lastTokenRefreshDate")),
            refresh_token_valid_until=_dt(data.get("refreshTokenValidUntil")),
        )


@dataclass(frozen=True, slots=True)
class AuthenticationSessionPage:
    items: tuple[AuthenticationSession, ...]
    continuation_token: str | None = field(repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthenticationSessionPage:
        return cls(
            items=tuple(AuthenticationSession.from_json(i) for i in _list(data.get("items"))),
            continuation_token=_str(data.get("continuationToken")),
        )
