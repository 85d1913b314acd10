"""GatewayService: the insurer API (nameko ``@http`` entrypoints that only translate).

Payers get an access token from ``POST /oauth/token`` (SMART Backend Services, ``gateway.smart``).
Each API request: authenticate the bearer access token (its org, scope, and the payer's identity
assertion put in the worker's context data for the RPCs: that assertion is who is asking, so no
payload names a requester and the disclosures service shows a payer only its own org's requests)
→ load the body with a schema
(400 malformed JSON, 422 naming the field; nothing is recorded until the whole
body is valid) → one RPC to ``disclosures`` (nameko RpcProxy: one proxy per
worker green thread) → dump the reply. Error bodies are
``{"error": ..., "field": ..., "messages": {...}}``.

Psychotherapy content crosses the broker only sealed: each request makes an ephemeral X25519 key
pair (:func:`confide.transport.ephemeral`), passes its public half as ``reply_public_key`` and
opens the sealed parts of the reply (:func:`_opened`) just before answering over HTTPS.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from functools import wraps

import eventlet
from nameko.exceptions import RemoteError
from werkzeug.wrappers import Response

from confide import config, transport, validation
from confide.health import summarise
from confide.identity.provider import ServiceCredential
from confide.rpc import RpcProxy
from gateway import cdex, schemas
from gateway.dependencies import HealthProbe, Smart
from gateway.errors import InvalidBody, MalformedJSON, RequestNotFound, error_reply
from gateway.https import http
from gateway.openapi import build_spec
from gateway.smart import OAuthError

log = logging.getLogger(__name__)


REQUEST_TIMEOUT = 30  # seconds
#: the services GET /health asks after (name → required): each one an endpoint here calls
HEALTH_SERVICES = {"disclosures": True, "directory": True, "audit": True}


def _json(status: int, body, content_type: str = "application/json") -> Response:
    return Response(json.dumps(body), status=status, mimetype=content_type)


def endpoint(fn):
    """Map known errors to their HTTP replies; anything else is a logged 500 without details."""
    @wraps(fn)
    def wrapper(self, request, *args, **kwargs):
        try:
            # A worker never waits forever on a service that does not answer.
            with eventlet.Timeout(REQUEST_TIMEOUT):
                return fn(self, request, *args, **kwargs)
        except eventlet.Timeout:
            log.warning("%s timed out after %ss", fn.__name__, REQUEST_TIMEOUT)
            return _json(504, {"error": "the practice's services did not answer in time", "field": None,
                               "messages": {}})
        except Exception as exc:
            mapped = error_reply(exc)
            if mapped is None:
                log.exception("unhandled error in %s", fn.__name__)
                return _json(500, {"error": "internal error", "field": None, "messages": {}})
            response = _json(*mapped)
            if mapped[0] == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="confide"'
            elif mapped[0] == 403:
                response.headers["WWW-Authenticate"] = 'Bearer realm="confide", error="insufficient_scope"'
            return response
    return wrapper


MAX_DEPTH = 32
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _depth(value, limit: int = MAX_DEPTH) -> bool:
    """True when ``value`` nests no deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return True


