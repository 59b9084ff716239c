"""A throwaway CA and server certificate (for localhost) made with the openssl CLI."""
import os
import subprocess


def make(dir, cn="localhost", pfx_password="pfx-secret"):
    def ssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=dir)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sqltap test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", "server.key",
        "-out", "server.csr")
    with open(os.path.join(dir, "ext.cnf"), "w") as f:
        f.write(f"subjectAltName=DNS:{cn}\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt")
    ssl("pkcs12", "-export", "-in", "server.crt", "-inkey", "server.key", "-certfile", "ca.crt",
        "-passout", f"pass:{pfx_password}", "-out", "server.pfx")
    # A second CA that signed nothing here, to prove verification fails.
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other CA",
        "-keyout", "other.key", "-out", "other.crt")
    for name in os.listdir(dir):
        os.chmod(os.path.join(dir, name), 0o644)
    os.chmod(os.path.join(dir, "server.key"), 0o600)
    return {name: os.path.join(dir, name) for name in
            ("ca.crt", "server.crt", "server.key", "server.pfx", "other.crt")}
