#!/usr/bin/python
"""Ansible module: the TCP sockets listening on a host, with the program that holds each one.

It reads /proc/net/tcp and /proc/net/tcp6 (and /proc/<pid>/fd to name the programs) with the
standard library only, so it runs on a bare host: no `ss` (iproute2 is not in a minimal Debian),
no Docker and no Python library beyond the interpreter are needed. The prechecks use it before
anything is installed.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: govmobile_listeners
short_description: List the listening TCP sockets of the host and the programs holding them
description:
  - Reads /proc/net/tcp and /proc/net/tcp6; changes nothing.
options: {}
"""

RETURN = r"""
listeners:
  description: One entry per listening socket.
  type: list
  elements: dict
  returned: always
  sample: [{"address": "127.0.0.1", "port": 443, "program": "nginx", "pid": 812}]
"""

LISTEN = "0A"  # TCP_LISTEN in include/net/tcp_states.h


def _address(hex_address: str) -> str:
    """/proc/net/tcp prints addresses as host-order 32-bit words in hex."""
    raw = bytes.fromhex(hex_address)
    words = struct.unpack("<" + "I" * (len(raw) // 4), raw)
    packed = struct.pack(">" + "I" * len(words), *words)
    address = ipaddress.ip_address(
        socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
    )
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _socket_owners() -> dict[str, tuple[int, str]]:
    """Socket inode -> (pid, program name), for every process we may look into."""
    owners: dict[str, tuple[int, str]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
                program = comm.read().strip()
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    owners.setdefault(target[8:-1], (int(pid), program))
        except OSError:
            continue  # the process ended, or is not ours to read
    return owners


def listeners() -> list[dict[str, object]]:
    owners = _socket_owners()
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as lines:
                rows = lines.read().splitlines()[1:]
        except FileNotFoundError:
            continue  # IPv6 disabled
        for row in rows:
            fields = row.split()
            if fields[3] != LISTEN:
                continue
            local_address, local_port = fields[1].split(":")
            pid, program = owners.get(fields[9], (0, "unknown"))
            found.append(
                {
                    "address": _address(local_address),
                    "port": int(local_port, 16),
                    "program": program,
                    "pid": pid,
                }
            )
    return found


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    module.exit_json(changed=False, listeners=listeners())


if __name__ == "__main__":
    main()
