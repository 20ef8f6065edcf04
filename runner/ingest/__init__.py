"""How events get into the runner: the webhook server and the Stripe events catch-up.

No re-exports: importers name the defining module, so that the catch-up (which the finance
monitors use) does not pull in the HTTP server (uvicorn, Starlette):

- :mod:`runner.ingest.webhook_server`: ``WebhookServer``, what each request means;
- :mod:`runner.ingest.http_app`, :mod:`runner.ingest.http_server`: HTTP and its limits;
- :mod:`runner.ingest.health`: what ``GET /healthz`` reports;
- :mod:`runner.ingest.catchup`: missed webhooks through ``GET /v1/events``.
"""
