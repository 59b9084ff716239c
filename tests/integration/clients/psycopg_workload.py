"""A psycopg 3 workload; prints its results as JSON. Usage: psycopg_workload.py DSN [DSN2]"""
import json
import sys

import psycopg


def main(dsn):
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS t")
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text, n numeric, b bytea)")
        # simple protocol
        cur = psycopg.ClientCursor(conn)
        cur.execute("INSERT INTO t VALUES (1, 'one', 1.5, '\\x0102'), (2, NULL, NULL, NULL)")
        out.append(["simple insert", cur.rowcount, cur.statusmessage])
        cur.execute("SELECT id, v FROM t ORDER BY id; SELECT 42")
        out.append(["simple multi", cur.fetchall(), cur.nextset(), cur.fetchall()])
        # extended protocol, text and binary results
        out.append(["extended", conn.execute("SELECT id, v, n FROM t WHERE id = %s", [1]).fetchall()])
        bcur = conn.cursor(binary=True)
        bcur.execute("SELECT id, b, n, now() IS NOT NULL FROM t ORDER BY id")
        out.append(["binary", [[r[0], None if r[1] is None else bytes(r[1]).hex(), str(r[2]), r[3]]
                               for r in bcur.fetchall()]])
        # named prepared statements
        for i in range(3, 9):
            conn.execute("INSERT INTO t (id, v) VALUES (%s, %s)", [i, f"v{i}"], prepare=True)
        out.append(["prepared", conn.execute("SELECT count(*) FROM t", prepare=True).fetchone()])
        # a pipelined batch
        with conn.pipeline():
            c1 = conn.execute("UPDATE t SET v = upper(v) WHERE id > %s", [4])
            c2 = conn.execute("SELECT id, v FROM t WHERE id > %s ORDER BY id", [4])
            c3 = conn.execute("SELECT %s::text || 'x'", ["pipe"])
        out.append(["pipeline", c1.rowcount, c2.fetchall(), c3.fetchall()])
        # COPY both ways
        with conn.cursor() as c:
            with c.copy("COPY t (id, v) FROM STDIN") as cp:
                for i in range(100, 1100):
                    cp.write_row((i, f"row {i}"))
            with c.copy("COPY (SELECT id, v FROM t ORDER BY id) TO STDOUT") as cp:
                rows = [bytes(b) for b in cp]
            out.append(["copy", len(rows), rows[0].decode(), rows[-1].decode()])
        # an error inside a transaction, then ROLLBACK
        conn.autocommit = False
        try:
            conn.execute("INSERT INTO t (id) VALUES (1)")
        except psycopg.errors.UniqueViolation as e:
            out.append(["error", e.sqlstate, str(e).splitlines()[0]])
        try:
            conn.execute("SELECT 1")
        except psycopg.errors.InFailedSqlTransaction as e:
            out.append(["aborted", e.sqlstate])
        conn.rollback()
        out.append(["after rollback", conn.execute("SELECT count(*) FROM t").fetchone()])
        conn.commit()
        conn.autocommit = True
        # LISTEN/NOTIFY between two clients
        with psycopg.connect(dsn, autocommit=True) as other:
            got = []
            conn.add_notify_handler(lambda n: got.append([n.channel, n.payload, n.pid == other.info.backend_pid]))
            conn.execute("LISTEN events")
            other.execute("NOTIFY events, 'first'")
            other.execute("SELECT pg_notify('events', 'second')")
            conn.execute("SELECT 1")
            out.append(["notify", got])
        # a notice
        notices = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        conn.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 7; END $$")
        out.append(["notice", notices])
        out.append(["backend pid matches", conn.execute("SELECT pg_backend_pid()").fetchone()[0] == conn.info.backend_pid])
    print(json.dumps(out, default=str, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
