# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the warehouse says about a released order besides shipping it: a
short pick, a hold, a cancellation.

* ``order.short``: the units the warehouse cannot pick. With the
  *backorder* policy they stay open (the next shipment leaves them in a
  backorder); with *cancel* they are cancelled at once (a cancelled split of
  the move) and the warehouse gets the order's new version (or its cancel
  when nothing is left), so that it does not ship them later. Customer
  service gets a *short shipped* follow-up either way.
* ``order.on_hold``: the picking shows the hold and its reason; customer
  service gets a follow-up (an address to fix, a payment to check).
* ``order.cancelled``: what is not shipped is cancelled. When Odoo asked
  for it, that is the end of it; when the warehouse decided, customer
  service gets a follow-up.

Nothing else of these is sent back to the warehouse: it reported them.
"""

from collections import defaultdict

from odoo import _, models
from odoo.tools import float_compare, float_is_zero

from odoo.addons.distribution_sync_core.errors import BusinessError

from .. import wms_payload


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    def _wms_open_picking(self, event, reference, code="outgoing"):
        """The open picking of ``reference`` (raises when there is none)."""
        pickings = self._wms_pickings_of(reference).filtered(
            lambda p: p.picking_type_code == code
        )
        if not pickings:
            raise self._wms_order_error(reference)
        self._wms_adopt(pickings, reference)
        open_pickings = pickings.filtered(lambda p: p.state not in ("done", "cancel"))
        return open_pickings[:1], pickings

    def _wms_process_order_short(self, event):
        reference, lines = self._wms_parse(event, wms_payload.short)
        picking, pickings = self._wms_open_picking(event, reference)
        if not picking:
            raise BusinessError(
                "quantity_mismatch",
                _(
                    "The warehouse reports a short pick on %(ref)s, which has "
                    "nothing left open (already shipped or cancelled). Check "
                    "with the warehouse.",
                    ref=reference,
                ),
                team="warehouse",
                kind_key=f"order:{reference}",
                record=pickings[:1],
            )
        products = self._wms_products_by_sku({line.sku for line in lines})
        short = defaultdict(float)
        reasons = set()
        for line in lines:
            product = products.get(line.sku)
            if not product:
                raise self._wms_unknown_sku(line.sku, reference)
            short[product] += line.quantity
            if line.reason:
                reasons.add(line.reason)
        reason = self._wms_parse(event, dict)["data"].get("reason")
        if reason:
            reasons.add(reason)
        moves = picking.move_ids.filtered(lambda m: m.state not in ("done", "cancel"))
        self._wms_check_over(picking, moves, short, reference, short=True)
        applying = picking.with_context(dsync_wms_apply=True)
        note = _(
            "Short at the warehouse: %s",
            ", ".join(f"{q:g} × {p.default_code}" for p, q in short.items()),
        )
        if self.wms_short_policy == "cancel":
            self._wms_cancel_quantities(applying, short)
            picking.invalidate_recordset()
            backorder = None
            # Odoo's decision (the policy), not the warehouse's report: the
            # warehouse gets the order's new version (or its cancel), so that
            # it does not ship the units later
            self._wms_post_pickings(picking)
        else:
            backorder = picking
        applying.wms_status_note = note
        picking.message_post(body=note)
        event._dsync_follow_up(
            self._wms_short_follow_up(
                picking, short, backorder, reason=", ".join(sorted(reasons)) or None
            )
        )
        return picking

    def _wms_cancel_quantities(self, picking, quantities):
        """Cancel ``quantities`` ({product: qty}) of the picking's open moves:
        a move short of all of it is cancelled, else its short part is split
        off and cancelled."""
        Move = picking.env["stock.move"]
        for product, quantity in quantities.items():
            left = quantity
            for move in picking.move_ids.filtered(
                lambda m, p=product: (
                    m.product_id == p and m.state not in ("done", "cancel")
                )
            ).sorted("id", reverse=True):
                if float_is_zero(left, precision_rounding=product.uom_id.rounding):
                    break
                if (
                    float_compare(
                        move.product_qty,
                        left,
                        precision_rounding=product.uom_id.rounding,
                    )
                    <= 0
                ):
                    left -= move.product_qty
                    move._do_unreserve()
                    move._action_cancel()
                    continue
                move._do_unreserve()
                split = Move.create(move._split(left))
                split._action_confirm(merge=False)
                split._action_cancel()
                left = 0.0
        if all(move.state == "cancel" for move in picking.move_ids):
            picking.wms_state = "cancelled"

    def _wms_process_order_on_hold(self, event):
        doc = self._wms_parse(event, dict)
        reference, data = doc["order_ref"], doc["data"]
        picking, pickings = self._wms_open_picking(event, reference)
        target = picking or pickings[:1]
        reason = data.get("reason")
        note = _("On hold at the warehouse: %s", reason) + (
            f" ({data['message']})" if data.get("message") else ""
        )
        if picking:
            picking.with_context(dsync_wms_apply=True).write(
                {"wms_state": "on_hold", "wms_status_note": note}
            )
        target.message_post(body=note)
        event._dsync_follow_up(
            BusinessError(
                "to_review",
                _(
                    "The warehouse holds %(ref)s%(order)s: %(reason)s%(message)s. "
                    "Sort it out with the customer or the warehouse; the order "
                    "ships once the warehouse releases it.",
                    ref=reference,
                    order=self._wms_order_label(target),
                    reason=reason,
                    message=f" ({data['message']})" if data.get("message") else "",
                ),
                team="customer_service",
                kind_key=f"hold:{reference}",
                record=target,
            )
        )
        return target

    def _wms_process_order_cancelled(self, event):
        doc = self._wms_parse(event, dict)
        reference, data = doc["order_ref"], doc["data"]
        pickings = self._wms_pickings_of(reference).filtered(
            lambda p: p.picking_type_code == "outgoing"
        )
        if not pickings:
            raise self._wms_order_error(reference)
        asked = any(p.wms_state in ("cancel_requested", "cancelled") for p in pickings)
        open_pickings = pickings.filtered(lambda p: p.state not in ("done", "cancel"))
        applying = open_pickings.with_context(dsync_wms_apply=True)
        if open_pickings:
            applying.action_cancel()
        pickings.with_context(dsync_wms_apply=True).write({"wms_state": "cancelled"})
        target = open_pickings[:1] or pickings[:1]
        target.message_post(
            body=_(
                "The warehouse cancelled %(ref)s%(reason)s.",
                ref=reference,
                reason=_(": %s", data["reason"]) if data.get("reason") else "",
            )
        )
        if not asked:
            shipped = pickings.filtered(lambda p: p.state == "done")
            event._dsync_follow_up(
                BusinessError(
                    "to_review",
                    _(
                        "The warehouse cancelled %(ref)s%(order)s on its own "
                        "(%(reason)s).%(shipped)s Tell the customer, or release "
                        "the order again once the warehouse can ship it.",
                        ref=reference,
                        order=self._wms_order_label(target),
                        reason=data.get("reason") or _("no reason given"),
                        shipped=_(" Part of it was shipped already.")
                        if shipped
                        else "",
                    ),
                    team="customer_service",
                    kind_key=f"cancel:{reference}",
                    record=target,
                )
            )
        return target

    def _wms_order_label(self, picking):
        sale = picking.sale_id if "sale_id" in picking._fields else None
        order = (sale and (sale.client_order_ref or sale.name)) or picking.origin
        return _(" (order %s)", order) if order else ""
