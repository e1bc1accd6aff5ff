"""Store checks: the canary confirmed in the central log store, one module per kind of store."""
