"""The FastAPI app: assign users to segments over HTTP.

Routes: ``POST /assign`` (feature rows), ``POST /assign/events`` (raw events),
``GET /segments``, ``GET /personas``, ``GET /health`` (liveness), ``GET /ready`` (model
loaded), ``GET /metrics`` (Prometheus text). Every answer that assigns says which model
answered (``model``: version, created, hash). Every error is one JSON object
``{"error": ..., "field": ..., ...}``: 422 for a bad request (naming the field; unknown
features list the known ones), 413 over the body or batch limits, 401 without the token,
404/405 for unknown routes, 500 (logged, no traceback in the answer) for a bug.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from personae.errors import PersonaeError
from personae.serve.holder import ModelHolder
from personae.serve.loaded import LoadedModel, ModelInfo, RequestError
from personae.serve.metrics import (
    CONTENT_TYPE,
    ENDPOINTS,
    Metrics,
    endpoint_label,
    make_metrics,
)

log = logging.getLogger(__name__)

OPEN_PATHS = ("/health", "/ready")
HotRoute = Callable[[bytes], Response]
HOT_ROUTE = ("POST", "/assign")  # answered by the Guard itself (see there)
# A body refused as too large is still read, and dropped, up to this many bytes beyond the
# limit before the answer: clients that send the whole body before reading (urllib,
# requests) would otherwise meet a reset connection instead of the 413 (nginx's lingering
# close does the same). Larger bodies are cut off; clients that wait for
# "100 Continue" (curl) send nothing and are answered at once.
DRAIN_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ServeConfig:
    """Every setting of the service, validated once (``personae serve`` builds it)."""

    model_dir: str
    token: str | None = None
    max_body_bytes: int = 2_000_000
    max_users: int = 1_000
    max_events: int = 10_000
    reload_seconds: float = 1.0

    def as_public_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["token"] = self.token is not None
        return out


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[dict[str, Any]] = Field(min_length=1, description="One object per user: "
                                        "user_id and every feature the model reads.")


class EventsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[dict[str, Any]] = Field(min_length=1, description="Raw events: user_id, "
                                         "time, and the roles of the log (event, value...).")
    reference_date: str | None = Field(None, description="Date recency is counted to "
                                       "(default: the day after the last event sent).")
    early: bool | None = Field(None, description="Use the early model: null = for users "
                               "younger than its longest window; true/false = always/never.")


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **{k: v for k, v in extra.items()
                                              if v is not None}}, status_code=status)


class ServiceApp(FastAPI):
    """FastAPI with the ``Guard`` in front: every HTTP request meets the guard first, and
    only what the guard does not answer itself goes on to FastAPI. In front, not inside
    FastAPI's middleware stack: FastAPI's telemetry check and middleware layers were 14 of
    a one-user ``/assign``'s 81 us in-process. So FastAPI's own OpenTelemetry spans (when
    a tracer is configured) cover every route but ``POST /assign``; personae's Prometheus
    metrics count every route alike."""

    guard: Guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.guard(scope, receive, send)
        else:  # lifespan
            await super().__call__(scope, receive, send)

    async def behind_guard(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own handling (telemetry, middleware, router): what the guard passes on."""
        await super().__call__(scope, receive, send)


