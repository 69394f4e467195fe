"""Where a request comes from: IP address and a readable device label."""

import re
from dataclasses import dataclass
from functools import lru_cache

from user_agents import parse

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@lru_cache(maxsize=1024)
def device_label(user_agent: str) -> str:
    """'Firefox on Linux', 'Mobile Safari on iOS', or 'Unknown device'."""
    if not user_agent:
        return "Unknown device"
    agent = parse(user_agent)
    browser = agent.browser.family
    os_name = agent.os.family
    if agent.is_bot:
        return f"Bot ({browser})"[:128]
    parts = [p for p in (browser, os_name) if p and p != "Other"]
    if not parts:
        return (user_agent.split("/")[0].strip() or "Unknown device")[:128]
    if len(parts) == 2:
        return f"{parts[0]} on {parts[1]}"[:128]
    return parts[0][:128]


@dataclass(frozen=True)
class Origin:
    """Where the request that calls a flow comes from (its IP address and user agent), so
    flows never need to look at `request`. Not the HTTP `Origin` header (guards.py)."""

    ip_address: str = ""
    user_agent: str = ""

    @property
    def device(self) -> str:
        return device_label(self.user_agent[:512])

    @classmethod
    def of_request(cls) -> "Origin":
        from flask import request

        return cls(
            ip_address=(request.remote_addr or "")[:64],
            # Control characters (NUL above all, which PostgreSQL refuses in text) are dropped.
            user_agent=_CONTROL.sub("", request.headers.get("User-Agent", ""))[:512],
        )
