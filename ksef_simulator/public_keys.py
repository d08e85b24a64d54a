"""GET /security/public-key-certificates — the simulator's "Ministry" encryption keys."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ksef_simulator.errors import utc_timestamp
from ksef_simulator.keys import b64
from ksef_simulator.state import current_state

bp = Blueprint("public_keys", __name__)


@bp.get("/security/public-key-certificates")
def public_key_certificates() -> Response:
    items = []
    for usage, key in current_state().keys.ministry.items():
        cert = key.certificate
        items.append(
            {
                "certificate": b64(key.certificate_der),
                "certificateId": key.certificate_id,
                "publicKeyId": key.public_key_id,
                "validFrom": utc_timestamp(cert.not_valid_before_utc),
                "validTo": utc_timestamp(cert.not_valid_after_utc),
                "usage": [usage],
            }
        )
    return jsonify(items)
