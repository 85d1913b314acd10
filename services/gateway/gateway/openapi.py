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
    "401": _resp("missing, forged or expired token", "Error"),
    "422": _resp("schema error; `field` names it", "Error"),
    "504": _resp("the practice's services did not answer in time", "Error"),
}


def build_spec(server_url: str | None = None) -> dict:
    spec = APISpec(title="Confide insurer API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   servers=[{"url": server_url}] if server_url else [])
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for name, schema in (("Error", schemas.ErrorSchema), ("Health", schemas.HealthSchema),
                         ("DisclosureRequestBody", schemas.DisclosureRequestBodySchema),
                         ("DisclosureRequest", schemas.DisclosureRequestReplySchema),
                         ("FhirTask", schemas.FhirTaskSchema), ("TaskReply", schemas.TaskReplySchema)):
        spec.components.schema(name, schema=schema)
    secured = [{"bearerAuth": []}]
    id_param = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}
    spec.path(path="/health", operations={"get": {
        "summary": "Broker and database reachability", "operationId": "health",
        "responses": {"200": _resp("both reachable", "Health"), "503": _resp("one is not", "Health")}}})
    spec.path(path="/disclosure-requests", operations={"post": {
        "summary": "Request progress or psychotherapy notes of a patient", "operationId": "createDisclosureRequest",
        "security": secured,
        "requestBody": {"required": True, "content": {_JSON: {"schema": "DisclosureRequestBody"}}},
        "responses": {"201": _resp("recorded and processed", "DisclosureRequest"), **_ERRORS}}})
    spec.path(path="/disclosure-requests/{request_id}", operations={"get": {
        "summary": "One of the caller's own requests", "operationId": "getDisclosureRequest",
        "security": secured, "parameters": [id_param],
        "responses": {"200": _resp("the request", "DisclosureRequest"),
                      "401": _ERRORS["401"], "404": _resp("no such request for this org", "Error")}}})
    spec.path(path="/fhir/Task", operations={"post": {
        "summary": "Da Vinci CDex data/attachment request Task", "operationId": "createTask",
        "security": secured,
        "requestBody": {"required": True, "content": {_JSON: {"schema": "FhirTask"},
                                                      "application/fhir+json": {"schema": "FhirTask"}}},
        "responses": {"201": _resp("Task accepted, rejected, on hold or completed", "TaskReply"),
                      "200": _resp("the same Task was sent before: the existing request", "TaskReply"),
                      "409": _resp("this Task id was sent before for another patient, kind or purpose", "Error"),
                      **_ERRORS}}})
    spec.path(path="/fhir/Task/{request_id}", operations={"get": {
        "summary": "Task status the CDex way", "operationId": "getTask", "security": secured,
        "parameters": [id_param],
        "responses": {"200": _resp("the Task", "TaskReply"),
                      "401": _ERRORS["401"], "404": _resp("no such Task for this org", "Error")}}})
    spec.path(path="/openapi.json", operations={"get": {
        "summary": "This document", "operationId": "openapi",
        "responses": {"200": {"description": "OpenAPI 3 document", "content": {_JSON: {"schema": {"type": "object"}}}}}}})
    return spec.to_dict()
