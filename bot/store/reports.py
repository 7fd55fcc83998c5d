"""Reports of the persona's messages (migration 12), one implementation for every backend
(a mixin of ``SQLiteStore`` and ``PostgresStore``; the hooks are ``SqlHost``'s).

A report is a moderation record: it copies the reported text and the messages before it,
so it still reads the same after a /reset, an edit or a deleted conversation. What it
holds of people is what /forget removes (``forget_in_reports``): the reporter's identity
and reason, and any line of context the forgetting person wrote.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from bot.store.base import (
    ContextLine,
    Filed,
    NewReport,
    Report,
    ReportStatus,
    Role,
    StoredMessage,
)
from bot.store.host import Row, SqlHost

MAX_REASON = 500  # characters of the reporter's own words kept
MAX_NOTE = 1000
FORGOTTEN = "[removed: this person used /forget]"

_COLS = (
    "r.id, r.platform, r.chat_key, r.chat_title, r.persona_id, r.message_id, r.reported_id,"
    " r.text, r.context, u.platform_user_id, u.display_name, r.reason, r.status,"
    " r.created_at, r.resolved_at, r.note"
)
_FROM = "FROM reports r LEFT JOIN users u ON u.id = r.reporter_id"
_ROLES = {r.value: r for r in Role}
_STATUSES = {s.value: s for s in ReportStatus}


def context_json(lines: Sequence[ContextLine]) -> str:
    return json.dumps(
        [
            {"role": c.role.value, "author": c.author, "text": c.text, "user_id": c.user_id}
            for c in lines
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def context_from_json(text: str) -> tuple[ContextLine, ...]:
    out: list[ContextLine] = []
    for item in json.loads(text):
        if not isinstance(item, dict):
            continue
        uid = item.get("user_id")
        out.append(
            ContextLine(
                _ROLES.get(str(item.get("role")), Role.USER),
                None if item.get("author") is None else str(item["author"]),
                str(item.get("text", "")),
                uid if isinstance(uid, int) else None,
            )
        )
    return tuple(out)


class ReportTables(SqlHost):
    _message_row: Callable[[Row], StoredMessage]
    _msg_cols: ClassVar[str]

    def _report(self, row: Row) -> Report:
        (
            i,
            platform,
            chat_key,
            title,
            persona,
            message_id,
            reported,
            text,
            context,
            reporter,
            reporter_name,
            reason,
            status,
            created,
            resolved,
            note,
        ) = row
        return Report(
            id=int(i),
            platform=platform,
            chat_key=chat_key,
            chat_title=title,
            persona_id=persona,
            message_id=None if message_id is None else int(message_id),
            reported_id=reported,
            text=text,
            context=context_from_json(context),
            reporter=reporter,
            reporter_name=reporter_name,
            reason=reason,
            status=_STATUSES.get(str(status), ReportStatus.OPEN),
            created_at=self._read_ts(created),
            resolved_at=None if resolved is None else self._read_ts(resolved),
            note=note,
        )

    async def _report_where(self, where: str, params: Sequence[Any]) -> Report | None:
        row = await self._one(f"SELECT {_COLS} {_FROM} WHERE {where}", params)
        return None if row is None else self._report(row)

    async def file_report(self, report: NewReport, per_day: int) -> tuple[Filed, Report | None]:
        now = self._clock()
        chat = report.chat
        same = "r.platform = ? AND r.chat_key = ? AND r.reported_id = ? AND r.reporter_id = ?"
        key = (chat.platform, chat.key, report.reported_id, report.reporter_id)
        async with self._guard(), self._transaction():
            existing = await self._report_where(same, key)
            if existing is not None:
                return Filed.DUPLICATE, existing
            counted = await self._one(
                "SELECT COUNT(*) FROM reports WHERE reporter_id = ? AND created_at > ?",
                (report.reporter_id, self._param_ts(now - timedelta(days=1))),
            )
            if counted is not None and int(counted[0]) >= per_day:
                return Filed.TOO_MANY, None
            row = await self._one(
                "INSERT INTO reports (platform, chat_key, chat_title, persona_id, message_id,"
                " reported_id, text, context, reporter_id, reason, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)"
                " ON CONFLICT (platform, chat_key, reported_id, reporter_id) DO NOTHING"
                " RETURNING id",
                (
                    chat.platform,
                    chat.key,
                    chat.title,
                    report.persona_id,
                    report.message_id,
                    report.reported_id,
                    report.text,
                    context_json(report.context),
                    report.reporter_id,
                    (report.reason or "")[:MAX_REASON] or None,
                    self._param_ts(now),
                ),
            )
            if row is None:  # another process stored the same report a moment ago
                return Filed.DUPLICATE, await self._report_where(same, key)
            people = {c.user_id for c in report.context if c.user_id is not None}
            for user_id in sorted(people):
                await self._all(
                    "INSERT INTO report_people (report_id, user_id) VALUES (?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (row[0], user_id),
                )
            stored = await self._report_where("r.id = ?", (row[0],))
        return Filed.STORED, stored

    async def reports(
        self,
        open_only: bool = False,
        limit: int = 1000,
        chat: tuple[str, str] | None = None,
    ) -> list[Report]:
        conditions: list[str] = []
        params: list[Any] = []
        if open_only:
            conditions.append("r.status = 'open'")
        if chat is not None:
            conditions.append("r.platform = ? AND r.chat_key = ?")
            params += chat
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        async with self._guard():
            rows = await self._all(
                f"SELECT {_COLS} {_FROM} {where}ORDER BY r.id DESC LIMIT ?", (*params, limit)
            )
        return [self._report(r) for r in rows]

    async def get_report(self, report_id: int) -> Report | None:
        async with self._guard():
            return await self._report_where("r.id = ?", (report_id,))

    async def resolve_report(self, report_id: int, note: str | None = None) -> Report | None:
        now = self._param_ts(self._clock())
        async with self._guard(), self._transaction():
            done = await self._all(
                "UPDATE reports SET status = 'resolved', resolved_at = ?, note = ?"
                " WHERE id = ? RETURNING id",
                (now, (note or "")[:MAX_NOTE] or None, report_id),
            )
            if not done:
                return None
            return await self._report_where("r.id = ?", (report_id,))

    async def persona_messages(
        self, platform: str, chat_key: str, limit: int
    ) -> list[tuple[StoredMessage, str]]:
        cols = ", ".join(f"m.{c.strip()}" for c in self._msg_cols.split(","))
        async with self._guard():
            rows = await self._all(
                f"SELECT {cols}, c.persona_id FROM messages m"
                " JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.platform = ? AND m.chat_key = ? AND m.role = 'assistant'"
                " ORDER BY m.id DESC LIMIT ?",
                (platform, chat_key, limit),
            )
        return [(self._message_row(r[:-1]), str(r[-1])) for r in rows]

    async def messages_before(
        self, conversation_id: int, message_id: int, limit: int
    ) -> list[StoredMessage]:
        async with self._guard():
            rows = await self._all(
                f"SELECT {self._msg_cols} FROM messages WHERE conversation_id = ? AND id < ?"
                " ORDER BY id DESC LIMIT ?",
                (conversation_id, message_id, limit),
            )
        return [self._message_row(r) for r in reversed(rows)]


async def forget_in_reports(store: SqlHost, user_id: int) -> int:
    """/forget in reports, inside the caller's transaction, before the user row goes: the
    report stays (a moderation record: what the persona said, and what others said around
    it), but nothing of the person does — not who reported, not their reason, not their
    lines of context. Returns how many reports changed."""
    changed = {
        int(r[0])
        for r in await store._all(
            "UPDATE reports SET reporter_id = NULL, reason = NULL WHERE reporter_id = ?"
            " RETURNING id",
            (user_id,),
        )
    }
    quoted = await store._all(
        "SELECT r.id, r.context FROM reports r JOIN report_people p ON p.report_id = r.id"
        " WHERE p.user_id = ?",
        (user_id,),
    )
    for report_id, context in quoted:
        lines = [
            ContextLine(c.role, None, FORGOTTEN, None) if c.user_id == user_id else c
            for c in context_from_json(context)
        ]
        await store._all(
            "UPDATE reports SET context = ? WHERE id = ?", (context_json(lines), report_id)
        )
        changed.add(int(report_id))
    await store._all("DELETE FROM report_people WHERE user_id = ?", (user_id,))
    return len(changed)
