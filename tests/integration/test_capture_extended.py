#!/usr/bin/env python3
"""Capture of the extended-query protocol (Parse/Bind/Describe/Execute/Sync)
through sqltapd against a real PostgreSQL 15: every message the client gets is
byte-identical with and without capture (binary parameters and results,
per-column formats, Describe answers, row limits, errors inside batches,
pipelined batches), and the log holds exactly what committed."""
import struct

import harness
import logapply
import pgwire

TEXT, INT4, BYTEA = 25, 23, 17


def cstr(s):
    return s.encode() + b"\0"


def parse(name, sql, types=()):
    return pgwire.message(b"P", cstr(name) + cstr(sql) + struct.pack("!h", len(types)) +
                          b"".join(struct.pack("!I", t) for t in types))


def bind(portal, stmt, params=(), param_formats=(), result_formats=()):
    body = cstr(portal) + cstr(stmt)
    body += struct.pack("!h", len(param_formats)) + b"".join(struct.pack("!h", f) for f in param_formats)
    body += struct.pack("!h", len(params))
    for p in params:
        if p is None:
            body += struct.pack("!i", -1)
        else:
            p = p if isinstance(p, bytes) else str(p).encode()
            body += struct.pack("!i", len(p)) + p
    body += struct.pack("!h", len(result_formats)) + b"".join(struct.pack("!h", f) for f in result_formats)
    return pgwire.message(b"B", body)


def describe(kind, name):
    return pgwire.message(b"D", kind + cstr(name))


def execute(portal="", max_rows=0):
    return pgwire.message(b"E", cstr(portal) + struct.pack("!i", max_rows))


def close(kind, name):
    return pgwire.message(b"C", kind + cstr(name))


SYNC = pgwire.message(b"S")
FLUSH = pgwire.message(b"H")


def i4(n):
    return struct.pack("!i", n)


def simple(sql):
    return pgwire.query(sql)


# Each step: the bytes sent in one go; the answers are read up to as many
# ReadyForQuery messages as the step has Syncs and Queries.
STEPS = [
    # autocommit, unnamed statement, text and binary parameters, no RETURNING
    parse("", "INSERT INTO t (a, n) VALUES ($1, $2)", (TEXT, INT4)) +
    bind("", "", ("x", i4(5)), (0, 1)) + describe(b"P", "") + execute() + SYNC,
    # a named statement with its own RETURNING, binary results, used twice
    parse("ins", "INSERT INTO t (a, n, b) VALUES ($1, $2, $3) RETURNING id, a, n, b", (TEXT, INT4, BYTEA)) +
    describe(b"S", "ins") + bind("", "ins", ("y", i4(6), b"\x00\x01"), (0, 1, 1), (1,)) +
    describe(b"P", "") + execute() + SYNC,
    bind("", "ins", ("z", i4(7), None), (0, 1, 1), (1, 0, 1, 0)) + describe(b"P", "") + execute() + SYNC,
    # Describe of a write without RETURNING: NoData
    parse("upd", "UPDATE t SET n = n + $1 WHERE id <= $2", (INT4, INT4)) + describe(b"S", "upd") +
    bind("p1", "upd", ("1", "2")) + describe(b"P", "p1") + execute("p1", 1) + SYNC,
    # a row limit on a write with RETURNING: suspended, then the rest
    parse("", "UPDATE t SET a = a || '!' RETURNING id, a") + bind("", "") + execute("", 1) + execute("", 0) + SYNC,
    # one binary format code for all: without RETURNING, with a counted list,
    # and with a "*" (its added columns are cast to text instead)
    parse("", "UPDATE t SET n = n + 1 WHERE id = 1") + bind("", "", (), (), (1,)) + describe(b"P", "") +
    execute() + SYNC,
    parse("", "UPDATE t SET n = n + 1 WHERE id = 2 RETURNING n * 2, a, (id)") + bind("", "", (), (), (1,)) +
    describe(b"P", "") + execute() + SYNC,
    parse("", "UPDATE t SET n = n + 1 WHERE id = 2 RETURNING *, n") + bind("", "", (), (), (1,)) +
    describe(b"P", "") + execute() + SYNC,
    # an error inside an autocommit batch: nothing of it commits
    parse("", "INSERT INTO t (a) VALUES ('lost-1')") + bind("", "") + execute() +
    parse("", "INSERT INTO t (nosuch) VALUES (1)") + bind("", "") + execute() + SYNC,
    parse("", "INSERT INTO t (a) VALUES ('lost-2')") + bind("", "") + execute() +
    parse("", "SELECT 1/0") + bind("", "") + execute() + SYNC,
    # a transaction block inside one batch, with a savepoint rolled back
    parse("", "BEGIN") + bind("", "") + execute() +
    parse("", "INSERT INTO t (a) VALUES ('kept')") + bind("", "") + execute() +
    parse("", "SAVEPOINT s") + bind("", "") + execute() +
    parse("", "INSERT INTO t (a) VALUES ('undone')") + bind("", "") + execute() +
    parse("", "ROLLBACK TO s") + bind("", "") + execute() +
    parse("", "DELETE FROM t WHERE a = 'x!'") + bind("", "") + execute() +
    parse("", "COMMIT") + bind("", "") + execute() + SYNC,
    # a transaction block across batches, then one rolled back
    parse("b", "BEGIN") + bind("", "b") + execute() + SYNC,
    bind("", "ins", ("block", i4(1), None), (0, 1, 1)) + execute() + SYNC,
    parse("c", "COMMIT") + bind("", "c") + execute() + SYNC,
    bind("", "b") + execute() + SYNC,
    bind("", "ins", ("rolled-back", i4(1), None), (0, 1, 1)) + execute() + SYNC,
    parse("", "ROLLBACK") + bind("", "") + execute() + SYNC,
    # pipelined: several batches before any answer
    bind("", "ins", ("pipe-1", i4(1), None), (0, 1, 1)) + execute() + SYNC +
    bind("", "ins", ("pipe-2", i4(2), None), (0, 1, 1)) + execute() + SYNC +
    parse("", "DELETE FROM t WHERE a = $1", (TEXT,)) + bind("", "", ("pipe-1",)) + execute() + SYNC,
    # DDL on the table of a prepared write: planned again before it runs
    simple("ALTER TABLE t ADD COLUMN extra text DEFAULT 'e'"),
    bind("", "ins", ("after-ddl", i4(3), None), (0, 1, 1)) + execute() + SYNC,
    # reads, an empty statement, Flush, closing and reusing a name
    parse("", "") + bind("", "") + execute() + parse("", "SELECT count(*) FROM t") + bind("", "") +
    describe(b"P", "") + FLUSH + execute() + SYNC,
    close(b"S", "ins") + parse("ins", "INSERT INTO t (a) VALUES ($1)") + bind("", "ins", ("reused",)) +
    execute() + SYNC,
    # errors: a bad Parse (position kept), a bad Bind, an unknown statement
    parse("", "INSERT INTO t (a) VALUES ($1) RETURNING nosuch") + bind("", "", ("q",)) + execute() + SYNC,
    bind("", "nosuch") + execute() + SYNC,
    # a simple query between batches still works
    simple("INSERT INTO t (a) VALUES ('simple')"),
]


