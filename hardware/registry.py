"""Backends by name, as gpiozero picks its pin factories: each device module registers its real and
simulated backends here, the config names one, and an environment variable may override the config for
one run (a test rig, a bench, a technician trying the simulator on a real kiosk).

    SCANNERS = Registry("scanner", "KIOSK_SCANNER")

    @SCANNERS.register("serial")
    def _serial(cfg, on_code, on_status): ...

    scanner = SCANNERS.create(cfg.scanner.type, cfg.scanner, on_code, on_status)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownBackend(ValueError):
    """A backend name nobody registered (from the config or the environment)."""


class Registry(Generic[T]):
    def __init__(self, kind: str, env_var: str) -> None:
        self.kind = kind
        self.env_var = env_var
        self._makers: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def add(maker: Callable[..., T]) -> Callable[..., T]:
            self._makers[name] = maker
            return maker

        return add

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._makers)

    def choose(self, configured: str) -> str:
        """The backend to use: the environment variable if set, else the config's."""
        name = os.environ.get(self.env_var, "").strip() or configured
        if name not in self._makers:
            where = f"${self.env_var}" if os.environ.get(self.env_var, "").strip() else f"{self.kind}.type"
            raise UnknownBackend(f"{where}: no {self.kind} backend {name!r} (one of: {', '.join(self._makers)})")
        return name

    def create(self, configured: str, *args: Any, **kwargs: Any) -> T:
        return self._makers[self.choose(configured)](*args, **kwargs)
