"""Online sessions over HTTP: every exchange is checked against the contract by `sim`."""

from __future__ import annotations

import base64
import re

import httpx
import pytest
from lxml import etree

from ksef_simulator import ksefnum
from ksef_simulator.state import State
from tests.ksef_simulator.helpers import (
    add_person,
    bearer,
    error_codes,
    grant_testdata,
    login_xades,
    make_credential,
    owner_login,
)
from tests.ksef_simulator.invoice_support import (
    FA3_FORM,
    SAMPLE_SELLER,
    SessionKey,
    another_key,
    encryption_info,
    open_session,
    renumbered,
    sample,
    send,
    send_body,
    send_ok,
    sha256_b64,
    upo_schema,
)

UPO_NS = {"u": "http://upo.schematy.mf.gov.pl/KSeF/v4-3"}


@pytest.fixture
def seller(sim: httpx.Client) -> str:
    """Access token of the owner of 9999999999, the seller of the official MF examples."""
    return owner_login(sim, SAMPLE_SELLER).access


def test_an_official_sample_gets_a_ksef_number_with_a_valid_checksum_and_an_upo(
    sim: httpx.Client, seller: str
) -> None:
    xml = sample("mf-fa3-example-01.xml")
    reference, key = open_session(sim, seller)

    status = send_ok(sim, seller, reference, key, xml)

    assert status["status"] == {"code": 200, "description": "Sukces"}
    assert status["invoiceNumber"] == "FV2026/02/150"
    assert status["invoiceHash"] == sha256_b64(xml)
    assert ksefnum.is_valid(status["ksefNumber"])
    assert status["ksefNumber"].startswith(f"{SAMPLE_SELLER}-")
    # P_1 (2026-02-15) is an earlier day than sending: KSeF marks it Offline by itself.
    assert status["invoicingMode"] == "Offline"
    assert status["acquisitionDate"] and status["permanentStorageDate"]
    upo = sim.get(
        f"/sessions/{reference}/invoices/{status['referenceNumber']}/upo", headers=bearer(seller)
    )
    assert upo.status_code == 200
    assert upo.headers["content-type"].startswith("application/xml")
    assert upo.headers["x-ms-meta-hash"] == sha256_b64(upo.content)
    document = etree.fromstring(upo.content)
    assert upo_schema().validate(document), upo_schema().error_log
    assert document.findtext("u:NumerReferencyjnySesji", namespaces=UPO_NS) == reference
    assert (
        document.findtext("u:Dokument/u:NumerKSeFDokumentu", namespaces=UPO_NS)
        == (status["ksefNumber"])
    )
    assert document.findtext("u:Dokument/u:SkrotDokumentu", namespaces=UPO_NS) == sha256_b64(xml)
    by_number = sim.get(
        f"/sessions/{reference}/invoices/ksef/{status['ksefNumber']}/upo", headers=bearer(seller)
    )
    assert by_number.content == upo.content


def test_the_upo_names_the_signed_authentication_document_by_its_hash(
    sim: httpx.Client, sim_state: State
) -> None:
    tokens = owner_login(sim, SAMPLE_SELLER)
    reference, key = open_session(sim, tokens.access)
    status = send_ok(sim, tokens.access, reference, key, sample())

    upo = sim.get(
        f"/sessions/{reference}/invoices/{status['referenceNumber']}/upo",
        headers=bearer(tokens.access),
    )

    expected = sim_state.auth_operations[tokens.reference_number].document_hash
    found = etree.fromstring(upo.content).findtext(
        "u:Uwierzytelnienie/u:SkrotDokumentuUwierzytelniajacego", namespaces=UPO_NS
    )
    assert expected and found == expected


def test_the_presigned_upo_link_needs_no_token_and_expires(
    sim_raw: httpx.Client, sim: httpx.Client, seller: str, sim_state: State
) -> None:
    reference, key = open_session(sim, seller)
    status = send_ok(sim, seller, reference, key, sample())

    link = httpx.URL(status["upoDownloadUrl"])
    fetched = sim_raw.get(link.copy_with(scheme="http", host="ksef-sim"))
    assert fetched.status_code == 200
    assert upo_schema().validate(etree.fromstring(fetched.content))
    tampered = sim_raw.get(str(link).replace("sig=", "sig=x"))
    assert tampered.status_code == 403
    sim_state.clock.advance(4 * 24 * 3600)
    assert sim_raw.get(link).status_code == 403


