"""The runner as the studio sees it: the only ``runner`` package that ``app`` imports.

An import-linter contract in ``pyproject.toml`` holds the studio to this package and its
submodules; what it needs from the runner is added here, as a re-export in the submodule
for the moment the studio needs it, and nowhere else.

Split by when the studio needs it, so that opening the studio loads none of the sync:

* light, imported at start-up: :mod:`runner.api.connections` (the connection rules, the
  connection-check result and the keyring secrets), :mod:`runner.api.errors` and
  :mod:`runner.api.reconcile` (the pure reconciliation core and its report: ~15 ms),
  :mod:`runner.api.triggers` (a flow's Pub/Sub topic, the default poll interval; whether an
  org offers a topic imports grpc only when asked);
* on demand, light enough for a dialog: :mod:`runner.api.oauth` ("Log in with Salesforce":
  the browser login with PKCE on a loopback redirect, refresh and revocation; authlib and
  requests, none of the sync) and :mod:`runner.api.operate` (the admin API's client for the
  Operate workspace: requests, none of the sync);
* heavy, imported by the studio's services where a user first needs them:
  :mod:`runner.api.connectors` (settings, clients and connection tests: the Stripe SDK,
  requests, simple_salesforce), :mod:`runner.api.testrun` (the runner's writer: the
  pipeline and, through it, the state database) and :mod:`runner.api.sandbox` (the local
  sandboxes).

This module imports nothing: importing any submodule imports it first.
"""
