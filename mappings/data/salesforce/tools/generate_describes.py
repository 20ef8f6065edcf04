"""Write the describe snapshots we could not record: standard objects and our custom objects.

Not needed at runtime: the JSON files it writes are committed. Run it after changing a spec:

    .venv/bin/python mappings/data/salesforce/tools/generate_describes.py

Fields follow the Salesforce Object Reference (the main fields of each object). Every field
dict is produced by :func:`mappings.schema.salesforce_describe.describe_field`, so it carries
exactly the keys of the recorded describes; compound address fields are copied from the
recorded Account and Lead describes, so they are real to the byte.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from mappings.schema.salesforce_describe import child_relationship, describe_object

DATA = Path(__file__).resolve().parent.parent


def _recorded(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.describe.json").read_text())


def _recorded_fields(obj: str, names: list[str]) -> list[dict[str, Any]]:
    by_name = {f["name"]: f for f in _recorded(obj)["fields"]}
    return [copy.deepcopy(by_name[n]) for n in names]


def _address(obj: str, prefix: str) -> list[dict[str, Any]]:
    parts = ["Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude",
             "GeocodeAccuracy", "Address"]
    return _recorded_fields(obj, [prefix + p for p in parts])


def _id(label: str) -> dict[str, Any]:
    return {"name": "Id", "type": "id", "label": label, "nillable": False}


def _owner(references: list[str]) -> dict[str, Any]:
    return {"name": "OwnerId", "type": "reference", "label": "Owner ID", "referenceTo": references,
            "relationshipName": "Owner", "nillable": False, "defaultedOnCreate": True}


def _system(*, deleted: bool = True, viewed: bool = True) -> list[dict[str, Any]]:
    """Audit fields every object has; the recorded Account shows their exact flags."""
    read_only = {"nillable": False, "createable": False, "defaultedOnCreate": True}
    fields: list[dict[str, Any]] = []
    if deleted:
        fields.append({"name": "IsDeleted", "type": "boolean", "label": "Deleted",
                       "createable": False})
    fields += [
        {"name": "CreatedDate", "type": "datetime", "label": "Created Date", **read_only},
        {"name": "CreatedById", "type": "reference", "label": "Created By ID",
         "referenceTo": ["User"], "relationshipName": "CreatedBy", **read_only},
        {"name": "LastModifiedDate", "type": "datetime", "label": "Last Modified Date",
         **read_only},
        {"name": "LastModifiedById", "type": "reference", "label": "Last Modified By ID",
         "referenceTo": ["User"], "relationshipName": "LastModifiedBy", **read_only},
        {"name": "SystemModstamp", "type": "datetime", "label": "System Modstamp", **read_only},
    ]
    if viewed:
        fields += [
            {"name": "LastViewedDate", "type": "datetime", "label": "Last Viewed Date",
             "createable": False},
            {"name": "LastReferencedDate", "type": "datetime", "label": "Last Referenced Date",
             "createable": False},
        ]
    return fields


def _ref(name: str, to: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "reference", "referenceTo": [to], "label": label, **extra}


def _money(name: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "currency", "label": label, "precision": 18, "scale": 2,
            **extra}


def _picklist(name: str, label: str, values: list[Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "picklist", "label": label, "length": 255,
            "picklistValues": values, **extra}


READ_ONLY = {"createable": False, "updateable": False}
# The currencies the shipped multi-currency org has enabled (Stripe's most used settlement
# and presentment currencies); a price in another currency is refused, as by a real org.
CURRENCIES = ["AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF",
              "INR", "JPY", "KRW", "MXN", "NOK", "NZD", "PLN", "SEK", "SGD", "USD", "ZAR"]
CREATE_ONLY = {"updateable": False}
MASTER = {"required": True, "updateable": False, "cascadeDelete": True, "relationshipOrder": 0}


def order() -> dict[str, Any]:
    fields = [
        _id("Order ID"),
        _owner(["Group", "User"]),
        _ref("ContractId", "Contract", "Contract ID", relationshipName="Contract"),
        _ref("AccountId", "Account", "Account ID", relationshipName="Account", required=True),
        _ref("Pricebook2Id", "Pricebook2", "Price Book ID", relationshipName="Pricebook2"),
        _ref("OriginalOrderId", "Order", "Order ID", relationshipName="OriginalOrder"),
        {"name": "EffectiveDate", "type": "date", "label": "Order Start Date", "required": True},
        {"name": "EndDate", "type": "date", "label": "Order End Date"},
        {"name": "IsReductionOrder", "type": "boolean", "label": "Reduction Order",
         **CREATE_ONLY},
        _picklist("Status", "Status", ["Draft", "Activated"], required=True,
                  restrictedPicklist=True, length=40),
        {"name": "Description", "type": "textarea", "label": "Description", "length": 32000},
        _ref("CustomerAuthorizedById", "Contact", "Customer Authorized By ID",
             relationshipName="CustomerAuthorizedBy"),
        {"name": "CustomerAuthorizedDate", "type": "date", "label": "Customer Authorized Date"},
        _ref("CompanyAuthorizedById", "User", "Company Authorized By ID",
             relationshipName="CompanyAuthorizedBy"),
        {"name": "CompanyAuthorizedDate", "type": "date", "label": "Company Authorized Date"},
        _picklist("Type", "Order Type", []),
        *_address("Account", "Billing"),
        *_address("Account", "Shipping"),
        {"name": "Name", "type": "string", "length": 80, "label": "Order Name",
         "nameField": False},
        {"name": "PoDate", "type": "date", "label": "PO Date"},
        {"name": "PoNumber", "type": "string", "length": 80, "label": "PO Number"},
        {"name": "OrderReferenceNumber", "type": "string", "length": 80,
         "label": "Order Reference Number"},
        _ref("BillToContactId", "Contact", "Bill To Contact ID", relationshipName="BillToContact"),
        _ref("ShipToContactId", "Contact", "Ship To Contact ID", relationshipName="ShipToContact"),
        {"name": "ActivatedDate", "type": "datetime", "label": "Activated Date"},
        _ref("ActivatedById", "User", "Activated By ID", relationshipName="ActivatedBy"),
        _picklist("StatusCode", "Status Category", ["Draft", "Activated", "Canceled", "Expired"],
                  length=40, restrictedPicklist=True, nillable=False, defaultedOnCreate=True,
                  **READ_ONLY),
        {"name": "OrderNumber", "type": "string", "length": 30, "label": "Order Number",
         "autoNumber": True, "nameField": True, "idLookup": True, "nillable": False,
         "defaultedOnCreate": True, **READ_ONLY},
        _money("TotalAmount", "Order Amount", nillable=False, defaultedOnCreate=True,
               **READ_ONLY),
        *_system(),
    ]
    children = [
        child_relationship("Order", "OriginalOrderId", "Orders"),
        child_relationship("OrderItem", "OrderId", "OrderItems", cascade_delete=True),
    ]
    return describe_object("Order", label="Order", label_plural="Orders", key_prefix="801",
                           fields=fields, child_relationships=children)


def order_item() -> dict[str, Any]:
    fields = [
        _id("Order Product ID"),
        _ref("Product2Id", "Product2", "Product ID", relationshipName="Product2", **CREATE_ONLY),
        {"name": "IsDeleted", "type": "boolean", "label": "Deleted", "createable": False},
        _ref("OrderId", "Order", "Order ID", relationshipName="Order", **MASTER),
        _ref("PricebookEntryId", "PricebookEntry", "Price Book Entry ID",
             relationshipName="PricebookEntry", required=True, updateable=False),
        _ref("OriginalOrderItemId", "OrderItem", "Original Order Item ID",
             relationshipName="OriginalOrderItem", **CREATE_ONLY),
        {"name": "AvailableQuantity", "type": "double", "label": "Available Quantity",
         "precision": 18, "scale": 2, **READ_ONLY},
        {"name": "Quantity", "type": "double", "label": "Quantity", "precision": 18, "scale": 2,
         "required": True},
        _money("UnitPrice", "Unit Price", required=True),
        _money("ListPrice", "List Price", **CREATE_ONLY),
        _money("TotalPrice", "Total Price", calculated=True, **READ_ONLY),
        {"name": "ServiceDate", "type": "date", "label": "Start Date"},
        {"name": "EndDate", "type": "date", "label": "End Date"},
        {"name": "Description", "type": "string", "length": 255, "label": "Line Description"},
        *_system(deleted=False, viewed=False),
        {"name": "OrderItemNumber", "type": "string", "length": 30, "label": "Order Product Number",
         "autoNumber": True, "nameField": True, "idLookup": True, "nillable": False,
         "defaultedOnCreate": True, **READ_ONLY},
    ]
    return describe_object("OrderItem", label="Order Product", label_plural="Order Products",
                           key_prefix="802", fields=fields, owned=False)


def product2() -> dict[str, Any]:
    fields = [
        _id("Product ID"),
        {"name": "Name", "type": "string", "length": 255, "label": "Product Name",
         "required": True, "idLookup": True},
        {"name": "ProductCode", "type": "string", "length": 255, "label": "Product Code"},
        {"name": "Description", "type": "textarea", "length": 4000,
         "label": "Product Description"},
        {"name": "IsActive", "type": "boolean", "label": "Active"},
        *_system(deleted=False, viewed=False),
        _picklist("Family", "Product Family", ["None"], length=40),
        _ref("ExternalDataSourceId", "ExternalDataSource", "External Data Source ID",
             relationshipName="ExternalDataSource"),
        {"name": "ExternalId", "type": "string", "length": 255, "label": "External ID"},
        {"name": "DisplayUrl", "type": "url", "length": 1000, "label": "Display URL"},
        _picklist("QuantityUnitOfMeasure", "Quantity Unit Of Measure", ["Each"]),
        {"name": "IsDeleted", "type": "boolean", "label": "Deleted", "createable": False},
        {"name": "IsArchived", "type": "boolean", "label": "Archived", "createable": False},
        {"name": "LastViewedDate", "type": "datetime", "label": "Last Viewed Date",
         "createable": False},
        {"name": "LastReferencedDate", "type": "datetime", "label": "Last Referenced Date",
         "createable": False},
        {"name": "StockKeepingUnit", "type": "string", "length": 180, "label": "Product SKU"},
    ]
    children = [
        child_relationship("OpportunityLineItem", "Product2Id", None),
        child_relationship("OrderItem", "Product2Id", None),
        child_relationship("PricebookEntry", "Product2Id", "PricebookEntries",
                           cascade_delete=True),
    ]
    return describe_object("Product2", label="Product", label_plural="Products",
                           key_prefix="01t", fields=fields, child_relationships=children,
                           owned=False)


def pricebook2() -> dict[str, Any]:
    fields = [
        _id("Price Book ID"),
        {"name": "IsDeleted", "type": "boolean", "label": "Deleted", "createable": False},
        {"name": "Name", "type": "string", "length": 255, "label": "Price Book Name",
         "required": True, "idLookup": True},
        *_system(deleted=False),
        {"name": "IsActive", "type": "boolean", "label": "Active"},
        {"name": "IsArchived", "type": "boolean", "label": "Archived", "createable": False},
        {"name": "Description", "type": "string", "length": 255, "label": "Description"},
        {"name": "IsStandard", "type": "boolean", "label": "Is Standard Price Book",
         **READ_ONLY},
    ]
    children = [
        child_relationship("Opportunity", "Pricebook2Id", "Opportunities"),
        child_relationship("Order", "Pricebook2Id", "Orders"),
        child_relationship("PricebookEntry", "Pricebook2Id", "PricebookEntries",
                           cascade_delete=True),
    ]
    return describe_object("Pricebook2", label="Price Book", label_plural="Price Books",
                           key_prefix="01s", fields=fields, child_relationships=children,
                           owned=False)


def pricebook_entry() -> dict[str, Any]:
    fields = [
        _id("Price Book Entry ID"),
        {"name": "Name", "type": "string", "length": 255, "label": "Product Name", **READ_ONLY},
        _ref("Pricebook2Id", "Pricebook2", "Price Book ID", relationshipName="Pricebook2",
             **MASTER),
        _ref("Product2Id", "Product2", "Product ID", relationshipName="Product2",
             required=True, updateable=False),
        _money("UnitPrice", "List Price", required=True),
        {"name": "IsActive", "type": "boolean", "label": "Active"},
        {"name": "UseStandardPrice", "type": "boolean", "label": "Use Standard Price"},
        # A multi-currency org's entry currency: one entry per product, price book and
        # currency. Fixed at creation and, when left out, the corporate currency (USD), as
        # in Salesforce.
        _picklist("CurrencyIsoCode", "Price Book Entry Currency",
                  [{"value": c, "defaultValue": c == "USD"} for c in CURRENCIES], length=3,
                  restrictedPicklist=True, nillable=False, defaultedOnCreate=True,
                  **CREATE_ONLY),
        *_system(viewed=False),
        {"name": "ProductCode", "type": "string", "length": 255, "label": "Product Code",
         **READ_ONLY},
        {"name": "IsArchived", "type": "boolean", "label": "Archived", "createable": False},
    ]
    children = [
        child_relationship("OpportunityLineItem", "PricebookEntryId", "OpportunityLineItems"),
        child_relationship("OrderItem", "PricebookEntryId", "OrderItems"),
    ]
    return describe_object("PricebookEntry", label="Price Book Entry",
                           label_plural="Price Book Entries", key_prefix="01u", fields=fields,
                           child_relationships=children, owned=False)


def opportunity_line_item() -> dict[str, Any]:
    fields = [
        _id("Line Item ID"),
        _ref("OpportunityId", "Opportunity", "Opportunity ID", relationshipName="Opportunity",
             **MASTER),
        {"name": "SortOrder", "type": "int", "label": "Sort Order", "digits": 9},
        _ref("PricebookEntryId", "PricebookEntry", "Price Book Entry ID",
             relationshipName="PricebookEntry", **CREATE_ONLY),
        _ref("Product2Id", "Product2", "Product ID", relationshipName="Product2", **CREATE_ONLY),
        {"name": "ProductCode", "type": "string", "length": 255, "label": "Product Code",
         **READ_ONLY},
        {"name": "Name", "type": "string", "length": 376, "label": "Opportunity Product Name",
         **READ_ONLY},
        {"name": "Quantity", "type": "double", "label": "Quantity", "precision": 18, "scale": 2,
         "required": True},
        _money("TotalPrice", "Total Price"),
        _money("UnitPrice", "Sales Price"),
        _money("ListPrice", "List Price", **READ_ONLY),
        {"name": "ServiceDate", "type": "date", "label": "Date"},
        {"name": "Description", "type": "string", "length": 255, "label": "Line Description"},
        *_system(),
    ]
    return describe_object("OpportunityLineItem", label="Opportunity Product",
                           label_plural="Opportunity Product", key_prefix="00k", fields=fields,
                           owned=False)


def user() -> dict[str, Any]:
    required = {"required": True}
    fields = [
        _id("User ID"),
        {"name": "Username", "type": "string", "length": 80, "label": "Username",
         "unique": True, "idLookup": True, **required},
        {"name": "LastName", "type": "string", "length": 80, "label": "Last Name", **required},
        {"name": "FirstName", "type": "string", "length": 40, "label": "First Name"},
        {"name": "MiddleName", "type": "string", "length": 40, "label": "Middle Name"},
        {"name": "Suffix", "type": "string", "length": 40, "label": "Suffix"},
        {"name": "Name", "type": "string", "length": 121, "label": "Full Name",
         "nillable": False, **READ_ONLY},
        {"name": "CompanyName", "type": "string", "length": 80, "label": "Company Name"},
        {"name": "Division", "type": "string", "length": 80, "label": "Division"},
        {"name": "Department", "type": "string", "length": 80, "label": "Department"},
        {"name": "Title", "type": "string", "length": 80, "label": "Title"},
        *_address("Lead", ""),
        {"name": "Email", "type": "email", "length": 128, "label": "Email", "idLookup": True,
         **required},
        {"name": "EmailPreferencesAutoBcc", "type": "boolean", "label": "AutoBcc"},
        {"name": "SenderEmail", "type": "email", "length": 80, "label": "Email Sender Address"},
        {"name": "SenderName", "type": "string", "length": 80, "label": "Email Sender Name"},
        {"name": "Signature", "type": "textarea", "length": 1333, "label": "Email Signature"},
        {"name": "Phone", "type": "phone", "label": "Phone"},
        {"name": "Fax", "type": "phone", "label": "Fax"},
        {"name": "MobilePhone", "type": "phone", "label": "Mobile"},
        {"name": "Alias", "type": "string", "length": 8, "label": "Alias", **required},
        {"name": "CommunityNickname", "type": "string", "length": 40, "label": "Nickname",
         "nillable": False, "defaultedOnCreate": True, "unique": True, "idLookup": True},
        {"name": "IsActive", "type": "boolean", "label": "Active"},
        _picklist("TimeZoneSidKey", "Time Zone",
                  ["America/Los_Angeles", "America/Denver", "America/Chicago", "America/New_York",
                   "Europe/London", "Europe/Paris", "Europe/Berlin", "Asia/Tokyo",
                   "Australia/Sydney", "GMT"], length=40, restrictedPicklist=True, **required),
        _ref("UserRoleId", "UserRole", "Role ID", relationshipName="UserRole"),
        _picklist("LocaleSidKey", "Locale", ["en_US", "en_GB", "fr_FR", "de_DE", "es_ES",
                                             "ja_JP"],
                  length=40, restrictedPicklist=True, **required),
        {"name": "ReceivesInfoEmails", "type": "boolean", "label": "Info Emails"},
        _picklist("EmailEncodingKey", "Email Encoding",
                  ["UTF-8", "ISO-8859-1", "Shift_JIS", "ISO-2022-JP", "EUC-JP"], length=40,
                  restrictedPicklist=True, **required),
        _ref("ProfileId", "Profile", "Profile ID", relationshipName="Profile", **required),
        _picklist("UserType", "User Type",
                  ["Standard", "PowerPartner", "PowerCustomerSuccess", "CustomerSuccess",
                   "Guest", "CspLitePortal", "CsnOnly", "SelfService"], length=40,
                  restrictedPicklist=True, **READ_ONLY),
        _picklist("LanguageLocaleKey", "Language", ["en_US", "de", "es", "fr", "it", "ja"],
                  length=40, restrictedPicklist=True, **required),
        {"name": "EmployeeNumber", "type": "string", "length": 20, "label": "Employee Number"},
        _ref("ManagerId", "User", "Manager ID", relationshipName="Manager"),
        {"name": "LastLoginDate", "type": "datetime", "label": "Last Login", **READ_ONLY},
        *_system(deleted=False, viewed=False),
        _ref("ContactId", "Contact", "Contact ID", relationshipName="Contact", **CREATE_ONLY),
        _ref("AccountId", "Account", "Account ID", relationshipName="Account", **READ_ONLY),
        {"name": "FederationIdentifier", "type": "string", "length": 512,
         "label": "SAML Federation ID", "idLookup": True},
        {"name": "AboutMe", "type": "textarea", "length": 1000, "label": "About Me"},
        {"name": "LastViewedDate", "type": "datetime", "label": "Last Viewed Date",
         "createable": False},
        {"name": "LastReferencedDate", "type": "datetime", "label": "Last Referenced Date",
         "createable": False},
    ]
    children = [child_relationship("User", "ManagerId", "ManagedUsers")]
    return describe_object("User", label="User", label_plural="Users", key_prefix="005",
                           fields=fields, child_relationships=children, owned=False,
                           deletable=False, undeletable=False)


# --------------------------------------------------------------------------- custom objects


def _custom_standard_fields(label: str) -> list[dict[str, Any]]:
    """The fields Salesforce creates with every custom object."""
    return [
        _id("Record ID"),
        _owner(["Group", "User"]),
        {"name": "IsDeleted", "type": "boolean", "label": "Deleted", "createable": False},
        {"name": "Name", "type": "string", "length": 80, "label": f"{label} Name",
         "required": True, "idLookup": True},
        *_system(deleted=False),
    ]


def _text(name: str, length: int, label: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "string", "length": length, "label": label, **extra}


def _ext_id(name: str, label: str, **extra: Any) -> dict[str, Any]:
    return _text(name, 255, label, externalId=True, unique=True, **extra)


def payment() -> dict[str, Any]:
    fields = [
        *_custom_standard_fields("Payment"),
        _ext_id("StripeChargeID__c", "Stripe Charge ID", required=True,
                description="The Stripe Charge id (ch_...) this payment records."),
        _ext_id("StripePaymentIntentID__c", "Stripe Payment Intent ID",
                description="The Stripe PaymentIntent id (pi_...) the charge belongs to."),
        _ref("Account__c", "Account", "Account", relationshipName="Account__r"),
        _money("Amount__c", "Amount", precision=16, required=True),
        _money("Amount_Refunded__c", "Amount Refunded", precision=16),
        _text("Currency__c", 3, "Currency", required=True,
              description="ISO 4217 code in upper case, e.g. USD."),
        _picklist("Status__c", "Status",
                  ["Completed", "Failed", "Pending", "Refunded", "Requires Action", "Canceled"],
                  restrictedPicklist=True, required=True),
        {"name": "Paid_At__c", "type": "datetime", "label": "Paid At"},
        _text("Description__c", 255, "Description"),
        {"name": "Receipt_Email__c", "type": "email", "label": "Receipt Email"},
        _text("Failure_Message__c", 255, "Failure Message"),
        _text("Payment_Method_Type__c", 40, "Payment Method Type"),
        _text("Card_Brand__c", 40, "Card Brand"),
        _text("Card_Last4__c", 4, "Card Last 4"),
        _text("StripeBalanceTransactionID__c", 255, "Stripe Balance Transaction ID"),
        _money("Fee__c", "Fee", precision=16),
        _money("Net__c", "Net", precision=16),
        _ref("Payout__c", "Payout__c", "Payout", relationshipName="Payout__r"),
        {"name": "Livemode__c", "type": "boolean", "label": "Livemode"},
        {"name": "Receipt_URL__c", "type": "url", "length": 255, "label": "Receipt URL"},
        _text("StripeCustomerID__c", 255, "Stripe Customer ID"),
    ]
    return describe_object("Payment__c", label="Payment", label_plural="Payments",
                           key_prefix="a0A", fields=fields)


def subscription_contract() -> dict[str, Any]:
    fields = [
        *_custom_standard_fields("Subscription Contract"),
        _ext_id("StripeSubscriptionID__c", "Stripe Subscription ID", required=True),
        _ref("Account__c", "Account", "Account", relationshipName="Account__r"),
        _picklist("Status__c", "Status",
                  ["Active", "Trialing", "Past Due", "Canceled", "Unpaid", "Incomplete",
                   "Incomplete Expired", "Paused"], restrictedPicklist=True),
        {"name": "Start_Date__c", "type": "date", "label": "Start Date"},
        {"name": "Current_Period_Start__c", "type": "date", "label": "Current Period Start"},
        {"name": "Current_Period_End__c", "type": "date", "label": "Current Period End"},
        {"name": "Canceled_At__c", "type": "datetime", "label": "Canceled At"},
        {"name": "Cancel_At_Period_End__c", "type": "boolean", "label": "Cancel At Period End"},
        _text("Plan_Name__c", 255, "Plan Name"),
        _text("StripePriceID__c", 255, "Stripe Price ID"),
        _money("Amount__c", "Amount"),
        _text("Currency__c", 3, "Currency"),
        _picklist("Interval__c", "Interval", ["day", "week", "month", "year"],
                  restrictedPicklist=True),
        {"name": "Quantity__c", "type": "double", "label": "Quantity", "precision": 18,
         "scale": 0},
        {"name": "Last_Payment_Date__c", "type": "datetime", "label": "Last Payment Date"},
        _money("Last_Invoice_Amount__c", "Last Invoice Amount"),
        _text("StripeCustomerID__c", 255, "Stripe Customer ID"),
    ]
    return describe_object("Subscription_Contract__c", label="Subscription Contract",
                           label_plural="Subscription Contracts", key_prefix="a0B",
                           fields=fields)


def subscription_line_item() -> dict[str, Any]:
    """One item of a Stripe subscription (si_...): a price and a quantity under its contract."""
    fields = [
        *_custom_standard_fields("Subscription Line Item"),
        _ext_id("StripeSubscriptionItemID__c", "Stripe Subscription Item ID", required=True,
                description="The Stripe subscription item id (si_...) this line mirrors."),
        _ref("Subscription_Contract__c", "Subscription_Contract__c", "Subscription Contract",
             relationshipName="Subscription_Contract__r", **MASTER),
        _ref("Product__c", "Product2", "Product", relationshipName="Product__r"),
        _text("StripePriceID__c", 255, "Stripe Price ID"),
        _text("StripeProductID__c", 255, "Stripe Product ID"),
        {"name": "Quantity__c", "type": "double", "label": "Quantity", "precision": 18,
         "scale": 0},
        _money("Unit_Amount__c", "Unit Amount"),
        _text("Currency__c", 3, "Currency"),
        _picklist("Interval__c", "Interval", ["day", "week", "month", "year"],
                  restrictedPicklist=True),
        {"name": "StripeDeletedAt__c", "type": "datetime", "label": "Stripe Deleted At",
         "description": "When the item left the subscription (a child's 'mark' policy)."},
    ]
    return describe_object("Subscription_Line_Item__c", label="Subscription Line Item",
                           label_plural="Subscription Line Items", key_prefix="a0G",
                           fields=fields)


def payout() -> dict[str, Any]:
    fields = [
        *_custom_standard_fields("Payout"),
        _ext_id("StripePayoutID__c", "Stripe Payout ID", required=True),
        _money("Amount__c", "Amount", required=True),
        _text("Currency__c", 3, "Currency"),
        {"name": "Arrival_Date__c", "type": "date", "label": "Arrival Date"},
        _picklist("Status__c", "Status", ["Paid", "Pending", "In Transit", "Canceled", "Failed"],
                  restrictedPicklist=True),
        _text("Method__c", 40, "Method"),
        _text("Description__c", 255, "Description"),
        {"name": "Automatic__c", "type": "boolean", "label": "Automatic"},
        _text("StripeBalanceTransactionID__c", 255, "Stripe Balance Transaction ID"),
    ]
    children = [child_relationship("Payment__c", "Payout__c", "Payments__r")]
    return describe_object("Payout__c", label="Payout", label_plural="Payouts",
                           key_prefix="a0C", fields=fields, child_relationships=children)


def refund() -> dict[str, Any]:
    """One Stripe refund (re_...): a charge may have several (partial refunds)."""
    fields = [
        *_custom_standard_fields("Refund"),
        _ext_id("StripeRefundID__c", "Stripe Refund ID", required=True,
                description="The Stripe Refund id (re_...) this record mirrors."),
        _ref("Payment__c", "Payment__c", "Payment", relationshipName="Payment__r"),
        _money("Amount__c", "Amount", precision=16, required=True),
        _text("Currency__c", 3, "Currency", required=True,
              description="ISO 4217 code in upper case, e.g. USD."),
        _picklist("Status__c", "Status",
                  ["Pending", "Requires Action", "Succeeded", "Failed", "Canceled"],
                  restrictedPicklist=True),
        _picklist("Reason__c", "Reason",
                  ["duplicate", "fraudulent", "requested_by_customer",
                   "expired_uncaptured_charge"]),
        _text("StripeChargeID__c", 255, "Stripe Charge ID"),
        {"name": "Refunded_At__c", "type": "datetime", "label": "Refunded At"},
    ]
    return describe_object("Refund__c", label="Refund", label_plural="Refunds",
                           key_prefix="a0D", fields=fields)


WRITERS = (order, order_item, product2, pricebook2, pricebook_entry, opportunity_line_item, user,
           payment, subscription_contract, subscription_line_item, payout, refund)


def main() -> None:
    for writer in WRITERS:
        describe = writer()
        path = DATA / f"{describe['name']}.describe.json"
        # The recorded describes are written this way (one-space indent, sorted keys).
        path.write_text(json.dumps(describe, indent=1, sort_keys=True) + "\n")
        print(f"wrote {path.name}: {len(describe['fields'])} fields")


if __name__ == "__main__":
    main()
