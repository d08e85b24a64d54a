"""Test-only control endpoints under /_sim (not part of KSeF, never under /v2)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ksef_simulator.errors import utc_timestamp
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
