"""Fixtures of the mfn Python package's tests.

The package under test is the installed wheel (scripts/test.sh installs it into a fresh
venv). Client tests start real `mfn serve` processes: the binary is `$MFN_BIN` (skipped
when unset), on free loopback ports, with a hermetic environment (`MFN_ENV=dev`, graphs
in memory, nothing MFN_*/GRPC_* inherited), as scripts/interop/grpc_interop.py does.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts" / "interop"))


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Server:
    """One `mfn serve` on free loopback ports; `env` adds MFN_* settings."""

    def __init__(self, mfn: str, logdir: Path, name: str, env: dict | None = None) -> None:
        self.mfn, self.name, self.extra = mfn, name, env or {}
        self.log_path = logdir / f"server-{name}.log"
        self.proc = None

    def start(self, tls: bool = False) -> "Server":
        self.grpc_port, self.http_port = free_ports(2)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MFN_", "GRPC_"))}
        env.update({"MFN_ENV": "dev", "MFN_DATA_DIR": ":memory:"}, **self.extra)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.mfn, "serve", "--host", "127.0.0.1", "--grpc-port", str(self.grpc_port),
             "--http-port", str(self.http_port)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.wait_ready(tls)
        return self

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def wait_ready(self, tls: bool, timeout: float = 60.0) -> None:
        # The HTTP port answers /ready once the server is up (plain HTTP even with TLS
        # on gRPC? not assumed: poll the TCP port, then the gRPC port).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mfn serve exited ({self.proc.returncode}): {self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.grpc_port), timeout=0.5):
                    with socket.create_connection(("127.0.0.1", self.http_port), timeout=0.5):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"mfn serve not listening after {timeout} s: {self.tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


@pytest.fixture(scope="session")
def mfn_bin() -> str:
    path = os.environ.get("MFN_BIN")
    if not path:
        pytest.skip("MFN_BIN (the mfn binary) is not set: client tests need a real mfn serve")
    return path


@pytest.fixture(scope="session")
def logdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def make_server(mfn_bin, logdir):
    started: list[Server] = []

    def make(name: str, env: dict | None = None, tls: bool = False) -> Server:
        s = Server(mfn_bin, logdir, name, env).start(tls)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def plain_server(make_server) -> Server:
    return make_server("plain")


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> dict:
    """A CA, a server certificate (SAN localhost, 127.0.0.1) and a client certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def builder(subject, issuer, pub):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                .public_key(pub).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1)))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (builder(name("mfn-py test CA"), name("mfn-py test CA"), ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))

    def leaf(cn, server):
        key = ec.generate_private_key(ec.SECP256R1())
        b = (builder(name(cn), ca.subject, key.public_key())
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 ca_key.public_key()), critical=False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        else:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        return b.sign(ca_key, hashes.SHA256()), key

    def pem(c):
        return c.public_bytes(serialization.Encoding.PEM)

    def pem_key(k):
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())

    srv, srv_key = leaf("localhost", True)
    cli, cli_key = leaf("mfn-py-client", False)
    d = tmp_path_factory.mktemp("pki")
    files = {"ca.pem": pem(ca), "server.pem": pem(srv), "server.key": pem_key(srv_key),
             "client.pem": pem(cli), "client.key": pem_key(cli_key)}
    for f, data in files.items():
        (d / f).write_bytes(data)
    return {"dir": d, "ca": files["ca.pem"], "client_cert": files["client.pem"],
            "client_key": files["client.key"]}
