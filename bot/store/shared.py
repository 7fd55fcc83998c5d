"""The table code both backends share, as one base class: a new table module is added here
once, not to each backend's class list (bot/store/host.py says what a backend provides).
A backend's own module keeps only what the engines do differently: connections,
transactions, migrations, locks, vacuum and full-text search."""

from __future__ import annotations

from bot.store.care import CareTables
from bot.store.conversations import ConversationTables
from bot.store.core import CoreTables
from bot.store.directory import DirectoryTables
from bot.store.initiative import CheckinTables
from bot.store.jobs import JobTables
from bot.store.limits import LimitCounters
from bot.store.messages import MessageEdits
from bot.store.prices import PriceTables
from bot.store.replies import OwedReplies
from bot.store.reports import ReportTables
from bot.store.safety_counts import SafetyCounts
from bot.store.usage import UsageTables


class SharedTables(
    CoreTables,
    ConversationTables,
    OwedReplies,
    JobTables,
    MessageEdits,
    CheckinTables,
    CareTables,
    LimitCounters,
    SafetyCounts,
    ReportTables,
    DirectoryTables,
    UsageTables,
    PriceTables,
):
    """Users, personas, chat settings, conversations, messages, owed replies, jobs, edits,
    check-ins, care state, limits, safety counts, reports, the dashboard's lookups, LLM
    usage and the prices set on the dashboard."""