class Guard:
    """The ASGI front of the service: metrics for every answer, the token, the body limit,
    and the hot route. ``POST /assign`` is answered here by the same handler its FastAPI
    route declares: FastAPI's router, exception middleware and dependency solving were half
    of a one-user request's time in the app (measured in-process: 265 vs 76 us for a
    bare endpoint), and they add nothing to a handler that reads the bytes itself."""

    def __init__(self, app: Any, config: ServeConfig, metrics: Metrics,
                 hot_route: HotRoute) -> None:
        self.app = app
        self.token = config.token
        self.limit = config.max_body_bytes
        self.metrics = metrics
        self.hot_route = hot_route
        self._requests: dict[tuple[str, int], Any] = {}
        self._latency = {e: metrics.latency.labels(e) for e in ENDPOINTS + ("other",)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        endpoint = endpoint_label(scope["path"])
        status = [500]
        try:
            response: Response | None = self._refuse(scope)
            if response is not None and response.status_code == 413:
                await _drain(scope, receive)
            if response is None:
                body, too_big = await self._read_body(receive)
                if too_big:
                    if body[-1].get("more_body", False):
                        await _drain(scope, receive)
                    response = _error(413, f"request body over the limit of {self.limit:,} "
                                      "bytes", field="body", limit=self.limit)
            if response is None and (scope["method"], scope["path"]) == HOT_ROUTE:
                response = _answer(self.hot_route, body[0].get("body", b"") if len(body) == 1
                                   else b"".join(m.get("body", b"") for m in body))
            if response is None:
                await self.app(scope, _replay(body), _counted(send, status))
            else:
                status[0] = response.status_code
                await response(scope, receive, send)
        finally:
            self._count_request(endpoint, status[0])
            self._latency[endpoint].observe(time.perf_counter() - started)

    def _count_request(self, endpoint: str, code: int) -> None:
        counter = self._requests.get((endpoint, code))
        if counter is None:
            counter = self._requests[(endpoint, code)] = \
                self.metrics.requests.labels(endpoint, str(code))
        counter.inc()

    def _refuse(self, scope: Scope) -> JSONResponse | None:
        headers = dict(scope["headers"])
        if self.token is not None and scope["path"] not in OPEN_PATHS:
            given = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    value.strip().encode(), self.token.encode()):
                return JSONResponse({"error": "missing or wrong token: send 'Authorization: "
                                     "Bearer <token>'", "field": "Authorization"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return _error(413, f"request body of {int(length):,} bytes is over the limit of "
                          f"{self.limit:,}", field="body", limit=self.limit)
        return None

    async def _read_body(self, receive: Receive) -> tuple[list[Message], bool]:
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages, False
            size += len(message.get("body", b""))
            if size > self.limit:
                return messages, True
            if not message.get("more_body", False):
                return messages, False


async def _drain(scope: Scope, receive: Receive) -> None:
    """Read and drop the rest of a refused body, up to ``DRAIN_BYTES`` (see there)."""
    if dict(scope["headers"]).get(b"expect", b"").lower() == b"100-continue":
        return  # the client waits for our word before it sends the body
    dropped = 0
    while dropped <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        dropped += len(message.get("body", b""))


def _answer(route: HotRoute, body: bytes) -> Response:
    """The hot route's answer, with its errors answered as the app's handlers answer them."""
    try:
        return route(body)
    except Exception as exc:
        for kind, answer in ERROR_ANSWERS:
            if isinstance(exc, kind):
                return answer(exc)
        return _crash(*HOT_ROUTE, exc)


def _counted(send: Send, status: list[int]) -> Send:
    """``send`` that notes the status of the answer in ``status[0]``."""

    async def counted(message: Message) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
        await send(message)

    return counted


def _replay(messages: list[Message]) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return {"type": "http.disconnect"}

    return receive


def create_app(config: ServeConfig, holder: ModelHolder | None = None) -> ServiceApp:
    """The app for one model folder (loaded now: a bad folder fails here, not later)."""
    metrics = make_metrics()
    holder = holder or ModelHolder(config.model_dir, config.reload_seconds,
                                   on_reload=lambda o: metrics.reloads.labels(o).inc())
    metrics.model_users.set(holder.current.model.n_users_)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        holder.start()
        try:
            yield
        finally:
            holder.stop()

    app = ServiceApp(title="personae", summary="Assign users to behavioural segments.",
                     lifespan=lifespan)
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.config = config
    _add_error_handlers(app)

    def answer_assign(body: bytes) -> Response:
        # validated by pydantic-core straight from the bytes: FastAPI's body dependency
        # (json.loads, then the model) was a fifth of a one-user request's time
        request = _parse(AssignRequest, body)
        users = request.users
        if len(users) > config.max_users:
            return _too_many("users", len(users), config.max_users)
        loaded = holder.current
        ids = [_user_id(user, i, loaded) for i, user in enumerate(users)]
        rows = loaded.assign(users, ids)
        _count(metrics, rows, "core")
        return Assigned(loaded.info, rows)

    @app.post("/assign", openapi_extra=_body_schema(AssignRequest))
    async def assign(raw: Request) -> Response:  # Guard answers it first (same handler)
        return answer_assign(await raw.body())

    @app.post("/assign/events")
    def assign_events(request: EventsRequest) -> dict[str, Any]:
        if len(request.events) > config.max_events:
            return _too_many("events", len(request.events),  # type: ignore[return-value]
                             config.max_events)
        from personae.serve.early_path import assign_events as run

        loaded = holder.current
        rows = run(loaded, request.events, request.reference_date, request.early,
                   config.max_users)
        for source in ("core", "early"):
            _count(metrics, [r for r in rows if r["source"] == source], source)
        return {"model": loaded.info.as_dict(), "assignments": rows}

    @app.get("/segments")
    async def segments() -> dict[str, Any]:
        loaded = holder.current
        return {"model": loaded.info.as_dict(),
                "segments": [{k: v for k, v in s.as_dict().items() if k != "facts"}
                             for s in loaded.segments]}

    @app.get("/personas")
    async def personas() -> dict[str, Any]:
        loaded = holder.current
        return {"model": loaded.info.as_dict(),
                "personas": [{"segment": s.segment, "name": s.persona, "size": s.size,
                              "share": s.share, "key_facts": list(s.facts)}
                             for s in loaded.segments]}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> dict[str, Any]:
        loaded = holder.current
        return {"ready": True, "model": loaded.info.as_dict(),
                "features": loaded.features, "early": loaded.early is not None,
                "limits": {"max_body_bytes": config.max_body_bytes,
                           "max_users": config.max_users, "max_events": config.max_events}}

    @app.get("/metrics")
    async def metrics_text() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    app.guard = Guard(app.behind_guard, config, metrics, answer_assign)
    return app


def _parse(model: type[BaseModel], body: bytes) -> Any:
    """A request body as ``model``; errors answer as FastAPI's own 422 would."""
    try:
        return model.model_validate_json(body or b"null")
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])}
                                      for e in exc.errors(include_url=False)]) from None


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The request body in the OpenAPI document (the route reads the bytes itself)."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": model.model_json_schema()}}}}


