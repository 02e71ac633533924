"""Delivery of warehouse data to other stores (InfluxDB). No Dagster imports.

- line_protocol: spans as InfluxDB points (pure).
- influx: configuration from environment variables and the v1/v2 HTTP clients.
- outbox: drains the warehouse's profile_outbox into a client, losing nothing.
"""
