from django.db import models


class SourceFormat(models.TextChoices):
    ELYRA = "elyra", "Elyra pipeline"
    ARGO = "argo", "Argo Workflow YAML"


class ParameterType(models.TextChoices):
    STRING = "String", "String"
    INTEGER = "Integer", "Integer"
    FLOAT = "Float", "Float"
    BOOL = "Bool", "Boolean"


# The image of an Elyra node that names none (and of new pipelines): Python with what the step
# runner needs. Generic pipelines written for Elyra's local runtime often leave it empty.
DEFAULT_RUNTIME_IMAGE = "python:3.11-slim"

# The kinds of Argo template, in the order Argo checks them.
TEMPLATE_KINDS = (
    "container",
    "script",
    "dag",
    "steps",
    "resource",
    "suspend",
    "containerSet",
    "data",
    "http",
    "plugin",
)
