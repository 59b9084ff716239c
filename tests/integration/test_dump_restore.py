#!/usr/bin/env python3
"""pg_dump through sqltapd, restored with psql through sqltapd, gives identical tables."""
import harness

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


if __name__ == "__main__":
    harness.main()
