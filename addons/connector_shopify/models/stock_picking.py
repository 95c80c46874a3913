# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

from ..batch_scope import ORIGIN_NOTE, current_scope, defer_subscribe


class StockPicking(models.Model):
    _inherit = "stock.picking"

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
