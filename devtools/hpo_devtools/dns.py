"""The dev node's cluster DNS: `<service>.<namespace>.svc.cluster.local` → the Service's ClusterIP.

Why: pods reach the API server as `kubernetes.default.svc` (kopf's in-cluster login uses that
name, not `$KUBERNETES_SERVICE_HOST`), which needs a cluster DNS, and no CoreDNS image can be
pulled here. This answers just what a cluster DNS must (A records of Services, read from the API
server), over UDP. It never forwards: a name outside the cluster domain is NXDOMAIN, so no query
leaves the machine.

    python -m hpo_devtools.dns --listen ADDR --server URL --certs DIR
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import socket
import ssl
import struct
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["answer", "main", "service_resolver"]

CLUSTER_DOMAIN = "cluster.local"
TTL = 5
_A, _AAAA, _IN = 1, 28, 1
_NOERROR, _FORMERR, _NXDOMAIN, _NOTIMP = 0, 1, 3, 4

Resolver = Callable[[str, str], str | None]  # (namespace, service) -> ClusterIP or None


def answer(query: bytes, resolve: Resolver) -> bytes | None:
    """The response to one DNS query message, or None for what is not a query."""
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000:  # a response, not a query
        return None
    opcode = (flags >> 11) & 0xF
    recursion = flags & 0x0100
    if opcode != 0 or qdcount != 1:
        return _message(ident, recursion, _NOTIMP if opcode else _FORMERR, b"", [])
    labels: list[str] = []
    offset = 12
    while offset < len(query) and query[offset] != 0:
        length = query[offset]
        if length & 0xC0 or offset + 1 + length > len(query):
            return _message(ident, recursion, _FORMERR, b"", [])
        labels.append(query[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    offset += 1
    if offset + 4 > len(query):
        return _message(ident, recursion, _FORMERR, b"", [])
    qtype, qclass = struct.unpack("!HH", query[offset : offset + 4])
    question = query[12 : offset + 4]
    name = ".".join(labels).lower().rstrip(".")
    suffix = f".svc.{CLUSTER_DOMAIN}"
    parts = name.removesuffix(suffix).split(".") if name.endswith(suffix) else []
    address = resolve(parts[1], parts[0]) if len(parts) == 2 and qclass == _IN else None
    if address is None:
        return _message(ident, recursion, _NXDOMAIN, question, [])
    if qtype != _A:
        return _message(ident, recursion, _NOERROR, question, [])  # the name exists: no data
    record = struct.pack("!HHHIH", 0xC00C, _A, _IN, TTL, 4)
    return _message(ident, recursion, _NOERROR, question, [record + socket.inet_aton(address)])


def _message(
    ident: int, recursion: int, rcode: int, question: bytes, answers: list[bytes]
) -> bytes:
    flags = 0x8000 | 0x0400 | recursion | rcode  # response, authoritative
    header = struct.pack("!HHHHHH", ident, flags, 1 if question else 0, len(answers), 0, 0)
    return header + question + b"".join(answers)


def service_resolver(server: str, certs: Path, cache_seconds: float = 2.0) -> Resolver:
    """Look Services up in the API server (admin client certificate), cached briefly."""
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    context.load_cert_chain(str(certs / "admin.crt"), str(certs / "admin.key"))
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    cache: dict[tuple[str, str], tuple[float, str | None]] = {}

    def resolve(namespace: str, service: str) -> str | None:
        key = (namespace, service)
        now = time.monotonic()
        if key in cache and cache[key][0] > now:
            return cache[key][1]
        address: str | None = None
        try:
            url = f"{server}/api/v1/namespaces/{namespace}/services/{service}"
            with opener.open(url, timeout=2.0) as response:
                cluster_ip = json.loads(response.read()).get("spec", {}).get("clusterIP")
            if cluster_ip and cluster_ip != "None":
                address = str(ipaddress.IPv4Address(cluster_ip))
        except (OSError, ValueError, urllib.error.URLError):
            address = None
        cache[key] = (now + cache_seconds, address)
        return address

    return resolve


def serve(listen: str, port: int, resolve: Resolver) -> None:
    """Answer UDP queries on (listen, port) until killed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((listen, port))
        while True:
            query, peer = sock.recvfrom(4096)
            reply = answer(query, resolve)
            if reply is not None:
                sock.sendto(reply, peer)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpo_devtools.dns", description=__doc__)
    parser.add_argument("--listen", required=True, help="address to answer on")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--server", required=True, help="the API server's URL")
    parser.add_argument("--certs", required=True, type=Path, help="ca.crt, admin.crt, admin.key")
    args = parser.parse_args(argv)
    serve(args.listen, args.port, service_resolver(args.server, args.certs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
