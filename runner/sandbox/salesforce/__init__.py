"""A local Salesforce org emulator."""
