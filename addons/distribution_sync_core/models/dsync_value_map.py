# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

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
# The Odoo models a map type's codes may point to (those installed count).
TARGET_MODELS = {
    "carrier_service": ["delivery.carrier"],
    "tax_code": ["account.tax"],
    "payment_method": ["account.journal", "account.payment.method.line"],
    "uom": ["uom.uom"],
    "location": ["stock.warehouse", "stock.location"],
    "shipping_method": ["delivery.carrier"],
}


class DsyncValueMap(models.Model):
    """A platform's code ↔ an Odoo record (or an Odoo code), per backend."""

    _name = "dsync.value.map"
    _description = "Sync Value Map"
    _order = "backend_id, map_type, external_code"
    _rec_name = "external_code"
    _rec_names_search = ["external_code", "external_label"]

    backend_id = fields.Many2one("dsync.backend", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    map_type = fields.Selection(MAP_TYPES, required=True)
    external_code = fields.Char(
        required=True, help="The code as the platform sends it."
    )
    external_label = fields.Char(help="What the platform calls it.")
    target_ref = fields.Reference(
        selection="_selection_target_model",
        string="Odoo Record",
        help="The Odoo record the code stands for.",
    )
    target_model_id = fields.Many2one(
        "ir.model",
        string="Odoo Record Type",
        compute="_compute_target_model_id",
        readonly=False,
        domain="[('id', 'in', allowed_model_ids)]",
        help="Which kind of Odoo record this code stands for.",
    )
    allowed_model_ids = fields.Many2many(
        "ir.model", compute="_compute_allowed_model_ids"
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
    def _dsync_target_models(self):
        """{map type: [model names]} of the records a code may stand for;
        addons add their map types' models. Types without an entry may
        point to any of the listed models."""
        return dict(TARGET_MODELS)

    @api.model
    def _dsync_allowed_models(self, map_type):
        targets = self._dsync_target_models()
        names = targets.get(map_type) or sorted(
            {name for names in targets.values() for name in names}
        )
        return [name for name in names if name in self.env]

    @api.model
    def _selection_target_model(self):
        names = self._dsync_allowed_models(False)
        models_ = self.env["ir.model"].sudo().search([("model", "in", names)])
        return [(m.model, m.name) for m in models_]

    @api.depends("map_type")
    def _compute_allowed_model_ids(self):
        Model = self.env["ir.model"].sudo()
        for mapping in self:
            mapping.allowed_model_ids = Model.search(
                [("model", "in", self._dsync_allowed_models(mapping.map_type))]
            )

    @api.depends("map_type", "target_ref")
    def _compute_target_model_id(self):
        Model = self.env["ir.model"].sudo()
        for mapping in self:
            name = (
                mapping.target_ref._name
                if mapping.target_ref
                else (self._dsync_allowed_models(mapping.map_type) or [None])[0]
            )
            mapping.target_model_id = Model._get(name) if name else False

    @api.depends("external_code", "external_label")
    def _compute_display_name(self):
        for mapping in self:
            mapping.display_name = mapping.external_label or mapping.external_code

    @api.constrains("map_type", "target_ref")
    def _check_target_model(self):
        for mapping in self.filtered("target_ref"):
            allowed = self._dsync_allowed_models(mapping.map_type)
            if mapping.target_ref._name not in allowed:
                raise ValidationError(
                    _(
                        "A %(type)s code cannot stand for a %(model)s; choose "
                        "one of: %(allowed)s.",
                        type=dict(
                            self._fields["map_type"]._description_selection(self.env)
                        )[mapping.map_type],
                        model=mapping.target_ref._description,
                        allowed=", ".join(
                            self.env[name]._description for name in allowed
                        ),
                    )
                )

    @api.model
    def _reverse_lookup(self, backend, map_type, record):
        """The platform's code mapped to the Odoo ``record`` (or None)."""
        mapping = self.search(
            [
                ("backend_id", "=", backend.id),
                ("map_type", "=", map_type),
                ("target_ref", "=", f"{record._name},{record.id}"),
            ],
            limit=1,
        )
        return mapping.external_code if mapping else None

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
        label = dict(self._fields["map_type"]._description_selection(self.env))[
            map_type
        ]
        raise BusinessError(
            "missing_mapping",
            _(
                "No mapping for %(type)s '%(code)s' on %(backend)s.",
                type=label,
                code=external_code,
                backend=backend.name,
            ),
            kind_key=f"{map_type}:{external_code}",
            fix={"map_type": map_type, "code": external_code},
        )
