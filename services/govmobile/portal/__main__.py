"""``python -m govmobile.portal`` is ``govmobile-portal``."""

from govmobile.portal.cli import main

main()
