"""The bypass suite: every way we know to reach a blocked host from an allowed one, in real Chromium.

``allowed.test`` and ``evil.test`` are both the attacker site on 127.0.0.1 (the guard's host map stands
in for DNS). A bypass is a request that *reached the server* under any host but the allowed ones: the
server's log is the judge, not what the page shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guiagent.envs.browser import BrowserConfig, BrowserEnv
from guiagent.tools import Check, LeftClick, Navigate
from guiagent.tools.urlpolicy import UrlPolicy
from tests.security.attacker import AttackerSite

DONE = Check(js="document.title === 'done'", timeout=15)


@pytest.fixture(scope="module")
def site() -> Iterator[AttackerSite]:
    with AttackerSite() as s:
        yield s


@pytest.fixture(scope="module")
def guarded(site: AttackerSite, tmp_path_factory) -> Iterator[BrowserEnv]:
    policy = UrlPolicy(allow=["allowed.test", "localhost"])  # private network off: no other local address
    hosts = {"allowed.test": "127.0.0.1", "evil.test": "127.0.0.1", "localhost": "127.0.0.1"}
    env = BrowserEnv(BrowserConfig(url_policy=policy, hosts=hosts, settle_timeout_s=8,
                                   downloads_dir=str(tmp_path_factory.mktemp("dl"))))
    env.reset(site.allowed + "/")
    yield env
    env.close()


def _nav(url: str) -> Navigate:
    return Navigate.model_construct(url=url)  # unvalidated: the browser must refuse on its own


def vectors(site: AttackerSite) -> dict[str, list]:
    """Name -> actions (and checks to wait on) that try to reach evil.test."""
    a, e, p = site.allowed, site.evil, site.port
    go = LeftClick(coordinate=(100, 100))
    return {
        "navigate": [_nav(f"{e}/direct")],
        "userinfo": [_nav(f"http://allowed.test:{p}@evil.test:{p}/userinfo")],
        "backslash userinfo": [_nav(f"http://evil.test:{p}\\@allowed.test:{p}/")],
        "ipv4 short 127.1": [_nav(f"http://127.1:{p}/")],
        "ipv4 hex": [_nav(f"http://0x7f000001:{p}/")],
        "ipv4 decimal": [_nav(f"http://2130706433:{p}/")],
        "ipv4 octal": [_nav(f"http://0177.0.0.1:{p}/")],
        "ipv6 mapped": [_nav(f"http://[::ffff:127.0.0.1]:{p}/")],
        "ipv6 loopback": [_nav(f"http://[::1]:{p}/")],
        "localhost alias 0.0.0.0": [_nav(f"http://0.0.0.0:{p}/")],
        "upper-case scheme and host": [_nav(f"HTTP://EVIL.TEST:{p}/upper")],
        "leading whitespace": [_nav(f"  \t{e}/ws-lead")],
        "tab inside host": [_nav(f"http://ev\til.test:{p}/tab")],
        "newline inside": [_nav(f"http://evil.te\nst:{p}/nl")],
        "percent-encoded host": [_nav(f"http://evil%2Etest:{p}/pct")],
        "trailing dot": [_nav(f"http://evil.test.:{p}/dot")],
        "full-width host": [_nav(f"http://ｅｖｉｌ.ｔｅｓｔ:{p}/fullwidth")],
        "cyrillic look-alike": [_nav(f"http://аllowed.test:{p}/idn")],
        "punycode look-alike": [_nav(f"http://xn--llowed-2fg.test:{p}/puny")],
        "file scheme": [_nav("file:///etc/passwd")],
        "data document fetching evil": [_nav(f"data:text/html,<script>fetch('{e}/from-data')</script>")],
        "javascript scheme": [_nav(f"javascript:location='{e}/js-scheme'")],
        "view-source": [_nav(f"view-source:{e}/")],
        "redirect chain 302": [_nav(f"{a}/redirect?hops=3&to={e}/redirect-end")],
        "redirect 307 to evil": [_nav(f"{a}/redirect?code=307&to={e}/redirect-307")],
        "meta refresh": [_nav(f"{a}/meta-refresh")],
        "js location": [_nav(f"{a}/js-location")],
        "js location.replace": [_nav(f"{a}/js-location-replace")],
        "iframe": [_nav(f"{a}/iframe"), DONE],
        "data iframe fetching evil": [_nav(f"{a}/iframe-data"), DONE],
        "subresources, fetch, xhr, beacon, prefetch": [_nav(f"{a}/subresources"), DONE],
        "websocket": [_nav(f"{a}/websocket"), DONE],
        "window.open popup": [_nav(f"{a}/window-open"), go],
        "target=_blank link": [_nav(f"{a}/blank-link"), go],
        "form POST": [_nav(f"{a}/form-post")],
        "download": [_nav(f"{a}/download"), go],
        "service worker": [_nav(f"http://localhost:{p}/sw"), DONE],
    }


def _reset(env: BrowserEnv, url: str) -> None:
    """Open ``url``; a page let through may still be navigating itself (a meta refresh): try again."""
    from guiagent.envs import EnvError

    try:
        env.reset(url)
    except EnvError:
        env.reset(url)


def _run(env: BrowserEnv, steps: list) -> list[str]:
    messages = []
    for step in steps:
        result = env.check(step) if isinstance(step, Check) else env.execute(step)
        messages.append(result.message)
    return messages


def test_no_request_reaches_a_blocked_host(site: AttackerSite, guarded: BrowserEnv, request) -> None:
    allowed_hosts = {f"allowed.test:{site.port}", f"localhost:{site.port}"}
    found: dict[str, list] = {}
    all_vectors = vectors(site)
    for name, steps in all_vectors.items():
        guarded.reset(site.allowed + "/")  # one tab, on the allowed site
        site.take_log()
        messages = _run(guarded, steps)
        bypasses = site.bypasses(site.take_log(), allowed_hosts)
        if bypasses:
            found[name] = bypasses + messages
    report = request.config.pluginmanager.get_plugin("terminalreporter")
    line = f"bypass suite: {len(all_vectors)} vectors, {len(found)} bypasses"
    if report is not None:
        report.write_line(line)
    print(line)
    assert not found, f"{line}: {found}"


def test_blocked_navigation_is_a_result_the_model_sees(site: AttackerSite, guarded: BrowserEnv) -> None:
    guarded.reset(site.allowed + "/")
    result = guarded.execute(Navigate(url=f"{site.evil}/x"))
    assert not result.ok and result.message.startswith(f"blocked by policy: {site.evil}/x")
    assert "not on the allow list" in result.message
    # A redirect that ends on the blocked host: the navigation runs, the last hop is refused and named.
    result = guarded.execute(Navigate(url=f"{site.allowed}/redirect?hops=1&to={site.evil}/end"))
    assert f"blocked by policy: {site.evil}/end" in result.message, result.message
    assert result.data["blocked"]
    frame = guarded.observe()
    assert "ATTACKER" not in (frame.title or "")


def test_start_url_outside_the_policy_is_refused(site: AttackerSite) -> None:
    from guiagent.envs import EnvError

    env = BrowserEnv(BrowserConfig(url_policy=UrlPolicy()))
    try:
        with pytest.raises(EnvError, match=r"blocked by policy: file:///etc/passwd \(the scheme 'file' is not allowed"):
            env.reset("file:///etc/passwd")
        assert env.page is None  # refused before a browser was even started
    finally:
        env.close()


def test_the_vectors_do_reach_the_attacker_when_allowed(site: AttackerSite, tmp_path) -> None:
    """Control: with everything allowed, the network vectors get through, so zero bypasses above means
    the guard stopped them (not that the pages failed to try)."""
    open_policy = UrlPolicy(allow=["*"], private_network=True)
    hosts = {"allowed.test": "127.0.0.1", "evil.test": "127.0.0.1", "localhost": "127.0.0.1"}
    env = BrowserEnv(BrowserConfig(url_policy=open_policy, hosts=hosts, downloads_dir=str(tmp_path)))
    local_only = {"file scheme", "data document fetching evil", "javascript scheme", "view-source",
                  "cyrillic look-alike", "punycode look-alike",  # refused by scheme, or not the attacker's name
                  "ipv6 loopback"}  # the site listens on 127.0.0.1 only
    missed = []
    try:
        for name, steps in vectors(site).items():
            if name in local_only:
                continue
            _reset(env, site.allowed + "/")
            site.take_log()
            _run(env, steps)
            if not site.bypasses(site.take_log(), {f"allowed.test:{site.port}", f"localhost:{site.port}"}):
                missed.append(name)
    finally:
        env.close()
    assert not missed, f"these vectors never reached the attacker even when allowed: {missed}"


def test_a_data_document_allowed_explicitly_still_cannot_fetch_a_blocked_host(site: AttackerSite) -> None:
    policy = UrlPolicy(allow=["allowed.test"], schemes=["http", "https", "data"])
    env = BrowserEnv(BrowserConfig(url_policy=policy, hosts={"allowed.test": "127.0.0.1", "evil.test": "127.0.0.1"}))
    try:
        env.reset(site.allowed + "/")
        site.take_log()
        page = (f"data:text/html,<script>Promise.allSettled([fetch('{site.evil}/from-data'), fetch('{site.allowed}/ok')])"
                ".then(() => document.title = 'done')</script>")
        assert env.execute(_nav(page)).ok
        assert env.check(DONE).ok
        log = site.take_log()
        assert site.bypasses(log, {f"allowed.test:{site.port}"}) == []
        assert (f"allowed.test:{site.port}", "GET", "/ok") in log  # the document did fetch: only the blocked host failed
    finally:
        env.close()


def test_a_blocked_script_step_is_recorded_and_fails_the_script(site: AttackerSite, tmp_path) -> None:
    """A script cannot react to a refused action (its next steps assume it worked), so the refusal fails
    it, named; a model is told instead and goes on (tests/security/test_model_navigate.py)."""
    from guiagent.agent.runner import RunSpec, start_episode
    from guiagent.agent.spec import BrowserEnvSpec, ScriptPolicySpec
    from guiagent.agent.trajectory import load_trajectory

    script = tmp_path / "s.yaml"
    script.write_text(f"task: t\nstart_url: {site.allowed}/\nallow: [allowed.test]\nsteps:\n"
                      f"  - {{action: navigate, url: '{site.evil}/x'}}\n  - {{action: navigate, url: '{site.allowed}/'}}\n")
    hosts = {"allowed.test": "127.0.0.1", "evil.test": "127.0.0.1"}
    spec = RunSpec(env=BrowserEnvSpec(url_policy=UrlPolicy(), hosts=hosts), policy=ScriptPolicySpec(script=str(script)))
    site.take_log()
    result = start_episode(spec, tmp_path / "run")
    refusal = f"blocked by policy: {site.evil}/x (evil.test:{site.port} is not on the allow list)"
    assert result.status == "failure" and refusal in (result.reason or "")
    steps = load_trajectory(tmp_path / "run").steps
    assert len(steps) == 1 and steps[0].results[0].message == refusal
    assert steps[0].results[0].data["blocked"] == [f"{site.evil}/x"]
    assert site.bypasses(site.take_log(), {f"allowed.test:{site.port}"}) == []
