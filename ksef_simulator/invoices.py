"""The invoice repository: storage, the metadata query and download by KSeF number.

Endpoints (contract 2.6.0, all need `InvoiceRead` in the current context):

* `POST /invoices/query/metadata` — filters `InvoiceQueryFilters`, query parameters
  `sortOrder`, `pageOffset`, `pageSize`; results capped at 10,000 rows per filter set
  (`isTruncated`), `permanentStorageHwmDate` for `PermanentStorage` queries;
* `GET /invoices/ksef/{ksefNumber}` — the exact stored bytes with `x-ms-meta-hash`.

An invoice becomes visible (query, download, export) at its `permanentStorageDate`, which
is written asynchronously in KSeF and always follows `acquisitionDate` (digest Gotcha 17).
The high-water mark is the moment before which the set of stored invoices is final.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, request

from ksef_simulator import ksefnum
from ksef_simulator.contract import body, validated_body
from ksef_simulator.errors import bad_request, utc_timestamp, validation_error
from ksef_simulator.fa3xml import InvoiceFacts, PartyIdentifier
from ksef_simulator.security import AccessContext, access_context, require_access
from ksef_simulator.state import State, current_state

bp = Blueprint("ksef_invoices", __name__)

WARSAW = ZoneInfo("Europe/Warsaw")
METADATA_CAP = 10_000
MAX_RANGE_MONTHS = 3
FA3_FORM_CODE = {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"}
FA3 = ("FA (3)", "1-0E", "FA")
FA2 = ("FA (2)", "1-0E", "FA")
FA_RR = ("FA_RR (1)", "1-1E", "FA_RR")
INVOICE_TYPES = {
    "VAT": "Vat", "ZAL": "Zal", "KOR": "Kor", "ROZ": "Roz", "UPR": "Upr",
    "KOR_ZAL": "KorZal", "KOR_ROZ": "KorRoz", "VAT_RR": "VatRr", "KOR_VAT_RR": "KorVatRr",
}  # fmt: skip
DATE_FIELDS = {
    "Issue": "issue_moment",
    "Invoicing": "invoicing_date",
    "PermanentStorage": "permanent_storage_date",
}
_ONE_MS = timedelta(milliseconds=1)
_KSEF_NUMBER = re.compile(
    r"^([1-9](\d[1-9]|[1-9]\d)\d{7})-(20[2-9][0-9]|2[1-9]\d{2}|[3-9]\d{3})(0[1-9]|1[0-2])"
    r"(0[1-9]|[12]\d|3[01])-([0-9A-F]{6})-?([0-9A-F]{6})-([0-9A-F]{2})$"
)


@dataclass
class StoredInvoice:
    ksef_number: str
    content: bytes
    invoice_hash: str
    facts: InvoiceFacts
    invoicing_date: datetime
    acquisition_date: datetime
    permanent_storage_date: datetime
    invoicing_mode: str  # Online | Offline
    session_reference: str
    invoice_reference: str
    context: tuple[str, str]  # context that sent it
    hash_of_corrected: str | None = None
    # (systemCode, schemaVersion, value) as KSeF reports formCode: FA (3), FA (2), FA_RR (1)
    form_code: tuple[str, str, str] = FA3

    @property
    def issue_moment(self) -> datetime:
        """P_1 as the start of that day in Warsaw, for sorting with the other date types."""
        return datetime.combine(self.facts.issue_date, datetime.min.time(), tzinfo=WARSAW)


# -- state helpers -------------------------------------------------------------------------


def invoices_of(state: State) -> dict[str, StoredInvoice]:
    return cast(dict[str, StoredInvoice], state.invoices)


def _index(state: State) -> dict[tuple[str, str], list[str]]:
    return cast(dict[tuple[str, str], list[str]], state.extra.setdefault("invoice_index", {}))


def _duplicates(state: State) -> dict[tuple[str, str, str], str]:
    return cast(dict[tuple[str, str, str], str], state.extra.setdefault("invoice_duplicates", {}))


def next_ksef_number(state: State, seller_nip: str, acquisition: datetime) -> str:
    sequence = int(state.extra.get("ksef_sequence", 0)) + 1
    state.extra["ksef_sequence"] = sequence
    # The technical part looks like the official examples (0100001AF629...): a fixed
    # prefix and a counter, spread so consecutive numbers do not differ in one digit only.
    technical = (0x010000000000 + sequence * 0x9E3779B1) % 16**12
    return ksefnum.ksef_number(seller_nip, acquisition.astimezone(WARSAW).date(), technical)


def find_duplicate(state: State, facts: InvoiceFacts) -> StoredInvoice | None:
    """KSeF's business duplicate: same seller NIP + RodzajFaktury + P_2 (digest §5.2)."""
    key = (facts.seller_nip, facts.kind, facts.invoice_number)
    number = _duplicates(state).get(key)
    return invoices_of(state).get(number) if number else None


