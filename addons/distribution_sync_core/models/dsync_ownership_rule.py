# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models

from ..errors import BusinessError

BUSINESS_OBJECTS = [
    ("order_header", "Order header"),
    ("order_lines", "Order lines"),
    ("prices", "Prices"),
    ("stock_level", "Stock level"),
    ("shipment_status", "Shipment status"),
    ("tracking", "Tracking"),
    ("invoice", "Invoice"),
]


class DsyncOwnershipRule(models.Model):
    """Which system is the system of record for a business object."""

    _name = "dsync.ownership.rule"
    _description = "Sync Ownership Rule"
    _order = "company_id, business_object"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    business_object = fields.Selection(BUSINESS_OBJECTS, required=True)
    owner = fields.Selection(
        selection="_selection_owner",
        required=True,
        help="The system whose data wins. Inbound changes from any other "
        "system are not applied and open a conflict exception.",
    )
    note = fields.Char()

    _sql_constraints = [
        (
            "object_unique",
            "unique(company_id, business_object)",
            "One owner per business object and company.",
        )
    ]

    @api.model
    def _selection_owner(self):
        backend_types = self.env["dsync.backend"]._fields["backend_type"].selection
        return [("odoo", "Odoo")] + [
            (code, label) for code, label in backend_types if code != "generic"
        ]

    @api.model
    def _owner_of(self, business_object, company):
        rule = self.sudo().search(
            [
                ("business_object", "=", business_object),
                ("company_id", "=", company.id),
            ],
            limit=1,
        )
        return rule.owner if rule else None

    @api.model
    def _may_change(self, backend, business_object):
        """True when ``backend``'s system may change ``business_object``.

        Without a rule the object has no declared owner and the change is
        allowed; a rule naming another system forbids it.
        """
        owner = self._owner_of(business_object, backend.company_id)
        return owner is None or owner == backend.backend_type

    @api.model
    def _check_change(self, backend, business_object, record=None):
        """Raise a ``conflict`` business error unless the change is allowed."""
        if self._may_change(backend, business_object):
            return
        owner = self._owner_of(business_object, backend.company_id)
        label = dict(BUSINESS_OBJECTS)[business_object]
        raise BusinessError(
            "conflict",
            _(
                "%(backend)s tried to change the %(object)s, which %(owner)s owns.",
                backend=backend.name,
                object=label.lower(),
                owner=owner,
            ),
            kind_key=f"{business_object}:{backend.backend_type}",
            record=record,
        )
