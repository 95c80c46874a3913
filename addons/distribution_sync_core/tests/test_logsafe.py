# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""No payload in the server log, and no ERROR for what the sync handles."""

import logging
import threading

import psycopg2

from odoo.tests import TransactionCase

from ..logsafe import in_sync_scope, stack_without_message, sync_scope

PERSONAL = "Jane Canary, 12 Secret Street"


class TestLogSafe(TransactionCase):
    def failing_statement(self, cr):
        """A statement that fails and quotes personal data in its text."""
        with self.assertRaises(psycopg2.Error), cr.savepoint():
            cr.execute("SELECT %s::integer", (PERSONAL,))

    def test_bad_query_line_without_the_statement_in_sync_scope(self):
        with self.assertLogs("odoo.sql_db", logging.INFO) as logs, sync_scope():
            self.failing_statement(self.env.cr)
        self.assertEqual(len(logs.records), 1)
        record = logs.records[0]
        self.assertEqual(record.levelno, logging.ERROR, "a person must act on it")
        self.assertNotIn("Canary", record.getMessage())
        self.assertIn("SQLSTATE 22P02", record.getMessage())

    def test_outside_the_sync_odoo_logs_as_usual(self):
        with self.assertLogs("odoo.sql_db", logging.ERROR) as logs:
            self.failing_statement(self.env.cr)
        self.assertIn("Canary", logs.records[0].getMessage())

    def test_expected_lock_failure_is_info(self):
        """A row another transaction holds (the sync skips it, or queue_job
        retries the job) is not a person's matter: INFO, not ERROR."""
        admin = self.env.ref("base.partner_admin").id  # committed at install
        with self.registry.cursor() as holder:
            holder.execute(
                "SELECT id FROM res_partner WHERE id = %s FOR UPDATE", (admin,)
            )
            with (
                self.assertLogs("odoo.sql_db", logging.INFO) as logs,
                sync_scope(),
                self.assertRaises(psycopg2.errors.LockNotAvailable),
                self.env.cr.savepoint(),
            ):
                self.env.cr.execute(
                    "SELECT id FROM res_partner WHERE id = %s FOR UPDATE NOWAIT",
                    (admin,),
                )
            holder.rollback()
        self.assertEqual([r.levelno for r in logs.records], [logging.INFO])
        self.assertIn("SQLSTATE 55P03", logs.records[0].getMessage())

    def test_stack_without_message(self):
        try:
            int(PERSONAL)
        except ValueError as err:
            text = stack_without_message(err)
        self.assertIn("test_logsafe.py", text)
        self.assertTrue(text.endswith("ValueError"))
        self.assertNotIn("Canary", text)

    def test_scope_is_per_thread(self):
        seen = {}
        with sync_scope():
            worker = threading.Thread(target=lambda: seen.update(other=in_sync_scope()))
            worker.start()
            worker.join()
            seen["own"] = in_sync_scope()
        self.assertEqual(seen, {"own": True, "other": False})
        self.assertFalse(in_sync_scope())
