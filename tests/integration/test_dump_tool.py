#!/usr/bin/env python3
"""sqltap-dump against logs written by the test log writer."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness

DUMP = os.path.join(harness.BUILD_DIR, "bin", "sqltap-dump")
WRITER = os.path.join(harness.BUILD_DIR, "tests", "bin", "log_writer")


def dump(*args, check=True):
    return harness.run([DUMP, *args], check=check)


class DumpToolTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sqltap-dump-test-")
        self.log = os.path.join(self.dir, "log")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, *args):
        harness.run([WRITER, self.log, *map(str, args)])

    def json_lines(self, *args):
        out = dump("--log", self.log, "--format", "json", *args).stdout
        return [json.loads(line) for line in out.splitlines()]

    def test_json_text_ranges_and_filters(self):
        self.write(5)
        entries = self.json_lines()
        self.assertEqual([e["lsn"] for e in entries], [1, 2, 3, 4, 5])
        first = entries[0]
        self.assertEqual(first["xid"], "1001")
        self.assertEqual(first["database"], "app")
        self.assertEqual(first["origin"], "")
        self.assertRegex(first["commit_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual(first["changes"][0], {"op": "insert", "schema": "public", "table": "t",
                                               "new": {"id": "1", "v": "v1"}})
        self.assertEqual(first["changes"][1], {"op": "update", "schema": "public", "table": "t",
                                               "key": {"id": "1"}, "new": {"id": "1", "v": None}})
        self.assertEqual(entries[-1]["changes"][-1], {"op": "ddl", "sql": "ALTER TABLE t ADD COLUMN w int",
                                                      "search_path": "public"})
        self.assertEqual([e["lsn"] for e in self.json_lines("--from", "2", "--to", "3")], [2, 3])
        only_other = self.json_lines("--table", "public.other")
        self.assertEqual(len(only_other), 5)
        self.assertTrue(all(c["table"] == "other" for e in only_other for c in e["changes"]))
        self.assertEqual([e["xid"] for e in self.json_lines("--xid", "1003")], ["1003"])
        text = dump("--log", self.log).stdout
        self.assertIn("LSN 1  xid 1001  database app", text)
        self.assertIn("insert    public.t  new: id=1 v=v1", text)
        self.assertIn("update    public.t  key: id=1  new: id=1 v=NULL", text)

    def test_stats(self):
        self.write(4)
        out = dump("--log", self.log, "--stats").stdout
        self.assertIn("entries:       4 committed, 0 in doubt", out)
        self.assertIn("oldest LSN:    1", out)
        self.assertIn("newest LSN:    4", out)
        self.assertRegex(out, r"public\.t\s+insert\s+4")
        self.assertRegex(out, r"public\.t\s+update\s+4")
        self.assertRegex(out, r"\(ddl\)\s+ddl\s+1")

    def test_in_doubt_hides_what_follows(self):
        self.write(5, "--in-doubt-at", 3)
        self.assertEqual([e["lsn"] for e in self.json_lines()], [1, 2])
        self.assertIn("1 in doubt", dump("--log", self.log, "--stats").stdout)

    def test_follow(self):
        self.write(2)
        p = subprocess.Popen([DUMP, "--log", self.log, "--format", "json", "--follow"], stdout=subprocess.PIPE,
                             text=True)
        try:
            self.assertEqual(json.loads(p.stdout.readline())["lsn"], 1)
            self.assertEqual(json.loads(p.stdout.readline())["lsn"], 2)
            self.write(3)  # a second writer session appends LSN 3..5 while dump follows
            for lsn in (3, 4, 5):
                self.assertEqual(json.loads(p.stdout.readline())["lsn"], lsn)
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(10), 0)
        finally:
            if p.poll() is None:
                p.kill()
            p.stdout.close()

    def test_errors(self):
        r = dump("--log", os.path.join(self.dir, "missing"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no change log in", r.stderr)
        os.makedirs(os.path.join(self.dir, "notalog"))
        with open(os.path.join(self.dir, "notalog", "data.mdb"), "wb") as f:
            f.write(os.urandom(8192))
        r = dump("--log", os.path.join(self.dir, "notalog"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("sqltap-dump:", r.stderr)
        r = dump("--log", self.log, "--format", "xml", check=False)
        self.assertEqual(r.returncode, 2)
        r = dump("--log", self.log, "--from", "abc", check=False)
        self.assertEqual(r.returncode, 2)
        r = dump(check=False)
        self.assertEqual(r.returncode, 2)

    def test_corrupt_record(self):
        self.write(2)
        harness.run([WRITER, self.log, "--garbage"])
        r = dump("--log", self.log, "--format", "json", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stdout.splitlines()), 2)  # what came before is shown
        self.assertIn("corrupt record at LSN 3", r.stderr)

    def test_newer_format(self):
        self.write(1)
        harness.run([WRITER, self.log, "--format", "99"])
        r = dump("--log", self.log, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("has format 99, newer than this program reads", r.stderr)

    def test_help_and_version(self):
        self.assertIn("--follow", dump("--help").stdout)
        self.assertRegex(dump("--version").stdout, r"^sqltap-dump \d+\.\d+\.\d+")


if __name__ == "__main__":
    unittest.main(verbosity=2)
