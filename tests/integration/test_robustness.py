#!/usr/bin/env python3
"""Bad input ends only the session that sent it; buffers stay bounded."""
import os
import random
import re
import socket
import struct
import subprocess
import threading
import time

import harness
from pgwire import RawClient, error_fields, message, query, startup_packet


def bad_stream(i, rng, port):
    """One malformed or abusive connection; kind chosen by i."""
    kind = i % 12
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
    except OSError:
        return
    try:
        if kind == 0:
            s.sendall(rng.randbytes(rng.randint(1, 300)))
        elif kind == 1:
            s.sendall(struct.pack("!ii", 0x7FFFFFFF, 196608))
        elif kind == 2:
            s.sendall(struct.pack("!ii", 4, 196608))
        elif kind == 3:
            s.sendall(startup_packet()[:rng.randint(1, 20)])
        elif kind == 4:
            s.sendall(struct.pack("!ii", 8, 80877103) + rng.randbytes(50))
        elif kind == 5:
            s.sendall(startup_packet(version=2 << 16))
        elif kind == 6:
            s.sendall(startup_packet(user=""))
        elif kind == 7:
            pass  # connect and close
        elif kind in (8, 9, 10, 11):
            s.close()
            c = RawClient(port)
            c.login()
            bad = {
                8: b"\xff" + struct.pack("!i", 8) + b"abcd",
                9: b"Q" + struct.pack("!i", 2),
                10: b"Q" + struct.pack("!i", 0x7FFFFFF0) + b"SELECT",
                11: message(b"Q", b"SELECT 1"),  # no terminating NUL
            }[kind]
            c.send(bad + rng.randbytes(rng.randint(0, 40)))
            c.read_until_closed()
            c.close()
            return
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    finally:
        s.close()


class RobustnessTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer())
        # A short login timeout also ends the truncated startups of the stream test.
        self.proxy = self.fixture(harness.Sqltapd(self.pg.port, extra_proxy={"login_timeout": "2s"}))

    def test_malformed_message_gets_an_error_and_a_close(self):
        for bad, expect in ((b"\xff" + struct.pack("!i", 4), "invalid frontend message type 255"),
                            (b"Q" + struct.pack("!i", 3), "message length below 4"),
                            (message(b"Q", b"SELECT 1"), "invalid Query message")):
            c = RawClient(self.proxy.port)
            c.login()
            c.send(bad)
            msgs = c.read_until_closed()
            c.close()
            errors = [error_fields(b) for t, b in msgs if t == b"E"]
            self.assertEqual(len(errors), 1, msgs)
            self.assertEqual(errors[0]["C"], "08P01")
            self.assertIn(expect, errors[0]["M"])

    def test_bad_startup_gets_an_error(self):
        c = RawClient(self.proxy.port)
        c.send(startup_packet(version=2 << 16))
        msgs = c.read_until_closed()
        c.close()
        self.assertEqual(msgs[0][0], b"E")
        self.assertIn("unsupported frontend protocol 2.0", error_fields(msgs[0][1])["M"])
        c = RawClient(self.proxy.port)
        c.send(struct.pack("!ii", 20000, 196608))
        msgs = c.read_until_closed()
        c.close()
        self.assertEqual(error_fields(msgs[0][1])["C"], "08P01")

    def test_thousand_bad_streams_during_pgbench(self):
        harness.run(["pgbench", "-i", "-s", "1", "-q", "-d", self.proxy.dsn()])
        # pgbench runs back to back for as long as the bad streams take (no
        # guess at how long that is); every run must end without a failure.
        streams_done = threading.Event()
        runs = []

        def bench_loop():
            while True:
                r = subprocess.run(["pgbench", "-c", "4", "-j", "2", "-T", "5", "-d", self.proxy.dsn()],
                                   capture_output=True, text=True)
                runs.append(r)
                if streams_done.is_set():
                    return
        bench = threading.Thread(target=bench_loop)
        bench.start()
        time.sleep(1)
        rng = random.Random(20261122)
        seeds = [rng.randrange(1 << 30) for _ in range(1000)]
        counter = iter(range(1000))
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                bad_stream(i, random.Random(seeds[i]), self.proxy.port)
        threads = [threading.Thread(target=worker) for _ in range(16)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"1000 bad streams took {time.monotonic() - started:.1f} s during {len(runs) + 1} pgbench runs",
              flush=True)
        streams_done.set()
        bench.join()
        for r in runs:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(re.search(r"number of failed transactions: (\d+)", r.stdout).group(1), "0", r.stdout)
        self.assertTrue(self.proxy.alive())
        self.assertEqual(self.pg.psql("SELECT 1"), "1")
        r = harness.run(["psql", "-X", "-A", "-t", "-d", self.proxy.dsn(), "-c", "SELECT 'still serving'"])
        self.assertEqual(r.stdout.strip(), "still serving")
        # Every bad session is gone: no leaked sockets.
        deadline = time.time() + 10
        while time.time() < deadline and self.proxy.fd_count() > 20:
            time.sleep(0.2)
        self.assertLess(self.proxy.fd_count(), 20)

    def test_ten_thousand_sessions_leak_nothing(self):
        def churn(n):
            counter = iter(range(n))
            lock = threading.Lock()

            def worker():
                while True:
                    with lock:
                        if next(counter, None) is None:
                            return
                    c = RawClient(self.proxy.port)
                    c.login()
                    c.send(message(b"X"))  # Terminate
                    c.read_until_closed()
                    c.close()
            threads = [threading.Thread(target=worker) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        def settled_fds():
            deadline = time.time() + 10
            while time.time() < deadline and self.proxy.fd_count() > baseline_fds:
                time.sleep(0.1)
            return self.proxy.fd_count()
        churn(1000)  # warm up: allocator arenas, and each I/O thread's epoll/eventfd/timerfd (made on first use)
        time.sleep(0.5)
        baseline_fds = self.proxy.fd_count()
        warm = self.proxy.rss_kb()
        churn(9000)
        self.assertEqual(settled_fds(), baseline_fds)
        grown = self.proxy.rss_kb() - warm
        print(f"RSS after 1,000 sessions {warm} kB; 9,000 more grew it by {grown} kB", flush=True)
        if not os.environ.get("SQLTAP_SANITIZE"):  # ASan's quarantine holds freed memory by design
            self.assertLess(grown, 8 * 1024)
        self.assertEqual(self.pg.psql("SELECT 1"), "1")

    def test_slow_reader_does_not_grow_memory(self):
        c = RawClient(self.proxy.port)
        c.login()
        base = self.proxy.rss_kb()
        # About 2.4 GB of rows that the client never reads.
        c.send(query("SELECT repeat('x', 8000) FROM generate_series(1, 300000)"))
        time.sleep(3)
        grown = self.proxy.rss_kb() - base
        self.assertLess(grown, 32 * 1024, f"sqltapd grew by {grown} kB while the client did not read")
        c.close()
        self.assertEqual(self.pg.psql("SELECT 1"), "1")

    def test_huge_message_streams_through(self):
        base = self.proxy.rss_kb()
        peak = [0]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                peak[0] = max(peak[0], self.proxy.rss_kb())
                time.sleep(0.01)
        w = threading.Thread(target=watch)
        w.start()
        r = harness.run(["psql", "-X", "-A", "-t", "-d", self.proxy.dsn(),
                         "-c", "SELECT length(x), md5(x) FROM (SELECT repeat('abc', 40000000) AS x) s",
                         "-c", "SELECT repeat('q', 100000000)"], check=True)
        stop.set()
        w.join()
        self.assertTrue(r.stdout.startswith("120000000|"))
        self.assertEqual(len(r.stdout.splitlines()[1]), 100000000)
        self.assertLess(peak[0] - base, 32 * 1024, "a 100 MB row was buffered whole")


if __name__ == "__main__":
    harness.main()
