"""Prometheus metrics of the CA.

Issued and revoked totals are read from the database at scrape time, so they are exact across
worker processes and restarts; errors are counted in-process.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from govmobile.ca.models import Certificate, CrlState
from govmobile.core.database import Database


class CaMetrics:
    def __init__(self, database: Database) -> None:
        self.registry = CollectorRegistry()
        self.errors = Counter(
            "govmobile_ca_errors",
            "Requests refused or failed, by error code",
            ["code"],
            registry=self.registry,
        )
        self.registry.register(_CertificateCollector(database))

    def count_error(self, code: str) -> None:
        self.errors.labels(code=code).inc()


class _CertificateCollector(Collector):
    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        issued = CounterMetricFamily(
            "govmobile_ca_certificates_issued", "Certificates issued, by profile", labels=["profile"]
        )
        revoked = CounterMetricFamily(
            "govmobile_ca_certificates_revoked", "Certificates revoked, by profile", labels=["profile"]
        )
        crl_number = GaugeMetricFamily("govmobile_ca_crl_number", "Number of the current CRL")
        with self.database.session() as session:
            for profile, count in session.exec(
                select(Certificate.profile, func.count()).group_by(Certificate.profile)
            ).all():
                issued.add_metric([profile], count)
            for profile, count in session.exec(
                select(Certificate.profile, func.count())
                .where(col(Certificate.revoked_at).is_not(None))
                .group_by(Certificate.profile)
            ).all():
                revoked.add_metric([profile], count)
            state = session.get(CrlState, 1)
            crl_number.add_metric([], state.number if state else 0)
        yield issued
        yield revoked
        yield crl_number
