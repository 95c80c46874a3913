# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""CSV files of partners without an API: the upload wizard and a watched
local folder through OCA's fs_storage."""

import base64
import os
import tempfile

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.distribution_sync_core.tests.common import run_jobs

from .common import WmsCase


@tagged("post_install", "-at_install")
class TestFiles(WmsCase):
    def shipments_csv(self, first, second):
        return (
            "order_ref,shipment_id,sku,quantity,lot,package_ref,tracking_number,carrier\n"
            f"{first.name},F-1,WA-1,2,,BOX,1ZFILE1,ups\n"
            f"{first.name},F-1,WB-1,1,,BOX,1ZFILE1,ups\n"
            f"{second.name},F-2,WA-1,-3,,,,\n"
        ).encode()

    def test_csv_with_a_bad_row(self):
        first = self.release(self.delivery([(self.sku_a, 2), (self.sku_b, 1)]))[0]
        second = self.release(self.delivery([(self.sku_a, 3)]))[0]
        content = self.shipments_csv(first, second)
        wizard = self.env["wms.file.import"].create(
            {
                "backend_id": self.backend.id,
                "file": base64.b64encode(content),
                "filename": "shipments-1121.csv",
            }
        )
        action = wizard.action_import()
        events = self.env["dsync.event"].search(action["domain"], order="id")
        self.assertEqual(len(events), 2)
        self.assertIn("bad row", action["name"])
        run_jobs(self.env)
        events.invalidate_recordset()
        self.assertEqual(events.mapped("state"), ["done", "failed"])
        self.assertEqual(first.state, "done", "the good rows apply")
        self.assertEqual(first.carrier_tracking_ref, "1ZFILE1")
        self.assertNotEqual(second.state, "done")
        exception = events[1].exception_ids
        self.assertEqual(
            (exception.category, exception.team), ("invalid_payload", "warehouse")
        )
        self.assertIn("shipments-1121.csv, row 4, column 'quantity'", exception.message)
        self.assertIn("above zero", exception.message)
        self.assertEqual(events[0].headers["X-Dsync-Source"], "file")
        # the same file again: nothing new
        again, problems = self.backend._wms_import_csv(content, "shipments-1121.csv")
        self.assertFalse(again)
        self.assertEqual(len(problems), 1)

    def test_unreadable_files(self):
        for content, words in (
            (b"\n\n", "empty"),
            (b"name,qty\nx,1\n", "none of the known kinds"),
            (b"\xff\xfe\x00bad", "not UTF-8"),
        ):
            wizard = self.env["wms.file.import"].create(
                {"backend_id": self.backend.id, "file": base64.b64encode(content)}
            )
            with self.assertRaises(UserError) as caught:
                wizard.action_import()
            self.assertIn(words, str(caught.exception))

    def test_receipts_and_snapshot_files(self):
        receipt = self.release(self.receipt([(self.lotted, 4)]))[0]
        content = (
            "order_ref;receipt_id;sku;quantity;lot;expiry_date;receipt_complete\n"
            f"{receipt.name};R-1;WL-1;4;LOT-F;2027-02-01;yes\n"
        ).encode()
        events, problems = self.backend._wms_import_csv(content, "receipts.csv")
        self.assertFalse(problems)
        run_jobs(self.env)
        self.assertEqual(receipt.state, "done")
        self.assertEqual(receipt.move_line_ids.lot_id.name, "LOT-F")
        self.count_stock(self.sku_a, 5)
        snapshot = b"sku,on_hand,allocated\nWA-1,6,0\nWL-1,4,\n"
        events, problems = self.backend._wms_import_csv(snapshot, "stock.csv")
        run_jobs(self.env)
        events.invalidate_recordset()
        run = self.env["dsync.reconciliation.run"].browse(events.res_id)
        self.assertEqual(run.line_ids.mapped("sku"), ["WA-1"])

    def test_watched_local_folder(self):
        root = tempfile.mkdtemp(prefix="dsync-wms-")
        storage = self.env["fs.storage"].create(
            {
                "name": "3PL drop folder",
                "code": "wms_test_drop",
                "protocol": "file",
                "directory_path": root,
            }
        )
        self.backend.wms_fs_storage_id = storage
        os.makedirs(os.path.join(root, "inbox"))
        first = self.release(self.delivery([(self.sku_a, 2), (self.sku_b, 1)]))[0]
        second = self.release(self.delivery([(self.sku_a, 3)]))[0]
        with open(os.path.join(root, "inbox", "ship-1.csv"), "wb") as handle:
            handle.write(self.shipments_csv(first, second))
        good = f"order_ref,shipment_id,sku,quantity\n{second.name},F-9,WA-1,3\n"
        with open(os.path.join(root, "inbox", "ship-2.csv"), "w") as handle:
            handle.write(good)
        with open(os.path.join(root, "inbox", "readme.txt"), "w") as handle:
            handle.write("not a csv")
        outcome = self.backend._wms_scan_folder()
        self.assertEqual(outcome, {"ship-1.csv": "error", "ship-2.csv": "done"})
        self.assertEqual(
            sorted(os.listdir(os.path.join(root, "inbox"))), ["readme.txt"]
        )
        self.assertEqual(os.listdir(os.path.join(root, "error")), ["ship-1.csv"])
        self.assertEqual(os.listdir(os.path.join(root, "done")), ["ship-2.csv"])
        run_jobs(self.env)
        self.assertEqual((first.state, second.state), ("done", "done"))
