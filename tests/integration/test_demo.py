#!/usr/bin/env python3
"""scripts/demo, the README's first command: it ends saying that the
subscriber's tables equal the publisher's, and Ctrl-C midway leaves no
process or temp dir behind."""
import os
import re
import signal
import subprocess
import time

import harness

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
DEMO = os.path.join(ROOT, "scripts", "demo")


def env():
    e = dict(os.environ)
    e["SQLTAP_BUILD_DIR"] = harness.BUILD_DIR
    return e


def processes_mentioning(text):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(f"{pid}: {cmd}")
    return found


class DemoTest(harness.TestCase):
    def test_demo_ends_with_equal_tables(self):
        r = subprocess.run([DEMO, "--seconds", "6"], capture_output=True, text=True, env=env(), timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        self.assertIn("done: the subscriber's tables equal the publisher's", r.stdout)
        self.assertRegex(r.stdout, r"pgbench_accounts +equal +\(100000 rows")
        self.assertRegex(r.stdout, r"lag +0 entries")
        work = re.search(r"(/tmp/sqltap-demo\.\w+)", r.stdout).group(1)
        self.assertFalse(os.path.exists(work))
        self.assertEqual(processes_mentioning(work), [])

    def test_ctrl_c_midway_leaves_nothing_behind(self):
        p = subprocess.Popen([DEMO, "--seconds", "30"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env(), start_new_session=True)
        out = ""
        deadline = time.time() + 300
        while "seconds of pgbench" not in out and time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            out += line
        self.assertIn("seconds of pgbench", out)
        work = re.search(r"(/tmp/sqltap-demo\.\w+)", out).group(1)
        time.sleep(3)  # midway through the workload
        self.assertTrue(os.path.exists(work))
        self.assertNotEqual(processes_mentioning(work), [])
        os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        rest, _ = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 130, out + rest)
        self.assertIn("interrupted", rest)
        self.assertFalse(os.path.exists(work), "the temp dir is left")
        self.assertEqual(processes_mentioning(work), [])


if __name__ == "__main__":
    harness.main()
