"""The audit log: who did what, when, from where. Every accepted write records one event."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.audit import AuditEvent, AuditQuery, redact
from chalicelib.domain.common import Principal, RequestInfo
from chalicelib.store.audit import AuditItem, AuditRepo
from chalicelib.store.cursors import scope_of
from chalicelib.store.pagination import decode_cursor, encode_cursor


def _scope(query: AuditQuery) -> str:
    """A cursor stays with the filters it was issued for."""
    return scope_of("audit", start=query.start, end=query.end, actor=query.actor, action=query.action)


def _to_event(item: AuditItem) -> AuditEvent:
    return AuditEvent(
        id=item.event_id,
        at=parse_iso(item.at),
        actor=item.actor,
        actor_key_id=None if item.actor_key_id is None else int(item.actor_key_id),
        role=item.role,
        action=item.action,
        resource_type=item.resource_type,
        resource_id=item.resource_id,
        summary=item.summary,
        request_id=item.request_id,
        source_ip=item.source_ip,
    )


class AuditLog:
    def __init__(self, clock: Clock, repo: AuditRepo | None = None) -> None:
        self.clock = clock
        self.repo = repo or AuditRepo()
        self._known_days: set[str] = set()

    def record(
        self,
        principal: Principal,
        action: str,
        resource_type: str,
        resource_id: str | int | None = None,
        summary: Any = None,
        request: RequestInfo | None = None,
    ) -> AuditEvent:
        now = self.clock()
        stamp = isoformat(now)
        event_id = secrets.token_hex(8)
        request = request or RequestInfo()
        item = AuditItem(
            day=stamp[:10],
            sk=f"{stamp}#{event_id}",
            event_id=event_id,
            at=stamp,
            actor=principal.name,
            actor_key_id=principal.key_id,
            role=principal.role.value,
            action=action,
            resource_type=resource_type,
            resource_id=None if resource_id is None else str(resource_id),
            summary=redact(summary),
            request_id=request.request_id,
            source_ip=request.source_ip,
        )
        # The day first: an event whose day is not listed would be invisible to listings.
        self._remember_day(stamp[:10])
        self.repo.put(item)
        return _to_event(item)

    def _remember_day(self, day: str) -> None:
        # One extra write per container per day, so a purge can list partitions without a Scan.
        if day in self._known_days:
            return
        self.repo.add_day(day)
        self._known_days.add(day)

    def known_days(self) -> list[str]:
        return self.repo.days()

    def forget_day(self, day: str) -> None:
        self.repo.remove_day(day)
        self._known_days.discard(day)

    def search(self, query: AuditQuery) -> tuple[list[AuditEvent], str | None]:
        low = isoformat(query.start) if query.start else "0000"
        high = isoformat(query.end) + "~" if query.end else "9999"
        if query.actor or query.action:
            return self._list_by_index(query, low, high)
        return self._list_by_days(query, low, high)

    def _list_by_index(self, query: AuditQuery, low: str, high: str) -> tuple[list[AuditEvent], str | None]:
        scope = _scope(query)
        position = decode_cursor(query.cursor, scope) or {}
        items, stopped = self.repo.by_index(query.actor, query.action, low, high, query.limit, position.get("after"))
        return [_to_event(item) for item in items], encode_cursor({"after": stopped} if stopped else None, scope)

    def _list_by_days(self, query: AuditQuery, low: str, high: str) -> tuple[list[AuditEvent], str | None]:
        scope = _scope(query)
        position = decode_cursor(query.cursor, scope) or {}
        days = self._days_between(query)
        if position.get("day"):
            days = [day for day in days if day <= position["day"]]
        events: list[AuditEvent] = []
        after = position.get("after")
        for day in days:
            wanted = query.limit - len(events)
            items, stopped = self.repo.by_day(day, low, high, wanted, after if day == position.get("day") else None)
            events.extend(_to_event(item) for item in items)
            if len(events) >= query.limit:
                if stopped:
                    return events, encode_cursor({"day": day, "after": stopped}, scope)
                older = [d for d in days if d < day]
                return events, encode_cursor({"day": older[0]}, scope) if older else None
        return events, None

    def _days_between(self, query: AuditQuery) -> list[str]:
        """Days that hold events inside the range, newest first."""
        end_day = isoformat(query.end or self.clock())[:10]
        start_day = isoformat(query.start)[:10] if query.start else "0000-00-00"
        return sorted((d for d in self.known_days() if start_day <= d <= end_day), reverse=True)
