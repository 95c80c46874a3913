"""The deployment's reverse proxy (tools/proxy/nginx.conf.template), tested:
nginx runs the real configuration in front of the test server.

Webhooks go through it as they come from the platforms; a client that
sends its body slowly (slow loris) is held by nginx and never reaches an
Odoo worker; the client's own address reaches Odoo's logs (proxy_mode),
whatever X-Forwarded-For the client sends; large bodies get a 413 from
Odoo (with a trace) or, larger still, from nginx."""

import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from unittest.mock import patch

from odoo.tests.common import HOST
from odoo.tools import config

from tests.hostile import HostileCase, raw_request

TEMPLATE = Path(__file__).parent.parent / "tools" / "proxy" / "nginx.conf.template"
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_binary():
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(found, os.X_OK):
        raise AssertionError(
            "nginx is not installed: tools/test.sh installs Debian's nginx-light"
        )
    return found


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class TestReverseProxy(HostileCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prefix = Path(tempfile.mkdtemp(prefix="dsync-nginx-"))
        cls.prefix.chmod(0o755)
        for name in TEMP_DIRS:
            (cls.prefix / name).mkdir(mode=0o777)
            (cls.prefix / name).chmod(0o777)  # nginx's workers write there
        cls.port = free_port()
        conf = TEMPLATE.read_text()
        for key, value in {
            "@@LISTEN@@": f"{HOST}:{cls.port}",
            "@@ODOO@@": f"{HOST}:{config['http_port']}",
            "@@ODOO_WEBSOCKET@@": f"{HOST}:{config['gevent_port']}",
            "@@PREFIX@@": str(cls.prefix),
        }.items():
            conf = conf.replace(key, value)
        cls.conf = cls.prefix / "nginx.conf"
        cls.conf.write_text(conf)
        nginx = nginx_binary()
        check = subprocess.run(
            [nginx, "-t", "-c", str(cls.conf), "-p", str(cls.prefix)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stderr
        cls.nginx = subprocess.Popen(
            [nginx, "-c", str(cls.conf), "-p", str(cls.prefix), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        cls.addClassCleanup(cls.stop_nginx)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection((HOST, cls.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start"
                assert cls.nginx.poll() is None, cls.nginx.stderr.read()
                time.sleep(0.05)

    @classmethod
    def stop_nginx(cls):
        cls.nginx.terminate()
        cls.nginx.wait(15)
        shutil.rmtree(cls.prefix, ignore_errors=True)

    def through_proxy(self, kind, body, headers=None, **kw):
        return self.send(kind, body, headers, port=self.port, **kw)

    def test_webhooks_through_the_proxy(self):
        for kind in self.backends:
            doc = self.doc(kind)
            headers = self.shopify_headers() if kind == "shopify" else []
            status, answer = self.through_proxy(kind, doc, headers)
            self.assertEqual(status, 202, (kind, answer))
            status, answer = self.through_proxy(kind, doc, headers)
            self.assertEqual((status, json.loads(answer)["status"]), (200, "duplicate"))
        status, answer = raw_request(HOST, self.port, "GET", "/dsync/health")
        self.assertEqual(status, 200)

    def test_slow_client_is_held_by_the_proxy(self):
        """A client that sends half its body and stalls ties up no Odoo
        worker: nginx waits for it (and gives up on it), Odoo never sees
        the request, and other deliveries go through meanwhile."""
        before = self.events("shopify")
        body = json.dumps(self.doc("shopify")).encode()
        slow = []
        for _i in range(8):  # more than a production server's workers
            sock = socket.create_connection((HOST, self.port), timeout=10)
            head = (
                f"POST {self.path('shopify')} HTTP/1.1\r\nHost: {HOST}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            sock.sendall(head + body[:10])
            slow.append(sock)
        try:
            status, _answer = self.through_proxy("shopify", self.doc("shopify"))
            self.assertEqual(status, 202)
            status, _answer = raw_request(HOST, self.port, "GET", "/dsync/health")
            self.assertEqual(status, 200)
            arrived = self.events("shopify") - before
            self.assertEqual(len(arrived), 1, "the slow requests never reached Odoo")
        finally:
            for sock in slow:
                sock.close()
        time.sleep(0.2)
        self.assertEqual(len(self.events("shopify") - before), 1)

    def test_clients_address_reaches_odoo(self):
        """With proxy_mode, the security log names the client, not the
        proxy, even when the client sends its own X-Forwarded-For."""
        with patch.dict(config.options, {"proxy_mode": True}):
            headers = self.shopify_headers() + [("X-Forwarded-For", "6.6.6.6")]
            with self.assertLogs(
                "odoo.addons.distribution_sync_core.intake.security", logging.WARNING
            ) as logs:
                status, _answer = self.through_proxy(
                    "shopify",
                    self.doc("shopify"),
                    headers,
                    sign=False,
                    source="127.0.0.7",
                )
        self.assertEqual(status, 401)
        self.assertIn("from 127.0.0.7", logs.records[0].getMessage())
        self.assertNotIn("6.6.6.6", logs.records[0].getMessage())

    def test_body_limits(self):
        before = self.events("shopify")
        big = json.dumps(self.doc("shopify", padding="x" * (3 * 1024 * 1024))).encode()
        status, _answer = self.through_proxy("shopify", big)
        self.assertEqual(status, 413, "the intake's own answer")
        self.assert_rejected("shopify", 413, "over the", before)
        huge = json.dumps(self.doc("shopify", padding="x" * (5 * 1024 * 1024))).encode()
        before = self.events("shopify")
        status, _answer = self.through_proxy("shopify", huge)
        self.assertEqual(status, 413, "nginx's answer")
        self.assertEqual(self.events("shopify"), before, "never reached Odoo")
