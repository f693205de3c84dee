from govmobile_device.cli import main

raise SystemExit(main())
