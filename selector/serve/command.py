"""`frame-selector serve` itself: check the settings, load the selector, serve until interrupted.

Apart from `settings.py` so that the routes (`app.py`) can read the settings while this module
builds them, without either importing the other; it imports aiohttp and torch only when it runs.
"""

from __future__ import annotations

import logging

from ..cli_support import UsageError, check_device, check_model_dir, torch_dtype
from .settings import INSTALL_HINT, ServeSettings


def cmd_serve(settings: ServeSettings) -> None:
    """Run the proxy in the foreground (Ctrl-C stops it)."""
    try:
        import aiohttp  # noqa: F401
        import prometheus_client  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    settings.check()
    check_model_dir(settings.selector)
    device = check_device(settings.device)
    from ..api import FrameSelector
    from .app import build_app
    from .hosting import run_server

    selector = FrameSelector.from_pretrained(settings.selector, device=device, dtype=torch_dtype(settings.dtype),
                                             compile=settings.compile)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_server(build_app(selector, settings), settings.host, settings.port)


__all__ = ["cmd_serve"]
