#!/usr/bin/env python3
"""pgbench -i and timed runs in every query mode through sqltapd, without failures."""
import os
import re

import harness

DURATION = os.environ.get("SQLTAP_PGBENCH_SECONDS", "10")


class PgbenchTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer())
        self.proxy = self.fixture(harness.Sqltapd(self.pg.port))

    def pgbench(self, *args):
        return harness.run(["pgbench", "-h", "127.0.0.1", "-p", str(self.proxy.port), "-U", "postgres",
                            *args, "postgres"], check=False)

    def test_init_and_runs(self):
        r = self.pgbench("-i", "-s", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.pg.psql("SELECT count(*) FROM pgbench_accounts"), "200000")
        for mode in ("simple", "extended", "prepared"):
            with self.subTest(mode=mode):
                r = self.pgbench("-M", mode, "-c", "4", "-j", "2", "-T", DURATION)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                failed = re.search(r"number of failed transactions: (\d+)", r.stdout)
                self.assertIsNotNone(failed, r.stdout)
                self.assertEqual(failed.group(1), "0", r.stdout)
                done = int(re.search(r"number of transactions actually processed: (\d+)", r.stdout).group(1))
                self.assertGreater(done, 0)


if __name__ == "__main__":
    harness.main()
