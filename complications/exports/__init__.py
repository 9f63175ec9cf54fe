"""Exports: the cases and complications tables (CSV, XLSX), an HL7 FHIR R4 Bundle,
and the background export jobs that write them to files.

Each format is an exporter class in the registry (``base``), looked up by its
identifier (an ``ExportJob.Format`` value): the API, the pages and the job
service never branch on a format. No HTTP here: the API and the pages stream
an exporter or create a job, the Celery task claims and writes a job
(``export_job_claim``, ``export_job_write``).

- ``selection``: what an export covers (the statistics' own selection);
- ``tables``: the two tables' columns and row rules, shared by every format;
- ``codebook``: every exported variable, defined once (the tables' columns are
  its entries), and the documents generated from it (``codebook_documents``);
- ``options``: the analysis and de-identification options applied to the rows;
- ``csv``, ``sql_csv`` (its PostgreSQL variant), ``xlsx``, ``statistical``
  (Stata, SPSS), ``fhir``, ``fhir_bulk``, ``import_layout`` (the selection in the
  import layout, for moving a department): the exporters;
- ``jobs``: the one job service, which runs any exporter.

Importing this package registers every exporter.
"""

from complications.exports import (  # noqa: F401  (they register)
    csv,
    fhir,
    fhir_bulk,
    import_layout,
    sql_csv,
    statistical,
    xlsx,
)
from complications.exports.base import (
    Exporter,
    exporter_class,
    exporter_for,
    formats,
    register,
)
from complications.exports.csv import table_csv
from complications.exports.fhir import MEDDRA, REGISTRY_FHIR
from complications.exports.jobs import (
    export_filename,
    export_job_claim,
    export_job_create,
    export_job_fail,
    export_job_run,
    export_job_write,
    export_jobs_sweep,
)
from complications.exports.selection import EXPORT_DATA, ExportOptions, Selection
from complications.exports.tables import CASE_COLUMNS, CHUNK, COMPLICATION_COLUMNS

__all__ = [
    "CASE_COLUMNS",
    "CHUNK",
    "COMPLICATION_COLUMNS",
    "EXPORT_DATA",
    "MEDDRA",
    "REGISTRY_FHIR",
    "ExportOptions",
    "Exporter",
    "Selection",
    "export_filename",
    "export_job_create",
    "export_job_claim",
    "export_job_fail",
    "export_job_run",
    "export_job_write",
    "export_jobs_sweep",
    "exporter_class",
    "exporter_for",
    "formats",
    "register",
    "table_csv",
]
