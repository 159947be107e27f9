"""Working folders that resume by file name, guarded against being resumed with other settings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def claim_folder(out: Path, settings: Mapping[str, Any], what: str, remedy: str = "use another --out") -> None:
    """Record `settings` in `out`, or check them against what it recorded.

    Every step skips work whose output file exists, so resuming a folder started with another seed
    or size would silently reuse the old world, labels or model under the new name.
    """
    path = out / "settings.json"
    settings = json.loads(json.dumps(settings))  # tuples as lists, as they come back from the file
    if path.exists():
        before = json.loads(path.read_text())
        changed = [f"{key} {before.get(key)} -> {value}" for key, value in settings.items() if before.get(key) != value]
        if changed:
            raise ValueError(f"--out {out} holds a {what} made with other settings ({', '.join(changed)}); {remedy}")
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2))


__all__ = ["claim_folder"]
