"""The code location: merges what each domain in defs/ exports."""

import dagster as dg

from crossbridge_assets.defs import coverage, health, insights, landing, profiling, results
from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.log import configure

configure()

# Domains are imported as modules: Dagster allows one Definitions object at module scope.
defs = dg.Definitions.merge(
    landing.defs,
    results.defs,
    coverage.defs,
    profiling.defs,
    insights.defs,
    health.defs,
    dg.Definitions(resources={"warehouse": WarehouseResource()}),
)
