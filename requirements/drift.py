"""Print how an environment differs from the pinned lock: `python requirements/drift.py LOCK FREEZE`.

Used by `make drift`, which installs the newest releases that pyproject.toml allows in a separate
environment and compares its `pip freeze` with requirements/lock.txt.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def pins(path: str) -> dict[str, str]:
    """{normalised name: version} of the `name==version` lines of a requirements or freeze file."""
    found = {}
    for line in Path(path).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;#]+)", line.strip())
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def main(lock: str, freeze: str) -> int:
    pinned, newest = pins(lock), pins(freeze)
    rows = [(name, pinned.get(name, "-"), newest.get(name, "-")) for name in sorted(pinned.keys() | newest.keys())
            if pinned.get(name) != newest.get(name)]
    if not rows:
        print(f"no drift: {freeze} matches {lock} ({len(pinned)} packages)")
        return 0
    width = max(len(name) for name, _, _ in rows)
    print(f"{len(rows)} of {len(pinned | newest)} packages differ from {lock}:")
    print(f"{'package':<{width}}  {'pinned':<14}  newest allowed")
    for name, old, new in rows:
        print(f"{name:<{width}}  {old:<14}  {new}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
