"""`accelerate launch -m train --config stage1.yaml [key=value ...]`: the `frame-selector train`
command (one parser for both, in `train.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
