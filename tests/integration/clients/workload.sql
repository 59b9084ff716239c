-- Run by psql against the publisher directly and through sqltapd; the outputs
-- must be identical (after masking backend process ids).
CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int, price numeric(10,2),
                    tags text[], meta jsonb, created date DEFAULT '2024-01-01');
INSERT INTO items (name, qty, price, tags, meta)
VALUES ('apple', 3, 1.25, '{red,fruit}', '{"a": 1}'), ('pear', NULL, 0.5, '{}', NULL)
RETURNING id, name, created;
SELECT * FROM items ORDER BY id;
PREPARE by_id(int) AS SELECT name, qty FROM items WHERE id = $1;
EXECUTE by_id(1);
EXECUTE by_id(2);
DEALLOCATE by_id;
SELECT 1 AS a\; SELECT 2 AS b\; SELECT 'multi' AS c;
BEGIN;
INSERT INTO items (name) VALUES ('rolled back');
SELECT 1/0;
SELECT 1;
ROLLBACK;
SELECT count(*) FROM items WHERE name = 'rolled back';
COPY items (name, qty) FROM STDIN;
banana	5
cherry	\N
\.
COPY (SELECT id, name, qty FROM items ORDER BY id) TO STDOUT;
COPY (SELECT id, name FROM items ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER);
SELECT count(*), sum(length(name)) FROM items;
LISTEN chan;
NOTIFY chan, 'hello';
DO $$ BEGIN RAISE NOTICE 'a notice from the server'; END $$;
SELECT length(repeat('x', 300000)) AS big, md5(repeat('y', 300000)) AS big_md5;
SELECT repeat('z', 400000) = repeat('z', 400000) AS big_row;
SELECT * FROM no_such_table;
SELECT 'after error' AS still_working;
\echo done