def _party_keys(facts: InvoiceFacts) -> Iterable[tuple[str, str]]:
    yield ("Subject1", facts.seller_nip)
    if facts.buyer.type == "Nip" and facts.buyer.value:
        yield ("Subject2", facts.buyer.value)
    for third in facts.third_subjects:
        if third.identifier.type in ("Nip", "InternalId") and third.identifier.value:
            yield ("Subject3", third.identifier.value)
    if facts.authorized_nip:
        yield ("SubjectAuthorized", facts.authorized_nip)


def register_invoice(state: State, invoice: StoredInvoice) -> None:
    invoices_of(state)[invoice.ksef_number] = invoice
    facts = invoice.facts
    _duplicates(state)[(facts.seller_nip, facts.kind, facts.invoice_number)] = invoice.ksef_number
    index = _index(state)
    for key in dict.fromkeys(_party_keys(facts)):
        index.setdefault(key, []).append(invoice.ksef_number)


def high_water_mark(state: State, now: datetime) -> datetime:
    """Invoices stored up to (and including) this moment can no longer change.

    Every invoice still waiting for permanent storage gets a storage date after `now`, and
    new ones get `now` at the earliest, so the set below `now - 1 ms` is final.
    """
    del state
    return now - _ONE_MS


def reported_high_water_mark(state: State) -> datetime | None:
    """The latest permanentStorageHwmDate any answer has carried. Nothing may be stored
    at or before it afterwards (bulk seeding refuses to): a client that synchronised up
    to a reported HWM must never miss an invoice."""
    return cast(datetime | None, state.extra.get("reported_hwm"))


def _remember_hwm(state: State, mark: datetime) -> None:
    reported = reported_high_water_mark(state)
    if reported is None or mark > reported:
        state.extra["reported_hwm"] = mark


def context_keys(ctx: AccessContext, subject_type: str) -> list[tuple[str, str]]:
    """Index keys the context may read for SUBJECT_TYPE (see exports for 21181)."""
    kind, value = ctx.context.type, ctx.context.value
    if kind == "Nip":
        return [(subject_type, value)]
    if kind == "InternalId" and subject_type == "Subject3":
        return [("Subject3", value)]
    return []


def is_party(invoice: StoredInvoice, ctx: AccessContext) -> bool:
    keys = set(_party_keys(invoice.facts))
    return any(
        key in keys
        for subject in ("Subject1", "Subject2", "Subject3", "SubjectAuthorized")
        for key in context_keys(ctx, subject)
    )


# -- metadata ------------------------------------------------------------------------------


def _number(value: Decimal) -> float | int:
    return float(value)


def _identifier_json(identifier: PartyIdentifier) -> dict[str, str]:
    data = {"type": identifier.type}
    if identifier.value is not None:
        data["value"] = identifier.value
    return data


def _form_code_json(form_code: tuple[str, str, str]) -> dict[str, str]:
    system_code, schema_version, value = form_code
    return {"systemCode": system_code, "schemaVersion": schema_version, "value": value}


