"""Finance intelligence: payout reconciliation, anomaly detection, duplicate matching, monitors.

The cores (:mod:`.anomaly`, :mod:`.matching`, :mod:`.monitors`, :func:`.reconcile.reconcile`)
are pure: plain data in, explainable findings out, no I/O. Only :func:`.reconcile.gather`,
:class:`.runtime.FinanceMonitor` (Cases through the anomaly-cases flow) and the ``reconcile``
command talk to Stripe and Salesforce.
"""
