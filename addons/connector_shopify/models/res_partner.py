# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    # Every new Shopify order looks its customer up by these (see
    # ``dsync.backend._shopify_find_partners``); Odoo does not index them,
    # and without an index each lookup scans every contact.
    email_normalized = fields.Char(index="btree_not_null")
    phone = fields.Char(index="btree_not_null")
    mobile = fields.Char(index="btree_not_null")
