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
allocated across the lines in proportion to their discounted amounts. A
shipping line's discount is likewise the sum of its allocations (a free
shipping code), else ``price - discounted_price``.

A line item's quantity is what the customer still buys: ``current_quantity``
(the quantity less what order edits removed and what refunds took back) plus
what was refunded as a return or without restocking (the goods were sold: a
credit note answers those refunds, not the order). Its discount follows the
quantity when an edit removed part of it.

Line items are of four kinds: products (matched by variant and SKU), custom
items (no SKU and no variant — a charge or a service typed in the Shopify
admin — or no SKU and ``product_exists`` false: its product was deleted),
gift cards sold (``gift_card``) and tips (the lines that carry
``tip_payment_gateway``; a ``total_tip_received`` no tip line accounts for
becomes a tip line of its own).

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

    def optional(self, obj, field):
        """The amount, or None when the payload does not carry the field."""
        if obj.get(field) in (None, "") and not obj.get(f"{field}_set"):
            return None
        return self(obj, field)


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


PRODUCT, CUSTOM, GIFT_CARD, TIP = "product", "custom", "gift_card", "tip"


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
    kind: str = PRODUCT
    name: str = ""

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

    @property
    def label(self):
        """The line as a clerk knows it: its Shopify title, with its SKU."""
        title = self.name or self.title or self.product_key
        return f"{title} [{self.sku}]" if self.sku and self.sku != title else title


@dataclasses.dataclass
class PaymentTerms:
    """A B2B order's ``payment_terms`` (net days, on receipt, fixed date)."""

    name: str
    type: str
    due_in_days: int | None


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
    current_total_price: Decimal | None = None
    current_total_tax: Decimal | None = None
    current_subtotal_price: Decimal | None = None
    total_tip: Decimal = ZERO
    note: str = ""
    note_attributes: list = dataclasses.field(default_factory=list)
    tags: list = dataclasses.field(default_factory=list)
    po_number: str = ""
    payment_terms: PaymentTerms | None = None
    company_name: str = ""
    company_id: str = ""
    edited: bool = False

    @property
    def skus(self):
        return [line.sku for line in self.lines if line.sku]

    @property
    def totals(self):
        """Shopify's (total, tax) pairs Odoo's order may equal: for an order
        that was edited or refunded, its current totals first (after edits
        and refunds), then the order's totals; else the order's totals."""
        pairs = []
        if self.edited and self.current_total_price is not None:
            tax = self.current_total_tax
            pairs.append(
                (self.current_total_price, self.total_tax if tax is None else tax)
            )
        pairs.append((self.total_price, self.total_tax))
        return pairs

    @property
    def is_b2b(self):
        return bool(self.company_name)

    @property
    def delivery_note(self):
        """The note and the note attributes, as plain text lines."""
        lines = [self.note.strip()] if self.note and self.note.strip() else []
        lines += [f"{name}: {value}" for name, value in self.note_attributes]
        return "\n".join(lines)


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


def _quantity(value):
    try:
        return Decimal(str(value or 0))
    except InvalidOperation as err:
        raise ValueError(f"not a quantity: {value!r}") from err


def _sold_back(data):
    """{line item id: quantity refunded but sold} — returns and refunds
    without restocking (a refund that cancels unshipped units is not)."""
    sold = {}
    for refund in data.get("refunds") or []:
        for item in refund.get("refund_line_items") or []:
            if item.get("restock_type") == "cancel":
                continue
            key = str(item.get("line_item_id"))
            sold[key] = sold.get(key, Decimal(0)) + _quantity(item.get("quantity"))
    return sold


def _kind(item):
    if "tip_payment_gateway" in item:
        return TIP
    if item.get("gift_card"):
        return GIFT_CARD
    if (item.get("sku") or "").strip():
        return PRODUCT
    if not item.get("variant_id") or item.get("product_exists") is False:
        return CUSTOM  # typed in the admin, or its product was deleted
    return PRODUCT