def test_closing_a_session_produces_a_schema_valid_session_upo_listing_every_invoice(
    sim: httpx.Client, sim_raw: httpx.Client, seller: str
) -> None:
    reference, key = open_session(sim, seller)
    first = send_ok(sim, seller, reference, key, sample("mf-fa3-example-01.xml"))
    # Example 4 reuses example 1's P_2; as a second invoice it needs its own number.
    fourth = renumbered(sample("mf-fa3-example-04.xml"), "FV2026/02/150", "FV2026/02/151")
    second = send_ok(sim, seller, reference, key, fourth)
    open_status = sim.get(f"/sessions/{reference}", headers=bearer(seller)).json()
    assert open_status["status"]["code"] == 100
    assert "upo" not in open_status

    closed = sim.post(f"/sessions/online/{reference}/close", headers=bearer(seller))

    assert closed.status_code == 204
    status = sim.get(f"/sessions/{reference}", headers=bearer(seller)).json()
    assert status["status"]["code"] == 200
    assert (status["invoiceCount"], status["successfulInvoiceCount"]) == (2, 2)
    assert status["failedInvoiceCount"] == 0
    page = status["upo"]["pages"][0]
    upo = sim.get(f"/sessions/{reference}/upo/{page['referenceNumber']}", headers=bearer(seller))
    assert upo.status_code == 200
    document = etree.fromstring(upo.content)
    assert upo_schema().validate(document), upo_schema().error_log
    numbers = document.xpath("u:Dokument/u:NumerKSeFDokumentu/text()", namespaces=UPO_NS)
    assert numbers == [first["ksefNumber"], second["ksefNumber"]]
    assert (
        document.findtext("u:OpisPotwierdzenia/u:CalkowitaLiczbaDokumentow", namespaces=UPO_NS)
        == "2"
    )
    presigned = sim_raw.get(page["downloadUrl"])
    assert presigned.content == upo.content
    again = sim.post(f"/sessions/online/{reference}/close", headers=bearer(seller))
    assert again.status_code == 400 and error_codes(again) == [21180]
    late = send(sim, seller, reference, key, sample("mf-fa3-example-07.xml"))
    assert late.status_code == 400 and error_codes(late) == [21180]


def test_a_business_duplicate_is_rejected_with_440_and_the_original_numbers(
    sim: httpx.Client, seller: str
) -> None:
    reference, key = open_session(sim, seller)
    original = send_ok(sim, seller, reference, key, sample())
    # Same seller, RodzajFaktury and P_2, but a different file (another buyer's phone).
    changed = renumbered(sample(), "555777999", "555777998")

    duplicate = send_ok(sim, seller, reference, key, changed)

    assert duplicate["status"]["code"] == 440
    assert duplicate["status"]["description"] == "Duplikat faktury"
    assert duplicate["status"]["extensions"] == {
        "originalSessionReferenceNumber": reference,
        "originalKsefNumber": original["ksefNumber"],
    }
    assert "ksefNumber" not in duplicate
    renamed = send_ok(
        sim, seller, reference, key, renumbered(sample(), "FV2026/02/150", "FV2026/02/151")
    )
    assert renamed["status"]["code"] == 200


def test_hash_and_size_mismatches_are_refused_or_rejected_per_the_contract(
    sim: httpx.Client, seller: str
) -> None:
    reference, key = open_session(sim, seller)
    xml = sample()
    encrypted = key.encrypt(xml)

    wrong_encrypted_hash = send(
        sim, seller, reference, key, xml, encryptedInvoiceHash=sha256_b64(b"x")
    )
    wrong_encrypted_size = send(
        sim, seller, reference, key, xml, encryptedInvoiceSize=len(encrypted) + 16
    )
    wrong_plain_hash = send(sim, seller, reference, key, xml, invoiceHash=sha256_b64(b"x"))
    wrong_plain_size = send(sim, seller, reference, key, xml, invoiceSize=len(xml) - 1)

    assert wrong_encrypted_hash.status_code == 400
    assert error_codes(wrong_encrypted_hash) == [21403]
    assert wrong_encrypted_size.status_code == 400
    assert error_codes(wrong_encrypted_size) == [21402]
    failed = sim.get(f"/sessions/{reference}/invoices/failed", headers=bearer(seller)).json()
    codes = {item["referenceNumber"]: item["status"]["code"] for item in failed["invoices"]}
    assert codes == {
        wrong_plain_hash.json()["referenceNumber"]: 430,
        wrong_plain_size.json()["referenceNumber"]: 430,
    }


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"<Faktura><niedomkniety></Faktura>", "Nieprawidłowy XML"),
        (b"\xef\xbb\xbf" + sample(), "BOM"),
        (sample().replace(b"<P_15>2051</P_15>", b""), "Adnotacje': This element is not expected"),
        (sample().replace(b'encoding="UTF-8"', b'encoding="windows-1250"'), "windows-1250"),
    ],
    ids=["malformed", "bom", "schema", "encoding"],
)
def test_invalid_invoice_files_end_in_status_450(
    sim: httpx.Client, seller: str, content: bytes, detail: str
) -> None:
    reference, key = open_session(sim, seller)

    status = send_ok(sim, seller, reference, key, content)

    assert status["status"]["code"] == 450
    assert status["status"]["description"] == "Błąd weryfikacji semantyki dokumentu faktury"
    assert any(detail in line for line in status["status"]["details"])
    assert "ksefNumber" not in status and status["acquisitionDate"] is None


