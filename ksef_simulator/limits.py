"""Limits: GET /rate-limits, /limits/context, /limits/subject and their TEST setters."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from ksef_simulator import ratelimit
from ksef_simulator.contract import body, validated_body
from ksef_simulator.security import access_context, require_access
from ksef_simulator.state import State, current_state

bp = Blueprint("limits", __name__)

# Defaults from the limits page: 1 MB / 3 MB with attachments, 10,000 invoices per session.
DEFAULT_SESSION_LIMITS = {
    "onlineSession": {
        "maxInvoiceSizeInMB": 1,
        "maxInvoiceWithAttachmentSizeInMB": 3,
        "maxInvoices": 10000,
    },
    "batchSession": {
        "maxInvoiceSizeInMB": 1,
        "maxInvoiceWithAttachmentSizeInMB": 3,
        "maxInvoices": 10000,
    },
}
# Per authenticated subject: NIP 300 requests / 100 certificates; PESEL, fingerprint 12 / 6.
DEFAULT_SUBJECT_LIMITS = {
    "Nip": {"maxEnrollments": 300, "maxCertificates": 100},
    "Pesel": {"maxEnrollments": 12, "maxCertificates": 6},
    "Fingerprint": {"maxEnrollments": 12, "maxCertificates": 6},
}


def context_session_limits(state: State, context_key: tuple[str, str]) -> dict[str, Any]:
    """{"onlineSession": {...}, "batchSession": {...}} in force for a context (sizes in SI MB)."""
    return state.context_limits.get(context_key) or DEFAULT_SESSION_LIMITS


def subject_limits(state: State, subject_key: tuple[str, str]) -> dict[str, int]:
    limits = dict(DEFAULT_SUBJECT_LIMITS.get(subject_key[0], DEFAULT_SUBJECT_LIMITS["Pesel"]))
    limits.update(
        {k: v for k, v in state.subject_limits.get(subject_key, {}).items() if v is not None}
    )
    return limits


@bp.get("/rate-limits")
@require_access()
def get_rate_limits() -> Response:
    from ksef_simulator.app import effective_rate_limits

    return jsonify(effective_rate_limits(current_state(), access_context().context.key))


@bp.get("/limits/context")
@require_access()
def get_context_limits() -> Response:
    return jsonify(context_session_limits(current_state(), access_context().context.key))


@bp.get("/limits/subject")
@require_access()
def get_subject_limits() -> Response:
    limits = subject_limits(current_state(), access_context().subject.key)
    return jsonify(
        {
            "enrollment": {"maxEnrollments": limits["maxEnrollments"]},
            "certificate": {"maxCertificates": limits["maxCertificates"]},
        }
    )


@bp.post("/testdata/limits/context/session")
@require_access()
@validated_body()
def set_context_limits() -> Response:
    data = body()
    current_state().context_limits[access_context().context.key] = {
        "onlineSession": dict(data["onlineSession"]),
        "batchSession": dict(data["batchSession"]),
    }
    return Response(status=200)


@bp.delete("/testdata/limits/context/session")
@require_access()
def reset_context_limits() -> Response:
    current_state().context_limits.pop(access_context().context.key, None)
    return Response(status=200)


@bp.post("/testdata/limits/subject/certificate")
@require_access()
@validated_body()
def set_subject_limits() -> Response:
    data = body()
    values: dict[str, Any] = {}
    if data.get("enrollment"):
        values["maxEnrollments"] = data["enrollment"].get("maxEnrollments")
    if data.get("certificate"):
        values["maxCertificates"] = data["certificate"].get("maxCertificates")
    current_state().subject_limits[access_context().subject.key] = values
    return Response(status=200)


@bp.delete("/testdata/limits/subject/certificate")
@require_access()
def reset_subject_limits() -> Response:
    current_state().subject_limits.pop(access_context().subject.key, None)
    return Response(status=200)


@bp.post("/testdata/rate-limits")
@require_access()
@validated_body()
def set_rate_limits() -> Response:
    limits = body()["rateLimits"]
    current_state().rate_limit_overrides[access_context().context.key] = {
        group: {k: int(limits[group][k]) for k in ("perSecond", "perMinute", "perHour")}
        for group in ratelimit.GROUP_NAMES
    }
    return Response(status=200)


@bp.delete("/testdata/rate-limits")
@require_access()
def reset_rate_limits() -> Response:
    current_state().rate_limit_overrides.pop(access_context().context.key, None)
    return Response(status=200)


@bp.post("/testdata/rate-limits/production")
@require_access()
def production_rate_limits() -> Response:
    current_state().rate_limit_overrides[access_context().context.key] = ratelimit.profile_values(
        "production"
    )
    return Response(status=200)
