#!/usr/bin/env python3
"""sqltapd as a daemon: signals, timeouts, its log, its command line."""
import os
import signal
import socket
import subprocess
import threading
import time

import psycopg

import harness
from pgwire import RawClient


def wait_exit(proxy, timeout):
    try:
        proxy.proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


class DaemonTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer())

    def test_sigterm_lets_sessions_finish(self):
        proxy = self.fixture(harness.Sqltapd(self.pg.port, extra_proxy={"shutdown_timeout": "20s"}))
        conn = psycopg.connect(proxy.dsn(), autocommit=True)
        result = {}

        def work():
            result["v"] = conn.execute("SELECT pg_sleep(3), 'finished'").fetchone()[1]
        t = threading.Thread(target=work)
        t.start()
        time.sleep(0.3)
        proxy.signal(signal.SIGTERM)
        deadline = time.time() + 10
        while not refused(proxy.port) and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(refused(proxy.port), "still accepting after SIGTERM")
        t.join()
        self.assertEqual(result["v"], "finished")
        self.assertEqual(conn.execute("SELECT 'more work'").fetchone()[0], "more work")
        conn.close()
        self.assertTrue(wait_exit(proxy, 10))
        self.assertEqual(proxy.proc.returncode, 0)

    def test_sigterm_closes_sessions_after_shutdown_timeout(self):
        proxy = self.fixture(harness.Sqltapd(self.pg.port, extra_proxy={"shutdown_timeout": "1s"}))
        conn = psycopg.connect(proxy.dsn(), autocommit=True)
        proxy.signal(signal.SIGTERM)
        self.assertTrue(wait_exit(proxy, 15))
        with self.assertRaises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        conn.close()
        self.assertIn("shutdown timeout: closing 1 sessions", proxy.log())

    def test_sigint_closes_now(self):
        proxy = self.fixture(harness.Sqltapd(self.pg.port, extra_proxy={"shutdown_timeout": "60s"}))
        conn = psycopg.connect(proxy.dsn(), autocommit=True)
        proxy.signal(signal.SIGINT)
        self.assertTrue(wait_exit(proxy, 10))
        with self.assertRaises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        conn.close()

    def test_sighup_reloads(self):
        proxy = self.fixture(harness.Sqltapd(self.pg.port))
        proxy.proxy_settings["log_level"] = "debug"
        proxy.write_conf()
        proxy.signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "configuration reloaded" not in proxy.log() and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("configuration reloaded", proxy.log())
        # A broken file is refused and the old configuration stays.
        with open(proxy.conf_path, "a") as f:
            f.write("[proxy]\nno_such_key = 1\n")
        proxy.signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "not reloaded" not in proxy.log() and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("unknown key 'no_such_key'", proxy.log())
        self.assertEqual(harness.run(["psql", "-X", "-A", "-t", "-d", proxy.dsn(), "-c", "SELECT 7"]).stdout.strip(), "7")

    def test_login_timeout(self):
        proxy = self.fixture(harness.Sqltapd(self.pg.port, extra_proxy={"login_timeout": "1s"}))
        c = RawClient(proxy.port, timeout=30)
        start = time.monotonic()
        self.assertEqual(c.read_until_closed(), [])
        c.close()
        self.assertLess(time.monotonic() - start, 20)
        self.assertTrue(proxy.alive())

    def test_publisher_down_is_a_clear_error(self):
        port = harness.free_port()
        proxy = self.fixture(harness.Sqltapd(port, extra_publisher={"connect_timeout": "2s"}))
        r = harness.run(["psql", "-X", "-d", proxy.dsn(), "-c", "SELECT 1"], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"sqltapd could not connect to the publisher 127.0.0.1:{port}", r.stderr)

    def test_publisher_connect_timeout(self):
        # A listener that never accepts, with its backlog full: the kernel drops
        # further SYNs, so a connect neither succeeds nor fails by itself.
        blackhole = socket.socket()
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(0)
        port = blackhole.getsockname()[1]
        fillers = []
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", port))
            fillers.append(f)
        time.sleep(0.2)
        try:
            proxy = self.fixture(harness.Sqltapd(port, extra_publisher={"connect_timeout": "1s"}))
            r = harness.run(["psql", "-X", "-d", proxy.dsn(connect_timeout=60), "-c", "SELECT 1"], check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("could not connect to the publisher", r.stderr)
            self.assertIn("timeout expired", r.stderr)
        finally:
            for f in fillers:
                f.close()
            blackhole.close()

    def test_session_log_line_and_no_password(self):
        self.pg.psql("SET password_encryption = 'md5'; CREATE ROLE app LOGIN PASSWORD 'Sekrit-77'")
        with open(os.path.join(self.pg.data, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all app 127.0.0.1/32 md5\n")
        self.pg.psql("SELECT pg_reload_conf()")
        proxy = self.fixture(harness.Sqltapd(self.pg.port, extra_proxy={"log_level": "debug"}))
        r = harness.run(["psql", "-X", "-A", "-t", "-d", proxy.dsn(user="app", password="Sekrit-77"),
                         "-c", "SELECT current_user"])
        self.assertEqual(r.stdout.strip(), "app")
        bad = harness.run(["psql", "-X", "-d", proxy.dsn(user="app", password="Wrong-88"), "-c", "SELECT 1"],
                          check=False)
        self.assertIn("password authentication failed", bad.stderr)
        time.sleep(0.3)
        log = proxy.log()
        self.assertRegex(log, r"session end: client=127\.0\.0\.1:\d+ user=app database=postgres "
                              r"duration=\d+\.\d{3}s bytes_in=\d+ bytes_out=\d+")
        self.assertNotIn("Sekrit-77", log)
        self.assertNotIn("Wrong-88", log)

    def test_other_sessions_survive_a_dying_one(self):
        proxy = self.fixture(harness.Sqltapd(self.pg.port))
        keep = psycopg.connect(proxy.dsn(), autocommit=True)
        victim = psycopg.connect(proxy.dsn(), autocommit=True)
        pid = victim.info.backend_pid
        self.pg.psql(f"SELECT pg_terminate_backend({pid})")
        with self.assertRaises(psycopg.OperationalError):
            victim.execute("SELECT 1")
        self.assertEqual(keep.execute("SELECT 5").fetchone()[0], 5)
        keep.close()
        victim.close()


class CommandLineTest(harness.TestCase):
    def test_help_and_version(self):
        r = harness.run([harness.SQLTAPD, "--help"])
        self.assertIn("--config FILE", r.stdout)
        r = harness.run([harness.SQLTAPD, "--version"])
        self.assertRegex(r.stdout, r"^sqltapd \d+\.\d+\.\d+")
        r = harness.run([harness.SQLTAPD, "--bogus"], check=False)
        self.assertEqual(r.returncode, 2)

    def test_check_config(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("[proxy]\nlisten = 127.0.0.1:6432\nlogin_timout = 5s\n[publisher]\nsslmode = maybe\n")
            path = f.name
        r = harness.run([harness.SQLTAPD, "--check-config", path], check=False)
        os.unlink(path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{path}:3: error: unknown key 'login_timout' in [proxy]; did you mean 'login_timeout'?",
                      r.stderr)
        self.assertIn(f"{path}:5: error:", r.stderr)
        conf_dir = os.path.join(os.path.dirname(__file__), "../../conf")
        for name in sorted(os.listdir(conf_dir)):
            if name.endswith(".conf"):
                with self.subTest(conf=name):
                    r = harness.run([harness.SQLTAPD, "--check-config", os.path.join(conf_dir, name)], check=False)
                    self.assertEqual(r.returncode, 0, r.stderr)

    def test_configuration_reference_is_current(self):
        """docs/configuration.md is what the schema generates, and names every key."""
        r = harness.run([harness.SQLTAPD, "--config-reference"])
        path = os.path.join(os.path.dirname(__file__), "../../docs/configuration.md")
        with open(path) as f:
            self.assertEqual(f.read(), r.stdout,
                             "docs/configuration.md is stale: regenerate it with sqltapd --config-reference")
        for key in ("### `listen`", "### `durability`", "### `users`", "### `conninfo`", "### `filter`"):
            self.assertIn(key, r.stdout)

    def test_install_puts_everything_in_place(self):
        """cmake --install: binaries (each with --help and --version), the
        configuration, the examples, the systemd unit and the man pages."""
        import shutil
        import tempfile
        prefix = tempfile.mkdtemp(prefix="sqltap-install-")
        try:
            harness.run(["cmake", "--install", harness.BUILD_DIR, "--prefix", prefix])
            want = ["bin/sqltapd", "bin/sqltap-dump", "etc/sqltap/sqltap.conf", "lib/systemd/system/sqltapd.service",
                    "share/man/man8/sqltapd.8", "share/man/man1/sqltap-dump.1", "share/doc/sqltap/configuration.md"]
            want += [f"share/doc/sqltap/examples/{n}" for n in sorted(os.listdir(os.path.join(
                os.path.dirname(__file__), "../../conf"))) if n.endswith(".conf")]
            for rel in want:
                self.assertTrue(os.path.isfile(os.path.join(prefix, rel)), rel)
            self.assertEqual(os.stat(os.path.join(prefix, "etc/sqltap/sqltap.conf")).st_mode & 0o077, 0)
            for binary in ("sqltapd", "sqltap-dump"):
                path = os.path.join(prefix, "bin", binary)
                r = harness.run([path, "--help"])
                self.assertIn("Usage: " + binary, r.stdout)
                r = harness.run([path, "--version"])
                self.assertRegex(r.stdout, rf"^{binary} \d+\.\d+\.\d+")
            unit = open(os.path.join(prefix, "lib/systemd/system/sqltapd.service")).read()
            # (with the paths of the configured CMAKE_INSTALL_PREFIX, as packagers set it)
            self.assertRegex(unit, r"\nExecStart=/\S*/bin/sqltapd --config /\S*etc/sqltap/sqltap\.conf\n")
            self.assertNotIn("@", unit)
            for page in ("man8/sqltapd.8", "man1/sqltap-dump.1"):
                r = subprocess.run(["man", "--warnings", "-l", os.path.join(prefix, "share/man", page)],
                                   capture_output=True, text=True, env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr.strip(), "", page)
                self.assertIn("SYNOPSIS", r.stdout)
                self.assertNotIn("@", r.stdout.split("SEE ALSO")[0].replace("@PROJECT", ""))
            # The installed configuration is valid as it stands.
            r = harness.run([os.path.join(prefix, "bin/sqltapd"), "--check-config",
                             os.path.join(prefix, "etc/sqltap/sqltap.conf")], check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    harness.main()
