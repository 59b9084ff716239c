#!/usr/bin/env python3
"""Crash suite: under a concurrent write workload (pgbench tpcb-like, plus a
script that changes primary keys and deletes), sqltapd is killed with SIGKILL
and restarted, publisher backends are terminated, the publisher is restarted
with `pg_ctl restart -m immediate`, and the network between sqltapd and the
publisher and between sqltapd and the subscriber is cut and restored. Then:

- every transaction the publisher committed is in the log once, and nothing
  else is: each workload transaction writes a marker row holding its xid, so
  the log's xids are compared with the publisher's (lost, duplicated,
  phantom);
- the log, applied in LSN order to a copy of the initial tables, gives the
  publisher's tables exactly;
- the subscriber equals the publisher.

SQLTAP_CRASH_SECONDS sets how long faults are injected (default 40: the ctest
label `crash`); SQLTAP_CRASH_SEED picks the fault sequence. The line it ends
with: runs, kills, transactions committed, lost, duplicated, phantom."""
import collections
import json
import os
import random
import signal
import subprocess
import threading
import time
import unittest

import psycopg

import faults
import harness
import logapply

SECONDS = float(os.environ.get("SQLTAP_CRASH_SECONDS", "40"))
SEED = int(os.environ.get("SQLTAP_CRASH_SEED", str(int(time.time()))))

ITEMS_SCRIPT = r"""
\set k random(1, 2000)
BEGIN;
INSERT INTO items (id, v) VALUES (:k, 0) ON CONFLICT (id) DO UPDATE SET v = items.v + 1;
UPDATE items SET id = id + 1000000 WHERE id = :k + 1 AND NOT EXISTS (SELECT 1 FROM items WHERE id = :k + 1000001);
DELETE FROM items WHERE id = :k + 2;
INSERT INTO marks (note) VALUES ('items');
END;
"""

SCHEMA = """
ALTER TABLE pgbench_history ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE pgbench_history ADD COLUMN hid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
CREATE TABLE marks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text,
                    xid xid8 NOT NULL DEFAULT pg_current_xact_id());
"""
TABLES = {"pgbench_accounts": "aid", "pgbench_branches": "bid", "pgbench_tellers": "tid",
          "pgbench_history": "hid", "items": "id", "marks": "id"}


