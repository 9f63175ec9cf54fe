"""Schema-driven fuzzing: every operation of the served OpenAPI schema, never a 500.

Schemathesis generates requests (valid and invalid) from the schema that
drf-spectacular builds for ``/api/v1/schema/`` and sends them in-process to the
Django WSGI application, authenticated by token as a superuser and as a
department radiologist, against a small seeded registry (both departments).
Every operation of the schema is fuzzed; none is excluded. Every response must
not be a server error, and its status code must be one the schema documents.
Content types must match the schema too. ``FUZZ_MAX_EXAMPLES=N``
searches harder than CI does; ``FUZZ_STATS=1`` prints every operation's status.

The run is bounded and reproducible: a fixed number of examples per operation
(20: about 30 s for both personas on SQLite), no deadline, derandomized
generation and no example database, so CI replays exactly the same requests
every time, on SQLite and on PostgreSQL (where NUL bytes and 64-bit overflows
fail differently).
"""

from __future__ import annotations

import os
import traceback
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import schemathesis
from django.core.signals import got_request_exception
from django.core.wsgi import get_wsgi_application
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from complications.models import ComplicationEvent, ExportJob
from registry.accounts.services import role_scopes, token_create
from registry.models import Department, FollowUp, Fracture, Patient, Procedure
from tests import factories
from tests.conftest import _user, api_client_for

PARIS = ZoneInfo("Europe/Paris")
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]

# Terms the fuzzer may name: wound infection, fever, anemia, retroperitoneal hemorrhage, an
# "Other, specify" term (all in the curated catalogue the migrations load).
TERMS = ["10048038", "10016558", "10002272", "10038981", "10005329"]


def _raw_schema() -> dict[str, Any]:
    """The same document ``/api/v1/schema/`` serves (drf-spectacular, built in-process)."""
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def seeded(department, other_department, radiologist, admin_user) -> dict[str, list]:
    """A little of everything in both departments, and the ids the fuzzer should aim at."""
    from registry import roles

    _user("head_b", roles.DEPARTMENT_HEAD, other_department)
    for dept in (department, other_department):
        for i in range(2):
            pat = factories.patient(dept)
            proc = factories.procedure(pat, started_at=datetime(2021, 3, 1 + i, 9, tzinfo=PARIS))
            frac = factories.fracture(proc)
            factories.fracture(proc, site="iliac", side="right", type="pathological")
            factories.follow_up(proc, hours_after_end=48, fractures=[frac])
            factories.complication(proc, window="early", grade=2)
            factories.complication(proc, window="per_procedural", grade=3)
    job = api_client_for(admin_user).post("/api/v1/exports/", {"format": "csv"}, format="json")
    assert job.status_code == 202, job.content
    return {
        "departments": list(Department.objects.values_list("pk", flat=True)),
        "patients": list(Patient.objects.values_list("pk", flat=True)),
        "procedures": list(Procedure.objects.values_list("pk", flat=True)),
        "fractures": list(Fracture.objects.values_list("pk", flat=True)),
        "follow-ups": list(FollowUp.objects.values_list("pk", flat=True)),
        "complications": list(ComplicationEvent.objects.values_list("pk", flat=True)),
        "exports": list(ExportJob.objects.values_list("pk", flat=True)),
    }


# Body and query fields that name another record, and the pool of real ids they take.
REFERENCES = {"department": "departments", "patient": "patients", "procedure": "procedures"}

