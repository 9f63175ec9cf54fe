"""The outcome summary: what the rates need of each unit, kept exact at write time.

The counting rules (docs/domain.md section 4) only need, per unit, the highest grade
of its complications in each window and whether a contact was recorded after
the end and more than 24 hours after it; per (unit, window, term), the highest
grade, where a screw-fixation event recorded under an "Other, specify" term
(``ctcae.pigsf``) is a term of its own. Computing them at read time joins fractures, complications and contacts:
seconds at a million fractures. So they are kept in four narrow tables
(``FractureOutcome``, ``ProcedureOutcome`` and their per-term rows), which the
selectors scan instead.

Exactness: ``outcomes_refresh`` recomputes the rows of the given procedures
from their clinical rows, with the same statements that ``outcomes_rebuild``
runs over the whole registry (``INSERT ... SELECT`` of one queryset per table,
so the rules exist once, in the ORM, on SQLite and PostgreSQL alike). Every
service that writes a procedure, fracture, contact or complication calls it
inside its own transaction, before the commit: a reader never sees a write
without its summary, and a write that rolls back takes its summary with it.
Writes that bypass the services (raw SQL, bulk loads) must be followed by
``manage.py outcomes_rebuild``; ``outcomes_check`` (``--check``) lists any row
that differs from a recomputation.
"""
