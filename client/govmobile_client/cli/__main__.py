from govmobile.admin_cli.main import main

main()
