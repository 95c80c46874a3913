"""Slow clients against Odoo's workers, without and with the reverse proxy.

    bash tools/bench.sh slow_clients [--clients 6] [--hold 10]

Opens ``--clients`` slow-loris connections (headers, then one byte of the
body a second) to the server, more than it has workers, and meanwhile asks
``/dsync/health`` and posts signed Shopify webhooks every quarter second for
``--hold`` seconds. Then the same through nginx with the tested
configuration (tools/proxy/nginx.conf.template). The baseline, measured in
the same run: the same requests with no slow client. Prints, per case, how
many requests were answered and their median and worst latency."""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import requests

from tests.bench_webhook import ORDER, SECRET, SHOP_DOMAIN, setup_backend
from tests.simulators.webhook_sender import ShopifySender

TEMPLATE = Path(__file__).parent.parent / "tools" / "proxy" / "nginx.conf.template"


def start_nginx(odoo_port, listen_port):
    prefix = Path(tempfile.mkdtemp(prefix="dsync-bench-nginx-"))
    prefix.chmod(0o755)
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / name).mkdir()
        (prefix / name).chmod(0o777)
    conf = TEMPLATE.read_text()
    for key, value in {
        "@@LISTEN@@": f"127.0.0.1:{listen_port}",
        "@@ODOO@@": f"127.0.0.1:{odoo_port}",
        "@@ODOO_WEBSOCKET@@": f"127.0.0.1:{odoo_port + 3}",
        "@@PREFIX@@": str(prefix),
    }.items():
        conf = conf.replace(key, value)
    (prefix / "nginx.conf").write_text(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen(
        [nginx, "-c", str(prefix / "nginx.conf"), "-p", str(prefix)]
        + ["-g", "daemon off;"]
    )
    for _try in range(100):
        try:
            socket.create_connection(("127.0.0.1", listen_port), 1).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, prefix


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def slow_loris(port, path, count, stop):
    """``count`` connections that send their body one byte a second."""
    body = json.dumps(ORDER).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sockets = []
    for _i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(head)
        sockets.append(sock)

    def trickle():
        sent = 0
        while not stop.wait(1.0) and sent < len(body) - 1:
            for sock in sockets:
                try:
                    sock.sendall(body[sent : sent + 1])
                except OSError:
                    pass
            sent += 1
        for sock in sockets:
            sock.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    return thread


def probe(url, token, hold):
    """Health checks and signed webhooks for ``hold`` seconds."""
    sender = ShopifySender(url, token, SECRET, shop_domain=SHOP_DOMAIN)
    sender.timeout = 5
    results = {"health": [], "webhook": []}
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline:
        for kind in results:
            start = time.monotonic()
            try:
                if kind == "health":
                    ok = (
                        requests.get(url + "/dsync/health", timeout=5).status_code
                        == 200
                    )
                else:
                    doc = dict(ORDER, id=int(uuid.uuid4().int % 10**15))
                    ok = sender.deliver(doc, "orders/create").status_code == 202
            except requests.RequestException:
                ok = False
            results[kind].append((ok, time.monotonic() - start))
        time.sleep(0.25)
    return results


def summary(name, clients, results):
    cells = []
    for kind in ("health", "webhook"):
        rows = results[kind]
        answered = [seconds for ok, seconds in rows if ok]
        median = statistics.median(answered) * 1000 if answered else float("nan")
        worst = max(seconds for _ok, seconds in rows) * 1000
        cells.append(f"{len(answered)}/{len(rows)} | {median:.0f} | {worst:.0f}")
    print(f"| {name} | {clients} | " + " | ".join(cells) + " |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--clients", type=int, default=0, help="default: workers + 1")
    parser.add_argument("--hold", type=float, default=10)
    args = parser.parse_args()
    clients = args.clients or args.workers + 1
    _call, _backend_id, token = setup_backend(args.url, args.db, name="Slow clients")
    _call("dsync.backend", "write", [_backend_id], {"inbound_rate_limit": 0})
    odoo_port = urlparse(args.url).port
    proxy_port = free_port()
    nginx, prefix = start_nginx(odoo_port, proxy_port)
    proxy_url = f"http://127.0.0.1:{proxy_port}"
    path = f"/dsync/shopify/{token}/webhook"
    print(
        f"\n{args.workers} Odoo workers, {clients} slow clients, {args.hold:.0f} s "
        f"each (machine: {os.cpu_count()} CPUs)\n"
    )
    print(
        "| case | slow clients | health answered | median ms | worst ms "
        "| webhooks answered | median ms | worst ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    try:
        summary(
            "direct, no slow client (baseline)", 0, probe(args.url, token, args.hold)
        )
        for name, port, url in (
            ("direct to Odoo", odoo_port, args.url),
            ("through nginx", proxy_port, proxy_url),
        ):
            stop = threading.Event()
            trickle = slow_loris(port, path, clients, stop)
            time.sleep(1)
            results = probe(url, token, args.hold)
            stop.set()
            trickle.join()
            summary(name, clients, results)
            time.sleep(3)  # the workers free themselves before the next case
    finally:
        nginx.terminate()
        nginx.wait(10)
        shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    main()
