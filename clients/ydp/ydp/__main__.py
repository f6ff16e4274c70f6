import sys

from ydp.cli import main

sys.exit(main())
