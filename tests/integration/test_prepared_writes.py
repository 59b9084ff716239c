#!/usr/bin/env python3
"""Captured writes that a session sends again in simple Query messages run as
sqltapd's prepared statements (capture/prepared_writes.hpp): psql sees exactly
what it sees without sqltapd (results, tags, errors and their positions, for
numbers of every type the parser gives a literal), the log holds exactly what
committed, and the client dropping prepared statements changes nothing."""
import subprocess

import harness
import logapply

# Each shape is sent several times with other numbers: the first time as
# text, the second with its PREPARE, then EXECUTE alone.
SCRIPT = """
CREATE TABLE t (id int PRIMARY KEY, n int, big bigint, num numeric, a text, s smallint);
INSERT INTO t VALUES (1, 0, 0, 0, 'one', 0);
INSERT INTO t VALUES (2, 0, 0, 0, 'two', 0);
INSERT INTO t VALUES (3, 0, 0, 0, 'three', 0) RETURNING *;
INSERT INTO t VALUES (4, -5, 3000000000, 1.50, 'four', 7) RETURNING id, n * 2, big, num;
UPDATE t SET n = n + -1234 WHERE id = 1;
UPDATE t SET n = n + 7 WHERE id = 2;
UPDATE t SET n = n + 99999 WHERE id = 3 RETURNING n;
UPDATE t SET n = n + 1 WHERE id = 4 RETURNING n;
UPDATE t SET n = n + 2 WHERE id = 4 RETURNING n;
UPDATE t SET big = big + 3000000000 WHERE id = 1;
UPDATE t SET big = big + 3 WHERE id = 2;
UPDATE t SET big = big + 3000000001 WHERE id = 3;
UPDATE t SET big = big + 4 WHERE id = 4;
UPDATE t SET big = big + 5 WHERE id = 4 RETURNING big;
UPDATE t SET num = num * 1.5 + 0.25 WHERE id = 1;
UPDATE t SET num = num * 2 + 1 WHERE id = 2;
UPDATE t SET num = num * 1e2 + 1 WHERE id = 3;
UPDATE t SET num = num * 0.25 + 99999999999999999999 WHERE id = 4 RETURNING num;
UPDATE t SET num = num * 0.5 + 1 WHERE id = 4 RETURNING num;
UPDATE t SET s = 5 WHERE id = 1;
UPDATE t SET s = 6 WHERE id = 2;
UPDATE t SET s = 70000 WHERE id = 3;
UPDATE t SET n = -2147483648 WHERE id = 4;
UPDATE t SET n = -2147483648 WHERE id = 3;
UPDATE t SET n = -2147483648 WHERE id = 2 RETURNING n;
UPDATE t SET n = 'x' || 1 WHERE id = 1;
UPDATE t SET n = 'x' || 2 WHERE id = 2;
UPDATE t SET n = 'x' || 3 WHERE id = 3;
UPDATE t SET nosuch = 1 WHERE id = 1;
UPDATE t SET nosuch = 2 WHERE id = 2;
UPDATE t SET nosuch = 3 WHERE id = 3;
UPDATE t SET n = 1 WHERE nosuch = 12345;
UPDATE t SET n = 2 WHERE nosuch = 1;
UPDATE t SET n = 3 WHERE nosuch = 123456;
INSERT INTO t VALUES (1, 0, 0, 0, 'dup', 0);
INSERT INTO t VALUES (2, 0, 0, 0, 'dup', 0);
INSERT INTO t VALUES (3, 0, 0, 0, 'dup', 0);
UPDATE t SET n = n / 0 WHERE id = 1;
UPDATE t SET n = n / 0 WHERE id = 2;
UPDATE t SET n = n / 0 WHERE id = 3;
UPDATE t SET n = 2147483647 + 1 WHERE id = 1;
UPDATE t SET n = 2147483647 + 1 WHERE id = 2;
UPDATE t SET n = 2147483647 + 1 WHERE id = 3;
BEGIN;
UPDATE t SET n = n + 10 WHERE id = 1;
SAVEPOINT s;
UPDATE t SET n = n + 20 WHERE id = 2;
ROLLBACK TO s;
UPDATE t SET n = n + 30 WHERE id = 3;
UPDATE t SET n = n + 31 WHERE id = 3;
COMMIT;
BEGIN;
UPDATE t SET n = n + 40 WHERE id = 4;
UPDATE t SET n = n + 41 WHERE id = 4;
ROLLBACK;
BEGIN;
UPDATE t SET n = n + 50 WHERE id = 4;
UPDATE t SET nosuch = 4 WHERE id = 4;
UPDATE t SET n = n + 51 WHERE id = 4;
COMMIT;
BEGIN;
UPDATE t SET s = 1 WHERE id = 1;
UPDATE t SET s = 2 WHERE id = 2;
COMMIT;
BEGIN;
UPDATE t SET s = 3 WHERE id = 1;
UPDATE t SET s = 4 WHERE id = 2;
COMMIT;
BEGIN;
UPDATE t SET s = 5 WHERE id = 3;
UPDATE t SET s = 6 WHERE id = 2;
UPDATE t SET n = n + 1 WHERE id = 1;
UPDATE t SET n = n + 2 WHERE id = 2;
UPDATE t SET n = n + 3 WHERE id = 3 RETURNING n;
UPDATE t SET n = n + -4 WHERE id = 1 RETURNING n;
UPDATE t SET n = n + - 5 WHERE id = 2 RETURNING n;
UPDATE t SET n = n + 6 WHERE id = 3 RETURNING n;
UPDATE t SET n = n +  7 WHERE id = 1 RETURNING n;
UPDATE t SET n = n + 8 WHERE id = 1 /* eight */ RETURNING n;
UPDATE t SET big = big + 1 WHERE id = 1;
UPDATE t SET big = big + 2 WHERE id = 1;
UPDATE t SET big = big + 3 WHERE id = 1 RETURNING big;
UPDATE t SET big = big + 3000000000 WHERE id = 1 RETURNING big;
UPDATE t SET big = big + 3000000001 WHERE id = 1 RETURNING big;
UPDATE t SET big = big + 3000000002 WHERE id = 1 RETURNING big;
UPDATE t SET big = big + 4 WHERE id = 1 RETURNING big;
UPDATE t SET big = big + 4.5 WHERE id = 1 RETURNING big;
UPDATE t SET a = 'p' || 1 WHERE id = 2 RETURNING a;
UPDATE t SET a = 'p' || 2 WHERE id = 2 RETURNING a;
UPDATE t SET a = 'p' || 3 WHERE id = 2 RETURNING a;
UPDATE t SET a = 'q' || 4 WHERE id = 2 RETURNING a;
UPDATE t SET a = 'p' || 5 WHERE id = 2 RETURNING a;
INSERT INTO t VALUES (10, 0, 0, 0, 'ten', 0);
INSERT INTO t VALUES (11, 0, 0, 0, 'eleven', 0);
INSERT INTO t VALUES (12, 0, 0, 0, 'twelve', 0);
INSERT INTO t VALUES (13, 0, 0, 0, 'twelve', 0) RETURNING *;
DELETE FROM t WHERE id = 10;
DELETE FROM t WHERE id = 11;
DELETE FROM t WHERE id = 12 RETURNING *;
COMMIT;
BEGIN;
UPDATE t SET n = n / 1 WHERE id = 1;
UPDATE t SET n = n / 2 WHERE id = 2;
UPDATE t SET n = n / 3 WHERE id = 3;
UPDATE t SET n = n / 0 WHERE id = 1;
UPDATE t SET n = n / 1 WHERE id = 1;
ROLLBACK;
BEGIN;
UPDATE t SET n = n / 1 WHERE id = 1;
INSERT INTO t VALUES (13, 0, 0, 0, 'dup', 0);
ROLLBACK;
UPDATE t SET a = a || '!' WHERE id = (SELECT id FROM t ORDER BY 1 LIMIT 1);
UPDATE t SET a = a || '?' WHERE id = (SELECT id FROM t ORDER BY 1 LIMIT 1);
UPDATE t SET a = a || '#' WHERE id = (SELECT id FROM t ORDER BY 1 DESC LIMIT 2);
DEALLOCATE ALL;
UPDATE t SET n = n + 5 WHERE id = 1;
DISCARD ALL;
UPDATE t SET n = n + 6 WHERE id = 1;
UPDATE t SET n = n + 7 WHERE id = 1;
DELETE FROM t WHERE id = 99;
DELETE FROM t WHERE id = 98;
DELETE FROM t WHERE id = 4 RETURNING a, n;
SELECT * FROM t ORDER BY id;
"""

