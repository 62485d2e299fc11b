"""The console's Starlette app: login, sessions, CSRF, role checks, security headers and the pages.

:func:`create_console_app` builds it around a ``get_runtime`` callable, like :func:`serving.hot.create_hot_app`,
so that the BentoML service mounts it at ``/console`` and tests run it under uvicorn without BentoML.
"""

from __future__ import annotations

import json
import logging
import posixpath
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from serving.auth import KeyRing
from serving.console import pages as P
from serving.console.access import ACTIONS, PAGE_BY_NAME, PAGES, may, visible_pages
from serving.console.session import (
    COOKIE,
    LOGIN_COOKIE,
    LOGIN_FORM_SECONDS,
    Session,
    SessionCodec,
    console_secret,
    csrf_ok,
)

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PREFIX = "/console"
LOGIN_ATTEMPTS = (10, 60.0)
"""At most 10 failed logins per client address per 60 s; beyond that 429 until the window has passed."""
MAX_FORM_BYTES = 2 * 1_048_576
"""Largest console form (an uploaded experiment spec, route request or raw rows)."""

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
       "object-src 'none'")
"""No inline script, nothing from another origin; inline styles are allowed because plotly.js writes them."""

SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    """Adds the security headers to every console answer, and ``Cache-Control: no-store`` to all but assets."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = "/static/" in scope["path"]
        started = time.perf_counter()

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers += SECURITY_HEADERS
                spent = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={spent:.1f}".encode()))
                headers.append((b"cache-control", b"public, max-age=3600" if static else b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def plotly_js() -> Path:
    """plotly.js as shipped inside the plotly Python package (served locally, never from a CDN)."""
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def create_console_app(get_runtime: Callable[[], Any], keyring: KeyRing | None = None, settings=None,
                       session_seconds: float | None = None):
    """The console, to be mounted at ``/console`` (:data:`PREFIX`: its links and its cookie path say so).

    A form with bad input answers its page again with the problem beside the form (200); refusals (401, 403,
    404, 413) answer the API's JSON error shape, which the service would give them anyway.

    Parameters
    ----------
    get_runtime
        Returns the :class:`serving.runtime.ServingRuntime` (may raise a 503 ``ServingError`` while starting).
    keyring, settings
        The keys that may log in and the settings (data home for the signing secret); default: the shopml
        settings' ``serve_api_keys``, the same keys the API takes.
    session_seconds
        Session lifetime (default :data:`serving.console.session.SESSION_SECONDS`).
    """
    import anyio.to_thread
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(prefix=PREFIX, fmt=P.fmt, pages=PAGES)
    state: dict[str, Any] = {}
    failures: dict[str, list[float]] = {}

    def the_settings():
        if "settings" not in state:
            from shopml.settings import load_settings

            state["settings"] = settings or load_settings()
        return state["settings"]

    def codec() -> SessionCodec:
        if "codec" not in state:
            from serving.console.session import SESSION_SECONDS

            state["codec"] = SessionCodec(console_secret(the_settings().data_home), session_seconds or SESSION_SECONDS)
        return state["codec"]

    def ring() -> KeyRing:
        if "ring" not in state:  # the API's live keys (settings and key store, picked up without a restart)
            from serving.keys import ServiceKeys

            state["ring"] = keyring if keyring is not None else ServiceKeys(the_settings())
        return state["ring"] if isinstance(state["ring"], KeyRing) else state["ring"].current()

    async def audit(actor: str, action: str, **details: Any) -> None:
        """Append to the audit trail off the event loop (shopml.audit; raises AuditError)."""
        from shopml.audit import record

        await anyio.to_thread.run_sync(lambda: record(the_settings(), actor, action, **details))

    def tables() -> P.ShopTables:
        if "tables" not in state:
            state["tables"] = P.ShopTables(the_settings().raw_dir)
        return state["tables"]

    def render(name: str, session: Session | None, status: int = 200, **context) -> HTMLResponse:
        template = env.get_template(name)
        nav = visible_pages(session.roles) if session else []
        html = template.render(session=session, nav=nav, csrf=session.csrf if session else "", **context)
        return HTMLResponse(html, status_code=status)

    def current(request) -> tuple[Session | None, str | None]:
        session, why = codec().read(request.cookies.get(COOKIE))
        if session is not None:  # a key revoked, expired, removed or given other roles since the login ends it
            holder = ring().by_id(session.name)
            if holder is None or holder.roles != session.roles or holder.refusal(time.time()) is not None:
                return None, "ended"
        return session, why

    def to_login(request, why: str | None) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query = urlencode({"next": target, **({"why": why} if why and why != "missing" else {})})
        return RedirectResponse(f"{PREFIX}/login?{query}", status_code=303)

    def refused(status: int, message: str) -> JSONResponse:
        """A refusal in the API's error shape (the service's ErrorShapeMiddleware would give it that shape anyway)."""
        return JSONResponse({"error": message, "detail": []}, status_code=status)

    def denied(session: Session, what: str) -> JSONResponse:
        roles = ", ".join(sorted(session.roles))
        return refused(403, f"your key ({session.name}, role {roles}) may not open {what}")

    def runtime_or_none():
        try:
            return get_runtime(), None
        except Exception as exc:  # noqa: BLE001 - the service is starting: say so on the page
            return None, P.missing(exc)

    async def guarded(request, api_route: str, what: str, post: bool = False):
        """(session, form, error response): the session, role and (for POST) CSRF checks of every action."""
        session, why = current(request)
        if session is None:
            if post or request.headers.get("accept", "").startswith("application/json"):
                return None, None, refused(401, f"log in first at {PREFIX}/login ({why} session)")
            return None, None, to_login(request, why)
        if not may(session.roles, api_route):
            return session, None, denied(session, what)
        form = None
        if post:
            length = request.headers.get("content-length")
            if length is None or not length.isdigit() or int(length) > MAX_FORM_BYTES:
                return session, None, refused(413, f"the form is larger than {MAX_FORM_BYTES // 1_048_576} MiB")
            form = await request.form(max_files=4, max_fields=200, max_part_size=MAX_FORM_BYTES)
            if not csrf_ok(session, form.get("csrf")):
                return session, None, refused(403, "the form lacks its security token (CSRF): reload the page and "
                                                   "submit it again")
        return session, form, None

    # ------------------------------------------------------------------------------------- login, logout
    def warm() -> None:
        """Compute the slow parts of the pages people open first (KPIs, segments, demand and replenishment, the
        registry) once, in the background, while the person at the login page types a key: the first page
        view then renders from the caches instead of paying for a pass over every order line."""
        for _ in range(120):  # the runtime may still be loading its models
            try:
                runtime = get_runtime()
                break
            except Exception:  # noqa: BLE001 - not ready yet
                time.sleep(1.0)
        else:
            return
        for name, build in (("overview", lambda: P.overview(runtime)),
                            ("customers", lambda: P.customers(runtime, tables(), None, None, preview=False)),
                            ("demand", lambda: P.demand(runtime, tables(), "", "ALL")),
                            ("models", lambda: P.models(runtime))):
            try:
                build()
            except Exception:  # noqa: BLE001 - a page whose data is missing says so when it is opened
                logger.debug("console warm-up of %s failed", name, exc_info=True)

    def warm_once() -> None:
        if not state.get("warming"):
            state["warming"] = True
            threading.Thread(target=warm, name="shopml-console-warm", daemon=True).start()

    async def login_page(request):
        warm_once()
        session, _ = current(request)
        if session is not None:
            return RedirectResponse(home_of(session), status_code=303)
        return login_form(request, None)

    def login_form(request, problem: str | None):
        token, cookie = codec().login_token()
        why = request.query_params.get("why")
        notice = {"expired": "Your session has expired; log in again.",
                  "invalid": "Your session is not valid; log in again.",
                  "ended": "Your key was revoked or has expired; log in with a valid key."}.get(why or "")
        response = render("login.html", None, login_token=token, problem=problem, notice=notice,
                          next=request.query_params.get("next", ""))
        response.set_cookie(LOGIN_COOKIE, cookie, max_age=LOGIN_FORM_SECONDS, path=PREFIX, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    async def login(request):
        length = request.headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > 16_384:
            return refused(413, "the login form is too large")
        form = await request.form(max_files=0, max_fields=10)
        if not codec().check_login_token(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
            return refused(403, "the login form lacks its security token: reload the login page and retry")
        client = request.client.host if request.client else "?"
        now = time.monotonic()
        recent = [t for t in failures.get(client, []) if now - t < LOGIN_ATTEMPTS[1]]
        if len(recent) >= LOGIN_ATTEMPTS[0]:
            return JSONResponse({"error": "too many failed logins; wait a minute", "detail": []}, status_code=429,
                                headers={"Retry-After": str(int(LOGIN_ATTEMPTS[1]))})
        key = str(form.get("key") or "").strip()
        principal = ring().identify(key) if key else None
        refusal = principal.refusal(time.time()) if principal is not None else None
        if principal is None or refusal is not None:
            failures[client] = [*recent, now]
            if len(failures) > 10_000:  # bounded: forget the oldest addresses
                failures.pop(next(iter(failures)))
            logger.info("console login refused (%s)", "unknown key" if principal is None else refusal)
            await audit_quietly(principal.key_id if principal else "unknown", "console.login_failed",
                                reason="unknown key" if principal is None else refusal)
            return login_form(request, "That key is not a valid API key of this service." if refusal is None
                              else f"That key may no longer be used: {refusal}.")
        session, cookie = codec().issue(principal.key_id, principal.roles)  # the key id (a settings key's name)
        logger.info("console login: key %s", principal.name)
        await audit_quietly(principal.key_id, "console.login", roles=sorted(principal.roles))
        target = str(form.get("next") or "")
        if not safe_next(target):
            target = home_of(session)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, cookie, max_age=int(codec().session_seconds), path=PREFIX, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    async def audit_quietly(actor: str, action: str, **details: Any) -> None:
        """A login is recorded; a trail that cannot be written is logged, and does not lock people out."""
        from shopml.audit import AuditError

        try:
            await audit(actor, action, **details)
        except AuditError as exc:
            logger.error("audit record %s of %s lost: %s", action, actor, exc)

    async def logout(request):
        session, _ = current(request)
        if session is not None:
            form = await request.form(max_files=0, max_fields=10)
            if not csrf_ok(session, form.get("csrf")):
                return refused(403, "log out from the console's own button (the form lacks its security token)")
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    def home_of(session: Session) -> str:
        allowed = visible_pages(session.roles)
        return f"{PREFIX}/{allowed[0].name}" if allowed else f"{PREFIX}/login"

    async def root(request):
        session, why = current(request)
        if session is None:
            return to_login(request, why)
        return RedirectResponse(home_of(session), status_code=303)

    # ------------------------------------------------------------------------------------- pages
    def page(name: str, build: Callable[[Any, Any], dict[str, Any]]):
        spec = PAGE_BY_NAME[name]

        async def handle(request):
            session, _, error = await guarded(request, spec.api_route, f"the {spec.title} page")
            if error is not None:
                return error
            runtime, starting = runtime_or_none()
            if runtime is None:
                return render(f"{name}.html", session, page=spec, data={"missing": starting})
            data = await anyio.to_thread.run_sync(lambda: build(runtime, request))
            return render(f"{name}.html", session, page=spec, data=data)

        return handle

    def build_customers(runtime, request, problem: str | None = None, fields: dict[str, Any] | None = None):
        fields = multi(request.query_params) if fields is None else fields
        flt = None
        try:
            flt = P.AudienceFilter.parse(fields)  # no field: everyone
        except Exception as exc:  # noqa: BLE001 - shown beside the form
            problem = P.missing(exc)
        data = P.customers(runtime, tables(), flt, problem, preview=bool(fields.get("go")))
        data["filters"] = fields
        data["query"] = urlencode([(k, v) for k, vs in fields.items() for v in (vs if isinstance(vs, list) else [vs])])
        return data

    def build_demand(runtime, request):
        q = request.query_params.get("q", "")[:100]
        region = request.query_params.get("region", "ALL")[:100]
        return P.demand(runtime, tables(), q, region)

    def build_experiments(runtime, request, result=None, plan=None, problem=None, chosen=""):
        return {"examples": P.examples("experiment_"), "result": result, "plan": plan, "problem": problem,
                "chosen": chosen}

    def build_logistics(runtime, request, **extra):
        return {"route_examples": P.examples("routes_"), "allocation_examples": P.examples("allocation_request"),
                **extra}

    builders = {
        "overview": lambda runtime, request: P.overview(runtime),
        "customers": build_customers,
        "experiments": build_experiments,
        "demand": build_demand,
        "logistics": build_logistics,
        "models": lambda runtime, request: P.models(runtime),
    }

    # ------------------------------------------------------------------------------------- actions
    async def audience_count(request):
        session, _, error = await guarded(request, ACTIONS["customers/count"], "the audience count")
        if error is not None:
            return error
        try:
            runtime = get_runtime()
            flt = P.AudienceFilter.parse(multi(request.query_params))
            answer = await anyio.to_thread.run_sync(lambda: P.audience_count(runtime, tables(), flt))
        except Exception as exc:  # noqa: BLE001
            return JSONResponse({"error": P.missing(exc), "detail": []}, status_code=400)
        return JSONResponse(answer)

    async def audience_export(request):
        session, form, error = await guarded(request, ACTIONS["customers/export"], "the audience export", post=True)
        if error is not None:
            return error
        runtime, starting = runtime_or_none()
        try:
            if runtime is None:
                raise RuntimeError(starting)
            flt = P.AudienceFilter.parse(multi(form))
            text = await anyio.to_thread.run_sync(lambda: P.audience_csv(runtime, tables(), flt))
        except Exception as exc:  # noqa: BLE001
            problem, fields = P.missing(exc), multi(form)
            data = await anyio.to_thread.run_sync(lambda: build_customers(runtime, request, problem, fields)) \
                if runtime is not None else {"missing": starting}
            return render("customers.html", session, page=PAGE_BY_NAME["customers"], data=data)
        logger.info("console audience export by key %s", session.name)
        try:  # no record, no file: an export the trail cannot hold is refused
            await audit(session.name, "audience.export", via="console", rows=max(0, text.count("\n") - 1),
                        filter=flt.request.model_dump(exclude_none=True, exclude={"format", "page", "page_size"}),
                        country=flt.country)
        except Exception as exc:  # noqa: BLE001 - AuditError and anything below it
            logger.error("console audience export refused: %s", exc)
            return refused(503, "the audit trail cannot be written, so the export is refused; see the service log")
        return Response(text, media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="audience.csv"'})

    async def experiment_evaluate(request):
        session, form, error = await guarded(request, ACTIONS["experiments/evaluate"], "experiment evaluation",
                                             post=True)
        if error is not None:
            return error
        runtime, starting = runtime_or_none()
        page_spec = PAGE_BY_NAME["experiments"]
        if runtime is None:
            return render("experiments.html", session, page=page_spec, data={"missing": starting})
        chosen = str(form.get("example") or "")
        try:
            spec = await read_json_input(form, "spec_file", "spec_text", chosen, "experiment_")
            raw = await read_text(form, "raw_file")
            period = str(form.get("period_column") or "day")[:100]
            result = await anyio.to_thread.run_sync(lambda: P.experiment_result(runtime, spec, raw, period))
            data = build_experiments(runtime, request, result=result, chosen=chosen)
        except Exception as exc:  # noqa: BLE001
            data = build_experiments(runtime, request, problem=P.missing(exc), chosen=chosen)
        return render("experiments.html", session, page=page_spec, data=data)

    async def experiment_size(request):
        session, form, error = await guarded(request, ACTIONS["experiments/size"], "the sample-size planner",
                                             post=True)
        if error is not None:
            return error
        runtime, starting = runtime_or_none()
        page_spec = PAGE_BY_NAME["experiments"]
        if runtime is None:
            return render("experiments.html", session, page=page_spec, data={"missing": starting})
        fields = {k: str(v)[:50] for k, v in form.items() if k != "csrf"}
        try:
            plan = await anyio.to_thread.run_sync(lambda: P.size_plan(runtime, fields))
            data = build_experiments(runtime, request, plan=plan)
        except Exception as exc:  # noqa: BLE001
            data = build_experiments(runtime, request, plan={"problem": P.missing(exc), "fields": fields})
        return render("experiments.html", session, page=page_spec, data=data)

    async def route_plan(request):
        from serving.schemas import RoutePlanRequest

        session, form, error = await guarded(request, ACTIONS["logistics/plan"], "route planning", post=True)
        if error is not None:
            return error
        runtime, starting = runtime_or_none()
        page_spec = PAGE_BY_NAME["logistics"]
        if runtime is None:
            return render("logistics.html", session, page=page_spec, data={"missing": starting})
        chosen = str(form.get("example") or "")
        try:
            body = await read_json_input(form, "request_file", "request_text", chosen, "routes_")
            limit = str(form.get("time_limit") or "").strip()
            if limit:
                body.setdefault("options", {})["time_limit"] = float(limit)
            req = RoutePlanRequest.model_validate(body)
            plan = await runtime.heavy.awaited(runtime.submit_route_plan(req))
            view = await anyio.to_thread.run_sync(lambda: P.route_view(req.model_dump(), plan))
            data = build_logistics(runtime, request, routes=view, chosen=chosen)
        except Exception as exc:  # noqa: BLE001
            data = build_logistics(runtime, request, route_problem=P.missing(exc), chosen=chosen)
        return render("logistics.html", session, page=page_spec, data=data)

    async def allocate(request):
        from serving.schemas import StockAllocateRequest

        session, form, error = await guarded(request, ACTIONS["logistics/allocate"], "stock allocation", post=True)
        if error is not None:
            return error
        runtime, starting = runtime_or_none()
        page_spec = PAGE_BY_NAME["logistics"]
        if runtime is None:
            return render("logistics.html", session, page=page_spec, data={"missing": starting})
        chosen = str(form.get("example") or "")
        try:
            body = await read_json_input(form, "request_file", "request_text", chosen, "allocation_request")
            req = StockAllocateRequest.model_validate(body)
            plan = await runtime.heavy.awaited(runtime.submit_allocation(req))
            view = await anyio.to_thread.run_sync(lambda: P.allocation_view(req.model_dump(), plan))
            data = build_logistics(runtime, request, allocation=view)
        except Exception as exc:  # noqa: BLE001
            data = build_logistics(runtime, request, allocation_problem=P.missing(exc))
        return render("logistics.html", session, page=page_spec, data=data)

    async def model_plot(request):
        session, _, error = await guarded(request, PAGE_BY_NAME["models"].api_route, "model plots")
        if error is not None:
            return error
        model, path = request.query_params.get("model", ""), request.query_params.get("path", "")
        try:
            png = await anyio.to_thread.run_sync(lambda: P.champion_plot(the_settings(), model, path))
        except Exception as exc:  # noqa: BLE001
            return JSONResponse({"error": P.missing(exc), "detail": []}, status_code=404)
        return Response(png, media_type="image/png")

    async def not_found(request, exc):
        status = getattr(exc, "status_code", 404)
        if status == 404:
            return refused(404, f"no console page {request.url.path[:100]}; start at {PREFIX}/")
        return refused(status, str(getattr(exc, "detail", "")) or "request refused")

    async def plotly_asset(request):
        return FileResponse(plotly_js(), media_type="text/javascript")

    routes = [
        Route("/", root, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/static/plotly.min.js", plotly_asset, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        *[Route(f"/{p.name}", page(p.name, builders[p.name]), methods=["GET"]) for p in PAGES],
        Route("/customers/count", audience_count, methods=["GET"]),
        Route("/models/plot", model_plot, methods=["GET"]),
        Route("/customers/export", audience_export, methods=["POST"]),
        Route("/experiments/evaluate", experiment_evaluate, methods=["POST"]),
        Route("/experiments/size", experiment_size, methods=["POST"]),
        Route("/logistics/plan", route_plan, methods=["POST"]),
        Route("/logistics/allocate", allocate, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found})
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def safe_next(target: str) -> bool:
    """True when ``target`` (the login's ``next``) is a console page: a path under ``/console/`` that stays there
    once a browser decodes and normalises it (no scheme or host, ``//``, backslash, ``..`` or control character)."""
    if not target.isprintable() or not target.startswith(PREFIX + "/"):
        return False
    parts = urlsplit(target)
    path = unquote(parts.path)
    if parts.scheme or parts.netloc or "//" in path or "\\" in path or not path.isprintable():
        return False
    return (posixpath.normpath(path) + "/").startswith(PREFIX + "/") and "/." not in path


def multi(params) -> dict[str, Any]:
    """Query or form fields as a dict; ``segment`` keeps every value (a multi-select)."""
    out: dict[str, Any] = {}
    for key in set(params.keys()):
        if key == "csrf":
            continue
        values = [str(v)[:200] for v in params.getlist(key) if isinstance(v, str)]
        out[key] = values if key == "segment" else (values[-1] if values else "")
    return out


async def read_text(form, field: str) -> str | None:
    upload = form.get(field)
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", ""):
        return None
    data = await upload.read()
    return data.decode("utf-8")


async def read_json_input(form, file_field: str, text_field: str, example: str, prefix: str) -> dict[str, Any]:
    """The JSON object of an uploaded file, else the pasted text, else the chosen example."""
    from shopml.errors import ShopmlError

    text = await read_text(form, file_field)
    if text is None:
        text = str(form.get(text_field) or "").strip() or None
    if text is None:
        if not example:
            raise ShopmlError("choose an example, upload a JSON file or paste JSON")
        return P.read_example(example, prefix)
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ShopmlError(f"the file is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ShopmlError("expected a JSON object")
    return body


__all__ = ["PREFIX", "create_console_app"]
