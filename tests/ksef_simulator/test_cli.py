"""`python -m ksef_simulator` serves the API over real HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_server_answers_a_challenge_over_http_and_stops(tmp_path: Path) -> None:
    port = _free_port()
    state_file = tmp_path / "state.pickle"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ksef_simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--state",
            str(state_file),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/v2/auth/challenge", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["clientIp"] == "127.0.0.1"
        assert len(response.json()["challenge"]) == 36
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
    assert state_file.stat().st_size > 0
