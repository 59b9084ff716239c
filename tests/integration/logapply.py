"""Test helpers: read the change log with sqltap-dump, apply it in LSN order to
another database (a minimal replay, to prove the log is complete and ordered),
and compare tables between servers."""
import json
import os
import re
import time

import psycopg
from psycopg import sql

import harness

DUMP = os.path.join(harness.BUILD_DIR, "bin", "sqltap-dump")


def settled(log_dir, timeout=20.0):
    """Waits until no entry is in doubt: a COMMIT's resolution is written just
    after the client got its answer, so a reader may look a moment early."""
    deadline = time.time() + timeout
    while True:
        out = harness.run([DUMP, "--log", log_dir, "--stats"]).stdout
        m = re.search(r"(\d+) in doubt", out)
        if m and m.group(1) == "0":
            return
        if time.time() > deadline:
            raise AssertionError(f"log entries stay in doubt:\n{out}")
        time.sleep(0.05)


def entries(log_dir, *args):
    settled(log_dir)
    out = harness.run([DUMP, "--log", log_dir, "--format", "json", *args]).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _where(key):
    # "=" (not IS NOT DISTINCT FROM) so that the key's index is used.
    return sql.SQL(" AND ").join(
        sql.SQL("{} IS NULL").format(sql.Identifier(k)) if v is None else
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in key.items())


def apply(conninfo, log_entries):
    """Applies entries in order, one transaction each, as replay will."""
    with psycopg.connect(conninfo, autocommit=False) as conn:
        for e in log_entries:
            with conn.cursor() as cur:
                for c in e["changes"]:
                    op = c["op"]
                    if op == "ddl":
                        cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.SQL(c["search_path"]))
                                    if c["search_path"] else "SELECT 1")
                        cur.execute(c["sql"])
                        continue
                    table = sql.Identifier(c["schema"], c["table"])
                    if op == "insert":
                        cols = list(c["new"].keys())
                        cur.execute(sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ({})").format(
                            table, sql.SQL(", ").join(map(sql.Identifier, cols)),
                            sql.SQL(", ").join(sql.Literal(c["new"][k]) for k in cols)))
                    elif op == "update":
                        cur.execute(sql.SQL("UPDATE {} SET {} WHERE {}").format(
                            table, sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v))
                                                      for k, v in c["new"].items()), _where(c["key"])))
                        if cur.rowcount != 1:
                            raise AssertionError(f"update of a missing row at LSN {e['lsn']}: {c}")
                    elif op == "delete":
                        cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(table, _where(c["key"])))
                        if cur.rowcount != 1:
                            raise AssertionError(f"delete of a missing row at LSN {e['lsn']}: {c}")
                    elif op == "truncate":
                        cur.execute(sql.SQL("TRUNCATE {}").format(table))
                    elif op == "resync":
                        raise AssertionError(f"resync record at LSN {e['lsn']}: {c}")
            conn.commit()


def rows(conninfo, table, order="1"):
    """Every row of a table as text values, in a stable order."""
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT t::text FROM {} t ORDER BY {}").format(sql.SQL(table), sql.SQL(order)))
        return [r[0] for r in cur.fetchall()]


def check_before_images(log_entries, table, key_columns, start=None):
    """Follows `table` through the log in order and checks that every before
    image ("old") of an update or delete is the row as the log last left it
    (`start`: rows there before the log began, by key tuple). Returns how
    many images were checked; raises on the first that differs."""
    rows = dict(start or {})
    checked = 0
    for e in log_entries:
        for c in e["changes"]:
            if c.get("table") != table:
                continue
            op = c["op"]
            if op == "truncate":
                rows.clear()
                continue
            if op == "insert":
                rows[tuple(c["new"][k] for k in key_columns)] = c["new"]
                continue
            key = tuple(c["key"][k] for k in key_columns)
            if "old" in c:
                if rows.get(key) != c["old"]:
                    raise AssertionError(f"before image at LSN {e['lsn']} is not the row as it was:\n"
                                         f"  logged {c['old']}\n  was    {rows.get(key)}")
                checked += 1
            if op == "update":
                rows.pop(key, None)
                rows[tuple(c["new"][k] for k in key_columns)] = c["new"]
            elif op == "delete":
                rows.pop(key, None)
    return checked
