from b1e55ed.cli import main

raise SystemExit(main())
