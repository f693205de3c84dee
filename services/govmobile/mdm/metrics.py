"""Prometheus metrics of the MDM: devices by state and compliance (from the database, exact
across processes), and in-process counters of check-ins, enrollments and errors."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from govmobile.core.database import Database
from govmobile.mdm.models import Device


class MdmMetrics:
    def __init__(self, database: Database) -> None:
        self.registry = CollectorRegistry()
        self.errors = Counter(
            "govmobile_mdm_errors", "Requests refused or failed, by code", ["code"], registry=self.registry
        )
        self.checkins = Counter(
            "govmobile_mdm_checkins", "Device check-ins handled by this process", registry=self.registry
        )
        self.long_polls = Gauge(
            "govmobile_mdm_long_polls", "Wake-up long-polls held by this process", registry=self.registry
        )
        self.registry.register(_DeviceCollector(database))

    def count_error(self, code: str) -> None:
        self.errors.labels(code=code).inc()


class _DeviceCollector(Collector):
    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "govmobile_mdm_devices", "Devices by state and compliance", labels=["state", "compliant"]
        )
        with self.database.session() as session:
            rows = session.exec(
                select(Device.state, Device.compliant, func.count()).group_by(
                    col(Device.state), col(Device.compliant)
                )
            ).all()
        for state, compliant, count in rows:
            family.add_metric([str(state), "unknown" if compliant is None else str(compliant).lower()], count)
        yield family
