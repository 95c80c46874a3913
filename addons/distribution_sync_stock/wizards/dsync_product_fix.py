# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError


class DsyncProductFix(models.TransientModel):
    """Fix an *Unknown product* exception where it is: create each unknown
    product from what the platform sent, or link its SKU to a product Odoo
    already has (a SKU value map of the backend), then retry."""

    _name = "dsync.product.fix"
    _description = "Fix an Unknown Product"

    exception_id = fields.Many2one("dsync.exception", required=True, readonly=True)
    backend_id = fields.Many2one(related="exception_id.backend_id")
    mode = fields.Selection(
        [
            ("create", "Create new products"),
            ("link", "Link to existing products"),
        ],
        required=True,
        default="create",
    )
    line_ids = fields.One2many("dsync.product.fix.line", "wizard_id")
    can_create = fields.Boolean(compute="_compute_can_create")
    same_kind_count = fields.Integer(related="exception_id.same_kind_count")

    @api.depends("mode")
    def _compute_can_create(self):
        allowed = self.env["product.product"].has_access("create")
        for wizard in self:
            wizard.can_create = allowed

    def action_apply(self):
        self._dsync_apply()
        return {"type": "ir.actions.act_window_close"}

    def action_apply_retry(self):
        """Apply, then retry the exception (every exception waiting for the
        same SKU when there are several)."""
        self._dsync_apply()
        exception = self.exception_id
        if exception.same_kind_count > 1:
            return exception.action_retry_same_kind()
        return exception.action_retry()

    def _dsync_apply(self):
        self.ensure_one()
        if not self.line_ids:
            raise UserError(_("There is no SKU to create or link."))
        if self.mode == "create":
            if not self.can_create:
                raise UserError(
                    _(
                        "You may not create products: link the SKU to an existing "
                        "product, or ask an inventory or sales administrator."
                    )
                )
            done = self.line_ids._dsync_create_products()
            note = _("Product(s) created from the exception: %s")
        else:
            done = self.line_ids._dsync_link_products()
            note = _("SKU(s) linked to existing products: %s")
        self.exception_id.message_post(
            body=Markup("%s") % (note % ", ".join(done)),
        )
        return done


class DsyncProductFixLine(models.TransientModel):
    _name = "dsync.product.fix.line"
    _description = "Unknown Product to Create or Link"

    wizard_id = fields.Many2one("dsync.product.fix", required=True, ondelete="cascade")
    sku = fields.Char("SKU", required=True)
    name = fields.Char("Product Name")
    price = fields.Float("Sales Price", digits="Product Price")
    is_storable = fields.Boolean("Track Inventory", default=True)
    product_id = fields.Many2one("product.product", "Existing Product")

    def _dsync_match_field(self):
        """The product field the backend matches SKUs on (its connector's
        ``<type>_product_match`` setting, else the internal reference)."""
        backend = self.wizard_id.backend_id.sudo()
        field = f"{backend.backend_type}_product_match"
        value = backend[field] if field in backend._fields else None
        return value if value in ("default_code", "barcode") else "default_code"

    def _dsync_create_products(self):
        Product = self.env["product.product"]
        done = []
        for line in self:
            match = line._dsync_match_field()
            if Product.search_count([(match, "=", line.sku)], limit=1):
                raise UserError(
                    _(
                        "A product with %(field)s %(sku)s exists already: link "
                        "the SKU to it instead.",
                        field=Product._fields[match].string,
                        sku=line.sku,
                    )
                )
            vals = {
                "name": line.name or line.sku,
                match: line.sku,
                "list_price": line.price,
                "type": "consu",
                "is_storable": line.is_storable,
            }
            product = Product.create(vals)
            done.append(f"{line.sku} → {product.display_name}")
        return done

    def _dsync_link_products(self):
        Map = self.env["dsync.value.map"].sudo()
        done = []
        for line in self:
            if not line.product_id:
                raise UserError(_("Choose the existing product of SKU %s.", line.sku))
            backend = line.wizard_id.backend_id
            existing = Map.with_context(active_test=False).search(
                [
                    ("backend_id", "=", backend.id),
                    ("map_type", "=", "sku"),
                    ("external_code", "=", line.sku),
                ]
            )
            vals = {
                "target_ref": f"product.product,{line.product_id.id}",
                "external_label": line.name,
                "active": True,
            }
            if existing:
                existing.write(vals)
            else:
                Map.create(
                    {
                        **vals,
                        "backend_id": backend.id,
                        "map_type": "sku",
                        "external_code": line.sku,
                    }
                )
            done.append(f"{line.sku} → {line.product_id.display_name}")
        return done
