#!/usr/bin/env python3
"""Security checks: the change log is private to sqltapd's user, a conf file
holding a password that others can read is warned about, sqltapd's own log
holds neither passwords nor row data at the default level, and cancel keys
are random. (TLS 1.2 as the minimum is checked in test_tls.py, and that one
client cannot cancel another's query in test_cancel.py.)"""
import collections
import os
import stat
import time

import psycopg

import harness
import pgwire

SECRET_ROW = "Row-Value-4417-Secret"
PASSWORD = "Pw-Only-In-Conf-9921"


class SecurityTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pub = self.fixture(harness.PgServer())
        self.sub = self.fixture(harness.PgServer())
        for srv in (self.pub, self.sub):
            srv.psql("CREATE TABLE t (id int PRIMARY KEY, v text)")
        self.pub.psql(f"SET password_encryption = 'scram-sha-256'; CREATE ROLE app LOGIN PASSWORD '{PASSWORD}';"
                      "GRANT ALL ON t TO app")
        with open(os.path.join(self.pub.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nhost all postgres 127.0.0.1/32 trust\n"
                    "host all app 127.0.0.1/32 scram-sha-256\n")
        self.pub.psql("SELECT pg_reload_conf()")

    def start(self, **kw):
        text = f"[subscriber.s]\nconninfo = {self.sub.dsn()} password={PASSWORD}\ndatabase = postgres\n"
        return self.fixture(harness.Sqltapd(self.pub.port, capture={}, extra_text=text, **kw))

    def test_log_directory_and_files_are_private(self):
        os.umask(0o022)  # as a typical shell would have it
        px = self.start()
        with psycopg.connect(px.dsn(), autocommit=True) as c:
            c.execute("INSERT INTO t VALUES (1, 'x')")
        px.stop()
        mode = stat.S_IMODE(os.stat(px.log_dir).st_mode)
        self.assertEqual(mode, 0o700, oct(mode))
        files = os.listdir(px.log_dir)
        self.assertIn("data.mdb", files)
        for name in files:
            m = stat.S_IMODE(os.stat(os.path.join(px.log_dir, name)).st_mode)
            self.assertEqual(m & 0o077, 0, f"{name} is {oct(m)}")

    def test_readable_conf_with_a_password_is_warned_about(self):
        px = self.start()
        px.stop()
        os.chmod(px.conf_path, 0o644)
        r = harness.run([harness.SQLTAPD, "--check-config", px.conf_path], check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("warning", r.stdout + r.stderr)
        self.assertIn("others can read", r.stdout + r.stderr)
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        # sqltapd itself starts, and says the same in its log.
        px.write_conf = lambda: os.chmod(px.conf_path, 0o644)  # keep the mode the test set
        px.start(same_port=True)
        self.assertIn("others can read", px.log())
        # Readable by its owner only: no warning.
        px.stop()
        os.chmod(px.conf_path, 0o600)
        r = harness.run([harness.SQLTAPD, "--check-config", px.conf_path], check=False)
        self.assertNotIn("others can read", r.stdout + r.stderr)

    def test_no_password_or_row_data_in_the_log(self):
        px = self.start()
        dsn = px.dsn(user="app", password=PASSWORD)
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f"INSERT INTO t VALUES (1, '{SECRET_ROW}')")
            c.execute("UPDATE t SET v = %s WHERE id = 1", (SECRET_ROW + "-2",))
            # Errors that carry row data in their DETAIL.
            with self.assertRaises(psycopg.errors.UniqueViolation):
                c.execute(f"INSERT INTO t VALUES (1, '{SECRET_ROW}-3')")
            with self.assertRaises(psycopg.Error):
                c.execute(f"SELECT '{SECRET_ROW}-4'::int")
        with self.assertRaises(psycopg.OperationalError):
            psycopg.connect(px.dsn(user="app", password="Wrong-" + PASSWORD)).close()
        # A subscriber that refuses the password and a publisher that goes
        # away: error paths log their causes, not the secrets.
        self.sub.psql("SET password_encryption = 'scram-sha-256'; ALTER ROLE postgres PASSWORD 'other'")
        with open(os.path.join(self.sub.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        self.sub.psql("SELECT pg_reload_conf()")
        r = harness.run([harness.SQLTAPD, "--config", px.conf_path, "--sync", "s"], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("password authentication failed", r.stderr)
        time.sleep(1.5)  # the applier meets the refusal too
        px.stop()
        log = px.log() + r.stdout + r.stderr
        self.assertIn("session end", log)
        for secret in (PASSWORD, SECRET_ROW):
            self.assertNotIn(secret, log)

    def test_cancel_keys_are_unpredictable(self):
        px = self.start()
        keys = []
        for _ in range(200):
            c = pgwire.RawClient(px.port)
            try:
                keys.append(c.login())
            finally:
                c.send(pgwire.message(b"X"))
                c.close()
        secrets = [k for _, k in keys]
        self.assertEqual(len(set(keys)), len(keys), "a cancel key came twice")
        self.assertEqual(len(set(secrets)), len(secrets), "a secret came twice")
        # Every bit of the secret is set about half the time (200 samples:
        # outside 25%..75% has a chance below 1e-12 for a random bit).
        for bit in range(32):
            ones = sum(1 for s in secrets if (s >> bit) & 1)
            self.assertTrue(50 <= ones <= 150, f"bit {bit} set in {ones} of 200 keys")
        # No arithmetic progression between consecutive keys.
        steps = collections.Counter((b - a) & 0xFFFFFFFF for a, b in zip(secrets, secrets[1:]))
        self.assertLess(steps.most_common(1)[0][1], 3, steps.most_common(3))


if __name__ == "__main__":
    harness.main()
