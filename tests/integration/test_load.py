#!/usr/bin/env python3
"""Load: 1,000 concurrent client connections through sqltapd (capture on,
strict) for SQLTAP_LOAD_SECONDS (default 60) with pgbench: no errors, every
committed transaction in the log, and sqltapd's memory per connection
reported. (10,000 sessions opened and closed without leaking descriptors or
memory: test_robustness.py.)"""
import os
import re
import resource
import subprocess
import time

import harness
import logapply

SECONDS = int(os.environ.get("SQLTAP_LOAD_SECONDS", "60"))
CLIENTS = int(os.environ.get("SQLTAP_LOAD_CLIENTS", "1000"))


class LoadTest(harness.TestCase):
    def test_a_thousand_connections(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, max(soft, 4 * CLIENTS + 256))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # pgbench and sqltapd inherit it
        pub = self.fixture(harness.PgServer(settings={"max_connections": str(CLIENTS + 50),
                                                      "shared_buffers": "128MB"}))
        harness.run(["pgbench", "-q", "-i", "-s", "4", pub.dsn()])
        px = self.fixture(harness.Sqltapd(pub.port, capture={}, extra_proxy={"io_threads": "2"}))
        time.sleep(0.5)
        idle_kb = px.rss_kb()
        # Reads mostly, and writes that capture logs, every client connected
        # for the whole run.
        p = subprocess.Popen(["pgbench", "-n", "-c", str(CLIENTS), "-j", "4", "-T", str(SECONDS), "-P", "10",
                              "-b", "select-only@9", "-b", "simple-update@1", px.dsn()],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak_kb, peak_sessions = idle_kb, 0
        while p.poll() is None:
            time.sleep(2)
            sessions = int(pub.psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                                    "AND application_name = 'pgbench'") or 0)
            rss = px.rss_kb()
            if sessions >= peak_sessions:
                peak_sessions, peak_kb = sessions, max(peak_kb, rss)
        out, err = p.communicate()
        self.assertEqual(p.returncode, 0, out[-2000:] + err[-3000:])
        self.assertNotIn("aborted", err)
        self.assertRegex(out, rf"number of clients: {CLIENTS}\b")
        done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
        failed = re.search(r"number of failed transactions: (\d+)", out)
        self.assertEqual(int(failed.group(1)) if failed else 0, 0)
        self.assertEqual(peak_sessions, CLIENTS, "not every client was connected at once")
        per_conn = (peak_kb - idle_kb) / CLIENTS
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1)
        print(f"{CLIENTS} connections for {SECONDS} s: {done} transactions ({tps} tps), 0 failed; sqltapd RSS idle "
              f"{idle_kb} kB, with {CLIENTS} sessions {peak_kb} kB: {per_conn:.1f} kB per connection", flush=True)
        with open(os.environ.get("SQLTAP_LOAD_REPORT", os.devnull), "a") as f:
            f.write(f"clients={CLIENTS} seconds={SECONDS} transactions={done} tps={tps} idle_kb={idle_kb} "
                    f"peak_kb={peak_kb} per_connection_kb={per_conn:.1f}\n")
        # The writes are all in the log: one entry per simple-update transaction.
        logapply.settled(px.log_dir, timeout=60)
        updates = int(pub.psql("SELECT count(*) FROM pgbench_history"))
        stats = harness.run([logapply.DUMP, "--log", px.log_dir, "--stats"]).stdout
        m = re.search(r"transactions:\s+(\d+)", stats)
        self.assertEqual(int(m.group(1)), updates, stats)
        self.assertTrue(px.alive())


if __name__ == "__main__":
    harness.main()