def ready_count(step):
    """How many ReadyForQuery messages a step's messages are answered with."""
    n, i = 0, 0
    while i < len(step):
        tag = step[i:i + 1]
        length = struct.unpack("!i", step[i + 1:i + 5])[0]
        n += tag in (b"S", b"Q")
        i += 1 + length
    return n


def without_table_oids(body):
    """A RowDescription with its table OIDs zeroed: they differ between databases."""
    n = struct.unpack("!h", body[:2])[0]
    out, i = bytearray(body[:2]), 2
    for _ in range(n):
        end = body.index(b"\0", i) + 1
        out += body[i:end] + b"\0\0\0\0" + body[end + 4:end + 18]
        i = end + 18
    return bytes(out)


def run_steps(port, dbname):
    c = pgwire.RawClient(port, timeout=20)
    try:
        c.login(database=dbname)
        c.send(simple("CREATE TABLE t (id serial PRIMARY KEY, a text, n int, b bytea)"))
        answers = []
        while True:
            tag, body = c.read_message()
            if tag == b"Z":
                break
        for step in STEPS:
            c.send(step)
            want = ready_count(step)
            got = []
            while want:
                m = c.read_message()
                assert m is not None, f"connection closed during step {step!r}"
                tag, body = m
                if tag == b"S":  # ParameterStatus: asynchronous
                    continue
                if tag == b"T":
                    body = without_table_oids(body)
                got.append((tag, body))
                if tag == b"Z":
                    want -= 1
            answers.append(got)
        return answers
    finally:
        c.close()


class ExtendedCaptureTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer())

    def test_raw_extended_protocol_is_identical_and_captured(self):
        px = self.fixture(harness.Sqltapd(self.pg.port, capture={}))
        self.pg.psql("CREATE DATABASE direct")
        self.pg.psql("CREATE DATABASE proxied")
        direct = run_steps(self.pg.port, "direct")
        proxied = run_steps(px.port, "proxied")
        for i, (d, p) in enumerate(zip(direct, proxied)):
            self.assertEqual(d, p, f"step {i}: {STEPS[i][:80]!r}")

        logapply.settled(px.log_dir)
        entries = logapply.entries(px.log_dir)
        text = str(entries)
        for gone in ("lost-1", "lost-2", "undone", "rolled-back"):
            self.assertNotIn(gone, text)
        names = [c["new"]["a"] for e in entries for c in e["changes"] if c["op"] == "insert"]
        self.assertEqual(names, ["x", "y", "z", "kept", "block", "pipe-1", "pipe-2", "after-ddl", "reused", "simple"])
        after_ddl = next(c for e in entries for c in e["changes"] if c["op"] == "insert" and c["new"]["a"] == "after-ddl")
        self.assertEqual(after_ddl["new"]["extra"], "e")
        copy = self.pg.dsn("replica")
        self.pg.psql("CREATE DATABASE replica")
        logapply.apply(copy, entries)
        self.assertEqual(logapply.rows(self.pg.dsn("proxied"), "t"), logapply.rows(copy, "t"))

    def test_extended_function_writes_are_rejected(self):
        px = self.fixture(harness.Sqltapd(self.pg.port, capture={}))
        self.pg.psql("""
CREATE TABLE t (id int PRIMARY KEY);
CREATE FUNCTION f(int) RETURNS int LANGUAGE plpgsql AS $$BEGIN INSERT INTO t VALUES ($1); RETURN $1; END$$;
""")
        c = pgwire.RawClient(px.port, timeout=20)
        c.login()
        c.send(parse("", "SELECT f($1)", (INT4,)) + bind("", "", ("1",)) + execute() + SYNC)
        got = []
        while True:
            tag, body = c.read_message()
            got.append((tag, body))
            if tag == b"Z":
                break
        c.close()
        errors = [pgwire.error_fields(b) for t, b in got if t == b"E"]
        self.assertEqual(len(errors), 1, got)
        self.assertEqual(errors[0]["C"], "0A000")
        self.assertIn("public.t", errors[0]["M"])
        self.assertEqual(got[-1], (b"Z", b"I"))
        self.assertEqual(self.pg.psql("SELECT count(*) FROM t").strip(), "0")

    def test_psycopg_binary_prepared_and_pipeline(self):
        import psycopg
        px = self.fixture(harness.Sqltapd(self.pg.port, capture={}))
        results = {}
        for name, port in (("direct", self.pg.port), ("proxied", px.port)):
            self.pg.psql(f"CREATE DATABASE {name}")
            out = []
            with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=name,
                                 autocommit=True) as conn:
                conn.execute("CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric, tags text[])")
                with conn.cursor(binary=True) as cur:
                    for i in range(8):  # prepared after a few runs
                        cur.execute("INSERT INTO acct VALUES (%s, %s, %s, %s) RETURNING *",
                                    (i, f"o{i}", i * 10.5, ["a", str(i)]), prepare=True)
                        out.append(cur.fetchall())
                    cur.executemany("UPDATE acct SET balance = balance + %s WHERE id = %s",
                                    [(1, i) for i in range(4)])
                    cur.execute("DELETE FROM acct WHERE id = %s RETURNING owner, balance", (7,))
                    out.append(cur.fetchall())
                with conn.pipeline():
                    for i in range(10, 15):
                        conn.execute("INSERT INTO acct (id, owner) VALUES (%s, %s)", (i, f"p{i}"))
                    conn.execute("UPDATE acct SET owner = owner || '+' WHERE id >= 12")
                with conn.transaction():
                    conn.execute("INSERT INTO acct (id, owner) VALUES (%s, 'txn')", (20,))
                    try:
                        with conn.transaction():
                            conn.execute("INSERT INTO acct (id, owner) VALUES (%s, 'nested-undone')", (21,))
                            raise RuntimeError("undo the savepoint")
                    except RuntimeError:
                        pass
                try:
                    with conn.transaction():
                        conn.execute("INSERT INTO acct (id, owner) VALUES (%s, 'txn-undone')", (22,))
                        conn.execute("INSERT INTO acct (id, owner) VALUES (%s, 'dup')", (20,))
                except psycopg.errors.UniqueViolation as e:
                    out.append(str(e))
                out.append(conn.execute("SELECT * FROM acct ORDER BY id").fetchall())
            results[name] = out
        self.assertEqual(results["direct"], results["proxied"])

        logapply.settled(px.log_dir)
        entries = logapply.entries(px.log_dir)
        self.assertNotIn("undone", str(entries))
        self.pg.psql("CREATE DATABASE replica")
        logapply.apply(self.pg.dsn("replica"), [e for e in entries if e["database"] == "proxied"])
        self.assertEqual(logapply.rows(self.pg.dsn("proxied"), "acct"), logapply.rows(self.pg.dsn("replica"), "acct"))


if __name__ == "__main__":
    harness.main()
