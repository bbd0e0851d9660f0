"""The dev node's cluster DNS answers Services' A records and nothing else (never forwards)."""

from __future__ import annotations

import socket
import struct

from hpo_devtools.dns import answer

SERVICES = {("default", "kubernetes"): "10.0.0.1"}


def resolve(namespace: str, service: str) -> str | None:
    return SERVICES.get((namespace, service))


def query(name: str, qtype: int = 1, ident: int = 0x1234) -> bytes:
    body = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + body + struct.pack("!HH", qtype, 1)


def parse(reply: bytes) -> tuple[int, int, int, list[str]]:
    ident, flags, _, ancount = struct.unpack("!HHHH", reply[:8])
    addresses = [socket.inet_ntoa(reply[-4:])] if ancount else []
    return ident, flags & 0xF, ancount, addresses


def test_a_service_name_resolves_to_its_cluster_ip() -> None:
    reply = answer(query("kubernetes.default.svc.cluster.local"), resolve)
    assert reply is not None
    assert parse(reply) == (0x1234, 0, 1, ["10.0.0.1"])
    assert struct.unpack("!H", reply[2:4])[0] & 0x8400 == 0x8400  # a response, authoritative


def test_names_are_case_insensitive() -> None:
    reply = answer(query("Kubernetes.Default.SVC.cluster.local"), resolve)
    assert reply is not None and parse(reply)[3] == ["10.0.0.1"]


def test_aaaa_of_a_service_is_empty_not_an_error() -> None:
    reply = answer(query("kubernetes.default.svc.cluster.local", qtype=28), resolve)
    assert reply is not None and parse(reply)[1:3] == (0, 0)


def test_unknown_and_outside_names_are_nxdomain() -> None:
    for name in ("missing.default.svc.cluster.local", "example.com", "kubernetes.default.svc"):
        reply = answer(query(name), resolve)
        assert reply is not None and parse(reply)[1] == 3, name


def test_garbage_and_responses_get_no_answer_or_formerr() -> None:
    assert answer(b"\x00\x01", resolve) is None
    response = bytearray(query("kubernetes.default.svc.cluster.local"))
    response[2] |= 0x80
    assert answer(bytes(response), resolve) is None
    truncated = query("kubernetes.default.svc.cluster.local")[:20]
    reply = answer(truncated, resolve)
    assert reply is not None and parse(reply)[1] == 1
