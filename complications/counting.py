"""The counting rules (docs/domain.md sections 2 and 4), written once."""

from __future__ import annotations

from django.db.models import Q

from complications.ctcae import EARLY_PERIOD
from complications.models import Window

# The early window's limit (docs/domain.md section 2), from the core that classifies onsets.
DAY = EARLY_PERIOD

# The evidence of follow-up for each window's denominator (docs/domain.md section 4),
# on a summary row: every unit during the procedure; for the early window, a
# contact after the end or a complication in the early or delayed window; for
# the delayed window, a contact more than 24 h after the end or a delayed one.
AT_RISK: dict[str, Q | None] = {
    Window.PER_PROCEDURAL.value: None,
    Window.EARLY.value: Q(contact_after_end=True) | Q(grade_early__gt=0) | Q(grade_delayed__gt=0),
    Window.DELAYED.value: Q(contact_beyond_24h=True) | Q(grade_delayed__gt=0),
}