def metadata_json(invoice: StoredInvoice) -> dict[str, Any]:
    """InvoiceMetadata as the contract defines it (also the rows of `_metadata.json`)."""
    facts = invoice.facts
    data: dict[str, Any] = {
        "ksefNumber": invoice.ksef_number,
        "invoiceNumber": facts.invoice_number,
        "issueDate": facts.issue_date.isoformat(),
        "invoicingDate": utc_timestamp(invoice.invoicing_date),
        "acquisitionDate": utc_timestamp(invoice.acquisition_date),
        "permanentStorageDate": utc_timestamp(invoice.permanent_storage_date),
        "seller": {"nip": facts.seller_nip, "name": facts.seller_name},
        "buyer": {"identifier": _identifier_json(facts.buyer), "name": facts.buyer_name},
        "netAmount": _number(facts.net_amount),
        "grossAmount": _number(facts.gross_amount),
        "vatAmount": _number(facts.vat_amount_pln),
        "currency": facts.currency,
        "invoicingMode": invoice.invoicing_mode,
        "invoiceType": INVOICE_TYPES.get(facts.kind, "Vat"),
        "formCode": _form_code_json(invoice.form_code),
        "isSelfInvoicing": facts.is_self_invoicing,
        "hasAttachment": facts.has_attachment,
        "invoiceHash": invoice.invoice_hash,
    }
    if invoice.hash_of_corrected:
        data["hashOfCorrectedInvoice"] = invoice.hash_of_corrected
    if facts.third_subjects:
        data["thirdSubjects"] = [
            {"identifier": _identifier_json(t.identifier), "name": t.name, "role": t.role}
            for t in facts.third_subjects
        ]
    if facts.authorized_nip:
        data["authorizedSubject"] = {
            "nip": facts.authorized_nip,
            "name": facts.authorized_name,
            "role": facts.authorized_role or 0,
        }
    return data


# -- the query -----------------------------------------------------------------------------


