"""The Stripe side of the schema: a :class:`Catalog` read from the installed ``stripe`` SDK.

Every object, field, type, enum value and description comes from the SDK's typed resource
classes (see :mod:`mappings.schema.stripe_source`); nothing here lists fields by hand. Objects
are named by Stripe's ``object`` value (``charge``, ``radar.early_fraud_warning``), fields by
dot path from the object root (``billing_details.address.city``, ``lines.data[].amount``),
and each object knows the event types that carry it in ``data.object``.

>>> catalog = load_stripe_catalog()
>>> catalog["charge"].field("billing_details.address.city").kind
<FieldKind.STRING: 'string'>
>>> object_for_event_type("customer.subscription.updated")
'subscription'
"""

from __future__ import annotations

from functools import lru_cache

from mappings.errors import UnknownObjectError
from mappings.schema.model import Catalog, ObjectSchema, System
from mappings.schema.stripe_events import event_types, event_types_by_object
from mappings.schema.stripe_events import object_for_event_type as _object_for_event_type
from mappings.schema.stripe_fields import DEFAULT_MAX_DEPTH, FieldFlattener
from mappings.schema.stripe_source import ClassRef, SdkSource

# The objects the templates and the studio work with ...
CORE_OBJECTS: tuple[str, ...] = (
    "customer",
    "payment_intent",
    "charge",
    "refund",
    "subscription",
    "subscription_item",
    "invoice",
    "line_item",  # an invoice line
    "product",
    "price",
    "balance_transaction",
    "payout",
    "dispute",
    "radar.early_fraud_warning",
    "event",
)
# ... and their close neighbours, which cost a few milliseconds each.
EXTRA_OBJECTS: tuple[str, ...] = (
    "plan",
    "payment_method",
    "coupon",
    "discount",
    "promotion_code",
    "invoiceitem",
    "invoice_payment",
    "credit_note",
    "subscription_schedule",
    "setup_intent",
    "checkout.session",
    "tax_id",
    "tax_rate",
    "customer_balance_transaction",
    "application_fee",
    "fee_refund",
    "transfer",
    "topup",
    "review",
    "mandate",
    "card",
    "bank_account",
    "source",
)
DEFAULT_OBJECTS: tuple[str, ...] = CORE_OBJECTS + EXTRA_OBJECTS


# The stripe SDK is imported inside the two functions below, not at the top: importing the
# package costs about 1 s here (python -X importtime -c "import stripe"), and this module is
# imported by every bundle build and read (mappings.bundle) that may never build a catalog.


def sdk_api_version() -> str:
    """The API version the installed SDK's types describe (not a runtime override)."""
    import stripe

    try:
        from stripe._api_version import _ApiVersion

        return str(_ApiVersion.CURRENT)
    except ImportError:  # pragma: no cover - older SDK layouts
        return str(stripe.api_version)


@lru_cache(maxsize=1)
def sdk_object_classes() -> dict[str, ClassRef]:
    """Every object name the SDK knows -> the class that types it (shared: do not mutate)."""
    from stripe._object_classes import OBJECT_CLASSES

    classes: dict[str, ClassRef] = {}
    for name, target in OBJECT_CLASSES.items():
        if isinstance(target, tuple):  # newer SDKs register (module, name) and load lazily
            module, qualname = target
        else:
            module, qualname = target.__module__, target.__qualname__
        classes[name] = ClassRef(module, qualname)
    return classes


def new_sdk_source() -> SdkSource:
    """A fresh reader of the SDK source that knows every class's object name."""
    classes = sdk_object_classes()
    # The first name wins where the SDK registers a class twice (``file`` / ``file_upload``).
    return SdkSource({ref: name for name, ref in reversed(classes.items())})


def stripe_object_names() -> tuple[str, ...]:
    """The objects :func:`load_stripe_catalog` describes, sorted."""
    known = sdk_object_classes()
    return tuple(sorted(name for name in DEFAULT_OBJECTS if name in known))


def object_for_event_type(event_type: str) -> str | None:
    """The object in ``data.object`` of an event type (``charge.dispute.created`` -> ``dispute``).

    None for an event type whose object the SDK does not type.
    """
    return _object_for_event_type(event_type, _known_object_names())


@lru_cache(maxsize=1)
def _known_object_names() -> frozenset[str]:
    return frozenset(sdk_object_classes())


def build_stripe_catalog(
    names: tuple[str, ...] = DEFAULT_OBJECTS, max_depth: int = DEFAULT_MAX_DEPTH
) -> Catalog:
    """A fresh catalog of ``names`` read from the SDK; see :func:`load_stripe_catalog`."""
    classes = sdk_object_classes()
    missing = [name for name in names if name not in classes]
    if missing:
        raise UnknownObjectError(
            f"the installed stripe SDK has no object named {', '.join(map(repr, missing))}"
        )
    source = new_sdk_source()
    flattener = FieldFlattener(source, max_depth=max_depth)
    carried = event_types_by_object(event_types(source), classes)
    catalog = Catalog(system=System.STRIPE, api_version=sdk_api_version())
    for name in names:
        info = source.info(classes[name])
        catalog.add(
            ObjectSchema(
                system=System.STRIPE,
                name=name,
                label=_label(info.ref.name),
                description=info.doc,
                fields=flattener.fields_of(info.ref),
                event_types=carried.get(name, ()),
            )
        )
    return catalog


@lru_cache(maxsize=1)
def load_stripe_catalog() -> Catalog:
    """The catalog of :data:`DEFAULT_OBJECTS`, built once per process. Treat it as read-only."""
    return build_stripe_catalog()


def _label(class_name: str) -> str:
    """``EarlyFraudWarning`` -> ``Early fraud warning``."""
    words: list[str] = []
    for char in class_name:
        if char.isupper() and words:
            words.append(" ")
        words.append(char.lower() if words else char)
    return "".join(words)
