# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models, tools

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

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

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
        return self._get_plain(backend.id, key)

    @tools.ormcache("backend_id", "key")
    def _get_plain(self, backend_id, key):
        """Decrypted secret, cached per server process; any change of a secret
        clears the caches of all workers (Odoo's cache signaling)."""
        record = self.search([("backend_id", "=", backend_id), ("key", "=", key)])
        return crypto.decrypt(record.ciphertext) if record else False
