"""Tools of the hostile-input suite: raw HTTP requests (any byte in a
header, a body shorter than its Content-Length, a client that goes away),
signers for each platform, and a log watcher.

``http.client`` and ``requests`` refuse to send most of what an attacker
sends; :func:`raw_request` writes the bytes itself."""

import base64
import hashlib
import hmac
import logging
import socket
import time


def raw_request(
    host,
    port,
    method,
    path,
    headers=(),
    body=b"",
    content_length=None,
    close_after_send=False,
    timeout=15,
):
    """Send one request as bytes; return (status, body bytes), or (None,
    b"") when the server closed the connection without an answer.

    ``headers``: (name, value) pairs of bytes or str (latin-1), sent as
    they are. ``content_length``: the announced length (default: the
    body's). ``close_after_send``: shut the writing side down once the body
    is sent (a client that gives up), then read what comes back."""
    lines = [f"{method} {path} HTTP/1.1".encode(), f"Host: {host}:{port}".encode()]
    for name, value in headers:
        name = _bytes(name)
        value = _bytes(value)
        lines.append(name + b": " + value)
    length = len(body) if content_length is None else content_length
    lines.append(f"Content-Length: {length}".encode())
    lines.append(b"Connection: close")
    data = b"\r\n".join(lines) + b"\r\n\r\n" + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        if close_after_send:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    answer = b"".join(chunks)
    if not answer:
        return None, b""
    head, _sep, rest = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        rest = _unchunk(rest)
    return status, rest


def _bytes(text):
    """latin-1 where it fits (one byte per character, as HTTP/1.1 reads
    headers), else UTF-8."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


def _unchunk(data):
    out = []
    while data:
        size_line, _sep, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if not size:
            break
        out.append(data[:size])
        data = data[size + 2 :]
    return b"".join(out)


# ------------------------------------------------------------------------
# signers: the headers that authenticate ``body`` for each route
# ------------------------------------------------------------------------
def shopify_signature(secret, body):
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return [("X-Shopify-Hmac-Sha256", base64.b64encode(digest).decode())]


def wms_signature(secret, body, stamp=None):
    stamp = str(int(time.time())) if stamp is None else stamp
    digest = hmac.new(
        secret.encode(), stamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return [("X-Dsync-Signature", f"sha256={digest}"), ("X-Dsync-Timestamp", stamp)]


def carrier_signature(secret, body):
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return [("X-Hmac-Signature", f"hmac-sha256-hex={digest}")]


# ------------------------------------------------------------------------
# the server log
# ------------------------------------------------------------------------
class LogWatch(logging.Handler):
    """Collects every record logged while installed (all loggers)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger().removeHandler(self)

    def lines(self):
        out = []
        for record in self.records:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            out.append((record.levelno, record.name, text))
        return out
