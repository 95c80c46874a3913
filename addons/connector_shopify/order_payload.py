# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shopify order and refund payloads as canonical objects (plain Python).

The ``orders/*`` webhooks carry the REST ``Order`` resource. This module reads
it into small dataclasses with ``Decimal`` amounts, in the currency chosen by
the backend's policy:

* ``shop``: the shop's currency (``currency``; the amounts of the top-level
  fields and of ``*_set.shop_money``; Shopify converted them);
* ``presentment``: the customer's currency (``presentment_currency``;
  ``*_set.presentment_money``).

A line's discount is the sum of its ``discount_allocations`` (line-level and
order-level discounts alike: Shopify allocates order-level discounts to the
lines). Should the payload carry an order-level discount that no allocation
accounts for (``total_discounts`` larger than the allocations), the rest is
allocated across the lines in proportion to their discounted amounts.

Nothing here knows the ORM (times go through the core's ``intake.parse_utc``):
a malformed document raises ``ValueError``.
"""

import dataclasses
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from odoo.addons.distribution_sync_core.intake import parse_utc

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Financial statuses Shopify documents for orders.
FINANCIAL_STATUSES = [
    ("pending", "Pending"),
    ("authorized", "Authorized"),
    ("partially_paid", "Partially paid"),
    ("paid", "Paid"),
    ("partially_refunded", "Partially refunded"),
    ("refunded", "Refunded"),
    ("voided", "Voided"),
    ("expired", "Expired"),
]


def to_money(value):
    """A payload amount ("12.30", 12.3, None) as a Decimal rounded to the cent."""
    if value in (None, ""):
        return ZERO
    try:
        return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as err:
        raise ValueError(f"not an amount: {value!r}") from err


def allocate(total, weights):
    """Split ``total`` in cents in proportion to ``weights`` (largest
    remainders get the cents left over)."""
    weight_sum = sum(weights, ZERO)
    if not weight_sum or not total:
        return [ZERO for _w in weights]
    cents = int(total / CENT)
    exact = [Decimal(cents) * w / weight_sum for w in weights]
    shares = [int(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[: cents - sum(shares)]:
        shares[i] += 1
    return [Decimal(s) * CENT for s in shares]


class Money:
    """Reads amounts in the currency of a policy (``shop``/``presentment``)."""

    def __init__(self, policy="shop"):
        if policy not in ("shop", "presentment"):
            raise ValueError(f"unknown currency policy {policy!r}")
        self.key = f"{policy}_money"

    def __call__(self, obj, field):
        amount_set = obj.get(f"{field}_set")
        if isinstance(amount_set, dict) and isinstance(amount_set.get(self.key), dict):
            return to_money(amount_set[self.key].get("amount"))
        return to_money(obj.get(field))


@dataclasses.dataclass
class TaxLine:
    title: str
    rate: Decimal
    amount: Decimal

    @property
    def percent(self):
        return (self.rate * 100).normalize()

    @property
    def code(self):
        """Value-map code: title and percentage, e.g. ``GST 5.0``, ``QST 9.975``."""
        percent = self.percent
        text = f"{percent:.1f}" if percent == percent.to_integral() else f"{percent}"
        return f"{self.title} {text}"


@dataclasses.dataclass
class Line:
    """A line item or a shipping line: ``price × quantity − discount``."""

    id: str
    title: str
    quantity: Decimal
    price: Decimal
    discount: Decimal
    tax_lines: list
    sku: str = ""
    variant_id: str = ""
    code: str = ""

    @property
    def gross(self):
        return self.price * self.quantity

    @property
    def net(self):
        return self.gross - self.discount

    @property
    def discount_percent(self):
        """The discount as an exact (unrounded) percentage of the line."""
        return float(self.discount / self.gross * 100) if self.gross else 0.0

    @property
    def product_key(self):
        """What names the product in messages and exception kinds."""
        return self.sku or (f"variant {self.variant_id}" if self.variant_id else "")


@dataclasses.dataclass
class Order:
    id: str
    name: str
    currency: str
    taxes_included: bool
    financial_status: str
    fulfillment_status: str
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime
    email: str
    phone: str
    customer: dict
    billing_address: dict
    shipping_address: dict
    lines: list
    shipping_lines: list
    gateways: list
    total_price: Decimal
    total_tax: Decimal
    subtotal_price: Decimal
    total_discounts: Decimal

    @property
    def skus(self):
        return [line.sku for line in self.lines if line.sku]


def _tax_lines(obj, money):
    taxes = []
    for tax in obj.get("tax_lines") or []:
        rate = Decimal(str(tax.get("rate") or 0))
        taxes.append(TaxLine(str(tax.get("title") or ""), rate, money(tax, "price")))
    return taxes


def _allocated(obj, money):
    return sum(
        (money(a, "amount") for a in obj.get("discount_allocations") or []), ZERO
    )


def parse_order(data, policy="shop"):
    """The canonical order of an ``orders/*`` payload (a dict)."""
    if not isinstance(data, dict) or not data.get("id"):
        raise ValueError("not a Shopify order: no id")
    money = Money(policy)
    lines = []
    for item in data.get("line_items") or []:
        quantity = item.get("current_quantity", item.get("quantity"))
        lines.append(
            Line(
                id=str(item["id"]),
                title=item.get("name") or item.get("title") or "",
                quantity=Decimal(str(quantity or 0)),
                price=money(item, "price"),
                discount=_allocated(item, money),
                tax_lines=_tax_lines(item, money) if item.get("taxable", True) else [],
                sku=(item.get("sku") or "").strip(),
                variant_id=str(item.get("variant_id") or ""),
            )
        )
    shipping_lines = [
        Line(
            id=str(ship["id"]),
            title=ship.get("title") or "",
            quantity=Decimal(1),
            price=money(ship, "price"),
            discount=money(ship, "price") - money(ship, "discounted_price")
            if ship.get("discounted_price") is not None
            else _allocated(ship, money),
            tax_lines=_tax_lines(ship, money),
            code=ship.get("code") or "",
        )
        for ship in data.get("shipping_lines") or []
        if not ship.get("is_removed")
    ]
    total_discounts = money(data, "total_discounts")
    _allocate_rest(lines, shipping_lines, total_discounts)
    if policy == "presentment":
        currency = data.get("presentment_currency") or data.get("currency")
    else:
        currency = data.get("currency")
    if not currency:
        raise ValueError("the order has no currency")
    return Order(
        id=str(data["id"]),
        name=data.get("name") or str(data["id"]),
        currency=currency,
        taxes_included=bool(data.get("taxes_included")),
        financial_status=data.get("financial_status") or "pending",
        fulfillment_status=data.get("fulfillment_status") or "",
        created_at=parse_utc(data.get("created_at")),
        updated_at=parse_utc(data.get("updated_at")),
        cancelled_at=parse_utc(data.get("cancelled_at")),
        email=data.get("email") or data.get("contact_email") or "",
        phone=data.get("phone") or "",
        customer=data.get("customer") or {},
        billing_address=data.get("billing_address") or {},
        shipping_address=data.get("shipping_address") or {},
        lines=lines,
        shipping_lines=shipping_lines,
        gateways=[g for g in data.get("payment_gateway_names") or [] if g],
        total_price=money(data, "total_price"),
        total_tax=money(data, "total_tax"),
        subtotal_price=money(data, "subtotal_price"),
        total_discounts=total_discounts,
    )


def _allocate_rest(lines, shipping_lines, total_discounts):
    """Spread an order-level discount that no allocation accounts for."""
    allocated = sum((line.discount for line in lines + shipping_lines), ZERO)
    rest = total_discounts - allocated
    if rest <= 0 or not lines:
        return
    shares = allocate(rest, [max(line.net, ZERO) for line in lines])
    for line, share in zip(lines, shares, strict=True):
        line.discount += share


@dataclasses.dataclass
class RefundLine:
    line_item_id: str
    quantity: Decimal
    subtotal: Decimal
    tax: Decimal


@dataclasses.dataclass
class Refund:
    id: str
    order_id: str
    created_at: datetime
    note: str
    lines: list
    shipping: Decimal
    shipping_tax: Decimal
    amount: Decimal


def parse_refund(data, policy="shop"):
    """The canonical refund of a ``refunds/create`` payload."""
    if not isinstance(data, dict) or not data.get("id") or not data.get("order_id"):
        raise ValueError("not a Shopify refund: no id or order_id")
    money = Money(policy)
    lines = [
        RefundLine(
            line_item_id=str(item.get("line_item_id")),
            quantity=Decimal(str(item.get("quantity") or 0)),
            subtotal=money(item, "subtotal"),
            tax=money(item, "total_tax"),
        )
        for item in data.get("refund_line_items") or []
    ]
    shipping = shipping_tax = ZERO
    for adjustment in data.get("order_adjustments") or []:
        if adjustment.get("kind") == "shipping_refund":
            shipping -= money(adjustment, "amount")
            shipping_tax -= money(adjustment, "tax_amount")
    amount = sum(
        (
            money(t, "amount")
            for t in data.get("transactions") or []
            if t.get("kind") == "refund" and t.get("status") in (None, "success")
        ),
        ZERO,
    )
    return Refund(
        id=str(data["id"]),
        order_id=str(data["order_id"]),
        created_at=parse_utc(data.get("created_at")),
        note=data.get("note") or "",
        lines=lines,
        shipping=shipping,
        shipping_tax=shipping_tax,
        amount=amount,
    )
