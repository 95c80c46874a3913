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
from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.osv import expression
from odoo.tools import email_normalize, float_compare, float_round, mute_logger

from odoo.addons.distribution_sync_core.errors import BusinessError, TransientError

from ..batch_scope import batch_scope, current_scope
from ..order_note import note_block, with_note_block
from ..order_payload import (
    CUSTOM,
    FINANCIAL_STATUSES,
    GIFT_CARD,
    PRODUCT,
    TIP,
    parse_order,
)

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
        "of the order's posted invoice, and finance gets a 'to review' "
        "follow-up to check and post it (an order not invoiced yet opens an "
        "exception for finance). Exception: the refund is recorded and "
        "finance gets a 'to review' follow-up to record the credit note by "
        "hand.",
    )
    shopify_uninstalled_at = fields.Datetime(
        "App Uninstalled On", readonly=True, copy=False
    )
    shopify_custom_item_product_id = fields.Many2one(
        "product.product",
        string="Default Product for Custom Items",
        check_company=True,
        help="Custom items (lines typed in Shopify without a product or SKU: "
        "gift wrapping, a handling charge, a service) become lines of this "
        "product, named as in Shopify, when no 'Custom item' value map names "
        "their title. Without either, such an order opens a 'missing "
        "mapping' exception. A service is usual; a custom item that must be "
        "shipped needs a product of its own, mapped by its title.",
    )
    shopify_gift_card_product_id = fields.Many2one(
        "product.product",
        string="Gift Card Product",
        check_company=True,
        domain="[('type', '=', 'service')]",
        help="Gift cards sold in Shopify become lines of this service (no "
        "stock, no tax: Shopify does not tax gift cards). A gift card used "
        "to pay is a payment, not a product: it is listed with the order's "
        "payment gateways.",
    )
    shopify_tip_product_id = fields.Many2one(
        "product.product",
        string="Tip Product",
        check_company=True,
        domain="[('type', '=', 'service')]",
        help="Tips the customer added in Shopify become lines of this "
        "service (no stock, no tax).",
    )
    shopify_confirm_payment_terms = fields.Boolean(
        "Confirm Orders on Payment Terms",
        default=True,
        help="B2B orders with payment terms (net 30, due on fulfillment...) "
        "are confirmed whatever their financial status: the customer pays "
        "later, the goods ship now. Unset, they follow the financial statuses "
        "above like any order.",
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
            "payment_term": self._shopify_payment_term(order),
            "tags": self._shopify_tags(order.tags),
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
        terms = self._shopify_keeps_terms()
        if terms:  # Odoo computes the company's terms; the note goes first
            for vals in vals_list:
                vals.pop("note", None)
        sales = self.env["sale.order"].create(vals_list)
        if terms:
            for sale in sales.filtered("shopify_note"):
                sale.note = with_note_block(sale.note, sale.shopify_note)
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
            "origin": _("Shopify %s", order.name),
            "date_order": order.created_at or fields.Datetime.now(),
            "carrier_id": next(
                iter(carriers.values()), self.env["delivery.carrier"]
            ).id,
            "order_line": [Command.create(v) for v in line_vals],
            **self._shopify_info_vals(order),
            **self._shopify_header_vals(order, needs),
        }
        if self.shopify_team_id:
            vals["team_id"] = self.shopify_team_id.id
        return vals

    def _shopify_header_vals(self, order, needs):
        """What the order header takes from Shopify beyond its lines and
        addresses: the customer's reference (the B2B purchase order number,
        else the Shopify order name), payment terms, tags and the note."""
        vals = _header_text(order)
        if needs["payment_term"]:  # else Odoo's: the customer's terms
            vals["payment_term_id"] = needs["payment_term"].id
        if needs["tags"]:
            vals["tag_ids"] = [Command.set(needs["tags"].ids)]
        if order.delivery_note:
            vals["note"] = note_block(order.delivery_note)
        return vals

    def _shopify_keeps_terms(self):
        """Whether the company prints default terms on its orders (Odoo then
        computes the note; the Shopify note is put before the terms)."""
        return bool(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("account.use_invoice_terms")
        )

    def _shopify_info_vals(self, order):
        """What Odoo only records of Shopify (never owned business data)."""
        return {
            "shopify_backend_id": self.id,
            "shopify_order_id": order.id,
            "shopify_financial_status": order.financial_status
            if order.financial_status in dict(FINANCIAL_STATUSES)
            else False,
            "shopify_payment_gateways": ", ".join(order.gateways) or False,
            "shopify_order_name": order.name,
        }

    def _shopify_update_order(self, sale, order, cancelled):
        """Apply an update to an imported order, within the ownership rules.

        Odoo's own warnings for a changed order (an activity on each open
        delivery, for the job's user) are left out: the connector updates
        the deliveries itself and says so in their chatter."""
        info = self._shopify_info_vals(order)
        if sale.state == "cancel" or cancelled:
            sale.write(info)
            return
        sale = sale.with_context(skip_activity=True)
        shipped = sale._shopify_shipped()
        moved = self._shopify_address_moved(sale, order)
        if moved and shipped:
            raise BusinessError(
                "conflict",
                _(
                    "Shopify order %(name)s now ships to %(address)s, but Odoo "
                    "already shipped it (%(order)s) to %(old)s: the change is "
                    "not applied. Agree with the customer (reroute, resend); "
                    "once the order's delivery address in Odoo is the new one, "
                    "later updates of the order apply again.",
                    name=order.name,
                    address=_address_text(order.shipping_address),
                    order=sale.name,
                    old=_partner_address_text(sale.partner_shipping_id),
                ),
                team="customer_service",
                kind_key=f"shipped_address:{order.name}",
                record=sale,
            )
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
        changes = []
        if moved:
            changes.append(self._shopify_update_delivery_address(sale, order))
        changes += self._shopify_update_header(sale, order)
        if plan["lines_changed"]:
            changes.append(_("the ordered quantities changed"))
        sale.write(info)
        self._shopify_check_amounts(sale, order)
        self._shopify_tell_deliveries(sale, order, changes)

    def _shopify_address_moved(self, sale, order):
        return bool(order.shipping_address) and not _address_matches(
            sale.partner_shipping_id, order.shipping_address
        )

    def _shopify_update_delivery_address(self, sale, order):
        """The new delivery address on the order and on every open delivery
        (the pickings of its delivery route that are not done or
        cancelled), as Odoo's *update the deliveries* option does."""
        self.env["dsync.ownership.rule"]._check_change(self, "order_header", sale)
        owner = _address_owner(sale.partner_id)
        address = self._shopify_address(owner, order.shipping_address, "delivery")
        sale.with_context(
            update_delivery_shipping_partner=True
        ).partner_shipping_id = address
        return _("delivery address: %s", _partner_address_text(address))

    def _shopify_update_header(self, sale, order):
        """Customer reference, payment terms, tags and note, when Shopify's
        differ from what was last applied; returns what the deliveries must
        be told."""
        changed = {
            fname: value
            for fname, value in _header_text(order).items()
            if (sale[fname] or False) != value
        }
        if not changed:
            return []
        self.env["dsync.ownership.rule"]._check_change(self, "order_header", sale)
        vals = dict(changed)
        if "shopify_payment_terms" in changed and order.payment_terms:
            vals["payment_term_id"] = self._shopify_payment_term(order).id
        if "shopify_tags" in changed:
            old = {t.lower() for t in (sale.shopify_tags or "").split(", ") if t}
            kept = sale.tag_ids.filtered(lambda tag: tag.name.lower() not in old)
            vals["tag_ids"] = [Command.set((kept | self._shopify_tags(order.tags)).ids)]
        if "shopify_note" in changed:
            vals["note"] = with_note_block(sale.note, order.delivery_note)
        sale.write(vals)
        if "shopify_note" not in changed:
            return []
        for picking in sale._shopify_open_deliveries():
            picking.note = with_note_block(picking.note, order.delivery_note)
        return [
            _("note: %s", order.delivery_note)
            if order.delivery_note
            else _("the note was removed")
        ]

    def _shopify_tell_deliveries(self, sale, order, changes):
        """A note in the chatter of the open deliveries, for the warehouse."""
        deliveries = sale._shopify_open_deliveries()
        if not changes or not deliveries:
            return
        body = Markup("<p>%s</p><ul>%s</ul>") % (
            _("Shopify order %s was updated:", order.name),
            Markup("").join(Markup("<li>%s</li>") % change for change in changes),
        )
        for picking in deliveries:
            picking.message_post(body=body, subtype_xmlid="mail.mt_note")

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
        vals = {
            "sequence": sequence,
            "product_id": product.id,
            "product_uom_qty": float(line.quantity),
            "price_unit": float(line.price),
            "discount": float_round(exact, precision_digits=digits[1]),
            "shopify_discount_percent": exact,
            "tax_id": [Command.set(taxes.ids)],
        }
        if line.kind != PRODUCT:  # the clerk sees Shopify's "Gift wrapping"
            vals["name"] = line.name or line.title
        return vals

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
        """{line id: product.product}; a line without one raises an
        ``unknown_product`` or ``missing_mapping`` error that says what to
        configure."""
        found = self._shopify_find_products(lines)
        result, missing = {}, []
        for line in lines:
            product = self._shopify_line_product(line, found)
            if product:
                result[line.id] = product
            else:
                missing.append(line)
        if missing:
            self._shopify_raise_unknown_products(missing)
        return result

    def _shopify_line_product(self, line, found):
        """The product of a line item: the store's gift card and tip
        products for those; a product's by variant binding, then SKU; a line
        without SKU (a custom item, a product without SKU) by its title
        ('Custom item' value map), then — for a custom item — the store's
        default product for custom items."""
        if line.kind == GIFT_CARD:
            return self.shopify_gift_card_product_id
        if line.kind == TIP:
            return self.shopify_tip_product_id
        product = found.get(f"variant:{line.variant_id}") or found.get(
            f"sku:{line.sku}"
        )
        if product or line.sku:
            return product
        product = found.get(f"title:{line.title}")
        if not product and line.kind == CUSTOM:
            product = self.shopify_custom_item_product_id
        return product

    def _shopify_find_products(self, lines):
        """The products of ``lines`` by variant binding, by SKU and (lines
        without SKU) by title, looked up together and remembered for the
        batch (unknown ones as empty)."""
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
        for line in lines:
            if line.sku or line.kind in (GIFT_CARD, TIP):
                continue
            if f"title:{line.title}" not in found:
                found[f"title:{line.title}"] = _as_product(
                    self._shopify_map("custom_item", line.title), Product
                )
        return found

    def _shopify_raise_unknown_products(self, missing):
        """One error for the lines without a product: what each needs, the
        first one's kind (to retry them all once it is fixed)."""
        field = self._fields["shopify_product_match"]
        rule = dict(field._description_selection(self.env)).get(
            self.shopify_product_match, ""
        )
        problems = [self._shopify_product_problem(line, rule) for line in missing]
        category, kind_key, _text = problems[0]
        raise BusinessError(
            category,
            "\n".join(text for _c, _k, text in problems),
            kind_key=kind_key,
            context={"skus": [line.product_key or line.title for line in missing]},
            fix={
                "products": [
                    {"sku": line.sku, "name": line.title, "price": str(line.price)}
                    for line in missing
                    if line.sku
                ]
            },
        )

    def _shopify_product_problem(self, line, rule):
        """(category, kind key, message) of a line item without a product."""
        if line.kind == GIFT_CARD:
            return (
                "missing_mapping",
                "gift_card_product",
                _(
                    "'%(line)s' is a gift card sold: set the Gift Card Product "
                    "(a service, no tax) on the store's 'Shopify orders' page, "
                    "then retry.",
                    line=line.label,
                ),
            )
        if line.kind == TIP:
            return (
                "missing_mapping",
                "tip_product",
                _(
                    "'%(line)s' is a tip of %(amount)s: set the Tip Product (a "
                    "service, no tax) on the store's 'Shopify orders' page, then "
                    "retry.",
                    line=line.label,
                    amount=line.net,
                ),
            )
        if line.sku:
            return (
                "unknown_product",
                f"sku:{line.sku}",
                _(
                    "No product for %(sku)s (%(line)s), matched by %(rule)s. "
                    "Create the product or set its reference, then retry.",
                    sku=line.sku,
                    line=line.label,
                    rule=rule,
                ),
            )
        if line.kind == CUSTOM:
            return (
                "missing_mapping",
                f"custom_item:{line.title}",
                _(
                    "'%(line)s' is a custom item (no product or SKU in Shopify): "
                    "map its title (value map type 'Custom item', code "
                    "'%(title)s') to a product, or set a Default Product for "
                    "Custom Items on the store's 'Shopify orders' page, then "
                    "retry.",
                    line=line.label,
                    title=line.title,
                ),
            )
        return (
            "unknown_product",
            f"variant:{line.variant_id}",
            _(
                "'%(line)s' (Shopify variant %(variant)s) has no SKU: give the "
                "variant the Odoo product's reference as SKU in Shopify, bind "
                "the variant to the product (Mappings › Bindings), or map its "
                "title (value map type 'Custom item', code '%(title)s'), then "
                "retry.",
                line=line.label,
                variant=line.variant_id,
                title=line.title,
            ),
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

    def _shopify_tags(self, names):
        """The order tags (``crm.tag``) named ``names``, case aside; the
        missing ones are created (Shopify's tags are free text)."""
        Tag = self.env["crm.tag"]
        memo = self._shopify_memo("tags")
        todo = [name for name in names if name.lower() not in memo]
        if todo:
            for tag in Tag.search(
                expression.OR(
                    [[("name", "=ilike", _escape_like(name))] for name in todo]
                )
            ):
                memo.setdefault(tag.name.lower(), tag)
            new = [name for name in todo if name.lower() not in memo]
            if new:
                with _bound_by_one_job(self.env.cr, "crm.tag"):
                    created = Tag.create([{"name": name} for name in new])
                for tag in created:
                    memo[tag.name.lower()] = tag
        return Tag.concat(*(memo[name.lower()] for name in names))

    def _shopify_payment_term(self, order):
        """The Odoo payment terms of a B2B order's Shopify payment terms (an
        empty recordset without any): a 'Payment terms' value map of their
        name, else terms of the same name, else — net N days, due on
        receipt — the terms that ask the whole amount N (0) days after the
        invoice."""
        terms = order.payment_terms
        if not terms:
            return self.env["account.payment.term"]
        memo = self._shopify_memo("payment_terms")
        key = (terms.name, terms.type, terms.due_in_days)
        if key not in memo:
            memo[key] = self._shopify_find_payment_term(terms)
        if not memo[key]:
            label = terms.name or terms.type
            raise BusinessError(
                "missing_mapping",
                _(
                    "Order %(name)s is on Shopify payment terms '%(terms)s', "
                    "which no Odoo payment terms match: map them (value map "
                    "type 'Payment terms', code '%(terms)s') to payment terms, "
                    "then retry.",
                    name=order.name,
                    terms=label,
                ),
                kind_key=f"payment_terms:{label}",
            )
        return memo[key]

    def _shopify_find_payment_term(self, terms):
        Term = self.env["account.payment.term"]
        if terms.name:
            mapped = self._shopify_map("payment_terms", terms.name)
            if isinstance(mapped, models.BaseModel) and mapped._name == Term._name:
                return mapped
        company = Term._check_company_domain(self.company_id)
        if terms.name:
            named = Term.search(
                [("name", "=ilike", _escape_like(terms.name)), *company], limit=1
            )
            if named:
                return named
        days = {"NET": terms.due_in_days, "RECEIPT": 0}.get(terms.type)
        if days is None:
            return Term
        for term in Term.search(company, order="sequence, id"):
            if _net_days(term) == days:
                return term
        return Term

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
        and the addresses each order needs (created together).

        The customer of a B2B order (a company on its billing address) is a
        contact of that company — Odoo's commercial partner, who is
        invoiced — and the order's addresses are the company's (see
        :meth:`_shopify_companies`)."""
        Partner = self.env["res.partner"]
        places = {}
        companies = self._shopify_companies(orders, places)
        customer_ids = [str(order.customer.get("id") or "") for order in orders]
        bindings = self.env["dsync.binding"]._find_many(
            self, "res.partner", [cid for cid in customer_ids if cid]
        )
        alive = Partner.browse(bindings.mapped("res_id")).exists()
        bound = {
            binding.external_id: alive & Partner.browse(binding.res_id)
            for binding in bindings
        }
        matched = self._shopify_find_partners(
            [
                order
                for order, cid, company in zip(
                    orders, customer_ids, companies, strict=True
                )
                if not company and not bound.get(cid)
            ]
        )
        partners, new_vals, to_bind, contacts = [], [], [], set()
        for index, (order, customer_id, company) in enumerate(
            zip(orders, customer_ids, companies, strict=True)
        ):
            partner = bound.get(customer_id) or Partner
            if company:
                if partner.commercial_partner_id != company:
                    partner = _company_contact(company, order)
                    if not partner:
                        contacts.add(index)
                if customer_id and customer_id not in bound:
                    to_bind.append((index, customer_id))
            elif not partner:
                partner = matched.get(order.id) or Partner
                if not partner:
                    new_vals.append(self._shopify_partner_vals(order, places))
                if customer_id:
                    to_bind.append((index, customer_id))
            partners.append(partner)
        created = iter(self._shopify_create_contacts(new_vals))
        # whose children the addresses are: a company's, a new customer's
        # own (no parent to read), a known customer's commercial partner's
        owners = [
            company or (partner and _address_owner(partner)) or None
            for partner, company in zip(partners, companies, strict=True)
        ]
        partners = [
            partner or (Partner if index in contacts else next(created))
            for index, partner in enumerate(partners)
        ]
        owners = [
            owner or partner for owner, partner in zip(owners, partners, strict=True)
        ]
        self._shopify_bind_many(
            "res.partner",
            [
                (customer_id, partners[index], {})
                for index, customer_id in to_bind
                if index not in contacts
            ],
        )
        found = [{} for _order in orders]
        missing = [(index, "contact", None) for index in sorted(contacts)]
        for index, (order, owner) in enumerate(zip(orders, owners, strict=True)):
            for kind, address in (
                ("invoice", order.billing_address),
                ("delivery", order.shipping_address),
            ):
                child = self._shopify_find_address(owner, address, kind)
                if child:
                    found[index][kind] = child
                else:
                    missing.append((index, kind, address))
        children = self._shopify_create_addresses(
            [
                self._shopify_contact_vals(companies[index], orders[index])
                if kind == "contact"
                else self._shopify_child_vals(owners[index], address, kind, places)
                for index, kind, address in missing
            ]
        )
        for (index, kind, _address), child in zip(missing, children, strict=True):
            if kind == "contact":
                partners[index] = child
            else:
                found[index][kind] = child
        self._shopify_bind_many(  # the new contacts of companies
            "res.partner",
            [
                (customer_id, partners[index], {})
                for index, customer_id in to_bind
                if index in contacts
            ],
        )
        return [
            (partner, addresses["invoice"], addresses["delivery"])
            for partner, addresses in zip(partners, found, strict=True)
        ]

    def _shopify_companies(self, orders, places):
        """[company contact or empty recordset] of each order: for a B2B
        order, the company bound to its Shopify company id, else the
        company contact of the same name (case aside), else a new one
        (created together, once per name); the Shopify company id is bound
        to it."""
        Partner = self.env["res.partner"]
        b2b = [order for order in orders if order.is_b2b]
        if not b2b:
            return [Partner for _order in orders]
        keys = {order.id: _company_key(order) for order in b2b}
        bindings = self.env["dsync.binding"]._find_many(
            self, "res.partner", [key for key in keys.values() if key]
        )
        alive = Partner.browse(bindings.mapped("res_id")).exists()
        bound = {
            binding.external_id: alive & Partner.browse(binding.res_id)
            for binding in bindings
        }
        names = {
            order.company_name.lower() for order in b2b if not bound.get(keys[order.id])
        }
        by_name = {}
        if names:
            for partner in Partner.search(
                [
                    ("is_company", "=", True),
                    ("parent_id", "=", False),
                    *expression.OR(
                        [[("name", "=ilike", _escape_like(name))] for name in names]
                    ),
                    *Partner._check_company_domain(self.company_id),
                ]
            ):
                by_name.setdefault(partner.name.lower(), partner)
        result, new_vals, new_index, to_bind = [], [], {}, {}
        for order in orders:
            key = keys.get(order.id)
            company = Partner
            if order.is_b2b:
                name = order.company_name.lower()
                company = bound.get(key) or by_name.get(name) or Partner
                if not company and name not in new_index:
                    new_index[name] = len(new_vals)
                    new_vals.append(self._shopify_company_vals(order, places))
                if key and not bound.get(key):
                    to_bind.setdefault(key, len(result))
            result.append(company)
        created = self._shopify_create_contacts(new_vals)
        for index, order in enumerate(orders):
            if order.is_b2b and not result[index]:
                result[index] = created[new_index[order.company_name.lower()]]
        self._shopify_bind_many(
            "res.partner", [(key, result[index], {}) for key, index in to_bind.items()]
        )
        return result

    def _shopify_company_vals(self, order, places=None):
        source = order.billing_address or order.shipping_address or {}
        vals = {
            "name": order.company_name,
            "is_company": True,
            "customer_rank": 1,
            "company_id": False,
        }
        vals.update(self._shopify_address_vals(source, places))
        return vals

    def _shopify_contact_vals(self, company, order):
        """The buyer of a B2B order as a contact of its company (with the
        company's address, as Odoo gives a new contact)."""
        customer = order.customer
        source = order.billing_address or customer.get("default_address") or {}
        vals = {
            "parent_id": company.id,
            "type": "contact",
            "name": _person_name(customer)
            or _person_name(source)
            or order.email
            or company.name,
            "email": customer.get("email") or order.email or False,
            "phone": customer.get("phone") or order.phone or False,
        }
        for fname in self.env["res.partner"]._address_fields():
            value = company[fname]
            vals[fname] = value.id if isinstance(value, models.BaseModel) else value
        return vals

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
        financial status the store's rule confirms (or, when the store says
        so, that are on B2B payment terms)."""
        statuses = self._shopify_confirm_status_set()
        on_terms = self.shopify_confirm_payment_terms
        due = self.env["sale.order"].concat(
            *(
                sale
                for sale, order in zip(sales, orders, strict=True)
                if sale.state in ("draft", "sent")
                and (
                    order.financial_status in statuses
                    or (on_terms and order.payment_terms)
                )
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
        """Odoo's totals must be Shopify's to the cent, or nothing is kept:
        its current totals (after order edits) or, when Odoo's order keeps
        what a refund took back (a credit note answers refunds), the order's
        totals before refunds."""
        total, tax = _dec(sale.amount_total), _dec(sale.amount_tax)
        if any(
            abs(total - s_total) <= TOLERANCE and abs(tax - s_tax) <= TOLERANCE
            for s_total, s_tax in order.totals
        ):
            return
        s_total, s_tax = order.totals[0]
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
                s_total=s_total,
                s_tax=s_tax,
            ),
            kind_key="amount:"
            + (",".join(codes) or "untaxed")
            + (":included" if order.taxes_included else ""),
            details=_amount_details(sale, order),
            fix=_amount_fix(sale, order, (total, tax), (s_total, s_tax)),
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
        if not entries:
            return self.env["dsync.binding"]
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


def _escape_like(value):
    """``value`` for ``=ilike``: its ``%``, ``_`` and ``\\`` literal."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _net_days(term):
    """N when payment terms ask the whole amount N days after the invoice
    (no early discount), else None."""
    if term.early_discount or len(term.line_ids) != 1:
        return None
    line = term.line_ids
    if (
        line.value != "percent"
        or float_compare(line.value_amount, 100.0, precision_digits=2)
        or line.delay_type != "days_after"
    ):
        return None
    return line.nb_days


def _as_product(record, Product):
    """A value map's target as a product variant (a template: its variant)."""
    if not isinstance(record, models.BaseModel):
        return Product
    if record._name == "product.template":
        record = record.product_variant_id
    return record if record and record._name == "product.product" else Product


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


def _header_text(order):
    """The order header's values that are Shopify's text as is (compared
    with the order's to tell what an update changes)."""
    return {
        "client_order_ref": order.po_number or order.name,
        "shopify_payment_terms": order.payment_terms.name
        if order.payment_terms
        else False,
        "shopify_tags": ", ".join(order.tags) or False,
        "shopify_note": order.delivery_note or False,
    }


def _company_key(order):
    """The binding key of a B2B order's Shopify company (or "")."""
    return f"company/{order.company_id}" if order.company_id else ""


def _company_contact(company, order):
    """The contact of ``company`` who placed ``order``: same email, else
    (no email) same name."""
    email = customer_email(order)
    name = _person_name(order.customer) or _person_name(order.billing_address)
    for child in company.child_ids:
        if child.type != "contact":
            continue
        if email and child.email_normalized == email:
            return child
        if not email and name and child.name == name:
            return child
    return company.browse()


def _person_name(values):
    if not values:
        return ""
    name = " ".join(
        part for part in (values.get("first_name"), values.get("last_name")) if part
    )
    return name or values.get("name") or ""


def _address_owner(partner):
    """The contact whose children an order's addresses are: the company of a
    company's contact (B2B), else the customer."""
    return partner.commercial_partner_id if partner.parent_id else partner


def _address_text(address):
    """A Shopify address on one line (street, zip, city, country)."""
    parts = (
        address.get("address1"),
        address.get("address2"),
        " ".join(p for p in (address.get("zip"), address.get("city")) if p),
        address.get("country_code"),
    )
    return ", ".join(p for p in parts if p)


def _partner_address_text(partner):
    parts = (
        partner.street,
        partner.street2,
        " ".join(p for p in (partner.zip, partner.city) if p),
        partner.country_id.code,
    )
    return ", ".join(p for p in parts if p)


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


def _amount_fix(sale, order, odoo, shopify):
    """Shopify's and Odoo's amounts, line by line and in total (``odoo`` and
    ``shopify``: (total, tax)), for the exception's side-by-side table."""
    (total, tax), (s_total, s_tax) = odoo, shopify
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
            "channel_total": str(s_total),
            "odoo_total": str(total),
            "channel_tax": str(s_tax),
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
