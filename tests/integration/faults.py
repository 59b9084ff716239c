"""A fault-injecting TCP relay for tests: it forwards a local port to a
target port, and can cut every connection through it (and refuse new ones)
until restored, as a broken network would."""
import socket
import threading

import harness


class FaultRelay:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = harness.free_port()
        self._lock = threading.Lock()
        self._conns = []  # (client socket, server socket)
        self._cut = False
        self._closed = False
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", self.port), backlog=256)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self._cut or self._closed
            if refuse:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        """Drops every connection at once and refuses new ones."""
        with self._lock:
            self._cut = True
            conns, self._conns = self._conns, []
            self.cuts += 1
        for pair in conns:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def restore(self):
        with self._lock:
            self._cut = False

    def dump_log(self):
        pass

    def cleanup(self):
        with self._lock:
            self._closed = True
        self._listener.close()
        self.cut()
