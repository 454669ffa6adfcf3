"""The review page: a Starlette app over the inbox folder (store.py).

Pages are rendered on the server (Jinja2, autoescaped); one small script (static/review.js)
keeps the list live through server-sent events and sends the actions with fetch. Every
response carries a strict Content-Security-Policy (no inline script or style), every POST a
CSRF token, and nothing of a note's text is logged: the access log has method, path (ids
only), status and time.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (JSONResponse, PlainTextResponse, RedirectResponse, Response,
                                 StreamingResponse)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..config import NOTE_FORMATS, Config
from ..errors import RevisionRefused, RoomnoteError
from ..notes.facts import duration_text
from ..notes.fhir import to_fhir
from ..notes.formats import FORMAT_TITLES
from ..notes.render import clock, to_markdown, to_text, topic_summary
from .diff import item_text, note_changes
from .security import SESSION_COOKIE, Csrf, Sessions, check_password, host_of, is_loopback
from .store import NOTE_ID, STATUS_TEXT, Store, status_of

log = logging.getLogger("roomnote.review")
HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BODY = 256 * 1024
KEEPALIVE_S = 15.0

# Sends one command to a box and returns its answering event (None: no answer in time).
Sender = Callable[[str, str, dict], "dict | None"]


class Hub:
    """Fans inbox events (from the MQTT thread) out to every open event stream."""

    def __init__(self):
        self._queues: set[asyncio.Queue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, event: dict) -> None:  # any thread
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for q in list(self._queues):
            loop.call_soon_threadsafe(q.put_nowait, event)

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue()
        self._queues.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self._queues.discard(q)


def _local(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone()  # the workstation's time zone


VERBATIM_KINDS = ("quote", "response", "risk", "goal", "plan")
# a revision's kind (the box keeps no instruction words) -> what the history says
REVISION_TEXT = {"detail": "more detail asked for", "shorter": "made shorter", "remove": "a part removed",
                 "reformat": "format changed"}


def _quotes_by_segment(note) -> dict[str, list[str]]:
    """segment id -> the note's own verbatim (redacted) lines citing it: what an evidence control shows."""
    out: dict[str, list[str]] = {}
    for s in note.sections:
        for it in s.items:
            if it.kind in VERBATIM_KINDS:
                for e in it.evidence:
                    out.setdefault(e.segment_id, [])
                    if it.text not in out[e.segment_id]:
                        out[e.segment_id].append(it.text)
    return out


def _evidence(item, quotes: dict[str, list[str]] | None = None) -> list[dict]:
    quotes = quotes or {}
    return [{"range": f"{clock(e.start)}\u2013{clock(e.end)}", "segment": e.segment_id, "basis": e.basis,
             "score": e.score, "cue": e.cue or "", "words": [q for q in quotes.get(e.segment_id, [])
                                                            if q != item.text]} for e in item.evidence]


def _revision_text(kind: str, asked: str | None) -> str:
    said = REVISION_TEXT.get(kind, kind)
    if kind == "reformat" and asked and asked.startswith("rewrite as "):  # the page's own format buttons
        return f"format changed to {FORMAT_TITLES.get(asked[11:], asked[11:].upper())}"
    return f"{said}: \u201c{asked}\u201d" if asked else said