class CrashTest(harness.TestCase):
    def test_nothing_lost_duplicated_or_invented_through_faults(self):
        rnd = random.Random(SEED)
        print(f"seed {SEED} (SQLTAP_CRASH_SEED), {SECONDS:.0f} s of faults", flush=True)
        # The publisher keeps the commits it acknowledges through a crash of
        # its own (synchronous_commit on; fsync may stay off: the machine does
        # not crash, only processes do). With synchronous_commit off a
        # publisher crash loses acknowledged commits that the log already has.
        pub = self.fixture(harness.PgServer(settings={"synchronous_commit": "on"}))
        sub = self.fixture(harness.PgServer())
        harness.run(["pgbench", "-q", "-i", "-s", "1", pub.dsn()])
        harness.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pub.dsn(), "-c", SCHEMA])
        # The subscriber and a copy to replay the log onto start as the publisher is.
        dump = harness.run(["pg_dump", pub.dsn()]).stdout
        sub.psql("CREATE DATABASE copy")
        for db in ("postgres", "copy"):
            r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", sub.dsn(db)], input=dump,
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)

        pub_relay = self.fixture(faults.FaultRelay(pub.port))
        sub_relay = self.fixture(faults.FaultRelay(sub.port))
        text = (f"[replay]\nkeep = 1h\n[subscriber.s]\nconninfo = host=127.0.0.1 port={sub_relay.port} dbname=postgres "
                "user=postgres connect_timeout=3\ndatabase = postgres\nretry_max = 1s\n")
        px = self.fixture(harness.Sqltapd(pub_relay.port, capture={}, extra_text=text,
                                          extra_publisher={"connect_timeout": "3s"}))
        script = os.path.join(px.dir, "items.sql")
        with open(script, "w") as f:
            f.write(ITEMS_SCRIPT)

        stop = threading.Event()
        runs = collections.Counter()

        def workload():
            while not stop.is_set():
                subprocess.run(["pgbench", "-n", "-c", "4", "-j", "2", "-T", "3", "-b", "tpcb-like@3",
                                "-f", f"{script}@1", px.dsn()], capture_output=True)
                runs["pgbench"] += 1
                time.sleep(0.1)

        threads = [threading.Thread(target=workload) for _ in range(2)]
        for t in threads:
            t.start()

        kills = collections.Counter()
        deadline = time.time() + SECONDS
        time.sleep(2)
        while time.time() < deadline:
            fault = rnd.choice(["kill", "kill", "terminate", "restart", "cut_pub", "cut_sub"])
            if fault == "kill":
                px.proc.send_signal(signal.SIGKILL)
                px.proc.wait()
                px.logf.close()
                time.sleep(rnd.uniform(0, 0.5))
                px.start(same_port=True)
            elif fault == "terminate":
                pub.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()", check=False)
            elif fault == "restart":
                pub.restart("immediate")
            elif fault == "cut_pub":
                pub_relay.cut()
                time.sleep(rnd.uniform(0.5, 2))
                pub_relay.restore()
            elif fault == "cut_sub":
                sub_relay.cut()
                time.sleep(rnd.uniform(0.5, 3))
                sub_relay.restore()
            kills[fault] += 1
            time.sleep(rnd.uniform(1, 4))
        stop.set()
        for t in threads:
            t.join()
        self.assertTrue(px.alive(), "sqltapd died by itself")

        # The log against the publisher, by the xid each transaction wrote.
        logapply.settled(px.log_dir, timeout=60)
        entries = logapply.entries(px.log_dir)
        with psycopg.connect(pub.dsn()) as c:
            committed = [str(r[0]) for r in c.execute(
                "SELECT xid FROM pgbench_history UNION ALL SELECT xid FROM marks")]
        in_log = collections.Counter(e["xid"] for e in entries)
        committed_set = set(committed)
        self.assertEqual(len(committed), len(committed_set), "a transaction wrote two marker rows")
        lost = sorted(committed_set - set(in_log))
        duplicated = sum(n - 1 for n in in_log.values() if n > 1)
        phantom = sorted(set(in_log) - committed_set)
        summary = (f"runs {sum(runs.values())}, kills {sum(kills.values())} ({dict(kills)}), transactions committed "
                   f"{len(committed)}, lost {len(lost)}, duplicated {duplicated}, phantom {len(phantom)}")
        print(summary, flush=True)
        with open(os.environ.get("SQLTAP_CRASH_REPORT", os.devnull), "a") as f:
            f.write(json.dumps({"seed": SEED, "seconds": SECONDS, "runs": sum(runs.values()),
                                "kills": dict(kills), "committed": len(committed), "lost": len(lost),
                                "duplicated": duplicated, "phantom": len(phantom)}) + "\n")
        self.assertGreater(len(committed), 0)
        if lost or duplicated or phantom:
            with psycopg.connect(pub.dsn()) as c:
                status = {x: c.execute("SELECT pg_xact_status(%s::xid8)", (x,)).fetchone()[0]
                          for x in (lost + phantom)[:10]}
            odd = [e for e in entries if e["xid"] in set(phantom[:5]) or in_log[e["xid"]] > 1][:5]
            self.fail(f"{summary}\nlost {lost[:10]}\nphantom {phantom[:10]}\npg_xact_status {status}\n"
                      f"entries {json.dumps(odd)[:3000]}")

        # Replayed onto the copy, the log gives the publisher's tables.
        logapply.apply(sub.dsn("copy"), entries)
        for table, key in TABLES.items():
            want = logapply.rows(pub.dsn(), table, key)
            self.assertEqual(logapply.rows(sub.dsn("copy"), table, key), want, f"{table}: log replay differs")

        # The subscriber caught up and equals the publisher.
        newest = max((e["lsn"] for e in entries), default=0)
        deadline = time.time() + 120
        while True:
            v = sub.psql("SELECT applied_lsn FROM sqltap.progress WHERE subscriber = 's'", check=False)
            if v.strip().isdigit() and int(v) >= newest:
                break
            self.assertLess(time.time(), deadline, f"the subscriber applied {v} of {newest}")
            time.sleep(0.3)
        for table, key in TABLES.items():
            self.assertEqual(logapply.rows(sub.dsn(), table, key), logapply.rows(pub.dsn(), table, key),
                             f"{table}: the subscriber differs")


if __name__ == "__main__":
    harness.main()
