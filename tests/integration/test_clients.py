#!/usr/bin/env python3
"""Real clients through sqltapd give exactly what they give directly."""
import json
import os
import re
import subprocess

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "clients")
NODE_PATH = os.pathsep.join([os.path.join(HERE, "../clients/node_modules"), "/usr/share/nodejs",
                             "/usr/lib/nodejs"])


def mask_pids(text):
    return re.sub(r"server process with PID \d+", "server process with PID N", text)


class ClientsTest(harness.TestCase):
    capture = None  # a pure proxy

    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer())
        self.proxy = self.fixture(harness.Sqltapd(self.pg.port, capture=self.capture))
        for db in ("direct_db", "proxy_db"):
            self.pg.psql(f"CREATE DATABASE {db}")

    def run_psql(self, port, db):
        r = subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db,
                            "-f", os.path.join(CLIENTS, "workload.sql")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return mask_pids(r.stdout)

    def test_psql_script(self):
        direct = self.run_psql(self.pg.port, "direct_db")
        proxied = self.run_psql(self.proxy.port, "proxy_db")
        self.assertIn("done", direct)
        self.assertIn("division by zero", direct)
        self.assertIn('Asynchronous notification "chan" with payload "hello"', direct)
        self.assertEqual(direct, proxied)

    def test_psycopg(self):
        def run(dsn):
            r = harness.run(["/usr/bin/python3", os.path.join(CLIENTS, "psycopg_workload.py"), dsn])
            return json.loads(r.stdout)
        direct = run(self.pg.dsn("direct_db"))
        proxied = run(self.proxy.dsn("proxy_db"))
        self.assertEqual(direct, proxied)
        names = [item[0] for item in direct]
        for expected in ("simple insert", "extended", "binary", "prepared", "pipeline", "copy", "error",
                         "aborted", "notify", "notice"):
            self.assertIn(expected, names)
        self.assertEqual(dict((i[0], i) for i in proxied)["notify"][1],
                         [["events", "first", True], ["events", "second", True]])
        self.assertEqual(dict((i[0], i) for i in proxied)["backend pid matches"][1], True)

    def test_node_postgres(self):
        env = dict(os.environ, NODE_PATH=NODE_PATH)

        def run(port, db):
            r = harness.run(["node", os.path.join(CLIENTS, "node_workload.js"), str(port), db], env=env)
            return json.loads(r.stdout)
        direct = run(self.pg.port, "direct_db")
        proxied = run(self.proxy.port, "proxy_db")
        self.assertEqual(direct, proxied)
        self.assertEqual(dict((i[0], i) for i in proxied)["notify"][1], [["ev", "one", True], ["ev", "two", True]])


class CapturingClientsTest(ClientsTest):
    """The same, with every write captured."""
    capture = {}


if __name__ == "__main__":
    harness.main()
