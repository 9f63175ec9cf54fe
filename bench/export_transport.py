"""How to get the SQL-formatted CSV lines out of PostgreSQL: a server-side cursor
(what ``complications.exports.sql_csv`` does) or ``COPY ... TO STDOUT`` in a thread.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/export_transport.py --runs 3

Both run the same one-column query (the cases table's finished lines, as
``sql_csv`` builds it for the superuser) and produce the same bytes
(checked, by SHA-256):

- ``cursor``: ``sql_csv.table_csv``: a named cursor in a transaction on
  Django's connection, ``fetchmany(BATCH)``, each batch joined;
- ``copy-thread``: psycopg2's ``copy_expert`` blocks until the end, so it runs
  in a thread on a connection of its own, writing into a bounded
  ``queue.Queue`` that the consumer drains (memory stays bounded by the queue).
  COPY's text format escapes the line's CR, LF and backslashes (CSV format
  would quote the whole line), so the consumer drops the row terminators and
  undoes the escapes, carrying a backslash split across two chunks.

Each variant's bytes are consumed and thrown away, as the benchmark's client
does. Read-only.
"""

from __future__ import annotations

import argparse
import hashlib
import queue
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_ADMIN, p50, print_table, setup_django  # noqa: E402

_ESCAPES = {
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
    b"\\": b"\\",
    b"b": b"\b",
    b"f": b"\f",
}
_ESCAPE = re.compile(rb"\\(.)", re.S)


def _unescape(data: bytes) -> bytes:
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), data.replace(b"\n", b""))


def cursor_variant(selection) -> tuple[int, str]:
    from complications.exports import sql_csv

    digest, size = hashlib.sha256(), 0
    stream = sql_csv.table_csv("cases", selection)
    next(stream)  # the header
    for chunk in stream:
        data = chunk.encode()
        digest.update(data)
        size += len(data)
    return size, digest.hexdigest()


class _QueueWriter:
    def __init__(self, out: queue.Queue) -> None:
        self.out = out

    def write(self, data: bytes) -> int:
        self.out.put(bytes(data))
        return len(data)


def copy_variant(selection) -> tuple[int, str]:
    import psycopg2
    from django.db import connection

    from complications.exports import sql_csv

    sql, params = sql_csv.QUERIES["cases"](selection, "default")
    with connection.cursor() as cursor:
        statement = cursor.mogrify(sql, params).decode() if params else sql
    chunks: queue.Queue = queue.Queue(maxsize=64)
    failure: list[BaseException] = []
    own = psycopg2.connect(**connection.get_connection_params())

    def run() -> None:
        try:
            with own.cursor() as cursor:
                cursor.copy_expert(f"COPY ({statement}) TO STDOUT", _QueueWriter(chunks), 1 << 16)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            failure.append(exc)
        finally:
            chunks.put(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    digest, size, carry = hashlib.sha256(), 0, b""
    while (data := chunks.get()) is not None:
        data = carry + data
        # An odd run of backslashes at the end: the escape continues in the next chunk.
        trailing = len(data) - len(data.rstrip(b"\\"))
        carry, data = (data[-1:], data[:-1]) if trailing % 2 else (b"", data)
        data = _unescape(data)
        digest.update(data)
        size += len(data)
    thread.join()
    own.close()
    if failure:
        raise failure[0]
    return size, digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    setup_django()
    import os

    from django.contrib.auth.models import User

    from complications.exports import Selection

    selection = Selection.for_user(User.objects.get(username=BENCH_ADMIN), {})
    rows = []
    results = {}
    for name, variant in (("cursor", cursor_variant), ("copy-thread", copy_variant)):
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            size, digest = variant(selection)
            times.append(time.perf_counter() - start)
        results[name] = (size, digest)
        rows.append([name, f"{size / 2**20:.1f}", f"{p50(times):.2f}", digest[:12]])
        print(f"  {name}: {p50(times):.2f} s", flush=True)
    same = len(set(results.values())) == 1
    print_table(
        f"cases: cursor vs COPY in a thread, p50 of {args.runs}, load {os.getloadavg()[0]:.1f}",
        ["transport", "MB", "s", "sha256"],
        rows,
    )
    print("same bytes:", "yes" if same else "NO")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
