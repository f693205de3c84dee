"""``python -m govmobile.ca`` is ``govmobile-ca``."""

from govmobile.ca.cli import main

main()
