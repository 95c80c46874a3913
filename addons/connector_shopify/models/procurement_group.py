# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models

from ..batch_scope import current_scope, freeze


class ProcurementGroup(models.Model):
    _inherit = "procurement.group"

    @api.model
    def _search_rule_for_warehouses(
        self, route_ids, packaging_id, product_id, warehouse_ids, domain
    ):
        """Inside a batch scope, the rules of the same routes, warehouses and
        locations are searched once: Odoo asks for every order line, and
        the lines of a batch share a few routes (see batch_scope).

        The answer depends on the product only through its routes and its
        category's, which the key holds, as it holds the user and companies
        the rules were read with (record rules)."""
        scope = current_scope(self.env)
        if scope is None:
            return super()._search_rule_for_warehouses(
                route_ids, packaging_id, product_id, warehouse_ids, domain
            )
        routes = product_id.route_ids | product_id.categ_id.total_route_ids
        if route_ids:
            routes |= route_ids
        if packaging_id:
            routes |= packaging_id.route_ids
        key = (
            self.env.uid,
            self.env.su,
            tuple(self.env.companies.ids),
            frozenset(routes.ids),
            tuple(warehouse_ids.ids) if warehouse_ids else (),
            freeze(domain),
        )
        memo = scope.setdefault("stock_rules", {})
        if key not in memo:
            memo[key] = super()._search_rule_for_warehouses(
                route_ids, packaging_id, product_id, warehouse_ids, domain
            )
        return memo[key]
