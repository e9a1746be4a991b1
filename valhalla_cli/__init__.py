"""``valhalla``: the operator's command line over the Valhalla Ops HTTP API."""
