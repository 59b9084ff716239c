#!/usr/bin/env python3
"""Cancel requests through sqltapd: the right key cancels, a wrong key cancels nothing."""
import socket
import struct
import threading
import time

import psycopg

import harness


def sleep_in_thread(conn, seconds):
    """Runs pg_sleep on conn in a thread; returns the thread and a dict that gets
    'value' ('finished') or 'error'."""
    result = {}

    def sleeper():
        try:
            result["value"] = conn.execute(f"SELECT pg_sleep({seconds}), 'finished'").fetchone()[1]
        except Exception as e:  # noqa: BLE001
            result["error"] = e
    t = threading.Thread(target=sleeper)
    t.start()
    return t, result


class CancelTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer())
        self.proxy = self.fixture(harness.Sqltapd(self.pg.port))

    def test_libpq_cancel_stops_a_sleep(self):
        with psycopg.connect(self.proxy.dsn()) as conn:
            timer = threading.Timer(0.5, conn.cancel)
            timer.start()
            start = time.monotonic()
            with self.assertRaises(psycopg.errors.QueryCanceled) as ctx:
                conn.execute("SELECT pg_sleep(30)")
            elapsed = time.monotonic() - start - 0.5
            self.assertEqual(ctx.exception.sqlstate, "57014")
            print(f"cancelled {elapsed * 1000:.0f} ms after the cancel call", flush=True)
            # Not a timing check (machines here are noisy): a cancel that did not
            # work would take the whole 30 s.
            self.assertLess(elapsed, 10.0)
            conn.rollback()
            self.assertEqual(conn.execute("SELECT 1").fetchone()[0], 1)

    def send_cancel(self, pid, key):
        with socket.create_connection(("127.0.0.1", self.proxy.port)) as s:
            s.sendall(struct.pack("!iiii", 16, 80877102, pid, key))
            s.settimeout(5)
            self.assertEqual(s.recv(1), b"")  # closed without an answer, as PostgreSQL does

    def test_wrong_key_cancels_nothing(self):
        with psycopg.connect(self.proxy.dsn()) as conn:
            pid = conn.info.backend_pid
            t, result = sleep_in_thread(conn, 1.5)
            time.sleep(0.3)
            for key in (0, 1, -1, 123456789):
                self.send_cancel(pid, key)
            self.send_cancel(pid + 1, 0)
            t.join()
            self.assertEqual(result.get("value"), "finished", result)

    def test_one_client_cannot_cancel_another(self):
        with psycopg.connect(self.proxy.dsn()) as a, psycopg.connect(self.proxy.dsn()) as b:
            # b's cancel object carries b's key: it must not reach a's query.
            t, result = sleep_in_thread(a, 1)
            time.sleep(0.3)
            b.cancel()
            t.join()
            self.assertEqual(result.get("value"), "finished", result)


if __name__ == "__main__":
    harness.main()
