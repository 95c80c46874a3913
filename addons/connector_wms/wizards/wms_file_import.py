# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import base64

from odoo import _, fields, models
from odoo.exceptions import UserError

from .. import wms_csv


class WmsFileImport(models.TransientModel):
    """Upload a partner's CSV file (shipments, receipts or a snapshot)."""

    _name = "wms.file.import"
    _description = "Import a Warehouse CSV File"

    backend_id = fields.Many2one(
        "dsync.backend",
        required=True,
        domain=[("backend_type", "=", "wms")],
        default=lambda self: self.env["dsync.backend"].search(
            [("backend_type", "=", "wms")], limit=1
        ),
    )
    file = fields.Binary(required=True)
    filename = fields.Char()
    kind = fields.Selection(
        [
            ("shipments", "Shipments"),
            ("receipts", "Receipts"),
            ("snapshot", "Stock snapshot"),
        ],
        help="Leave empty: the file's header tells.",
    )

    def action_import(self):
        self.ensure_one()
        content = base64.b64decode(self.file or b"")
        name = self.filename or "upload.csv"
        try:
            events, problems = self.backend_id._wms_import_csv(content, name, self.kind)
        except wms_csv.FileError as err:
            raise UserError(_("The file was not imported: %s.", err)) from err
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_sync_core.dsync_event_action"
        )
        action["domain"] = [("id", "in", events.ids)]
        action["context"] = {}
        action["name"] = (
            _("Imported events (%(n)s with a bad row)", n=len(problems))
            if problems
            else _("Imported events")
        )
        return action
