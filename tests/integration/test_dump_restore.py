#!/usr/bin/env python3
"""pg_dump through sqltapd, restored with psql through sqltapd, gives identical tables."""
import harness
import logapply

SETUP = """
CREATE TABLE kinds (id bigserial PRIMARY KEY, t text, n numeric(12,3), f float8, b bool, d date,
                    ts timestamptz, j jsonb, a int[], by bytea, u uuid, iv interval);
INSERT INTO kinds (t, n, f, b, d, ts, j, a, by, u, iv)
SELECT 'row ' || g || E'\\ttab\\nnewline', g * 1.5, g / 3.0, g % 2 = 0, date '2020-01-01' + g,
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute', jsonb_build_object('g', g),
       ARRAY[g, g + 1], decode(md5(g::text), 'hex'), md5(g::text)::uuid, g * interval '1 second'
FROM generate_series(1, 5000) g;
INSERT INTO kinds (t) VALUES (NULL), ('');
CREATE TABLE child (id int PRIMARY KEY, kind_id bigint REFERENCES kinds(id), note text);
INSERT INTO child SELECT g, g, repeat('x', g % 50) FROM generate_series(1, 1000) g;
CREATE VIEW v AS SELECT count(*) FROM child;
CREATE SEQUENCE s START 42;
"""

CHECK = "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"


class DumpRestoreTest(harness.TestCase):
    def test_dump_and_restore_through_proxy(self):
        pg = self.fixture(harness.PgServer())
        proxy = self.fixture(harness.Sqltapd(pg.port))
        pg.psql("CREATE DATABASE src")
        pg.psql("CREATE DATABASE dst")
        harness.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.dsn("src"), "-c", SETUP])
        dump = harness.run(["pg_dump", "-d", proxy.dsn("src")]).stdout
        self.assertIn("COPY public.kinds", dump)
        restore = harness.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", proxy.dsn("dst")], input=dump)
        self.assertEqual(restore.returncode, 0)
        for table in ("kinds", "child"):
            self.assertEqual(pg.psql(CHECK.format(table=table), "src"), pg.psql(CHECK.format(table=table), "dst"))
        self.assertEqual(pg.psql("SELECT count(*) FROM kinds", "dst"), "5002")
        self.assertEqual(pg.psql("SELECT last_value FROM s", "dst"), "42")
        # and a custom-format dump restored with pg_restore through the proxy
        pg.psql("CREATE DATABASE dst2")
        custom = harness.run(["pg_dump", "-Fc", "-d", proxy.dsn("src")], text=False).stdout
        r = harness.run(["pg_restore", "-d", proxy.dsn("dst2")], input=custom, text=False)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(pg.psql(CHECK.format(table="kinds"), "src"), pg.psql(CHECK.format(table="kinds"), "dst2"))

    def test_restore_through_capturing_proxy_is_captured(self):
        """psql with a plain dump (COPY … FROM stdin) and pg_restore with a
        custom one, through sqltapd capturing: the log, applied to an empty
        database, rebuilds the restored tables."""
        pg = self.fixture(harness.PgServer())
        proxy = self.fixture(harness.Sqltapd(pg.port, capture={}))
        for db in ("src", "dst", "dst2", "replica", "replica2"):
            pg.psql(f"CREATE DATABASE {db}")
        harness.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.dsn("src"), "-c", SETUP])
        dump = harness.run(["pg_dump", "-d", pg.dsn("src")]).stdout
        harness.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", proxy.dsn("dst")], input=dump)
        custom = harness.run(["pg_dump", "-Fc", "-d", pg.dsn("src")], text=False).stdout
        harness.run(["pg_restore", "--single-transaction", "-d", proxy.dsn("dst2")], input=custom, text=False)
        entries = logapply.entries(proxy.log_dir)
        # The replicas get the tables from the dump's schema (sequences and
        # views are not captured DDL); the log brings every row.
        schema = harness.run(["pg_dump", "--section=pre-data", "-d", pg.dsn("src")]).stdout
        for db, replica in (("dst", "replica"), ("dst2", "replica2")):
            harness.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.dsn(replica)], input=schema)
            mine = [dict(e, changes=[c for c in e["changes"] if c["op"] != "ddl"])
                    for e in entries if e["database"] == db]
            inserts = sum(1 for e in mine for c in e["changes"] if c["op"] == "insert")
            self.assertEqual(inserts, 5002 + 1000, db)
            self.assertTrue(any(c["op"] == "ddl" and "CREATE TABLE public.kinds" in c["sql"]
                                for e in entries if e["database"] == db for c in e["changes"]))
            logapply.apply(pg.dsn(replica), mine)
            for table in ("kinds", "child"):
                self.assertEqual(pg.psql(CHECK.format(table=table), db), pg.psql(CHECK.format(table=table), replica))


if __name__ == "__main__":
    harness.main()