def _body(request) -> dict:
    try:
        body = json.loads(request.get_data(as_text=True) or "")
    except RecursionError:
        raise MalformedJSON(f"body nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise MalformedJSON("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise MalformedJSON("body must be a JSON object")
    if not _depth(body):
        raise MalformedJSON(f"body nests deeper than {MAX_DEPTH} levels")
    return body


def _request_id(raw: str) -> str:
    """A request id from the path; anything that cannot be one is simply not found (404)."""
    if not _REQUEST_ID.match(raw):
        raise RequestNotFound(raw[:64])
    return raw


def _load(schema, body: dict) -> dict:
    """``body`` loaded by ``schema``. Raises InvalidBody (422) naming the first bad field."""
    try:
        return validation.load(schema, body)
    except validation.PayloadError as exc:
        raise InvalidBody(exc.field, exc.messages) from None


def _opened(key, view: dict) -> dict:
    """``view`` with every ``{"sealed": box}`` of its content opened by this request's private key."""
    return transport.open_tree(key, view)


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class GatewayService:
    """HTTP insurer API on WEB_SERVER_ADDRESS (default 127.0.0.1:8000); HTTPS only there when
    TLS_CERT and TLS_KEY are set (:mod:`gateway.https`)."""

    name = "gateway"

    disclosures = RpcProxy("disclosures")
    audit = RpcProxy("audit")  # answers for the database in GET /health
    directory = RpcProxy("directory")  # the payer registry (get_payer, asked as the gateway itself)
    smart = Smart()
    probe = HealthProbe()
    credential = ServiceCredential()  # its own assertion on every call (audit.health answers only services)

    @http("GET", "/health")
    def health(self, request):
        """Each dependency ok / degraded / down (:mod:`confide.health`): the broker, the database
        (the audit service's ``health`` RPC, through its store) and each service this gateway calls
        (disclosures, directory, audit). 200 with ``status`` ``ok`` or ``degraded``; 503 ``down``
        when a required one is down. Public; names no URI, credential or record; never cached.
        """
        code, body = summarise(self.probe.checks(self.audit, HEALTH_SERVICES), instance=config.instance(self.name))
        response = _json(code, body)
        response.headers["Cache-Control"] = "no-store"
        return response

    @http("GET", "/openapi.json")
    def openapi(self, request):
        """The OpenAPI 3 document of this API."""
        return _json(200, build_spec(request.host_url.rstrip("/"), self.smart.token_url))

    @http("POST", "/oauth/token")
    def oauth_token(self, request):
        """SMART Backend Services client credentials (``gateway.smart``) → 200
        {access_token, token_type, expires_in, scope}; 400 {error, error_description}."""
        try:
            with eventlet.Timeout(REQUEST_TIMEOUT):
                grant = self.smart.token(request)
        except OAuthError as exc:
            log.warning("token refused: %s: %s", exc.error, exc.reason)
            response = _json(exc.status, exc.body())
        except eventlet.Timeout:
            log.warning("oauth_token timed out after %ss", REQUEST_TIMEOUT)
            response = _json(503, {"error": "temporarily_unavailable",
                                   "error_description": "the payer registry did not answer in time"})
        except Exception:
            log.exception("unhandled error in oauth_token")
            response = _json(500, {"error": "server_error", "error_description": "internal error"})
        else:
            log.info("token granted to %r (org %r, role %s): scope %r", grant.payer.client_id, grant.payer.org,
                     grant.payer.engine_role, grant.scope)
            response = _json(200, grant.body())
        response.headers.update(_NO_STORE)
        return response

    @http("POST", "/disclosure-requests")
    @endpoint
    def create_disclosure_request(self, request):
        """{"patient_id": "P-001", "note_kind": "progress", "date_from": "2026-01-01",
        "date_to": "2026-03-31", "claim_id": "C-9"} → 201 DisclosureRequest.

        With an ``Idempotency-Key`` header (1-255 visible ASCII), a retry with the same key by the same
        payer → 200 with the request already made (id and status; finished first if a fault left it
        half-way) instead of a second; the same key with a different body → 422 naming
        ``Idempotency-Key``; another payer's same key is its own request."""
        # Who is asking: the payer's assertion authenticate() puts in this worker's context data.
        access = self.smart.authenticate(request.headers.get("Authorization"), "DisclosureRequest", "write")
        data = _load(schemas.DisclosureRequestBodySchema(), _body(request))
        payload = {"patient_id": data["patient_id"], "purpose": data["purpose"],
                   "note_kind": data["note_kind"], "authorization_id": data["authorization_id"],
                   "date_from": _iso(data["date_from"]), "date_to": _iso(data["date_to"]),
                   "channel": {"standard": "json", "claim": data["claim_id"]}}
        key, reply_key = transport.ephemeral()
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is None:
            view = _opened(key, self.disclosures.request_disclosure(payload, reply_public_key=reply_key))
            return _json(201, schemas.reply_from_view(view))
        request_id, fingerprint = _idempotent(access.org, idempotency_key, payload)
        payload = {**payload, "request_id": request_id, "channel": {**payload["channel"], "body_sha256": fingerprint}}
        existing = self._existing_request(request_id, key, reply_key)
        if existing is None:
            try:
                view = _opened(key, self.disclosures.request_disclosure(payload, reply_public_key=reply_key))
                return _json(201, schemas.reply_from_view(view))
            except RemoteError as exc:
                if exc.exc_type != "DisclosureRequestExistsError":
                    raise
            existing = self._existing_request(request_id, key, reply_key)  # a concurrent retry won
        if (existing.get("channel") or {}).get("body_sha256") != fingerprint:
            raise InvalidBody("Idempotency-Key", {"Idempotency-Key": [
                "this key was already used by this payer for a request with a different body"]})
        return _json(200, schemas.reply_from_view(existing))

    @http("GET", "/disclosure-requests/<path:request_id>")
    @endpoint
    def get_disclosure_request(self, request, request_id):
        """→ 200 DisclosureRequest (with released content; finished first if a fault left it half-way),
        404 for another org's id."""
        # Who is asking: the payer's assertion authenticate() puts in this worker's context data.
        self.smart.authenticate(request.headers.get("Authorization"), "DisclosureRequest", "read")
        key, reply_key = transport.ephemeral()
        # The requester's re-poll finishes a request a fault left half-way (the disclosures service's
        # process manager decides it, but only the requester's own call may receive its content).
        view = self._existing_request(_request_id(request_id), key, reply_key)
        if view is None:
            raise RequestNotFound(request_id[:64])
        return _json(200, schemas.reply_from_view(view))

    @http("POST", "/fhir/Task")
    @endpoint
    def create_task(self, request):
        """A CDex Task (as the Da Vinci examples) → 201 Task with the CDex status and output.

        422 naming ``requester`` when Task.requester names another organisation than the token's
        (see ``gateway.cdex``). The same Task (id, else identifiers) sent again by the same org →
        200 with the request already made (finished first if a crash left it half-way); 409 naming
        ``id`` if that earlier Task asked for another patient, note kind or purpose.
        """
        access = self.smart.authenticate(request.headers.get("Authorization"), "Task", "write")
        task = _body(request)
        _load(schemas.FhirTaskSchema(), task)
        mapped = cdex.map_task(task, access.role, org=access.org)
        request_id = cdex.request_id_for(access.org, task)
        payload = {**mapped, "request_id": request_id}
        key, reply_key = transport.ephemeral()
        existing = self._existing_request(request_id, key, reply_key) if request_id else None
        if existing is None:
            try:
                view = _opened(key, self.disclosures.request_disclosure(payload, reply_public_key=reply_key))
                return _json(201, cdex.task_from_view(view), "application/fhir+json")
            except RemoteError as exc:
                if exc.exc_type != "DisclosureRequestExistsError":
                    raise
            existing = self._existing_request(request_id, key, reply_key)  # a concurrent retry won
        conflict = [k for k in ("patient_id", "note_kind", "purpose") if existing.get(k) != mapped[k]]
        if conflict:
            return _json(409, {"error": f"Task {task.get('id') or ''} was already sent asking for another "
                                        f"{conflict[0]}", "field": "id", "messages": {"id": [conflict[0]]}})
        return _json(200, cdex.task_from_view(existing), "application/fhir+json")

    def _existing_request(self, request_id: str, key, reply_key: str):
        """The view of ``request_id`` made by the calling payer's org (the disclosures service answers
        not found for any other), finished if a crash left it half-way, or None; sealed content opened
        with this request's ``key``."""
        try:
            view = self.disclosures.get_disclosure_request(request_id, include_content=True,
                                                           reply_public_key=reply_key)
        except RequestNotFound:
            return None
        if view["status"] in ("requested", "verified", "decided"):
            try:
                view = self.disclosures.resume_request(request_id, reply_public_key=reply_key)
            except RemoteError:  # another worker is carrying it on right now (its append won)
                view = self.disclosures.get_disclosure_request(request_id, include_content=True,
                                                               reply_public_key=reply_key)
        return _opened(key, view)

    @http("GET", "/fhir/Task/<path:request_id>")
    @endpoint
    def get_task(self, request, request_id):
        """→ 200 Task (requested/on-hold/accepted/rejected/completed), 404 for another org's id."""
        # Who is asking: the payer's assertion authenticate() puts in this worker's context data.
        self.smart.authenticate(request.headers.get("Authorization"), "Task", "read")
        key, reply_key = transport.ephemeral()
        view = _opened(key, self.disclosures.get_disclosure_request(_request_id(request_id), include_content=True,
                                                                    reply_public_key=reply_key))
        return _json(200, cdex.task_from_view(view), "application/fhir+json")


#: The namespace of the request ids the plain-JSON form derives from a payer's ``Idempotency-Key``.
IDEMPOTENCY_NAMESPACE = uuid.UUID("0c0f6e52-3a4b-4f5e-9d1c-6a7b8c9d0e1f")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _idempotent(org: str, idempotency_key: str, payload: dict) -> tuple[str, str]:
    """(request id, body fingerprint) for a plain-JSON request sent with ``Idempotency-Key``: the id is
    uuid5 of the payer's org and the key (another payer's same key is another request), the fingerprint
    the SHA-256 of the canonical payload (the same key with another body is refused, 422). Raises
    InvalidBody naming ``Idempotency-Key`` for a key that is empty, too long or not visible ASCII."""
    if not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise InvalidBody("Idempotency-Key", {"Idempotency-Key": ["1 to 255 visible ASCII characters"]})
    request_id = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{org}\x1fjson\x1f{idempotency_key}"))
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return request_id, hashlib.sha256(canonical.encode()).hexdigest()


def _iso(value):
    return value.isoformat() if value is not None else None
