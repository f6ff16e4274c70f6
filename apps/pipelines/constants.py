from django.db import models


class SourceFormat(models.TextChoices):
    ELYRA = "elyra", "Elyra pipeline"
    ARGO = "argo", "Argo Workflow YAML"


class ParameterType(models.TextChoices):
    STRING = "String", "String"
    INTEGER = "Integer", "Integer"
    FLOAT = "Float", "Float"
    BOOL = "Bool", "Boolean"


# The image of an Elyra node that names none (and of new pipelines): the project's runtime image
# (images/runtime: Python 3.11 with papermill, nbconvert, ipykernel, pandas, scikit-learn, and R),
# built on this machine by scripts/images.sh; on a cluster, push it to a registry the nodes pull
# from under this name. Generic pipelines written for Elyra's local runtime often leave it empty.
DEFAULT_RUNTIME_IMAGE = "localhost/ydpipelines-runtime:1"

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
