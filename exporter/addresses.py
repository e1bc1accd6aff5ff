"""Client addresses as a fair share counts them: an IPv4 address, or an IPv6 address's /64."""

from __future__ import annotations

import ipaddress


def address_key(remote: str | None) -> str:
    """The share a client draws on: its IPv4 address, or its IPv6 address's /64 (one host
    commonly holds a whole /64, so a share per address would be no bound)."""
    text = remote or ""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:  # not an IP address (a Unix socket): one share for all of them
        return text
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
