#!/usr/bin/env python3
"""Capture through sqltapd against a real PostgreSQL 15: what the log holds is
what the publisher committed, in commit order; clients see what they would
see without sqltapd."""
import json
import os
import struct
import subprocess
import tempfile
import threading
import time

import psycopg

import harness
import logapply
from pgwire import RawClient, message, query


class CaptureTest(harness.TestCase):
    # A captured table and a function that writes it where no RETURNING sees.
    T_AND_WRITER = """
CREATE TABLE t (id serial PRIMARY KEY, a text);
CREATE FUNCTION w(x text) RETURNS int LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO t (a) VALUES (x); RETURN 1; END$$;
"""

    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer())

    def proxy(self, **capture):
        return self.fixture(harness.Sqltapd(self.pg.port, capture=capture))

    def psql(self, target, script, dbname="postgres", check=True, extra=()):
        dsn = target.dsn(dbname)
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0", *extra, "-d", dsn],
                           input=script, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"psql failed: {r.stderr}")
        return r

    def copy_db(self, name):
        self.pg.psql(f"CREATE DATABASE {name}")
        return self.pg.dsn(name)

    def assert_same_tables(self, tables, copy_dsn):
        for t in tables:
            self.assertEqual(logapply.rows(self.pg.dsn(), t), logapply.rows(copy_dsn, t), t)

    def test_statement_kinds_are_captured_as_stored(self):
        px = self.proxy()
        self.psql(px, """
CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int DEFAULT 1,
                    created timestamptz DEFAULT now(), note text);
CREATE FUNCTION items_note() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN NEW.note := upper(NEW.name) || '!'; RETURN NEW; END$$;
CREATE TRIGGER items_note BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION items_note();
CREATE TABLE kv (k text PRIMARY KEY, v int);
""")
        out = self.psql(px, """
INSERT INTO items (name) VALUES ('apple'), ('pear');
INSERT INTO items (name, qty) VALUES ('plum', 5) RETURNING id, name, qty;
UPDATE items SET qty = qty + 10 WHERE name = 'apple';
DELETE FROM items WHERE name = 'pear';
INSERT INTO kv VALUES ('a', 1), ('b', 2);
INSERT INTO kv VALUES ('a', 10) ON CONFLICT (k) DO UPDATE SET v = kv.v + excluded.v;
INSERT INTO kv VALUES ('b', 99) ON CONFLICT DO NOTHING;
INSERT INTO kv VALUES ('c', 3) \\; UPDATE kv SET v = 30 WHERE k = 'c' \\; SELECT 1;
BEGIN \\; INSERT INTO items (name) VALUES ('multi') \\; COMMIT \\; INSERT INTO items (name) VALUES ('after-commit');
BEGIN \\; INSERT INTO items (name) VALUES ('multi-failed') \\; SELECT 1/0 \\; COMMIT;
ROLLBACK;
BEGIN;
INSERT INTO items (name) VALUES ('kept');
SAVEPOINT s1;
INSERT INTO items (name) VALUES ('undone-by-savepoint');
ROLLBACK TO SAVEPOINT s1;
RELEASE s1;
UPDATE kv SET v = v + 1 WHERE k = 'a';
COMMIT;
BEGIN;
INSERT INTO items (name) VALUES ('rolled-back');
ROLLBACK;
BEGIN;
INSERT INTO items (name) VALUES ('failed-txn');
SELECT 1/0;
COMMIT;
INSERT INTO items (id, name) VALUES (1, 'duplicate');
INSERT INTO items (name) VALUES ('x') \\; SELECT 1/0;
TRUNCATE kv;
INSERT INTO kv VALUES ('after-truncate', 1);
ALTER TABLE kv ADD COLUMN extra text DEFAULT 'd';
UPDATE kv SET extra = 'e' WHERE k = 'after-truncate';
UPDATE items SET id = id + 1000 WHERE name = 'plum';
UPDATE kv SET k = k || '-renamed' RETURNING k, v;
""")
        self.assertIn("after-truncate-renamed|1", out.stdout)
        self.assertIn("3|plum|5", out.stdout)  # the client's own RETURNING, unchanged
        entries = logapply.entries(px.log_dir)
        text = str(entries)
        for gone in ("undone-by-savepoint", "rolled-back", "failed-txn", "duplicate", "'x'", "multi-failed"):
            self.assertNotIn(gone, text)
        changes = [c for e in entries for c in e["changes"]]
        inserts = [c for c in changes if c["op"] == "insert" and c["table"] == "items"]
        self.assertEqual([c["new"]["name"] for c in inserts], ["apple", "pear", "plum", "multi", "after-commit", "kept"])
        # Stored values: serial ids, defaults, now(), the BEFORE trigger's note.
        stored = {r.split("|")[1]: r.split("|") for r in
                  self.pg.psql("SELECT id, name, qty, created, note FROM items").splitlines()}
        for c in inserts:
            if c["new"]["name"] in stored and c["new"]["name"] != "plum":  # (plum's id changed later)
                row = stored[c["new"]["name"]]
                self.assertEqual(c["new"]["id"], row[0])
                self.assertEqual(c["new"]["note"], c["new"]["name"].upper() + "!")
        rekeyed = [c for c in changes if c["op"] == "update" and c["table"] == "items" and c["new"]["id"] == "1003"]
        self.assertEqual([c["key"] for c in rekeyed], [{"id": "3"}])  # the old key
        renamed = [c for c in changes if c["op"] == "update" and c.get("table") == "kv" and "-renamed" in c["new"]["k"]]
        self.assertEqual([c["key"] for c in renamed], [{"k": "after-truncate"}])
        update = next(c for c in changes if c["op"] == "update" and c["table"] == "items")
        self.assertEqual(update["key"], {"id": "1"})
        self.assertEqual(update["new"]["qty"], "11")
        delete = next(c for c in changes if c["op"] == "delete")
        self.assertEqual(delete["key"], {"id": "2"})
        upsert = [c for c in changes if c.get("table") == "kv" and c["op"] == "update" and c["key"] == {"k": "a"}]
        self.assertEqual(upsert[0]["new"]["v"], "11")
        self.assertTrue(any(c["op"] == "truncate" and c.get("table") == "kv" for c in changes))
        ddl = [c for c in changes if c["op"] == "ddl"]
        self.assertTrue(any("ADD COLUMN extra" in c["sql"] for c in ddl))
        self.assertTrue(all(c["search_path"] == '"$user", public' for c in ddl))
        for e in entries:
            self.assertTrue(e["xid"].isdigit() and e["xid"] != "0", e)
            self.assertEqual(e["database"], "postgres")
        self.assertEqual([e["lsn"] for e in entries], list(range(1, len(entries) + 1)))

        # The log, applied in order to an empty database, gives the same tables.
        copy = self.copy_db("replica")
        logapply.apply(copy, entries)
        self.assert_same_tables(["items", "kv"], copy)

    def test_clients_see_the_same_results_and_errors(self):
        px = self.proxy()
        script = """
CREATE TABLE t (id int PRIMARY KEY, a text, b bool, c numeric(6,2));
INSERT INTO t VALUES (1, 'one', true, 1.5), (2, NULL, false, NULL) RETURNING *;
INSERT INTO t VALUES (3, 'three', NULL, 3) RETURNING c, a, id * 2 AS twice;
UPDATE t SET a = a || '!' WHERE id < 3 RETURNING id, a;
DELETE FROM t WHERE id = 2 RETURNING b;
UPDATE t SET id = id * 10 WHERE id = 3 RETURNING *;
UPDATE t SET id = 1 WHERE id = 30;
INSERT INTO t VALUES (1, 'dup', true, 0);
UPDATE t SET nosuch = 1 WHERE id = 1;
INSERT INTO t (id, a) VALUES (4, 'four'); SELECT nosuch FROM t;
BEGIN; INSERT INTO t VALUES (5, 'five') RETURNING id; SELECT bad FROM t; COMMIT;
SELECT * FROM t ORDER BY id;
"""
        self.pg.psql("CREATE DATABASE direct")
        self.pg.psql("CREATE DATABASE proxied")
        args = ("-v", "VERBOSITY=verbose", "-e")
        direct = self.psql(self.pg, script, dbname="direct", extra=args)
        proxied = self.psql(px, script, dbname="proxied", extra=args)
        self.assertEqual(direct.stdout, proxied.stdout)
        self.assertEqual(direct.stderr, proxied.stderr)
        self.assertIn("LINE 1: UPDATE t SET nosuch", proxied.stderr)

    def test_later_writes_of_a_transaction_carry_its_xid(self):
        # Once a write of the transaction brought the xid, the next statements
        # (one per message, psql's way) do not ask the publisher for it again.
        px = self.proxy()
        self.pg.psql("CREATE TABLE x (id int PRIMARY KEY, v text)")
        out = self.psql(px, """
BEGIN;
INSERT INTO x VALUES (1, 'a');
INSERT INTO x VALUES (2, 'b');
UPDATE x SET v = 'c' WHERE id = 1;
SAVEPOINT s;
DELETE FROM x WHERE id = 2;
ROLLBACK TO s;
SELECT 'xid=' || pg_current_xact_id();
DELETE FROM x WHERE id = 2;
COMMIT;
INSERT INTO x VALUES (3, 'autocommit');
BEGIN;
UPDATE x SET v = 'd' WHERE id = 3;
INSERT INTO x VALUES (4, 'e');
COMMIT;
""")
        xid = next(line[4:] for line in out.stdout.splitlines() if line.startswith("xid="))
        logapply.settled(px.log_dir)
        entries = logapply.entries(px.log_dir)
        self.assertEqual(len(entries), 3, entries)
        self.assertEqual(entries[0]["xid"], xid)
        self.assertEqual([(c["op"], c.get("key"), c.get("new")) for c in entries[0]["changes"]], [
            ("insert", None, {"id": "1", "v": "a"}),
            ("insert", None, {"id": "2", "v": "b"}),
            ("update", {"id": "1"}, {"id": "1", "v": "c"}),
            ("delete", {"id": "2"}, None)])
        self.assertEqual(len({e["xid"] for e in entries}), 3)
        for e in entries:
            self.assertTrue(e["xid"].isdigit() and e["xid"] != "0", e)
        self.assertEqual([len(e["changes"]) for e in entries], [4, 1, 2])
        copy = self.copy_db("replica")
        self.pg.psql("CREATE TABLE x (id int PRIMARY KEY, v text)", dbname="replica")
        logapply.apply(copy, entries)
        self.assertEqual(logapply.rows(self.pg.dsn(), "x"), logapply.rows(copy, "x"))

    def test_function_writes_are_rejected_by_default(self):
        px = self.proxy()
        self.psql(px, self.T_AND_WRITER + """
CREATE PROCEDURE p() LANGUAGE sql AS $$INSERT INTO t (a) VALUES ('proc')$$;
""")
        for stmt in ("SELECT w('auto')", "BEGIN; INSERT INTO t (a) VALUES ('ok'); SELECT w('in-txn'); COMMIT",
                     "CALL p()", "DO $$BEGIN INSERT INTO t (a) VALUES ('do'); END$$"):
            r = self.psql(px, stmt + ";\n")
            self.assertIn("sqltap rolled back the transaction: captured table public.t", r.stderr, stmt)
        self.assertEqual(self.pg.psql("SELECT count(*) FROM t"), "0")
        self.assertFalse(any(c["op"] == "insert" for e in logapply.entries(px.log_dir) for c in e["changes"]))
        # Other tables are not held back by it.
        r = self.psql(px, "INSERT INTO t (a) VALUES ('plain');\n")
        self.assertEqual(r.stderr, "")
        self.assertEqual(self.pg.psql("SELECT a FROM t"), "plain")

    SNAPSHOT_RUNS = ("SELECT coalesce(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements "
                     "WHERE name ~ '^sqltap_(stats|check|verify)_';\n")

    def test_write_check_auto_takes_counts_only_where_something_could_hide(self):
        px = self.proxy()
        always = self.proxy(write_check="always")
        self.psql(px, """
CREATE TABLE t (id serial PRIMARY KEY, a text, at timestamptz DEFAULT now());
CREATE TABLE audit (id serial PRIMARY KEY, what text);
CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO audit (what) VALUES (TG_TABLE_NAME); RETURN NEW; END$$;
CREATE TABLE trig (id int PRIMARY KEY);
CREATE TRIGGER trig_audit AFTER INSERT ON trig FOR EACH ROW EXECUTE FUNCTION log_it();
CREATE FUNCTION next_id() RETURNS int LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO audit (what) VALUES ('default'); RETURN 7; END$$;
CREATE TABLE dflt (id int PRIMARY KEY DEFAULT next_id(), a text);
CREATE FUNCTION w(x text) RETURNS int LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO t (a) VALUES (x); RETURN 1; END$$;
CREATE FUNCTION harmless() RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN 1; END$$;
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent);
CREATE TABLE cascading (id int PRIMARY KEY, p int REFERENCES parent ON DELETE CASCADE);
""")
        # A foreign key's checks write nothing: no counts either.
        self.psql(px, "INSERT INTO parent VALUES (1), (2);\n")  # (counted: it has a cascade)
        r = self.psql(px, "BEGIN;\nINSERT INTO child VALUES (1, 1);\n"
                          "UPDATE child SET p = 2;\nCOMMIT;\n" + self.SNAPSHOT_RUNS)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout.split()[-1], "0")
        # Its cascade does: the parent's DELETE is counted and refused.
        self.psql(px, "INSERT INTO cascading VALUES (1, 1);\n")
        r = self.psql(px, "BEGIN;\nDELETE FROM parent WHERE id = 1;\nCOMMIT;\n")
        self.assertIn("captured table public.cascading (1 deletes made, 0 captured)", r.stderr)
        # Plain writes and reads, savepoints included: every row comes back
        # by RETURNING, and the counts are never taken.
        proved = """BEGIN;
INSERT INTO {t} (a) VALUES ('one');
SAVEPOINT s;
UPDATE {t} SET a = upper(a) WHERE a = 'one';
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM {t} WHERE a = 'one';
INSERT INTO {t} (a) VALUES ('two') \\; UPDATE {t} SET a = a || '!' WHERE a = 'two';
COMMIT;
DELETE FROM {t} WHERE a = 'two!';
"""
        r = self.psql(px, proved.format(t="t") + self.SNAPSHOT_RUNS)
        self.assertEqual(r.stderr, "")
        self.assertEqual(r.stdout.split()[-1], "0")  # no snapshot statement ran
        self.psql(always, "CREATE TABLE t2 (LIKE t INCLUDING ALL);\n")
        r = self.psql(always, proved.format(t="t2") + self.SNAPSHOT_RUNS)
        self.assertEqual(r.stderr, "")
        self.assertNotEqual(r.stdout.split()[-1], "0")  # write_check = always: they did
        self.assertEqual(self.pg.psql("SELECT string_agg(a, ',') FROM t2"), "one")
        # Something could hide: a trigger, a default calling a function, a
        # function called in the transaction (after plain writes, whose rows
        # are then not counted twice).
        for script in ("INSERT INTO trig VALUES (1);", "BEGIN; INSERT INTO trig VALUES (2); COMMIT;",
                       "INSERT INTO dflt (a) VALUES ('x');",
                       "BEGIN; INSERT INTO t (a) VALUES ('three'); SELECT w('hidden'); COMMIT;"):
            r = self.psql(px, script + "\n")
            self.assertIn("sqltap rolled back the transaction: captured table public.", r.stderr, script)
            self.assertIn("(1 inserts made, 0 captured)", r.stderr, script)
        r = self.psql(px, "BEGIN;\nINSERT INTO t (a) VALUES ('four');\nSELECT harmless();\n"
                          "SAVEPOINT s;\nSELECT w('undone');\nROLLBACK TO SAVEPOINT s;\nCOMMIT;\n" + self.SNAPSHOT_RUNS)
        self.assertEqual(r.stderr, "")
        self.assertNotEqual(r.stdout.split()[-1], "0")  # counted from harmless() on
        # The first counts of a connection, with a savepoint's in the same
        # message: the base goes first and prepares sqltapd's statements.
        r = self.psql(px, "BEGIN;\nINSERT INTO t (a) VALUES ('five');\nSAVEPOINT a \\; SELECT harmless();\n"
                          "ROLLBACK TO SAVEPOINT a;\nCOMMIT;\n")
        self.assertEqual(r.stderr, "")
        self.psql(px, "DELETE FROM t WHERE a = 'five';\n")
        self.assertEqual(self.pg.psql("SELECT count(*) FROM audit"), "0")
        self.assertEqual(self.pg.psql("SELECT string_agg(a, ',' ORDER BY id) FROM t"), "one,four")
        # The extended protocol: the same in psycopg's transactions.
        with psycopg.connect(px.dsn()) as conn:
            conn.execute("INSERT INTO t (a) VALUES (%s)", ["five"])
            conn.execute("UPDATE t SET a = %s WHERE a = %s", ["FIVE", "five"])
            conn.commit()
            self.assertEqual(conn.execute(self.SNAPSHOT_RUNS).fetchone()[0], 0)
            conn.commit()
            conn.execute("INSERT INTO t (a) VALUES (%s)", ["six"])
            conn.execute("SELECT w(%s)", ["hidden"])
            with self.assertRaises(psycopg.errors.FeatureNotSupported) as e:
                conn.commit()
            self.assertIn("public.t (1 inserts made, 0 captured)", str(e.exception))
            conn.rollback()
            conn.execute("INSERT INTO trig VALUES (%s)", [3])
            with self.assertRaises(psycopg.errors.FeatureNotSupported) as e:
                conn.commit()
            self.assertIn("public.audit (1 inserts made, 0 captured)", str(e.exception))
        with psycopg.connect(px.dsn(), autocommit=True) as conn:
            with self.assertRaises(psycopg.errors.FeatureNotSupported):
                conn.execute("INSERT INTO dflt (a) VALUES (%s)", ["y"])
            conn.execute("INSERT INTO t (a) VALUES (%s)", ["seven"])
        self.assertEqual(self.pg.psql("SELECT count(*) FROM audit"), "0")
        self.assertEqual(self.pg.psql("SELECT count(*) FROM trig"), "0")
        # What committed is in the log, and only that: applied to an empty
        # copy, the tables match.
        copy = self.copy_db("replica")
        self.psql(px, "SELECT 1;\n")  # (nothing pending)
        harness.run(["psql", "-X", "-q", "-d", copy, "-c",
                     "CREATE TABLE t (id serial PRIMARY KEY, a text, at timestamptz);"
                     "CREATE TABLE audit (id serial PRIMARY KEY, what text); CREATE TABLE trig (id int PRIMARY KEY);"
                     "CREATE TABLE dflt (id int PRIMARY KEY, a text); CREATE TABLE parent (id int PRIMARY KEY);"
                     "CREATE TABLE child (id int PRIMARY KEY, p int); CREATE TABLE cascading (id int PRIMARY KEY, p int)"])
        entries = [e for e in logapply.entries(px.log_dir) if all(c["op"] != "ddl" for c in e["changes"])]
        logapply.apply(copy, entries)
        self.assert_same_tables(["t", "audit", "trig", "dflt", "parent", "child", "cascading"], copy)

    def test_tables_changed_without_sqltapd_are_read_again(self):
        # DDL that bypasses sqltapd: within about a second sqltapd sees the
        # table's definition move and reads it again, so a trigger added
        # behind its back is counted and a column added is captured.
        px = self.proxy()
        self.psql(px, """
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE TABLE audit (id serial PRIMARY KEY, what text);
INSERT INTO t VALUES (1, 'before');
""")

        def wait_for_reread(count):
            deadline = time.time() + 20
            while time.time() < deadline:
                with open(px.log_path) as f:
                    if f.read().count("changed without DDL through sqltapd") >= count:
                        return
                time.sleep(0.1)
            self.fail("sqltapd did not notice the change")

        self.pg.psql("""
CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO audit (what) VALUES (TG_TABLE_NAME); RETURN NEW; END$$;
CREATE TRIGGER t_audit AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION log_it();
""")
        wait_for_reread(1)
        r = self.psql(px, "INSERT INTO t VALUES (2, 'with trigger');\n")
        self.assertIn("captured table public.audit (1 inserts made, 0 captured)", r.stderr)
        self.pg.psql("DROP TRIGGER t_audit ON t; ALTER TABLE t ADD COLUMN extra text DEFAULT 'x'")
        wait_for_reread(2)
        self.assertEqual(self.psql(px, "INSERT INTO t VALUES (3, 'after');\n").stderr, "")
        inserts = [c for e in logapply.entries(px.log_dir) for c in e["changes"]
                   if c["op"] == "insert" and c["table"] == "t"]
        self.assertEqual(inserts[-1]["new"], {"id": "3", "a": "after", "extra": "x"})

    def test_prepared_write_is_planned_again_when_a_trigger_appears(self):
        # A prepared INSERT into a table capture skips, proved to write
        # nothing else; then a trigger on it starts writing a captured table.
        px = self.proxy(exclude="public.scratch")
        self.psql(px, "CREATE TABLE scratch (id int PRIMARY KEY);\nCREATE TABLE audit (id serial PRIMARY KEY, n int);\n")
        with psycopg.connect(px.dsn(), autocommit=True) as conn:
            for i in range(1, 4):
                conn.execute("INSERT INTO scratch VALUES (%s)", [i], prepare=True)
            self.psql(px, """
CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO audit (n) VALUES (NEW.id); RETURN NEW; END$$;
CREATE TRIGGER scratch_audit AFTER INSERT ON scratch FOR EACH ROW EXECUTE FUNCTION log_it();
""")
            with self.assertRaises(psycopg.errors.FeatureNotSupported) as e:
                conn.execute("INSERT INTO scratch VALUES (%s)", [4], prepare=True)
            self.assertIn("public.audit (1 inserts made, 0 captured)", str(e.exception))
        self.assertEqual(self.pg.psql("SELECT count(*) FROM audit"), "0")

    def test_function_call_message_in_a_block_is_counted(self):
        # FunctionCall ('F', libpq's fast path) may write anything: in a
        # block whose counts were not taken yet, they start before it.
        px = self.proxy()
        self.psql(px, self.T_AND_WRITER + """
""")
        oid = int(self.pg.psql("SELECT 'w'::regproc::oid"))
        c = RawClient(px.port)
        c.login()

        def until_ready():
            got = []
            while True:
                tag, body = c.read_message()
                got.append((tag, body))
                if tag == b"Z":
                    return got

        c.send(query("BEGIN"))
        until_ready()
        c.send(query("INSERT INTO t (a) VALUES ('plain')"))
        until_ready()
        arg = b"by fastpath"
        c.send(message(b"F", struct.pack("!ihhhi", oid, 1, 0, 1, len(arg)) + arg + struct.pack("!h", 0)))
        got = until_ready()
        self.assertIn(b"V", [t for t, _ in got], got)  # the function's result
        c.send(query("COMMIT"))
        got = until_ready()
        errors = [b for t, b in got if t == b"E"]
        self.assertEqual(len(errors), 1, got)
        self.assertIn(b"public.t (1 inserts made, 0 captured)", errors[0])
        c.close()
        self.assertEqual(self.pg.psql("SELECT count(*) FROM t"), "0")

    def test_commit_check_by_the_publisher_follows_the_table_patterns(self):
        # A client's COMMIT goes with sqltapd's check in one message; the
        # publisher evaluates [capture] tables/exclude as LIKE patterns, which
        # must mean what the globs mean ('_' and '%' are plain characters).
        px = self.proxy(tables="app*.t_*, public.*", exclude="app2.*, public.skip%")
        self.psql(px, """
CREATE SCHEMA app1; CREATE SCHEMA app2; CREATE SCHEMA other;
CREATE TABLE app1.t_a (id int PRIMARY KEY); CREATE TABLE app1.txa (id int PRIMARY KEY);
CREATE TABLE app2.t_a (id int PRIMARY KEY); CREATE TABLE other.t_a (id int PRIMARY KEY);
CREATE TABLE public."skip%" (id int PRIMARY KEY); CREATE TABLE public.skipx (id int PRIMARY KEY);
CREATE FUNCTION w(t text) RETURNS int LANGUAGE plpgsql AS
  $$BEGIN EXECUTE format('INSERT INTO %s VALUES (1)', t); RETURN 1; END$$;
""")
        expect = {"app1.t_a": True, "app1.txa": False, "app2.t_a": False, "other.t_a": False,
                  'public."skip%"': False, "public.skipx": True}
        for table, captured in expect.items():
            r = self.psql(px, f"BEGIN;\nSELECT w('{table}');\nCOMMIT;\n"
                              "SELECT sum(generic_plans + custom_plans) FROM pg_prepared_statements "
                              "WHERE name LIKE 'sqltap_verify_%';\n")
            self.assertEqual(r.stdout.split()[-1], "1", table)  # the check went with the COMMIT
            if captured:
                self.assertIn("sqltap rolled back the transaction: captured table", r.stderr, table)
                self.assertIn("(1 inserts made, 0 captured)", r.stderr, table)
            else:
                self.assertEqual(r.stderr, "", table)
            self.assertEqual(self.pg.psql(f"SELECT count(*) FROM {table}"), "0" if captured else "1", table)

    def test_function_writes_are_flagged_with_uncaptured_log(self):
        px = self.proxy(uncaptured="log")
        self.psql(px, self.T_AND_WRITER + """
SELECT w('by-function');
""")
        self.assertEqual(self.pg.psql("SELECT a FROM t"), "by-function")
        resync = [c for e in logapply.entries(px.log_dir) for c in e["changes"] if c["op"] == "resync"]
        self.assertEqual(len(resync), 1, resync)
        self.assertEqual((resync[0]["schema"], resync[0]["table"]), ("public", "t"))
        # A write sqltapd knows it cannot capture, alone in its transaction
        # in either protocol: committed, with its resync record under the
        # transaction's xid.
        self.psql(px, "CREATE TABLE nokey (a int);\nINSERT INTO nokey VALUES (1);\n"
                      "BEGIN;\nUPDATE nokey SET a = a + 1;\nCOMMIT;\n")
        with psycopg.connect(px.dsn()) as conn:
            conn.execute("UPDATE nokey SET a = a + %s", [1])
            conn.commit()
        self.assertEqual(self.pg.psql("SELECT a FROM nokey"), "3")
        flagged = [e for e in logapply.entries(px.log_dir)
                   if any(c["op"] == "resync" and c["table"] == "nokey" for c in e["changes"])]
        self.assertEqual(len(flagged), 2, flagged)
        for e in flagged:
            self.assertTrue(e["xid"].isdigit() and e["xid"] != "0", e)

    def test_excluded_tables_and_capture_off(self):
        px = self.proxy(exclude="public.scratch")
        r = self.psql(px, """
CREATE TABLE scratch (id int PRIMARY KEY);
CREATE TABLE kept (id int PRIMARY KEY);
INSERT INTO scratch VALUES (1);
INSERT INTO kept VALUES (1);
""")
        self.assertEqual(r.stderr, "")
        tables = {c.get("table") for e in logapply.entries(px.log_dir) for c in e["changes"]}
        self.assertIn("kept", tables)
        self.assertNotIn("scratch", tables)
        off = self.fixture(harness.Sqltapd(self.pg.port))
        self.psql(off, "INSERT INTO kept VALUES (2);\n")
        self.assertEqual(self.pg.psql("SELECT count(*) FROM kept"), "2")
        self.assertFalse(os.path.exists(off.log_dir))

    def test_snapshot_statement_survives_deallocate_and_discard(self):
        # sqltapd prepares its write-count snapshot once per connection; a
        # client that drops prepared statements makes it prepare it again.
        import psycopg
        px = self.proxy()
        r = self.psql(px, """
CREATE TABLE t (id int PRIMARY KEY, a int);
INSERT INTO t VALUES (1, 0);
DEALLOCATE ALL;
UPDATE t SET a = 1;
DISCARD ALL;
BEGIN; UPDATE t SET a = 2; COMMIT;
DEALLOCATE ALL \\; UPDATE t SET a = 3 \\; DISCARD PLANS;
BEGIN \\; DEALLOCATE ALL \\; UPDATE t SET a = 4 \\; COMMIT;
SAVEPOINT x;
BEGIN; SAVEPOINT s; DEALLOCATE ALL; UPDATE t SET a = 5; ROLLBACK TO s; UPDATE t SET a = 6; COMMIT;
""")
        self.assertEqual(r.stderr, "ERROR:  SAVEPOINT can only be used in transaction blocks\n")
        with psycopg.connect(px.dsn(), autocommit=True) as conn:
            conn.execute("UPDATE t SET a = %s", (7,))
            conn.execute("DEALLOCATE ALL")
            conn.execute("UPDATE t SET a = %s", (8,))
            with conn.transaction():
                conn.execute("DEALLOCATE ALL", prepare=False)
                conn.execute("UPDATE t SET a = %s", (9,), prepare=False)
            conn.execute("DISCARD ALL")
            conn.execute("UPDATE t SET a = %s", (10,))
        values = [c["new"]["a"] for e in logapply.entries(px.log_dir) for c in e["changes"] if c["op"] == "update"]
        self.assertEqual(values, [str(v) for v in (1, 2, 3, 4, 6, 7, 8, 9, 10)])
        self.assertEqual(self.pg.psql("SELECT a FROM t"), "10")

    def test_row_filter_and_column_list(self):
        # [table public.orders]: only EU rows, without the notes column. An
        # UPDATE moving a row into the filter is an insert, out of it a delete.
        px = self.fixture(harness.Sqltapd(self.pg.port, capture={}, extra_text="""
[table public.orders]
filter = "region = 'EU' AND NOT coalesce(test, false)"   ; a comment
columns = region, total
"""))
        r = self.psql(px, """
CREATE TABLE orders (id int PRIMARY KEY, region text, total int, notes text, test bool);
CREATE TABLE other (id int PRIMARY KEY, region text);
INSERT INTO orders VALUES (1, 'EU', 10, 'n1', false), (2, 'US', 20, 'n2', false), (3, 'EU', 30, 'n3', true);
INSERT INTO other VALUES (1, 'US');
UPDATE orders SET total = total + 1;
UPDATE orders SET region = 'EU' WHERE id = 2;
UPDATE orders SET region = 'US' WHERE id = 1;
UPDATE orders SET id = 20, notes = 'moved' WHERE id = 2;
DELETE FROM orders o USING other WHERE o.id = other.id;
DELETE FROM orders WHERE id IN (3, 20);
BEGIN;
INSERT INTO orders VALUES (4, 'EU', 40, 'n4', false) ON CONFLICT (id) DO UPDATE SET total = excluded.total;
INSERT INTO orders VALUES (4, 'US', 41, 'n4', false) ON CONFLICT (id) DO UPDATE SET region = excluded.region;
COMMIT;
COPY orders (id, region, total) FROM STDIN;
5	EU	50
6	US	60
\\.
UPDATE orders SET total = 0 FROM other WHERE orders.id = other.id;
""", check=False)
        self.assertIn("an UPDATE of captured table public.orders, which has a row filter", r.stderr)
        self.assertEqual(r.stderr.count("ERROR"), 1, r.stderr)
        changes = [(c["op"], c.get("key"), c.get("new")) for e in logapply.entries(px.log_dir)
                   for c in e["changes"] if c.get("table") == "orders"]
        row = lambda i, reg, tot: {"id": str(i), "region": reg, "total": str(tot)}
        self.assertEqual(changes, [
            ("insert", None, row(1, "EU", 10)),
            ("update", {"id": "1"}, row(1, "EU", 11)),            # 2 (US) and 3 (test) are not captured
            ("insert", None, row(2, "EU", 21)),                  # moved into the filter
            ("delete", {"id": "1"}, None),                       # moved out of it
            ("update", {"id": "2"}, row(20, "EU", 21)),          # key change inside the filter
            ("delete", {"id": "20"}, None),                      # 3 was never in the filter
            ("insert", None, row(4, "EU", 40)),
            ("delete", {"id": "4"}, None),                       # ON CONFLICT update out of the filter
            ("insert", None, row(5, "EU", 50)),
        ])
        # The column list holds for every change; the other table is whole.
        other = [c["new"] for e in logapply.entries(px.log_dir) for c in e["changes"] if c.get("table") == "other"]
        self.assertEqual(other, [{"id": "1", "region": "US"}])
        # The extended protocol, binary results: the same.
        import psycopg
        with psycopg.connect(px.dsn(), autocommit=True) as conn:
            conn.cursor().executemany("INSERT INTO orders (id, region, total) VALUES (%s, %s, %s)",
                                      [(7, "EU", 70), (8, "US", 80)])
            cur = conn.cursor(binary=True)
            cur.execute("UPDATE orders SET region = %s WHERE id = %s RETURNING id, total", ("US", 7))
            self.assertEqual(cur.fetchall(), [(7, 70)])
        changes = [(c["op"], c.get("key"), c.get("new")) for e in logapply.entries(px.log_dir)
                   for c in e["changes"] if c.get("table") == "orders"][9:]
        self.assertEqual(changes, [("insert", None, row(7, "EU", 70)), ("delete", {"id": "7"}, None)])

    def test_async_durability(self):
        px = self.proxy(durability="async")
        self.psql(px, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);\n"
                      "BEGIN; INSERT INTO t VALUES (3); COMMIT;\n")
        deadline = time.time() + 10
        while time.time() < deadline:
            entries = logapply.entries(px.log_dir)
            if len(entries) == 3:
                break
            time.sleep(0.1)
        self.assertEqual([len(e["changes"]) for e in entries], [1, 2, 1])

    def test_concurrent_sessions_replay_to_the_same_tables(self):
        seconds = int(os.environ.get("SQLTAP_CAPTURE_SECONDS", "30"))
        px = self.proxy()
        self.psql(px, """
CREATE TABLE acct (id int PRIMARY KEY, bal bigint NOT NULL, touched int DEFAULT 0);
INSERT INTO acct SELECT g, 1000 FROM generate_series(1, 200) g;
CREATE TABLE hist (id bigserial PRIMARY KEY, a int, b int, amount int, at timestamptz DEFAULT now());
CREATE TABLE tally (k int PRIMARY KEY, n int NOT NULL);
""")
        work = tempfile.mkdtemp(prefix="sqltap-pgbench-")
        scripts = {
            "transfer.sql": """\\set a random(1, 200)
\\set b random(1, 200)
\\set amt random(1, 50)
\\set lo least(:a, :b)
\\set hi greatest(:a, :b)
BEGIN;
UPDATE acct SET bal = bal - :amt, touched = touched + 1 WHERE id = :lo;
UPDATE acct SET bal = bal + :amt, touched = touched + 1 WHERE id = :hi;
INSERT INTO hist (a, b, amount) VALUES (:a, :b, :amt);
END;
""",
            "upsert.sql": """\\set k random(1, 50)
INSERT INTO tally VALUES (:k, 1) ON CONFLICT (k) DO UPDATE SET n = tally.n + 1;
""",
            "trim.sql": """\\set a random(1, 200)
DELETE FROM hist WHERE a = :a AND id % 3 = 0;
""",
            # key changes racing the updates above: the row's sign flips
            "rekey.sql": """\\set a random(1, 200)
\\set na -1 * :a
UPDATE acct SET id = -id WHERE id = :a OR id = :na;
""",
            "savepoint.sql": """\\set a random(1, 200)
BEGIN;
UPDATE acct SET touched = touched + 100 WHERE id = :a;
SAVEPOINT s;
UPDATE acct SET bal = 0 WHERE id = :a;
ROLLBACK TO SAVEPOINT s;
END;
""",
        }
        args = []
        for name, body in scripts.items():
            path = os.path.join(work, name)
            with open(path, "w") as f:
                f.write(body)
            args += ["-f", path]
        # Two clients in each query protocol, at once.
        runs = [subprocess.Popen(["pgbench", "-n", "-M", mode, "-c", "2", "-j", "1", "-T", str(seconds), *args,
                                  "-h", "127.0.0.1", "-p", str(px.port), "-U", "postgres", "postgres"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for mode in ("simple", "extended", "prepared")]
        for r in runs:
            out, err = r.communicate()
            self.assertEqual(r.returncode, 0, err + out)
            self.assertIn("number of failed transactions: 0", out)
        entries = logapply.entries(px.log_dir)
        self.assertGreater(len(entries), 100)
        copy = self.copy_db("replica")
        logapply.apply(copy, entries)
        self.assert_same_tables(["acct", "hist", "tally"], copy)
        # Every before image is the row as the transaction before it left it,
        # however the updates raced (a stale image would be a false conflict
        # on every subscriber).
        self.assertGreater(logapply.check_before_images(entries, "acct", ["id"]), 100)
        logapply.check_before_images(entries, "hist", ["id"])

    def test_before_images_are_the_rows_as_they_were(self):
        px = self.proxy()
        self.psql(px, r"""
CREATE TYPE pair AS (x int, y text);
CREATE TABLE kinds (id int PRIMARY KEY, n numeric, b bool, c char(5), p pair, a text[], by bytea, j jsonb,
                    e text, z text, g int GENERATED ALWAYS AS (id * 2) STORED);
INSERT INTO kinds VALUES
  (1, 1.50, true, 'ab', ROW(1, 'x "y", (z)'), ARRAY['a,b', NULL, '"q"', 'back\slash'], '\x00ff',
   '{"k": "v, (w)"}', '', NULL),
  (2, NULL, NULL, NULL, ROW(NULL, NULL), NULL, NULL, NULL, '  ', 'a\b"c'),
  (3, -0.0, false, '', NULL, '{}', '', '[]', ')(', ',');
""")
        sep = "\x1f"

        def stored():
            out = harness.run(["psql", "-X", "-A", "-t", "-F", sep, "-P", "null=\x1e", "-d", self.pg.dsn(), "-c",
                               "SELECT * FROM kinds ORDER BY id"]).stdout
            names = ["id", "n", "b", "c", "p", "a", "by", "j", "e", "z", "g"]
            return {r.split(sep)[0]: {k: (None if v == "\x1e" else v) for k, v in zip(names, r.split(sep))}
                    for r in out.split("\n") if r}  # (splitlines() would split at \x1e too)

        # Carried by a SET value (n = n + 1), and by the join (a literal only).
        expected = []
        for sql in ("UPDATE kinds SET n = n + 1", "UPDATE kinds SET e = 'set by a literal' WHERE id <> 3"):
            before = stored()
            self.assertEqual(self.psql(px, sql).stderr, "")
            expected += [before[k] for k in sorted(before) if sql.endswith("n + 1") or k != "3"]
        # The extended protocol, with binary results and parameters.
        before = stored()
        with psycopg.connect(px.dsn(), autocommit=True) as conn:
            cur = conn.cursor(binary=True)
            cur.execute("UPDATE kinds SET z = coalesce(z, '') || %s WHERE id = %s RETURNING id, z", ["!", 2])
            self.assertEqual(cur.fetchall(), [(2, 'a\\b"c!')])
        expected.append(before["2"])
        updates = [c for e in logapply.entries(px.log_dir) for c in e["changes"] if c["op"] == "update"]
        order = lambda rows: sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
        self.assertEqual(order(c.get("old") for c in updates), order(expected))


if __name__ == "__main__":
    harness.main()
