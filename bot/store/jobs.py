"""Scheduled jobs, one implementation for every backend (a mixin of ``SQLiteStore`` and
``PostgresStore``; the hooks are ``SqlHost``'s).

A due job is claimed with a lease, like an owed reply (replies.py): an atomic compare-and-set
on ``lease_until``, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so each runs once however many
processes poll. The scheduler then finishes it, moves a recurring one to its next time, or
releases it for a retry; a process that dies holding one lets the lease run out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.store.base import Job, NewJob
from bot.store.host import Row, SqlHost
from bot.store.replies import chat_from_json, chat_json

JOB_COLS = (
    "id, kind, platform, chat, user_id, due_at, payload, persona_id, every, timezone,"
    " attempts, created_at, finished_at, outcome"
)


class JobTables(SqlHost):
    def _job(self, row: Row) -> Job:
        i, kind, platform, chat, user_id, due, payload, persona, every, tz, att, created = row[:12]
        finished, outcome = row[12], row[13]
        return Job(
            i,
            kind,
            chat_from_json(platform, chat),
            user_id,
            self._read_ts(due),
            json.loads(payload),
            persona,
            every,
            tz,
            att,
            self._read_ts(created),
            None if finished is None else self._read_ts(finished),
            outcome,
        )

    async def add_job(self, job: NewJob) -> Job:
        async with self._guard():
            row = await self._one(
                "INSERT INTO jobs (kind, platform, chat, user_id, due_at, payload, persona_id,"
                " every, timezone, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                f" RETURNING {JOB_COLS}",
                (
                    job.kind,
                    job.chat.platform,
                    chat_json(job.chat),
                    job.user_id,
                    self._param_ts(job.due_at),
                    json.dumps(job.payload, ensure_ascii=False, separators=(",", ":")),
                    job.persona_id,
                    job.every,
                    job.timezone,
                    self._param_ts(self._clock()),
                ),
            )
        assert row is not None
        return self._job(row)

    async def claim_jobs(
        self, owner: str, platforms: Sequence[str], lease: timedelta, limit: int = 20
    ) -> list[Job]:
        if not platforms:
            return []
        now = self._clock()
        now_p = self._param_ts(now)
        marks = ", ".join("?" for _ in platforms)
        # The outer WHERE repeats the lease test (see replies.claim_owed).
        sql = (
            "UPDATE jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1"
            " WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NULL AND due_at <= ?"
            f" AND (lease_until IS NULL OR lease_until < ?) AND platform IN ({marks})"
            f" ORDER BY due_at LIMIT ?{self.CLAIM_LOCK})"
            " AND finished_at IS NULL AND (lease_until IS NULL OR lease_until < ?)"
            f" RETURNING {JOB_COLS}"
        )
        params: tuple[Any, ...] = (
            owner,
            self._param_ts(now + lease),
            now_p,
            now_p,
            *platforms,
            limit,
            now_p,
        )
        async with self._guard():
            rows = await self._all(sql, params)
        return sorted((self._job(r) for r in rows), key=lambda j: (j.due_at, j.id))

    async def finish_job(self, job_id: int, outcome: str) -> None:
        async with self._guard():
            await self._all(
                "UPDATE jobs SET finished_at = ?, outcome = ?, lease_owner = NULL,"
                " lease_until = NULL WHERE id = ?",
                (self._param_ts(self._clock()), outcome[:200], job_id),
            )

    async def reschedule_job(self, job_id: int, due_at: datetime, outcome: str) -> None:
        async with self._guard():
            await self._all(
                "UPDATE jobs SET due_at = ?, outcome = ?, attempts = 0, lease_owner = NULL,"
                " lease_until = NULL WHERE id = ? AND finished_at IS NULL",
                (self._param_ts(due_at), outcome[:200], job_id),
            )

    async def release_job(self, job_id: int, retry_at: datetime) -> None:
        async with self._guard():
            await self._all(
                "UPDATE jobs SET lease_owner = NULL, lease_until = ? WHERE id = ?",
                (self._param_ts(retry_at), job_id),
            )

    async def pending_jobs(self, user_id: int, kind: str | None = None) -> list[Job]:
        sql = f"SELECT {JOB_COLS} FROM jobs WHERE user_id = ? AND finished_at IS NULL"
        params: list[Any] = [user_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        async with self._guard():
            rows = await self._all(sql + " ORDER BY due_at, id", params)
        return [self._job(r) for r in rows]

    async def cancel_job(self, user_id: int, job_id: int) -> bool:
        async with self._guard():
            rows = await self._all(
                "UPDATE jobs SET finished_at = ?, outcome = 'cancelled', lease_owner = NULL,"
                " lease_until = NULL WHERE id = ? AND user_id = ? AND finished_at IS NULL"
                " RETURNING id",
                (self._param_ts(self._clock()), job_id, user_id),
            )
        return bool(rows)

    async def count_jobs(self, user_id: int, kind: str, outcome: str, since: datetime) -> int:
        async with self._guard():
            row = await self._one(
                "SELECT COUNT(*) FROM jobs WHERE user_id = ? AND kind = ? AND outcome = ?"
                " AND finished_at >= ?",
                (user_id, kind, outcome, self._param_ts(since)),
            )
        return int(row[0]) if row else 0

    async def prune_jobs(self, before: datetime) -> int:
        async with self._guard():
            rows = await self._all(
                "DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ? RETURNING id",
                (self._param_ts(before),),
            )
        return len(rows)
