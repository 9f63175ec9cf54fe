"""Bodies nested too deeply or too large: a JSON 400/413 at every JSON door, never a 500."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.parsers import JSONParser
from rest_framework.test import APIClient

from registry.api.parsers import MAX_JSON_DEPTH, JSONBodyError, json_depth_exceeds, load_json
from tests import factories
from tests.conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token/"


def nested(levels: int) -> str:
    """An array nested ``levels`` deep (1 is ``[]``)."""
    return "[" * levels + "]" * levels


def credentials_with(extra: str) -> str:
    """The radiologist's credentials, plus a key whose value is ``extra`` (raw JSON)."""
    return (
        '{"username": "radiologist", "password": "%s", "note": %s}' % (PASSWORD, extra)  # noqa: UP031
    )


def unraised(client: APIClient) -> APIClient:
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        (nested(1), False),
        (nested(MAX_JSON_DEPTH), False),
        (nested(MAX_JSON_DEPTH + 1), True),
        ('{"a": ' * MAX_JSON_DEPTH + "1" + "}" * MAX_JSON_DEPTH, False),
        ('{"a": ' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1), True),
        (json.dumps({"text": "[" * 1000}), False),
        (json.dumps({"text": '\\"[[[' * 100, "list": [1, [2]]}), False),
        (nested(10) * 50, False),
        ("[" * 100_000, True),
        ("", False),
        # The decoder fails at an unterminated string, so nothing after it nests.
        ('["' + "[" * 100, False),
        (nested(MAX_JSON_DEPTH + 1) + '"', True),
        ('["\\\\"]' + "[" * 40, True),  # an escaped backslash ends the string
    ],
)
def test_the_depth_scan_counts_brackets_outside_strings_up_to_the_bound(text, too_deep):
    assert json_depth_exceeds(text) is too_deep


def test_the_scan_stays_linear_on_an_unterminated_string_of_escaped_quotes():
    # Each quote could start a string that never ends: a scan restarting at each of them
    # would take hours on a body of the size limit.
    text = "[" + '"' + '\\"' * 1_250_000
    started = time.perf_counter()

    assert json_depth_exceeds(text) is False
    assert time.perf_counter() - started < 5


def test_load_json_refuses_too_deep_without_recursing_and_parses_at_the_bound():
    with pytest.raises(JSONBodyError, match="32 levels"):
        load_json(nested(1_000_000))
    assert load_json(nested(MAX_JSON_DEPTH).encode()) is not None


@pytest.mark.django_db
def test_a_body_nested_a_thousand_levels_is_a_json_400_on_the_token_endpoint_unauthenticated(
    radiologist,
):
    response = unraised(APIClient()).post(TOKEN_URL, nested(1000), content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "32 levels" in response.json()["non_field_errors"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_body_nested_a_thousand_levels_is_a_json_400_on_an_authenticated_write(
    api, department, method
):
    patient = factories.patient(department)
    url = "/api/v1/patients/" if method == "post" else f"/api/v1/patients/{patient.pk}/"
    body = '{"sex": %s}' % nested(1000)  # noqa: UP031

    response = getattr(unraised(api), method)(url, body, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "32 levels" in response.json()["non_field_errors"][0]


@pytest.mark.django_db
def test_a_body_of_32_levels_is_parsed_and_one_of_33_refused(radiologist):
    # The object around the credentials is a level: the note adds the other 31 or 32.
    accepted = unraised(APIClient()).post(
        TOKEN_URL, credentials_with(nested(MAX_JSON_DEPTH - 1)), content_type="application/json"
    )
    refused = unraised(APIClient()).post(
        TOKEN_URL, credentials_with(nested(MAX_JSON_DEPTH)), content_type="application/json"
    )

    assert accepted.status_code == 200, accepted.content
    assert "token" in accepted.json()
    assert refused.status_code == 400
    assert "32 levels" in refused.json()["non_field_errors"][0]


@pytest.mark.django_db
def test_brackets_inside_strings_are_text_not_depth(radiologist):
    response = unraised(APIClient()).post(
        TOKEN_URL, credentials_with(json.dumps("[{" * 1000)), content_type="application/json"
    )

    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_malformed_json_is_a_400_in_the_contracts_error_shape(api):
    response = unraised(api).post("/api/v1/patients/", "{", content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]


@pytest.mark.django_db
def test_an_oversized_body_is_a_json_413_on_the_token_endpoint_and_on_a_write(
    api, radiologist, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = credentials_with(json.dumps("x" * 2000))

    for client, url in ((APIClient(), TOKEN_URL), (api, "/api/v1/patients/")):
        response = unraised(client).post(url, body, content_type="application/json")

        assert response.status_code == 413, url
        assert response["Content-Type"] == "application/json"
        assert "1000 bytes" in response.json()["detail"]


@pytest.mark.django_db
def test_a_body_within_the_limit_goes_through(radiologist, settings):
    body = credentials_with(json.dumps("x" * 100))
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body.encode())

    response = APIClient().post(TOKEN_URL, body, content_type="application/json")

    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_an_oversized_form_to_the_case_pages_json_preview_is_a_json_413(
    client, radiologist, department, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    procedure = factories.procedure(factories.patient(department))
    client.force_login(radiologist)
    client.raise_request_exception = False

    response = client.post(
        reverse("case-complication-preview", args=[procedure.pk]),
        {"description": "x" * 2000},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"


def _api_views(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/"):
            view = getattr(pattern.callback, "cls", None)
            if view is not None:
                yield route, view


def test_every_api_view_reads_json_through_the_bounded_parser():
    views = list(_api_views(get_resolver().url_patterns))
    unbounded = [
        route
        for route, view in views
        for parser in getattr(view, "parser_classes", ())
        if issubclass(parser, JSONParser) and parser.parse is JSONParser.parse
    ]

    assert views
    assert unbounded == []


def test_the_schema_documents_the_413_of_every_body(settings):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    writes = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("post", "put", "patch")
    ]

    assert writes
    assert [(p, m) for p, m, op in writes if "413" not in op["responses"]] == []


@pytest.mark.django_db
def test_a_form_with_too_many_fields_is_a_json_400_on_the_token_endpoint(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"f{i}=x" for i in range(20))

    response = unraised(APIClient()).post(
        TOKEN_URL, body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == ["non_field_errors"]
