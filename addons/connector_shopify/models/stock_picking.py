# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

from ..batch_scope import ORIGIN_NOTE, current_scope, defer_subscribe

# A change of these on a delivery already done updates its fulfillment.
TRACKING_FIELDS = ("carrier_tracking_ref", "carrier_id")


class StockPicking(models.Model):
    _inherit = "stock.picking"

    def write(self, vals):
        """Tracking given or corrected after a delivery is done (a label
        bought later, a carrier's correction) goes to Shopify as well."""
        if not any(fname in vals for fname in TRACKING_FIELDS):
            return super().write(vals)
        shipped = self.filtered(
            lambda p: (
                p.state == "done" and p.picking_type_code == "outgoing" and p.sale_id
            )
        )
        before = {p.id: (p.carrier_tracking_ref, p.carrier_id.id) for p in shipped}
        res = super().write(vals)
        changed = shipped.filtered(
            lambda p: before[p.id] != (p.carrier_tracking_ref, p.carrier_id.id)
        )
        if changed:
            self.env["dsync.backend"]._shopify_on_tracking_changed(changed)
        return res

    def message_post_with_source(
        self,
        source_ref,
        render_values=None,
        message_type="notification",
        subtype_xmlid=False,
        subtype_id=False,
        **kwargs,
    ):
        """Inside a batch scope, the "created from" note of a new delivery is
        collected, to be logged with the batch's others (see batch_scope)."""
        scope = current_scope(self.env)
        if (
            scope is None
            or source_ref != ORIGIN_NOTE
            or kwargs
            or message_type != "notification"
            or subtype_id
            or subtype_xmlid not in (False, "mail.mt_note")
        ):
            return super().message_post_with_source(
                source_ref,
                render_values=render_values,
                message_type=message_type,
                subtype_xmlid=subtype_xmlid,
                subtype_id=subtype_id,
                **kwargs,
            )
        scope["origin_notes"].append((self.ids, render_values))
        return self.env["mail.message"]

    def message_subscribe(self, partner_ids=None, subtype_ids=None):
        """Inside a batch scope, inserted with the batch's others."""
        if defer_subscribe(self, partner_ids, subtype_ids):
            return True
        return super().message_subscribe(
            partner_ids=partner_ids, subtype_ids=subtype_ids
        )
