"""Shopify orders and refunds as Shopify sends them (plain Python).

``make_order`` builds the JSON document of the REST ``Order`` resource that
Shopify delivers with the ``orders/create``, ``orders/updated`` and
``orders/cancelled`` webhooks; ``make_refund`` the ``Refund`` resource of
``refunds/create``; the ``make_customers_*`` / ``make_shop_redact`` helpers the
mandatory privacy webhooks. The simulator and the tests use the same factory,
so an order created in the simulator and the webhook about it agree.

Totals are computed the way Shopify does:

* a line's discounts are its ``discount_allocations`` (line-level discounts
  first, then order-level discounts spread ``across`` the lines in proportion
  to what is left of each line, the cents left over going to the lines with
  the largest remainders);
* each tax line is rounded half up to the cent per line (line item or
  shipping line), on the discounted line amount; in a tax-included shop the
  tax is the part of the (tax-included) amount ``amount * rate / (1 + rates)``;
* ``subtotal_price`` = line items − their discounts; ``total_tax`` = the sum
  of every tax line; ``total_price`` = subtotal + shipping (+ taxes unless
  they are included).

Line ``total_discount`` is "0.00", as in current webhooks (Shopify documents
it as superseded by ``discount_allocations``).
"""

import hashlib
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
DEFAULT_CREATED_AT = "2026-11-20T12:00:00-05:00"
DEFAULT_CUSTOMER = {
    "id": 6940095564088,
    "email": "jane.doe@example.com",
    "first_name": "Jane",
    "last_name": "Doe",
    "phone": "+15145550101",
}
DEFAULT_ADDRESS = {
    "first_name": "Jane",
    "last_name": "Doe",
    "name": "Jane Doe",
    "company": None,
    "address1": "1200 Rue Sainte-Catherine O",
    "address2": "Apt 4",
    "city": "Montreal",
    "province": "Quebec",
    "province_code": "QC",
    "country": "Canada",
    "country_code": "CA",
    "zip": "H3B 1K9",
    "phone": "+15145550101",
    "latitude": 45.5,
    "longitude": -73.57,
}


