#!/usr/bin/env python3
"""The admin surfaces: the console (psql to the virtual database sqltap) and
the HTTP endpoint's /metrics and /health, against a publisher and a
subscriber under a workload."""
import os
import subprocess
import threading
import time

import psycopg

import harness

SCHEMA = "CREATE TABLE items (id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);"


class AdminTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pub = self.fixture(harness.PgServer())
        self.sub = self.fixture(harness.PgServer())
        for srv in (self.pub, self.sub):
            srv.psql("CREATE DATABASE app")
            harness.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", srv.dsn("app"), "-c", SCHEMA])
        self.pub.psql("CREATE ROLE clerk LOGIN")
        self.metrics_port = harness.free_port()
        self.text = (f"[admin]\nlisten = 127.0.0.1:{self.metrics_port}\nusers = postgres, ops\n"
                     f"[subscriber.s1]\nconninfo = {self.sub.dsn('app')}\ndatabase = app\n")
        self.px = self.fixture(harness.Sqltapd(self.pub.port, capture={}, extra_text=self.text))

    def console(self, sql, user="postgres", check=True):
        """Runs sql on the console with psql; returns rows as lists of strings."""
        r = subprocess.run(["psql", "-X", "-A", "-t", "-F", "|", "-h", "127.0.0.1", "-p", str(self.px.port),
                            "-U", user, "-d", "sqltap", "-c", sql], capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError(f"{sql}: {r.stderr}")
        if not check:
            return r
        return [line.split("|") for line in r.stdout.splitlines() if line]

    def subscriber_row(self):
        rows = self.console("SHOW SUBSCRIBERS")
        self.assertEqual(len(rows), 1)
        return dict(zip(["name", "state", "applied_lsn", "newest_lsn", "lag_entries", "lag_seconds", "txn_per_sec",
                         "rows_per_sec", "applied_txns", "applied_rows", "conflicts", "message"], rows[0]))

    def wait_for(self, what, cond, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(0.1)
        self.fail(f"timed out waiting for {what}")

    def sub_count(self):
        return int(self.sub.psql("SELECT count(*) FROM items", dbname="app"))

    def test_console_answers_every_command(self):
        app = psycopg.connect(self.px.dsn("app"), autocommit=True, application_name="shop")
        app.execute("INSERT INTO items VALUES (1, 'a'), (2, 'b')")
        self.wait_for("the subscriber", lambda: self.sub_count() == 2)

        # SHOW SESSIONS: the application's session and the console's own.
        rows = self.console("SHOW SESSIONS")
        apps = [r for r in rows if r[3] == "app"]
        self.assertEqual(len(apps), 1, rows)
        self.assertEqual(apps[0][2], "postgres")
        self.assertEqual(apps[0][4], "shop")
        self.assertEqual(apps[0][5], "active")
        self.assertGreaterEqual(int(apps[0][9]), 1)  # queries
        self.assertTrue(any(r[3] == "sqltap" and r[5] == "console" for r in rows), rows)

        sub = self.subscriber_row()
        self.assertEqual(sub["name"], "s1")
        self.assertIn(sub["state"], ("streaming", "catching_up"))
        self.assertGreaterEqual(int(sub["applied_txns"]), 1)
        self.assertEqual(sub["lag_entries"], "0")

        log = dict(self.console("SHOW LOG"))
        self.assertEqual(log["directory"], self.px.log_dir)
        self.assertEqual(log["durability"], "strict")
        self.assertGreaterEqual(int(log["purged_below"]) + int(log["entries"]), 2)

        config = {(r[0], r[1]): r for r in self.console("SHOW CONFIG")}
        self.assertEqual(config[("publisher", "port")][2], str(self.pub.port))
        self.assertTrue(config[("publisher", "port")][5].startswith(self.px.conf_path + ":"))
        self.assertEqual(config[("publisher", "admin_conninfo")][2], "********")  # secrets are masked
        self.assertEqual(config[("subscriber.s1", "conninfo")][2], "********")
        self.assertEqual(config[("capture", "durability")][2:5], ["strict", "strict", "no"])
        self.assertEqual(config[("admin", "users")][4], "yes")

        stats = dict(self.console("SHOW STATS"))
        self.assertGreaterEqual(int(stats["captured_transactions"]), 1)
        self.assertGreaterEqual(int(stats["captured_rows"]), 2)
        self.assertGreaterEqual(int(stats["queries"]), 1)
        self.assertEqual(stats["uncaptured_rejected"], "0")

        self.assertIn(["RELOAD"], self.console("SHOW HELP"))

        # PAUSE: nothing more is applied, the state says so and the lag grows; RESUME: it catches up.
        self.assertEqual(self.console("PAUSE SUBSCRIBER s1"), [["PAUSE"]])
        self.wait_for("paused", lambda: self.subscriber_row()["state"] == "paused")
        app.execute("INSERT INTO items VALUES (3, 'c')")
        self.wait_for("lag while paused", lambda: int(self.subscriber_row()["lag_entries"]) > 0)
        time.sleep(1)
        self.assertEqual(self.sub_count(), 2)
        self.console("RESUME SUBSCRIBER s1")
        self.wait_for("the resumed subscriber", lambda: self.sub_count() == 3)
        self.wait_for("no lag", lambda: self.subscriber_row()["lag_entries"] == "0")

        # RELOAD: applies a good file, refuses a broken one (naming the line) and keeps the old one.
        self.console("RELOAD")
        with open(self.px.conf_path, "a") as f:
            f.write("[proxy]\nlog_levle = debug\n")
        r = self.console("RELOAD", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"configuration not reloaded \(.*sqltap\.conf:\d+: unknown key 'log_levle' in "
                                   r"\[proxy\]; did you mean 'log_level'\?\)")
        self.assertEqual(app.execute("SELECT count(*) FROM items").fetchone()[0], 3)  # still serving

        # Errors: unknown commands and subscribers, users not listed, the extended protocol.
        r = self.console("SHOW NOTHING", check=False)
        self.assertIn("unknown console command", r.stderr)
        r = self.console("PAUSE SUBSCRIBER nobody", check=False)
        self.assertIn('no subscriber "nobody" (there are: s1)', r.stderr)
        r = self.console("SHOW STATS", user="clerk", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('user "clerk" may not use the sqltap admin console', r.stderr)
        with psycopg.connect(self.px.dsn("sqltap"), autocommit=True) as c:
            with self.assertRaises(psycopg.errors.FeatureNotSupported):
                c.execute("SHOW STATS", prepare=False, binary=True)
            # psycopg sends a statement without parameters as a simple Query.
            stats = dict(c.execute("SHOW STATS").fetchall())
            self.assertIn("captured_transactions", stats)
        # A listed user the publisher does not know is refused by the publisher.
        r = self.console("SHOW STATS", user="ops", check=False)
        self.assertIn('role "ops" does not exist', r.stderr)
        app.close()
        # A clean stop (under the sanitizers: no leak, e.g. of a cycle through the console).
        self.px.stop()
        self.assertEqual(self.px.proc.returncode, 0, self.px.log()[-3000:])

    def test_metrics_move_during_a_workload_and_the_lag_falls(self):
        status, ctype, text = harness.scrape(self.metrics_port, "/health")
        self.assertEqual(status, 200)
        self.assertIn("subscriber s1:", text)
        self.assertEqual(harness.scrape(self.metrics_port, "/nothing")[0], 404)
        status, ctype, text = harness.scrape(self.metrics_port)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        before = harness.parse_metrics(text)
        for name in ("sqltap_sessions_active", "sqltap_queries_total", "sqltap_captured_transactions_total",
                     "sqltap_captured_rows_total", "sqltap_uncaptured_rejections_total", "sqltap_log_size_bytes",
                     "sqltap_log_oldest_lsn", "sqltap_log_newest_lsn", 'sqltap_subscriber_applied_lsn{subscriber="s1"}',
                     'sqltap_subscriber_lag_entries{subscriber="s1"}', 'sqltap_subscriber_lag_seconds{subscriber="s1"}',
                     'sqltap_subscriber_apply_rate_transactions{subscriber="s1"}',
                     'sqltap_subscriber_conflicts_total{subscriber="s1"}',
                     'sqltap_subscriber_state{subscriber="s1",state="streaming"}'):
            self.assertIn(name, before)

        # A workload, with the subscriber paused for a while so that a lag builds up.
        stop = threading.Event()
        done = [0]

        def work():
            with psycopg.connect(self.px.dsn("app"), autocommit=True) as c:
                i = 0
                while not stop.is_set():
                    i += 1
                    c.execute("INSERT INTO items (id, v) VALUES (%s, 'w') ON CONFLICT (id) DO UPDATE SET n = items.n + 1",
                              (i % 500,))
                    done[0] += 1
        t = threading.Thread(target=work)
        t.start()
        try:
            self.console("PAUSE SUBSCRIBER s1")
            lag = self.wait_for("a lag", lambda: (lambda m: m['sqltap_subscriber_lag_entries{subscriber="s1"}']
                                                  if m['sqltap_subscriber_lag_entries{subscriber="s1"}'] > 50 else 0)(
                harness.parse_metrics(harness.scrape(self.metrics_port)[2])))
            during = harness.parse_metrics(harness.scrape(self.metrics_port)[2])
            self.assertEqual(during['sqltap_subscriber_state{subscriber="s1",state="paused"}'], 1)
            self.assertGreater(during['sqltap_subscriber_lag_seconds{subscriber="s1"}'], 0)
            self.console("RESUME SUBSCRIBER s1")
            time.sleep(1)
        finally:
            stop.set()
            t.join()
        # The lag falls to zero once the workload stops.
        seen = [lag]

        def caught_up():
            m = harness.parse_metrics(harness.scrape(self.metrics_port)[2])
            seen.append(m['sqltap_subscriber_lag_entries{subscriber="s1"}'])
            return seen[-1] == 0
        self.wait_for("the lag to fall to 0", caught_up, timeout=60)
        after = harness.parse_metrics(harness.scrape(self.metrics_port)[2])
        self.assertGreater(after["sqltap_queries_total"], before["sqltap_queries_total"] + done[0] - 1)
        self.assertGreaterEqual(after["sqltap_captured_transactions_total"],
                                before["sqltap_captured_transactions_total"] + done[0])
        self.assertGreaterEqual(after["sqltap_captured_rows_total"], before["sqltap_captured_rows_total"] + done[0])
        self.assertGreater(after["sqltap_log_newest_lsn"], before["sqltap_log_newest_lsn"])
        self.assertGreater(after['sqltap_subscriber_applied_lsn{subscriber="s1"}'],
                           before['sqltap_subscriber_applied_lsn{subscriber="s1"}'])
        self.assertGreater(after['sqltap_subscriber_applied_transactions_total{subscriber="s1"}'],
                           before['sqltap_subscriber_applied_transactions_total{subscriber="s1"}'])
        self.assertLess(seen[-1], seen[0])
        self.assertEqual(int(self.sub.psql("SELECT sum(n + 1) FROM items", dbname="app")),
                         int(self.pub.psql("SELECT sum(n + 1) FROM items", dbname="app")))


if __name__ == "__main__":
    harness.main()
