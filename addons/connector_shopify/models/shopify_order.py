# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Shopify orders in: ``orders/create``, ``orders/updated``, ``orders/cancelled``.

All three topics converge on one idempotent sync of the order's latest state
(:meth:`_shopify_sync_order`): whatever order the webhooks arrive in, the
sale order ends in the state of the newest ``updated_at`` applied, and an
older or repeated delivery is recorded as stale / duplicate.
"""

import logging
from contextlib import contextmanager
from decimal import Decimal

import psycopg2

from odoo import Command, _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.osv import expression
from odoo.tools import email_normalize, float_compare, float_round, mute_logger

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

from ..batch_scope import batch_scope, current_scope
from ..order_payload import FINANCIAL_STATUSES, parse_order

_logger = logging.getLogger(__name__)

TOLERANCE = Decimal("0.01")
DEFAULT_CONFIRM_STATUSES = "paid,authorized"


def _dec(value):
    return Decimal(str(value)).quantize(Decimal("0.01"))


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    shopify_product_match = fields.Selection(
        [("default_code", "SKU = Internal Reference"), ("barcode", "SKU = Barcode")],
        string="Match Products By",
        default="default_code",
        help="Which product field holds the Shopify variant's SKU. A product "
        "bound to the variant id (Mappings › Bindings) wins over the SKU.",
    )
    shopify_customer_match = fields.Selection(
        [("email_phone", "Email, then phone"), ("email", "Email only")],
        string="Match Customers By",
        default="email_phone",
        help="How an order's customer is found among the contacts; when none "
        "matches, a contact is created with its invoice and delivery addresses.",
    )
    shopify_team_id = fields.Many2one("crm.team", string="Sales Team")
    shopify_pricelist_id = fields.Many2one(
        "product.pricelist",
        string="Pricelist",
        help="Used when its currency is the order's; otherwise any pricelist "
        "in the order's currency; without one, an order in another currency "
        "than the company's opens a 'missing mapping' exception.",
    )
    shopify_currency_policy = fields.Selection(
        [
            ("shop", "Shop currency (amounts converted by Shopify)"),
            ("presentment", "Customer's currency (presentment)"),
        ],
        string="Order Currency",
        default="shop",
        help="Shop currency: the order is imported in the shop's currency "
        "with the amounts Shopify converted (shop money). Customer's currency: "
        "in the currency the customer paid (presentment money). Odoo never "
        "converts the amounts itself, so totals match Shopify's to the cent.",
    )
    shopify_tax_by_rate = fields.Boolean(
        "Match Unmapped Taxes by Rate",
        default=True,
        help="A Shopify tax line (title and rate) is mapped by a 'Tax code' "
        "value map ('GST 5.0', or the title alone); without one, a sales tax "
        "of the same rate is used (price-included for tax-included shops).",
    )
    shopify_require_payment_mapping = fields.Boolean(
        "Require Payment Gateway Mapping",
        help="When set, an order paid through a gateway that has no "
        "'Payment method' value map opens a 'missing mapping' exception. "
        "The gateways are stored on the sale order in any case.",
    )
    shopify_confirm_statuses = fields.Char(
        "Confirm When Financial Status Is",
        default=DEFAULT_CONFIRM_STATUSES,
        help="Comma-separated Shopify financial statuses that confirm the "
        "sale order (e.g. paid,authorized); with any other status (pending...) "
        "the order stays a quotation until an update brings one of these.",
    )
    shopify_refund_policy = fields.Selection(
        [
            ("credit_note", "Draft credit note"),
            ("exception", "Exception for finance"),
        ],
        string="Refunds",
        default="credit_note",
        help="Draft credit note: a Shopify refund becomes a draft credit note "
        "of the order's posted invoice, for finance to check and post (an "
        "order not invoiced yet opens an exception for finance). Exception: "
        "every refund opens an exception for finance.",
    )
    shopify_uninstalled_at = fields.Datetime(
        "App Uninstalled On", readonly=True, copy=False
    )

    @api.constrains("shopify_confirm_statuses")
    def _check_shopify_confirm_statuses(self):
        known = {code for code, _label in FINANCIAL_STATUSES}
        for backend in self:
            unknown = backend._shopify_confirm_status_set() - known
            if unknown:
                raise ValidationError(
                    _(
                        "Unknown Shopify financial status(es): %(unknown)s. "
                        "Known: %(known)s.",
                        unknown=", ".join(sorted(unknown)),
                        known=", ".join(sorted(known)),
                    )
                )

    def _shopify_confirm_status_set(self):
        return {
            status.strip()
            for status in (self.shopify_confirm_statuses or "").split(",")
            if status.strip()
        }

    # ------------------------------------------------------------------
    # processors
    # ------------------------------------------------------------------
    def _shopify_process_orders_create(self, event):
        return self._shopify_sync_order(event)

    def _shopify_process_orders_updated(self, event):
        return self._shopify_sync_order(event)

    def _shopify_process_orders_cancelled(self, event):
        return self._shopify_sync_order(event, cancel=True)

    def _shopify_sync_order(self, event, cancel=False):
        """Bring the sale order to the state of the event's order."""
        with batch_scope(self.env):
            sale = self._shopify_sync_order_in_scope(event, cancel)
            self.env.flush_all()  # what it computes, computed in the scope
        return sale

    def _shopify_sync_order_in_scope(self, event, cancel):
        order = self._shopify_parse_order(event)
        Binding = self.env["dsync.binding"]
        binding = Binding._find(self, "sale.order", order.id)
        if binding:
            event._dsync_guard_version(binding, order.updated_at)
        sale = (
            self.env["sale.order"].browse(binding.res_id).exists()
            if binding and binding.res_id
            else self.env["sale.order"]
        )
        cancelled = cancel or bool(order.cancelled_at)
        if not sale and cancelled:
            # Cancelled before it was ever imported: remember the version so
            # that an older orders/create arriving late is recorded as stale.
            self._shopify_bind(sale, order.id, order.updated_at, event)
            _logger.info("Shopify order %s cancelled before import", order.name)
            return sale
        if sale:
            self._shopify_update_order(sale, order, cancelled)
        else:
            sale = self._shopify_create_order(order)
        if cancelled:
            self._shopify_cancel_order(sale, order)
        else:
            self._shopify_confirm_due(sale, [order])
        self._shopify_bind(sale, order.id, order.updated_at, event)
        return sale

    def _shopify_parse_order(self, event):
        try:
            return parse_order(event._dsync_data(), self.shopify_currency_policy)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise BusinessError(
                "invalid_payload",
                _("Event %(id)s is not a Shopify order: %(err)s", id=event.id, err=err),
            ) from err

    # ------------------------------------------------------------------
    # create / update
    # ------------------------------------------------------------------
    def _shopify_create_order(self, order):
        return self._shopify_create_orders([order])

    def _shopify_resolve(self, order):
        """What an order needs from the mappings; raises ``BusinessError``
        (unknown product, missing mapping) before anything is written."""
        resolved = {
            "pricelist": self._shopify_pricelist(order),
            "products": self._shopify_products(order.lines),
            "carriers": self._shopify_carriers(order.shipping_lines),
            "taxes": self._shopify_tax_finder(order),
        }
        self._shopify_check_gateways(order)
        return resolved

    def _shopify_create_orders(self, orders, resolved=None):
        """Sale orders of new Shopify orders, created together (one
        ``create`` for the customers, one for their addresses, one for the
        orders and one for the line bindings). Raises on the first order that
        cannot be created as Shopify has it; the caller's savepoint then
        drops them all."""
        if resolved is None:
            resolved = [self._shopify_resolve(order) for order in orders]
        addresses = self._shopify_partners_many(orders)
        vals_list = [
            self._shopify_order_vals(order, needs, *partners)
            for order, needs, partners in zip(orders, resolved, addresses, strict=True)
        ]
        sales = self.env["sale.order"].create(vals_list)
        to_bind = []
        for sale, order in zip(sales, orders, strict=True):
            self._shopify_check_amounts(sale, order)
            by_sequence = {line.sequence: line for line in sale.order_line}
            to_bind += [
                (line.id, by_sequence[seq], {"external_updated_at": order.updated_at})
                for seq, line in enumerate(order.lines, start=1)
            ]
        self._shopify_bind_many("sale.order.line", to_bind)
        return sales

    def _shopify_order_vals(self, order, needs, partner, invoice_address, shipping):
        taxes, carriers = needs["taxes"], needs["carriers"]
        line_vals = [
            self._shopify_line_vals(line, needs["products"][line.id], taxes(line), seq)
            for seq, line in enumerate(order.lines, start=1)
        ]
        line_vals += [
            self._shopify_delivery_vals(line, carriers[line.id], taxes(line), seq)
            for seq, line in enumerate(order.shipping_lines, start=1000)
        ]
        vals = {
            "company_id": self.company_id.id,
            "partner_id": partner.id,
            "partner_invoice_id": invoice_address.id,
            "partner_shipping_id": shipping.id,
            "pricelist_id": needs["pricelist"].id,
            "fiscal_position_id": False,
            "client_order_ref": order.name,
            "origin": _("Shopify %s", order.name),
            "date_order": order.created_at or fields.Datetime.now(),
            "carrier_id": next(
                iter(carriers.values()), self.env["delivery.carrier"]
            ).id,
            "order_line": [Command.create(v) for v in line_vals],
            **self._shopify_info_vals(order),
        }
        if self.shopify_team_id:
            vals["team_id"] = self.shopify_team_id.id
        return vals

    def _shopify_info_vals(self, order):
        """What Odoo only records of Shopify (never owned business data)."""
        return {
            "shopify_backend_id": self.id,
            "shopify_order_id": order.id,
            "shopify_financial_status": order.financial_status
            if order.financial_status in dict(FINANCIAL_STATUSES)
            else False,
            "shopify_payment_gateways": ", ".join(order.gateways) or False,
        }

    def _shopify_update_order(self, sale, order, cancelled):
        """Apply an update to an imported order, within the ownership rules."""
        info = self._shopify_info_vals(order)
        if sale.state == "cancel" or cancelled:
            sale.write(info)
            return
        shipped = sale._shopify_shipped()
        plan = self._shopify_line_plan(sale, order)
        if plan["lines_changed"] or plan["prices_changed"]:
            if shipped:
                raise BusinessError(
                    "conflict",
                    _(
                        "Shopify order %(name)s was edited after Odoo shipped "
                        "it (%(order)s): the change is not applied. Agree with "
                        "the customer and correct the order by hand.",
                        name=order.name,
                        order=sale.name,
                    ),
                    team="customer_service",
                    kind_key=f"shipped_edit:{order.name}",
                    record=sale,
                )
            Rules = self.env["dsync.ownership.rule"]
            if plan["lines_changed"]:
                Rules._check_change(self, "order_lines", sale)
            if plan["prices_changed"]:
                Rules._check_change(self, "prices", sale)
            self._shopify_apply_plan(sale, plan, order.updated_at)
        if not shipped:
            self._shopify_update_delivery_address(sale, order)
        sale.write(info)
        self._shopify_check_amounts(sale, order)

    def _shopify_update_delivery_address(self, sale, order):
        if not order.shipping_address or _address_matches(
            sale.partner_shipping_id, order.shipping_address
        ):
            return
        self.env["dsync.ownership.rule"]._check_change(self, "order_header", sale)
        address = self._shopify_address(
            sale.partner_id, order.shipping_address, "delivery"
        )
        sale.partner_shipping_id = address

    def _shopify_line_plan(self, sale, order):
        """What to write, create and zero to bring the lines to ``order``."""
        products = self._shopify_products(order.lines)
        carriers = self._shopify_carriers(order.shipping_lines)
        taxes = self._shopify_tax_finder(order)
        current = self._shopify_bound_lines(sale)
        plan = {
            "write": [],
            "create": [],
            "remove": [],
            "lines_changed": False,
            "prices_changed": False,
        }
        next_seq = max(sale.order_line.mapped("sequence") or [0]) + 1
        for line in order.lines:
            so_line = current.pop(line.id, None)
            if so_line and so_line.product_id != products[line.id]:
                # Shopify never gives a line item another variant (an edit
                # removes the line and adds one); should a payload do so, the
                # old line goes and a new one takes the line item's binding.
                if so_line.product_uom_qty:
                    plan["remove"].append(so_line)
                so_line = None
            seq = so_line.sequence if so_line else next_seq
            vals = self._shopify_line_vals(line, products[line.id], taxes(line), seq)
            if not so_line:
                next_seq += 1
                plan["create"].append((line.id, vals))
                plan["lines_changed"] = True
                continue
            self._shopify_diff_line(so_line, vals, plan)
        for so_line in current.values():
            if so_line.product_uom_qty:
                plan["remove"].append(so_line)
                plan["lines_changed"] = True
        deliveries = sale.order_line.filtered("is_delivery")
        for index, line in enumerate(order.shipping_lines):
            vals = self._shopify_delivery_vals(
                line, carriers[line.id], taxes(line), 1000 + index
            )
            if index < len(deliveries):
                self._shopify_diff_line(deliveries[index], vals, plan)
            else:
                plan["create"].append((None, vals))
                plan["prices_changed"] = True
        for extra in deliveries[len(order.shipping_lines) :]:
            if extra.price_unit:
                plan["write"].append((extra, {"price_unit": 0.0}))
                plan["prices_changed"] = True
        return plan

    def _shopify_diff_line(self, so_line, vals, plan):
        rounding = so_line.currency_id.rounding
        quantity = float_compare(
            so_line.product_uom_qty,
            vals["product_uom_qty"],
            precision_rounding=so_line.product_uom.rounding,
        )
        lines_changed = bool(quantity) or so_line.product_id.id != vals["product_id"]
        prices_changed = (
            float_compare(
                so_line.price_unit, vals["price_unit"], precision_rounding=rounding
            )
            or abs(so_line.shopify_discount_percent - vals["shopify_discount_percent"])
            > 1e-9
            or set(so_line.tax_id.ids) != set(vals["tax_id"][0][2])
        )
        if lines_changed or prices_changed:
            changes = dict(vals)
            changes.pop("sequence")
            if not so_line.product_updatable:
                # a confirmed order's shipping line whose delivery method
                # mapping changed: its amounts follow Shopify, its product stays
                changes.pop("product_id")
            plan["write"].append((so_line, changes))
        plan["lines_changed"] |= lines_changed
        plan["prices_changed"] |= bool(prices_changed)

    def _shopify_apply_plan(self, sale, plan, updated_at):
        for so_line, vals in plan["write"]:
            so_line.write(vals)
        if plan["create"]:
            new_lines = self.env["sale.order.line"].create(
                [dict(vals, order_id=sale.id) for _ext, vals in plan["create"]]
            )
            self._shopify_bind_many(
                "sale.order.line",
                [
                    (ext, so_line, {"external_updated_at": updated_at})
                    for (ext, _vals), so_line in zip(
                        plan["create"], new_lines, strict=True
                    )
                    if ext
                ],
            )
        removed = self.env["sale.order.line"].concat(*plan["remove"])
        if sale.state == "draft":
            removed.unlink()
        else:
            removed.write({"product_uom_qty": 0.0})

    # ------------------------------------------------------------------
    # lines
    # ------------------------------------------------------------------
    def _shopify_line_vals(self, line, product, taxes, sequence):
        digits = self.env["sale.order.line"]._fields["discount"].get_digits(self.env)
        exact = line.discount_percent
        return {
            "sequence": sequence,
            "product_id": product.id,
            "product_uom_qty": float(line.quantity),
            "price_unit": float(line.price),
            "discount": float_round(exact, precision_digits=digits[1]),
            "shopify_discount_percent": exact,
            "tax_id": [Command.set(taxes.ids)],
        }

    def _shopify_delivery_vals(self, line, carrier, taxes, sequence):
        vals = self._shopify_line_vals(line, carrier.product_id, taxes, sequence)
        vals.update(is_delivery=True, name=line.title or carrier.name)
        return vals

    def _shopify_bound_lines(self, sale):
        """{Shopify line item id: sale.order.line} of ``sale``."""
        bindings = self.env["dsync.binding"].search(
            [
                ("backend_id", "=", self.id),
                ("res_model", "=", "sale.order.line"),
                ("res_id", "in", sale.order_line.ids),
            ]
        )
        lines = {line.id: line for line in sale.order_line}
        return {b.external_id: lines[b.res_id] for b in bindings}

    def _shopify_memo(self, name):
        """A memo of what a batch resolves again and again (mappings,
        products, taxes, pricelists): kept while a batch scope is open, else
        for this call only."""
        scope = current_scope(self.env)
        memo = {} if scope is None else scope.setdefault(name, {})
        return memo.setdefault(self.id, {})

    def _shopify_map(self, map_type, code, required=False):
        """``dsync.value.map._lookup``, remembered for the batch."""
        memo = self._shopify_memo("value_maps")
        if (map_type, code) not in memo:
            memo[map_type, code] = self.env["dsync.value.map"]._lookup(
                self, map_type, code, required=False
            )
        if required and not memo[map_type, code]:
            # raises the missing mapping error
            return self.env["dsync.value.map"]._lookup(self, map_type, code)
        return memo[map_type, code]

    def _shopify_products(self, lines):
        """{line id: product.product}; unknown SKUs raise ``unknown_product``."""
        found = self._shopify_find_products(lines)
        result, missing = {}, []
        for line in lines:
            product = found.get(f"variant:{line.variant_id}") or found.get(
                f"sku:{line.sku}"
            )
            if product:
                result[line.id] = product
            else:
                missing.append(line)
        if missing:
            self._shopify_raise_unknown_products(missing)
        return result

    def _shopify_find_products(self, lines):
        """The products of ``lines`` by variant binding and by SKU, looked up
        together and remembered for the batch (unknown ones as empty)."""
        Product = self.env["product.product"]
        found = self._shopify_memo("products")
        variants = {
            line.variant_id
            for line in lines
            if line.variant_id and f"variant:{line.variant_id}" not in found
        }
        if variants:
            bindings = self.env["dsync.binding"]._find_many(
                self, "product.product", list(variants)
            )
            # a binding may outlive its product: only existing ones count
            existing = set(Product.browse(bindings.mapped("res_id")).exists().ids)
            for binding in bindings:
                if binding.res_id in existing:
                    found[f"variant:{binding.external_id}"] = Product.browse(
                        binding.res_id
                    )
            for variant in variants:
                found.setdefault(f"variant:{variant}", Product)
        key = self.shopify_product_match or "default_code"
        skus = {
            line.sku for line in lines if line.sku and f"sku:{line.sku}" not in found
        }
        if skus:
            # a SKU a person linked to an existing product (SKU value map)
            linked = self.env["dsync.value.map"]._dsync_products_by_sku(self, skus)
            for sku, product in linked.items():
                found[f"sku:{sku}"] = product
            skus -= set(linked)
        if skus:
            products = Product.search(
                [
                    (key, "in", list(skus)),
                    *Product._check_company_domain(self.company_id),
                ],
                order="id",
            )
            for product in products:
                found.setdefault(f"sku:{product[key]}", product)
            for sku in skus:
                found.setdefault(f"sku:{sku}", Product)
        return found

    def _shopify_raise_unknown_products(self, missing):
        first = missing[0]
        kind = f"sku:{first.sku}" if first.sku else f"variant:{first.variant_id}"
        field = self._fields["shopify_product_match"]
        label = dict(field._description_selection(self.env)).get(
            self.shopify_product_match, ""
        )
        raise BusinessError(
            "unknown_product",
            _(
                "No product for %(products)s (matched by %(rule)s). Create the "
                "product or set its reference, then retry.",
                products=", ".join(
                    f"{line.product_key or '?'} ({line.title})" for line in missing
                ),
                rule=label,
            ),
            kind_key=kind,
            context={"skus": [line.product_key for line in missing]},
            fix={
                "products": [
                    {"sku": line.sku, "name": line.title, "price": str(line.price)}
                    for line in missing
                    if line.sku
                ]
            },
        )

    def _shopify_carriers(self, shipping_lines):
        """{shipping line id: delivery.carrier} through 'Shipping method' maps."""
        carriers = {}
        for line in shipping_lines:
            carrier = None
            for code in filter(None, (line.code, line.title)):
                carrier = self._shopify_map("shipping_method", code)
                if carrier:
                    break
            if not carrier or carrier._name != "delivery.carrier":
                code = line.code or line.title
                raise BusinessError(
                    "missing_mapping",
                    _(
                        "No delivery method for the Shopify shipping line "
                        "'%(title)s' (code %(code)s): map it to a delivery "
                        "method (value map type 'Shipping method').",
                        title=line.title,
                        code=line.code,
                    ),
                    kind_key=f"shipping_method:{code}",
                )
            carriers[line.id] = carrier
        return carriers

    def _shopify_check_gateways(self, order):
        if not self.shopify_require_payment_mapping:
            return
        for gateway in order.gateways:
            self._shopify_map("payment_method", gateway, required=True)

    # ------------------------------------------------------------------
    # taxes
    # ------------------------------------------------------------------
    def _shopify_tax_finder(self, order):
        """A function: Shopify line → account.tax recordset (cached per code)."""
        cache = self._shopify_memo(f"taxes:{order.taxes_included}")
        included = order.taxes_included

        def taxes(line):
            result = self.env["account.tax"]
            for tax_line in line.tax_lines:
                if not tax_line.rate:
                    continue
                if tax_line.code not in cache:
                    cache[tax_line.code] = self._shopify_tax(tax_line, included)
                result |= cache[tax_line.code]
            return result

        return taxes

    def _shopify_tax(self, tax_line, included):
        """The Odoo sales tax of a Shopify tax line (title + rate)."""
        mapped = self._shopify_map("tax_code", tax_line.code) or self._shopify_map(
            "tax_code", tax_line.title
        )
        if mapped and mapped._name == "account.tax":
            if mapped.price_include == included:
                return mapped
            twin = self._shopify_search_tax(mapped.amount, included)
            if twin:
                return twin
        elif self.shopify_tax_by_rate:
            tax = self._shopify_search_tax(float(tax_line.percent), included)
            if tax:
                return tax
        raise BusinessError(
            "missing_mapping",
            _(
                "No %(kind)s sales tax for the Shopify tax '%(code)s': map it "
                "(value map type 'Tax code', code '%(code)s') to a sales tax of "
                "%(rate)s %% that is %(kind)s.",
                kind=_("price-included") if included else _("price-excluded"),
                code=tax_line.code,
                rate=tax_line.percent,
            ),
            kind_key=f"tax_code:{tax_line.code}",
        )

    def _shopify_search_tax(self, amount, included):
        Tax = self.env["account.tax"]
        return Tax.search(
            [
                ("type_tax_use", "=", "sale"),
                ("amount_type", "=", "percent"),
                ("amount", "=", amount),
                ("price_include", "=", included),
                *Tax._check_company_domain(self.company_id),
            ],
            order="sequence, id",
            limit=1,
        )

    # ------------------------------------------------------------------
    # currency
    # ------------------------------------------------------------------
    def _shopify_pricelist(self, order):
        """A pricelist in the order's currency (empty = the company's)."""
        memo = self._shopify_memo("pricelists")
        if order.currency not in memo:
            memo[order.currency] = self._shopify_find_pricelist(order)
        return memo[order.currency]

    def _shopify_find_pricelist(self, order):
        Pricelist = self.env["product.pricelist"]
        if self.shopify_pricelist_id.currency_id.name == order.currency:
            return self.shopify_pricelist_id
        pricelist = Pricelist.search(
            [
                ("currency_id.name", "=", order.currency),
                *Pricelist._check_company_domain(self.company_id),
            ],
            limit=1,
        )
        if pricelist or self.company_id.currency_id.name == order.currency:
            return pricelist
        raise BusinessError(
            "missing_mapping",
            _(
                "Order %(name)s is in %(currency)s and no pricelist uses that "
                "currency: activate the currency and create a pricelist in it "
                "(or change the store's order currency policy).",
                name=order.name,
                currency=order.currency,
            ),
            kind_key=f"currency:{order.currency}",
        )

    # ------------------------------------------------------------------
    # customers
    # ------------------------------------------------------------------
    def _shopify_partners_many(self, orders):
        """[(customer, invoice address, delivery address)] of each order:
        customers by Shopify id, then email/phone, else created (together),
        and the addresses each order needs (created together)."""
        Partner = self.env["res.partner"]
        customer_ids = [str(order.customer.get("id") or "") for order in orders]
        bindings = self.env["dsync.binding"]._find_many(
            self, "res.partner", [cid for cid in customer_ids if cid]
        )
        alive = Partner.browse(bindings.mapped("res_id")).exists()
        bound = {
            binding.external_id: alive & Partner.browse(binding.res_id)
            for binding in bindings
        }
        places = {}
        matched = self._shopify_find_partners(
            [
                order
                for order, cid in zip(orders, customer_ids, strict=True)
                if not bound.get(cid)
            ]
        )
        partners, new_vals, to_bind = [], [], []
        for order, customer_id in zip(orders, customer_ids, strict=True):
            partner = bound.get(customer_id) or Partner
            if not partner:
                partner = matched.get(order.id) or Partner
                if not partner:
                    new_vals.append(self._shopify_partner_vals(order, places))
                if customer_id:
                    to_bind.append((len(partners), customer_id))
            partners.append(partner)
        created = iter(self._shopify_create_contacts(new_vals))
        partners = [partner or next(created) for partner in partners]
        self._shopify_bind_many(
            "res.partner",
            [(customer_id, partners[index], {}) for index, customer_id in to_bind],
        )
        found = [{} for _order in orders]
        missing = []
        for index, (order, partner) in enumerate(zip(orders, partners, strict=True)):
            for kind, address in (
                ("invoice", order.billing_address),
                ("delivery", order.shipping_address),
            ):
                child = self._shopify_find_address(partner, address, kind)
                if child:
                    found[index][kind] = child
                else:
                    missing.append((index, kind, address))
        children = self._shopify_create_addresses(
            [
                self._shopify_child_vals(partners[index], address, kind, places)
                for index, kind, address in missing
            ]
        )
        for (index, kind, _address), child in zip(missing, children, strict=True):
            found[index][kind] = child
        return [
            (partner, addresses["invoice"], addresses["delivery"])
            for partner, addresses in zip(partners, found, strict=True)
        ]

    def _shopify_find_partners(self, orders):
        """{order id: customer} of the orders whose customer matches an
        existing contact: by email, as Odoo's mail gateway finds contacts
        (the normalized address: case, and a display name around it, do not
        matter), then by phone or mobile when the backend matches phones.

        One search for all the emails and one for the phones left, on
        indexed columns (see ``res.partner``): with 200,000 contacts, an
        email compared with ``=ilike`` took a scan of the table per order.
        The first contact in Odoo's order wins, as with a search of one."""
        Partner = self.env["res.partner"]
        company = Partner._check_company_domain(self.company_id)
        found = {}

        def match(orders, key, fnames):
            wanted = {}
            for order in orders:
                value = key(order)
                if value:
                    wanted.setdefault(value, []).append(order)
            if not wanted:
                return
            by_value = {}
            for partner in Partner.search(
                [
                    *expression.OR([[(fname, "in", list(wanted))] for fname in fnames]),
                    ("parent_id", "=", False),
                    *company,
                ]
            ):
                for fname in fnames:
                    by_value.setdefault(partner[fname], partner)
            for value, waiting in wanted.items():
                if value in by_value:
                    found.update((order.id, by_value[value]) for order in waiting)

        match(orders, customer_email, ["email_normalized"])
        if self.shopify_customer_match == "email_phone":
            match(
                [order for order in orders if order.id not in found],
                customer_phone,
                ["phone", "mobile"],
            )
        return found

    def _shopify_partner_vals(self, order, places=None):
        customer = order.customer
        source = order.billing_address or customer.get("default_address") or {}
        name = _person_name(customer) or _person_name(source)
        vals = {
            "name": name or order.email or _("Shopify customer %s", order.name),
            "email": customer.get("email") or order.email or False,
            "phone": customer.get("phone") or order.phone or False,
            "customer_rank": 1,
            "company_id": False,
        }
        vals.update(self._shopify_address_vals(source, places))
        return vals

    def _shopify_find_address(self, partner, address, kind):
        """The child address of ``partner`` matching ``address``; the partner
        itself for an order without that address; else nothing."""
        if not address:
            return partner
        for child in partner.child_ids:
            if child.type == kind and _address_matches(child, address):
                return child
        return self.env["res.partner"]

    def _shopify_child_vals(self, partner, address, kind, places=None):
        vals = self._shopify_address_vals(address, places)
        vals.update(
            parent_id=partner.id,
            type=kind,
            name=_person_name(address) or partner.name,
            phone=address.get("phone") or False,
        )
        return vals

    def _shopify_create_contacts(self, vals_list, **context):
        """``res.partner.create(vals_list)`` with ``context``; the contacts
        are returned in this environment. Odoo computes one default with a
        query for every new contact (whether the form offers a choice of
        invoice layouts: a field that is not stored); it is computed once
        here and given, for this create only, as the default of them all."""
        Partner = self.env["res.partner"]
        if not vals_list:
            return Partner
        fname = "display_invoice_template_pdf_report_id"
        field = Partner._fields.get(fname)
        if field is not None and not field.store:
            default = Partner.default_get([fname]).get(fname, False)
            context[f"default_{fname}"] = default
        return Partner.browse(Partner.with_context(**context).create(vals_list).ids)

    def _shopify_create_addresses(self, vals_list):
        """Invoice and delivery addresses (children of their customers)
        created together.

        ``res.partner.create`` syncs a new child with its parent one by one:
        a write of the commercial fields, the language, the parent's address
        when it has none. As Odoo's own batch loading does
        (``_load_records_create``), the sync runs here for the batch instead:
        the language is given up front, the commercial fields are written
        only where they differ from the commercial partner's, grouped by
        value (a new customer's are all Odoo's defaults: nothing to write),
        and a parent's address is filled from its first child only when it
        has none (Odoo's rule). Company-dependent commercial fields are
        compared in every company, as Odoo syncs them."""
        Partner = self.env["res.partner"]
        if not vals_list:
            return Partner
        for vals in vals_list:
            if "lang" not in vals:
                vals["lang"] = Partner.browse(vals["parent_id"]).lang
        children = self._shopify_create_contacts(
            vals_list, _partners_skip_fields_sync=True
        )
        _sync_from_commercial(children.sudo(), Partner._commercial_fields())
        dependent = Partner._company_dependent_commercial_fields()
        if dependent:
            others = (
                self.env["res.company"]
                .sudo()
                .search([("id", "!=", self.env.company.id)])
            )
            for company in others:
                _sync_from_commercial(children.sudo().with_company(company), dependent)
        address_fields = Partner._address_fields()
        for child in children:
            if not any(child.parent_id[fname] for fname in address_fields):
                child._handle_first_contact_creation()
        return children

    def _shopify_address(self, partner, address, kind):
        """The child address of ``partner`` matching ``address``, created
        when none matches."""
        return self._shopify_find_address(
            partner, address, kind
        ) or self._shopify_create_addresses(
            [self._shopify_child_vals(partner, address, kind)]
        )

    def _shopify_address_vals(self, address, places=None):
        """Partner address values; ``places`` caches country/state lookups."""
        if not address:
            return {}
        places = {} if places is None else places
        key = (address.get("country_code"), address.get("province_code"))
        if key not in places:
            places[key] = self._shopify_country_state(*key)
        country, state = places[key]
        return {
            "street": address.get("address1") or False,
            "street2": address.get("address2") or False,
            "city": address.get("city") or False,
            "zip": address.get("zip") or False,
            "country_id": country.id,
            "state_id": state.id,
        }

    def _shopify_country_state(self, country_code, province_code):
        country = self.env["res.country"]
        state = self.env["res.country.state"]
        if country_code:
            country = country.search([("code", "=", country_code)], limit=1)
        if country and province_code:
            state = state.search(
                [("country_id", "=", country.id), ("code", "=", province_code)],
                limit=1,
            )
        return country, state

    # ------------------------------------------------------------------
    # confirmation, cancellation, amounts, bindings
    # ------------------------------------------------------------------
    def _shopify_confirm_due(self, sales, orders):
        """Confirm, with one ``action_confirm``, the quotations whose Shopify
        financial status the store's rule confirms."""
        statuses = self._shopify_confirm_status_set()
        due = self.env["sale.order"].concat(
            *(
                sale
                for sale, order in zip(sales, orders, strict=True)
                if sale.state in ("draft", "sent")
                and order.financial_status in statuses
            )
        )
        if due:
            scope = current_scope(self.env)
            if scope is not None:  # one reordering rule check for all of them
                scope.setdefault("order_products", set()).update(
                    due.order_line.product_id.ids
                )
            due.action_confirm()

    def _shopify_cancel_order(self, sale, order):
        if sale.state == "cancel":
            return
        if sale._shopify_shipped():
            raise BusinessError(
                "conflict",
                _(
                    "Shopify cancelled order %(name)s but Odoo already shipped "
                    "it (%(order)s): arrange the return or refund with the "
                    "customer.",
                    name=order.name,
                    order=sale.name,
                ),
                team="customer_service",
                kind_key=f"cancel_shipped:{order.name}",
                record=sale,
            )
        sale.with_context(disable_cancel_warning=True).action_cancel()

    def _shopify_check_amounts(self, sale, order):
        """Odoo's totals must be Shopify's to the cent, or nothing is kept."""
        total, tax = _dec(sale.amount_total), _dec(sale.amount_tax)
        if (
            abs(total - order.total_price) <= TOLERANCE
            and abs(tax - order.total_tax) <= TOLERANCE
        ):
            return
        codes = sorted(
            {
                t.code
                for line in order.lines + order.shipping_lines
                for t in line.tax_lines
            }
        )
        raise BusinessError(
            "amount_mismatch",
            _(
                "Order %(name)s: Odoo computes %(total)s %(currency)s "
                "(taxes %(tax)s) where Shopify charged %(s_total)s (taxes "
                "%(s_tax)s). Nothing of this delivery is applied: check the "
                "tax mappings and the company's tax rounding (per line), then "
                "retry.",
                name=order.name,
                total=total,
                tax=tax,
                currency=order.currency,
                s_total=order.total_price,
                s_tax=order.total_tax,
            ),
            kind_key="amount:"
            + (",".join(codes) or "untaxed")
            + (":included" if order.taxes_included else ""),
            details=_amount_details(sale, order),
            fix=_amount_fix(sale, order, total, tax),
        )

    def _shopify_bind(self, record, external_id, updated_at=None, event=None):
        """``dsync.binding._bind``, retried when another job bound it first."""
        with _bound_by_one_job(self.env.cr, record._name):
            return self.env["dsync.binding"]._bind(
                self, record, external_id, updated_at=updated_at, event=event
            )

    def _shopify_bind_many(self, res_model, entries):
        """``dsync.binding._bind_many``, retried when another job bound one of
        the ids first."""
        with _bound_by_one_job(self.env.cr, res_model):
            return self.env["dsync.binding"]._bind_many(self, res_model, entries)


