# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user
from odoo.tools import config, mute_logger

from .. import crypto
from .common import DsyncCase


class TestSecurity(DsyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Company B"})
        cls.sync_user = new_test_user(
            cls.env,
            login="dsync_user",
            groups="distribution_sync_core.group_dsync_user",
        )
        cls.manager = new_test_user(
            cls.env,
            login="dsync_manager",
            groups="distribution_sync_core.group_dsync_manager",
        )
        cls.backend.with_user(cls.manager).write({"webhook_secret": "s3cret-value"})
        cls.backend_b = cls.env["dsync.backend"].create(
            {"name": "B backend", "company_id": cls.company_b.id}
        )

    def test_secret_encrypted_at_rest_and_readable_by_code(self):
        self.env.cr.execute(
            "SELECT ciphertext FROM dsync_secret WHERE backend_id = %s AND key = %s",
            (self.backend.id, "webhook_secret"),
        )
        ciphertext = self.env.cr.fetchone()[0]
        self.assertNotIn("s3cret", ciphertext)
        self.assertEqual(
            self.backend._dsync_get_secret("webhook_secret"), "s3cret-value"
        )
        self.assertTrue(self.backend.webhook_secret_set)
        # write-only: reading the field never gives the value back, even to a manager
        self.assertFalse(self.backend.with_user(self.manager).webhook_secret)

    def test_sync_user_cannot_read_secrets_or_change_backends(self):
        backend = self.backend.with_user(self.sync_user)
        self.assertEqual(backend.name, "Test backend", "users see backends")
        with self.assertRaises(AccessError):
            backend.read(["webhook_secret"])
        with self.assertRaises(AccessError):
            backend.read(["token"])
        with self.assertRaises(AccessError):
            self.env["dsync.secret"].with_user(self.sync_user).search([])
        with self.assertRaises(AccessError):
            self.env["dsync.secret"].with_user(self.manager).search([])
        with self.assertRaises(AccessError):
            backend.write({"name": "changed"})
        with self.assertRaises(AccessError):
            backend.write({"webhook_secret": "stolen"})
        with self.assertRaises(AccessError):
            self.env["dsync.backend"].with_user(self.sync_user).create({"name": "x"})
        with self.assertRaises(UserError):
            backend.action_regenerate_token()
        self.assertEqual(
            self.backend._dsync_get_secret("webhook_secret"), "s3cret-value"
        )

    def test_manager_can_change_secret_and_token(self):
        backend = self.backend.with_user(self.manager)
        old = self.backend.token
        backend.action_regenerate_token()
        self.assertNotEqual(self.backend.token, old)
        self.assertGreaterEqual(len(self.backend.token), 40)
        backend.write({"webhook_secret": "rotated"})
        self.assertEqual(self.backend._dsync_get_secret("webhook_secret"), "rotated")
        # the placeholder the form may send back does not overwrite
        backend.write({"webhook_secret": "********"})
        self.assertEqual(self.backend._dsync_get_secret("webhook_secret"), "rotated")

    def test_missing_key_names_the_option(self):
        saved = config.get(crypto.KEY_OPTION)
        config[crypto.KEY_OPTION] = ""
        try:
            with self.assertRaises(UserError) as caught:
                self.backend.write({"api_secret": "x"})
        finally:
            config[crypto.KEY_OPTION] = saved
        self.assertIn("dsync_encryption_key", str(caught.exception))

    def test_multi_company_isolation(self):
        event_b = self.make_event("ping", backend=self.backend_b)
        event_a = self.make_event("ping")
        user_a = new_test_user(
            self.env,
            login="dsync_user_a",
            groups="distribution_sync_core.group_dsync_user",
            company_id=self.env.company.id,
            company_ids=[(6, 0, [self.env.company.id])],
        )
        env_a = self.env(user=user_a)
        self.assertNotIn(self.backend_b, env_a["dsync.backend"].search([]))
        self.assertIn(self.backend, env_a["dsync.backend"].search([]))
        events = env_a["dsync.event"].search([])
        self.assertIn(event_a, events)
        self.assertNotIn(event_b, events)
        with (
            self.assertRaises(AccessError),
            mute_logger("odoo.addons.base.models.ir_rule"),
        ):
            env_a["dsync.event"].browse(event_b.id).read(["topic"])
        self.assertFalse(
            env_a["dsync.flow"].search([("backend_id", "=", self.backend_b.id)])
        )
        self.assertFalse(
            env_a["dsync.exception"].search([("backend_id", "=", self.backend_b.id)])
        )

    def test_every_model_has_access_rules_and_company_rule(self):
        models = self.env["ir.model"].search([("model", "=like", "dsync.%")])
        self.assertGreaterEqual(len(models), 10)
        for model in models:
            Model = self.env[model.model]
            if Model._transient or Model._abstract:
                continue  # no table: nothing to grant or restrict
            self.assertTrue(model.access_ids, f"{model.model} has no access rights")
            if "company_id" in self.env[model.model]._fields:
                self.assertTrue(model.rule_ids, f"{model.model} has no record rule")
