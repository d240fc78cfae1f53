"""ddnsd.reconcile: plan (pure) → apply (API) → one round (engine).

Import from the submodules (``ddnsd.reconcile.engine`` etc.): this package file stays
empty so that importing the pure ``planner`` pulls in no I/O module.
"""
