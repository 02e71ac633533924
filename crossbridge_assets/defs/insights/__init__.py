"""Insights: what the results history answers across runs (new failures against the last run,
flaky tests with their evidence, failure clusters, each test's history).

Unpartitioned assets recomputed after ingestion and nightly, each from the last WINDOW_DAYS of
results (warehouse.insights.result_frame); the analytics are pure functions in analysis/."""

import dagster as dg

from crossbridge_assets.defs.insights import clusters, comparisons, flaky, history

# One module per insight; each exports its own `defs`.
defs = dg.Definitions.merge(clusters.defs, comparisons.defs, flaky.defs, history.defs)
