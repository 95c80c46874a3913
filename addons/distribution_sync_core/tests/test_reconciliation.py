# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Reconciliation runs and drift lines: tolerance, automatic repair through
the connector's hook, approval and rejection by a manager."""

from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from ..errors import BusinessError
from .common import DsyncCase


@tagged("post_install", "-at_install")
class TestReconciliation(DsyncCase):
    def setUp(self):
        super().setUp()
        self.repaired = []
        self.refuse = set()
        self.partner = self.env.ref("base.partner_admin")

        def repair(backend, lines):
            if any(line.sku in self.refuse for line in lines):
                raise BusinessError("conflict", "the platform does not own it")
            self.repaired.append(sorted(lines.mapped("sku")))
            return {line: (f"adjusted {line.sku}", self.partner) for line in lines}

        self.enterContext(
            patch.object(
                self.Backend, "_generic_reconciliation_repair", repair, create=True
            )
        )

    def run_with(self, rows, auto_repair=True, tol_qty=2.0, tol_value=50.0):
        Run = self.env["dsync.reconciliation.run"]
        run = Run._dsync_start(
            self.backend,
            "stock",
            "snap-1",
            tolerance_qty=tol_qty,
            tolerance_value=tol_value,
        )
        run._dsync_add_lines(rows)
        return run._dsync_conclude(len(rows) + 10, 0.01, auto_repair)

    @staticmethod
    def row(sku, drift, value=1.0, **kw):
        return dict(
            sku=sku,
            site="WH",
            odoo_qty=10.0,
            platform_qty=10.0 + drift,
            in_flight_qty=0.0,
            drift_qty=drift,
            unit_value=value,
            **kw,
        )

    def test_within_tolerance_repaired_beyond_waits(self):
        run = self.run_with(
            [
                self.row("A", 1.0),
                self.row("B", -2.0),
                self.row("C", 5.0),  # quantity beyond
                self.row("D", 1.0, value=80.0),  # value beyond
                self.row("E", 1.0, repairable=False, reason="unknown_sku"),
            ]
        )
        lines = {line.sku: line for line in run.line_ids}
        self.assertEqual(self.repaired, [["A", "B"]], "one repair call for the batch")
        self.assertEqual(
            {sku: line.state for sku, line in lines.items()},
            {
                "A": "repaired",
                "B": "repaired",
                "C": "to_approve",
                "D": "to_approve",
                "E": "to_approve",
            },
        )
        self.assertEqual(lines["A"].repair_note, "adjusted A")
        self.assertEqual(lines["A"].repair_id, self.partner.id)
        self.assertEqual(lines["D"].drift_value, 80.0)
        self.assertEqual(
            (run.state, run.item_count, run.drift_count, run.repaired_count),
            ("to_approve", 15, 5, 2),
        )
        lines["C"].action_approve()
        lines["D"].action_reject()
        self.assertEqual((lines["C"].state, lines["D"].state), ("repaired", "rejected"))
        self.assertEqual(lines["C"].decided_by, self.env.user)
        self.assertEqual(run.state, "to_approve", "E still waits")
        run.action_reject_all()
        self.assertEqual(run.state, "done")
        with self.assertRaises(UserError):
            lines["E"].action_approve()

    def test_without_auto_repair_everything_waits(self):
        run = self.run_with([self.row("A", 1.0), self.row("B", 0.5)], auto_repair=False)
        self.assertEqual(set(run.line_ids.mapped("state")), {"to_approve"})
        self.assertFalse(self.repaired)
        run.action_approve_all()
        self.assertEqual(self.repaired, [["A", "B"]])
        self.assertEqual(run.state, "done")

    def test_refused_repair_fails_the_lines_with_the_reason(self):
        self.refuse.add("A")
        run = self.run_with([self.row("A", 1.0)])
        self.assertEqual(run.line_ids.state, "failed")
        self.assertEqual(run.line_ids.repair_note, "the platform does not own it")
        self.assertEqual(run.state, "done", "nothing waits for approval")

    def test_only_managers_decide(self):
        run = self.run_with([self.row("A", 9.0)])
        clerk = new_test_user(
            self.env, "recon-clerk", groups="distribution_sync_core.group_dsync_user"
        )
        with self.assertRaises(UserError):
            run.line_ids.with_user(clerk).action_approve()
        self.assertEqual(run.line_ids.state, "to_approve")

    def test_many_lines_written_in_chunks(self):
        rows = [self.row(f"S{i:05d}", 100.0) for i in range(2500)]
        run = self.run_with(rows)
        self.assertEqual(run.drift_count, 2500)
        self.assertEqual(run.to_approve_count, 2500)
