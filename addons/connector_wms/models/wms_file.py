# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Partners without an API: CSV files of shipments, receipts and snapshots,
uploaded by a person (wizard) or dropped in a watched location.

The location is an OCA ``fs.storage`` (a local folder, SFTP, S3... as a
configuration choice): the cron reads the CSV files of its inbox folder,
turns each into events of the inbox (``wms_csv``: dedup by file checksum
and row, the same validation and exceptions as the webhook's), and moves
it to the done folder, or to the error folder when the file cannot be read
or one of its rows is bad (its good rows still apply).
"""

import logging
import posixpath

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.distribution_sync_core.errors import BusinessError

from .. import wms_csv
from ..contract import ContractError, check_event

_logger = logging.getLogger(__name__)


class DsyncBackend(models.Model):
    _inherit = "dsync.backend"

    wms_fs_storage_id = fields.Many2one(
        "fs.storage",
        string="Watched File Location",
        help="Where the partner drops its CSV files (a local folder, SFTP, "
        "S3... configured under Settings › Technical › FS Storage).",
    )
    wms_fs_inbox = fields.Char("Inbox Folder", default="inbox")
    wms_fs_done = fields.Char("Done Folder", default="done")
    wms_fs_error = fields.Char("Error Folder", default="error")

    def _wms_import_csv(self, content, filename, kind=None):
        """Events of a CSV file; returns (new events, problems) where
        ``problems`` lists the bad rows (their events fail with the same
        words)."""
        self.ensure_one()
        kind, docs, errors = wms_csv.parse(content, filename, kind)
        for doc in docs:
            if doc["id"] in errors:
                continue
            try:
                # a file has no sequence to give: its events are applied as
                # they come (sequence or not, the rest of the shape holds)
                check_event(dict(doc, sequence=doc.get("sequence") or 1))
            except ContractError as err:
                errors[doc["id"]] = _(
                    "%(file)s, rows from %(row)s: %(error)s",
                    file=filename,
                    row=doc["id"].rsplit(":", 1)[1],
                    error=err,
                )
        events = self._wms_insert_events(
            docs, source="file", headers={"X-Dsync-File": filename[:200]}, errors=errors
        )
        _logger.info(
            "backend %s: %s file: %s events (%s with a bad row)",
            self.id,
            kind,
            len(events),
            len(errors),
        )
        return events, list(errors.values())

    def _wms_file_error(self, event):
        """The failure of an event made from a file's bad row (or None)."""
        errors = event._dsync_data().get("file_errors")
        if not errors:
            return None
        return BusinessError(
            "invalid_payload",
            _(
                "%(error)s. The other rows of the file were applied; fix this one "
                "and import it again (a file with only the fixed rows is fine).",
                error=errors,
            ),
            team="warehouse",
            kind_key=f"file:{(event.headers or {}).get('X-Dsync-File', '')}",
        )

    # ------------------------------------------------------------------
    # the watched location
    # ------------------------------------------------------------------
    @api.model
    def _cron_wms_scan_folders(self):
        for backend in self._wms_backends().filtered("wms_fs_storage_id"):
            try:
                backend._wms_scan_folder()
            except Exception as err:  # noqa: BLE001 - the next run tries again
                _logger.warning(
                    "backend %s: watched location not read (%s)",
                    backend.id,
                    type(err).__name__,
                )

    def _wms_scan_folder(self):
        """Import every CSV file of the inbox folder; returns {file name:
        "done" | "error"}."""
        self.ensure_one()
        fs = self.wms_fs_storage_id.fs
        inbox = self.wms_fs_inbox or "inbox"
        for folder in (inbox, self.wms_fs_done or "done", self.wms_fs_error or "error"):
            fs.makedirs(folder, exist_ok=True)
        outcome = {}
        for path in sorted(fs.ls(inbox, detail=False)):
            name = posixpath.basename(path.rstrip("/"))
            if not name.lower().endswith(".csv"):
                continue
            content = fs.cat_file(posixpath.join(inbox, name))
            try:
                with self.env.cr.savepoint():
                    _events, problems = self._wms_import_csv(content, name)
                status = "error" if problems else "done"
            except wms_csv.FileError as err:
                _logger.info("backend %s: file %s refused: %s", self.id, name, err)
                self.message_post(
                    body=_(
                        "File %(name)s was not imported: %(error)s.",
                        name=name,
                        error=err,
                    )
                )
                status = "error"
            folder = self.wms_fs_done if status == "done" else self.wms_fs_error
            fs.mv(posixpath.join(inbox, name), posixpath.join(folder or status, name))
            outcome[name] = status
        return outcome

    def action_wms_scan_folder(self):
        self.ensure_one()
        if not self.wms_fs_storage_id:
            raise UserError(_("Set the watched file location first."))
        outcome = self._wms_scan_folder()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Watched location read"),
                "message": _(
                    "%(done)s file(s) imported, %(error)s moved to the error folder.",
                    done=list(outcome.values()).count("done"),
                    error=list(outcome.values()).count("error"),
                ),
                "type": "success",
            },
        }