class Assigned(Response):
    """``/assign``'s answer, ``{"model": ..., "assignments": [...]}`` in compact JSON: the
    model part encoded once per model, the rows by an encoder built once (``json.dumps``
    builds one per call when given settings), and only the two headers per answer
    (Starlette's ``Response`` renders and checks each header on every answer)."""

    encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode

    def __init__(self, info: ModelInfo, rows: list[dict[str, Any]]) -> None:
        self.status_code = 200
        self.background = None
        self.body = f'{{"model":{info.as_json},"assignments":{self.encode(rows)}}}'.encode()
        self.raw_headers = [(b"content-length", b"%d" % len(self.body)),
                            (b"content-type", b"application/json")]


def _too_many(what: str, got: int, limit: int) -> JSONResponse:
    return _error(413, f"{got:,} {what} in one request; at most {limit:,}", field=what,
                  limit=limit)


def _user_id(user: dict[str, Any], i: int, loaded: LoadedModel) -> Any:
    for key in loaded.id_keys:
        if key in user:
            value = user[key]
            if value is None or isinstance(value, (dict, list)) or (
                    isinstance(value, float) and not np.isfinite(value)):
                raise RequestError("must be a string or a number", field=f"users[{i}].{key}")
            return value
    raise RequestError("missing (every user needs a user_id)", field=f"users[{i}].user_id")


def _count(metrics: Metrics, rows: list[dict[str, Any]], source: str) -> None:
    if not rows:
        return
    if len(rows) == 1:
        metrics.count_assigned(rows[0]["segment"], source, 1)
    else:
        for label, count in Counter(r["segment"] for r in rows).items():
            metrics.count_assigned(label, source, count)
    novel = sum(1 for r in rows if r["novel"])
    if novel:
        metrics.novel.inc(novel)


def _invalid(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(loc) or "body"
    message = str(first.get("msg", "invalid"))
    if first.get("type") == "json_invalid":
        message, field = "the body is not valid JSON", "body"
    return _error(422, f"{field}: {message}", field=field,
                  errors=[{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                           "message": str(e.get("msg"))} for e in errors[:10]])


def _request_error(exc: RequestError) -> JSONResponse:
    return _error(422, str(exc), field=exc.field, known_features=exc.known)


def _personae_error(exc: PersonaeError) -> JSONResponse:
    return _error(422, str(exc))


# exception -> answer, for the FastAPI routes and the hot route alike (most specific first)
ERROR_ANSWERS: tuple[tuple[type[Exception], Callable[[Any], JSONResponse]], ...] = (
    (RequestValidationError, _invalid), (RequestError, _request_error),
    (PersonaeError, _personae_error))


def _crash(method: str, path: str, exc: Exception) -> JSONResponse:
    log.error("error answering %s %s", method, path, exc_info=exc)
    return _error(500, f"internal error ({exc.__class__.__name__}); the service keeps "
                  "running and the error is in its log")


def _add_error_handlers(app: FastAPI) -> None:
    for kind, answer in ERROR_ANSWERS:
        app.add_exception_handler(kind, _handler(answer))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), path=None)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        return _crash(request.method, request.url.path, exc)


def _handler(answer: Callable[[Any], JSONResponse]) -> Any:
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        return answer(exc)

    return handle

