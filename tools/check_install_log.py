#!/usr/bin/env python3
"""Fail on any WARNING, ERROR or CRITICAL line of an Odoo server log.

Usage: check_install_log.py LOGFILE [LOGFILE...]

An Odoo log line looks like::

    2025-01-01 10:00:00,000 1234 WARNING dbname odoo.modules.loading: message

Lines that do not start with a timestamp are continuations of the previous entry
(tracebacks, multi-line messages) and are printed with the offending entry.

Exit status: 0 when clean, 1 when offending entries were found, 2 on usage error.
"""

import re
import sys

LOG_LINE = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} \d+ "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL|\S+) "
    r"(?P<db>\S+) (?P<logger>\S+): (?P<message>.*)$"
)
BAD_LEVELS = {"WARNING", "ERROR", "CRITICAL"}

# Warnings that Odoo itself emits and that our addons cannot avoid. Each entry is a
# regex matched against "<logger>: <message>" and MUST say why it is tolerated.
# Kept empty on purpose: installing base + queue_job into a fresh database with demo
# data on Odoo 18.0 logs no warning at all (checked when this script was written).
ALLOWED = [
    # (re.compile(r"^odoo\.some\.logger: some message"), "why it is unavoidable"),
]

MAX_CONTINUATION_LINES = 40


def is_allowed(logger, message):
    text = f"{logger}: {message}"
    return any(pattern.search(text) for pattern, _why in ALLOWED)


def check(path):
    """Return a list of offending entries, each a list of lines."""
    offending = []
    current = None  # the offending entry being collected, if any
    with open(path, encoding="utf-8", errors="replace") as log:
        for lineno, raw in enumerate(log, 1):
            line = raw.rstrip("\n")
            match = LOG_LINE.match(line)
            if match is None:
                if current is not None and len(current) <= MAX_CONTINUATION_LINES:
                    current.append(f"        {line}")
                continue
            current = None
            level = match["level"]
            if level in BAD_LEVELS and not is_allowed(
                match["logger"], match["message"]
            ):
                current = [f"{path}:{lineno}: {line}"]
                offending.append(current)
    return offending


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    found = []
    for path in argv[1:]:
        try:
            found.extend(check(path))
        except OSError as err:
            print(f"check_install_log: cannot read {path}: {err}", file=sys.stderr)
            return 2
    if not found:
        print(f"check_install_log: no WARNING/ERROR/CRITICAL in {', '.join(argv[1:])}")
        return 0
    print(
        f"check_install_log: {len(found)} WARNING/ERROR/CRITICAL entr"
        f"{'y' if len(found) == 1 else 'ies'} in the install log:",
        file=sys.stderr,
    )
    for entry in found:
        print("\n".join(entry), file=sys.stderr)
    print(
        "check_install_log: fix them (or, only for a warning that comes from Odoo "
        "itself, add a commented entry to ALLOWED in tools/check_install_log.py)",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
