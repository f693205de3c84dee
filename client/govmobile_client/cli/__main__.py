from govmobile_client.cli.main import main

main()
