"""The code location: merges what each domain in defs/ exports."""


import dagster as dg

from crossbridge_assets.defs.common import WarehouseResource
from crossbridge_assets.defs.landing import defs as landing_defs
from crossbridge_assets.defs.results import defs as results_defs
from crossbridge_assets.log import configure

configure()

defs = dg.Definitions.merge(
    landing_defs,
    results_defs,
    dg.Definitions(resources={"warehouse": WarehouseResource()}),
)
