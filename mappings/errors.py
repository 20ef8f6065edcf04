"""The mapping core's error hierarchy: one root, specific leaves with user-facing messages."""

from __future__ import annotations


class MappingError(Exception):
    """Root of every error the mapping core raises on purpose."""


class SchemaError(MappingError):
    """A schema (Stripe catalog or Salesforce describe) could not be read or is inconsistent."""


class UnknownObjectError(SchemaError):
    """An object name is not in the catalog."""


class UnknownFieldError(SchemaError):
    """A field path is not in an object's schema."""


class DocumentError(MappingError):
    """A mapping document is malformed: bad YAML, schema-invalid or inconsistent."""


class EditError(MappingError):
    """An edit to a mapping document was refused before anything changed."""


class IncompatibleTypeError(EditError):
    """The source field's type cannot feed the target field."""


class TargetAlreadyMappedError(EditError):
    """The target field already has a mapping in this flow."""


class TransformError(MappingError):
    """A transform was misconfigured or failed on a value."""


class ExpressionError(TransformError):
    """A JSONata expression failed to compile or to evaluate."""


class ExpressionBudgetError(ExpressionError):
    """A JSONata evaluation went over its budget (see :mod:`mappings.limits`); ``code`` is
    the issue code the record fails with."""

    code = "EXPRESSION_TIMEOUT"


class ExpressionTimeoutError(ExpressionBudgetError):
    """A JSONata evaluation ran longer than its time budget (an endless loop, usually)."""

    code = "EXPRESSION_TIMEOUT"


class ExpressionTooDeepError(ExpressionBudgetError):
    """A JSONata evaluation nested deeper than its depth budget (runaway recursion)."""

    code = "EXPRESSION_TOO_DEEP"


class BundleError(MappingError):
    """A bundle could not be built, read or verified. The message is one clear sentence."""
