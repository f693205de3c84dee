"""``python -m govmobile.mdm`` is ``govmobile-mdm``."""

from govmobile.mdm.cli import main

main()
