"""The runner's processing: Stripe events -> Salesforce (:mod:`~runner.pipeline.processor`)
and Salesforce changes -> Stripe (:mod:`~runner.pipeline.sf_poller`), over a bundle compiled
once (:mod:`~runner.pipeline.bundle_runtime`).

Nothing is re-exported here: importing one module of the package (``bundle_runtime`` for the
studio) must not pull in the processor, SQLAlchemy and the connectors. Import from the
module that defines a name.
"""
