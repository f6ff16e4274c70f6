from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer: read only"
    EDITOR = "editor", "Editor: also upload, run, clone, archive"
    OWNER = "owner", "Owner: also members and deletion"


# A role includes every role of a lower rank.
RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}

DEFAULT_SLUG = "default"