def test_an_invoice_of_another_seller_is_rejected_with_410(sim: httpx.Client) -> None:
    access = owner_login(sim, "5265877635").access
    reference, key = open_session(sim, access)

    status = send_ok(sim, access, reference, key, sample())

    assert status["status"]["code"] == 410
    assert "9999999999" in status["status"]["details"][0]


@pytest.mark.parametrize(("unpads", "code"), [(False, 435), (True, 430)])
def test_content_encrypted_with_another_key_gets_435_or_when_it_unpads_430(
    sim: httpx.Client, seller: str, unpads: bool, code: int
) -> None:
    reference, key = open_session(sim, seller)
    xml = sample()
    body = send_body(another_key(key, xml, unpads=unpads), xml)

    response = sim.post(f"/sessions/online/{reference}/invoices", json=body, headers=bearer(seller))
    status = sim.get(
        f"/sessions/{reference}/invoices/{response.json()['referenceNumber']}",
        headers=bearer(seller),
    ).json()

    assert status["status"]["code"] == code
    if code == 435:
        assert status["status"]["details"] == ["Plik niepoprawnie zaszyfrowany"]


def test_a_symmetric_key_the_ministry_key_cannot_open_leaves_the_session_in_415(
    sim: httpx.Client, seller: str
) -> None:
    info = encryption_info(sim, SessionKey.random())
    info["encryptedSymmetricKey"] = base64.b64encode(b"\x01" * 256).decode()
    opened = sim.post(
        "/sessions/online", json={"formCode": FA3_FORM, "encryption": info}, headers=bearer(seller)
    )
    reference = opened.json()["referenceNumber"]

    status = sim.get(f"/sessions/{reference}", headers=bearer(seller)).json()
    refused = send(sim, seller, reference, SessionKey.random(), sample())

    assert opened.status_code == 201
    assert status["status"]["code"] == 415
    assert refused.status_code == 400 and error_codes(refused) == [21180]


def test_an_unknown_public_key_id_gets_21470_and_an_unsupported_form_21405(
    sim: httpx.Client, seller: str
) -> None:
    info = encryption_info(sim, SessionKey.random())
    unknown = dict(info, publicKeyId=sha256_b64(b"unknown key"))
    form = dict(FA3_FORM, systemCode="FA (9)")

    bad_key = sim.post(
        "/sessions/online",
        json={"formCode": FA3_FORM, "encryption": unknown},
        headers=bearer(seller),
    )
    bad_form = sim.post(
        "/sessions/online", json={"formCode": form, "encryption": info}, headers=bearer(seller)
    )

    assert bad_key.status_code == 400 and error_codes(bad_key) == [21470]
    assert bad_form.status_code == 400 and error_codes(bad_form) == [21405]


def test_a_session_without_invoices_is_cancelled_with_440(sim: httpx.Client, seller: str) -> None:
    reference, _ = open_session(sim, seller)

    sim.post(f"/sessions/online/{reference}/close", headers=bearer(seller))
    status = sim.get(f"/sessions/{reference}", headers=bearer(seller)).json()

    assert status["status"] == {
        "code": 440,
        "description": "Sesja anulowana",
        "details": ["Nie przesłano faktur"],
    }


def test_a_session_with_only_rejected_invoices_ends_in_445(sim: httpx.Client, seller: str) -> None:
    reference, key = open_session(sim, seller)
    send_ok(sim, seller, reference, key, b"<nie-faktura/>")

    sim.post(f"/sessions/online/{reference}/close", headers=bearer(seller))
    status = sim.get(f"/sessions/{reference}", headers=bearer(seller)).json()

    assert status["status"]["code"] == 445
    assert status["failedInvoiceCount"] == 1


