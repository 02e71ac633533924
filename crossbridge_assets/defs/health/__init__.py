"""The health domain of the Dagster layer."""

import dagster as dg

defs = dg.Definitions()
