"""Expense approval with human tasks: the manager approves, and above 1,000 the VP too.

The brief's workflow (002), in Python. Each ``ctx.human_task`` creates a task in a person's inbox
and suspends the run (a row in the database, no memory held) until someone completes it:

    plait tasks list --assignee mia
    plait tasks complete task_... --decision approve --by mia --comment "ok"

A manager who has not answered within 24 hours hands the task to the VP; a task nobody answers
within 48 hours expires (``TaskExpired``), which counts as a rejection, as in the brief. Run this
file to see one expense go through, answered from Python on ./plait.db.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from plait import Context, Engine, Escalation, TaskExpired
from plait.resources.tasks import Task

DUE = timedelta(hours=48)
ESCALATE_AFTER = timedelta(hours=24)
VP_THRESHOLD = 1000


def pay(expense: dict[str, Any]) -> dict[str, Any]:
    """Stand-in for the payment system (a step: it runs once per run)."""
    return {"recipient": expense["employee"], "amount": expense["amount"], "paid": True}


def notify(expense: dict[str, Any], status: str) -> str:
    return f"expense {expense['id']} {status}"


async def approval(
    ctx: Context, name: str, expense: dict[str, Any], assignee: str,
    escalation: Escalation | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    """The decision of ``assignee`` (or of whom it escalated to); None if nobody answered."""
    title = f"Approve expense {expense['id']} of {expense['amount']} by {expense['employee']}"
    try:
        return await ctx.human_task(
            title, assignee, due=DUE, escalation=escalation, name=name,
            data={"expenseId": expense["id"], "amount": expense["amount"]},
        )  # fmt: skip
    except TaskExpired:
        return None


async def expense_approval(ctx: Context, expense: dict[str, Any]) -> dict[str, Any]:
    """Manager, then VP above ``VP_THRESHOLD``; returns the status and the decisions."""
    escalation = Escalation(to=expense["vp"], after=ESCALATE_AFTER)
    manager = await approval(ctx, "manager-approval", expense, expense["manager"], escalation)
    if manager is None or not manager["approved"]:
        await ctx.step("reject", notify, expense, "rejected")
        return {"status": "rejected", "manager": manager}
    vp = None
    if expense["amount"] > VP_THRESHOLD:
        vp = await approval(ctx, "vp-approval", expense, expense["vp"])
        if vp is None or not vp["approved"]:
            await ctx.step("reject-final", notify, expense, "rejected")
            return {"status": "rejected", "manager": manager, "vp": vp}
    payment = await ctx.step("pay", pay, expense)
    await ctx.step("approve", notify, expense, "approved")
    return {"status": "approved", "manager": manager, "vp": vp, "payment": payment}


def register(engine: Engine) -> None:
    """Register the workflow (as ``expense-approval``) on ``engine``."""
    engine.workflow("expense-approval")(expense_approval)


async def main() -> None:
    engine = Engine()  # sqlite:///./plait.db unless PLAIT_DATABASE_URL is set
    register(engine)
    expense = {"id": "exp-7", "amount": 1500, "employee": "eve", "manager": "mia", "vp": "vic"}
    async with engine:
        handle = await engine.start("expense-approval", expense)
        for person in ("mia", "vic"):
            task = await next_task(engine, person)
            print(f"{person}'s inbox: {task.title} [{', '.join(task.choices or [])}]")
            await engine.tasks.complete("default", task.id, decision="approve", by=person,
                                        comment="looks fine")  # fmt: skip
        result = await handle.result(timeout=30)
    print(f"status: {result['status']}, paid: {result['payment']['amount']}")


async def next_task(engine: Engine, assignee: str) -> Task:
    """The newest open task of ``assignee``, once there is one."""
    while True:
        found = await engine.tasks.find("default", assignee=assignee, status="open")
        if found.items:
            return found.items[0]
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main())
