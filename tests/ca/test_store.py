"""The SQL store under concurrency: group commit must record every certificate exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func
from sqlmodel import select

from govmobile.ca.authority import Authority
from govmobile.ca.models import Certificate
from govmobile.ca.profiles import SubjectRequest
from govmobile.core import audit
from govmobile.core.database import Database
from tests.support.pki import csr_pem


def test_concurrent_issuance_records_every_certificate_and_a_whole_chain(
    authority: Authority, database: Database
) -> None:
    csrs = [csr_pem() for _ in range(120)]

    def sign(index: int) -> str:
        return authority.sign(
            csrs[index], "device", SubjectRequest(device_id=f"d{index}", tenant_id="t"), actor="ra:mdm"
        ).record.serial

    with ThreadPoolExecutor(max_workers=16) as pool:
        serials = list(pool.map(sign, range(len(csrs))))
    assert len(set(serials)) == len(csrs)
    with database.session() as session:
        assert session.exec(select(func.count()).select_from(Certificate)).one() == len(csrs)
        chain = audit.verify_chain(session)
    assert chain.ok
    assert chain.events_checked == len(csrs)