REF = object()  # in a template: a real id of the record the key names
# Nearly valid bodies, by operation path: the generated body's fields are laid over one of
# these, so that most requests pass the easy checks and fuzz one field at a time.
TEMPLATES: dict[str, dict[str, Any]] = {
    "/api/v1/patients/": {
        "department": REF,
        "registry_id": "FZ-1",
        "sex": "female",
        "birth_date": "1950-01-01",
    },
    "/api/v1/procedures/": {
        "patient": REF,
        "started_at": "2021-03-05T09:00:00+01:00",
        "ended_at": "2021-03-05T10:30:00+01:00",
        "guidance": "ct",
        "anesthesia": "general",
    },
    "/api/v1/fractures/": {
        "procedure": REF,
        "type": "insufficiency",
        "site": "sacrum",
        "side": "left",
        "screws": 2,
    },
    "/api/v1/follow-ups/": {
        "procedure": REF,
        "contact_at": "2021-03-09T10:00:00+01:00",
        "kind": "clinical",
    },
    "/api/v1/complications/": {
        "procedure": REF,
        "term": "10048038",
        "onset_at": "2021-03-03T10:00:00+01:00",
        "facts": {"intervention": "oral"},
    },
    "/api/v1/grading/preview/": {"term": "10048038", "facts": {"intervention": "oral"}},
    "/api/v1/departments/": {"code": "FZ", "name": "Fuzz", "time_zone": "Europe/Paris"},
    "/api/v1/exports/": {"format": "csv"},
}
# Values that have broken servers before: NUL bytes (PostgreSQL rejects them in text),
# integers past 32 and 64 bits, non-finite and huge numbers, odd types.
NASTY: list[Any] = [
    "\x00",
    "a\x00b",
    2**31,
    2**63,
    -(2**63) - 1,
    10**30,
    "9" * 40,
    1e308,
    -1,
    0,
    "",
    " ",
    [],
    {},
    None,
    True,
    "2021-02-30",
    "2021-03-05T09:00:00",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-12:00",
]


def _template_path(path: str) -> str:
    """The collection path of an operation: /api/v1/patients/{id}/ -> /api/v1/patients/."""
    return path.split("{")[0]


@st.composite
def _aimed(draw, operation, pools: dict[str, list]):
    """A generated case, steered past the easy 404s and 400s into the code behind them:
    ids, references and term codes often replaced by real ones, bodies laid over nearly valid
    templates, nasty values slipped into query and body fields, If-Match often left out."""
    case = draw(operation.as_strategy())
    resource = operation.path.removeprefix("/api/v1/").split("/")[0]
    for name in list(case.path_parameters or {}):
        if name == "code" and draw(st.booleans()):
            case.path_parameters[name] = draw(st.sampled_from(TERMS))
        elif resource in pools and pools[resource] and draw(st.booleans()):
            case.path_parameters[name] = draw(st.sampled_from(pools[resource]))
    template = TEMPLATES.get(_template_path(operation.path))
    if template and isinstance(case.body, dict) and draw(st.booleans()):
        kept = {k: v for k, v in case.body.items() if draw(st.integers(0, 3)) == 0}
        case.body = {
            key: draw(st.sampled_from(pools[REFERENCES[key]])) if value is REF else value
            for key, value in {**template, **kept}.items()
        }
    for container in (case.body, case.query):
        if not isinstance(container, dict):
            continue
        for key, pool in REFERENCES.items():
            if key in container and draw(st.booleans()):
                container[key] = draw(st.sampled_from(pools[pool]))
        if "fractures" in container and draw(st.booleans()):
            container["fractures"] = draw(
                st.lists(st.sampled_from(pools["fractures"]), max_size=3, unique=True)
            )
        if "term" in container and draw(st.booleans()):
            container["term"] = draw(st.sampled_from(TERMS))
        if container and draw(st.integers(0, 3)) == 0:
            key = draw(st.sampled_from(sorted(container)))
            value = draw(st.sampled_from(NASTY))
            if container is case.query and isinstance(value, list | dict | type(None)):
                value = "\x00"
            container[key] = value
    if case.headers and "If-Match" in case.headers and draw(st.booleans()):
        del case.headers["If-Match"]
    return case


