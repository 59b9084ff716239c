#!/usr/bin/env python3
"""TLS on both legs: verification, .pfx, SCRAM through sqltapd, channel binding, versions."""
import os
import shutil
import socket
import ssl
import struct
import tempfile

import certs
import harness

HBA = """
local   all  all                     trust
hostssl all  postgres    127.0.0.1/32 trust
hostssl all  scram_user  127.0.0.1/32 scram-sha-256
hostssl all  md5_user    127.0.0.1/32 md5
"""


class TlsTest(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="sqltap-certs-")
        os.chmod(cls.certdir, 0o755)
        cls.files = certs.make(cls.certdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.pg = self.fixture(harness.PgServer(hba=HBA, ssl_files=self.files))
        self.pg.psql("SET password_encryption = 'scram-sha-256'; CREATE ROLE scram_user LOGIN PASSWORD 'scram-pw'")
        self.pg.psql("SET password_encryption = 'md5'; CREATE ROLE md5_user LOGIN PASSWORD 'md5-pw'")
        secret = self.pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_user'")
        self.assertTrue(secret.startswith("SCRAM-SHA-256$"))
        self.auth_file = os.path.join(self.certdir, f"userlist-{self.pg.port}.txt")
        with open(self.auth_file, "w") as f:
            f.write(f'"scram_user" "{secret}"\n')

    def proxy(self, **proxy_settings):
        settings = {"tls_cert_file": self.files["server.crt"], "tls_key_file": self.files["server.key"]}
        settings.update(proxy_settings)
        return self.fixture(harness.Sqltapd(self.pg.port, extra_proxy=settings,
                                            extra_publisher={"sslmode": "require"}))

    def psql(self, proxy, sql="SELECT 1", **params):
        conn = {"host": "localhost", "hostaddr": "127.0.0.1", "port": proxy.port, "dbname": "postgres",
                "user": "postgres"}
        conn.update(params)
        dsn = " ".join(f"{k}={v}" for k, v in conn.items())
        return harness.run(["psql", "-X", "-A", "-t", "-d", dsn, "-c", sql], check=False)

    def test_verify_full_and_wrong_host(self):
        p = self.proxy()
        ok = self.psql(p, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                       sslmode="verify-full", sslrootcert=self.files["ca.crt"])
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertEqual(ok.stdout.strip(), "t")  # the publisher leg is TLS too
        wrong = self.psql(p, sslmode="verify-full", sslrootcert=self.files["ca.crt"], host="wrong.example")
        self.assertNotEqual(wrong.returncode, 0)
        self.assertIn("does not match host name", wrong.stderr)
        other_ca = self.psql(p, sslmode="verify-ca", sslrootcert=self.files["other.crt"])
        self.assertNotEqual(other_ca.returncode, 0)
        self.assertIn("certificate verify failed", other_ca.stderr)

    def test_pfx_certificate(self):
        p = self.proxy(tls_cert_file="", tls_key_file="", tls_pfx_file=self.files["server.pfx"],
                       tls_pfx_password="pfx-secret")
        r = self.psql(p, sslmode="verify-full", sslrootcert=self.files["ca.crt"])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_scram_with_tls_on_both_legs(self):
        p = self.proxy(auth_file=self.auth_file)
        r = self.psql(p, "SELECT current_user, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
                      user="scram_user", password="scram-pw", sslmode="require")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "scram_user|t")
        bad = self.psql(p, user="scram_user", password="wrong", sslmode="require")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn('password authentication failed for user "scram_user"', bad.stderr)
        # A client without TLS is relayed (no channel binding is possible or needed).
        plain = self.psql(p, user="scram_user", password="scram-pw", sslmode="disable")
        self.assertEqual(plain.returncode, 0, plain.stderr)
        # A client that requires channel binding gets a clear error from libpq.
        cb = self.psql(p, user="scram_user", password="scram-pw", sslmode="require", channel_binding="require")
        self.assertNotEqual(cb.returncode, 0)
        self.assertIn("channel binding", cb.stderr)
        self.assertNotIn("scram-pw", p.log())

    def test_scram_both_tls_without_secret_is_a_clear_error(self):
        p = self.proxy()
        r = self.psql(p, user="scram_user", password="scram-pw", sslmode="require")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("auth_file", r.stderr)

    def test_md5_relayed_over_tls(self):
        p = self.proxy()
        r = self.psql(p, "SELECT current_user", user="md5_user", password="md5-pw", sslmode="require")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "md5_user")

    def test_tls_below_1_2_is_refused(self):
        p = self.proxy()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            self.skipTest("this OpenSSL cannot even offer TLS 1.1")
        with socket.create_connection(("127.0.0.1", p.port)) as s:
            s.sendall(struct.pack("!ii", 8, 80877103))
            self.assertEqual(s.recv(1), b"S")
            with self.assertRaises((ssl.SSLError, OSError)):
                ctx.wrap_socket(s).do_handshake()

    def test_publisher_verification(self):
        good = self.fixture(harness.Sqltapd(self.pg.port, publisher_host="localhost", extra_publisher={
            "sslmode": "verify-full", "sslrootcert": self.files["ca.crt"]}))
        r = self.psql(good, sslmode="disable")
        self.assertEqual(r.returncode, 0, r.stderr)
        bad = self.fixture(harness.Sqltapd(self.pg.port, publisher_host="localhost", extra_publisher={
            "sslmode": "verify-full", "sslrootcert": self.files["other.crt"]}))
        r = self.psql(bad, sslmode="disable")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("could not establish TLS with the publisher", r.stderr)


if __name__ == "__main__":
    harness.main()