def money(value):
    """``value`` as a Decimal rounded half up to the cent."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value):
    return str(money(value))


def money_set(value, currency):
    amount = fmt(value)
    return {
        "shop_money": {"amount": amount, "currency_code": currency},
        "presentment_money": {"amount": amount, "currency_code": currency},
    }


def stable_id(text, digits=13):
    """A numeric id derived from ``text`` (variant and product ids of a SKU)."""
    return int(hashlib.sha1(text.encode()).hexdigest(), 16) % 10**digits


def gid(kind, ident):
    return f"gid://shopify/{kind}/{ident}"


def allocate(total, weights):
    """Split ``total`` (cents) in proportion to ``weights``: floor each share,
    then give the cents left to the largest remainders (first line first)."""
    total = money(total)
    weight_sum = sum(weights)
    if not weight_sum or not total:
        return [Decimal("0.00")] * len(weights)
    cents = int(total / CENT)
    exact = [Decimal(cents) * w / weight_sum for w in weights]
    shares = [int(e) for e in exact]
    left = cents - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[:left]:
        shares[i] += 1
    return [Decimal(s) * CENT for s in shares]


def tax_amounts(amount, rates, taxes_included):
    """One rounded tax amount per rate on ``amount`` (Shopify: per line)."""
    amount = Decimal(str(amount))
    if taxes_included:
        divisor = 1 + sum(rates, Decimal(0))
        return [money(amount * rate / divisor) for rate in rates]
    return [money(amount * rate) for rate in rates]


def _taxes(amount, tax_rates, taxes_included, currency):
    amounts = tax_amounts(amount, [rate for _title, rate in tax_rates], taxes_included)
    return [
        {
            "title": title,
            "rate": float(rate),
            "price": fmt(value),
            "price_set": money_set(value, currency),
            "channel_liable": False,
        }
        for (title, rate), value in zip(tax_rates, amounts, strict=True)
    ]


def _tax_rates(tax_rate, tax_title):
    """[(title, Decimal rate)] from a rate, or a list of (title, rate)."""
    if tax_rate is None or tax_rate == 0:
        return []
    if isinstance(tax_rate, list | tuple):
        return [(title, Decimal(str(rate))) for title, rate in tax_rate]
    return [(tax_title, Decimal(str(tax_rate)))]


def _line_discount(value, gross):
    """A line discount given as an amount (``2.5``) or a percentage (``"10%"``)."""
    if value in (None, 0, "0", ""):
        return None
    if isinstance(value, str) and value.endswith("%"):
        percent = Decimal(value[:-1])
        return "percentage", percent, money(gross * percent / 100)
    return "fixed_amount", money(value), min(money(value), gross)


def _order_discount(order_discount):
    """(code, value_type, value) from a tuple or a dict."""
    if not order_discount:
        return None
    if isinstance(order_discount, dict):
        return (
            order_discount.get("code", "DISCOUNT"),
            order_discount.get("value_type", "percentage"),
            Decimal(str(order_discount["value"])),
        )
    code, value_type, value = order_discount
    return code, value_type, Decimal(str(value))


def _address(values):
    if values is None:
        return None
    address = dict(DEFAULT_ADDRESS)
    address.update(values)
    first, last = address.get("first_name"), address.get("last_name")
    if "name" not in values and (first or last):
        address["name"] = " ".join(p for p in (first, last) if p)
    return address


def _line_spec(spec):
    """A line item spec as a dict: a tuple ``(sku, quantity, price[,
    discount[, title]])`` or a dict with those keys and ``kind``
    (``product``, ``custom``, ``gift_card``, ``tip``), ``taxable``,
    ``requires_shipping``, ``current_quantity``, ``product_exists``."""
    if isinstance(spec, dict):
        item = dict(spec)
    else:
        item = {"sku": spec[0], "quantity": spec[1], "price": spec[2]}
        if len(spec) > 3:
            item["discount"] = spec[3]
        if len(spec) > 4:
            item["title"] = spec[4]
    kind = item.setdefault("kind", "product")
    item["quantity"] = int(item.get("quantity", 1))
    item["price"] = money(item["price"])
    item["sku"] = item.get("sku") or ""
    item.setdefault("title", f"Product {item['sku']}" if item["sku"] else "Custom item")
    item.setdefault("taxable", kind in ("product", "custom"))
    item.setdefault("requires_shipping", kind == "product")
    item.setdefault("current_quantity", item["quantity"])
    return item


def _item_ids(item):
    """(variant id, product id) of a line item: none for custom items and
    tips; a gift card is a product of the shop."""
    if item["kind"] in ("custom", "tip"):
        return None, None
    key = item["sku"] or item["title"]
    product_id = stable_id(f"product:{key}")
    if item.get("product_exists") is False:
        product_id = None  # deleted since: the line keeps its variant id only
    return stable_id(f"variant:{key}"), product_id


def _apply_discount(spec, base, applications, allocations, target_type):
    """Allocate a discount ``(code, value_type, value)`` across ``base``
    (the discountable amount of each target): appends its discount
    application and each target's (application index, amount)."""
    code, value_type, value = spec
    total_base = sum(base, Decimal(0))
    if value_type == "percentage":
        total = money(total_base * value / 100)
    else:
        total = min(money(value), total_base)
    index = len(applications)
    applications.append(
        {
            "target_type": target_type,
            "type": "discount_code",
            "value": str(float(value)),
            "value_type": value_type,
            "allocation_method": "across",
            "target_selection": "all",
            "code": code,
        }
    )
    for target, share in zip(allocations, allocate(total, base), strict=True):
        if share:
            target.append((index, share))
    return {"code": code, "amount": fmt(total), "type": value_type}


def _allocations(allocations, currency):
    return [
        {
            "amount": fmt(amount),
            "amount_set": money_set(amount, currency),
            "discount_application_index": index,
        }
        for index, amount in allocations
    ]


