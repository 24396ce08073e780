"""``/webhooks/<provider>``: thin. The raw call in, :func:`payments.ingest.handle_callback`, its
answer out. Public in the access policy: providers authenticate by signature, carry no session
(so no CSRF check applies) and no bearer token.

The body is read as raw bytes before anything parses it. A body whose declared length is over
:data:`payments.ingest.MAX_BODY_BYTES` is not read whole: only the first bytes (the limit plus a
little, to mask a card number cut by the limit) are read and archived, and the answer is 413.
A refused call is archived as a bounded prefix; past the per-address limit on refused calls the
answer is 429 with ``Retry-After`` (:mod:`payments.refused`).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, g, request
from flask.blueprints import BlueprintSetupState
from flask.wrappers import Request
from werkzeug.wsgi import get_input_stream

from adapters import Headers, RawRequest, adapter_class
from recon.clock import Clock
from recon.config import Settings
from recon.payments.ingest import MAX_BODY_BYTES, PAN_SLACK_BYTES, handle_callback, known_provider
from recon.payments.refused import RefusalPolicy

bp = Blueprint("webhooks", __name__)


@bp.record_once
def _check_settings(state: BlueprintSetupState) -> None:
    """A bad RECON_REFUSED_CALLBACK_* value stops the app at start, not at the first refusal."""
    RefusalPolicy.from_settings(state.app.extensions["recon.settings"])


def _read_body(req: Request) -> tuple[bytes, int | None]:
    """The raw body (at most the limit plus slack) and the declared Content-Length."""
    declared = req.content_length
    # never more than we may keep (the app-wide MAX_CONTENT_LENGTH must not turn a large call
    # into an unarchived 413); within the declared length, which is what werkzeug's stream
    # reads for ``request.get_data`` (the view reads the body once: nothing is cached)
    stream = get_input_stream(req.environ, max_content_length=None)
    if declared is not None and declared <= MAX_BODY_BYTES:
        return stream.read(), declared
    return stream.read(MAX_BODY_BYTES + PAN_SLACK_BYTES), declared


@bp.route("/webhooks/<provider>", methods=["GET", "POST"])
def receive(provider: str) -> Response:
    if not known_provider(provider):
        abort(404, description=f"no webhook for provider {provider!r}")
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    method = adapter_class(provider).http_method
    if req.method != method:
        abort(405, description=f"{provider} webhooks use {method}", valid_methods=[method])
    extensions = current_app.extensions
    clock: Clock = extensions["recon.clock"]
    settings: Settings = extensions["recon.settings"]
    body, declared = _read_body(req)
    raw = RawRequest(
        method=method,
        path=req.path,
        query_string=req.query_string.decode("utf-8", "replace"),
        headers=Headers(list(req.headers.items())),
        body=body,
        received_at=clock.now(),
    )
    ack = handle_callback(extensions["recon.db"], clock, settings, provider, raw,
                          request_id=g.get("request_id"), remote_addr=req.remote_addr,
                          declared_length=declared)
    response = Response(ack.body, status=ack.status_code, content_type=ack.content_type)
    if ack.status_code == 413:
        response.headers["Connection"] = "close"  # the rest of the body was never read
    elif ack.status_code == 429:  # too many refused calls from this address: not archived
        response.headers["Retry-After"] = str(RefusalPolicy.from_settings(settings)
                                              .window_seconds)
    return response
