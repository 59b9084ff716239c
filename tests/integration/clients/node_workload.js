// A node-postgres workload; prints its results as JSON. Usage: node node_workload.js PORT DB
const { Client } = require('pg');

async function main() {
  const [port, database] = process.argv.slice(2);
  const cfg = { host: '127.0.0.1', port: Number(port), user: 'postgres', database };
  const out = [];
  const c = new Client(cfg);
  await c.connect();
  await c.query('DROP TABLE IF EXISTS n');
  await c.query('CREATE TABLE n (id int PRIMARY KEY, v text, j jsonb)');
  // simple protocol (no parameters)
  let r = await c.query("INSERT INTO n VALUES (1, 'a', '{\"k\": 1}'), (2, NULL, NULL)");
  out.push(['simple', r.command, r.rowCount]);
  r = await c.query('SELECT 1 AS x; SELECT 2 AS y');
  out.push(['multi', r.map((x) => x.rows)]);
  // extended protocol (parameters), unnamed and named prepared statements
  r = await c.query('SELECT id, v, j FROM n WHERE id = $1', [1]);
  out.push(['extended', r.rows]);
  for (let i = 3; i < 8; i++) {
    await c.query({ name: 'ins', text: 'INSERT INTO n (id, v) VALUES ($1, $2)', values: [i, 'v' + i] });
  }
  r = await c.query({ name: 'cnt', text: 'SELECT count(*)::int AS c FROM n' });
  out.push(['prepared', r.rows]);
  // several queries queued at once: node-pg sends them back to back
  const batch = await Promise.all([
    c.query('SELECT $1::int + 1 AS a', [1]),
    c.query('SELECT $1::text AS b', ['two']),
    c.query("SELECT 'three' AS c"),
  ]);
  out.push(['queued', batch.map((x) => x.rows)]);
  // an error inside a transaction, then ROLLBACK
  await c.query('BEGIN');
  await c.query("INSERT INTO n (id, v) VALUES (100, 'x')");
  try {
    await c.query('INSERT INTO n (id) VALUES (1)');
  } catch (e) {
    out.push(['error', e.code, e.message]);
  }
  try {
    await c.query('SELECT 1');
  } catch (e) {
    out.push(['aborted', e.code]);
  }
  await c.query('ROLLBACK');
  r = await c.query('SELECT count(*)::int AS c FROM n');
  out.push(['after rollback', r.rows]);
  // LISTEN/NOTIFY between two clients
  const other = new Client(cfg);
  await other.connect();
  const got = [];
  const done = new Promise((resolve) => {
    c.on('notification', (m) => {
      got.push([m.channel, m.payload, m.processId === other.processID]);
      if (got.length === 2) resolve();
    });
  });
  await c.query('LISTEN ev');
  await other.query("NOTIFY ev, 'one'");
  await other.query("SELECT pg_notify('ev', 'two')");
  await done;
  out.push(['notify', got]);
  await other.end();
  await c.end();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