def _payment_terms(payment_terms, total, currency, created_at):
    """A B2B order's ``payment_terms``: ``(name, type, due_in_days)``."""
    if not payment_terms:
        return None
    if isinstance(payment_terms, dict):
        return payment_terms
    name, terms_type, days = payment_terms
    return {
        "id": 306744467,
        "payment_terms_name": name,
        "payment_terms_type": terms_type,
        "due_in_days": days,
        "amount": fmt(total),
        "currency": currency,
        "created_at": created_at,
        "updated_at": created_at,
        "payment_schedules": [
            {
                "id": 383350679,
                "amount": fmt(total),
                "currency": currency,
                "issued_at": created_at,
                "due_at": None,
                "completed_at": None,
                "expected_payment_method": "shopify_payments",
            }
        ],
    }


def make_order(  # noqa: C901 - one document, built field by field
    order_id,
    name,
    lines,
    shipping=("standard", "Standard Shipping", "10.00"),
    tax_rate=0.05,
    tax_title="GST",
    taxes_included=False,
    order_discount=None,
    financial_status="paid",
    fulfillment_status=None,
    currency="CAD",
    customer=None,
    billing_address=None,
    shipping_address=None,
    created_at=DEFAULT_CREATED_AT,
    updated_at=None,
    cancelled_at=None,
    payment_gateway_names=("shopify_payments",),
    shipping_taxable=True,
    note=None,
    note_attributes=(),
    tags="",
    po_number=None,
    payment_terms=None,
    company=None,
    shipping_discount=None,
    tip=None,
    refunds=(),
):
    """An order as Shopify's REST/webhook JSON (a dict, ready for json.dumps).

    :param lines: ``[(sku, quantity, unit_price, line_discount)]``; the
        discount (optional) is an amount for the whole line (``"2.00"``) or a
        percentage (``"10%"``); a 5th item gives the title. A dict gives more
        (see ``_line_spec``): custom items, gift cards, tips, a
        ``current_quantity`` after an order edit
    :param shipping: ``(code, title, price)``, or a list of them, or None
    :param tax_rate: a rate (``0.05``) titled ``tax_title``, or a list of
        ``(title, rate)``; 0/None for no tax
    :param order_discount: ``(code, "percentage" | "fixed_amount", value)``:
        a discount code on all line items, allocated across them
    :param shipping_discount: the same, on the shipping lines
    :param customer: dict merged into the default customer, or ``False``
        for a guest checkout without customer
    :param note_attributes: ``[(name, value)]`` (cart attributes)
    :param tags: a comma-separated string or a list
    :param payment_terms: ``(name, type, due_in_days)`` e.g.
        ``("Net 30", "NET", 30)``, or Shopify's dict
    :param company: a B2B order's company: ``{"id": ..., "name": ...}``
        (its name goes on both addresses)
    :param tip: a tip amount (a tip line item)
    :param refunds: ``[(sku, quantity, restock_type)]`` already refunded
        (listed in ``refunds``; the units leave ``current_quantity``)

    Order edits (a ``current_quantity`` below ``quantity``) and refunds
    leave ``total_price``, ``subtotal_price`` and ``total_tax`` as they were
    and change their ``current_*`` twins, as Shopify documents them.
    """
    updated_at = updated_at or created_at
    rates = _tax_rates(tax_rate, tax_title)
    applications, codes = [], []
    specs = [_line_spec(spec) for spec in lines]
    if tip:
        specs.append(
            _line_spec({"kind": "tip", "title": "Tip", "quantity": 1, "price": tip})
        )
    refunded = {}
    for sku, quantity, _restock in refunds:
        refunded[sku] = refunded.get(sku, 0) + quantity
    items = []
    for index, spec in enumerate(specs):
        gross = spec["price"] * spec["quantity"]
        item = dict(spec, gross=gross, allocations=[], index=index)
        item["current_quantity"] = spec["current_quantity"] - refunded.get(
            spec["sku"], 0
        )
        line_discount = _line_discount(spec.get("discount"), gross)
        if line_discount:
            value_type, value, amount = line_discount
            item["allocations"].append((len(applications), amount))
            applications.append(
                {
                    "target_type": "line_item",
                    "type": "manual",
                    "value": str(float(value)),
                    "value_type": value_type,
                    "allocation_method": "one",
                    "target_selection": "explicit",
                    "title": f"{spec['title']} discount",
                    "description": f"{spec['title']} discount",
                }
            )
        items.append(item)

    order_disc = _order_discount(order_discount)
    if order_disc:
        goods = [i for i in items if i["kind"] in ("product", "custom")]
        codes.append(
            _apply_discount(
                order_disc,
                [i["gross"] - sum(a for _x, a in i["allocations"]) for i in goods],
                applications,
                [i["allocations"] for i in goods],
                "line_item",
            )
        )

    def net(item, quantity):
        """The item's net amount for ``quantity`` units (its discount
        follows the quantity)."""
        discount = sum((a for _x, a in item["allocations"]), Decimal(0))
        if quantity != item["quantity"]:
            discount = money(discount * quantity / item["quantity"])
        return item["price"] * quantity - discount

    line_items = []
    for item in items:
        variant_id, product_id = _item_ids(item)
        line_id = order_id * 1000 + item["index"] + 1
        taxed = rates if item["taxable"] else []
        doc = {
            "id": line_id,
            "admin_graphql_api_id": gid("LineItem", line_id),
            "variant_id": variant_id,
            "product_id": product_id,
            "sku": item["sku"],
            "title": item["title"],
            "name": item["title"],
            "variant_title": None,
            "vendor": "Distribution Sync Demo" if variant_id else None,
            "quantity": item["quantity"],
            "current_quantity": item["current_quantity"],
            "fulfillable_quantity": item["current_quantity"]
            if item["requires_shipping"]
            else 0,
            "fulfillment_status": None,
            "fulfillment_service": "manual",
            "price": fmt(item["price"]),
            "price_set": money_set(item["price"], currency),
            "total_discount": "0.00",
            "total_discount_set": money_set(0, currency),
            "discount_allocations": _allocations(item["allocations"], currency),
            "tax_lines": _taxes(
                net(item, item["current_quantity"]), taxed, taxes_included, currency
            ),
            "taxable": bool(taxed),
            "requires_shipping": item["requires_shipping"],
            "gift_card": item["kind"] == "gift_card",
            "grams": 500 if item["requires_shipping"] else 0,
            "product_exists": product_id is not None,
            "properties": [],
            "duties": [],
        }
        if item["kind"] == "tip":
            doc["tip_payment_gateway"] = (payment_gateway_names or [None])[0]
            doc["tip_payment_method"] = "card"
        item["taxed"] = taxed
        line_items.append(doc)

    shipping_specs = []
    if shipping:
        shipping_specs = [shipping] if isinstance(shipping[0], str) else list(shipping)
    ships = [
        {"code": code, "title": title, "price": money(price), "allocations": []}
        for code, title, price in shipping_specs
    ]
    ship_disc = _order_discount(shipping_discount)
    if ship_disc and ships:
        codes.append(
            _apply_discount(
                ship_disc,
                [ship["price"] for ship in ships],
                applications,
                [ship["allocations"] for ship in ships],
                "shipping_line",
            )
        )
    shipping_lines = []
    for index, ship in enumerate(ships):
        ship_id = order_id * 100 + index + 1
        discounted = ship["price"] - sum((a for _x, a in ship["allocations"]), 0)
        shipping_lines.append(
            {
                "id": ship_id,
                "code": ship["code"],
                "title": ship["title"],
                "source": "shopify",
                "carrier_identifier": None,
                "requested_fulfillment_service_id": None,
                "phone": None,
                "is_removed": False,
                "price": fmt(ship["price"]),
                "price_set": money_set(ship["price"], currency),
                # line-level discounts only: a discount code's allocation
                # is in discount_allocations
                "discounted_price": fmt(ship["price"]),
                "discounted_price_set": money_set(ship["price"], currency),
                "discount_allocations": _allocations(ship["allocations"], currency),
                "tax_lines": _taxes(
                    discounted,
                    rates if shipping_taxable else [],
                    taxes_included,
                    currency,
                ),
                "_net": discounted,
            }
        )

    def totals(current):
        """(line items price, subtotal, discounts, tips, tax lines) for the
        ordered (or current) quantities."""
        quantity = "current_quantity" if current else "quantity"
        price = sum((i["price"] * i[quantity] for i in items), Decimal(0))
        goods = [i for i in items if i["kind"] != "tip"]
        subtotal = sum((net(i, i[quantity]) for i in goods), Decimal(0))
        tips = sum((net(i, i[quantity]) for i in items if i["kind"] == "tip"), 0)
        discounts = sum((i["price"] * i[quantity] for i in goods), 0) - subtotal
        discounts += sum((money(s["price"]) - s["_net"] for s in shipping_lines), 0)
        tax_lines = {}
        taxed = [(net(i, i[quantity]), i["taxed"]) for i in items]
        taxed += [
            (ship["_net"], rates if shipping_taxable else []) for ship in shipping_lines
        ]
        for amount, item_rates in taxed:
            values = tax_amounts(amount, [r for _t, r in item_rates], taxes_included)
            for (title, rate), value in zip(item_rates, values, strict=True):
                key = (title, float(rate))
                tax_lines[key] = tax_lines.get(key, Decimal(0)) + value
        return price, subtotal, discounts, tips, tax_lines

    line_items_price, subtotal, discounts, tips, order_tax_lines = totals(False)
    _c_price, c_subtotal, c_discounts, c_tips, c_tax_lines = totals(True)
    shipping_total = sum((s["_net"] for s in shipping_lines), Decimal(0))
    shipping_price = sum((money(s["price"]) for s in shipping_lines), Decimal(0))
    total_tax = sum(order_tax_lines.values(), Decimal(0))
    c_total_tax = sum(c_tax_lines.values(), Decimal(0))
    total = subtotal + tips + shipping_total + (0 if taxes_included else total_tax)
    c_total = (
        c_subtotal + c_tips + shipping_total + (0 if taxes_included else c_total_tax)
    )
    for ship in shipping_lines:
        del ship["_net"]

    if customer is False:
        customer_doc = None
    else:
        customer_doc = dict(DEFAULT_CUSTOMER)
        customer_doc.update(customer or {})
    address_defaults = {}
    if customer_doc:
        address_defaults = {
            "first_name": customer_doc.get("first_name"),
            "last_name": customer_doc.get("last_name"),
            "phone": customer_doc.get("phone"),
        }
    if company:
        address_defaults["company"] = company.get("name")
    billing = _address(dict(address_defaults, **(billing_address or {})))
    shipping_addr = _address(dict(address_defaults, **(shipping_address or {})))
    if customer_doc:
        customer_doc.update(
            {
                "admin_graphql_api_id": gid("Customer", customer_doc["id"]),
                "created_at": created_at,
                "updated_at": updated_at,
                "state": "enabled",
                "currency": currency,
                "tax_exempt": False,
                "default_address": dict(
                    billing, id=customer_doc["id"] + 1, default=True
                ),
            }
        )
    if isinstance(note_attributes, dict):
        note_attributes = list(note_attributes.items())
    if isinstance(tags, list | tuple):
        tags = ", ".join(tags)
    outstanding = Decimal(0) if financial_status == "paid" else c_total

    return {
        "id": order_id,
        "admin_graphql_api_id": gid("Order", order_id),
        "name": name,
        "order_number": int("".join(c for c in name if c.isdigit()) or 0),
        "email": customer_doc.get("email") if customer_doc else None,
        "contact_email": customer_doc.get("email") if customer_doc else None,
        "phone": customer_doc.get("phone") if customer_doc else None,
        "created_at": created_at,
        "processed_at": created_at,
        "updated_at": updated_at,
        "cancelled_at": cancelled_at,
        "cancel_reason": "customer" if cancelled_at else None,
        "closed_at": None,
        "confirmed": True,
        "test": False,
        "note": note,
        "note_attributes": [
            {"name": key, "value": value} for key, value in note_attributes
        ],
        "tags": tags or "",
        "po_number": po_number,
        "company": {"id": company["id"], "location_id": company["id"] + 7}
        if company and company.get("id")
        else None,
        "payment_terms": _payment_terms(payment_terms, total, currency, created_at),
        "source_name": "web",
        "financial_status": financial_status,
        "fulfillment_status": fulfillment_status,
        "currency": currency,
        "presentment_currency": currency,
        "taxes_included": taxes_included,
        "tax_exempt": False,
        "estimated_taxes": False,
        "total_line_items_price": fmt(line_items_price),
        "total_line_items_price_set": money_set(line_items_price, currency),
        "subtotal_price": fmt(subtotal),
        "subtotal_price_set": money_set(subtotal, currency),
        "current_subtotal_price": fmt(c_subtotal),
        "current_subtotal_price_set": money_set(c_subtotal, currency),
        "total_discounts": fmt(discounts),
        "total_discounts_set": money_set(discounts, currency),
        "current_total_discounts": fmt(c_discounts),
        "current_total_discounts_set": money_set(c_discounts, currency),
        "total_shipping_price_set": money_set(shipping_price, currency),
        "total_tax": fmt(total_tax),
        "total_tax_set": money_set(total_tax, currency),
        "current_total_tax": fmt(c_total_tax),
        "current_total_tax_set": money_set(c_total_tax, currency),
        "total_price": fmt(total),
        "total_price_set": money_set(total, currency),
        "current_total_price": fmt(c_total),
        "current_total_price_set": money_set(c_total, currency),
        "total_outstanding": fmt(outstanding),
        "total_tip_received": fmt(tips),
        "total_weight": sum(i["grams"] * i["quantity"] for i in line_items),
        "customer_locale": "en-CA",
        "browser_ip": "203.0.113.7",
        "customer": customer_doc,
        "billing_address": billing,
        "shipping_address": shipping_addr,
        "line_items": line_items,
        "shipping_lines": shipping_lines,
        "discount_applications": applications,
        "discount_codes": codes,
        "tax_lines": [
            {
                "title": title,
                "rate": rate,
                "price": fmt(value),
                "price_set": money_set(value, currency),
                "channel_liable": False,
            }
            for (title, rate), value in order_tax_lines.items()
        ],
        "payment_gateway_names": list(payment_gateway_names),
        "fulfillments": [],
        "refunds": _refunds(order_id, refunds, line_items, created_at),
    }


