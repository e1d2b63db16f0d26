"""The append-only, hash-chained audit log.

Each event's ``hash`` is SHA-256 over the previous event's hash and the event's own
canonical content, so altering or removing any stored event breaks every later link
(``cuishou audit verify`` names the first one).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete a stored audit event."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Refuses bulk changes: events are only ever appended (``audit_record_many``)."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only")


class AuditEvent(models.Model):
    seq = models.BigIntegerField(_("sequence"), unique=True, editable=False)
    at = models.DateTimeField(_("time"), editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    actor_label = models.CharField(_("actor name"), max_length=150, editable=False)
    action = models.CharField(_("action"), max_length=64, editable=False)
    object_type = models.CharField(_("object type"), max_length=64, editable=False)
    object_id = models.CharField(_("object id"), max_length=64, blank=True, editable=False)
    case_id = models.BigIntegerField(_("case"), null=True, blank=True, editable=False)
    summary = models.CharField(_("summary"), max_length=300, blank=True, editable=False)
    before = models.JSONField(_("before"), null=True, blank=True, editable=False)
    after = models.JSONField(_("after"), null=True, blank=True, editable=False)
    prev_hash = models.CharField(_("previous hash"), max_length=64, editable=False)
    # Not indexed: nothing looks an event up by its hash (verify walks the chain by seq),
    # and seq's uniqueness under the chain head's lock already makes each link one of a
    # kind. A unique index on random hex took a posting's tens of thousands of events
    # into every page of it, rewritten at each commit.
    hash = models.CharField(_("hash"), max_length=64, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["case_id", "seq"], name="audit_case_idx"),
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise AppendOnlyError("audit events are append-only")
        # Always an INSERT: an instance carrying an existing primary key must not
        # silently become an UPDATE of the stored event.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only")


class AuditChainHead(models.Model):
    """One row holding the chain's last seq and hash; locked while appending."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(_("last sequence"), default=0)
    last_hash = models.CharField(_("last hash"), max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain head")
        default_permissions = ()

    def __str__(self) -> str:
        return f"audit head {self.last_seq}"