@pytest.fixture
def django_wsgi_app():
    """The WSGI application, run inside the test's transaction as Django's test client does:
    without closing "old" connections at each request's start and end."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _fuzzer(operation, pools: dict[str, list], app, headers: dict[str, str]):
    @given(case=_aimed(operation, pools))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    def fuzz(case) -> None:
        # Each example runs in a savepoint rolled back after it: every example sees the
        # same seeded registry, and a failed query cannot spoil the next one.
        with transaction.atomic():
            response = case.call_and_validate(app=app, headers=headers, checks=CHECKS)
            transaction.set_rollback(True)
        if os.environ.get("FUZZ_STATS"):
            print("STAT", operation.label, response.status_code)

    return fuzz


@pytest.mark.parametrize("persona", ["admin_user", "radiologist"])
def test_no_operation_answers_a_server_error(
    persona: str, seeded: dict[str, list], django_wsgi_app, request
) -> None:
    user = request.getfixturevalue(persona)
    _token, key = token_create(user=user, name="fuzz", scopes=role_scopes(user), expires_at=None)
    headers = {"Authorization": f"Token {key}"}
    app = django_wsgi_app
    schema = schemathesis.openapi.from_dict(_raw_schema())
    schema.app = app

    # A 500's body says nothing: keep the server's traceback for the failure report.
    tracebacks: list[str] = []

    def keep_traceback(sender, request=None, **kwargs) -> None:
        tracebacks.append(traceback.format_exc())

    got_request_exception.connect(keep_traceback)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    try:
        for operation in operations:
            fuzz = _fuzzer(operation, seeded, app, headers)
            tracebacks.clear()
            try:
                fuzz()
            except BaseException as exc:  # noqa: B036 - collected to report every operation
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failures.append(f"{operation.label}: {exc}\n" + "".join(tracebacks[-1:]))
    finally:
        got_request_exception.disconnect(keep_traceback)
    assert len(operations) >= 40, [op.label for op in operations]
    assert not failures, "\n\n".join(failures)


def _filters(schema: dict[str, Any], path: str) -> list[str]:
    get = schema["paths"][path].get("get", {})
    return [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]


@pytest.mark.parametrize("persona", ["admin_user", "radiologist"])
def test_every_field_and_filter_survives_each_nasty_value(
    persona: str, seeded: dict[str, list], request
) -> None:
    """The sweep the random run only samples: each nasty value in each field of a nearly valid
    body (POST, and PATCH of a record of department A, the lowest ids), and in each query
    parameter of each list and statistics GET."""
    client = api_client_for(request.getfixturevalue(persona))
    raw = _raw_schema()
    failures: list[str] = []

    def send(method: str, path: str, **kwargs: Any) -> None:
        with transaction.atomic():
            try:
                response = getattr(client, method)(path, **kwargs)
            except Exception as exc:  # noqa: BLE001 - an exception is the 500 we look for
                failures.append(f"{method.upper()} {path} {kwargs}: {exc!r}")
                return
            finally:
                transaction.set_rollback(True)
        if response.status_code >= 500:
            failures.append(f"{method.upper()} {path} {kwargs}: {response.status_code}")

    for path, template in TEMPLATES.items():
        body = {
            key: min(seeded[REFERENCES[key]]) if value is REF else value
            for key, value in template.items()
        }
        resource = path.removeprefix("/api/v1/").split("/")[0]
        send("post", path, data=body, format="json")
        for key in body:
            for value in NASTY:
                send("post", path, data={**body, key: value}, format="json")
                if "patch" in raw["paths"].get(f"{path}{{id}}/", {}):
                    send(
                        "patch", f"{path}{min(seeded[resource])}/", data={key: value}, format="json"
                    )
    for path in raw["paths"]:
        if "{" in path or "get" not in raw["paths"][path]:
            continue
        for name in _filters(raw, path):
            for value in NASTY:
                if isinstance(value, list | dict | type(None)):
                    continue
                send("get", path, data={name: value})
    assert not failures, "\n".join(failures[:50])
