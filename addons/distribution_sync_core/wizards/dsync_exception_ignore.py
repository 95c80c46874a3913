# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class DsyncExceptionIgnore(models.TransientModel):
    _name = "dsync.exception.ignore"
    _description = "Ignore Sync Exceptions"

    reason = fields.Text(required=True)
    exception_ids = fields.Many2many(
        "dsync.exception",
        default=lambda self: self.env["dsync.exception"].browse(
            self.env.context.get("active_ids", [])
        ),
    )

    def action_confirm(self):
        self.exception_ids._dsync_ignore(self.reason)
        return {"type": "ir.actions.act_window_close"}
