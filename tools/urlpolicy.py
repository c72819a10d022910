"""The URL policy's pure rules: which URLs and hosts the browser may reach.

Hosts are canonicalised the way Chromium does it, by ada (``ada-url``: the WHATWG URL parser that
Node.js uses, tested against the WHATWG suite) before any rule is applied, so that a URL cannot mean
one host to us and another to the browser: tabs and newlines are dropped, ``\\`` is ``/``, userinfo is
cut at the last ``@``, the host is percent-decoded and IDNA-mapped (UTS 46: full-width letters, ``。``),
and IPv4 is read in every notation a browser accepts (``127.1``, ``0x7f000001``, ``2130706433``,
``0177.0.0.1``). On top of ada: a trailing dot is dropped from a name, control characters are refused,
and IPv6 that embeds IPv4 is judged by that IPv4.

Patterns (``allow``/``block``): ``example.com`` (that host only), ``*.example.com`` (it and every
subdomain), ``*`` (any host), an IP address or network (``10.0.0.0/8``), each optionally with a
``:port`` and a ``scheme://`` prefix. Block wins over allow; with an allow list, a host must match it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ada_url import HostType, parse_url
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SPECIAL_SCHEMES = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
# Names that always mean this machine or its local network, whatever DNS says.
PRIVATE_SUFFIXES = ("localhost", "local", "internal", "localdomain", "home.arpa")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, CR and LF are dropped, as a browser does
_SCHEME = re.compile(r"[\x00-\x20]*([A-Za-z][A-Za-z0-9+.\-]*):")
# A bare host (a proxy's CONNECT target, a pattern) holds none of these; ':' only inside [IPv6].
_NOT_IN_HOST = re.compile(r"[\x00-\x20/\\?#@\x7f]")
_ATTRIBUTES = ("protocol", "hostname", "port", "host_type")


class PolicyError(ValueError):
    """A URL or pattern that cannot be understood; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where a URL goes, canonicalised: scheme, host (ASCII, lower case, or an IP's text) and port."""

    scheme: str
    host: str
    port: int | None
    ip: IPAddress | None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


# -- canonical form (ada) --------------------------------------------------------------------


def _parse(url: str, what: str) -> dict:
    try:
        return dict(parse_url(url, attributes=_ATTRIBUTES))
    except ValueError:
        if not _SCHEME.match(url.replace("\t", "").replace("\n", "").replace("\r", "")):
            raise PolicyError(f"{what} is not an absolute URL (no scheme)") from None
        raise PolicyError(f"{what} is not valid by the URL standard (WHATWG), so no browser would open it") from None


def _host(parts: dict) -> tuple[str, IPAddress | None]:
    """ada's hostname and host type -> (canonical text, the IP address if it is one)."""
    name = parts["hostname"]
    if parts["host_type"] == HostType.IPV4:
        return name, ipaddress.IPv4Address(name)
    if parts["host_type"] == HostType.IPV6:
        return name, ipaddress.IPv6Address(name[1:-1])
    name = name.rstrip(".")  # 'evil.com.' is the DNS name evil.com
    if not name:
        raise PolicyError("the URL has no host")
    return name, None


def canonical_host(host: str) -> tuple[str, IPAddress | None]:
    """``host`` (no port) as the browser will connect to it: (text, IP address if it is one)."""
    if host.startswith("[") and host.endswith("]"):
        host = host.split("%", 1)[0].removesuffix("]") + "]"  # an IPv6 zone (fe80::1%eth0) names no other host
    elif ":" in host:
        raise PolicyError(f"host {host!r} holds a character no host may hold")
    if not host:
        raise PolicyError("the URL has no host")
    if _NOT_IN_HOST.search(host):
        raise PolicyError(f"host {host!r} holds a character no host may hold")
    return _host(_parse(f"http://{host}/", f"host {host!r}"))


def parse_target(url: str) -> Target:
    """Scheme, canonical host and port of ``url``, read as Chromium reads it."""
    if _CONTROL.search(url):
        raise PolicyError("the URL holds control characters")
    parts = _parse(url, repr(url))
    scheme = parts["protocol"].removesuffix(":")
    port = int(parts["port"]) if parts["port"] else SPECIAL_SCHEMES.get(scheme)
    if scheme not in SPECIAL_SCHEMES:
        return Target(scheme, parts["hostname"], port, None)
    name, ip = _host(parts)
    return Target(scheme, name, port, ip)


def is_private(ip: IPAddress) -> bool:
    """Loopback, private, link-local, unspecified, reserved or multicast: not the public internet."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip.packed[:12] == bytes(12) and int(ip) > 1:
            embedded = ipaddress.IPv4Address(ip.packed[12:])  # IPv4-compatible ::a.b.c.d
        if embedded is not None and is_private(embedded):
            return True
    return not ip.is_global or ip.is_multicast


def is_private_name(host: str) -> bool:
    return any(host == s or host.endswith("." + s) for s in PRIVATE_SUFFIXES)


# -- patterns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostPattern:
    """One ``allow``/``block`` entry, parsed."""

    text: str
    scheme: str | None
    host: str  # "*", "*.example.com", "example.com", an IP's text, or "" for a network
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    port: int | None

    @property
    def wildcard(self) -> bool:
        return self.host == "*"

    def matches(self, target: Target) -> bool:
        if self.scheme is not None and self.scheme != target.scheme:
            return False
        if self.port is not None and self.port != target.port:
            return False
        if self.network is not None:
            return target.ip is not None and _ip_in(target.ip, self.network)
        if self.host == "*":
            return True
        if self.host.startswith("*."):
            base = self.host[2:]
            return target.host == base or target.host.endswith("." + base)
        return target.host == self.host


def _ip_in(ip: IPAddress, network) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.version == network.version and ip in network


def parse_pattern(text: str) -> HostPattern:
    raw = text.strip()
    scheme = None
    m = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*)://", raw)
    if m:
        scheme, raw = m.group(1).lower(), raw[m.end():]
    raw = raw.rstrip("/")
    if not raw or any(c in raw for c in "?#@ \\"):
        raise PolicyError(f"pattern {text!r}: expected a host like example.com, *.example.com, 10.0.0.0/8")
    port = None
    if raw.startswith("[") and "]:" in raw:
        raw, _, port_text = raw.rpartition(":")
        port = _pattern_port(text, port_text)
    elif raw.count(":") == 1 and "/" not in raw:
        raw, _, port_text = raw.partition(":")
        port = _pattern_port(text, port_text)
    if "/" in raw:
        try:
            network = ipaddress.ip_network(raw.strip("[]"), strict=False)
        except ValueError:
            raise PolicyError(f"pattern {text!r}: {raw!r} is not an IP network") from None
        return HostPattern(text, scheme, "", network, port)
    if raw == "*":
        return HostPattern(text, scheme, "*", None, port)
    wildcard = raw.startswith("*.")
    body = raw[2:] if wildcard else raw
    if "*" in body:
        raise PolicyError(f"pattern {text!r}: '*' may only stand for the whole host or lead it as '*.'")
    if ":" in body and not body.startswith("["):
        body = f"[{body}]"  # a bare IPv6 address
    try:
        host, ip = canonical_host(body)
    except PolicyError as exc:
        raise PolicyError(f"pattern {text!r}: {exc}") from None
    if ip is not None:
        if wildcard:
            raise PolicyError(f"pattern {text!r}: an IP address takes no '*.'")
        net = ipaddress.ip_network(ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip)
        return HostPattern(text, scheme, host, net, port)
    return HostPattern(text, scheme, f"*.{host}" if wildcard else host, None, port)


def _pattern_port(text: str, port_text: str) -> int:
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise PolicyError(f"pattern {text!r}: {port_text!r} is not a port")
    return int(port_text)


# -- the policy ------------------------------------------------------------------------------


class UrlPolicy(BaseModel):
    """Where the browser may go. Recorded in meta.json with the env's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: list[str] = Field(default_factory=list, description="Host patterns; if any, a host must match one.")
    block: list[str] = Field(default_factory=list, description="Host patterns never reached (wins over allow).")
    schemes: list[str] = Field(default_factory=lambda: ["http", "https"], description="Schemes a page may be opened with.")
    private_network: bool = Field(
        default=False, description="Reach loopback, private and link-local addresses (and localhost, *.local)."
    )

    @field_validator("allow", "block")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        for p in v:
            parse_pattern(p)
        return v

    @field_validator("schemes")
    @classmethod
    def _schemes(cls, v: list[str]) -> list[str]:
        return [s.lower().rstrip(":/") for s in v]

    _allow: list[HostPattern] = PrivateAttr(default_factory=list)
    _block: list[HostPattern] = PrivateAttr(default_factory=list)

    def model_post_init(self, _: object) -> None:
        self._allow = [parse_pattern(p) for p in self.allow]
        self._block = [parse_pattern(p) for p in self.block]

    def check_url(self, url: str) -> Verdict:
        """May a page open ``url``? Scheme, then host."""
        try:
            target = parse_target(url)
        except PolicyError as exc:
            return Verdict(False, str(exc))
        if target.scheme not in self.schemes:
            return Verdict(False, f"the scheme {target.scheme!r} is not allowed (allowed: {', '.join(self.schemes)})")
        if target.scheme not in SPECIAL_SCHEMES:
            return Verdict(True)  # an explicitly allowed non-network scheme (data:, blob:...)
        return self.check_target(target)

    def check_target(self, target: Target) -> Verdict:
        where = target.host + (f":{target.port}" if target.port else "")
        blocked = next((p for p in self._block if p.matches(target)), None)
        if blocked is not None:
            return Verdict(False, f"{where} is on the block list ({blocked.text})")
        allowed = next((p for p in self._allow if p.matches(target)), None)
        if self._allow and allowed is None:
            return Verdict(False, f"{where} is not on the allow list")
        explicit = allowed is not None and not allowed.wildcard
        if not self.private_network and not explicit and self.names_private(target):
            return Verdict(False, f"{where} is a private or local address (the private network is off)")
        return Verdict(True)

    def trusts(self, target: Target) -> bool:
        """True if ``target`` was allowed by name (its DNS answer may then be private)."""
        return self.private_network or any(p.matches(target) and not p.wildcard for p in self._allow)

    @staticmethod
    def names_private(target: Target) -> bool:
        return is_private(target.ip) if target.ip is not None else is_private_name(target.host)

    def check_resolved(self, target: Target, ip: IPAddress) -> Verdict:
        """A name resolved to ``ip``: refused if it points into the private network unless trusted."""
        if not self.trusts(target) and is_private(ip):
            return Verdict(False, f"{target.host} resolves to the private address {ip} (the private network is off)")
        return Verdict(True)
