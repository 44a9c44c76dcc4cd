"""Signing in to the console with an API key: a signed, HttpOnly, SameSite session cookie that
holds no key, CSRF on every form, sign-out, and sessions that end with their key."""

from __future__ import annotations

import pytest

from plait import Engine
from tests.console.conftest import BASE, BrowserFactory


async def test_pages_send_a_stranger_to_the_sign_in_form(browser: BrowserFactory) -> None:
    stranger = await browser()
    answer = await stranger.client.get("/live/org?types=run", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Flive%2Forg%3Ftypes%3Drun"
    form = await stranger.client.get(answer.headers["location"])
    assert 'name="key"' in form.text
    assert 'value="/live/org?types=run"' in form.text


async def test_an_htmx_request_without_a_session_is_redirected_by_header(
    browser: BrowserFactory,
) -> None:
    stranger = await browser()
    answer = await stranger.client.get("/live/org", headers={"HX-Request": "true"},
                                       follow_redirects=False)  # fmt: skip
    assert answer.status_code == 204
    assert answer.headers["hx-redirect"] == "/login?next=%2Flive%2Forg"


async def test_signing_in_sets_a_signed_http_only_same_site_cookie_without_the_key(
    engine: Engine, browser: BrowserFactory
) -> None:
    key = (await engine.keys.create("acme", "viewer")).key
    person = await browser()
    form = await person.client.get("/login")
    token = form.text.split('name="csrf" value="')[1].split('"')[0]
    answer = await person.client.post("/login", data={"key": key, "csrf": token, "next": "/"},
                                      follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    cookie = next(h for h in answer.headers.get_list("set-cookie")
                  if h.startswith("plait_session="))  # fmt: skip
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie.replace("samesite", "SameSite")
    value = cookie.split(";")[0].split("=", 1)[1]
    assert key not in value
    assert key.split("_")[-1] not in value  # not even the key's secret part


async def test_a_wrong_key_is_refused_with_the_form_again(browser: BrowserFactory) -> None:
    person = await browser()
    form = await person.client.get("/login")
    token = form.text.split('name="csrf" value="')[1].split('"')[0]
    answer = await person.client.post("/login", data={"key": "plait_nope_nope", "csrf": token})
    assert answer.status_code == 401
    assert "not valid" in answer.text
    assert "plait_session" not in person.client.cookies


async def test_signing_in_without_the_forms_token_is_refused(
    engine: Engine, browser: BrowserFactory
) -> None:
    key = (await engine.keys.create("acme", "viewer")).key
    person = await browser()
    answer = await person.client.post("/login", data={"key": key, "csrf": "forged"})
    assert answer.status_code == 400
    assert "plait_session" not in person.client.cookies


async def test_a_forged_cookie_is_no_session(browser: BrowserFactory) -> None:
    person = await browser("acme", "admin")
    value = person.client.cookies["plait_session"]
    person.client.cookies.set("plait_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    answer = await person.client.get("/live/org", follow_redirects=False)
    assert answer.status_code == 303


async def test_a_change_without_the_csrf_token_is_refused(browser: BrowserFactory) -> None:
    person = await browser("acme", "viewer")
    answer = await person.client.post("/logout", data={"csrf": "not-the-token"})
    assert answer.status_code == 403
    assert "expired" in answer.text
    assert "plait_session" in person.client.cookies  # still signed in


async def test_a_change_from_another_sites_page_is_refused(browser: BrowserFactory) -> None:
    person = await browser("acme", "viewer")
    answer = await person.client.post("/logout", data={"csrf": person.csrf},
                                      headers={"Origin": "https://evil.example"})  # fmt: skip
    assert answer.status_code == 403
    assert "another site" in answer.text


async def test_signing_out_ends_the_session(browser: BrowserFactory) -> None:
    person = await browser("acme", "viewer")
    answer = await person.post("/logout", headers={"Origin": BASE})
    assert answer.status_code == 200
    assert str(answer.url).endswith("/login")
    after = await person.client.get("/live/org", follow_redirects=False)
    assert after.status_code == 303


async def test_revoking_the_key_ends_its_sessions(engine: Engine, browser: BrowserFactory) -> None:
    made = await engine.keys.create("acme", "viewer")
    person = await browser(key=made.key)
    await engine.keys.revoke("acme", made.id)
    after = await person.client.get("/live/org", follow_redirects=False)
    assert after.status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil"])
async def test_sign_in_never_redirects_off_the_console(
    engine: Engine, browser: BrowserFactory, target: str
) -> None:
    key = (await engine.keys.create("acme", "viewer")).key
    person = await browser()
    form = await person.client.get("/login")
    token = form.text.split('name="csrf" value="')[1].split('"')[0]
    answer = await person.client.post("/login", data={"key": key, "csrf": token, "next": target},
                                      follow_redirects=False)  # fmt: skip
    assert answer.headers["location"] == "/"


async def test_pages_allow_only_the_consoles_own_scripts_and_are_never_framed(
    browser: BrowserFactory,
) -> None:
    person = await browser()
    form = await person.client.get("/login")
    policy = form.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert form.headers["x-frame-options"] == "DENY"


def test_no_template_holds_inline_script() -> None:
    """Every template keeps within the policy: scripts only as files, no inline handlers."""
    import re
    from importlib.resources import files

    found = []
    for template in files("plait.console").joinpath("templates").rglob("*.html"):
        text = template.read_text()
        inline = re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text)
        handler = re.search(r"\s(on[a-z]+|hx-on[:\w-]*)=", text)
        if inline or handler or "javascript:" in text:
            found.append(template.name)
    assert found == []


async def test_a_change_through_a_reverse_proxy_is_accepted(browser: BrowserFactory) -> None:
    """nginx sends the upstream's address as Host and the browser's in X-Forwarded-Host."""
    person = await browser("acme", "viewer")
    answer = await person.client.post(
        "/logout", data={"csrf": person.csrf}, follow_redirects=False,
        headers={"Origin": "https://plait.example.com", "X-Forwarded-Host": "plait.example.com"},
    )  # fmt: skip
    assert answer.status_code == 303


async def test_a_parameter_of_the_wrong_type_is_an_html_page(browser: BrowserFactory) -> None:
    person = await browser("acme", "viewer")
    answer = await person.get("/inbox?everyone=maybe")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "everyone" in answer.text
