#!/usr/bin/env python3
"""The catalog reader against a real publisher: keys, columns, name resolution."""
import os

import harness

PROBE = os.path.join(harness.BUILD_DIR, "tests", "bin", "catalog_probe")

SETUP = '''
CREATE SCHEMA app;
CREATE TABLE app.pk (id int PRIMARY KEY, name varchar(20), doomed int, total numeric(10,2),
                     twice int GENERATED ALWAYS AS (id * 2) STORED);
ALTER TABLE app.pk DROP COLUMN doomed;
CREATE TABLE app.composite (a int, b text, c int, PRIMARY KEY (b, a));
CREATE TABLE app.ident (x int NOT NULL, y int);
CREATE UNIQUE INDEX ident_x ON app.ident (x);
ALTER TABLE app.ident REPLICA IDENTITY USING INDEX ident_x;
CREATE TABLE app.nokey (p int, q text);
CREATE TABLE app.full_ident (id int PRIMARY KEY, v text);
ALTER TABLE app.full_ident REPLICA IDENTITY FULL;
CREATE TABLE public."Odd ""Name""" (k int PRIMARY KEY);
CREATE TABLE public.shadow (id int PRIMARY KEY);
CREATE TABLE app.shadow (other_id int PRIMARY KEY);
CREATE SCHEMA alice;
CREATE TABLE alice.shadow (mine int PRIMARY KEY);
CREATE SCHEMA "Mixed";
CREATE TABLE "Mixed".t (m int PRIMARY KEY);
REVOKE ALL ON SCHEMA app FROM PUBLIC;
'''


class CatalogTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer(
            hba="local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 md5\n"))
        self.pg.psql("SET password_encryption = 'md5'; CREATE ROLE sqltap_admin LOGIN PASSWORD 'Adm1n-Secret'")
        self.pg.psql("CREATE DATABASE appdb")
        harness.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.pg.dsn("appdb"), "-c", SETUP])
        # dbname=postgres in the conninfo: the reader must use the database it is given.
        self.conninfo = f"host=127.0.0.1 port={self.pg.port} user=sqltap_admin password=Adm1n-Secret dbname=postgres"

    def probe(self, table, search_path="public", database="appdb", conninfo=None):
        r = harness.run([PROBE, conninfo or self.conninfo, database, search_path, table], check=False)
        return r.stdout.strip()

    def test_keys_and_columns(self):
        self.assertEqual(self.probe("app.pk"),
                         "app.pk key=primary key keys=id cols=id:integer,name:character varying(20),"
                         "total:numeric(10,2),twice:integer:generated")
        self.assertEqual(self.probe("app.composite"),
                         "app.composite key=primary key keys=b,a cols=a:integer,b:text,c:integer")
        self.assertEqual(self.probe("app.ident"), "app.ident key=replica identity index keys=x cols=x:integer,y:integer")
        self.assertEqual(self.probe("app.nokey"), "app.nokey key=all columns keys=p,q cols=p:integer,q:text")
        self.assertEqual(self.probe("app.full_ident"), "app.full_ident key=all columns keys=id,v cols=id:integer,v:text")

    def test_name_resolution(self):
        self.assertEqual(self.probe('Odd "Name"'), 'public.Odd "Name" key=primary key keys=k cols=k:integer')
        self.assertTrue(self.probe("shadow", "public").startswith("public.shadow "))
        self.assertTrue(self.probe("shadow", "app, public").startswith("app.shadow "))
        self.assertEqual(self.probe("nokey", "public"), "missing")
        self.assertTrue(self.probe("nokey", "app").startswith("app.nokey "))
        self.assertTrue(self.probe("shadow", '"$user", public').startswith("alice.shadow "))
        self.assertTrue(self.probe("t", '"Mixed"').startswith("Mixed.t "))
        self.assertEqual(self.probe("t", "Mixed"), "missing")  # unquoted folds to mixed
        self.assertTrue(self.probe("pg_class", "public").startswith("pg_catalog.pg_class "))
        self.assertEqual(self.probe("app.nothing"), "missing")
        self.assertEqual(self.probe("nosuchschema.t"), "missing")

    def test_connection_errors_are_clear_and_secret_free(self):
        out = self.probe("app.pk", database="no_such_db")
        self.assertTrue(out.startswith('error: cannot open the admin connection to database "no_such_db"'), out)
        bad = self.conninfo.replace("Adm1n-Secret", "Wrong-Secret-9")
        out = self.probe("app.pk", conninfo=bad)
        self.assertIn("password authentication failed", out)
        self.assertNotIn("Wrong-Secret-9", out)


if __name__ == "__main__":
    harness.main()
