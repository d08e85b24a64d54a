"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def ksef_shared_dir() -> Path:
    """Where the official KSeF contract, schemas and samples live (KSEF_SHARED_DIR)."""
    return Path(os.environ.get("KSEF_SHARED_DIR", REPO_ROOT.parent / "shared" / "ksef"))


@pytest.fixture(scope="session")
def ksef_shared() -> Path:
    path = ksef_shared_dir()
    assert (path / "openapi" / "open-api.json").is_file(), f"KSeF material not found in {path}"
    return path
