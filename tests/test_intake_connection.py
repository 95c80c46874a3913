"""The webhook intake's own connection (``intake_connection``): accepted
deliveries and duplicates are stored through it, with its statements
prepared once; when it breaks, the request stores the delivery with its own
cursor, wakes the dispatcher, and the next request opens a new connection.

Committed data: the deliveries go through the HTTP server threads of this
process, outside Odoo's test mode, as on a production server."""

import os
import unittest
from unittest.mock import patch

from odoo.sql_db import connection_info_for
from odoo.tests import get_db_name
from odoo.tools import config

from odoo.addons.distribution_sync_core import intake_connection

from tests.committed import CommittedBackendCase


class TestIntakeConnection(CommittedBackendCase):
    def own(self):
        return intake_connection._connections.get((os.getpid(), self.registry.db_name))

    def stored(self, order_id):
        """(state, duplicate count) of each event of that order."""
        with self.env() as env:
            return [(e.state, e.duplicate_count) for e in self.events(env, order_id)]

    def test_deliveries_stored_through_one_prepared_connection(self):
        self.assertEqual(self.deliver(610001), 202)
        own = self.own()
        self.assertIsNotNone(own, "the request used the intake connection")
        backend_pid = own.cnx.get_backend_pid()
        with self.env() as env:
            env.cr.execute(
                "SELECT application_name FROM pg_stat_activity WHERE pid = %s",
                (backend_pid,),
            )
            odoo_name = connection_info_for(self.registry.db_name)[1]
            self.assertEqual(
                env.cr.fetchone()[0], f"{odoo_name['application_name']}-intake"
            )
        statements = dict(own._prepared)
        self.assertTrue(
            any(q.lstrip().startswith("INSERT INTO dsync_event") for q in statements)
        )
        self.assertTrue(any("FROM queue_job" in q for q in statements))

        self.assertEqual(self.deliver(610002), 202)
        self.assertIs(self.own(), own, "the same connection, kept")
        self.assertEqual(own.cnx.get_backend_pid(), backend_pid)
        self.assertEqual(own._prepared, statements, "prepared once, then reused")
        self.assertEqual(self.stored(610001), [("received", 0)])
        self.assertEqual(self.stored(610002), [("received", 0)])
        self.assertEqual(len(self.pending_dispatchers()), 1, "one dispatcher woken")

    def test_switched_off_in_the_configuration(self):
        unused = AssertionError("the intake connection was used")
        with (
            patch.dict(config.options, {"dsync_intake_connection": "False"}),
            patch.object(
                intake_connection.IntakeConnection, "execute", side_effect=unused
            ),
        ):
            self.assertEqual(self.deliver(650001), 202, "the request's own cursor")
        self.assertEqual(self.stored(650001), [("received", 0)])
        self.assertEqual(len(self.pending_dispatchers()), 1)

    def test_duplicate_counted_through_the_connection(self):
        self.assertEqual(self.deliver(620001, "dup-620001"), 202)
        self.assertEqual(self.deliver(620001, "dup-620001"), 200)
        self.assertEqual(self.stored(620001), [("received", 1)])
        self.assertTrue(
            any("UPDATE dsync_event" in q for q in self.own()._prepared),
            "the redelivery was counted through the intake connection",
        )

    def test_broken_connection_falls_back_and_is_replaced(self):
        self.assertEqual(self.deliver(630001), 202)
        broken_pid = self.own().cnx.get_backend_pid()
        with self.env() as env:
            env.cr.execute("SELECT pg_terminate_backend(%s)", (broken_pid,))
            self.assertTrue(env.cr.fetchone()[0])
            purge_dispatchers = env["queue.job"].search(
                [("identity_key", "=", f"dsync-dispatch-{self.backend_id}")]
            )
            purge_dispatchers.unlink()

        # the intake connection fails: the request's cursor stores the
        # delivery and wakes the dispatcher
        self.assertEqual(self.deliver(630002), 202)
        self.assertEqual(self.stored(630002), [("received", 0)])
        self.assertEqual(len(self.pending_dispatchers()), 1, "woken all the same")
        self.assertIsNone(self.own(), "the broken connection was dropped")

        self.assertEqual(self.deliver(630003), 202)
        self.assertIsNotNone(self.own(), "a new connection for the next delivery")
        self.assertNotEqual(self.own().cnx.get_backend_pid(), broken_pid)
        self.assertEqual(self.stored(630003), [("received", 0)])

    def test_fast_accept_commits_order_topics_without_the_disk_wait(self):
        with self.env() as env:
            backend = env["dsync.backend"].browse(self.backend_id)
            backend._dsync_set_secret("api_secret", "shpat_committed")
            backend.fast_accept = True

        def synchronous_commit():
            with self.own().cnx.cursor() as cr:
                cr.execute("SHOW synchronous_commit")
                return cr.fetchone()[0]

        self.assertEqual(self.deliver(640001), 202)
        self.assertEqual(synchronous_commit(), "off", "an order topic: fast")
        self.assertEqual(self.deliver(640002, topic="refunds/create"), 202)
        self.assertEqual(synchronous_commit(), "on", "a refund waits for the disk")
        self.assertEqual(self.deliver(640003, topic="orders/cancelled"), 202)
        self.assertEqual(synchronous_commit(), "off")
        for order_id in (640001, 640002, 640003):
            self.assertEqual(self.stored(order_id), [("received", 0)])


class TestPreparedStatements(unittest.TestCase):
    def test_parameters_as_psycopg2_takes_them(self):
        own = intake_connection.IntakeConnection(get_db_name())
        self.addCleanup(own.close)
        named = "SELECT %(a)s::int + %(b)s::int, %(a)s::int, 'x%%'"
        row = own.execute(named, {"b": 2, "a": 1}).fetchone()
        self.assertEqual(row, (3, 1, "x%"))
        self.assertEqual(own.execute(named, {"a": 5, "b": 6}).fetchone()[0], 11)
        positional = "SELECT %s::text || %s::text"
        self.assertEqual(own.execute(positional, ("a", "b")).fetchone(), ("ab",))
        self.assertEqual(len(own._prepared), 2, "each text prepared once")
