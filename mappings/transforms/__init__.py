"""The transform library. Importing this package registers every transform.

See :mod:`mappings.transforms.registry` for the interface the engine and the studio use.
"""

from __future__ import annotations

# Importing the modules registers their transforms.
from mappings.transforms import (  # noqa: F401
    address,
    currency,
    expression,
    logic,
    maps,
    text,
    time,
)
from mappings.transforms.context import RecordContext
from mappings.transforms.currency import currency_exponent
from mappings.transforms.registry import (
    CompileEnv,
    ParamSpec,
    StepContext,
    StepFn,
    TransformSpec,
    all_transforms,
    build_step,
    get_transform,
    register,
)

__all__ = [
    "CompileEnv",
    "ParamSpec",
    "RecordContext",
    "StepContext",
    "StepFn",
    "TransformSpec",
    "all_transforms",
    "build_step",
    "currency_exponent",
    "get_transform",
    "register",
]
