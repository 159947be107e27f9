"""`accelerate launch -m train --config stage1.yaml [key=value ...]`."""

from __future__ import annotations

import argparse
import sys

from .config import TrainConfig
from .loop import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train", description="Train the frame selector (one stage).")
    parser.add_argument("--config", help="YAML settings (see train/configs/)")
    parser.add_argument("overrides", nargs="*", help="key=value settings that override the file")
    args = parser.parse_args(argv)
    try:
        config = TrainConfig.load(args.config, args.overrides)
    except (ValueError, OSError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    final = train(config)
    print(f"final selector: {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
