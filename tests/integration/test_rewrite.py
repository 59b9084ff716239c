#!/usr/bin/env python3
"""Rewritten writes, run on a real publisher, return the rows as stored."""
import os

import psycopg

import harness

PROBE = os.path.join(harness.BUILD_DIR, "tests", "bin", "rewrite_probe")

SETUP = r'''
CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int DEFAULT 7,
                    created timestamptz DEFAULT now(), note text);
CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN NEW.note := upper(coalesce(NEW.note, 'none')); RETURN NEW; END $$;
CREATE TRIGGER items_shout BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION shout();
CREATE TABLE "Odd ""T""" (k int PRIMARY KEY, "v v" text);
CREATE TYPE pair AS (x int, y text);
CREATE TABLE kinds (id int PRIMARY KEY, b bool, c char(5), i inet, p pair, a int[], by bytea, n numeric,
                    j jsonb, e text, z text);
'''


class RewriteTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer())
        harness.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.pg.dsn(), "-c", SETUP])

    def rewritten(self, sql):
        r = harness.run([PROBE, self.pg.dsn(), "postgres", sql])
        lines = r.stdout.strip().splitlines()
        return lines[0], [int(l.split("=")[1]) for l in lines[1:]]

    def rows(self, sql):
        """Runs sql in one transaction; returns its result rows and the transaction's xid."""
        out = harness.run(["psql", "-X", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", self.pg.dsn(),
                           "-c", "BEGIN", "-c", sql, "-c", "SELECT 'xid=' || pg_current_xact_id()", "-c", "COMMIT"]).stdout
        lines = [l for l in out.splitlines() if l and l not in ("BEGIN", "COMMIT") and not l.startswith(("INSERT", "UPDATE", "DELETE"))]
        xid = [l for l in lines if l.startswith("xid=")][0][4:]
        return [l.split("|") for l in lines if not l.startswith("xid=")], xid

    def test_insert_captures_serial_defaults_and_trigger_changes(self):
        sql, added = self.rewritten("INSERT INTO items (name) VALUES ('a'), ('b') -- two rows")
        self.assertEqual(added, [6])  # id, name, qty, created, note, xid
        rows, xid = self.rows(sql)
        stored = self.pg.psql("SELECT id, name, qty, created, note FROM items ORDER BY id").splitlines()
        self.assertEqual(["|".join(r[:5]) for r in rows], stored)
        self.assertEqual([r[4] for r in rows], ["NONE", "NONE"])  # the BEFORE trigger's change
        self.assertEqual({r[5] for r in rows}, {xid})

    def test_update_and_delete(self):
        self.pg.psql("INSERT INTO items (name, note) VALUES ('x', 'quiet'), ('y', NULL)")
        sql, _ = self.rewritten("UPDATE items SET qty = qty + 1, note = 'loud' WHERE name = 'x'")
        rows, _ = self.rows(sql)
        self.assertEqual(rows[0][1:3] + [rows[0][4]], ["x", "8", "LOUD"])
        sql, _ = self.rewritten("DELETE FROM items WHERE name = 'y'")
        rows, _ = self.rows(sql)
        self.assertEqual(rows[0][1], "y")  # the deleted row, key included
        self.assertEqual(self.pg.psql("SELECT count(*) FROM items"), "1")

    def test_client_returning_comes_first(self):
        sql, added = self.rewritten("INSERT INTO items AS i (name) VALUES ('c') RETURNING i.name, 42")
        rows, _ = self.rows(sql)
        self.assertEqual(rows[0][:2], ["c", "42"])  # the client's columns first
        self.assertEqual(len(rows[0]), 2 + added[0])

    def test_quoted_names(self):
        sql, _ = self.rewritten('INSERT INTO "Odd ""T""" VALUES (1, \'z\')')
        rows, _ = self.rows(sql)
        self.assertEqual(rows[0][:2], ["1", "z"])

    def test_values_are_the_output_functions_text_in_any_format(self):
        values = ("(1, true, 'ab', '10.0.0.1', ROW(NULL, NULL)::pair, ARRAY[1, NULL], '\\x00ff', 1.50, "
                  "'{\"k\": [1, 2]}', '', NULL), (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'x')")
        sql, added = self.rewritten(f"INSERT INTO kinds VALUES {values}")
        sep = "\x1f"
        out = harness.run(["psql", "-X", "-A", "-t", "-F", sep, "-P", "null=<NULL>", "-v", "ON_ERROR_STOP=1",
                           "-d", self.pg.dsn(), "-c", sql]).stdout
        captured = [l.split(sep)[:11] for l in out.splitlines() if sep in l]
        stored = harness.run(["psql", "-X", "-A", "-t", "-F", sep, "-P", "null=<NULL>", "-d", self.pg.dsn(), "-c",
                              "SELECT * FROM kinds ORDER BY id"]).stdout
        self.assertEqual(captured, [l.split(sep) for l in stored.splitlines()])
        self.assertEqual(captured[0][1:5], ["t", "ab   ", "10.0.0.1", "(,)"])  # bool, bpchar, inet, composite
        self.assertEqual(captured[0][9], "")         # empty string stays empty
        self.assertEqual(captured[0][10], "<NULL>")  # and NULL stays NULL
        self.assertEqual(captured[1][4], "<NULL>")   # a NULL composite is NULL, not "(,)"
        # A client asking for binary results gets the added columns as text all the same.
        with psycopg.connect(self.pg.dsn(), autocommit=True) as conn:
            conn.execute("DELETE FROM kinds")
            cur = conn.cursor(binary=True)
            cur.execute(sql)
            rows = cur.fetchall()
            self.assertEqual([list(r[-added[0]:-1]) for r in rows],
                             [[None if v == "<NULL>" else v for v in c] for c in captured])

    def test_unsupported_is_reported(self):
        r = harness.run([PROBE, self.pg.dsn(), "postgres", "UPDATE items SET id = id + 100 FROM kinds"])
        self.assertIn('unsupported: an UPDATE that changes key column "id"', r.stdout)
        # A key change without FROM is rewritten (the old key joined in) and runs.
        r = harness.run([PROBE, self.pg.dsn(), "postgres", "UPDATE items SET id = id + 100"])
        self.assertIn("sqltap_old", r.stdout)
        rewritten = r.stdout.splitlines()[0]
        self.pg.psql(rewritten)


if __name__ == "__main__":
    harness.main()
