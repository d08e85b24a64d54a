"""The Flask application: blueprints under /v2, hooks for faults, rate limits and errors."""

from __future__ import annotations

import contextlib
import importlib
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, current_app, request

from ksef_simulator import ratelimit
from ksef_simulator.config import SimulatorConfig
from ksef_simulator.contract import CONTRACT_PATH, contract_for, contract_template
from ksef_simulator.errors import KsefError, ServerError, TooManyRequests
from ksef_simulator.security import peek_access_context
from ksef_simulator.state import State, current_state, new_state

# Core blueprints (auth, tokens, certificates, permissions, testdata, limits). Each module
# exposes `bp`, a flask.Blueprint registered under /v2.
CORE_BLUEPRINTS = [
    "ksef_simulator.public_keys",
    "ksef_simulator.limits",
    "ksef_simulator.testdata",
    "ksef_simulator.auth",
    "ksef_simulator.tokens",
    "ksef_simulator.certificates",
    "ksef_simulator.permissions",
]

# ===== INVOICE BLUEPRINTS — the invoice-side modules, registered after the core ones =====
# Each module exposes `bp` (registered under /v2) and may define
# `init_app(app: Flask, state: State) -> None`, called once after registration (seeding,
# background workers). Order matters only for overlapping URL rules (avoid them).
INVOICE_BLUEPRINTS: list[str] = [
    "ksef_simulator.invoices",
    "ksef_simulator.sessions",
    "ksef_simulator.session_upo",
    "ksef_simulator.batch",
    "ksef_simulator.exports",
]
# =========================================================================================


class SimulatorFlask(Flask):
    def dispatch_request(self) -> Any:
        # One lock for the whole state: every view body runs serialised. Requests are
        # short, and a faithful simulator matters more here than throughput.
        with current_state().lock:
            return super().dispatch_request()


def create_app(config: SimulatorConfig | None = None, state: State | None = None) -> Flask:
    config = config or SimulatorConfig()
    if state is None:
        if config.state_file is not None and config.state_file.exists():
            state = State.load(config.state_file, config)
        else:
            state = new_state(config)
    app = SimulatorFlask("ksef_simulator")
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["ksef_simulator"] = state
    app.extensions["ksef_simulator.config"] = config
    app.extensions["ksef_simulator.contract_path"] = CONTRACT_PATH
    app.extensions["ksef_simulator.contract"] = contract_for(CONTRACT_PATH)
    app.extensions["ksef_simulator.jwt_secret"] = config.jwt_secret or secrets.token_bytes(32)
    app.extensions["ksef_simulator.limiter"] = ratelimit.RateLimiter()

    app.register_error_handler(KsefError, _render_error)
    app.before_request(_inject_faults)
    app.before_request(_apply_rate_limits)
    app.after_request(_count_changes)

    from ksef_simulator import control

    app.register_blueprint(control.bp)
    _register(app, state, CORE_BLUEPRINTS)
    _register(app, state, INVOICE_BLUEPRINTS)
    app.wsgi_app = DropConnectionMiddleware(app.wsgi_app, app)  # type: ignore[method-assign]
    return app


def install_state(app: Flask, state: State) -> None:
    """Swap in another State (tests reuse one app per config: building one costs ~0.2 s).

    Only for apps whose modules keep everything in the State (no seeding at start).
    """
    app.extensions["ksef_simulator"] = state
    app.extensions["ksef_simulator.config"] = state.config
    app.extensions["ksef_simulator.limiter"].reset()


def _register(app: Flask, state: State, modules: Iterable[str]) -> None:
    for name in modules:
        module = importlib.import_module(name)
        app.register_blueprint(module.bp, url_prefix="/v2")
        init_app: Callable[[Flask, State], None] | None = getattr(module, "init_app", None)
        if init_app is not None:
            init_app(app, state)


def _render_error(error: KsefError) -> Response:
    return error.render()


def _below_v2() -> str | None:
    path = request.path
    if path == "/v2" or path.startswith("/v2/"):
        return path[3:]
    return None


def fault_path(path: str) -> str | None:
    """The path faults match `path_prefix` against: below /v2 for the API, the whole path
    for pre-signed storage links; None for everything else (control endpoints)."""
    if path == "/v2" or path.startswith("/v2/"):
        return path[3:]
    if path.startswith(STORAGE_PREFIX):
        return path
    return None


