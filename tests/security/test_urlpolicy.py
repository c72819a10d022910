"""The URL policy's pure rules: canonical hosts in every notation a browser accepts, patterns, ranges."""

from __future__ import annotations

import pytest

from guiagent.tools.urlpolicy import PolicyError, UrlPolicy, parse_pattern, parse_target


@pytest.mark.parametrize("url, host", [
    ("http://127.1/", "127.0.0.1"),
    ("http://0x7f000001/", "127.0.0.1"),
    ("http://2130706433/", "127.0.0.1"),
    ("http://0177.0.0.1/", "127.0.0.1"),
    ("http://0x7f.1/", "127.0.0.1"),
    ("http://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"),
    ("HTTP://EVIL.Test/", "evil.test"),
    ("http://allowed.com@evil.com/", "evil.com"),
    ("http://allowed.com:pw@evil.com:8080/", "evil.com"),
    ("http://evil.com\\@allowed.com/", "evil.com"),
    ("http:\\\\evil.com/", "evil.com"),
    ("  http://evil.com/", "evil.com"),
    ("http://ev\til.co\nm/", "evil.com"),
    ("http://evil%2Ecom/", "evil.com"),
    ("http://ｅｖｉｌ．ｃｏｍ/", "evil.com"),
    ("http://evil。com/", "evil.com"),
    ("http://evil.com./", "evil.com"),
    ("http://еxample.com/", "xn--xample-2of.com"),  # Cyrillic е: not example.com
])
def test_hosts_are_read_as_the_browser_reads_them(url: str, host: str) -> None:
    assert parse_target(url).host == host


@pytest.mark.parametrize("url, host", [
    ("http://☃.net/", "xn--n3h.net"),
    ("http://i❤.ws/", "xn--i-7iq.ws"),
    ("http://%E2%98%83.net/", "xn--n3h.net"),
    ("http://💩.la/", "xn--ls8h.la"),
])
def test_symbol_names_are_read_as_the_url_standard_reads_them(url: str, host: str) -> None:
    """UTS 46 as the URL standard applies it (not IDNA 2008's stricter code point table): the browser opens
    these names, so the policy reads them and its patterns may name them."""
    assert parse_target(url).host == host
    assert UrlPolicy(allow=[url.split("/")[2]]).check_url(f"https://{host}/")


@pytest.mark.parametrize("url", ["http://1.2.3.4.5/", "http://256.1.1.1/", "http://a\x01b.com/", "http://[::g]/", "//evil"])
def test_unreadable_urls_are_errors(url: str) -> None:
    with pytest.raises(PolicyError):
        parse_target(url)


def test_default_policy_http_s_public_only() -> None:
    policy = UrlPolicy()
    assert policy.check_url("https://example.com/a")
    for url in ["file:///etc/passwd", "data:text/html,x", "blob:https://example.com/1", "javascript:alert(1)",
                "chrome://settings", "view-source:https://example.com", "ftp://example.com/", "ws://example.com"]:
        verdict = policy.check_url(url)
        assert not verdict and "scheme" in verdict.reason, url
    for url in ["http://127.0.0.1/", "http://127.1:22/", "http://localhost/", "http://a.localhost/", "http://[::1]/",
                "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/", "http://192.168.0.1/", "http://0/",
                "http://[::ffff:10.0.0.1]/", "http://[fe80::1]/", "http://printer.local/", "http://[2002:7f00:1::]/"]:
        verdict = policy.check_url(url)
        assert not verdict and "private" in verdict.reason, url


def test_allow_and_block_patterns() -> None:
    policy = UrlPolicy(allow=["example.com", "*.shop.com", "https://secure.org", "10.0.0.0/8", "127.0.0.1:8000"],
                       block=["admin.shop.com"])
    allowed = ["http://example.com/", "https://shop.com/", "https://a.b.shop.com/", "https://secure.org/",
               "http://10.9.9.9/", "http://127.0.0.1:8000/"]
    refused = ["http://sub.example.com/", "http://secure.org/", "http://admin.shop.com/", "http://evilshop.com/",
               "http://127.0.0.1:8001/", "http://example.com@evil.com/", "http://11.0.0.1/"]
    assert all(policy.check_url(u) for u in allowed)
    assert not any(policy.check_url(u) for u in refused)
    assert "block list (admin.shop.com)" in policy.check_url("http://admin.shop.com/").reason


def test_schemes_can_be_opened_explicitly() -> None:
    assert UrlPolicy(schemes=["http", "https", "data"]).check_url("data:text/html,hi")


@pytest.mark.parametrize("pattern", ["*.*.com", "exa*mple.com", "a b.com", "user@host", "10.0.0.0/99", "x.com:99999"])
def test_bad_patterns_are_named(pattern: str) -> None:
    with pytest.raises(PolicyError, match="pattern"):
        parse_pattern(pattern)
