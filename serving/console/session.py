"""Console sessions: a signed, HttpOnly, SameSite=Strict cookie with an expiry, and CSRF tokens.

Logging in checks an API key with :class:`serving.auth.KeyRing` (the service's own key check) and stores, in a
cookie signed with :mod:`itsdangerous` (HMAC-SHA1 over the payload and a timestamp), only the key's configured
name, its roles, an expiry and a random CSRF token; never the key. Every form carries that token and every POST
is refused (403) unless the form's token equals the session's (compared in constant time). The login form,
before any session exists, uses a double-submit token: a short-lived signed cookie and the same value in the
form.

The signing secret is ``SHOPML_CONSOLE_SECRET`` when set, else a random secret created once in
``<data_home>/serving/console_secret`` (mode 0600), so that every worker process of a service and a restarted
service accept the same sessions; delete the file to log everyone out.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "shopml_console"
LOGIN_COOKIE = "shopml_console_login"
SESSION_SECONDS = 8 * 3600
"""Default lifetime of a session; after it the user logs in again."""
LOGIN_FORM_SECONDS = 3600
SECRET_ENV = "SHOPML_CONSOLE_SECRET"


@dataclass(frozen=True)
class Session:
    """A logged-in user: the key's name (never the key), its roles, when the session ends, its CSRF token."""

    name: str
    roles: frozenset[str]
    expires: float
    csrf: str

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires


def console_secret(data_home: Path) -> bytes:
    """The signing secret: ``SHOPML_CONSOLE_SECRET``, else the data home's secret file (created once)."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV].encode()
    path = Path(data_home) / "serving" / "console_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".console_secret.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # first writer wins; a second worker reads the winner's secret
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip().encode()


class SessionCodec:
    """Signs and reads session and login cookies with one secret."""

    def __init__(self, secret: bytes, session_seconds: float = SESSION_SECONDS):
        self.session_seconds = float(session_seconds)
        self._sessions = URLSafeTimedSerializer(secret, salt="shopml-console-session")
        self._login = URLSafeTimedSerializer(secret, salt="shopml-console-login")

    def issue(self, name: str, roles, now: float | None = None) -> tuple[Session, str]:
        """A new session for the key named ``name`` with ``roles``, and its cookie value."""
        now = time.time() if now is None else now
        session = Session(name, frozenset(str(r) for r in roles), now + self.session_seconds, secrets.token_urlsafe(24))
        payload = {"n": session.name, "r": sorted(session.roles), "e": session.expires, "c": session.csrf}
        return session, self._sessions.dumps(payload)

    def read(self, cookie: str | None) -> tuple[Session | None, str | None]:
        """The session in ``cookie``, or None with the reason (``missing``, ``invalid``, ``expired``)."""
        if not cookie:
            return None, "missing"
        try:
            payload = self._sessions.loads(cookie, max_age=int(self.session_seconds) + 60)
            session = Session(str(payload["n"]), frozenset(payload["r"]), float(payload["e"]), str(payload["c"]))
        except BadSignature as exc:
            return None, "expired" if type(exc).__name__ == "SignatureExpired" else "invalid"
        except (KeyError, TypeError, ValueError):
            return None, "invalid"
        if session.expired:
            return None, "expired"
        return session, None

    def login_token(self) -> tuple[str, str]:
        """(form token, cookie value) for the login form's double-submit check."""
        token = secrets.token_urlsafe(24)
        return token, self._login.dumps(token)

    def check_login_token(self, cookie: str | None, form_token: str | None) -> bool:
        if not cookie or not form_token:
            return False
        try:
            expected = self._login.loads(cookie, max_age=LOGIN_FORM_SECONDS)
        except BadSignature:
            return False
        return hmac.compare_digest(str(expected), str(form_token))


def csrf_ok(session: Session, form_token: object) -> bool:
    """True when the form's token is the session's (constant-time comparison)."""
    return isinstance(form_token, str) and hmac.compare_digest(session.csrf.encode(), form_token.encode())