def _line_item(item, money, sold_back):
    ordered = _quantity(item.get("quantity"))
    quantity = ordered
    if item.get("current_quantity") is not None:
        current = _quantity(item["current_quantity"])
        quantity = min(ordered, current + sold_back.get(str(item["id"]), 0))
    discount = _allocated(item, money)
    if discount and ordered and quantity != ordered:
        discount = (discount * quantity / ordered).quantize(CENT, ROUND_HALF_UP)
    title = item.get("title") or item.get("name") or ""
    return Line(
        id=str(item["id"]),
        title=title,
        name=item.get("name") or title,
        quantity=quantity,
        price=money(item, "price"),
        discount=discount,
        tax_lines=_tax_lines(item, money) if item.get("taxable", True) else [],
        sku=(item.get("sku") or "").strip(),
        variant_id=str(item.get("variant_id") or ""),
        kind=_kind(item),
    )


def _shipping_line(ship, money):
    allocated = _allocated(ship, money)
    if not allocated and ship.get("discounted_price") is not None:
        allocated = money(ship, "price") - money(ship, "discounted_price")
    return Line(
        id=str(ship["id"]),
        title=ship.get("title") or "",
        quantity=Decimal(1),
        price=money(ship, "price"),
        discount=allocated,
        tax_lines=_tax_lines(ship, money),
        code=ship.get("code") or "",
    )


def _tip_rest(data, lines, money, currency):
    """A tip line for a ``total_tip_received`` no tip line item carries.
    ``total_tip_received`` is in the shop's currency only: an order imported
    in the customer's currency gets no such line when the two differ (its
    total then tells the tip is missing)."""
    total_tip = money(data, "total_tip_received")
    tips = sum((line.net for line in lines if line.kind == TIP), ZERO)
    if tips or total_tip <= 0 or currency != data.get("currency"):
        return tips or total_tip, None
    tip = Line(
        id=f"{data['id']}:tip",
        title="Tip",
        name="Tip",
        quantity=Decimal(1),
        price=total_tip,
        discount=ZERO,
        tax_lines=[],
        kind=TIP,
    )
    return total_tip, tip


def _payment_terms(data):
    terms = data.get("payment_terms")
    if not isinstance(terms, dict) or not terms:
        return None
    days = terms.get("due_in_days")
    return PaymentTerms(
        name=str(terms.get("payment_terms_name") or "").strip(),
        type=str(terms.get("payment_terms_type") or "").strip().upper(),
        due_in_days=int(days) if days not in (None, "") else None,
    )


def _note_attributes(data):
    attributes = []
    for attribute in data.get("note_attributes") or []:
        if not isinstance(attribute, dict):
            continue
        name = str(attribute.get("name") or "").strip()
        value = attribute.get("value")
        value = "" if value is None else str(value).strip()
        if name or value:
            attributes.append((name, value))
    return attributes


def _tags(value):
    """Shopify's comma-separated tags, each once (case aside), in order."""
    if isinstance(value, list):
        value = ",".join(str(tag) for tag in value)
    seen, tags = set(), []
    for tag in str(value or "").split(","):
        tag = " ".join(tag.split())
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            tags.append(tag)
    return tags


def _company(data):
    """(Shopify company id, company name) of the company that buys: a B2B
    order's, else the company on the billing address (or on the shipping
    address when the billing address is the same place or missing). A
    company named only on a shipping address elsewhere is where the parcel
    goes (a consumer's workplace), not who pays."""
    company = data.get("company") if isinstance(data.get("company"), dict) else {}
    company_id = str(company.get("id") or "")
    billing = data.get("billing_address") or {}
    shipping = data.get("shipping_address") or {}
    name = (billing.get("company") or "").strip()
    if not name and (company_id or not billing or _same_place(billing, shipping)):
        name = (shipping.get("company") or company.get("name") or "").strip()
    return company_id, " ".join(name.split())