def _refunds(order_id, refunds, line_items, created_at):
    """The ``refunds`` of an order: one refund of the ``(sku, quantity,
    restock_type)`` given (amounts left out: the order import reads the
    quantities)."""
    if not refunds:
        return []
    by_sku = {item["sku"]: item for item in line_items}
    return [
        {
            "id": order_id * 10 + 1,
            "order_id": order_id,
            "created_at": created_at,
            "refund_line_items": [
                {
                    "id": order_id * 100 + index,
                    "line_item_id": by_sku[sku]["id"],
                    "quantity": quantity,
                    "restock_type": restock_type,
                }
                for index, (sku, quantity, restock_type) in enumerate(refunds)
            ],
            "transactions": [],
            "order_adjustments": [],
        }
    ]


def updated(order, updated_at, **changes):
    """A copy of ``order`` with a new ``updated_at`` and top-level changes."""
    doc = dict(order, updated_at=updated_at)
    doc.update(changes)
    return doc


def make_refund(
    refund_id,
    order,
    lines=(),
    shipping=False,
    created_at="2026-11-22T09:00:00-05:00",
    note="Customer return",
    restock=True,
):
    """A refund of ``order`` as the ``refunds/create`` webhook sends it.

    :param lines: ``[(sku or line item id, quantity)]``
    :param shipping: True to refund the whole shipping (as an order
        adjustment of kind ``shipping_refund``)
    """
    currency = order["currency"]
    included = order["taxes_included"]
    items = {li["sku"]: li for li in order["line_items"]}
    items.update({li["id"]: li for li in order["line_items"]})
    refund_lines = []
    amount = Decimal(0)
    for index, (key, quantity) in enumerate(lines):
        item = items[key]
        gross = money(item["price"]) * item["quantity"]
        discount = sum(
            (money(a["amount"]) for a in item["discount_allocations"]), Decimal(0)
        )
        share = Decimal(quantity) / item["quantity"]
        subtotal = money((gross - discount) * share)
        tax = sum(
            (money(money(t["price"]) * share) for t in item["tax_lines"]), Decimal(0)
        )
        refund_lines.append(
            {
                "id": refund_id * 100 + index + 1,
                "line_item_id": item["id"],
                "quantity": quantity,
                "restock_type": "return" if restock else "no_restock",
                "location_id": None,
                "subtotal": fmt(subtotal),
                "subtotal_set": money_set(subtotal, currency),
                "total_tax": fmt(tax),
                "total_tax_set": money_set(tax, currency),
                "line_item": item,
            }
        )
        amount += subtotal if included else subtotal + tax
    adjustments = []
    if shipping:
        for ship in order["shipping_lines"]:
            price = money(ship["discounted_price"])
            tax = sum((money(t["price"]) for t in ship["tax_lines"]), Decimal(0))
            base = price - tax if included else price
            adjustments.append(
                {
                    "id": refund_id * 100 + 50 + len(adjustments),
                    "order_id": order["id"],
                    "refund_id": refund_id,
                    "amount": fmt(-base),
                    "amount_set": money_set(-base, currency),
                    "tax_amount": fmt(-tax),
                    "tax_amount_set": money_set(-tax, currency),
                    "kind": "shipping_refund",
                    "reason": "Shipping refund",
                }
            )
            amount += base + tax
    gateway = (order.get("payment_gateway_names") or ["manual"])[0]
    return {
        "id": refund_id,
        "admin_graphql_api_id": gid("Refund", refund_id),
        "order_id": order["id"],
        "created_at": created_at,
        "processed_at": created_at,
        "note": note,
        "restock": restock,
        "user_id": None,
        "refund_line_items": refund_lines,
        "order_adjustments": adjustments,
        "transactions": [
            {
                "id": refund_id * 10 + 1,
                "order_id": order["id"],
                "kind": "refund",
                "gateway": gateway,
                "status": "success",
                "amount": fmt(amount),
                "currency": currency,
                "created_at": created_at,
            }
        ],
        "duties": [],
    }


