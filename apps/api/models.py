"""Personal access tokens for the REST API and the `ydp` client."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.projects.constants import Role


class TokenRole(models.TextChoices):
    READ = "read", "Read: list and download"
    WRITE = "write", "Write: also upload, run, terminate, archive"


class ApiToken(models.Model):
    """A token is `ydp_<prefix>_<secret>`; only the prefix (to find the row) and a SHA-256 of
    the whole token are stored, so the token is shown once, when it is created."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    role = models.CharField(max_length=8, choices=TokenRole.choices, default=TokenRole.READ)
    # The one project the token reaches (null: every project of its user); its role caps the
    # user's role there (apps.projects.scope).
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (ydp_{self.prefix}_…)"

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    @property
    def can_write(self) -> bool:
        return self.role == TokenRole.WRITE

    @property
    def role_cap(self) -> str:
        """The highest project role the token acts with: a read token a viewer's, a write
        token its user's own (an editor's, or an owner's where the user owns the project)."""
        return Role.OWNER if self.can_write else Role.VIEWER
