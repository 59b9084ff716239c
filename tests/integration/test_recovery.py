#!/usr/bin/env python3
"""In-doubt log entries are resolved with the publisher's pg_xact_status."""
import os
import shutil
import tempfile

import psycopg

import harness

PROBE = os.path.join(harness.BUILD_DIR, "tests", "bin", "recovery_probe")


class RecoveryTest(harness.TestCase):
    def test_committed_aborted_in_progress_and_foreign(self):
        pg = self.fixture(harness.PgServer())
        committed = pg.psql("SELECT pg_current_xact_id()")
        aborted = harness.run(["psql", "-X", "-A", "-t", "-q", "-d", pg.dsn()],
                              input="BEGIN;\nSELECT pg_current_xact_id();\nROLLBACK;\n").stdout.strip()
        running = psycopg.connect(pg.dsn())
        in_progress = str(running.execute("SELECT pg_current_xact_id()").fetchone()[0])
        future = str(int(committed) + 1000000)
        logdir = tempfile.mkdtemp(prefix="sqltap-recovery-")
        try:
            out = harness.run([PROBE, pg.dsn(), os.path.join(logdir, "log"), committed, aborted, in_progress, future,
                               committed, "before:" + committed]).stdout
        finally:
            running.rollback()
            running.close()
            shutil.rmtree(logdir, ignore_errors=True)
        # The last: written before the publisher started, its xid committed
        # after: another transaction reused the xid after a crash (the
        # servers here track commit timestamps). Aborted, not a phantom.
        self.assertIn("committed=2 aborted=2 in_progress=1 unknown=1", out)
        self.assertIn(f"LSN 3 (xid {in_progress}, database postgres) stays in doubt: the publisher says in progress", out)
        self.assertIn("is in the future", out)
        # LSN 1 is visible; LSN 2 (aborted) is gone; LSN 3 blocks everything after it.
        self.assertIn("visible: 1 \n", out)


if __name__ == "__main__":
    harness.main()