class ReviewApp:
    def __init__(self, cfg: Config, store: Store, send: Sender, *, tls: bool = False):
        self.cfg, self.store, self.send, self.tls = cfg, store, send, tls
        self.office = cfg.device.office
        self.rc = cfg.review
        self.login = bool(self.rc.password_hash)
        self.sessions = Sessions(self.rc.login_hours)
        self.csrf = Csrf()
        self.hub = Hub()
        self.stopping: Callable[[], bool] = lambda: False  # the server sets this: event streams end
        self.broker_connected: Callable[[], bool] = lambda: False  # the server sets this: the inbox's connection
        self.boxes: dict[str, dict] = {}  # device -> its last heartbeat's state and when it came (memory only)
        self._finalising: set[str] = set()  # note ids with a finalise in progress
        self._jobs: set[asyncio.Task] = set()
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
        env.filters["localtime"] = lambda iso: _local(iso).strftime("%d %b %Y, %H:%M:%S %Z")
        self.templates = Jinja2Templates(env=env)
        self.templates.env.globals.update(status_text=STATUS_TEXT, formats=NOTE_FORMATS,
                                          format_titles=FORMAT_TITLES)
        routes = [
            Route("/", self.list_page),
            Route("/notes.json", self.list_json),
            Route("/events", self.events),
            Route("/notes/{note_id}", self.note_page),
            Route("/notes/{note_id}/body", self.note_body),
            Route("/notes/{note_id}/note.md", self.download_md),
            Route("/notes/{note_id}/note.fhir.json", self.download_fhir),
            Route("/notes/{note_id}/note.txt", self.download_txt),
            Route("/notes/{note_id}/format", self.switch_format, methods=["POST"]),
            Route("/notes/{note_id}/revise", self.revise, methods=["POST"]),
            Route("/notes/{note_id}/finalize", self.finalize, methods=["POST"]),
            Route("/notes/{note_id}/edit", self.save_edit, methods=["POST"]),
            Route("/notes/{note_id}/label", self.save_label, methods=["POST"]),
            Route("/favicon.ico", lambda request: Response(status_code=204)),
            Route("/login", self.login_page, methods=["GET", "POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ]
        self.starlette = Starlette(routes=routes, lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        self.hub.attach(asyncio.get_running_loop())
        yield

    # ---- the gate: every request passes here first ----------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.starlette(scope, receive, send)
            return
        started = time.monotonic()
        status = {"code": 0}

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
                            (b"cross-origin-opener-policy", b"same-origin")]
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))  # notes never sit in the browser's cache
                if self.tls:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            refusal = self._gate(Request(scope))
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
            else:
                await self.starlette(scope, receive, send_with_headers)
        except Exception as e:  # noqa: BLE001 - log the class only: a message may hold note text
            log.error("request %s %s failed (%s)", scope["method"], _path_for_log(scope["path"]),
                      e.__class__.__name__)
            if not status["code"]:
                await PlainTextResponse("internal error; see the review page's log", 500)(scope, receive, send)
        finally:
            log.info("%s %s %s %.0f ms", scope["method"], _path_for_log(scope["path"]), status["code"] or "-",
                     (time.monotonic() - started) * 1000)

    def _gate(self, request: Request) -> Response | None:
        client = request.client.host if request.client else ""
        if not self.login:
            # no login: only this computer may use the page, and only under a loopback name
            # (a Host of another name is a DNS-rebinding page trying to read the notes)
            if not is_loopback(client):
                return PlainTextResponse("Refused: this review page has no login, so it answers only on this "
                                         "computer (README, \"The review page\").", 403)
            if not is_loopback(host_of(request.headers.get("host", ""))):
                return PlainTextResponse("Refused: unknown host name; open the page at http://127.0.0.1.", 403)
        sid = request.cookies.get(SESSION_COOKIE)
        path = request.url.path
        public = path == "/login" or path.startswith("/static/")
        if self.login and not public and not self.sessions.valid(sid):
            if request.method == "GET" and path != "/events":
                return RedirectResponse("/login", 303)
            return JSONResponse({"error": "log in first"}, 401)
        if request.method in UNSAFE_METHODS and path != "/login":
            origin = request.headers.get("origin")
            if origin and host_of(urllib.parse.urlsplit(origin).netloc) != host_of(request.headers.get("host", "")):
                return JSONResponse({"error": "refused: request from another site"}, 403)
            if not self.csrf.check(sid if self.login else None, request.headers.get("x-csrf-token")):
                return JSONResponse({"error": "refused: missing or wrong CSRF token; reload the page"}, 403)
        return None

    def _token(self, request: Request) -> str:
        return self.csrf.token(request.cookies.get(SESSION_COOKIE) if self.login else None)

    def _render(self, request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> Response:
        ctx = {"csrf": self._token(request), "office": self.office, "login": self.login, **ctx}
        return self.templates.TemplateResponse(request, name, ctx, status_code=status)

    # ---- login --------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if not self.login:
            return RedirectResponse("/", 303)
        if request.method == "GET":
            return self._render(request, "login.html", {"csrf": self.csrf.token("login"), "error": ""})
        client = request.client.host if request.client else ""
        form = urllib.parse.parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
        if not self.csrf.check("login", (form.get("csrf_token") or [""])[0]):
            return PlainTextResponse("refused: missing or wrong CSRF token; reload the page", 403)
        attempt = self.sessions.attempt(client)  # counted before the scrypt check (concurrent guesses)
        if attempt is None:
            return self._render(request, "login.html", {"csrf": self.csrf.token("login"),
                                "error": "Too many failed attempts; wait five minutes."}, 429)
        password = (form.get("password") or [""])[0]
        ok = await run_in_threadpool(check_password, password, self.rc.password_hash)
        if ok:
            self.sessions.succeeded(client, attempt)
        else:
            log.warning("failed login from %s", client)
            return self._render(request, "login.html", {"csrf": self.csrf.token("login"),
                                "error": "Wrong password."}, 401)
        sid = self.sessions.create()
        resp = RedirectResponse("/", 303)
        resp.set_cookie(SESSION_COOKIE, sid, max_age=int(self.rc.login_hours * 3600), httponly=True,
                        secure=self.tls, samesite="strict", path="/")
        log.info("login from %s", client)
        return resp

    async def logout(self, request: Request) -> Response:
        self.sessions.end(request.cookies.get(SESSION_COOKIE))
        resp = JSONResponse({"ok": True})
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    # ---- the list -----------------------------------------------------------------------

    async def list_page(self, request: Request) -> Response:
        rows = await run_in_threadpool(self.store.rows, self.office)
        return self._render(request, "list.html", {"rows": rows})

    async def list_json(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.store.rows, self.office))

    async def events(self, request: Request) -> Response:
        q = self.hub.subscribe()

        async def stream():
            try:
                yield "retry: 2000\n\n"
                quiet = 0.0
                live = None
                while not self.stopping():  # end the stream when the server shuts down
                    now = self.live_status()
                    if now != live:  # the workstation's broker connection and the boxes' heartbeats
                        live = now
                        yield f"event: live\ndata: {json.dumps(now)}\n\n"
                    try:
                        ev = await asyncio.wait_for(q.get(), 0.5)
                    except asyncio.TimeoutError:
                        quiet += 0.5
                        if quiet >= KEEPALIVE_S:
                            quiet = 0.0
                            if await request.is_disconnected():
                                return
                            yield ": keepalive\n\n"
                        continue
                    quiet = 0.0
                    yield f"event: {ev['type']}\ndata: {json.dumps(ev['data'])}\n\n"
            finally:
                self.hub.unsubscribe(q)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})

    def live_status(self) -> dict:
        return {"broker": bool(self.broker_connected()),
                "boxes": [{"device": k, **v} for k, v in sorted(self.boxes.items())]}

    def status_arrived(self, device: str, d: dict) -> None:  # inbox thread: a box's retained heartbeat
        d = d if isinstance(d, dict) else {}
        state = str(d.get("state", ""))
        if state == "selftest":  # IT's last self-test, retained until the service starts
            state = "self-test passed" if d.get("passed") else "self-test failed"
        elif state not in ("online", "offline"):
            state = "unknown"
        try:  # the box's own time of the heartbeat: a retained one may be hours old when it is delivered
            when = datetime.fromisoformat(str(d["ts"]).replace("Z", "+00:00")).astimezone()
        except (KeyError, TypeError, ValueError):
            when = datetime.now().astimezone()  # a last will has no time: when it was heard
        at = when.strftime("%H:%M:%S") if when.date() == datetime.now().date() else when.strftime("%d %b %H:%M")
        self.boxes = {**self.boxes, device: {"state": state, "at": at}}  # rebound whole: readers never see it change

    def note_arrived(self, d: dict) -> None:  # inbox thread
        try:
            row = self.store.row(d["note_id"], self.office)
        except (OSError, ValueError, KeyError):
            return
        self.hub.publish({"type": "note", "data": row})

    def receipt_arrived(self, d: dict) -> None:  # inbox thread
        self.note_arrived({"note_id": d.get("note_id", "")})

    # ---- one note -----------------------------------------------------------------------

    def _note_context(self, note_id: str, version: int | None) -> dict:
        versions = self.store.note_versions(note_id)
        if not versions:
            raise KeyError(note_id)
        v = versions[-1] if version is None else version
        note = self.store.note(note_id, v)
        base = None
        if v > 1 and v - 1 in versions:
            base = note_changes(self.store.note(note_id, v - 1), note)
        f = note.facts
        start, end = _local(f.started_at.isoformat()), _local(f.ended_at.isoformat())
        sections = []
        quotes = _quotes_by_segment(note)
        local = self.store.local(note_id)
        asked = local.get("asked", {})
        for si, s in enumerate(note.sections):
            items = []
            for ii, it in enumerate(s.items):
                change = base.items.get((si, ii)) if base else None
                items.append({"text": item_text(it), "kind": it.kind, "evidence": _evidence(it, quotes),
                              "change": change.kind if change else "same",
                              "parts": change.parts if change else [("eq", item_text(it))]})
            sections.append({"key": s.key, "title": s.title, "items": items})
        receipt = self.store.closing_receipt(note_id)
        status = status_of(receipt, versions[-1])
        edit = self.store.edit(note_id)
        return {
            "note": note, "note_id": note_id, "version": v, "latest": versions[-1], "versions": versions,
            "sections": sections, "changes": base, "status": status, "device": self.store.device(note_id),
            "format_title": FORMAT_TITLES.get(note.format, note.format.upper()),
            "date": start.strftime("%A %d %B %Y"), "time": f"{start:%H:%M}\u2013{end:%H:%M} {start:%Z}",
            "duration": duration_text(f.duration_s), "speech": duration_text(f.speech_s),
            "redactions": sorted(note.redaction_counts.items()), "topics": topic_summary(note),
            "removed_passages": note.removed_passages,
            "revisions": [{"version": r.version, "kind": r.kind, "text": _revision_text(r.kind, asked.get(str(r.version))),
                           "when": _local(r.created_at.isoformat()).strftime("%d %b %H:%M")} for r in note.revisions],
            "label": local.get("label", ""), "finalising": note_id in self._finalising,
            "receipt": receipt, "edit": edit, "ehr_text": to_text(note),
            "open": status in ("new", "revised"),
        }

    def _version_param(self, request: Request) -> int | None:
        """?v=N; absent: the newest. Anything but 1-6 ASCII digits is no version (a 404, never a 500:
        int() refuses over 4300 digits, and str.isdigit() passes digits int() cannot read)."""
        v = request.query_params.get("v")
        if not v:
            return None
        return int(v) if re.fullmatch(r"[0-9]{1,6}", v) else 0

    async def note_page(self, request: Request) -> Response:
        try:
            ctx = await run_in_threadpool(self._note_context, request.path_params["note_id"],
                                          self._version_param(request))
        except KeyError:
            return self._render(request, "missing.html", {}, 404)
        return self._render(request, "note.html", ctx)

    async def note_body(self, request: Request) -> Response:
        try:
            ctx = await run_in_threadpool(self._note_context, request.path_params["note_id"],
                                          self._version_param(request))
        except KeyError:
            return PlainTextResponse("no such note", 404)
        return self._render(request, "_note_body.html", ctx)

    async def _download(self, request: Request, make, suffix: str, media: str) -> Response:
        note_id = request.path_params["note_id"]
        try:
            note = await run_in_threadpool(self.store.note, note_id, self._version_param(request))
        except KeyError:
            return PlainTextResponse("no such note", 404)
        body = make(note)
        fmt = note.format if note.format in NOTE_FORMATS else "note"  # the box's word: never raw into a header
        name = f"roomnote-{fmt}-{note.facts.started_at.date().isoformat()}-{note_id[:8]}-v{note.version}{suffix}"
        name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        return Response(body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'})

    async def download_md(self, request: Request) -> Response:
        return await self._download(request, to_markdown, ".md", "text/markdown; charset=utf-8")

    async def download_txt(self, request: Request) -> Response:
        return await self._download(request, to_text, ".txt", "text/plain; charset=utf-8")

    async def download_fhir(self, request: Request) -> Response:
        note_id = request.path_params["note_id"]
        final = bool(NOTE_ID.match(note_id)) and self.store.status(
            note_id, (self.store.note_versions(note_id) or [0])[-1]) == "finalised"

        def make(note):
            doc = to_fhir(note)
            if final:
                doc["docStatus"] = "final"  # the therapist finalised it on the box
            return json.dumps(doc, indent=1, ensure_ascii=False)

        return await self._download(request, make, ".fhir.json", "application/fhir+json; charset=utf-8")

    # ---- actions ------------------------------------------------------------------------

    async def _json_body(self, request: Request) -> dict:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise RoomnoteError("the request is too large")
        try:
            d = json.loads(raw or b"{}")
        except (ValueError, RecursionError):  # deep nesting: a bad request, not an internal error
            raise RoomnoteError("the request is not JSON") from None
        if not isinstance(d, dict):
            raise RoomnoteError("the request is not a JSON object")
        return d

    async def _command(self, note_id: str, name: str, fields: dict) -> tuple[dict | None, str]:
        device = await run_in_threadpool(self.store.device, note_id)
        answer = await run_in_threadpool(self.send, device, name, {"note_id": note_id, **fields})
        return answer, device

    async def _wait_for(self, pred, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            got = await run_in_threadpool(pred)
            if got or time.monotonic() >= deadline:
                return got
            await asyncio.sleep(0.1)

    async def _revise(self, note_id: str, instruction: str, what: str) -> Response:
        if not self.store.note_versions(note_id):
            return JSONResponse({"state": "error", "message": "no such note"}, 404)
        before = self.store.note_versions(note_id)[-1]
        try:
            answer, device = await self._command(note_id, "revise", {"instruction": instruction})
        except RoomnoteError as e:
            return JSONResponse({"state": "error", "message": str(e)}, 502)
        if answer is None:
            return JSONResponse({"state": "no_answer", "message": f"{device} did not answer within "
                                 f"{self.rc.answer_wait_s:.0f} s; it may be off or offline. Try again later."})
        if answer.get("event") == "command_rejected":
            log.info("%s for note %s refused by %s (%s)", what, note_id, device, answer.get("reason"))
            return JSONResponse({"state": "refused", "message": _refusal(answer, instruction)})
        version = int(answer.get("version") or 0)
        if version:  # kept on this workstation only, for the version history (the box keeps no words)
            await run_in_threadpool(self.store.save_request, note_id, version, instruction)
        arrived = await self._wait_for(lambda: version in self.store.note_versions(note_id), self.rc.answer_wait_s)
        log.info("%s for note %s: v%d -> v%d", what, note_id, before, version)
        return JSONResponse({"state": "revised" if arrived else "pending", "version": version,
                             "message": f"Version {version} is here." if arrived else
                             f"{device} made version {version}; it has not arrived yet and will appear when it does."})

    async def revise(self, request: Request) -> Response:
        try:
            body = await self._json_body(request)
        except RoomnoteError as e:
            return JSONResponse({"state": "error", "message": str(e)}, 400)
        instruction = " ".join(str(body.get("instruction", "")).split())
        if not instruction:
            return JSONResponse({"state": "error", "message": "Write what the box should change first."}, 400)
        if len(instruction) > 1000:
            return JSONResponse({"state": "error", "message": "The instruction is over 1000 characters."}, 400)
        return await self._revise(request.path_params["note_id"], instruction, "revision")

    async def switch_format(self, request: Request) -> Response:
        try:
            body = await self._json_body(request)
        except RoomnoteError as e:
            return JSONResponse({"state": "error", "message": str(e)}, 400)
        fmt = body.get("format")
        if fmt not in NOTE_FORMATS:
            return JSONResponse({"state": "error", "message": f"format must be one of {', '.join(NOTE_FORMATS)}"},
                                400)
        # the box's command set: a format switch is a revision "rewrite as <format>" (notes/revise.py)
        return await self._revise(request.path_params["note_id"], f"rewrite as {fmt}", "format switch")

    async def finalize(self, request: Request) -> Response:
        """Sends finalize and answers at once; the answer and the receipt come on the live stream
        (a blocking request looked like a failure when the box took long, though it had worked)."""
        note_id = request.path_params["note_id"]
        if not self.store.note_versions(note_id):
            return JSONResponse({"state": "error", "message": "no such note"}, 404)
        device = await run_in_threadpool(self.store.device, note_id)
        if note_id not in self._finalising:
            self._finalising.add(note_id)
            task = asyncio.create_task(self._finalize_job(note_id, device))
            self._jobs.add(task)
            task.add_done_callback(self._jobs.discard)
        return JSONResponse({"state": "pending", "message": f"Sent to {device}; waiting for its answer and its "
                             "signed deletion receipt. This page updates by itself."}, 202)

    def _progress(self, note_id: str, state: str, message: str) -> None:
        self.hub.publish({"type": "finalize", "data": {"note_id": note_id, "state": state, "message": message}})

    async def _finalize_job(self, note_id: str, device: str) -> None:
        try:
            try:
                answer = await run_in_threadpool(self.send, device, "finalize", {"note_id": note_id})
            except RoomnoteError as e:
                self._progress(note_id, "error", f"Could not send to {device}: {e}")
                return
            if answer is not None and answer.get("event") == "command_rejected":
                log.info("finalize for note %s refused by %s (%s)", note_id, device, answer.get("reason"))
                self._progress(note_id, "refused", f"{device} refused to finalise: "
                               f"{answer.get('detail', answer.get('reason'))}.")
                return
            receipt_id = str((answer or {}).get("receipt_id") or "")
            if answer is None:  # no answer yet: a receipt that came anyway is the proof
                check = await run_in_threadpool(self.store.closing_receipt, note_id)
                if check is None:
                    self._progress(note_id, "no_answer", f"{device} has not answered within "
                                   f"{self.rc.answer_wait_s:.0f} s (it may be busy, off or offline). If it "
                                   "finalises the note, its signed receipt appears here by itself; otherwise "
                                   "try again later.")
                    return
            else:
                self._progress(note_id, "pending", f"{device} finalised the note; waiting for its signed "
                               "deletion receipt\u2026")
                check = await self._wait_for(lambda: self.store.check_receipt(receipt_id), self.rc.receipt_wait_s)
            log.info("finalize for note %s: receipt %s %s", note_id, receipt_id or "-",
                     check.state if check else "not arrived")
            if check is None:
                self._progress(note_id, "no_receipt", f"{device} says it finalised the note, but its signed "
                               f"deletion receipt did not arrive within {self.rc.receipt_wait_s:.0f} s. Without it "
                               "there is no proof the transcript was destroyed: keep this page open or check "
                               "again later.")
                return
            self._progress(note_id, check.state, check.message)
        except Exception as e:  # noqa: BLE001 - the class only: a message may hold note text
            log.error("finalize for note %s failed (%s)", note_id, e.__class__.__name__)
            self._progress(note_id, "error", "The review page could not finish this; reload the page.")
        finally:
            self._finalising.discard(note_id)

    async def save_label(self, request: Request) -> Response:
        note_id = request.path_params["note_id"]
        try:
            body = await self._json_body(request)
            label = await run_in_threadpool(self.store.save_label, note_id, body.get("label", ""))
        except KeyError:
            return JSONResponse({"state": "error", "message": "no such note"}, 404)
        except RoomnoteError as e:
            return JSONResponse({"state": "error", "message": str(e)}, 400)
        log.info("label of note %s saved (%d characters)", note_id, len(label))
        self.note_arrived({"note_id": note_id})
        return JSONResponse({"state": "saved", "label": label,
                             "message": "Label saved on this computer only." if label else "Label removed."})

    async def save_edit(self, request: Request) -> Response:
        note_id = request.path_params["note_id"]
        try:
            body = await self._json_body(request)
            based_on = int(body.get("based_on_version", 0))
            saved = await run_in_threadpool(self.store.save_edit, note_id, body.get("text"), based_on)
        except KeyError:
            return JSONResponse({"state": "error", "message": "no such note"}, 404)
        except (RoomnoteError, ValueError, TypeError) as e:
            return JSONResponse({"state": "error", "message": str(e) or "bad request"}, 400)
        log.info("own version of note %s saved (based on v%d, %d characters)", note_id, based_on, len(saved["text"]))
        self.note_arrived({"note_id": note_id})
        return JSONResponse({"state": "saved", "saved_at": _local(saved["saved_at"]).strftime("%d %b %Y, %H:%M:%S %Z"),
                             "message": f"Your version is saved (based on version {based_on}). "
                                        "The box's version is unchanged."})


def _refusal(answer: dict, instruction: str) -> str:
    """The box says only "failed" with fixed text (it never echoes the session); say why it may be."""
    from ..notes.revise import CAN_DO, parse_instruction

    reason, detail = answer.get("reason"), str(answer.get("detail", ""))
    if reason == "failed" and "could not be applied" in detail:
        try:
            parse_instruction(instruction)
        except RevisionRefused:
            return f"The box did not understand this instruction. {CAN_DO[0].upper()}{CAN_DO[1:]}."
        return ("Refused: the box cannot find that in the session, or the note already is that way; "
                "nothing was changed.")
    if reason == "out_of_order":
        return "Refused: the box no longer holds this session's transcript (finalised, discarded or expired)."
    return f"Refused by the box: {detail or reason}."


def _path_for_log(path: str) -> str:
    # paths carry note ids and fixed words only; cut anything long or odd all the same
    return path if len(path) <= 120 and path.isascii() and path.isprintable() else "<path>"
