#!/usr/bin/env python3
"""Protocol corners through sqltapd: GSSENCRequest, FunctionCall, NegotiateProtocolVersion,
startup parameters and ParameterStatus."""
import os
import struct
import tempfile

import harness
from pgwire import RawClient, error_fields, startup_packet


class ProtocolTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer())
        self.proxy = self.fixture(harness.Sqltapd(self.pg.port))

    def test_gssenc_request_is_declined(self):
        c = RawClient(self.proxy.port)
        c.send(struct.pack("!ii", 8, 80877104))
        self.assertEqual(c.sock.recv(1), b"N")
        c.send(startup_packet())  # and the session goes on in the clear
        tags = []
        while True:
            tag, body = c.read_message()
            tags.append(tag)
            if tag == b"Z":
                break
        self.assertIn(b"R", tags)
        c.close()
        r = harness.run(["psql", "-X", "-A", "-t", "-d", self.proxy.dsn(gssencmode="prefer"), "-c", "SELECT 1"])
        self.assertEqual(r.stdout.strip(), "1")

    def test_function_call_via_large_objects(self):
        # libpq's lo_import/lo_export speak the FunctionCall message.
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "in.bin")
            dst = os.path.join(d, "out.bin")
            data = os.urandom(300000)
            with open(src, "wb") as f:
                f.write(data)
            r = harness.run(["psql", "-X", "-d", self.proxy.dsn(), "-c", f"\\lo_import {src}"])
            oid = r.stdout.split()[1]
            harness.run(["psql", "-X", "-d", self.proxy.dsn(), "-c", f"\\lo_export {oid} {dst}"])
            with open(dst, "rb") as f:
                self.assertEqual(f.read(), data)

    def test_negotiate_protocol_version_is_relayed(self):
        c = RawClient(self.proxy.port)
        c.send(startup_packet(version=(3 << 16) | 9, extra={"_pq_.some_option": "x"}))
        msgs = []
        while True:
            m = c.read_message()
            self.assertIsNotNone(m)
            msgs.append(m)
            if m[0] in (b"Z", b"E"):
                break
        c.close()
        nego = [b for t, b in msgs if t == b"v"]
        self.assertEqual(len(nego), 1, msgs)
        minor, count = struct.unpack("!ii", nego[0][:8])
        self.assertEqual(minor, 3 << 16)  # PostgreSQL 15 answers with its newest version, 3.0
        self.assertEqual(count, 1)
        self.assertIn(b"_pq_.some_option", nego[0])
        self.assertEqual(msgs[-1][0], b"Z")

    def test_startup_parameters_and_parameter_status(self):
        c = RawClient(self.proxy.port)
        c.send(startup_packet(extra={"application_name": "through-sqltap", "TimeZone": "Asia/Tokyo",
                                     "options": "-c search_path=pg_catalog"}))
        status = {}
        while True:
            tag, body = c.read_message()
            if tag == b"S":
                k, v, _ = body.split(b"\0")
                status[k.decode()] = v.decode()
            if tag == b"Z":
                break
        self.assertEqual(status["application_name"], "through-sqltap")
        self.assertEqual(status["TimeZone"], "Asia/Tokyo")
        self.assertIn("server_version", status)
        c.send(b"Q" + struct.pack("!i", 4 + len(b"SHOW search_path\0")) + b"SHOW search_path\0")
        rows = []
        while True:
            tag, body = c.read_message()
            if tag == b"D":
                rows.append(body[6:].decode())
            if tag == b"Z":
                break
        self.assertEqual(rows, ["pg_catalog"])
        c.close()

    def test_server_error_at_login_is_passed_on(self):
        c = RawClient(self.proxy.port)
        c.send(startup_packet(database="no_such_db"))
        msgs = c.read_until_closed()
        self.assertEqual(msgs[-1][0], b"E")  # after AuthenticationOk, as PostgreSQL does it
        self.assertEqual(error_fields(msgs[-1][1])["C"], "3D000")
        c.close()

    def test_replication_connections_are_refused(self):
        r = harness.run(["psql", "-X", "-d", self.proxy.dsn(replication="database"), "-c", "IDENTIFY_SYSTEM"],
                        check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("replication connections are not supported", r.stderr)


if __name__ == "__main__":
    harness.main()
