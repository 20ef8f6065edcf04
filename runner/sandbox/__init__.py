"""Local sandboxes the real clients talk to: a Salesforce org emulator and a Stripe sandbox."""
