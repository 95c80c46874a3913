# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models

from ..batch_scope import current_scope


class ResUsers(models.Model):
    _inherit = "res.users"

    def _get_default_warehouse_id(self):
        """Inside a batch scope, a salesperson's default warehouse in a
        company is looked up once: Odoo searches for it for every new order
        (see batch_scope)."""
        scope = current_scope(self.env)
        if scope is None or len(self) > 1:
            return super()._get_default_warehouse_id()
        key = (self.id, self.env.uid, self.env.su, self.env.company.id)
        memo = scope.setdefault("default_warehouses", {})
        if key not in memo:
            memo[key] = super()._get_default_warehouse_id()
        return memo[key]
