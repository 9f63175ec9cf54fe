"""The audit trail of clinical records: who changed what, when, and why.

django-simple-history writes one historical row per create (+), update (~)
and delete (-) of every clinical model, with the user (from
``HistoryRequestMiddleware``) and the time. The write services record *why*
as the row's change reason: the ``reason`` of an update or delete, and the
written reason of a grade override. Nothing may rewrite the rows afterwards:
the admin shows them read-only and refuses reverts (``registry.admin``), and on
PostgreSQL a trigger refuses UPDATE and DELETE on every historical table
(migration ``registry/0006_history_immutable``).

- ``selectors``: the entries of one record, and of the user's departments, with
  their field-by-field differences;
- ``views``: the per-record page ``/audit/<model>/<pk>/`` and the CSV export;
- ``logins``: login lockout (django-axes), the audit of sign-in attempts.
"""

from __future__ import annotations

from registry.models import Patient

ELLIPSIS = "…"


def change_reason(text: str) -> str:
    """``text`` as a change reason that fits simple-history's column.

    The column is ``varchar(100)``: a longer override reason would make
    PostgreSQL refuse the whole write. The full text is kept anyway, in the
    record's own field (``override_reason``), which the entry's diff shows.
    """
    text = " ".join(text.split())
    width = Patient.history.model._meta.get_field("history_change_reason").max_length
    if width is None or len(text) <= width:
        return text
    return text[: width - len(ELLIPSIS)] + ELLIPSIS
