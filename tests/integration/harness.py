"""Test fixtures: throwaway PostgreSQL 15 servers and sqltapd instances.

Servers run from a temp dir each, on free ports picked at run time; as root
they run as the `postgres` user (initdb and postgres refuse root). initdb runs
once per build tree and is copied after that. A server's log is printed when a
test fails (see TestCase below).
"""
import fcntl
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
BUILD_DIR = os.environ.get("SQLTAP_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SQLTAPD = os.environ.get("SQLTAPD", os.path.join(BUILD_DIR, "bin", "sqltapd"))
IS_ROOT = os.geteuid() == 0


def as_pg_user(cmd):
    """The command, run as the postgres user when we are root."""
    if IS_ROOT:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + cmd
    return cmd


def chown_pg(path):
    if IS_ROOT:
        pw = pwd.getpwnam("postgres")
        for root, dirs, files in os.walk(path):
            os.chown(root, pw.pw_uid, pw.pw_gid)
            for f in files:
                os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def run(cmd, check=True, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    r = subprocess.run(cmd, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r


def _template():
    """An initdb'd data directory, made once per build tree."""
    base = os.path.join(BUILD_DIR, "pg-template")
    os.makedirs(os.path.dirname(base), exist_ok=True)
    with open(base + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(base, "PG_VERSION")):
            tmp = tempfile.mkdtemp(prefix="sqltap-initdb-")
            os.chmod(tmp, 0o755)
            data = os.path.join(tmp, "data")
            chown_pg(tmp)
            run(as_pg_user([f"{PG_BIN}/initdb", "-D", data, "-U", "postgres", "-A", "trust",
                            "-E", "UTF8", "--locale=C", "--no-sync"]))
            if os.path.exists(base):
                shutil.rmtree(base)
            shutil.copytree(data, base, symlinks=True)
            shutil.rmtree(tmp, ignore_errors=True)
    return base


class PgServer:
    """A PostgreSQL 15 server of its own, in a temp dir."""

    def __init__(self, settings=None, hba=None, ssl_files=None):
        self.dir = tempfile.mkdtemp(prefix="sqltap-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        shutil.copytree(_template(), self.data, symlinks=True)
        self.log = os.path.join(self.dir, "server.log")
        self.port = None
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "wal_level": "logical",
            "max_prepared_transactions": "10",
            "track_commit_timestamp": "on",
            "max_connections": "200",
            "shared_buffers": "64MB",
            "log_min_messages": "warning",
        }
        conf.update(settings or {})
        if ssl_files:
            for name in ("server.crt", "server.key"):
                shutil.copy(ssl_files[name], os.path.join(self.data, name))
            os.chmod(os.path.join(self.data, "server.key"), 0o600)
            conf["ssl"] = "on"
        self.conf = conf
        if hba is not None:
            with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
                f.write(hba)
        chown_pg(self.dir)
        self.start()

    def start(self, same_port=False):
        """Starts the server; same_port: on the port it had (clients configured with it reconnect)."""
        for attempt in range(5):
            if not (same_port and self.port):
                self.port = free_port()
            with open(os.path.join(self.data, "postgresql.auto.conf"), "w") as f:
                for k, v in self.conf.items():
                    f.write(f"{k} = {v}\n")
                f.write(f"port = {self.port}\n")
            chown_pg(self.data)
            r = run(as_pg_user([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "30",
                                "start"]), check=False)
            if r.returncode == 0:
                return
            # Another process may have taken the port: try another one.
        self.dump_log()
        raise RuntimeError("PostgreSQL did not start")

    def stop(self, mode="fast"):
        run(as_pg_user([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"]), check=False)

    def restart(self, mode="fast"):
        run(as_pg_user([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", mode, "-w", "-l", self.log,
                        "restart"]))

    def cleanup(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def dump_log(self):
        try:
            with open(self.log) as f:
                sys.stderr.write(f"---- PostgreSQL log ({self.log}) ----\n{f.read()}\n")
        except OSError:
            pass

    def dsn(self, dbname="postgres", user="postgres", **extra):
        parts = {"host": "127.0.0.1", "port": self.port, "dbname": dbname, "user": user}
        parts.update(extra)
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def psql(self, sql, dbname="postgres", user="postgres", check=True):
        r = run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.dsn(dbname, user),
                 "-c", sql], check=check)
        return r.stdout.strip()


class Sqltapd:
    """A sqltapd process with a conf file of its own."""

    def __init__(self, publisher_port, extra_proxy=None, extra_publisher=None, publisher_host="127.0.0.1",
                 extra_text="", command=None, capture=None):
        # command(conf_path) -> argv; default: sqltapd --config CONF
        self.command = command or (lambda conf: [SQLTAPD, "--config", conf])
        self.dir = tempfile.mkdtemp(prefix="sqltap-proxy-")
        self.conf_path = os.path.join(self.dir, "sqltap.conf")
        self.log_path = os.path.join(self.dir, "sqltapd.log")
        self.proxy_settings = {"io_threads": "2", "shutdown_timeout": "5s"}
        self.proxy_settings.update(extra_proxy or {})
        self.publisher_settings = {"host": publisher_host, "port": str(publisher_port), "sslmode": "disable"}
        self.publisher_settings.update(extra_publisher or {})
        self.extra_text = extra_text
        # capture: None writes "enabled = off" (a pure proxy); a dict holds
        # [capture] settings, log_dir defaulting to a directory of its own.
        self.log_dir = os.path.join(self.dir, "log")
        if capture is None:
            self.capture_settings = {"enabled": "off"}
        else:
            self.capture_settings = {"log_dir": self.log_dir}
            self.capture_settings.update(capture)
            self.publisher_settings.setdefault(
                "admin_conninfo", f"host={publisher_host} port={publisher_port} user=postgres sslmode=disable")
        self.proc = None
        self.start()

    def write_conf(self):
        with open(self.conf_path, "w") as f:
            f.write("[proxy]\n")
            f.write(f"listen = 127.0.0.1:{self.port}\n")
            for k, v in self.proxy_settings.items():
                f.write(f"{k} = {v}\n")
            f.write("[publisher]\n")
            for k, v in self.publisher_settings.items():
                f.write(f"{k} = {v}\n")
            f.write("[capture]\n")
            for k, v in self.capture_settings.items():
                f.write(f"{k} = {v}\n")
            f.write(self.extra_text)
        os.chmod(self.conf_path, 0o600)

    def start(self, same_port=False):
        for attempt in range(5):
            if not (same_port and getattr(self, "port", None)):
                self.port = free_port()
            self.write_conf()
            self.logf = open(self.log_path, "a")
            self.proc = subprocess.Popen(self.command(self.conf_path), stdout=self.logf,
                                         stderr=subprocess.STDOUT)
            if wait_port(self.port, proc=self.proc):
                return
            self.proc.kill()
            self.proc.wait()
        self.dump_log()
        raise RuntimeError("sqltapd did not start")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()

    def cleanup(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    # What AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer and
    # ThreadSanitizer print (to stderr, which goes to the log). A report at
    # shutdown, after a test's last assertion, fails the test too.
    SANITIZER_MARKS = re.compile(r"^(==\d+==ERROR: \w+Sanitizer|WARNING: ThreadSanitizer|SUMMARY: \w+Sanitizer"
                                 r"|.*: runtime error: )", re.M)

    def sanitizer_report(self):
        """The first lines of a sanitizer report in the log, or None."""
        if not os.path.exists(self.log_path):
            return None
        text = self.log()
        m = self.SANITIZER_MARKS.search(text)
        if not m:
            return None
        return "\n".join(text[m.start():].splitlines()[:40])

    def dump_log(self):
        sys.stderr.write(f"---- sqltapd log ({self.log_path}) ----\n{self.log()}\n")

    def dsn(self, dbname="postgres", user="postgres", **extra):
        parts = {"host": "127.0.0.1", "port": self.port, "dbname": dbname, "user": user}
        parts.update(extra)
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


METRIC_LINE = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? -?[0-9.e+-]+$')


def scrape(port, path="/metrics"):
    """(status, Content-Type, body) of a GET on sqltapd's [admin] listen address."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def parse_metrics(text):
    """{'name{labels}': value} of a Prometheus text page, checking its lines."""
    out = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        assert METRIC_LINE.match(line), f"not a metric line: {line!r}"
        key, value = line.rsplit(" ", 1)
        out[key] = float(value)
    return out


class TestCase(unittest.TestCase):
    """Dumps every fixture's log when a test fails, and cleans up afterwards."""

    def setUp(self):
        self._fixtures = []

    def fixture(self, obj):
        self._fixtures.append(obj)
        return obj

    def tearDown(self):
        failed = False
        outcome = getattr(self, "_outcome", None)
        if outcome is not None:
            result = getattr(outcome, "result", None)
            errors = list(getattr(result, "errors", [])) + list(getattr(result, "failures", []))
            failed = any(t is self for t, _ in errors)
        reports = []
        for f in reversed(self._fixtures):
            if isinstance(f, Sqltapd):
                f.stop()
                report = f.sanitizer_report()
                if report:
                    reports.append(report)
                    failed = True
            if failed:
                f.dump_log()
            f.cleanup()
        if reports:
            self.fail("sqltapd's log holds a sanitizer report:\n" + "\n".join(reports))


def main():
    unittest.main(verbosity=2)
