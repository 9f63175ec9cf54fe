"""Writes that happen once, however often the client sends them.

A client that does not get an answer (a dropped connection, a timeout, a 503) cannot know
whether its write was stored; retrying would enter a clinical record twice. So:

- **the API**: every POST accepts an ``Idempotency-Key`` header (any 1-255 visible ASCII
  characters, a UUID is usual). The first request with a key is run and its answer (status,
  body, ETag/Location) stored with the user, the method and path and a hash of the request,
  *in the same transaction as the write*: the record exists exactly when the write
  committed. A retry with the same key gets the stored answer again (header
  ``Idempotent-Replayed: true``), and nothing is written. The same key with another request
  (another body or path) is a 422 saying so. A concurrent duplicate waits on the unique
  constraint for the first transaction to end, then gets its answer (or, if the first rolled
  back, runs itself). Refusals (4xx raised by the view) and errors are not stored: nothing was
  written, so the retry runs again.
- **the pages**: the create forms carry a hidden one-time token (``OnceForm``); the view
  claims it in the transaction that saves, so a double click or a browser resubmitting the
  post leads to the record the first submission created.

Records live a day (``IDEMPOTENCY_TTL``), then ``idempotency_cleanup`` (a beat task) deletes
them; an expired key is a new key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django import forms
from django.db import IntegrityError, transaction
from django.http import RawPostDataException
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from registry.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_TTL = timedelta(days=1)
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
# The answer's headers a replay repeats.
KEPT_HEADERS = ("ETag", "Location", "Content-Location")


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = _(
        "This Idempotency-Key was already used for a different request (another body or "
        "address). Use a new key for a new request."
    )


class KeyInProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_progress"
    default_detail = _("A request with this Idempotency-Key is still being processed: retry later.")


def request_hash(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def claim(
    *, user: Any, key: str, method: str, path: str, digest: str
) -> tuple[IdempotencyRecord, bool]:
    """Inside the caller's transaction: the key's record, and whether it was already answered.

    A new key inserts its record (a savepoint; on PostgreSQL the insert waits while another
    transaction holds the same key). An answered key must come with the same request hash.
    """
    now = timezone.now()
    fields = {"method": method, "path": path[:512], "request_hash": digest, "created_at": now}
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(user=user, key=key, **fields), False
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.select_for_update().get(user=user, key=key)
    if record.created_at < now - IDEMPOTENCY_TTL:  # expired, not swept yet: a new key
        for name, value in {**fields, "status": None, "body": "", "headers": {}}.items():
            setattr(record, name, value)
        record.save()
        return record, False
    if record.request_hash != digest:
        raise KeyReused()
    if record.status is None:
        raise KeyInProgress()
    return record, True


def _body(request: Request) -> bytes:
    try:
        return request._request.body  # type: ignore[no-any-return]
    except RawPostDataException:  # a multipart body already streamed: hash what it parsed to
        return json.dumps(
            {k: request.data.getlist(k) for k in sorted(request.data)}, default=str
        ).encode()


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a DRF view's POST handler: honour ``Idempotency-Key`` (see the module)."""

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None or not request.user.is_authenticated:
            return handler(view, request, *args, **kwargs)
        if not KEY_PATTERN.fullmatch(key):
            raise exceptions.ValidationError(
                {HEADER: [_("Give 1 to 255 visible ASCII characters (a UUID, for example).")]}
            )
        raw = request._request
        digest = request_hash(
            raw.method or "", raw.path, raw.META.get("QUERY_STRING", ""), _body(request)
        )
        with transaction.atomic():
            record, answered = claim(
                user=request.user, key=key, method=raw.method or "", path=raw.path, digest=digest
            )
            if answered:
                return replay(record)
            response = handler(view, request, *args, **kwargs)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            record.status = response.status_code
            data = getattr(response, "data", None)
            record.body = "" if data is None else JSONRenderer().render(data).decode()
            record.headers = {h: response[h] for h in KEPT_HEADERS if response.has_header(h)}
            record.save(update_fields=["status", "body", "headers"])
        return response

    wrapper.idempotent = True  # type: ignore[attr-defined]
    return wrapper


def replay(record: IdempotencyRecord) -> Response:
    data = json.loads(record.body) if record.body else None
    assert record.status is not None
    return Response(data, status=record.status, headers={**record.headers, REPLAYED_HEADER: "true"})


def idempotency_cleanup(*, now: Any = None) -> int:
    """Delete the records older than ``IDEMPOTENCY_TTL``; returns how many."""
    limit = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=limit).delete()
    return deleted


# --- the pages' equivalent ---------------------------------------------------------------------

FORM_TOKEN_PATTERN = re.compile(r"[0-9a-f]{32}")


class OnceForm(forms.Form):
    """A create form carrying a one-time token: the view saves it at most once (``submit_once``)."""

    form_token = forms.CharField(
        required=False, widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex
    )

    def clean_form_token(self) -> str:
        token = self.cleaned_data.get("form_token") or ""
        return token if FORM_TOKEN_PATTERN.fullmatch(token) else ""


def submit_once(
    *, user: Any, token: str, path: str, write: Callable[[], str | None]
) -> tuple[str | None, bool]:
    """Run ``write`` (which saves and returns the address to go to, or None when refused) once
    per form token: ``(address, already_saved)``. A second submission of the token gets the
    first one's address without writing. Without a token (an old page) it just writes."""
    if not token or not getattr(user, "is_authenticated", False):
        return write(), False
    with transaction.atomic():
        record, answered = claim(
            user=user,
            key=f"form:{token}",
            method="POST",
            path=path,
            digest=request_hash("POST", path, "", b""),
        )
        if answered:
            return record.headers.get("Location"), True
        location = write()
        if location is None:
            transaction.set_rollback(True)
            return None, False
        record.status = status.HTTP_303_SEE_OTHER
        record.headers = {"Location": location}
        record.save(update_fields=["status", "headers"])
    return location, False
