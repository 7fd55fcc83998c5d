"""The persona speaking first: reminders (reminders.py, tools.py) and check-ins after a
silence (checkins.py).

The composition root wires two things (see each function): the scheduler's handlers by
job kind, and the screens that add reminders asked for in plain words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.engine import Engine
from bot.initiative import checkins
from bot.initiative.reminders import KIND, reminder_handler
from bot.initiative.tools import ReminderRequests, ToolModel
from bot.scheduler import Handler
from bot.stages import Screen
from config.settings import Settings

__all__ = ["handlers", "screens"]

log = logging.getLogger(__name__)


def handlers(engine: Engine, settings: Settings) -> dict[str, Handler]:
    """``Scheduler(..., handlers=handlers(engine, settings))``: how each kind of job runs."""
    return {
        KIND: reminder_handler(engine, settings.initiative),
        **checkins.handlers(engine, settings.initiative),  # on the engine's clock
    }


def screens(
    engine: Engine, settings: Settings, clock: Callable[[], datetime] | None = None
) -> list[Screen]:
    """Screens to append to ``engine.screens`` (after the built-in ones, so they see a
    crisis note): check-ins (renewal after the person writes, the one-time offer), and,
    with KINDRED_LLM__TOOLS on, a message asking for a reminder sets it."""
    found = list(checkins.screens(engine, settings.initiative, clock=clock))
    if not settings.effective_llm().tools:
        return found
    model = engine.model
    if not isinstance(model, ToolModel):
        log.warning("KINDRED_LLM__TOOLS is on, but this model cannot call tools")
        return found
    return [ReminderRequests(engine, model, settings.initiative, clock), *found]
