from vmforensics.cli.main import main

raise SystemExit(main())
