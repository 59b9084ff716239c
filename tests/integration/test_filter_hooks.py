#!/usr/bin/env python3
"""The session's filter mechanics with test filters: holding a client message,
and injecting a query whose answer the client never sees. Clients must get
exactly what they get directly."""
import json
import os
import re

import harness
from test_clients import CLIENTS, mask_pids

HARNESS = os.path.join(harness.BUILD_DIR, "tests", "bin", "filter_harness")


class FilterHooksTest(harness.TestCase):
    def check(self, kind):
        pg = self.fixture(harness.PgServer())
        proxy = self.fixture(harness.Sqltapd(pg.port, command=lambda conf: [HARNESS, conf, kind]))
        for db in ("direct_db", "proxy_db"):
            pg.psql(f"CREATE DATABASE {db}")

        def psql(port, db):
            r = harness.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db,
                             "-f", os.path.join(CLIENTS, "workload.sql")], check=False)
            return mask_pids(r.stdout + r.stderr)
        direct = psql(pg.port, "direct_db")
        self.assertIn("done", direct)
        self.assertEqual(direct, psql(proxy.port, "proxy_db"))

        def psycopg_run(dsn):
            r = harness.run(["/usr/bin/python3", os.path.join(CLIENTS, "psycopg_workload.py"), dsn])
            return json.loads(r.stdout)
        self.assertEqual(psycopg_run(pg.dsn("direct_db")), psycopg_run(proxy.dsn("proxy_db")))

        harness.run(["pgbench", "-i", "-q", "-d", proxy.dsn()])
        r = harness.run(["pgbench", "-M", "simple", "-c", "4", "-j", "2", "-T", "3", "-d", proxy.dsn()])
        self.assertEqual(re.search(r"number of failed transactions: (\d+)", r.stdout).group(1), "0", r.stdout)

    def test_hold(self):
        self.check("hold")

    def test_inject(self):
        # Equality with the direct run proves the injected answers were swallowed
        # and the notifications that arrived meanwhile were not.
        self.check("inject")


if __name__ == "__main__":
    harness.main()