@contextmanager
def _bound_by_one_job(cr, res_model):
    """A concurrent job that bound one of the same external ids first (its
    commit was not in this job's snapshot) makes this one retry: it then sees
    the binding, instead of leaving a second record or an exception."""
    try:
        with mute_logger("odoo.sql_db"), cr.savepoint():
            yield
    except psycopg2.errors.UniqueViolation as err:
        raise TransientError(
            f"{res_model} bound by another job meanwhile", retry_after=5
        ) from err


def _sync_from_commercial(children, fnames):
    """Write ``fnames`` of the commercial partner on each child where they
    differ, one write per distinct set of values (Odoo's
    ``_commercial_sync_from_company``, for many children)."""
    groups = {}
    for child in children:
        wanted = child.commercial_partner_id._update_fields_values(fnames)
        current = child._update_fields_values(fnames)
        differ = {key: val for key, val in wanted.items() if current[key] != val}
        if differ:
            key = repr(sorted(differ.items()))
            values, group = groups.get(key, (differ, children.browse()))
            groups[key] = (values, group | child)
    for values, group in groups.values():
        group.write(values)


def customer_email(order):
    """The order's customer email, normalized as Odoo normalizes contacts'
    (``email_normalized``), or ""."""
    email = order.customer.get("email") or order.email or ""
    return email_normalize(email, strict=False) or ""


