"""Code location for the Celery scale-out: the CrossBridge definitions, with every step of every
job sent to Celery workers through the broker in CROSSBRIDGE_CELERY_BROKER.

    dagster dev -f deploy/celery/definitions.py        # or a workspace.yaml entry with python_file

Workers start with the same settings (deploy/celery/celery.yaml) and the same environment
(DAGSTER_HOME with the production dagster.yaml, DAGSTER_POSTGRES_URL, CROSSBRIDGE_*).
"""

from pathlib import Path

import dagster as dg
import yaml
from dagster_celery import celery_executor

from crossbridge_assets.definitions import defs as crossbridge_defs

# One source for broker, backend and Celery settings: the file the workers start with.
_CONFIG = yaml.safe_load((Path(__file__).parent / "celery.yaml").read_text(encoding="utf-8"))["execution"]["config"]

celery = celery_executor.configured(_CONFIG, name="celery")

defs = dg.Definitions.merge(crossbridge_defs, dg.Definitions(executor=celery))
