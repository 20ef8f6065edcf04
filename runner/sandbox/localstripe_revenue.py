"""The revenue model on localstripe: prices, one-off invoices with many lines, deletions.

localstripe (a dependency we extend, never fork) lacks parts of the Stripe API the revenue
model syncs. :func:`extend_revenue_model` patches them in before its server registers its
routes (it builds the route table from ``resources.extra_apis`` at import):

- **Prices** (``/v1/prices``): localstripe answers 404. A recurring price is also stored as
  a Plan of the same id, so subscriptions and invoice lines priced by it work (Stripe itself
  still serves a recurring price as a plan). ``price.created``, and ``price.updated`` with
  ``previous_attributes`` (archiving is ``active=false``; prices cannot be deleted).
- **Products**: ``product.updated`` and ``product.deleted`` events; a product with prices
  cannot be deleted, as on Stripe.
- **Invoice items and one-off invoices**: an item may name a ``price`` and ``quantity`` (or
  ``pricing.price``) and an ``invoice`` (a draft it joins); ``POST /v1/invoices`` without a
  subscription makes a draft invoice of the pending items (none with
  ``pending_invoice_items_behavior=exclude``); ``/finalize``; ``invoice.voided``.
- **Subscriptions with several items** (localstripe: exactly one, more is a 500): the first
  item goes through localstripe, the others join before the first invoice is made.
- **Invoice lines paged**: the invoice's ``lines`` shows the first 10 with ``has_more``, and
  ``GET /v1/invoices/{id}/lines`` takes ``limit`` and ``starting_after``; each line carries
  its ``price`` and ``quantity``, and ``pricing.price_details.price`` as the current API does.

The refund additions live beside the charge events in
:mod:`runner.sandbox.localstripe_launcher`.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

# The errors module is safe to import early; resources (which creates the store) is not.
from localstripe.errors import UserError

_LINES_URL = "/v1/invoices/{id}/lines"


def _missing(param: str) -> Exception:
    return UserError(400, f"Missing required param: {param}.",
                     {"code": "parameter_missing", "param": param})


def extend_revenue_model() -> None:
    """Patch localstripe; call before its ``server`` module is imported."""
    # localstripe is imported here, not at the top: importing it creates its store, which
    # the launcher first points at our data file (see localstripe_launcher.main).
    from localstripe import resources
    from localstripe.webhooks import schedule_webhook

    def announce(event_type: str, obj: Any, previous: dict | None = None) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to send
            event = resources.Event(event_type, obj)
            if previous is not None:
                event.data["previous_attributes"] = previous
            schedule_webhook(event)

    price_cls = _price_class(resources, UserError, announce)
    _products(resources, UserError, announce, price_cls)
    _invoice_items(resources, UserError, price_cls)
    _invoices(resources, UserError, announce)
    _multi_item_subscriptions(resources, UserError)
    routes = [
        ("POST", "/v1/prices", price_cls._api_create),
        ("GET", "/v1/prices/{id}", price_cls._api_retrieve),
        ("POST", "/v1/prices/{id}", price_cls._api_update),
        ("GET", "/v1/prices", price_cls._api_list),
        ("POST", "/v1/invoices/{id}/finalize", resources.Invoice._api_finalize),
    ]
    extra = resources.extra_apis
    extra[:] = [(m, u, f) for m, u, f in extra if u != _LINES_URL]
    extra.extend(routes)
    extra.append(("GET", _LINES_URL, resources.Invoice._api_list_lines_paged))


# -- prices -------------------------------------------------------------------------------
def _price_class(resources: Any, user_error: Any, announce: Any) -> Any:
    updatable = ("active", "nickname", "metadata", "lookup_key", "tax_behavior")

    class Price(resources.StripeObject):
        object = "price"
        _id_prefix = "price_"

        def __init__(self, currency: Any = None, unit_amount: Any = None,
                     unit_amount_decimal: Any = None, product: Any = None,
                     product_data: Any = None, recurring: Any = None, nickname: Any = None,
                     metadata: Any = None, active: Any = True, lookup_key: Any = None,
                     tax_behavior: Any = None, billing_scheme: Any = "per_unit",
                     **kwargs: Any) -> None:
            if kwargs:
                raise user_error(400, f"Received unknown parameter: {sorted(kwargs)[0]}",
                                 {"param": sorted(kwargs)[0]})
            if not currency:
                raise _missing("currency")
            amount = resources.try_convert_to_int(unit_amount)
            if amount is None and unit_amount_decimal is not None:
                amount = resources.try_convert_to_int(
                    str(unit_amount_decimal).split(".")[0])
            if not isinstance(amount, int) or amount < 0:
                raise _missing("unit_amount")
            if product is None and not isinstance(product_data, dict):
                raise user_error(400, "You must specify either `product` or `product_data` "
                                 "when creating a price.", {"param": "product"})
            if product is not None:
                resources.Product._api_retrieve(product)  # 404 for an unknown product
            else:
                product = resources.Product(**product_data).id
            interval = None
            if recurring is not None:
                if not isinstance(recurring, dict) or recurring.get("interval") not in (
                        "day", "week", "month", "year"):
                    raise _missing("recurring[interval]")
                interval = recurring["interval"]
                recurring = {"interval": interval,
                             "interval_count": resources.try_convert_to_int(
                                 recurring.get("interval_count", 1)),
                             "usage_type": recurring.get("usage_type", "licensed"),
                             "aggregate_usage": None, "trial_period_days": None,
                             "meter": None}
            super().__init__()
            self.currency = str(currency).lower()
            self.unit_amount = amount
            self.unit_amount_decimal = str(amount)
            self.product = product
            self.recurring = recurring
            self.type = "recurring" if recurring else "one_time"
            self.nickname = nickname
            self.metadata = metadata or {}
            self.active = resources.try_convert_to_bool(active) is not False
            self.lookup_key = lookup_key
            self.tax_behavior = tax_behavior or "unspecified"
            self.billing_scheme = billing_scheme
            self.custom_unit_amount = None
            self.tiers_mode = None
            self.transform_quantity = None
            if recurring:
                # Subscriptions and invoice lines reach prices as plans (see the docstring).
                resources.Plan(id=self.id, amount=amount, currency=self.currency,
                               interval=interval, product=product,
                               interval_count=recurring["interval_count"],
                               nickname=nickname, usage_type=recurring["usage_type"])
            announce("price.created", self)

        @classmethod
        def _api_update(cls, id: str, **data: Any) -> Any:
            unknown = [k for k in data if k not in updatable]
            if unknown:
                raise user_error(400, f"Received unknown parameter: {unknown[0]}",
                                 {"param": unknown[0]})
            obj = cls._api_retrieve(id)
            if "active" in data:
                data["active"] = resources.try_convert_to_bool(data["active"]) is not False
            previous = {k: getattr(obj, k) for k in data if k != "metadata"}
            if "metadata" in data:
                previous["metadata"] = dict(obj.metadata)
            obj._update(**data)
            changed = {k: v for k, v in previous.items() if getattr(obj, k) != v}
            if changed:
                announce("price.updated", obj, changed)
            return obj

        @classmethod
        def _api_delete(cls, id: str) -> Any:
            raise user_error(404, f"Unrecognized request URL (DELETE: /v1/prices/{id}).")

        @classmethod
        def _api_list(cls, active: Any = None, product: Any = None, currency: Any = None,
                      type: Any = None, limit: Any = None, starting_after: Any = None,
                      **kwargs: Any) -> Any:
            if kwargs:
                raise user_error(400, f"Received unknown parameter: {sorted(kwargs)[0]}")
            found = cls._api_list_all("/v1/prices", limit=limit, starting_after=starting_after)
            wanted = resources.try_convert_to_bool(active)
            found._list = [p for p in sorted(found._list, key=lambda p: p.created, reverse=True)
                           if (active is None or p.active == wanted)
                           and (product is None or p.product == product)
                           and (currency is None or p.currency == str(currency).lower())
                           and (type is None or p.type == type)]
            return found

    # localstripe pickles its whole store on every write (to the data file): the class must
    # be reachable by name for that, and for loading it again at the next start.
    Price.__module__, Price.__qualname__ = __name__, "Price"
    globals()["Price"] = Price
    return Price


# -- products -----------------------------------------------------------------------------
def _products(resources: Any, user_error: Any, announce: Any, price_cls: Any) -> None:
    product_cls = resources.Product
    plain_update = product_cls._api_update.__func__
    plain_delete = product_cls._api_delete.__func__

    def update(cls: Any, id: str, **data: Any) -> Any:
        if "active" in data:  # form-encoded "false"; localstripe would store the string
            data["active"] = resources.try_convert_to_bool(data["active"])
        before = cls._api_retrieve(id)._export()
        obj = plain_update(cls, id, **data)
        after = obj._export()
        changed = {k: before.get(k) for k in data if before.get(k) != after.get(k)}
        if changed:
            announce("product.updated", obj, changed)
        return obj

    def delete(cls: Any, id: str) -> Any:
        obj = cls._api_retrieve(id)
        if any(p.product == id for p in price_cls._api_list_all(None)._list):
            raise user_error(400, "This product cannot be deleted because it has one or more "
                             "user-created prices.")
        deleted = plain_delete(cls, id)
        announce("product.deleted", obj)
        return deleted

    product_cls._api_update = classmethod(update)
    product_cls._api_delete = classmethod(delete)


# -- invoice items and lines --------------------------------------------------------------
def _invoice_items(resources: Any, user_error: Any, price_cls: Any) -> None:
    item_cls, line_cls = resources.InvoiceItem, resources.InvoiceLineItem
    item_init, line_init = item_cls.__init__, line_cls.__init__

    def init_item(self: Any, *args: Any, price: Any = None, pricing: Any = None,
                  quantity: Any = None, unit_amount: Any = None, **kwargs: Any) -> None:
        if price is None and isinstance(pricing, dict):
            price = pricing.get("price")
        count = resources.try_convert_to_int(quantity) if quantity is not None else 1
        if not isinstance(count, int) or count < 1:
            raise user_error(400, "Invalid positive integer", {"param": "quantity"})
        price_obj = price_cls._api_retrieve(price) if price is not None else None
        if price_obj is not None:
            kwargs.setdefault("currency", price_obj.currency)
            kwargs["amount"] = price_obj.unit_amount * count
        elif unit_amount is not None:
            kwargs["amount"] = resources.try_convert_to_int(unit_amount) * count
        invoice_id = kwargs.get("invoice")
        invoice = resources.Invoice._api_retrieve(invoice_id) if invoice_id else None
        if invoice is not None and invoice.status != "draft":
            raise user_error(400, "You can only add invoice items to draft invoices.",
                             {"param": "invoice"})
        item_init(self, *args, **kwargs)
        self.quantity = count
        self.price = price_obj
        self.unit_amount = self.amount // count if count else self.amount
        if invoice is not None:
            invoice.lines._list.append(line_cls(self))

    def init_line(self: Any, item: Any) -> None:
        line_init(self, item)
        price = getattr(item, "price", None)
        if price is None and getattr(item, "plan", None) is not None:
            with contextlib.suppress(Exception):
                price = price_cls._api_retrieve(item.plan.id)
        self.price = price
        self.quantity = getattr(item, "quantity", 1)
        # The current API's shape (2025-03-31.basil on): the price id under pricing.
        unit = getattr(item, "unit_amount", None)
        self.pricing = None if price is None else {
            "type": "price_details",
            "price_details": {"price": price.id, "product": getattr(price, "product", None)},
            "unit_amount_decimal": None if unit is None else str(unit)}

    item_cls.__init__ = init_item
    line_cls.__init__ = init_line


# -- invoices -----------------------------------------------------------------------------
def _invoices(resources: Any, user_error: Any, announce: Any) -> None:
    invoice_cls, item_cls = resources.Invoice, resources.InvoiceItem
    next_invoice = invoice_cls._api_create.__func__
    list_items = item_cls._api_list_all.__func__
    void_invoice = invoice_cls._api_void_invoice.__func__
    excluding = {"depth": 0}  # > 0 while a draft leaves the pending items out

    def pending(cls: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        found = list_items(cls, url, *args, **kwargs)
        if excluding["depth"] and url is None:  # the invoice's own pending-item lookup
            found._list = []
        return found

    def create(cls: Any, customer: Any = None, subscription: Any = None,
               pending_invoice_items_behavior: Any = None, collection_method: Any = None,
               days_until_due: Any = None, auto_advance: Any = None, **kwargs: Any) -> Any:
        if subscription is not None:
            return next_invoice(cls, customer=customer, subscription=subscription,
                                pending_invoice_items_behavior=pending_invoice_items_behavior,
                                **kwargs)
        if not customer:
            raise _missing("customer")
        exclude = pending_invoice_items_behavior == "exclude"
        excluding["depth"] += exclude
        try:
            invoice = cls(customer=customer, description=kwargs.pop("description", None),
                          metadata=kwargs.pop("metadata", None), **kwargs)
        finally:
            excluding["depth"] -= exclude
        if collection_method is not None:
            invoice.collection_method = collection_method
        return invoice

    def finalize(cls: Any, id: str, **kwargs: Any) -> Any:
        invoice = cls._api_retrieve(id)
        if invoice.status != "draft":
            raise user_error(400, "This invoice is already finalized, you can't re-finalize "
                             "a non-draft invoice.", {"code": "invoice_not_editable"})
        invoice._finalize()
        announce("invoice.finalized", invoice)
        return invoice

    def void(cls: Any, id: str, **kwargs: Any) -> Any:
        invoice = cls._api_retrieve(id)
        if invoice.payment_intent is None and invoice.status in ("draft", "open"):
            # localstripe cancels the payment intent unconditionally; a finalized invoice
            # that was never paid has none.
            invoice._draft = False
            invoice._voided = True
            invoice.status_transitions["voided_at"] = int(time.time())
        else:
            invoice = void_invoice(cls, id)
        announce("invoice.voided", invoice)
        return invoice

    def lines(cls: Any, id: str, limit: Any = None, starting_after: Any = None,
              **kwargs: Any) -> Any:
        if kwargs:
            raise user_error(400, f"Received unknown parameter: {sorted(kwargs)[0]}")
        invoice = cls._api_retrieve(id)
        page = resources.List(f"/v1/invoices/{id}/lines", limit=limit,
                              starting_after=starting_after)
        page._list = invoice.lines._list
        return page

    item_cls._api_list_all = classmethod(pending)
    invoice_cls._api_create = classmethod(create)
    invoice_cls._api_finalize = classmethod(finalize)
    invoice_cls._api_void_invoice = classmethod(void)
    invoice_cls._api_list_lines_paged = classmethod(lines)
    extra = resources.extra_apis
    extra[:] = [(m, u, invoice_cls._api_void_invoice if u == "/v1/invoices/{id}/void" else f)
                for m, u, f in extra]


# -- subscriptions with several items -----------------------------------------------------
def _multi_item_subscriptions(resources: Any, user_error: Any) -> None:
    sub_cls, item_cls = resources.Subscription, resources.SubscriptionItem
    sub_init, create_invoice = sub_cls.__init__, sub_cls._create_invoice
    waiting: list[list[dict]] = []  # the further items of the subscription being created

    def normalized(item: Any) -> dict:
        if not isinstance(item, dict) or not (item.get("plan") or item.get("price")):
            raise user_error(400, "Missing required param: items[][price].",
                             {"code": "parameter_missing", "param": "items[][price]"})
        quantity = resources.try_convert_to_int(item.get("quantity", 1))
        if not isinstance(quantity, int) or quantity < 1:
            raise user_error(400, "Invalid positive integer", {"param": "items[][quantity]"})
        plan = str(item.get("plan") or item.get("price"))
        resources.Plan._api_retrieve(plan)  # 404 for an unknown price, before anything is made
        return {"plan": plan, "quantity": quantity, "metadata": item.get("metadata"),
                "tax_rates": list(item.get("tax_rates") or [])}

    def join_waiting(self: Any) -> None:
        if not waiting or not waiting[-1]:
            return
        for extra in waiting[-1]:
            self.items._list.append(item_cls(subscription=self.id, **extra))
        waiting[-1] = []

    def init(self: Any, *args: Any, items: Any = None, **kwargs: Any) -> None:
        extra: list[dict] = []
        if isinstance(items, list) and len(items) > 1:
            extra = [normalized(item) for item in items[1:]]
            items = items[:1]
        waiting.append(extra)
        try:
            sub_init(self, *args, items=items, **kwargs)
            join_waiting(self)  # a trial makes no invoice: the items join here
        finally:
            waiting.pop()

    def invoice_all_items(self: Any) -> None:
        join_waiting(self)
        create_invoice(self)

    sub_cls.__init__ = init
    sub_cls._create_invoice = invoice_all_items