PREPARED = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'sqltap_w%';"


class PreparedWritesTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer())

    def psql(self, dsn, script):
        return subprocess.run(["psql", "-X", "-q", "-A", "-v", "ON_ERROR_STOP=0", "-v", "VERBOSITY=verbose", "-e",
                               "-d", dsn], input=script, capture_output=True, text=True)

    def test_clients_see_the_same_and_the_log_holds_what_committed(self):
        metrics_port = harness.free_port()
        px = self.fixture(harness.Sqltapd(self.pg.port, capture={},
                                          extra_text=f"[admin]\nlisten = 127.0.0.1:{metrics_port}\n"))
        self.pg.psql("CREATE DATABASE direct")
        self.pg.psql("CREATE DATABASE proxied")
        direct = self.psql(self.pg.dsn("direct"), SCRIPT)
        proxied = self.psql(px.dsn("proxied"), SCRIPT)
        self.assertEqual(direct.stdout, proxied.stdout)
        self.assertEqual(direct.stderr, proxied.stderr)
        # Writes in blocks whose shape was prepared took the shortcut.
        metrics = harness.parse_metrics(harness.scrape(metrics_port)[2])
        self.assertGreater(metrics["sqltap_prepared_write_shortcuts_total"], 0)
        # (Errors met by the PREPARE point into the client's statement.)
        self.assertIn("LINE 1: UPDATE t SET n = 3 WHERE nosuch = 123456;\n" + " " * 33 + "^", proxied.stderr)

        logapply.settled(px.log_dir)
        entries = logapply.entries(px.log_dir)
        copy = self.pg.dsn("replica")
        self.pg.psql("CREATE DATABASE replica")
        self.pg.psql("CREATE TABLE t (id int PRIMARY KEY, n int, big bigint, num numeric, a text, s smallint)",
                     dbname="replica")
        logapply.apply(copy, [e for e in entries if all(c["op"] != "ddl" for c in e["changes"])])
        self.assertEqual(logapply.rows(self.pg.dsn("proxied"), "t"), logapply.rows(copy, "t"))
        # Before images are the rows as they were.
        updates = [c for e in entries for c in e["changes"] if c["op"] == "update" and c["key"] == {"id": "2"}]
        for before, after in zip(updates, updates[1:]):
            self.assertEqual(after["old"], before["new"])

    def test_statements_are_prepared_once_per_shape(self):
        ports = {"on": harness.free_port(), "off": harness.free_port()}
        admin = {k: f"[admin]\nlisten = 127.0.0.1:{p}\n" for k, p in ports.items()}
        px = self.fixture(harness.Sqltapd(self.pg.port, capture={}, extra_text=admin["on"]))
        off = self.fixture(harness.Sqltapd(self.pg.port, capture={"prepare_writes": "off"}, extra_text=admin["off"]))
        self.pg.psql("CREATE TABLE u (id int PRIMARY KEY, n int)")
        self.pg.psql("INSERT INTO u SELECT g, 0 FROM generate_series(1, 5) g")
        shapes = "".join(f"UPDATE u SET n = n + {i} WHERE id = {i};\nDELETE FROM u WHERE id = {i + 10};\n"
                         for i in range(1, 6))
        # In a block: the first write asks for the xid (a form of its own),
        # the second is seen once, the third prepared, the others take the
        # shortcut.
        block = "BEGIN;\n" + "".join(f"UPDATE u SET n = n - {i} WHERE id = {i % 5 + 1};\n" for i in range(1, 7)) + "COMMIT;\n"
        counts, stats = {}, {}
        for name, target in (("on", px), ("off", off)):
            r = self.psql(target.dsn(), shapes + block + "SELECT 'x' || 1 AS read;\n" + PREPARED)
            self.assertEqual(r.stderr, "")
            counts[name] = r.stdout.strip().splitlines()[-2]
            m = harness.parse_metrics(harness.scrape(ports[name])[2])
            stats[name] = (m["sqltap_prepared_writes_total"], m["sqltap_prepared_write_shortcuts_total"])
        self.assertEqual(counts, {"on": "3", "off": "0"})
        # Autocommit: UPDATE 2 (PREPARE) to 5, DELETE 2 to 5; the block: 3 to 6, of which 4 to 6 by shortcut.
        self.assertEqual(stats, {"on": (12, 3), "off": (0, 0)})
        self.assertEqual(self.pg.psql("SELECT sum(n) FROM u"), str(2 * (15 - 21)))

    def test_ddl_and_search_path_prepare_anew(self):
        # A column type changed through sqltapd, or a search_path that names
        # another table of the same name: the next statement is prepared
        # again rather than meeting "cached plan must not change result type".
        px = self.fixture(harness.Sqltapd(self.pg.port, capture={}))
        r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", px.dsn()], input="""
