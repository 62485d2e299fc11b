"""Session cookies: signed, expiring, tamper-evident; CSRF tokens compared in constant time."""

from __future__ import annotations

import time

from serving.console.session import SessionCodec, console_secret, csrf_ok


def test_a_session_round_trips_without_the_key():
    codec = SessionCodec(b"s" * 32, session_seconds=60)
    session, cookie = codec.issue("demo-marketing", {"marketing"})
    read, why = codec.read(cookie)
    assert read == session and why is None
    assert "demo-marketing-key" not in cookie and read.roles == frozenset({"marketing"})


def test_expired_tampered_and_foreign_cookies_are_refused():
    codec = SessionCodec(b"s" * 32, session_seconds=60)
    _, old = codec.issue("k", {"admin"}, now=time.time() - 120)
    assert codec.read(old) == (None, "expired")
    _, cookie = codec.issue("k", {"marketing"})
    payload, _, signature = cookie.rpartition(".")
    assert codec.read(payload + "." + signature[::-1])[0] is None
    assert SessionCodec(b"t" * 32).read(cookie) == (None, "invalid")
    assert codec.read(None) == (None, "missing") and codec.read("garbage")[1] == "invalid"


def test_csrf_tokens():
    codec = SessionCodec(b"s" * 32)
    session, _ = codec.issue("k", {"marketing"})
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, None) and not csrf_ok(session, "") and not csrf_ok(session, session.csrf + "x")
    token, cookie = codec.login_token()
    assert codec.check_login_token(cookie, token) and not codec.check_login_token(cookie, "other")
    assert not codec.check_login_token(None, token)


def test_the_secret_is_created_once_and_shared(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPML_CONSOLE_SECRET", raising=False)
    first = console_secret(tmp_path)
    assert console_secret(tmp_path) == first and len(first) == 64
    assert (tmp_path / "serving" / "console_secret").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("SHOPML_CONSOLE_SECRET", "from-the-environment")
    assert console_secret(tmp_path) == b"from-the-environment"
