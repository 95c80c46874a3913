# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""WMS events as plain Python objects (no ORM).

The webhook route already checked each event against its schema (types,
bounds); what is checked here is what a schema cannot say: the lots of a
line add up to its quantity, a serial-tracked line has one serial number per
unit and none twice, a line's package is one of the shipment's. A failure
raises :class:`PayloadError` with a plain-words message (the processor makes
it an exception for the warehouse team).
"""

import dataclasses
from datetime import date

from odoo.addons.distribution_sync_core.intake import InvalidDelivery, parse_utc

EPSILON = 1e-6


class PayloadError(ValueError):
    """An event the contract accepts but whose content contradicts itself."""


@dataclasses.dataclass
class Lot:
    name: str
    quantity: float
    expiry: date | None = None


@dataclasses.dataclass
class Line:
    sku: str
    quantity: float
    line_ref: str | None = None
    package_ref: str | None = None
    lots: list = dataclasses.field(default_factory=list)
    serials: list = dataclasses.field(default_factory=list)
    reason: str | None = None
    condition: str | None = None
    lot: str | None = None  # a single lot (returns, adjustments)

    @property
    def tracked(self):
        return bool(self.lots or self.serials or self.lot)

    def assignments(self):
        """[(lot or serial name or None, quantity)] of the line."""
        if self.serials:
            return [(serial, 1.0) for serial in self.serials]
        if self.lots:
            return [(lot.name, lot.quantity) for lot in self.lots]
        return [(self.lot, self.quantity)]


@dataclasses.dataclass
class Package:
    ref: str
    tracking_number: str | None = None
    tracking_url: str | None = None
    carrier: str | None = None
    weight: float | None = None
    weight_uom: str | None = None

    def weight_kg(self):
        if self.weight is None:
            return None
        return self.weight * 0.45359237 if self.weight_uom == "lb" else self.weight


@dataclasses.dataclass
class Confirmation:
    """A shipment or a receipt of one released document."""

    reference: str
    document_id: str  # shipment_id or receipt_id
    lines: list
    complete: bool = False
    carrier: str | None = None
    packages: dict = dataclasses.field(default_factory=dict)
    done_at: object = None  # shipped_at / received_at (naive UTC)


def _lots(raw, what):
    lots = []
    for index, item in enumerate(raw or []):
        expiry = item.get("expiry_date")
        try:
            expiry = date.fromisoformat(expiry) if expiry else None
        except ValueError as err:
            raise PayloadError(
                f"{what}: lot {index + 1} has no valid expiry date"
            ) from err
        lots.append(Lot(item["lot"], float(item["quantity"]), expiry))
    return lots


def _line(raw, index):
    what = f"line {index + 1} ({raw['sku']})"
    line = Line(
        sku=raw["sku"],
        quantity=float(raw["quantity"]),
        line_ref=raw.get("line_ref"),
        package_ref=raw.get("package_ref"),
        lots=_lots(raw.get("lots"), what),
        serials=list(raw.get("serials") or []),
        reason=raw.get("reason"),
        condition=raw.get("condition"),
        lot=raw.get("lot"),
    )
    if line.lots and line.serials:
        raise PayloadError(f"{what} has both lots and serial numbers")
    if line.lots:
        total = sum(lot.quantity for lot in line.lots)
        if abs(total - line.quantity) > EPSILON:
            raise PayloadError(
                f"{what}: its lots add up to {total:g}, not to its quantity "
                f"{line.quantity:g}"
            )
    if line.serials:
        if abs(len(line.serials) - line.quantity) > EPSILON:
            raise PayloadError(
                f"{what}: {len(line.serials)} serial numbers for a quantity of "
                f"{line.quantity:g} (one per unit)"
            )
        if len(set(line.serials)) != len(line.serials):
            raise PayloadError(f"{what} lists a serial number twice")
    return line


def lines_of(data):
    return [_line(raw, index) for index, raw in enumerate(data.get("lines") or [])]


def shipment(doc):
    data = doc["data"]
    packages = {}
    for raw in data.get("packages") or []:
        ref = raw["package_ref"]
        if ref in packages:
            raise PayloadError(f"package {ref} is listed twice")
        packages[ref] = Package(
            ref=ref,
            tracking_number=raw.get("tracking_number"),
            tracking_url=raw.get("tracking_url"),
            carrier=raw.get("carrier") or data.get("carrier"),
            weight=raw.get("weight"),
            weight_uom=raw.get("weight_uom"),
        )
    lines = lines_of(data)
    for line in lines:
        if line.package_ref and line.package_ref not in packages:
            # a package the WMS did not describe: a package all the same
            packages[line.package_ref] = Package(ref=line.package_ref)
    _check_serials_once(lines)
    return Confirmation(
        reference=doc["order_ref"],
        document_id=data["shipment_id"],
        lines=lines,
        complete=bool(data.get("order_complete")),
        carrier=data.get("carrier"),
        packages=packages,
        done_at=source_time(
            data.get("shipped_at") or doc.get("occurred_at"), "shipped_at"
        ),
    )


def receipt(doc):
    data = doc["data"]
    lines = lines_of(data)
    _check_serials_once(lines)
    return Confirmation(
        reference=doc["order_ref"],
        document_id=data["receipt_id"],
        lines=lines,
        complete=bool(data.get("receipt_complete")),
    )


def _check_serials_once(lines):
    seen = set()
    for line in lines:
        for serial in line.serials:
            if (line.sku, serial) in seen:
                raise PayloadError(
                    f"serial number {serial} of {line.sku} is listed twice"
                )
            seen.add((line.sku, serial))


def short(doc):
    return doc["order_ref"], lines_of(doc["data"])


def adjustment(doc):
    data = doc["data"]
    lines = [
        Line(
            sku=raw["sku"],
            quantity=float(raw["delta"]),
            reason=raw["reason_code"],
            lot=raw.get("lot"),
        )
        for raw in data["lines"]
    ]
    return data.get("adjustment_id"), data.get("site"), lines


def snapshot_page(doc):
    data = doc["data"]
    if data["page"] > data["page_count"]:
        raise PayloadError(
            f"page {data['page']} of a snapshot of {data['page_count']} pages"
        )
    return data


def return_received(doc):
    data = doc["data"]
    lines = lines_of(data)
    return doc.get("order_ref"), data["return_id"], lines


def source_time(value, what):
    """An ISO 8601 time of the payload as naive UTC, or None."""
    try:
        return parse_utc(value, what)
    except InvalidDelivery as err:
        raise PayloadError(str(err)) from err