CREATE TABLE t (id int PRIMARY KEY, n int);
CREATE SCHEMA other;
CREATE TABLE other.t (id int PRIMARY KEY, n numeric);
INSERT INTO public.t VALUES (1, 0);
INSERT INTO other.t VALUES (1, 0.5);
UPDATE t SET n = n + 1 WHERE id = 1 RETURNING n;
UPDATE t SET n = n + 2 WHERE id = 1 RETURNING n;
UPDATE t SET n = n + 3 WHERE id = 1 RETURNING n;
ALTER TABLE t ALTER COLUMN n TYPE bigint;
UPDATE t SET n = n + 4 WHERE id = 1 RETURNING n;
UPDATE t SET n = n + 5 WHERE id = 1 RETURNING n;
SET search_path = other, public;
UPDATE t SET n = n + 6 WHERE id = 1 RETURNING n;
UPDATE t SET n = n + 7 WHERE id = 1 RETURNING n;
RESET search_path;
UPDATE t SET n = n + 8 WHERE id = 1 RETURNING n;
""" + PREPARED, capture_output=True, text=True)
        self.assertEqual(r.stderr, "")
        out = r.stdout.split()
        self.assertEqual(out[:-1], ["1", "3", "6", "10", "15", "6.5", "13.5", "23"])
        # public.t prepared before and after the ALTER, other.t once (a
        # catalog reread in between would make one more).
        self.assertGreaterEqual(int(out[-1]), 3)
        logapply.settled(px.log_dir)
        news = [(c["table"] if c["schema"] == "public" else "other." + c["table"], c["new"]["n"])
                for e in logapply.entries(px.log_dir) for c in e["changes"] if c["op"] == "update"]
        self.assertEqual(news, [("t", "1"), ("t", "3"), ("t", "6"), ("t", "10"), ("t", "15"),
                                ("other.t", "6.5"), ("other.t", "13.5"), ("t", "23")])

    def test_shortcut_follows_other_sessions_ddl_and_the_search_path(self):
        # A session's writes known by their shape (the shortcut) are looked
        # up again after DDL through sqltapd by another session and after the
        # session changes its search_path inside a block.
        metrics_port = harness.free_port()
        px = self.fixture(harness.Sqltapd(self.pg.port, capture={},
                                          extra_text=f"[admin]\nlisten = 127.0.0.1:{metrics_port}\n"))
        self.pg.psql("CREATE TABLE t (id int PRIMARY KEY, n int); CREATE SCHEMA other; "
                     "CREATE TABLE other.t (id int PRIMARY KEY, n numeric); "
                     "INSERT INTO t VALUES (1, 0); INSERT INTO other.t VALUES (1, 0.5)")
        session = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", px.dsn()],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        updates = "".join(f"UPDATE t SET n = n + {i} WHERE id = 1 RETURNING n;\n" for i in range(1, 6))

        def run(script):
            session.stdin.write(script + "\\echo done\n")
            session.stdin.flush()
            lines = []
            while (line := session.stdout.readline().strip()) != "done":
                self.assertNotEqual(line, "", session.stderr.read() if session.poll() is not None else "")
                lines.append(line)
            return lines

        try:
            self.assertEqual(run("BEGIN;\n" + updates + "COMMIT;\n"), ["1", "3", "6", "10", "15"])
            shortcuts = harness.parse_metrics(harness.scrape(metrics_port)[2])["sqltap_prepared_write_shortcuts_total"]
            self.assertEqual(shortcuts, 2)  # (the first asks for the xid, the second is seen once, then prepared)
            r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", px.dsn(), "-c",
                                "ALTER TABLE t ADD COLUMN z int DEFAULT 7"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(run("BEGIN;\n" + updates + "SET search_path = other, public;\n" + updates + "COMMIT;\n"),
                             ["16", "18", "21", "25", "30", "1.5", "3.5", "6.5", "10.5", "15.5"])
        finally:
            session.stdin.close()
            session.wait(timeout=30)
            errors = session.stderr.read()
            session.stdout.close()
            session.stderr.close()
        self.assertEqual(session.returncode, 0, errors)
        logapply.settled(px.log_dir)
        news = [(c["schema"], c["new"]) for e in logapply.entries(px.log_dir) for c in e["changes"]
                if c["op"] == "update"]
        self.assertEqual(news[5:], [("public", {"id": "1", "n": n, "z": "7"}) for n in ("16", "18", "21", "25", "30")] +
                         [("other", {"id": "1", "n": n}) for n in ("1.5", "3.5", "6.5", "10.5", "15.5")])


if __name__ == "__main__":
    harness.main()
