"""The emulator's Pub/Sub API: change events, platform events, their schemas and replay."""
