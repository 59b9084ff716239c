#!/usr/bin/env python3
"""A full change log: with a small LMDB map, commits that the log cannot take
are refused with a clear error (strict), nothing is committed uncaptured, and
capture resumes by itself once space returns (a subscriber catches up and its
entries are purged, or the map is grown). In async mode the transactions that
committed before the log said it was full are reported and their tables get a
resync record; from then on commits wait for the log as in strict mode.
max_log_size keeps the log below the map by giving up the furthest-behind
subscriber instead."""
import json
import time

import psycopg

import harness
import logapply

ROW = "repeat(md5(random()::text), 250)"  # 8000 bytes that do not compress


class FullLogTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pub = self.fixture(harness.PgServer())
        self.sub = self.fixture(harness.PgServer())
        for srv in (self.pub, self.sub):
            srv.psql("CREATE TABLE t (id serial PRIMARY KEY, pad text NOT NULL)")
        self.sub.stop()  # offline: nothing can be purged

    def start(self, capture, replay=""):
        capture = {"log_map_size": "1MB", **capture}
        self.metrics_port = harness.free_port()
        text = (f"[admin]\nlisten = 127.0.0.1:{self.metrics_port}\n"
                f"[replay]\n{replay}[subscriber.s]\nconninfo = {self.sub.dsn()}\ndatabase = postgres\n"
                "retry_max = 1s\n")
        return self.fixture(harness.Sqltapd(self.pub.port, capture=capture, extra_text=text))

    def fill(self, px, limit=1000):
        """Inserts 8 kB rows, by turns in simple and extended protocol, until
        the log refuses one; returns (rows committed, the error)."""
        with psycopg.connect(px.dsn(), autocommit=True) as c:
            for i in range(limit):
                try:
                    if i % 2:
                        c.execute(f"INSERT INTO t (pad) VALUES ({ROW})")
                    else:
                        c.execute(f"INSERT INTO t (pad) VALUES ({ROW} || %s)", ("",))
                except psycopg.Error as e:
                    return i, e
        self.fail(f"{limit} rows of 8 kB fitted in a 1 MB log")

    def insert_big(self, px):
        with psycopg.connect(px.dsn(), autocommit=True) as c:
            c.execute(f"INSERT INTO t (pad) VALUES ({ROW})")

    def insert_when_capture_resumes(self, px, timeout=90):
        """Inserts a big row, retrying while the log is still full."""
        deadline = time.time() + timeout
        while True:
            try:
                self.insert_big(px)
                return
            except psycopg.Error as e:
                self.assertIn("the change log is full", str(e))
                self.assertLess(time.time(), deadline, "capture did not resume")
                time.sleep(0.5)

    def logged_ids(self, px):
        ids = []
        for e in logapply.entries(px.log_dir, "--table", "public.t"):
            ids += [int(ch["new"]["id"]) for ch in e["changes"] if ch["op"] == "insert"]
        return ids

    def published_ids(self):
        return [int(x) for x in self.pub.psql("SELECT id FROM t ORDER BY id").split()]

    def test_strict_refuses_and_resumes_when_a_subscriber_catches_up(self):
        px = self.start({"durability": "strict"})
        n, err = self.fill(px)
        self.assertGreater(n, 10)
        self.assertEqual(err.sqlstate, "58030", err)
        self.assertIn("the change log is full", str(err))
        self.assertIn("nothing was committed", str(err))
        # An explicit transaction meets the same refusal at its COMMIT, and
        # its rows are not on the publisher.
        with psycopg.connect(px.dsn()) as c:
            c.execute(f"INSERT INTO t (pad) VALUES ('in a block' || {ROW})")
            with self.assertRaises(psycopg.Error) as cm:
                c.commit()
        self.assertIn("the change log is full", str(cm.exception))
        self.assertEqual(self.pub.psql("SELECT count(*) FROM t WHERE pad LIKE 'in a block%'"), "0")
        # Every committed row is in the log, once; nothing else is.
        self.assertEqual(sorted(self.logged_ids(px)), self.published_ids())
        # Other sessions keep working: reads, and writes outside capture.
        with psycopg.connect(px.dsn(), autocommit=True) as c:
            self.assertEqual(c.execute("SELECT count(*) FROM t").fetchone()[0], n)
        # The subscriber returns, applies, its entries are purged: capture
        # resumes by itself, without a restart.
        self.sub.start(same_port=True)
        self.insert_when_capture_resumes(px)
        for _ in range(20):  # and keeps taking entries as they are applied
            for attempt in range(100):
                try:
                    self.insert_big(px)
                    break
                except psycopg.Error:
                    time.sleep(0.2)
        logapply.settled(px.log_dir)
        deadline = time.time() + 60
        want = self.pub.psql("SELECT count(*), md5(string_agg(id || pad, ',' ORDER BY id)) FROM t")
        while self.sub.psql("SELECT count(*), md5(string_agg(id || pad, ',' ORDER BY id)) FROM t") != want:
            self.assertLess(time.time(), deadline, "the subscriber did not catch up")
            time.sleep(0.3)
        self.assertIn("the change log is full", px.log())

    def test_strict_resumes_after_a_restart_with_a_larger_map(self):
        px = self.start({"durability": "strict"})
        n, err = self.fill(px)
        self.assertIn("the change log is full", str(err))
        px.stop()
        px.capture_settings["log_map_size"] = "4MB"
        px.start(same_port=True)
        for _ in range(10):
            self.insert_big(px)
        self.assertEqual(sorted(self.logged_ids(px)), self.published_ids())
        self.assertEqual(len(self.published_ids()), n + 10)

    def test_async_reports_what_it_lost_and_then_refuses(self):
        px = self.start({"durability": "async"})
        n, err = self.fill(px)
        self.assertIn("the change log is full", str(err))
        # Async acknowledges before the append: what committed in the
        # moment the log filled is reported, never silently gone.
        published = set(self.published_ids())
        logged = set(self.logged_ids(px))
        self.assertLessEqual(logged, published)
        lost = published - logged
        deadline = time.time() + 10
        while "could not take it" not in px.log() and lost and time.time() < deadline:
            time.sleep(0.2)
        if lost:
            self.assertIn("need a new initial sync on every subscriber", px.log())
        # From now on async commits wait for the log as strict ones do: each
        # is refused, or in the log (a smaller gap may still take one), and
        # nothing more is lost.
        for _ in range(10):
            try:
                self.insert_big(px)
            except psycopg.Error as e:
                self.assertIn("the change log is full", str(e))
        logged = set(self.logged_ids(px))
        self.assertEqual(set(self.published_ids()) - logged, lost)
        published = set(self.published_ids())
        # Space returns: the resync record for t comes first, then new rows.
        self.sub.start(same_port=True)
        self.insert_when_capture_resumes(px)
        if lost:
            # The resync record reached the subscriber's applier, which says so
            # (the entry itself may be purged already: it was applied).
            deadline = time.time() + 30
            while "public.t had writes that could not be captured" not in px.log():
                self.assertLess(time.time(), deadline, "no resync record reached the subscriber")
                time.sleep(0.3)
            self.assertRegex(px.log(), r"resync records for 1 table\(s\) of database postgres written at LSN")
            # The subscriber is told; a sync makes it whole.
            r = harness.run([harness.SQLTAPD, "--config", px.conf_path, "--sync", "s"], check=False)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        want = self.pub.psql("SELECT count(*), md5(string_agg(id || pad, ',' ORDER BY id)) FROM t")
        deadline = time.time() + 60
        while self.sub.psql("SELECT count(*), md5(string_agg(id || pad, ',' ORDER BY id)) FROM t") != want:
            self.assertLess(time.time(), deadline, "the subscriber did not become equal")
            time.sleep(0.3)
        self.assertEqual(self.lost_metric(px), len(lost))

    def lost_metric(self, px):
        status, _, text = harness.scrape(self.metrics_port)
        self.assertEqual(status, 200)
        return int(harness.parse_metrics(text)["sqltap_log_lost_transactions_total"])

    def test_max_log_size_gives_up_the_slowest_subscriber_instead(self):
        px = self.start({"durability": "strict", "log_map_size": "4MB", "max_log_size": "1MB"})
        for _ in range(300):  # 2.4 MB of rows: more than max_log_size, less than the map
            self.insert_big(px)
        deadline = time.time() + 30
        while "is STALE" not in px.log():
            self.assertLess(time.time(), deadline, "the subscriber was not given up")
            time.sleep(0.3)
        self.assertIn("max_log_size", px.log())
        # The state kept beside the log says so too (written through the log's
        # writer, a moment after the message).
        deadline = time.time() + 10
        while True:
            st = {json.loads(l)["subscriber"]: json.loads(l) for l in harness.run(
                [logapply.DUMP, "--log", px.log_dir, "--subscribers", "--format", "json"]).stdout.splitlines()}
            if st["s"]["state"] == "stale" or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(st["s"]["state"], "stale", st)
        # Its entries went: the log is below the limit again, and takes more.
        for _ in range(50):
            self.insert_big(px)
        self.assertEqual(len(self.published_ids()), 350)


if __name__ == "__main__":
    harness.main()
