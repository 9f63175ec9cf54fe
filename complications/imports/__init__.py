"""Import of a department's series: a workbook (XLSX) or a ZIP of CSVs in the
import layout (../shared/docs/import-format.md), or a legacy spreadsheet
through a column mapping, every row through the write services.

- ``layout``: the sheets and columns, as data;
- ``parse``: the readers and the reading of a cell by its column's kind;
- ``sources``: the layout's rows from a file in the layout or a legacy sheet;
- ``mapping``: column mappings (JSON/YAML), saved per department;
- ``plan``: the import itself (dry run or commit, every error in one pass);
- ``jobs``: the background jobs and the command's entry; ``template``: the template.
"""

from complications.imports.jobs import (
    ImportConflict,
    import_file,
    import_job_commit,
    import_job_create,
    import_job_run,
    import_mapping_save,
    import_progress,
    import_reason,
    importable_departments,
    may_import,
)
from complications.imports.mapping import load_mapping, parse_mapping
from complications.imports.plan import Report, run_import
from complications.imports.template import template_workbook

__all__ = [
    "ImportConflict",
    "Report",
    "import_file",
    "import_job_commit",
    "import_job_create",
    "import_job_run",
    "import_mapping_save",
    "import_progress",
    "import_reason",
    "importable_departments",
    "load_mapping",
    "may_import",
    "parse_mapping",
    "run_import",
    "template_workbook",
]
