# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

from .. import crypto


class DsyncSecret(models.Model):
    """Encrypted secret of a backend. No user group can read this model:
    only the backend's code reads it, with sudo, to call the platform."""

    _name = "dsync.secret"
    _description = "Sync Backend Secret"

    backend_id = fields.Many2one("dsync.backend", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    key = fields.Char(required=True)
    ciphertext = fields.Char(required=True)

    _sql_constraints = [
        ("key_unique", "unique(backend_id, key)", "One value per secret and backend.")
    ]

    def _set(self, backend, key, value):
        ciphertext = crypto.encrypt(value)
        record = self.search([("backend_id", "=", backend.id), ("key", "=", key)])
        if record:
            record.ciphertext = ciphertext
        else:
            self.create(
                {"backend_id": backend.id, "key": key, "ciphertext": ciphertext}
            )

    def _get(self, backend, key):
        record = self.search([("backend_id", "=", backend.id), ("key", "=", key)])
        return crypto.decrypt(record.ciphertext) if record else False