def _same_place(one, other):
    def key(address):
        return tuple(
            " ".join(str(address.get(field) or "").lower().split())
            for field in ("address1", "address2", "zip", "city", "country_code")
        )

    return key(one) == key(other)


def parse_order(data, policy="shop"):
    """The canonical order of an ``orders/*`` payload (a dict)."""
    if not isinstance(data, dict) or not data.get("id"):
        raise ValueError("not a Shopify order: no id")
    money = Money(policy)
    sold_back = _sold_back(data)
    items = data.get("line_items") or []
    lines = [_line_item(item, money, sold_back) for item in items]
    shipping_lines = [
        _shipping_line(ship, money)
        for ship in data.get("shipping_lines") or []
        if not ship.get("is_removed")
    ]
    total_discounts = money(data, "total_discounts")
    _allocate_rest(
        lines,
        shipping_lines,
        total_discounts
        - sum((_allocated(obj, money) for obj in items), ZERO)
        - sum((line.discount for line in shipping_lines), ZERO),
    )
    if policy == "presentment":
        currency = data.get("presentment_currency") or data.get("currency")
    else:
        currency = data.get("currency")
    if not currency:
        raise ValueError("the order has no currency")
    total_tip, tip = _tip_rest(data, lines, money, currency)
    if tip:
        lines.append(tip)
    company_id, company_name = _company(data)
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
        current_total_price=money.optional(data, "current_total_price"),
        current_total_tax=money.optional(data, "current_total_tax"),
        current_subtotal_price=money.optional(data, "current_subtotal_price"),
        total_tip=total_tip,
        note=str(data.get("note") or "").strip(),
        note_attributes=_note_attributes(data),
        tags=_tags(data.get("tags")),
        po_number=str(data.get("po_number") or "").strip(),
        payment_terms=_payment_terms(data),
        company_name=company_name,
        company_id=company_id,
        edited=bool(data.get("refunds")) or any(map(_edited, items)),
    )


def _edited(item):
    """Whether an order edit or a refund took units off the line item."""
    current = item.get("current_quantity")
    return current is not None and _quantity(current) != _quantity(item.get("quantity"))


def _allocate_rest(lines, shipping_lines, rest):
    """Spread an order-level discount that no allocation accounts for (the
    ``rest`` of ``total_discounts``) across the products' lines."""
    goods = [line for line in lines if line.kind in (PRODUCT, CUSTOM)]
    if rest <= 0 or not goods:
        return
    shares = allocate(rest, [max(line.net, ZERO) for line in goods])
    for line, share in zip(goods, shares, strict=True):
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


@dataclasses.dataclass
class Transaction:
    """A payment transaction of an order (``order_transactions/create``)."""

    id: str
    order_id: str
    kind: str
    gateway: str
    status: str
    amount: Decimal
    currency: str
    processed_at: datetime
    gift_card_last_characters: str


def parse_transaction(data):
    """The canonical transaction of an ``order_transactions/create`` payload
    (Shopify's ``Transaction`` resource; its amount is in the currency the
    customer paid in)."""
    if not isinstance(data, dict) or not data.get("id") or not data.get("order_id"):
        raise ValueError("not a Shopify transaction: no id or order_id")
    receipt = data.get("receipt") if isinstance(data.get("receipt"), dict) else {}
    return Transaction(
        id=str(data["id"]),
        order_id=str(data["order_id"]),
        kind=str(data.get("kind") or "").lower(),
        gateway=str(data.get("gateway") or "").strip(),
        status=str(data.get("status") or "").lower(),
        amount=to_money(data.get("amount")),
        currency=str(data.get("currency") or "").upper(),
        processed_at=parse_utc(data.get("processed_at") or data.get("created_at")),
        gift_card_last_characters=str(
            receipt.get("gift_card_last_characters") or ""
        ).strip(),
    )
