"""A minimal raw PostgreSQL protocol client for tests that must send bad bytes."""
import socket
import struct


def startup_packet(user="postgres", database="postgres", version=196608, extra=None):
    params = {"user": user, "database": database}
    params.update(extra or {})
    body = struct.pack("!i", version)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def message(tag, body=b""):
    return tag + struct.pack("!i", len(body) + 4) + body


def query(sql):
    return message(b"Q", sql.encode() + b"\0")


class RawClient:
    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def read_message(self):
        """(tag, body), or None at EOF."""
        while len(self.buf) < 5:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        tag = self.buf[:1]
        length = struct.unpack("!i", self.buf[1:5])[0]
        while len(self.buf) < 1 + length:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        body = self.buf[5:1 + length]
        self.buf = self.buf[1 + length:]
        return tag, body

    def login(self, user="postgres", database="postgres"):
        """Trust login; returns the BackendKeyData (pid, key)."""
        self.send(startup_packet(user, database))
        key = None
        while True:
            m = self.read_message()
            if m is None:
                raise ConnectionError("closed during login")
            tag, body = m
            if tag == b"K":
                key = struct.unpack("!ii", body)
            if tag == b"E":
                raise ConnectionError(error_fields(body))
            if tag == b"Z":
                return key

    def read_until_closed(self):
        """All messages until the server closes the connection."""
        out = []
        try:
            while True:
                m = self.read_message()
                if m is None:
                    return out
                out.append(m)
        except (ConnectionResetError, socket.timeout):
            return out


def error_fields(body):
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields
