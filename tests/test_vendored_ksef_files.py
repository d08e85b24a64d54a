"""The official KSeF files in the repository are the Ministry's, byte for byte.

Three folders hold them: the XSDs (package data of ksef/), the OpenAPI contract (package
data of ksef_simulator/) and the samples and test vectors the tests read. Each pins its files
in SHA256SUMS; these tests fail when a file is edited, added without a checksum or left out
of the installed package.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

from tests.conftest import KSEF_DATA_DIR, REPO_ROOT

VENDORED = {
    "ksef/schemas": REPO_ROOT / "ksef" / "schemas",
    "ksef_simulator/openapi": REPO_ROOT / "ksef_simulator" / "openapi",
    "tests/data/ksef": KSEF_DATA_DIR,
}
# Ours, not the Ministry's: the record of where the files come from and the folder locator.
NOT_PINNED = {"SOURCES.md", "SHA256SUMS", "__init__.py"}


def _pinned(folder: Path) -> dict[str, str]:
    """relative path -> SHA-256, as `sha256sum` wrote them."""
    pinned = {}
    for line in (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        pinned[name] = digest
    return pinned


def _files(folder: Path) -> set[str]:
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.name not in NOT_PINNED and "__pycache__" not in path.parts
    }


@pytest.mark.parametrize("folder", VENDORED.values(), ids=VENDORED.keys())
def test_every_vendored_file_still_has_its_recorded_checksum(folder: Path) -> None:
    changed = [
        name
        for name, digest in _pinned(folder).items()
        if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest
    ]
    assert changed == [], f"edited official files (restore the Ministry's copy): {changed}"


@pytest.mark.parametrize("folder", VENDORED.values(), ids=VENDORED.keys())
def test_every_file_in_a_vendored_folder_is_pinned(folder: Path) -> None:
    assert _files(folder) == set(_pinned(folder))


@pytest.mark.parametrize("folder", VENDORED.values(), ids=VENDORED.keys())
def test_every_vendored_folder_carries_its_sources_and_the_ministrys_licence(
    folder: Path,
) -> None:
    sources = (folder / "SOURCES.md").read_text(encoding="utf-8")
    assert "d92d285b928896258afdb27f7150f9127ee18ada" in sources  # the ksef-docs commit
    licence = (folder / "LICENSE-ksef-docs.txt").read_text(encoding="utf-8")
    assert "LICENSE-ksef-docs.txt" in _pinned(folder)
    assert licence.startswith("MIT License\n\nCopyright (c) 2025 Ministerstwo Finansów")


@pytest.mark.parametrize(
    ("package", "folder"),
    [("ksef.schemas", "ksef/schemas"), ("ksef_simulator", "ksef_simulator/openapi")],
)
def test_the_installed_package_ships_every_vendored_file(package: str, folder: str) -> None:
    # setuptools copies only what [tool.setuptools.package-data] matches; a schema folder
    # added without a pattern would work in the repository and be missing after `pip install`.
    with open(REPO_ROOT / "pyproject.toml", "rb") as handle:
        patterns = tomllib.load(handle)["tool"]["setuptools"]["package-data"][package]
    package_dir = REPO_ROOT.joinpath(*package.split("."))
    shipped = {path for pattern in patterns for path in package_dir.glob(pattern)}
    wanted = {VENDORED[folder] / name for name in [*_pinned(VENDORED[folder]), "SOURCES.md"]}
    wanted.add(VENDORED[folder] / "SHA256SUMS")
    assert wanted - shipped == set()
