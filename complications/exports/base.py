"""The exporter registry: one class per format, looked up by the format's identifier.

Modelled on pretix's ``base/exporter.py``. An exporter is built over a
``Selection`` (and, for a format with several tables, a ``kind``) and knows its
file extension, its content type, how many rows or records it will write (the
job's progress), and how to stream itself (a download) or write itself to a
file (a background job, ticking once per row or record).

A format may have a variant for one database vendor (the CSV tables formatted
by PostgreSQL): ``exporter_class`` picks it when the connection is of that
vendor, and the generic class otherwise. ``exporter_class`` is also the one
place where a format the registry does not know is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connections
from django.utils import timezone
from django.utils.translation import gettext as _

from complications.exports.selection import Selection

Tick = Callable[[], None]


class Exporter:
    """One export format. Subclasses set the class attributes and ``chunks`` (or
    ``write`` for a binary file) and ``count``."""

    identifier: ClassVar[str]  # an ``ExportJob.Format`` value
    extension: ClassVar[str]
    content_type: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]] = ()  # the tables of a format that holds one at a time
    default_kind: ClassVar[str] = ""
    name: ClassVar[str] = ""  # in file names, for a format without kinds
    vendor: ClassVar[str | None] = None  # a variant for this database vendor only
    needs_identifiers: ClassVar[bool] = False  # it carries registry ids
    takes_options: ClassVar[bool] = False  # writes the tables under ``ExportOptions``

    def __init__(self, selection: Selection, *, kind: str = "") -> None:
        self.selection = selection
        self.kind = kind or self.default_kind

    @classmethod
    def for_job(cls, job: Any, selection: Selection) -> Exporter:
        """The exporter of a background job (a format may read options the job stored)."""
        return cls(selection, kind=job.kind)

    def count(self) -> int:
        """How many rows or records ``write`` will tick for."""
        raise NotImplementedError

    def chunks(self, *, tick: Tick | None = None) -> Iterator[str]:
        """The file as text, a chunk at a time."""
        raise NotImplementedError

    def stream(self) -> Iterator[str]:
        """What a download streams."""
        return self.chunks()

    def write(self, path: Path, *, tick: Tick | None = None) -> None:
        with open(path, "w", encoding="utf-8", newline="") as out:
            for chunk in self.chunks(tick=tick):
                out.write(chunk)

    @classmethod
    def file_name(cls, kind: str, day: date, job_id: int | None = None) -> str:
        """What a downloaded file is called: what it holds, when, and which job."""
        job = "" if job_id is None else f"-{job_id}"
        return f"pigsf-{kind or cls.name}-{day:%Y%m%d}{job}.{cls.extension}"

    def stream_name(self) -> str:
        return self.file_name(self.kind, timezone.localdate())


E = TypeVar("E", bound=type[Exporter])

_REGISTRY: dict[str, dict[str | None, type[Exporter]]] = {}


def register(exporter: E) -> E:
    """Class decorator: add an exporter (or a vendor's variant of one) to the registry."""
    variants = _REGISTRY.setdefault(exporter.identifier, {})
    if exporter.vendor in variants:
        raise ImproperlyConfigured(f"Two exporters for the format {exporter.identifier!r}.")
    variants[exporter.vendor] = exporter
    return exporter


def formats() -> tuple[str, ...]:
    """The identifiers of the registered formats, each once."""
    return tuple(_REGISTRY)


def exporter_class(format: str, *, using: str = "default") -> type[Exporter]:
    """The exporter of ``format`` for the database ``using``; an unknown format is refused."""
    variants = _REGISTRY.get(format)
    if not variants or None not in variants:
        message = _("Unknown export format: %(format)s.") % {"format": format}
        raise ValidationError({"format": [message]})
    return variants.get(connections[using].vendor, variants[None])


def exporter_for(format: str, selection: Selection, *, kind: str = "") -> Exporter:
    return exporter_class(format)(selection, kind=kind)


def refuse_unless_allowed(format: str, user: Any) -> None:
    """A format that carries registry ids is only for users who may export identifiers."""
    from registry.roles import EXPORT_IDENTIFIERS

    if exporter_class(format).needs_identifiers and not user.has_perm(EXPORT_IDENTIFIERS):
        message = _("This format carries registry ids: it needs the permission to export them.")
        raise ValidationError({"format": [message]})
