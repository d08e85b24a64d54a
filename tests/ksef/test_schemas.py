"""Where the official XSDs shipped with the ksef package are found."""

from __future__ import annotations

import pytest

from ksef import fa3
from ksef.schemas import schema_dir
from tests.conftest import KSEF_DATA_DIR


def test_it_points_at_the_folder_of_each_schema_family() -> None:
    assert (schema_dir("fa") / "schemat_FA(3)_v1-0E.xsd").is_file()
    assert (schema_dir("fa") / "bazowe" / "StrukturyDanych_v10-0E.xsd").is_file()
    assert (schema_dir("pef") / "Schemat_PEF(3)_v2-1.xsd").is_file()
    assert (schema_dir("auth") / "schemat_auth_v2-1.xsd").is_file()
    assert (schema_dir("upo") / "upo-v4-3.xsd").is_file()


def test_it_refuses_a_family_it_does_not_ship() -> None:
    with pytest.raises(ValueError, match="'fa2'"):
        schema_dir("fa2")  # type: ignore[arg-type]


def test_fa3_validation_uses_the_shipped_schema_when_given_no_folder() -> None:
    xml = (KSEF_DATA_DIR / "samples" / "invoices" / "mf-fa3-example-01.xml").read_bytes()

    assert fa3.validate(xml) == []
    (error,) = fa3.validate(xml.replace(b"<P_2>", b"<P_2X>").replace(b"</P_2>", b"</P_2X>"))
    assert "P_2X" in error
