import sys

from edgelite.cli import main

sys.exit(main())
