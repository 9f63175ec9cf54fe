"""The statistics (read side): rates, breakdown, cohort and CUSUM series from the outcome summary.

The rates read the outcome summary (``complications.outcomes``): per fracture
and per procedure, the highest grade in each window and whether a contact was
recorded after the end and more than 24 hours after it; per (unit, window,
term) and (unit, window, SOC), the highest grade. The services keep it exact in
the same transaction as every clinical write, so each statistic is a few
conditional counts over one narrow table, with a fixed number of queries
however large the registry grows (joining fractures, complications and contacts
at read time took seconds to a minute at a million fractures:
docs/benchmarks.md). Python only rounds and arranges the few resulting rows.

The selection
-------------
The filters pick a set of *fractures*: those of the procedures that match the
procedure filters (department, start dates, guidance, operator) and that match
the fracture filters (type, site). The procedures and patients of the selection
are the procedures and patients of those fractures, so that the three units
always describe the same cases (a procedure recorded without any fracture is
outside every selection and is listed by ``data_quality``). For the procedure
and patient units, all the complications and follow-up contacts of the
selected procedures count, including a complication that concerns only a
fracture of another type or site: the unit is the procedure (or the patient),
and "a procedure counts when any of its complications is in W".

Every selection starts from ``registry.scoping.scope_to_user`` (the summary rows
carry their department).

The counting rules are those of docs/domain.md section 4; the M2M rows
(``ComplicationEvent.fractures``, ``FollowUp.fractures``) are taken as the truth
of which fractures an event concerns or a contact covers: for one recorded for
all the procedure's fractures (``all_fractures``) the services link every
fracture, those recorded later too. Dates (filters, months, quarters, ages) are
the procedures' local start dates in their department's time zone
(``Procedure.started_on``), never the server's. The data-quality
lists, which name individual records, read the clinical tables directly.
"""
