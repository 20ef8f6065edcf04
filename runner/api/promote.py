"""Heavy (the runner's writer, the connectors, the admin client): promoting a bundle into a
workspace environment, step by step (:mod:`runner.promote`), and the promotion history.
Imported when the studio's Promote dialog opens."""

from __future__ import annotations

from runner.promote import (
    HISTORY_FILE,
    STEPS,
    Promotion,
    StepResult,
    format_history,
    promote,
    read_history,
)

__all__ = ["HISTORY_FILE", "STEPS", "Promotion", "StepResult", "format_history", "promote",
           "read_history"]
