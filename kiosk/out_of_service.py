"""`python -m kiosk.out_of_service [--config FILE] [--screenshot PNG]`: the screen a kiosk shows when systemd has
given up starting it (`OnFailure=` of kiosk.service: it died 5 times within 2 minutes).  "Out of service, please
use another checkout" in Chinese and English on red, the kiosk's id and the time it stopped, so shoppers do not
stand at a dead screen and staff know which kiosk to report.  It waits, drawing nothing more, until the kiosk is
started again (kiosk-out-of-service.service conflicts with kiosk.service, so systemd stops it then).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kiosk.out_of_service")
    ap.add_argument("--config")
    ap.add_argument("--screenshot", help=argparse.SUPPRESS)  # draw once, save, exit (tests, docs)
    args = ap.parse_args(argv)
    import os

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    from kiosk.config import Config, ConfigError, load
    from kiosk.fonts import FontMissing, find_cjk_font
    from kiosk.ui import theme
    from kiosk.ui.widgets import Painter, scale_for

    try:
        cfg = load(args.config)
    except ConfigError:
        cfg = Config()  # the config may be what broke the kiosk: the screen still shows
    try:
        font = find_cjk_font(cfg.display.font)
    except FontMissing:
        font = find_cjk_font()
    pygame.display.init()
    pygame.font.init()
    flags = pygame.FULLSCREEN if cfg.display.fullscreen else 0
    surface = pygame.display.set_mode(cfg.screen_size, flags)
    pygame.mouse.set_visible(False)
    painter = Painter(surface, font, scale_for(surface.get_size()))
    theme.use(True)  # light on black: readable from across the shop
    w, h = painter.size
    surface.fill((150, 20, 20))
    lines = [
        ("暂停服务", 56),
        ("Out of service", 44),
        ("请使用其他收银台", 30),
        ("Please use another checkout", 26),
    ]
    y = h // 2 - 150
    for text, size in lines:
        painter.text(text, (w // 2, y), size, (255, 255, 255), anchor="midtop", max_width=w - 24)
        y += round(painter.line_height(size)) + 8
    when = time.strftime("%Y-%m-%d %H:%M")
    who = f"{cfg.kiosk.store_id}/{cfg.kiosk.kiosk_id} · {when}"
    painter.text(who, (w // 2, h - 16), 18, (255, 255, 255), anchor="midbottom", max_width=w - 24)
    pygame.display.flip()
    if args.screenshot:
        pygame.image.save(surface, args.screenshot)
        return 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                stop.append(1)
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
