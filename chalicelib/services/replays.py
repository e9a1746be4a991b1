"""Replays: re-queue (or copy) every notification matching a filter, as a background job.

``POST /system/notify/replays`` writes the job (``pending``) and sends an SQS message;
the replay worker runs it the way the export worker runs an export: it claims the job
with a lease (a conditional write that bumps ``run_seq``), walks the outbox a page at
a time through its sharded indexes (never a Scan), and after each page stores its
progress and its position on the condition that it still holds the job. So a job is
resumable (a new invocation carries on from the position), cancellable (cancel flips
the status; the next progress write fails and the worker stops) and shows its
progress (``matched``, ``replayed``, ``skipped``) while it runs. A page redone after a
crash re-queues nothing twice: a notification already re-queued is no longer
``failed`` and is counted as skipped. Replayed deliveries go through the delivery
guard like any other: they obey the channel's breaker and rate limit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib.clock import Clock, isoformat, parse_iso
from chalicelib.domain.common import Principal, Role
from chalicelib.domain.errors import Conflict, DomainError, NotFound
from chalicelib.domain.notifications import EnqueueNotification, NotificationStatus
from chalicelib.domain.replays import CreateReplay, ReplayQuery, ReplayStatus, ReplayView, RunOutcome
from chalicelib.logs import get_logger
from chalicelib.queues import SqsQueue
from chalicelib.services.notifications import Notifications
from chalicelib.services.outbox import notification_view
from chalicelib.store.counters import IdAllocator
from chalicelib.store.outbox import OutboxRepo, Stored
from chalicelib.store.replays import KIND, ReplayItem, ReplayRepo

COUNTER = "notification_replays"
PAGE = 100
LEASE_SECONDS = 360  # longer than one invocation of the replay worker
RESERVE_MS = 10_000  # stop and hand over while this much time is left


def replay_view(item: ReplayItem) -> ReplayView:
    def when(value: str | None) -> Any:
        return parse_iso(value) if value else None

    return ReplayView(
        id=int(item.id),
        status=ReplayStatus(item.status),
        channel_id=int(item.channel_id) if item.channel_id is not None else None,
        statuses=[NotificationStatus(status) for status in item.statuses],
        since=parse_iso(item.since),
        until=parse_iso(item.until),
        max=int(item.max),
        to_channel_id=int(item.to_channel_id) if item.to_channel_id is not None else None,
        dry_run=bool(item.dry_run),
        matched=int(item.matched or 0),
        replayed=int(item.replayed or 0),
        skipped=int(item.skipped or 0),
        requested_by=item.requested_by,
        created_at=parse_iso(item.created_at),
        updated_at=parse_iso(item.updated_at),
        started_at=when(item.started_at),
        completed_at=when(item.completed_at),
        error=item.error,
    )


class Replays:
    def __init__(
        self,
        clock: Clock,
        ids: IdAllocator,
        notifications: Callable[[], Notifications],
        queue: SqsQueue,
        repo: ReplayRepo | None = None,
        outbox: OutboxRepo | None = None,
    ) -> None:
        self.clock = clock
        self.ids = ids
        self._notifications = notifications
        self.queue = queue
        self.repo = repo or ReplayRepo()
        self.outbox = outbox or OutboxRepo()

    @property
    def notifications(self) -> Notifications:
        return self._notifications()

    def send(self, replay_id: int) -> None:
        self.queue.send({"replay_id": replay_id})

    # --- the API ---------------------------------------------------------

    def create(self, request: CreateReplay, principal: Principal) -> ReplayView:
        for channel_id in (request.channel_id, request.to_channel_id):
            if channel_id is not None:
                self.notifications.get_channel(channel_id)  # 404 for an unknown channel
        now = isoformat(self.clock())
        item = ReplayItem(
            self.ids.next_id(COUNTER),
            kind=KIND,
            status=ReplayStatus.pending.value,
            channel_id=request.channel_id,
            statuses=[status.value for status in request.status],
            since=isoformat(request.since),
            until=isoformat(request.until),
            max=request.max,
            to_channel_id=request.to_channel_id,
            dry_run=request.dry_run,
            requested_by=principal.name,
            created_at=now,
            updated_at=now,
        )
        self.repo.create(item)
        try:
            self.send(int(item.id))
        except Exception as exc:  # the job stays pending; creating it again is the remedy
            get_logger().warning("replay: SQS send failed", extra={"replay_id": int(item.id), "error": str(exc)})
        return replay_view(item)

    def _item(self, replay_id: int) -> ReplayItem:
        item = self.repo.get(replay_id)
        if item is None:
            raise NotFound(f"Replay {replay_id} not found.")
        return item

    def get(self, replay_id: int) -> ReplayView:
        return replay_view(self._item(replay_id))

    def page(self, query: ReplayQuery) -> tuple[list[ReplayView], str | None]:
        result: tuple[list[ReplayView], str | None] = self.repo.page(query.limit, query.cursor, replay_view)
        return result

    def cancel(self, replay_id: int) -> ReplayView:
        item = self._item(replay_id)
        if not self.repo.cancel(item, isoformat(self.clock())):
            status = self._item(replay_id).status
            raise Conflict(f"Replay {replay_id} is {status}; it cannot be cancelled.")
        return replay_view(item)

    # --- the worker --------------------------------------------------------

    def run(self, replay_id: int, remaining_ms: Callable[[], int] | None = None) -> RunOutcome:
        """Work on a job until it is done or the time runs short: ``done``, ``continue``, ``busy`` or ``skip``."""
        item = self.repo.get(replay_id)
        if item is None or item.status not in (ReplayStatus.pending.value, ReplayStatus.running.value):
            return RunOutcome.skip
        now = self.clock()
        if not self.repo.claim(item, isoformat(now), isoformat(now + timedelta(seconds=LEASE_SECONDS))):
            current = self.repo.get(replay_id)
            return (
                RunOutcome.busy
                if current is not None and current.status == ReplayStatus.running.value
                else RunOutcome.skip
            )
        cursor: dict[str, Any] = item.cursor or {"status": 0, "position": None}
        counts = {name: int(getattr(item, name) or 0) for name in ("matched", "replayed", "skipped")}
        while cursor["status"] < len(item.statuses) and counts["matched"] < int(item.max):
            status = item.statuses[cursor["status"]]
            channel_id = int(item.channel_id) if item.channel_id is not None else None
            read = self.outbox.window_reader(status, channel_id, item.since, item.until)
            page = read(PAGE, cursor["position"])
            for stored in page:
                if counts["matched"] >= int(item.max):
                    break
                counts["matched"] += 1
                if not item.dry_run:
                    counts["replayed" if self._replay_one(item, stored) else "skipped"] += 1
            position = page.last_evaluated_key
            cursor = {"status": cursor["status"] + (0 if position else 1), "position": position}
            if not self._progress(item, counts, cursor):
                return RunOutcome.done  # cancelled (or taken over): stop here
            if remaining_ms is not None and remaining_ms() < RESERVE_MS:
                # The next invocation may claim it at once and carries on from the position.
                self.repo.fenced(item, {"lease_until": None}, isoformat(self.clock()))
                return RunOutcome.proceed
        self.repo.fenced(
            item,
            {
                "status": ReplayStatus.completed.value,
                "completed_at": isoformat(self.clock()),
                **counts,
                "cursor": None,
                "lease_until": None,
            },
            isoformat(self.clock()),
        )
        return RunOutcome.done

    def _replay_one(self, item: ReplayItem, stored: Stored) -> bool:
        notification_id = int(stored.state.id)
        try:
            if item.to_channel_id is not None:
                view = notification_view(stored)
                request = EnqueueNotification(
                    channel_id=int(item.to_channel_id), subject=view.subject, body=view.body, payload=view.payload
                )
                principal = Principal(key_id=0, name=f"replay-{int(item.id)}", role=Role.operator)
                self.notifications.enqueue(request, principal)
            else:
                self.notifications.retry(notification_id)  # a fresh schedule; attempts keep counting
        except DomainError as exc:
            get_logger().info(
                "replay: notification skipped",
                extra={"replay_id": int(item.id), "notification_id": notification_id, "reason": exc.message},
            )
            return False
        return True

    def _progress(self, item: ReplayItem, counts: dict[str, int], cursor: dict[str, Any]) -> bool:
        now = self.clock()
        lease = isoformat(now + timedelta(seconds=LEASE_SECONDS))
        return self.repo.fenced(item, {**counts, "cursor": cursor, "lease_until": lease}, isoformat(now))
