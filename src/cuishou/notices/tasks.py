"""Background work of written collection (Django's Tasks API): a task loads its arguments
and calls the service."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.tasks import task

from cuishou.notices.campaigns import campaign_run


@task(queue_name=settings.CUISHOU_TASKS_QUEUE)
def campaign_run_task(*, campaign_id: int) -> dict[str, Any]:
    """Run one campaign (a campaign already started or finished is left alone)."""
    return campaign_run(campaign_id=campaign_id)
