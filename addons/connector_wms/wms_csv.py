# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""CSV files of partners without an API, as contract events (plain Python).

Three kinds of file, told apart by their header (a comma- or
semicolon-separated first row; column names are case-insensitive; other
columns are ignored):

* shipments: ``order_ref, shipment_id, sku, quantity`` and optionally
  ``lot, expiry_date, serial, package_ref, tracking_number, carrier,
  weight, order_complete, sequence`` — the rows of one (order_ref,
  shipment_id) make one ``shipment.confirmed`` event;
* receipts: ``order_ref, receipt_id, sku, quantity`` and optionally
  ``lot, expiry_date, serial, receipt_complete, sequence`` — one
  ``receipt.confirmed`` per (order_ref, receipt_id);
* snapshot: ``sku, on_hand`` and optionally ``allocated, site,
  snapshot_id`` — ``inventory.snapshot`` pages of 1,000 items.

Each event's id is the file's checksum and the number of its first row:
importing the same file again adds nothing. A row with a bad value makes
the event it belongs to fail with a message naming the row and the column
(the other events of the file apply): :func:`parse` returns it in
``errors``.
"""

import csv
import hashlib
import io
from collections import OrderedDict
from datetime import date, datetime, timezone

SNAPSHOT_PAGE = 1000
MAX_ROWS = 200_000
KINDS = {
    "shipments": ("order_ref", "shipment_id", "sku", "quantity"),
    "receipts": ("order_ref", "receipt_id", "sku", "quantity"),
    "snapshot": ("sku", "on_hand"),
}
TRUE = {"1", "true", "yes", "y", "x"}
FALSE = {"", "0", "false", "no", "n"}


class FileError(ValueError):
    """A file that cannot be read as one of the kinds (its header...)."""


class RowError(ValueError):
    def __init__(self, row, column, message):
        super().__init__(f"row {row}, column '{column}': {message}")


def checksum(content):
    return hashlib.sha256(content).hexdigest()


def read_rows(content):
    """(header, [(row number, {column: value})]) of a CSV file's bytes."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FileError("the file is not UTF-8 text") from err
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration as err:
        raise FileError("the file is empty") from err
    except csv.Error as err:
        raise FileError(f"the header cannot be read ({err})") from err
    if not any(header):
        raise FileError("the file is empty")
    rows = []
    try:
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise FileError(f"the file has more than {MAX_ROWS} rows")
            rows.append(
                (
                    reader.line_num,
                    {
                        name: (values[index].strip() if index < len(values) else "")
                        for index, name in enumerate(header)
                    },
                )
            )
    except csv.Error as err:
        raise FileError(f"line {reader.line_num} cannot be read ({err})") from err
    return header, rows


def kind_of(header):
    for kind in ("shipments", "receipts", "snapshot"):
        if all(column in header for column in KINDS[kind]):
            return kind
    raise FileError(
        "the header is none of the known kinds: shipments ("
        + ", ".join(KINDS["shipments"])
        + "), receipts ("
        + ", ".join(KINDS["receipts"])
        + "), snapshot ("
        + ", ".join(KINDS["snapshot"])
        + ")"
    )


def _text(row, number, column, required=True):
    value = row.get(column, "")
    if not value:
        if required:
            raise RowError(number, column, "is empty")
        return None
    if len(value) > 100 or not value.isprintable():
        raise RowError(number, column, "is too long or holds control characters")
    return value


def _number(row, number, column, required=True, positive=True, allow_zero=False):
    value = row.get(column, "")
    if not value:
        if required:
            raise RowError(number, column, "is empty")
        return None
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")  # a decimal comma
    try:
        parsed = float(value)
    except ValueError as err:
        raise RowError(number, column, f"{value!r} is not a number") from err
    if parsed != parsed or abs(parsed) > 1e9:
        raise RowError(number, column, f"{value!r} is out of range")
    if positive and (parsed < 0 or (parsed == 0 and not allow_zero)):
        raise RowError(
            number,
            column,
            f"{value!r} is not a quantity "
            + ("of zero or more" if allow_zero else "above zero"),
        )
    return int(parsed) if parsed == int(parsed) else parsed


def _flag(row, number, column):
    value = row.get(column, "").lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise RowError(number, column, f"{value!r} is not yes or no")


def _date(row, number, column):
    value = row.get(column, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as err:
        raise RowError(number, column, f"{value!r} is not a date (YYYY-MM-DD)") from err


def _sequence(row, number):
    value = row.get("sequence", "")
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) < 2**31:
        raise RowError(number, "sequence", f"{value!r} is not a whole number from 1")
    return int(value)


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(content, filename="file.csv", kind=None):
    """(kind, docs, errors) of a CSV file: ``docs`` are contract events,
    ``errors`` {doc id: message} for those with a bad row."""
    header, rows = read_rows(content)
    kind = kind or kind_of(header)
    missing = [column for column in KINDS[kind] if column not in header]
    if missing:
        raise FileError(f"the {kind} file has no column {', '.join(missing)}")
    prefix = f"file:{checksum(content)[:20]}"
    if kind == "snapshot":
        return kind, *_snapshot(rows, prefix, filename)
    return kind, *_confirmations(kind, rows, prefix, filename)