def customer_phone(order):
    """The order's customer phone, as matched."""
    return (order.customer.get("phone") or order.phone or "").strip()


def _person_name(values):
    if not values:
        return ""
    name = " ".join(
        part for part in (values.get("first_name"), values.get("last_name")) if part
    )
    return name or values.get("name") or ""


def _address_matches(partner, address):
    """Same street, zip, city and country (case and spaces ignored)."""

    def norm(value):
        return " ".join(str(value or "").lower().split())

    return (
        norm(partner.street) == norm(address.get("address1"))
        and norm(partner.street2) == norm(address.get("address2"))
        and norm(partner.zip) == norm(address.get("zip"))
        and norm(partner.city) == norm(address.get("city"))
        and norm(partner.country_id.code) == norm(address.get("country_code"))
    )


def _amount_fix(sale, order, total, tax):
    """Shopify's and Odoo's amounts, line by line and in total, for the
    exception's side-by-side table."""
    lines = [
        {
            "label": line.title or line.sku,
            "channel_untaxed": str(line.net),
            "odoo_untaxed": f"{so_line.price_subtotal:.2f}",
            "channel_tax": str(sum((t.amount for t in line.tax_lines), Decimal(0))),
            "odoo_tax": f"{so_line.price_tax:.2f}",
        }
        for so_line, line in zip(
            sale.order_line, order.lines + order.shipping_lines, strict=False
        )
    ]
    return {
        "currency": order.currency,
        "lines": lines,
        "totals": {
            "channel_total": str(order.total_price),
            "odoo_total": str(total),
            "channel_tax": str(order.total_tax),
            "odoo_tax": str(tax),
        },
    }


def _amount_details(sale, order):
    """Line by line, Odoo's amounts next to Shopify's (for finance)."""
    rows = ["line | Odoo untaxed | Shopify untaxed | Odoo tax | Shopify tax"]
    shopify_lines = order.lines + order.shipping_lines
    for so_line, line in zip(sale.order_line, shopify_lines, strict=False):
        rows.append(
            f"{line.title or line.sku} | {so_line.price_subtotal:.2f} | "
            f"{line.net} | {so_line.price_tax:.2f} | "
            f"{sum((t.amount for t in line.tax_lines), Decimal(0))}"
        )
    return "\n".join(rows)
