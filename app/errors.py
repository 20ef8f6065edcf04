"""The studio's root error: every error the studio raises on purpose derives from it.

Services raise a subclass (:class:`~app.services.connections.ConnectionsError`,
:class:`~app.services.testrun.TestRunError`, ...) whose message is one sentence a person can
act on; the window's top-level handler (:func:`app.asyncloop.report`) shows that sentence and
keeps the traceback for the errors panel's details.
"""

from __future__ import annotations


class StudioError(Exception):
    """Root of the studio's errors: the message is meant for the person using the studio."""
