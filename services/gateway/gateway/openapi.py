"""The served OpenAPI 3 document, built with apispec from the same marshmallow schemas the code loads."""
from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway import schemas

_JSON = "application/json"


def _resp(description: str, schema: str) -> dict:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


_ERRORS = {
    "400": _resp("malformed JSON", "Error"),
    "401": _resp("missing, forged or expired access token, or the payer is deactivated", "Error"),
    "403": _resp("the access token's scope does not cover this call", "Error"),
    "422": _resp("schema error; `field` names it", "Error"),
    "504": _resp("the practice's services did not answer in time", "Error"),
}


SCOPES = {
    "system/Task.read": "read the payer's own CDex Tasks",
    "system/Task.write": "send CDex Tasks",
    "system/DisclosureRequest.read": "read the payer's own disclosure requests",
    "system/DisclosureRequest.write": "make disclosure requests",
    "system/*.read": "read everything above",
    "system/*.write": "send everything above",
}

_TOKEN_REQUEST = {
    "type": "object", "required": ["grant_type", "client_assertion_type", "client_assertion", "scope"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "client_assertion_type": {"type": "string",
                                  "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]},
        "client_assertion": {"type": "string", "description": "JWT signed RS384 or ES384 by a key of the payer's "
                                                              "registered JWKS; iss = sub = client id, aud = this URL, "
                                                              "exp at most 300 s ahead, unique jti"},
        "scope": {"type": "string", "example": "system/Task.write system/Task.read"},
        "client_id": {"type": "string"},
    },
}
_TOKEN_REPLY = {
    "type": "object", "required": ["access_token", "token_type", "expires_in", "scope"],
    "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string", "enum": ["bearer"]},
                   "expires_in": {"type": "integer"}, "scope": {"type": "string"}},
}
_OAUTH_ERROR = {
    "type": "object", "required": ["error", "error_description"],
    "properties": {"error": {"type": "string", "enum": ["invalid_request", "invalid_client", "invalid_grant",
                                                        "unsupported_grant_type", "invalid_scope",
                                                        "temporarily_unavailable", "server_error"]},
                   "error_description": {"type": "string"}},
}


def build_spec(server_url: str | None = None, token_url: str = "/oauth/token") -> dict:
    spec = APISpec(title="Confide insurer API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   servers=[{"url": server_url}] if server_url else [])
    spec.components.security_scheme("smartBackendServices", {
        "type": "oauth2",
        "description": "SMART Backend Services: client credentials with a private_key_jwt client assertion "
                       "(RS384/ES384) signed by a key in the payer's registered JWKS",
        "flows": {"clientCredentials": {"tokenUrl": token_url, "scopes": SCOPES}}})
    for name, schema_dict in (("TokenRequest", _TOKEN_REQUEST), ("TokenReply", _TOKEN_REPLY),
                              ("OAuthError", _OAUTH_ERROR)):
        spec.components.schema(name, component=schema_dict)
    for name, schema in (("Error", schemas.ErrorSchema), ("Health", schemas.HealthSchema),
                         ("DisclosureRequestBody", schemas.DisclosureRequestBodySchema),
                         ("DisclosureRequest", schemas.DisclosureRequestReplySchema),
                         ("FhirTask", schemas.FhirTaskSchema), ("TaskReply", schemas.TaskReplySchema)):
        spec.components.schema(name, schema=schema)
    def secured_by(*scopes: str) -> list:
        return [{"smartBackendServices": list(scopes)}]
    id_param = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}
    spec.path(path="/health", operations={"get": {
        "summary": "Each dependency ok, degraded or down", "operationId": "health",
        "responses": {"200": _resp("all ok, or degraded", "Health"),
                      "503": _resp("a required dependency is down", "Health")}}})
    spec.path(path="/disclosure-requests", operations={"post": {
        "summary": "Request progress, psychotherapy or SUD counseling notes of a patient", "operationId": "createDisclosureRequest",
        "security": secured_by("system/DisclosureRequest.write"),
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                        "description": "1-255 visible ASCII characters; a retry with the same key returns the "
                                       "request already made (200); another body under it is refused (422)",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
        "requestBody": {"required": True, "content": {_JSON: {"schema": "DisclosureRequestBody"}}},
        "responses": {"201": _resp("recorded and processed", "DisclosureRequest"),
                      "200": _resp("the same Idempotency-Key was sent before: the existing request",
                                   "DisclosureRequest"), **_ERRORS}}})
    spec.path(path="/disclosure-requests/{request_id}", operations={"get": {
        "summary": "One of the caller's own requests", "operationId": "getDisclosureRequest",
        "security": secured_by("system/DisclosureRequest.read"), "parameters": [id_param],
        "responses": {"200": _resp("the request", "DisclosureRequest"),
                      "401": _ERRORS["401"], "403": _ERRORS["403"], "404": _resp("no such request for this org", "Error")}}})
    spec.path(path="/fhir/Task", operations={"post": {
        "summary": "Da Vinci CDex data/attachment request Task", "operationId": "createTask",
        "security": secured_by("system/Task.write"),
        "requestBody": {"required": True, "content": {_JSON: {"schema": "FhirTask"},
                                                      "application/fhir+json": {"schema": "FhirTask"}}},
        "responses": {"201": _resp("Task accepted, rejected, on hold or completed", "TaskReply"),
                      "200": _resp("the same Task was sent before: the existing request", "TaskReply"),
                      "409": _resp("this Task id was sent before for another patient, kind or purpose", "Error"),
                      **_ERRORS}}})
    spec.path(path="/fhir/Task/{request_id}", operations={"get": {
        "summary": "Task status the CDex way", "operationId": "getTask",
        "security": secured_by("system/Task.read"), "parameters": [id_param],
        "responses": {"200": _resp("the Task", "TaskReply"),
                      "401": _ERRORS["401"], "403": _ERRORS["403"], "404": _resp("no such Task for this org", "Error")}}})
    spec.path(path="/oauth/token", operations={"post": {
        "summary": "SMART Backend Services access token (client credentials, private_key_jwt)",
        "operationId": "token", "security": [],
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": "TokenRequest"}}},
        "responses": {"200": _resp("an access token for 300 s", "TokenReply"),
                      "400": _resp("refused; error_description names what failed", "OAuthError"),
                      "503": _resp("the payer registry did not answer in time", "OAuthError")}}})
    spec.path(path="/openapi.json", operations={"get": {
        "summary": "This document", "operationId": "openapi",
        "responses": {"200": {"description": "OpenAPI 3 document", "content": {_JSON: {"schema": {"type": "object"}}}}}}})
    return spec.to_dict()