def _confirmations(kind, rows, prefix, filename):
    id_column = "shipment_id" if kind == "shipments" else "receipt_id"
    groups = OrderedDict()
    for number, row in rows:
        key = (
            (row.get("order_ref"), row.get(id_column))
            if row.get("order_ref") and row.get(id_column)
            else ("row", number)
        )
        groups.setdefault(key, []).append((number, row))
    docs, errors = [], {}
    for group in groups.values():
        first = group[0][0]
        doc_id = f"{prefix}:{first}"
        try:
            doc = _confirmation(kind, group, doc_id)
        except RowError as err:
            doc = {
                "id": doc_id,
                "type": "shipment.confirmed"
                if kind == "shipments"
                else "receipt.confirmed",
                "occurred_at": now_iso(),
                "order_ref": group[0][1].get("order_ref") or None,
                "data": {"rows": [number for number, _row in group]},
            }
            errors[doc_id] = f"{filename}, {err}"
        docs.append(doc)
    return docs, errors


def _confirmation(kind, group, doc_id):
    shipment = kind == "shipments"
    first_number, first = group[0]
    reference = _text(first, first_number, "order_ref")
    document_id = _text(
        first, first_number, "shipment_id" if shipment else "receipt_id"
    )
    lines = OrderedDict()
    packages = OrderedDict()
    sequence = None
    complete = False
    carrier = None
    for number, row in group:
        sku = _text(row, number, "sku")
        quantity = _number(row, number, "quantity")
        lot = _text(row, number, "lot", required=False)
        serial = _text(row, number, "serial", required=False)
        expiry = _date(row, number, "expiry_date")
        package = (
            _text(row, number, "package_ref", required=False) if shipment else None
        )
        sequence = sequence or _sequence(row, number)
        complete = complete or _flag(
            row, number, "order_complete" if shipment else "receipt_complete"
        )
        if serial and quantity != 1:
            raise RowError(
                number, "quantity", "a row with a serial number ships one unit"
            )
        line = lines.setdefault((sku, package), {"sku": sku, "quantity": 0})
        line["quantity"] += quantity
        if package:
            line["package_ref"] = package
        if serial:
            line.setdefault("serials", []).append(serial)
        elif lot:
            lots = line.setdefault("lots", [])
            match = next((item for item in lots if item["lot"] == lot), None)
            if match:
                match["quantity"] += quantity
            else:
                item = {"lot": lot, "quantity": quantity}
                if expiry:
                    item["expiry_date"] = expiry
                lots.append(item)
        if shipment and package:
            info = packages.setdefault(package, {"package_ref": package})
            tracking = _text(row, number, "tracking_number", required=False)
            if tracking:
                info["tracking_number"] = tracking
            row_carrier = _text(row, number, "carrier", required=False)
            if row_carrier:
                info["carrier"] = carrier = row_carrier
            weight = _number(row, number, "weight", required=False, allow_zero=True)
            if weight is not None:
                info["weight"] = weight
                info["weight_uom"] = "kg"
    data = {
        "shipment_id" if shipment else "receipt_id": document_id,
        "order_complete" if shipment else "receipt_complete": complete,
        "lines": list(lines.values()),
    }
    if shipment:
        if packages:
            data["packages"] = list(packages.values())
        if carrier:
            data["carrier"] = carrier
    doc = {
        "id": doc_id,
        "type": "shipment.confirmed" if shipment else "receipt.confirmed",
        "occurred_at": now_iso(),
        "order_ref": reference,
        "data": data,
    }
    if sequence:
        doc["sequence"] = sequence
    return doc


def _snapshot(rows, prefix, filename):
    items, errors_rows = [], []
    site = snapshot_id = None
    for number, row in rows:
        try:
            item = {
                "sku": _text(row, number, "sku"),
                "on_hand": _number(row, number, "on_hand", allow_zero=True),
            }
            allocated = _number(
                row, number, "allocated", required=False, allow_zero=True
            )
            if allocated is not None:
                item["allocated"] = allocated
            site = site or _text(row, number, "site", required=False)
            snapshot_id = snapshot_id or _text(
                row, number, "snapshot_id", required=False
            )
        except RowError as err:
            errors_rows.append(str(err))
            continue
        items.append(item)
    snapshot_id = snapshot_id or prefix.split(":", 1)[1]
    pages = [
        items[i : i + SNAPSHOT_PAGE] for i in range(0, len(items), SNAPSHOT_PAGE)
    ] or [[]]
    docs, errors = [], {}
    for index, page in enumerate(pages, start=1):
        data = {
            "snapshot_id": snapshot_id,
            "page": index,
            "page_count": len(pages),
            "as_of": now_iso(),
            "items": page,
        }
        if site:
            data["site"] = site
        docs.append(
            {
                "id": f"{prefix}:page{index}",
                "type": "inventory.snapshot",
                "occurred_at": now_iso(),
                "data": data,
            }
        )
    if errors_rows:
        # a snapshot with a bad row is not reconciled: its last page fails
        # with the rows to fix (a partial count would look like drift)
        errors[docs[-1]["id"]] = f"{filename}, " + "; ".join(errors_rows[:20])
    return docs, errors
