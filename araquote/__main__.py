from araquote.cli import main

raise SystemExit(main())
