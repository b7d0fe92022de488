"""This machine's address on Docker's default bridge: where a container reaches a server on the host."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any


def host_address(bridge: Mapping[str, Any]) -> str:
    """The bridge network's gateway (`docker network inspect bridge`).

    Engines that were not told one (20.10 on Debian, for one) leave `Gateway` out of the
    IPAM config and give the host the subnet's first address, as Docker always does then.
    """
    config = bridge["IPAM"]["Config"][0]
    return str(config.get("Gateway") or ipaddress.ip_network(config["Subnet"])[1])
