"""Test-only control endpoints under /_sim (not part of KSeF, never under /v2).

Faults, an outage switch (`/_sim/outage`), clock (`advance`, `freeze`), rate limits,
snapshots, the KSeF numbers assigned per invoice hash (`/_sim/ksef-numbers`), and for the
sync engine's tests: bulk seeding (`POST /_sim/invoices/bulk`), ground truth
(`GET /_sim/invoices`) and expiring an export on demand (`POST /_sim/exports/<ref>/expire`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ksef_simulator import bulk, exports, verification
from ksef_simulator.errors import utc_timestamp
from ksef_simulator.invoices import invoices_of, reported_high_water_mark
from ksef_simulator.state import current_state

bp = Blueprint("sim_control", __name__, url_prefix="/_sim")


@bp.get("/faults")
def get_faults() -> Response:
    return jsonify(current_state().faults.as_json())


@bp.post("/faults")
def set_faults() -> Response | tuple[Response, int]:
    """Merge the JSON object into the active faults, e.g. {"error_rate": 0.2}."""
    values = request.get_json(silent=True)
    if not isinstance(values, dict):
        return jsonify({"error": "expected a JSON object"}), 400
    try:
        current_state().faults.update(values)
    except (ValueError, TypeError) as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(current_state().faults.as_json())


@bp.delete("/faults")
def reset_faults() -> Response:
    current_state().faults.reset()
    return jsonify(current_state().faults.as_json())


@bp.get("/outage")
def get_outage() -> Response:
    faults = current_state().faults
    return jsonify({"outage": faults.outage, "retryAfter": faults.outage_retry_after})


@bp.post("/outage")
def start_outage() -> Response | tuple[Response, int]:
    """KSeF goes down: every /v2 call and storage link answers 503 with Retry-After
    ({"retryAfter": seconds}, default 60) until DELETE /_sim/outage."""
    values: Any = request.get_json(silent=True) or {}
    try:
        retry_after = int(values.get("retryAfter", 60))
        current_state().faults.update({"outage": True, "outage_retry_after": retry_after})
    except (TypeError, ValueError) as exc:
        return jsonify({"error": str(exc)}), 400
    return get_outage()


@bp.delete("/outage")
def end_outage() -> Response:
    current_state().faults.update({"outage": False})
    return get_outage()


@bp.get("/ksef-numbers")
def assigned_ksef_numbers() -> Response:
    """KSeF numbers sessions assigned per invoice hash: {"byInvoiceHash": {hash: count}}
    (?hash=... for one; 0 when none) — "exactly one per invoice" for fault tests."""
    counts = verification.assigned_ksef_numbers(current_state())
    wanted = request.args.getlist("hash")
    if wanted:
        counts = {value: counts.get(value, 0) for value in wanted}
    return jsonify({"byInvoiceHash": counts})


@bp.get("/clock")
def get_clock() -> Response:
    state = current_state()
    return jsonify({"now": utc_timestamp(state.now()), "scale": state.clock.scale})


@bp.post("/clock/advance")
def advance_clock() -> Response | tuple[Response, int]:
    """Move simulated time forward: {"seconds": 3600}."""
    values: Any = request.get_json(silent=True) or {}
    try:
        seconds = float(values["seconds"])
    except (KeyError, TypeError, ValueError):
        return jsonify({"error": 'expected {"seconds": <number>}'}), 400
    state = current_state()
    state.clock.advance(seconds)
    return jsonify({"now": utc_timestamp(state.now()), "scale": state.clock.scale})


@bp.post("/rate-limits/reset")
def reset_rate_limits() -> Response:
    current_app.extensions["ksef_simulator.limiter"].reset()
    return jsonify({"reset": True})


@bp.post("/snapshot")
def snapshot() -> Response | tuple[Response, int]:
    """Write the --state file now (the server also writes it on change and at shutdown)."""
    path = current_app.extensions["ksef_simulator.config"].state_file
    if path is None:
        return jsonify({"error": "the simulator runs without --state"}), 409
    current_state().save(path)
    return jsonify({"written": str(path)})


@bp.post("/clock/freeze")
def freeze_clock() -> Response | tuple[Response, int]:
    """Stop simulated time ({"at": ISO 8601} or now); /clock/advance still moves it."""
    values: Any = request.get_json(silent=True) or {}
    try:
        at = _moment(values.get("at")) if values.get("at") else None
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    state = current_state()
    state.clock.freeze(at)
    return jsonify({"now": utc_timestamp(state.now()), "scale": state.clock.scale})


@bp.post("/invoices/bulk")
def bulk_seed_invoices() -> Response | tuple[Response, int]:
    """Store many invoices between two NIPs (see bulk.bulk_seed):
    {"sellerNip", "buyerNip", "count", "storedFrom", "storedTo", "fa2Share"?,
    "faRrShare"?, "issuedDaysBefore"?, "seed"?, "numberPrefix"?}."""
    values: Any = request.get_json(silent=True)
    if not isinstance(values, dict):
        return jsonify({"error": "expected a JSON object"}), 400
    try:
        result = bulk.bulk_seed(
            current_state(),
            seller_nip=str(values["sellerNip"]),
            buyer_nip=str(values["buyerNip"]),
            count=int(values["count"]),
            stored_from=_moment(values["storedFrom"]),
            stored_to=_moment(values["storedTo"]),
            fa2_share=float(values.get("fa2Share", 0.05)),
            fa_rr_share=float(values.get("faRrShare", 0.05)),
            issued_days_before=int(values.get("issuedDaysBefore", 0)),
            seed=int(values.get("seed", 0)),
            number_prefix=str(values.get("numberPrefix", "BULK")),
        )
    except KeyError as exc:
        return jsonify({"error": f"missing {exc.args[0]}"}), 400
    except (TypeError, ValueError) as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(
        {
            "count": len(result.ksef_numbers),
            "forms": result.forms,
            "firstPermanentStorageDate": _stamp(result.first_storage),
            "lastPermanentStorageDate": _stamp(result.last_storage),
        }
    )


@bp.get("/invoices")
def list_ground_truth() -> Response | tuple[Response, int]:
    """Every invoice NIP sees as subjectType, in permanent storage at `until` (default now):
    ?nip=5265877635&subjectType=Subject2[&until=ISO 8601]."""
    try:
        until = _moment(request.args["until"]) if request.args.get("until") else None
        truth = bulk.ground_truth(
            current_state(), request.args["nip"], request.args["subjectType"], until=until
        )
    except KeyError as exc:
        return jsonify({"error": f"missing query parameter {exc.args[0]}"}), 400
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    store = invoices_of(current_state())
    return jsonify(
        {
            "count": len(truth),
            "reportedHwm": _stamp(reported_high_water_mark(current_state())),
            "invoices": [
                {
                    "ksefNumber": number,
                    "invoiceHash": invoice_hash,
                    "permanentStorageDate": _stamp(store[number].permanent_storage_date),
                }
                for number, invoice_hash in truth.items()
            ],
        }
    )


@bp.post("/exports/<reference>/expire")
def expire_export(reference: str) -> Response | tuple[Response, int]:
    """The export's package expires now: status 210, part links refused."""
    try:
        exports.expire_export(current_state(), reference)
    except KeyError:
        return jsonify({"error": f"no export {reference}"}), 404
    return jsonify({"expired": reference})


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment


def _stamp(moment: datetime | None) -> str | None:
    return utc_timestamp(moment) if moment is not None else None
