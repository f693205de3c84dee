"""The table of acknowledgement handlers covers every command type the queue can hold."""

from __future__ import annotations

from govmobile.mdm.acknowledgements import HANDLERS
from govmobile.mdm.models import CommandType


def test_every_command_type_has_an_acknowledgement_handler() -> None:
    assert set(HANDLERS) == set(CommandType)
