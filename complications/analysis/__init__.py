"""Registry-style outcome analyses read from the clinical rows: cumulative incidence with
death as a competing risk (``incidence``), funnel plots (``funnel``) and risk-adjusted
observed/expected ratios (``risk``). Reads only; the selection is the statistics' own
(``complications.selectors.selected_fractures``)."""
