"""Worker pools whose failures are never lost.

Each `Worker` is one named thread running jobs in order.  A job that raises is
logged with its traceback and reported as a `JobFailed` event (pool, job,
key, error) through `report`; the controller shows it, turns the light amber
and tells head office.  Nobody has to remember to look at a future.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kiosk.services.events import JobFailed

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, name: str, report: Callable[[JobFailed], None]) -> None:
        self.name = name
        self._report = report
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)

    def submit(self, job: str, key: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run fn(*args, **kwargs) on this worker's thread; `job` and `key` name it in a failure report."""

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                log.exception("%s job %s %s failed", self.name, job, key)
                self._report(JobFailed(self.name, job, key, f"{type(exc).__name__}: {exc}"[:300]))
                return None

        return self._pool.submit(run)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