def parse_moment(value: str, field_name: str) -> datetime:
    """ISO 8601 with Z, with an offset, or without one (= Europe/Warsaw local time)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        validation_error(f"{field_name}: nieprawidłowy format daty '{value}'.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=WARSAW)
    return moment


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


class HwmRangeError(Exception):
    """dateRange.from is later than the HWM with restrictToPermanentStorageHwmDate on."""


@dataclass
class Selection:
    rows: list[StoredInvoice]  # all matches, ascending by the date type (before the cap)
    date_type: str
    date_from: datetime
    date_to: datetime
    hwm: datetime | None  # permanentStorageHwmDate to report (PermanentStorage only)


def _matches(invoice: StoredInvoice, filters: dict[str, Any]) -> bool:
    facts = invoice.facts
    simple = (
        ("ksefNumber", invoice.ksef_number),
        ("invoiceNumber", facts.invoice_number),
        ("sellerNip", facts.seller_nip),
        ("invoicingMode", invoice.invoicing_mode),
        ("isSelfInvoicing", facts.is_self_invoicing),
        ("hasAttachment", facts.has_attachment),
        ("formType", invoice.form_code[2]),
    )
    for name, actual in simple:
        wanted = filters.get(name)
        if wanted is not None and wanted != actual:
            return False
    buyer = filters.get("buyerIdentifier")
    if buyer:
        if buyer["type"] != facts.buyer.type:
            return False
        if buyer.get("value") is not None and buyer["value"] != facts.buyer.value:
            return False
    currencies = filters.get("currencyCodes")
    if currencies and facts.currency not in currencies:
        return False
    types = filters.get("invoiceTypes")
    if types and INVOICE_TYPES.get(facts.kind) not in types:
        return False
    amount = filters.get("amount")
    if amount:
        value = {
            "Brutto": facts.gross_amount,
            "Netto": facts.net_amount,
            "Vat": facts.vat_amount_pln,
        }[amount["type"]]
        if amount.get("from") is not None and value < Decimal(str(amount["from"])):
            return False
        if amount.get("to") is not None and value > Decimal(str(amount["to"])):
            return False
    return True


def _in_range(invoice: StoredInvoice, date_type: str, start: datetime, end: datetime) -> bool:
    if date_type == "Issue":
        # P_1 is a date: compare calendar days in Warsaw.
        day: date = invoice.facts.issue_date
        return start.astimezone(WARSAW).date() <= day <= end.astimezone(WARSAW).date()
    moment: datetime = getattr(invoice, DATE_FIELDS[date_type])
    return start <= moment <= end


def select(
    state: State, ctx: AccessContext, filters: dict[str, Any], limit: int | None = None
) -> Selection:
    """Everything FILTERS match for CTX, ascending; raises HwmRangeError (21183 / 420).

    With LIMIT, at most that many rows (the first ones): callers that only need to know
    whether more than N rows match ask for N + 1, which spares a PermanentStorage query
    the walk over every invoice of the context.
    """
    now = state.now()
    date_range = filters["dateRange"]
    date_type = date_range["dateType"]
    start = parse_moment(date_range["from"], "dateRange.from")
    end = parse_moment(date_range["to"], "dateRange.to") if date_range.get("to") else now
    restricted = date_type == "PermanentStorage" and date_range.get(
        "restrictToPermanentStorageHwmDate"
    )
    mark = high_water_mark(state, now)
    if restricted and start > mark:
        raise HwmRangeError
    if end < start:
        validation_error("dateRange: data 'to' jest wcześniejsza niż 'from'.")
    if end > _add_months(start, MAX_RANGE_MONTHS):
        validation_error(
            f"dateRange: maksymalny dozwolony zakres dat wynosi {MAX_RANGE_MONTHS} miesiące."
        )
    hwm_report: datetime | None = None
    if date_type == "PermanentStorage":
        if restricted:
            end = min(end, mark)
        hwm_report = min(end, mark)
        _remember_hwm(state, hwm_report)
    keys = context_keys(ctx, filters["subjectType"])
    if date_type == "PermanentStorage" and len(keys) == 1:
        rows = _stored_between(state, keys[0], start, min(end, now), filters, limit)
    else:
        rows = _scan(state, keys, date_type, start, end, now, filters)
    return Selection(rows, date_type, start, end, hwm_report)


def _scan(
    state: State,
    keys: list[tuple[str, str]],
    date_type: str,
    start: datetime,
    end: datetime,
    now: datetime,
    filters: dict[str, Any],
) -> list[StoredInvoice]:
    store = invoices_of(state)
    index = _index(state)
    candidates: dict[str, None] = {}
    for key in keys:
        candidates.update(dict.fromkeys(index.get(key, ())))
    rows = []
    for number in candidates:
        invoice = store[number]
        if invoice.permanent_storage_date > now:
            continue
        if _in_range(invoice, date_type, start, end) and _matches(invoice, filters):
            rows.append(invoice)
    field_name = DATE_FIELDS[date_type]
    rows.sort(key=lambda inv: (getattr(inv, field_name), inv.invoicing_date, inv.ksef_number))
    return rows


def _storage_order(state: State, key: tuple[str, str]) -> list[tuple[datetime, datetime, str]]:
    """The invoices of one index key as (permanentStorageDate, invoicingDate, ksefNumber),
    sorted — the order of every PermanentStorage answer. Kept in the state and extended
    with what was indexed since (the index only grows; stored dates never change)."""
    numbers = _index(state).get(key, [])
    cache = cast(
        dict[tuple[str, str], tuple[int, list[tuple[datetime, datetime, str]]]],
        state.extra.setdefault("storage_order", {}),
    )
    done, ordered = cache.get(key, (0, []))
    if done != len(numbers):
        store = invoices_of(state)
        for number in numbers[done:]:
            invoice = store[number]
            ordered.append((invoice.permanent_storage_date, invoice.invoicing_date, number))
        ordered.sort()  # timsort: a sorted run plus a short tail costs about one pass
        cache[key] = (len(numbers), ordered)
    return ordered


def _stored_between(
    state: State,
    key: tuple[str, str],
    start: datetime,
    stop: datetime,
    filters: dict[str, Any],
    limit: int | None,
) -> list[StoredInvoice]:
    ordered = _storage_order(state, key)
    store = invoices_of(state)
    rows = []
    for position in range(bisect.bisect_left(ordered, (start,)), len(ordered)):
        stored_at, _, number = ordered[position]
        if stored_at > stop:
            break
        invoice = store[number]
        if _matches(invoice, filters):
            rows.append(invoice)
            if limit is not None and len(rows) >= limit:
                break
    return rows


def _query_int(name: str, default: int, low: int, high: int | None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        validation_error(f"{name}: wartość '{raw}' nie jest liczbą całkowitą.")
    if value < low or (high is not None and value > high):
        validation_error(f"{name}: wartość {value} spoza zakresu {low}..{high or '∞'}.")
    return value


@bp.post("/invoices/query/metadata")
@require_access("InvoiceRead")
@validated_body()
def query_metadata() -> Response:
    sort_order = request.args.get("sortOrder", "Asc")
    if sort_order not in ("Asc", "Desc"):
        validation_error(f"sortOrder: dozwolone wartości Asc, Desc (otrzymano '{sort_order}').")
    page_offset = _query_int("pageOffset", 0, 0, None)
    page_size = _query_int("pageSize", 10, 10, 250)
    # The cap (tests shrink it with config.metadata_row_cap): at most METADATA_CAP rows per
    # filter set; one more tells whether the result is truncated.
    cap = min(METADATA_CAP, current_state().config.metadata_row_cap)
    try:
        selection = select(
            current_state(), access_context(), body(), cap + 1 if sort_order == "Asc" else None
        )
    except HwmRangeError:
        bad_request(
            21183,
            "Parametr dateRange.from jest późniejszy niż PermanentStorageHwmDate przy "
            "włączonym restrictToPermanentStorageHwmDate.",
        )
    rows = selection.rows if sort_order == "Asc" else selection.rows[::-1]
    # The page that reaches the cap says isTruncated=true and the client moves dateRange
    # instead of pageOffset.
    window = rows[:cap]
    first = page_offset * page_size
    page = window[first : first + page_size]
    end = first + len(page)
    truncated = len(rows) > cap and end >= len(window)
    payload: dict[str, Any] = {
        "hasMore": end < len(rows),
        "isTruncated": truncated,
        "permanentStorageHwmDate": utc_timestamp(selection.hwm) if selection.hwm else None,
        "invoices": [metadata_json(invoice) for invoice in page],
    }
    return jsonify(payload)


@bp.get("/invoices/ksef/<ksefNumber>")
@require_access("InvoiceRead")
def download_invoice(ksefNumber: str) -> Response:
    if not _KSEF_NUMBER.match(ksefNumber):
        validation_error(f"ksefNumber: '{ksefNumber}' nie jest prawidłowym numerem KSeF.")
    state = current_state()
    invoice = invoices_of(state).get(ksefNumber)
    if invoice is None or not is_party(invoice, access_context()):
        bad_request(21164, f"Faktura o numerze KSeF {ksefNumber} nie została znaleziona.")
    if invoice.permanent_storage_date > state.now():
        bad_request(
            21165,
            f"Faktura o numerze KSeF {ksefNumber} została przetworzona, ale nie jest jeszcze "
            "dostępna do pobrania. Spróbuj ponownie później.",
        )
    response = Response(invoice.content, status=200, mimetype="application/xml")
    response.headers["x-ms-meta-hash"] = invoice.invoice_hash
    return response


# -- pre-signed storage links (UPO, export parts) ------------------------------------------


def _signature(path: str, expires: int) -> str:
    secret = cast(bytes, current_app.extensions["ksef_simulator.jwt_secret"])
    digest = hmac.new(secret, f"storage|{path}|{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def presigned_url(path: str, expires: datetime) -> str:
    """An absolute URL on this server, valid until EXPIRES, needing no token (like Azure SAS)."""
    stamp = int(expires.timestamp())
    return f"{request.host_url.rstrip('/')}{path}?se={stamp}&sig={_signature(path, stamp)}"


def presigned_ok(path: str) -> bool:
    try:
        expires = int(request.args.get("se", ""))
    except ValueError:
        return False
    if expires < current_state().now().timestamp():
        return False
    return hmac.compare_digest(request.args.get("sig", ""), _signature(path, expires))


def storage_denied() -> Response:
    """What Azure Blob Storage answers to a missing, wrong or expired SAS signature."""
    body_xml = (
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
        "<Message>Server failed to authenticate the request.</Message></Error>"
    )
    return Response(body_xml, status=403, mimetype="application/xml")


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