def make_transaction(
    transaction_id,
    order,
    amount,
    gateway="shopify_payments",
    kind="sale",
    status="success",
    processed_at=None,
    gift_card_last_characters="x7ab",
):
    """A payment transaction of ``order`` as the ``order_transactions/create``
    webhook sends it (the REST ``Transaction`` resource); a gift card's
    receipt names the card by its last characters."""
    processed_at = processed_at or order["processed_at"]
    receipt = {}
    if gateway == "gift_card":
        receipt = {
            "gift_card_id": stable_id(f"gift_card:{gift_card_last_characters}"),
            "gift_card_last_characters": gift_card_last_characters,
        }
    return {
        "id": transaction_id,
        "admin_graphql_api_id": gid("OrderTransaction", transaction_id),
        "order_id": order["id"],
        "kind": kind,
        "gateway": gateway,
        "status": status,
        "message": None,
        "created_at": processed_at,
        "processed_at": processed_at,
        "test": False,
        "authorization": None,
        "location_id": None,
        "user_id": None,
        "parent_id": None,
        "device_id": None,
        "error_code": None,
        "source_name": "web",
        "receipt": receipt,
        "amount": fmt(amount),
        "currency": order["presentment_currency"],
        "payment_id": f"c{order['id']}.{transaction_id}",
    }


def make_customers_redact(customer=None, orders_to_redact=(), shop_id=548380009):
    customer = dict(DEFAULT_CUSTOMER, **(customer or {}))
    return {
        "shop_id": shop_id,
        "shop_domain": "demo-store.myshopify.com",
        "customer": {
            "id": customer["id"],
            "email": customer["email"],
            "phone": customer["phone"],
        },
        "orders_to_redact": list(orders_to_redact),
    }


def make_customers_data_request(
    customer=None, orders_requested=(), request_id=9999, shop_id=548380009
):
    doc = make_customers_redact(customer, shop_id=shop_id)
    del doc["orders_to_redact"]
    doc["orders_requested"] = list(orders_requested)
    doc["data_request"] = {"id": request_id}
    return doc


def make_shop_redact(shop_id=548380009):
    return {"shop_id": shop_id, "shop_domain": "demo-store.myshopify.com"}
