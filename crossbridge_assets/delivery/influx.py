"""InfluxDB: configuration from environment variables and one small client per API.

- InfluxDB 1.x: the v1 HTTP API, ``POST /write?db=&rp=&precision=ns`` with line protocol,
  optional basic auth (CROSSBRIDGE_INFLUX_USERNAME / CROSSBRIDGE_INFLUX_PASSWORD).
- InfluxDB 2.x and 3.x: the v2 write API through ``influxdb-client`` (org, bucket, token).

Secrets (password, token) are read from the environment only, never from a file or Dagster run
config, and never appear in a repr or an error message.

Errors are split the way the outbox needs them: InfluxUnavailable (connection refused, timeout,
5xx, 429: retry later, nothing is lost), InfluxRejected (the server refused these points, 400/413/
422: isolate the bad ones) and InfluxConfigError (401/403/404, or bad settings: a person must act).
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence
from urllib.parse import urlencode, urlsplit

import urllib3

from crossbridge_assets.settings import SettingsError, env_number, env_text

# benchmarks/profiling_bench.py against influxd 1.6 on loopback, 200,000 points: 500 -> 22.1k,
# 1,000 -> 26.9k, 2,000 -> 27.2k, 5,000 -> 23.4k, 10,000 -> 23.6k points/s. 2,000 is the fastest
# measured and still few round trips to a remote server.
DEFAULT_BATCH = 2000


# name -> (default, meaning), in the shape of settings.VARIABLES.
VARIABLES: dict[str, tuple[str, str]] = {
    "CROSSBRIDGE_INFLUX_URL": ("", "InfluxDB base URL, e.g. http://influxdb:8086; unset = no delivery (spans stay in the warehouse)"),
    "CROSSBRIDGE_INFLUX_VERSION": ("1, or 2 when CROSSBRIDGE_INFLUX_TOKEN is set", "1 = v1 /write API (InfluxDB 1.x); 2 or 3 = v2 API (InfluxDB 2.x, 3.x)"),
    "CROSSBRIDGE_INFLUX_DB": ("crossbridge", "v1: database to write to (must exist)"),
    "CROSSBRIDGE_INFLUX_RP": ("", "v1: retention policy (empty = the database's default)"),
    "CROSSBRIDGE_INFLUX_USERNAME": ("", "v1: user for basic auth (empty = no auth)"),
    "CROSSBRIDGE_INFLUX_PASSWORD": ("", "v1: password for CROSSBRIDGE_INFLUX_USERNAME; environment only"),
    "CROSSBRIDGE_INFLUX_ORG": ("", "v2: organization (required for version 2)"),
    "CROSSBRIDGE_INFLUX_BUCKET": ("crossbridge", "v2: bucket (InfluxDB 3: the database)"),
    "CROSSBRIDGE_INFLUX_TOKEN": ("", "v2: API token with write access to the bucket; environment only"),
    "CROSSBRIDGE_INFLUX_BATCH": (str(DEFAULT_BATCH), "points per write request"),
    "CROSSBRIDGE_INFLUX_TIMEOUT": ("10", "seconds before a write request counts as failed"),
}

class InfluxConfigError(SettingsError):
    """A CROSSBRIDGE_INFLUX_* variable is missing or wrong, or the server refused the credentials."""


class InfluxUnavailable(Exception):
    """The server is away or overloaded: try again later."""


class InfluxRejected(Exception):
    """The server refused the points themselves (malformed, type conflict, too large)."""

    def __init__(self, status: int, body: str):
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {body[:500]}")


@dataclass(frozen=True)
class InfluxConfig:
    url: str
    version: int
    database: str = "crossbridge"
    retention_policy: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    org: str | None = None
    bucket: str = "crossbridge"
    token: str | None = field(default=None, repr=False)
    batch_size: int = DEFAULT_BATCH
    timeout: float = 10.0

    @property
    def target(self) -> str:
        """Where points go, for people: never includes a secret."""
        if self.version == 1:
            return f"{self.url} database {self.database}" + (f" (rp {self.retention_policy})" if self.retention_policy else "")
        return f"{self.url} org {self.org} bucket {self.bucket}"


def load_config(env: Mapping[str, str] | None = None) -> InfluxConfig | None:
    """The InfluxDB settings, or None when CROSSBRIDGE_INFLUX_URL is unset (delivery off).
    Raises InfluxConfigError naming the variable that is wrong."""
    env = os.environ if env is None else env
    url = env_text(env, "CROSSBRIDGE_INFLUX_URL")
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InfluxConfigError(f"CROSSBRIDGE_INFLUX_URL={url!r}; expected http://HOST:PORT or https://HOST:PORT")
    if parts.username or parts.password:
        raise InfluxConfigError(
            "CROSSBRIDGE_INFLUX_URL must not carry credentials; use CROSSBRIDGE_INFLUX_USERNAME and "
            "CROSSBRIDGE_INFLUX_PASSWORD (v1) or CROSSBRIDGE_INFLUX_TOKEN (v2)"
        )
    token = env_text(env, "CROSSBRIDGE_INFLUX_TOKEN")
    raw_version = env_text(env, "CROSSBRIDGE_INFLUX_VERSION") or ("2" if token else "1")
    if raw_version not in ("1", "2", "3"):
        raise InfluxConfigError(
            f"CROSSBRIDGE_INFLUX_VERSION={raw_version!r}; expected 1 (InfluxDB 1.x) or 2 (InfluxDB 2.x and 3.x, v2 API)"
        )
    version = 1 if raw_version == "1" else 2
    common = dict(
        url=url.rstrip("/"),
        version=version,
        batch_size=env_number(env, "CROSSBRIDGE_INFLUX_BATCH", VARIABLES, 1, 100_000, error=InfluxConfigError),
        timeout=env_number(env, "CROSSBRIDGE_INFLUX_TIMEOUT", VARIABLES, 0.1, 600, float, InfluxConfigError),
    )
    if version == 1:
        username = env_text(env, "CROSSBRIDGE_INFLUX_USERNAME")
        password = env.get("CROSSBRIDGE_INFLUX_PASSWORD") or None
        if username and password is None:
            raise InfluxConfigError(
                "CROSSBRIDGE_INFLUX_USERNAME is set but CROSSBRIDGE_INFLUX_PASSWORD is not (set it in the environment)"
            )
        if password and not username:
            raise InfluxConfigError("CROSSBRIDGE_INFLUX_PASSWORD is set but CROSSBRIDGE_INFLUX_USERNAME is not")
        return InfluxConfig(
            **common,
            database=env_text(env, "CROSSBRIDGE_INFLUX_DB") or "crossbridge",
            retention_policy=env_text(env, "CROSSBRIDGE_INFLUX_RP"),
            username=username,
            password=password,
        )
    org = env_text(env, "CROSSBRIDGE_INFLUX_ORG")
    if not org:
        raise InfluxConfigError(f"CROSSBRIDGE_INFLUX_ORG is required with CROSSBRIDGE_INFLUX_VERSION={raw_version}")
    if not token:
        raise InfluxConfigError(
            f"CROSSBRIDGE_INFLUX_TOKEN is required with CROSSBRIDGE_INFLUX_VERSION={raw_version} (set it in the environment)"
        )
    return InfluxConfig(**common, org=org, bucket=env_text(env, "CROSSBRIDGE_INFLUX_BUCKET") or "crossbridge", token=token)


# ---------------------------------------------------------------------------- clients


class InfluxClient(Protocol):
    config: InfluxConfig

    def write(self, lines: Sequence[str]) -> None: ...

    def ping(self) -> dict: ...

    def close(self) -> None: ...


def _classify(status: int, body: str, config: InfluxConfig) -> Exception:
    if status in (401, 403):
        return InfluxConfigError(
            f"InfluxDB at {config.url} refused the credentials (HTTP {status}); check "
            + ("CROSSBRIDGE_INFLUX_USERNAME/CROSSBRIDGE_INFLUX_PASSWORD" if config.version == 1 else "CROSSBRIDGE_INFLUX_TOKEN")
        )
    if status == 404:
        return InfluxConfigError(
            f"InfluxDB at {config.url} has no "
            + (f"database {config.database!r} (CROSSBRIDGE_INFLUX_DB)" if config.version == 1
               else f"bucket {config.bucket!r} in org {config.org!r} (CROSSBRIDGE_INFLUX_BUCKET, CROSSBRIDGE_INFLUX_ORG)")
            + f": {body[:300]}"
        )
    if status in (408, 429) or status >= 500:
        return InfluxUnavailable(f"InfluxDB at {config.url} answered HTTP {status}: {body[:300]}")
    return InfluxRejected(status, body)


def _unavailable(config: InfluxConfig, exc: BaseException) -> InfluxUnavailable:
    reason = getattr(exc, "reason", None) or exc
    return InfluxUnavailable(f"InfluxDB at {config.url} is not reachable: {type(reason).__name__}: {reason}")


class V1Client:
    """InfluxDB 1.x through its own HTTP API."""

    def __init__(self, config: InfluxConfig):
        self.config = config
        # Retries are the outbox's business (with backoff and a record of the error).
        self._http = urllib3.PoolManager(
            maxsize=2, retries=False, timeout=urllib3.Timeout(connect=min(config.timeout, 5.0), read=config.timeout)
        )
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if config.username:
            creds = f"{config.username}:{config.password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(creds).decode()

    def _request(self, method: str, path: str, params: dict, body: bytes | None = None):
        url = f"{self.config.url}{path}?{urlencode({k: v for k, v in params.items() if v})}"
        try:
            return self._http.request(method, url, body=body, headers=self._headers)
        except urllib3.exceptions.HTTPError as exc:
            raise _unavailable(self.config, exc) from exc

    def write(self, lines: Sequence[str]) -> None:
        if not lines:
            return
        body = "\n".join(lines).encode("utf-8")
        params = {"db": self.config.database, "rp": self.config.retention_policy, "precision": "ns"}
        response = self._request("POST", "/write", params, body)
        if response.status not in (200, 204):
            raise _classify(response.status, response.data.decode("utf-8", "replace"), self.config)

    def query(self, q: str, database: str | None = None) -> dict:
        """Run an InfluxQL statement (reads for checks and tests; CREATE DATABASE for set-up)."""
        response = self._request("POST", "/query", {"db": database or self.config.database, "q": q})
        text = response.data.decode("utf-8", "replace")
        if response.status != 200:
            raise _classify(response.status, text, self.config)
        return json.loads(text)

    def ping(self) -> dict:
        started = time.perf_counter()
        response = self._request("GET", "/ping", {})
        latency = round((time.perf_counter() - started) * 1000, 2)
        if response.status not in (200, 204):
            raise _classify(response.status, response.data.decode("utf-8", "replace"), self.config)
        version = response.headers.get("X-Influxdb-Version")
        # /ping answers without checking credentials or the database: ask about the database too.
        found = self.query("SHOW DATABASES", database=None)
        names = {row[0] for s in found.get("results", [{}])[0].get("series", []) for row in s.get("values", [])}
        if self.config.database not in names:
            raise InfluxConfigError(
                f"InfluxDB at {self.config.url} has no database {self.config.database!r} (CROSSBRIDGE_INFLUX_DB); "
                f"create it with: CREATE DATABASE \"{self.config.database}\""
            )
        return {"latency_ms": latency, "version": version or "unknown", "api": "v1"}

    def close(self) -> None:
        self._http.clear()


class V2Client:
    """InfluxDB 2.x / 3.x through influxdb-client's v2 write API."""

    def __init__(self, config: InfluxConfig):
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.config = config
        self._client = InfluxDBClient(
            url=config.url, token=config.token, org=config.org, timeout=int(config.timeout * 1000), retries=False
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    def _call(self, fn, *args, **kwargs):
        from influxdb_client.rest import ApiException

        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            raise _classify(exc.status or 0, str(exc.body or exc.reason or ""), self.config) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unavailable(self.config, exc) from exc

    def write(self, lines: Sequence[str]) -> None:
        from influxdb_client import WritePrecision

        if lines:
            self._call(
                self._write.write, bucket=self.config.bucket, org=self.config.org,
                record="\n".join(lines), write_precision=WritePrecision.NS,
            )

    def ping(self) -> dict:
        started = time.perf_counter()
        ok = self._call(self._client.ping)
        latency = round((time.perf_counter() - started) * 1000, 2)
        if not ok:
            raise InfluxUnavailable(f"InfluxDB at {self.config.url} did not answer /ping")
        try:
            version = self._client.version()
        except Exception:  # noqa: BLE001 - some servers (3.x, 1.8 compat) do not say
            version = "unknown"
        return {"latency_ms": latency, "version": version, "api": "v2"}

    def close(self) -> None:
        self._client.close()


def make_client(config: InfluxConfig) -> InfluxClient:
    return V1Client(config) if config.version == 1 else V2Client(config)
