import sys

from offload_hub.cli import main

sys.exit(main())