def test_an_open_session_expires_after_12_hours(
    sim: httpx.Client, seller: str, sim_state: State
) -> None:
    reference, key = open_session(sim, seller)
    send_ok(sim, seller, reference, key, sample())

    sim_state.clock.advance(12 * 3600 + 1)
    fresh = owner_login(sim, SAMPLE_SELLER).access  # the old access token has expired
    status = sim.get(f"/sessions/{reference}", headers=bearer(fresh)).json()
    late = send(sim, fresh, reference, key, sample("mf-fa3-example-04.xml"))

    assert status["status"]["code"] == 200
    assert late.status_code == 400 and error_codes(late) == [21180]


def test_unknown_and_foreign_sessions_answer_21173(sim: httpx.Client, seller: str) -> None:
    reference, _ = open_session(sim, seller)
    stranger = owner_login(sim, "5265877635").access
    missing = "20260101-SO-0000000000-0000000000-00"

    assert error_codes(sim.get(f"/sessions/{missing}", headers=bearer(seller))) == [21173]
    assert error_codes(sim.get(f"/sessions/{reference}", headers=bearer(stranger))) == [21173]
    closed = sim.post(f"/sessions/online/{reference}/close", headers=bearer(stranger))
    assert error_codes(closed) == [21173]


def test_sending_needs_invoice_write_and_a_token(sim: httpx.Client) -> None:
    add_person(sim, SAMPLE_SELLER, "88102341294")
    reader = make_credential(pesel="30112206276")
    grant_testdata(sim, SAMPLE_SELLER, ("Pesel", "30112206276"), ["InvoiceRead"])
    access = login_xades(sim, reader, SAMPLE_SELLER).access
    info = encryption_info(sim, SessionKey.random())

    forbidden = sim.post(
        "/sessions/online", json={"formCode": FA3_FORM, "encryption": info}, headers=bearer(access)
    )
    anonymous = sim.post("/sessions/online", json={"formCode": FA3_FORM, "encryption": info})

    assert forbidden.status_code == 403
    assert forbidden.json()["reasonCode"] == "missing-permissions"
    assert anonymous.status_code == 401


def test_session_invoice_lists_page_with_a_continuation_token(
    sim: httpx.Client, seller: str
) -> None:
    reference, key = open_session(sim, seller)
    for number in range(12):
        xml = renumbered(sample(), "FV2026/02/150", f"FV2026/02/{300 + number}")
        assert send(sim, seller, reference, key, xml).status_code == 202

    first = sim.get(f"/sessions/{reference}/invoices", headers=bearer(seller)).json()
    token = first["continuationToken"]
    second = sim.get(
        f"/sessions/{reference}/invoices",
        headers={**bearer(seller), "x-continuation-token": token},
    ).json()
    broken = sim.get(
        f"/sessions/{reference}/invoices",
        headers={**bearer(seller), "x-continuation-token": "%%%"},
    )

    assert [i["ordinalNumber"] for i in first["invoices"]] == list(range(1, 11))
    assert [i["ordinalNumber"] for i in second["invoices"]] == [11, 12]
    assert second["continuationToken"] is None
    assert broken.status_code == 400 and error_codes(broken) == [21418]


def test_the_session_list_shows_own_sessions_by_status(sim: httpx.Client, seller: str) -> None:
    open_ref, _ = open_session(sim, seller)
    closed_ref, key = open_session(sim, seller)
    send_ok(sim, seller, closed_ref, key, sample())
    sim.post(f"/sessions/online/{closed_ref}/close", headers=bearer(seller))

    every = sim.get("/sessions", params={"sessionType": "Online"}, headers=bearer(seller)).json()
    succeeded = sim.get(
        "/sessions",
        params={"sessionType": "Online", "statuses": "Succeeded"},
        headers=bearer(seller),
    ).json()
    batch = sim.get("/sessions", params={"sessionType": "Batch"}, headers=bearer(seller)).json()

    assert {s["referenceNumber"] for s in every["sessions"]} == {open_ref, closed_ref}
    assert [s["referenceNumber"] for s in succeeded["sessions"]] == [closed_ref]
    assert succeeded["sessions"][0]["totalInvoiceCount"] == 1
    assert batch["sessions"] == []


def test_reference_numbers_have_the_official_shape(sim: httpx.Client, seller: str) -> None:
    reference, key = open_session(sim, seller)
    invoice = send(sim, seller, reference, key, sample()).json()["referenceNumber"]

    assert re.fullmatch(r"\d{8}-SO-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}", reference)
    assert re.fullmatch(r"\d{8}-EE-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}", invoice)