STORAGE_PREFIX = "/storage/"


def _inject_faults() -> Response | None:
    path = fault_path(request.path)
    if path is None:
        return None
    faults = current_state().faults
    if faults.outage:
        return outage_response(faults.outage_retry_after)
    if not faults.applies_to(path):
        return None
    if faults.roll(faults.error_rate):
        if path.startswith(STORAGE_PREFIX):
            return _storage_error(faults.error_status)
        raise ServerError(faults.error_status)
    if path.startswith(STORAGE_PREFIX):
        return None  # storage links are not rate-limited, not even by a storm
    if faults.roll(faults.rate_limit_storm):
        raise TooManyRequests(
            faults.storm_retry_after,
            f"Przekroczono limit żądań. Spróbuj ponownie po {faults.storm_retry_after} sekundach.",
        )
    return None


def outage_response(retry_after: int) -> Response:
    """KSeF during an outage. The contract declares no 5xx answer and no official body
    exists; what integrators report from real outages (CIRFMF/ksef-api issue #852) is the
    front proxy's HTML page with 503, which is what comes back here, with Retry-After so a
    client knows when to look again."""
    page = (
        "<html>\n  <head>\n    <title>503 Service Unavailable</title>\n  </head>\n  <body>\n"
        "    <center>\n      <h1>503 Service Unavailable</h1>\n    </center>\n  </body>\n"
        "  <hr />\n  <center>API</center>\n</html>\n"
    )
    response = Response(page, status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(retry_after)
    return response


def _storage_error(status: int) -> Response:
    """What Azure Blob Storage answers when it is unwell."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
        "<Message>The server is currently unable to receive requests.</Message></Error>"
    )
    return Response(body, status=status, mimetype="application/xml")


def _apply_rate_limits() -> None:
    if _below_v2() is None or request.url_rule is None:
        return
    template = contract_template(request.url_rule.rule)
    if template is None:
        return
    state = current_state()
    group = ratelimit.group_for(request.method, template)
    client_ip = request.remote_addr or "unknown"
    now = state.clock.timestamp()
    limiter: ratelimit.RateLimiter = current_app.extensions["ksef_simulator.limiter"]
    if group == "public":
        public = ratelimit.public_limits(state.config.profile)
        ratelimit.check(limiter, ("public", client_ip), public, now)
        return
    access = peek_access_context()
    context_key = access.context.key if access else None
    limits = effective_rate_limits(state, context_key)[group]
    # Group "other" counts each endpoint separately (digest §8).
    endpoint = (request.method, template) if group == "other" else None
    ratelimit.check(limiter, (group, endpoint, context_key, client_ip), limits, now)


def effective_rate_limits(
    state: State, context_key: tuple[str, str] | None
) -> dict[str, dict[str, int]]:
    if context_key is not None and context_key in state.rate_limit_overrides:
        return state.rate_limit_overrides[context_key]
    return ratelimit.profile_values(state.config.profile)


def _count_changes(response: Response) -> Response:
    if request.method in ("POST", "PUT", "DELETE", "PATCH") and response.status_code < 500:
        current_state().touch()
    return response


class DropConnectionMiddleware:
    """Latency and dropped connections happen before Flask sees the request.

    Over a real socket (Werkzeug's server) the connection is shut down without a response;
    in-process (httpx.WSGITransport) `ConnectionAbortedError` propagates to the caller —
    the test fixtures turn it into httpx.RemoteProtocolError, as a real socket would.
    """

    def __init__(self, wsgi_app: Callable[..., Any], flask_app: Flask) -> None:
        self.app = wsgi_app
        self.flask_app = flask_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = fault_path(environ.get("PATH_INFO", ""))
        if path is not None:
            faults = self.flask_app.extensions["ksef_simulator"].faults
            if faults.applies_to(path):
                if faults.latency_ms:
                    time.sleep(faults.latency_ms / 1000)
                if faults.roll(faults.drop_rate):
                    sock = environ.get("werkzeug.socket")
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)
                    raise ConnectionAbortedError("ksef_simulator fault: connection dropped")
        return self.app(environ, start_response)
