"""Which adapter serves which platform. Imported lazily so a deployment without, say,
discord.py installed can still run Telegram."""

from __future__ import annotations

import importlib

from bot.errors import KindredError
from bot.ports import Adapter
from bot.runtime import Runtime


def create_adapters(runtime: Runtime, platforms: list[str]) -> list[Adapter]:
    adapters: list[Adapter] = []
    for platform in platforms:
        try:
            module = importlib.import_module(f"adapters.{platform}.adapter")
        except ModuleNotFoundError as exc:
            raise KindredError(
                f"the {platform} adapter is not available in this installation "
                f"({exc.name} is missing); unset KINDRED_{platform.upper()}__TOKEN "
                "or install it (scripts/setup in a checkout; in Docker, build the image with "
                "that extra in --build-arg EXTRAS=…)"
            ) from None
        adapters.append(module.create_adapter(runtime))
    return adapters
