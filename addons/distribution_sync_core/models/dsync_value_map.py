# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models

from ..errors import BusinessError

MAP_TYPES = [
    ("carrier_service", "Carrier service"),
    ("tax_code", "Tax code"),
    ("payment_method", "Payment method"),
    ("uom", "Unit of measure"),
    ("location", "Location"),
    ("shipping_method", "Shipping method"),
    ("other", "Other"),
]


class DsyncValueMap(models.Model):
    """A platform's code ↔ an Odoo record (or an Odoo code), per backend."""

    _name = "dsync.value.map"
    _description = "Sync Value Map"
    _order = "backend_id, map_type, external_code"
    _rec_name = "external_code"

    backend_id = fields.Many2one("dsync.backend", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    map_type = fields.Selection(MAP_TYPES, required=True)
    external_code = fields.Char(
        required=True, help="The code as the platform sends it."
    )
    external_label = fields.Char()
    target_ref = fields.Reference(
        selection="_selection_target_model", string="Odoo Record"
    )
    odoo_value = fields.Char(help="Odoo-side code, when the target is not a record.")
    active = fields.Boolean(default=True)

    _sql_constraints = [
        (
            "code_unique",
            "unique(backend_id, map_type, external_code)",
            "A code is mapped once per backend and type.",
        )
    ]

    @api.model
    def _selection_target_model(self):
        return [(m.model, m.name) for m in self.env["ir.model"].sudo().search([])]

    @api.model
    def _lookup(self, backend, map_type, external_code, required=True):
        """Mapped record (or value) for ``external_code``.

        A missing mapping raises a ``missing_mapping`` business error whose
        kind key lets a user retry every event waiting for that code once the
        mapping exists.
        """
        mapping = self.search(
            [
                ("backend_id", "=", backend.id),
                ("map_type", "=", map_type),
                ("external_code", "=", external_code),
            ],
            limit=1,
        )
        if mapping:
            return mapping.target_ref or mapping.odoo_value
        if not required:
            return None
        label = dict(MAP_TYPES)[map_type]
        raise BusinessError(
            "missing_mapping",
            _(
                "No mapping for %(type)s '%(code)s' on %(backend)s.",
                type=label,
                code=external_code,
                backend=backend.name,
            ),
            kind_key=f"{map_type}:{external_code}",
        )
