"""``python -m govmobile.gateway`` is ``govmobile-gateway``."""

from govmobile.gateway.cli import main

main()
