"""Schedule notifications (brief 001): who hears of a scheduled run's start and end, and how.

A schedule's ``notifications`` are ``{"onStart": [addresses], "onComplete": [addresses]}``.
The store starts a *notification run* in the same transaction as what it tells of: the one that
starts a scheduled run (``onStart``) and the one that ends it (``onComplete``, whatever ended
it: success, failure, cancellation). So a crash between a run's end and the mail loses nothing:
the notification run is committed with the end, and any worker executes it. It is a run of the
built-in code workflow ``plait.notify`` (trigger ``schedule``, in the schedule's
organization), which every worker runs:

- with an SMTP server configured (``PLAIT_SMTP_URL``), its step ``email`` sends one message to
  the recipients with the ``email`` action's client, retried on transient failures
  (:data:`MAIL_RETRY`);
- without one, its step ``emit`` emits a ``Schedule.notification`` event whose data is the
  notification (recipients, subject, body and what it is about), for a workflow or a client to
  deliver.

Sending never blocks or fails the scheduled run: a notification that cannot be sent fails its
own run (``plait runs list --workflow plait.notify``), which can be resumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plait.actions.base import ActionContext
from plait.actions.email import EmailRefused, Mail, SmtpServer, addresses, send_mail
from plait.retry import RetryPolicy
from plait.service.cron import ScheduleInvalid
from plait.store.schedules import NOTIFY_WORKFLOW
from plait.workflow import Workflow

if TYPE_CHECKING:
    from plait.runtime.context import Context

NOTIFICATION_EVENT = "Schedule.notification"
"""The event a notification becomes when no SMTP server is configured."""

KINDS = ("onStart", "onComplete")

MAIL_RETRY = RetryPolicy(max_attempts=6, initial_delay=30.0, multiplier=2.0, max_delay=900.0)
"""Transient failures (a server down, a timeout, a 4xx answer) are retried for about 15
minutes; a refusal (a login, a 5xx answer) fails the notification run at once."""

__all__ = ["KINDS", "NOTIFICATION_EVENT", "NOTIFY_WORKFLOW", "compose", "notify_workflow",
           "read_notifications"]  # fmt: skip


def read_notifications(value: Any) -> dict[str, list[str]]:
    """A schedule's ``notifications``, checked: ``{onStart?, onComplete?}``, each an address
    or a list of them.

    Raises:
        ScheduleInvalid: naming the field at fault (``notifications.onStart[1]``).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ScheduleInvalid("notifications must be an object {onStart?, onComplete?}",
                              "notifications")  # fmt: skip
    unknown = sorted(set(value) - set(KINDS))
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise ScheduleInvalid(f"unknown notification(s) {names} (known: onStart, onComplete)",
                              f"notifications.{unknown[0]}")  # fmt: skip
    checked: dict[str, list[str]] = {}
    for kind in KINDS:
        items = value.get(kind)
        try:
            found = addresses(items, kind)
        except EmailRefused as exc:
            index = str(exc).partition("[")[2].partition("]")[0]
            where = f"notifications.{kind}" + (f"[{index}]" if index else "")
            raise ScheduleInvalid(str(exc).removeprefix("email: "), where) from exc
        if found:
            checked[kind] = list(found)
    return checked


def compose(notice: Mapping[str, Any]) -> dict[str, str]:
    """The subject and body of a notification (``notice``: what the store recorded)."""
    workflow, run, schedule = notice["workflow"], notice["run"], notice["schedule"]
    if notice["event"] == "start":
        return {
            "subject": f"Scheduled run of {workflow} started",
            "body": f"Schedule {schedule} started run {run} of workflow {workflow} at "
                    f"{notice['at']}.\n",
        }  # fmt: skip
    outcome = notice["outcome"]
    lines = [f"Run {run} of workflow {workflow}, started by schedule {schedule}, ended at "
             f"{notice['at']}.", f"Status: {notice['status']}", f"Outcome: {outcome}"]  # fmt: skip
    if notice.get("error"):
        lines.append(f"Error: {notice['error']}")
    return {"subject": f"Scheduled run of {workflow} {outcome}", "body": "\n".join(lines) + "\n"}


def notify_workflow(clients: dict[str, Any]) -> Workflow:
    """The workflow of notification runs; ``clients`` are the catalog's (the SMTP server)."""

    async def notify(ctx: Context, notice: dict[str, Any]) -> dict[str, Any]:
        message = {**compose(notice), "recipients": list(notice["recipients"])}
        server = clients.get("smtp")
        told: dict[str, Any]
        if isinstance(server, SmtpServer):
            told = await ctx.step("email", _send, server, message, retry=MAIL_RETRY)
        else:
            told = await ctx.step("emit", _emit, ctx, {**notice, **message})
        return told

    return Workflow(NOTIFY_WORKFLOW, notify)


async def _send(server: SmtpServer, message: dict[str, Any]) -> dict[str, Any]:
    mail = Mail(tuple(message["recipients"]), message["subject"], message["body"])
    sent = await send_mail(server, mail)
    return {"sent": True, "to": list(mail.to), "messageId": sent.message_id,
            "refused": sent.refused}  # fmt: skip


async def _emit(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    from plait.actions.builtin import emit

    step_id = ctx.step_id or f"{ctx.run_id}/emit"
    actx = ActionContext(ctx.run_id, step_id, ctx.workflow, ctx.org, ctx.store, ctx.clock)
    emitted = await emit({"type": NOTIFICATION_EVENT, "data": data}, actx)
    return {"sent": False, "event": emitted["$id"]}
