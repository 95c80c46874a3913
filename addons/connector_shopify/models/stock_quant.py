# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

# precommit data key: {location id: set of product ids}
RESERVED_KEY = "connector_shopify.reserved"


class StockQuant(models.Model):
    _inherit = "stock.quant"

    def _update_reserved_quantity(
        self,
        product_id,
        location_id,
        quantity,
        lot_id=None,
        package_id=None,
        owner_id=None,
        strict=True,
    ):
        """Every reservation and unreservation passes here: remember what
        changed, so that channels publishing the free quantity learn it when
        the transaction commits (a B2B order reserving the last units must
        not leave them for sale on Shopify until the next move is done)."""
        result = super()._update_reserved_quantity(
            product_id,
            location_id,
            quantity,
            lot_id=lot_id,
            package_id=package_id,
            owner_id=owner_id,
            strict=strict,
        )
        if quantity and product_id.default_code and location_id.usage == "internal":
            precommit = self.env.cr.precommit
            changed = precommit.data.get(RESERVED_KEY)
            if changed is None:
                changed = precommit.data[RESERVED_KEY] = {}
                precommit.add(self._shopify_post_reserved_levels)
            changed.setdefault(location_id.id, set()).add(product_id.id)
        return result

    def _shopify_post_reserved_levels(self):
        """Precommit hook: post the levels changed by the transaction's
        reservations, once per product and location."""
        changed = self.env.cr.precommit.data.pop(RESERVED_KEY, None)
        if changed:
            self.env["dsync.backend"].sudo()._shopify_on_reservations_changed(changed)
            self.env.flush_all()
