"""The runner's admin API (``/api/v1/``): status, dead letters with explanations, reviews,
pause and resume, hot deploy, a live tail and the audit log; off unless a token is set.

- :mod:`~runner.admin.auth`: Bearer tokens (full and read-only), compared in constant time,
  failures rate-limited;
- :mod:`~runner.admin.explain`: the rules explaining dead letters and suggesting fixes;
- :mod:`~runner.admin.service`: what each endpoint does, over a running
  :class:`runner.app.Runner`;
- :mod:`~runner.admin.routes`: HTTP in, JSON out (Starlette);
- :mod:`~runner.admin.client`: the same API from the command line and the studio.
"""
