"""`python -m ocpp_station.csms.minimal`: the load-test central system (see cli.py)."""

import sys

from ocpp_station.csms.minimal.cli import main

sys.exit(main())
