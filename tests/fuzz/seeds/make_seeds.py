#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/*): SQL of
every statement kind the analyser knows, protocol frames of both directions
and startup packets. Records come from a real log (see README.md). Run from
anywhere; it rewrites the generated files only."""
import hashlib
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "integration"))
import pgwire  # noqa: E402

corpus = os.path.join(here, "..", "corpus")

SQL = [
    "SELECT 1", "SELECT * FROM t WHERE id = $1", "select count(*) from t; select now()",
    "INSERT INTO t (id, a) VALUES (1, 'x')", "INSERT INTO t VALUES (1, 'x'), (2, NULL) RETURNING *",
    "INSERT INTO public.t (a) SELECT a FROM s", "INSERT INTO t AS x (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a",
    "INSERT INTO t (id) VALUES (1) ON CONFLICT DO NOTHING", "UPDATE t SET a = 'y' WHERE id = 1",
    "UPDATE t SET id = id + 1 RETURNING id, a", "UPDATE t x SET a = s.a FROM s WHERE s.id = x.id",
    "UPDATE t SET a = 'z' WHERE CURRENT OF c", "DELETE FROM t WHERE id = 1", "DELETE FROM t USING s WHERE s.id = t.id RETURNING t.*",
    "WITH d AS (DELETE FROM t RETURNING *) INSERT INTO s SELECT * FROM d", "WITH x AS (SELECT 1) UPDATE t SET a = 'q'",
    "TRUNCATE t, s", "TRUNCATE TABLE ONLY t RESTART IDENTITY CASCADE", "CREATE TABLE t2 (id int PRIMARY KEY)",
    "ALTER TABLE t ADD COLUMN c int DEFAULT 0", "DROP TABLE IF EXISTS t2", "CREATE INDEX ON t (a)",
    "BEGIN", "START TRANSACTION ISOLATION LEVEL SERIALIZABLE", "COMMIT", "END", "ROLLBACK", "ABORT",
    "SAVEPOINT s1", "RELEASE SAVEPOINT s1", "ROLLBACK TO SAVEPOINT s1", "PREPARE TRANSACTION 'g1'",
    "COMMIT PREPARED 'g1'", "ROLLBACK PREPARED 'g1'", "COMMIT AND CHAIN", "SET search_path = s, public",
    "RESET ALL", "DISCARD ALL", "SET LOCAL statement_timeout = 0", "CALL p(1)", "DO $$BEGIN UPDATE t SET a = 'x'; END$$",
    "SELECT f(1)", "SELECT nextval('t_id_seq')", "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a",
    "COPY t FROM STDIN", "COPY t (id, a) FROM STDIN WITH (FORMAT csv)", "COPY t TO STDOUT", "COPY (SELECT 1) TO STDOUT",
    "EXPLAIN ANALYZE UPDATE t SET a = 'e'", "EXPLAIN SELECT 1", "PREPARE q AS INSERT INTO t VALUES ($1)",
    "EXECUTE q(1)", "DEALLOCATE q", "LISTEN x", "NOTIFY x, 'y'", "LOCK TABLE t", "VACUUM t",
    "SELECT * INTO t3 FROM t", "CREATE TABLE t4 AS SELECT * FROM t", "INSERT INTO \"T\" (\"Id\") VALUES (1) -- comment",
    "UPDATE t SET a = $q$ ; $q$ /* ; */ WHERE id = 1", "INSERT INTO t VALUES (1, E'it\\'s');", "",
    ";;", "SELECT 'unterminated", "UPDATE t SET a = 1 WHERE id IN (SELECT id FROM t FOR UPDATE)",
    "INSERT INTO t SELECT g, g::text FROM generate_series(1, 10) g RETURNING id AS k, a || 'x'",
    "DELETE FROM t RETURNING *, 1", "UPDATE ONLY t SET (a, b) = ('x', '{}')",
]


def write(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    for i, sql in enumerate(SQL):
        for opts in (0, 1, 6, 13):
            data = bytes([opts]) + sql.encode()
            write("analyzer", f"sql-{i:03d}-{opts:02d}", data)

    m = pgwire.message
    startup = pgwire.startup_packet("app", "db", extra={"application_name": "fuzz", "options": "-c a=b"})
    ssl = struct.pack("!ii", 8, 80877103)
    cancel = struct.pack("!iiii", 16, 80877102, 1234, 5678)
    write("startup", "startup", startup)
    write("startup", "ssl", ssl)
    write("startup", "cancel", cancel)
    write("startup", "gssenc", struct.pack("!ii", 8, 80877104))
    write("startup", "v2", pgwire.startup_packet(version=131072))

    front = (pgwire.query("SELECT 1") + m(b"P", b"s1\0SELECT $1::int\0\0\x01\0\0\0\x17")
             + m(b"B", b"\0s1\0\0\x01\0\x01\0\x01\0\0\0\x04\0\0\0\x07\0\x01\0\x01")
             + m(b"D", b"P\0") + m(b"E", b"\0\0\0\0\0") + m(b"C", b"Ss1\0") + m(b"H") + m(b"S")
             + m(b"d", b"1\tx\n") + m(b"c") + m(b"f", b"stop\0") + m(b"p", b"SCRAM-SHA-256\0\0\0\0\x05n,,n=")
             + m(b"F", b"\0\0\x04\x00\0\x01\0\x01\0\x01\0\0\0\x01\x31\0\x01") + m(b"X"))
    back = (m(b"R", struct.pack("!i", 0)) + m(b"R", struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0")
            + m(b"S", b"server_version\x0015.0\0") + m(b"K", struct.pack("!ii", 1, 2))
            + m(b"T", b"\0\x01id\0\0\0\0\0\0\x01\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0")
            + m(b"D", b"\0\x02\0\0\0\x011\xff\xff\xff\xff") + m(b"C", b"SELECT 1\0") + m(b"Z", b"I")
            + m(b"E", b"SERROR\0C42601\0Msyntax error\0\0") + m(b"N", b"SNOTICE\0Mhi\0\0")
            + m(b"1") + m(b"2") + m(b"3") + m(b"n") + m(b"s") + m(b"I") + m(b"t", b"\0\x01\0\0\0\x17")
            + m(b"G", b"\0\0\x01\0\0") + m(b"H", b"\0\0\0") + m(b"W", b"\0\0\0") + m(b"d", b"x") + m(b"c")
            + m(b"A", struct.pack("!i", 7) + b"chan\0payload\0") + m(b"v", struct.pack("!ii", 196608, 1) + b"x\0")
            + m(b"V", struct.pack("!i", 1) + b"1"))
    for chunk in (0, 6, 62, 254):
        write("frames", f"frontend-{chunk}", bytes([chunk]) + startup + front)
        write("frames", f"backend-{chunk}", bytes([chunk | 1]) + back)
    write("frames", "bad-length", bytes([0]) + startup + b"Q\0\0\0\x02")
    write("frames", "huge-length", bytes([1]) + b"D\x7f\xff\xff\xff")


if __name__ == "__main__":
    main()
