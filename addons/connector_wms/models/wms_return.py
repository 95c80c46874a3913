# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Customer returns received by the warehouse (``return.received``).

The return is made the way a person makes it in Odoo: Odoo's return wizard
(``stock.return.picking``) on the original delivery of the order's
reference (on each delivery, when the order shipped in several), with the
returned quantities, then validated with the warehouse's lots and serial
numbers. Resaleable goods stay in the return's destination (stock);
damaged goods are scrapped from there to the backend's damaged-goods
location (the company's scrap location by default), one scrap order per
line. A return without a known original, or returning more than was
shipped, is an exception for customer service; the same return id is never
applied twice.
"""

from collections import defaultdict

from odoo import _, models
from odoo.tools import float_compare, float_is_zero

from odoo.addons.distribution_sync_core.errors import BusinessError, DuplicateEvent

from .. import wms_payload


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    def _wms_process_return_received(self, event):
        reference, return_id, lines = self._wms_parse(
            event, wms_payload.return_received
        )
        Binding = self.env["dsync.binding"].sudo()
        if Binding._find(self, "stock.picking", f"return:{return_id}"):
            raise DuplicateEvent(_("Return %s was already applied.", return_id))
        deliveries = self._wms_returnable_deliveries(reference, return_id)
        env = self.env(context=dict(self.env.context, dsync_wms_apply=True))
        products = self._wms_products_by_sku({line.sku for line in lines})
        wanted = defaultdict(float)
        for line in lines:
            product = products.get(line.sku)
            if not product:
                raise self._wms_unknown_sku(line.sku, reference)
            wanted[product] += line.quantity
        plan = self._wms_return_plan(
            deliveries.with_env(env), wanted, reference, return_id
        )
        returns = env["stock.picking"]
        for delivery, quantities in plan.items():
            returns |= self._wms_make_return(delivery, quantities, lines, products)
        self._wms_scrap_damaged(returns, lines, products, return_id)
        Binding._bind(self, returns[:1], f"return:{return_id}", event=event)
        returns.message_post(body=_("Return %s received by the warehouse.", return_id))
        return returns[:1]

    def _wms_returnable_deliveries(self, reference, return_id):
        if not reference:
            raise BusinessError(
                "unknown_reference",
                _(
                    "The warehouse received return %s without the reference of "
                    "the original order: find the order (the customer, the "
                    "items) and create the return by hand, or ask the warehouse "
                    "for the reference.",
                    return_id,
                ),
                team="customer_service",
                kind_key=f"return:{return_id}",
            )
        deliveries = self._wms_pickings_of(reference).filtered(
            lambda p: p.picking_type_code == "outgoing" and p.state == "done"
        )
        if not deliveries:
            raise BusinessError(
                "unknown_reference",
                _(
                    "The warehouse received return %(id)s of %(ref)s, and Odoo has "
                    "no shipped delivery of that reference. Check the reference "
                    "with the warehouse; retry once it is known.",
                    id=return_id,
                    ref=reference,
                ),
                team="customer_service",
                kind_key=f"order:{reference}",
            )
        return deliveries.sorted("id")

    def _wms_return_plan(self, deliveries, wanted, reference, return_id):
        """{delivery: {move: quantity}} returning ``wanted`` ({product:
        quantity}) from the deliveries' done moves, oldest first, within
        what was shipped and not returned yet."""
        plan = defaultdict(dict)
        for product, quantity in wanted.items():
            left = quantity
            for move in deliveries.move_ids.filtered(
                lambda m, p=product: m.product_id == p and m.state == "done"
            ).sorted("id"):
                returned = sum(
                    m.product_qty for m in move.returned_move_ids if m.state != "cancel"
                )
                room = move.product_qty - returned
                take = min(left, room)
                if take > 0:
                    plan[move.picking_id][move] = take
                    left -= take
                if float_is_zero(left, precision_rounding=product.uom_id.rounding):
                    break
            if float_compare(left, 0.0, precision_rounding=product.uom_id.rounding) > 0:
                raise BusinessError(
                    "quantity_mismatch",
                    _(
                        "Return %(id)s brings back %(qty)s × %(sku)s of %(ref)s, "
                        "more than was shipped and not returned yet (%(room)s). "
                        "Check the return with the warehouse.",
                        id=return_id,
                        qty=quantity,
                        sku=product.default_code,
                        ref=reference,
                        room=quantity - left,
                    ),
                    team="customer_service",
                    kind_key=f"return:{return_id}",
                    record=deliveries[:1],
                )
        return plan

    def _wms_make_return(self, delivery, quantities, lines, products):
        """Odoo's return wizard on ``delivery`` for ``quantities`` ({move:
        qty}), validated with the warehouse's lots and serial numbers."""
        Wizard = self.env["stock.return.picking"].with_context(
            active_id=delivery.id, active_model="stock.picking", dsync_wms_apply=True
        )
        wizard = Wizard.create({"picking_id": delivery.id})
        for return_line in wizard.product_return_moves:
            return_line.quantity = quantities.get(return_line.move_id, 0.0)
        picking = wizard._create_return()
        picking = picking.with_context(dsync_wms_apply=True)
        lots = self._wms_return_lots(lines, products)
        picking.move_ids.move_line_ids.unlink()
        vals_list = []
        for move in picking.move_ids:
            names = lots.get(move.product_id) or []
            left = move.product_qty
            for name, quantity in names:
                if left <= 0:
                    break
                take = min(quantity, left)
                vals_list.append(self._wms_return_line_vals(move, take, name))
                left -= take
            if left > 0:
                vals_list.append(self._wms_return_line_vals(move, left, None))
        self.env["stock.move.line"].sudo().create(vals_list)
        picking.move_ids.picked = True
        picking.with_context(cancel_backorder=True)._action_done()
        return picking

    def _wms_return_lots(self, lines, products):
        lots = defaultdict(list)
        for line in lines:
            if line.lot or line.serials:
                product = products[line.sku]
                for name, quantity in (
                    [(serial, 1.0) for serial in line.serials]
                    if line.serials
                    else [(line.lot, line.quantity)]
                ):
                    lots[product].append((name, quantity))
        return lots

    def _wms_return_line_vals(self, move, quantity, lot_name):
        vals = {
            "move_id": move.id,
            "picking_id": move.picking_id.id,
            "product_id": move.product_id.id,
            "product_uom_id": move.product_id.uom_id.id,
            "quantity": quantity,
            "location_id": move.location_id.id,
            "location_dest_id": move.location_dest_id.id,
            "company_id": move.company_id.id,
            "picked": True,
        }
        if lot_name:
            lot = (
                self.env["stock.lot"]
                .sudo()
                .search(
                    [
                        ("name", "=", lot_name),
                        ("product_id", "=", move.product_id.id),
                        ("company_id", "in", [False, move.company_id.id]),
                    ],
                    limit=1,
                )
            )
            if lot:
                vals["lot_id"] = lot.id
            else:
                vals["lot_name"] = lot_name
        return vals

    def _wms_scrap_damaged(self, returns, lines, products, return_id):
        """Scrap the damaged units from where the return put them."""
        damaged = [line for line in lines if line.condition == "damaged"]
        if not damaged:
            return self.env["stock.scrap"]
        Scrap = self.env["stock.scrap"].sudo().with_context(dsync_wms_apply=True)
        vals_list = []
        for line in damaged:
            product = products[line.sku]
            move_line = returns.move_line_ids.filtered(
                lambda ml, p=product: ml.product_id == p
            )[:1]
            for name, quantity in line.assignments():
                vals = {
                    "product_id": product.id,
                    "product_uom_id": product.uom_id.id,
                    "scrap_qty": quantity,
                    "location_id": move_line.location_dest_id.id
                    or returns[:1].location_dest_id.id,
                    "picking_id": move_line.picking_id.id or returns[:1].id,
                    "origin": _("Return %s: damaged", return_id),
                    "company_id": self.company_id.id,
                }
                if self.wms_damaged_location_id:
                    vals["scrap_location_id"] = self.wms_damaged_location_id.id
                if name:
                    lot = returns.move_line_ids.filtered(
                        lambda ml, p=product, n=name: (
                            ml.product_id == p and ml.lot_id.name == n
                        )
                    ).lot_id[:1]
                    vals["lot_id"] = lot.id or False
                vals_list.append(vals)
        scraps = Scrap.create(vals_list)
        scraps.do_scrap()
        return scraps
