"""Device drivers: one module per device kind, each with a real and a simulated backend.

Nothing here knows about carts or payments: devices report what they read or
what went wrong through callbacks, and the kiosk turns those into events.
"""

from __future__ import annotations

from collections.abc import Callable

# on_status(device, ok, message): a device came up, went away, or failed
StatusCallback = Callable[[str, bool, str], None]
# on_code(text, source, seen_at): a barcode or QR text read by the scanner or the camera; `seen_at` is the
# time.monotonic() at which the frame holding it arrived (the scanner: when the line ended)
CodeCallback = Callable[[str, str, float], None]
# a code older than this when it would be acted on is dropped: the shopper who showed it may have left
MAX_CODE_AGE_S = 1.0
