"""The editor's properties forms: a node's, and the pipeline's (templates/editor/_node_form.html,
_pipeline_form.html).

They judge nothing themselves: values are kept as typed (a draft can always be saved) and the
importer (apps.pipelines.importers.elyra, through services.check_document) names what is wrong,
with the messages an upload gets. Each message is then put on the field it is about.

Lists of records (env vars, secrets, volumes, ..., the pipeline's parameters) are rows of inputs
named `<key>-<row>-<field>`; the "+ Variable" and "Remove" buttons post `add=<key>` and
`remove=<key>-<row>`, and the server answers with the rows changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import QueryDict

from apps.editor import document as doclib
from apps.pipelines.importers.elyra import dependency_matches, dependency_pattern

RUNNABLE = re.compile(r"\.(ipynb|py|r)$", re.IGNORECASE)
PARAMETER_TYPES = (
    ("String", "String"),
    ("Integer", "Integer"),
    ("Float", "Float"),
    ("Bool", "Boolean"),
)
MAX_ROWS = 500
MAX_MATCHES = 30


@dataclass(frozen=True)
class Column:
    name: str
    label: str  # the placeholder, and the start of the input's accessible name
    checkbox: bool = False


# The record lists of a node, in the document's keys (apps.editor.document.RECORD_FIELDS).
NODE_RECORDS: dict[str, tuple[str, str, tuple[Column, ...]]] = {
    # key: (heading, what "+" adds, columns)
    "env": (
        "Environment variables",
        "Variable",
        (Column("name", "NAME"), Column("value", "value")),
    ),
    "secrets": (
        "Secrets as environment variables",
        "Secret",
        (Column("env_var", "ENV_VAR"), Column("name", "secret"), Column("key", "key")),
    ),
    "volumes": (
        "Mounted volumes",
        "Volume",
        (
            Column("path", "/mount/path"),
            Column("pvc_name", "pvc-name"),
            Column("sub_path", "sub path"),
            Column("read_only", "read-only", checkbox=True),
        ),
    ),
    "tolerations": (
        "Tolerations",
        "Toleration",
        (
            Column("key", "key"),
            Column("operator", "Equal|Exists"),
            Column("value", "value"),
            Column("effect", "effect"),
        ),
    ),
    "pod_labels": ("Pod labels", "Label", (Column("key", "key"), Column("value", "value"))),
    "pod_annotations": (
        "Pod annotations",
        "Annotation",
        (Column("key", "key"), Column("value", "value")),
    ),
}
DEFAULT_ENV_COLUMNS = NODE_RECORDS["env"][2]
PARAMETER_COLUMNS = (
    Column("name", "name"),
    Column("type", "type"),
    Column("default", "default"),
    Column("description", "description"),
    Column("required", "required", checkbox=True),
)

# The importer's node messages start with the property they are about ("memory must be a
# number, got 'lots'"): its name there -> the form's field (the document's key).
MESSAGE_FIELDS = {
    "env_vars": "env",
    "dependency": "dependencies",
    "file": "filename",
    "kubernetes_shared_mem_size": "shm_size",
    "kubernetes_secrets": "secrets",
    "mounted_volumes": "volumes",
    "kubernetes_tolerations": "tolerations",
    "kubernetes_pod_labels": "pod_labels",
    "kubernetes_pod_annotations": "pod_annotations",
    "uses": "parameters",
    "label": "pod_labels",
    "cpu_limit": "cpu_limit",
    "memory_limit": "memory_limit",
    "gpu_limit": "gpu_limit",
}
_LEADING_WORD = re.compile(r"^([a-z_]+)")
_PIPELINE_PARAMETER = re.compile(r"^pipeline parameter (?:#(\d+)|'([^']*)')")


def message_field(text: str) -> str:
    match = _LEADING_WORD.match(text)
    if not match:
        return ""
    word = match.group(1)
    return MESSAGE_FIELDS.get(word, word)


def _rows_of(data: QueryDict, key: str, columns: tuple[Column, ...]) -> list[dict[str, Any]]:
    """The posted rows of a record list, in row order (a checkbox's row shows by its text)."""
    pattern = re.compile(rf"^{re.escape(key)}-(\d+)-([a-z_]+)$")
    indexes = sorted(
        {
            int(m.group(1))
            for m in map(pattern.match, data.keys())
            if m and int(m.group(1)) < MAX_ROWS
        }
    )
    rows = []
    for index in indexes:
        rows.append(
            {
                c.name: bool(data.get(f"{key}-{index}-{c.name}"))
                if c.checkbox
                else data.get(f"{key}-{index}-{c.name}", "")
                for c in columns
            }
        )
    return rows


def _edit_rows(
    data: QueryDict | None, key: str, rows: list[dict[str, Any]], columns: tuple[Column, ...]
) -> list[dict[str, Any]]:
    """The rows after the button pressed, if it was this list's "+" or one of its "Remove"."""
    if data is None:
        return rows
    if data.get("add") == key:
        rows = [*rows, {c.name: False if c.checkbox else "" for c in columns}]
    remove = data.get("remove", "")
    if remove.startswith(f"{key}-") and remove[len(key) + 1 :].isdigit():
        index = int(remove[len(key) + 1 :])
        rows = [row for i, row in enumerate(rows) if i != index]
    return rows


def _as_typed(old: Any, new: str) -> Any:
    """The stored value where the text shows it unchanged (a number from a version stays one)."""
    return old if old is not None and _shown(old) == new else new


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class RecordList:
    """A record list as the template draws it."""

    key: str
    heading: str
    add_label: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    noun: str  # in the inputs' accessible names: "NAME (env 1)"
    errors: list[str]
    slot: str
    added: bool  # its "+" was pressed: the new row's first input takes the focus

    @property
    def table(self) -> list[tuple[int, list[tuple[Column, str, Any]]]]:
        """Each row: its index, and each column with its input's name and value."""
        return [
            (i, [(c, f"{self.key}-{i}-{c.name}", row.get(c.name, "")) for c in self.columns])
            for i, row in enumerate(self.rows)
        ]


class _PropertiesForm(forms.Form):
    """What both forms share: record lists, the importer's messages placed on fields."""

    record_specs: dict[str, tuple[str, str, tuple[Column, ...]]] = {}

    def __init__(self, data: QueryDict | None, *, source: dict[str, Any]) -> None:
        super().__init__(data, auto_id="prop_%s")
        self.source = source
        self.general: list[str] = []  # messages no field shows: the list at the top only
        self.problems: list[str] = []
        self.record_errors: dict[str, list[str]] = {key: [] for key in self.record_specs}

    def records_of(self, key: str) -> list[dict[str, Any]]:
        columns = self.record_specs[key][2]
        if self.data:
            rows = _rows_of(self.data, key, columns)
        else:
            rows = [{c.name: row.get(c.name, "") for c in columns} for row in self.stored_rows(key)]
        return _edit_rows(self.data or None, key, rows, columns)

    def stored_rows(self, key: str) -> list[dict[str, Any]]:
        return list(self.source.get(key) or [])

    def record_lists(self) -> list[RecordList]:
        return [self.record_list(key) for key in self.record_specs]

    def record_list(self, key: str) -> RecordList:
        heading, add_label, columns = self.record_specs[key]
        return RecordList(
            key=key,
            heading=heading,
            add_label=add_label,
            columns=columns,
            rows=self.records_of(key),
            noun=self.nouns.get(key, key.replace("_", " ", 1)),
            errors=self.record_errors.get(key, []),
            slot=self.slot(key),
            added=bool(self.data) and self.data.get("add") == key,
        )

    nouns: dict[str, str] = {}

    @property
    def lists(self) -> dict[str, RecordList]:
        return {key: self.record_list(key) for key in self.record_specs}

    @property
    def slots(self) -> dict[str, str]:
        return {name: self.slot(name) for name in [*self.fields, *self.record_specs]}

    def place(self, problems: list[str]) -> None:
        """Put the importer's messages on the fields they are about; call after values()."""
        self.problems = list(problems)
        for text in problems:
            target = self.target_of(text)
            if target in self.fields:
                self.add_error(target, text)
            elif target in self.record_errors:
                self.record_errors[target].append(text)
            else:
                self.general.append(text)

    def target_of(self, text: str) -> str:
        return message_field(text)

    def slot(self, name: str) -> str:
        """The id of a field's error list (the edits' answers swap it out of band)."""
        return f"err-{self.slot_prefix}-{name}"

    slot_prefix = "p"

    @property
    def error_slots(self) -> list[tuple[str, list[str]]]:
        slots = [(self.slot(name), list(self.errors.get(name, []))) for name in self.fields]
        slots += [(self.slot(key), errors) for key, errors in self.record_errors.items()]
        return slots


class NodeForm(_PropertiesForm):
    label = forms.CharField(required=False, max_length=doclib.MAX_TEXT)
    filename = forms.ChoiceField(required=False, label="File")
    runtime_image = forms.CharField(required=False, max_length=doclib.MAX_TEXT)
    cpu = forms.CharField(required=False, label="CPU request")
    cpu_limit = forms.CharField(required=False, label="CPU limit")
    memory = forms.CharField(required=False, label="Memory (GB)")
    memory_limit = forms.CharField(required=False, label="Memory limit (GB)")
    gpu = forms.CharField(required=False, label="GPUs")
    gpu_limit = forms.CharField(required=False, label="GPU limit")
    gpu_vendor = forms.CharField(required=False, label="GPU resource")
    retries = forms.CharField(required=False)
    timeout_seconds = forms.CharField(required=False, label="Timeout (seconds)")
    dependencies = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    include_subdirectories = forms.BooleanField(required=False)
    outputs = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    parameters = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    shm_size = forms.CharField(required=False, label="Shared memory size")

    record_specs = NODE_RECORDS

    def __init__(
        self,
        data: QueryDict | None,
        *,
        node: dict[str, Any],
        doc: dict[str, Any],
        paths: list[str],
    ) -> None:
        super().__init__(data, source=node)
        self.node, self.doc, self.paths = node, doc, paths
        self.slot_prefix = node["id"]
        runnable = [p for p in paths if RUNNABLE.search(p)]
        if node["filename"] not in runnable:
            runnable.insert(0, node["filename"])
        self.fields["filename"].choices = [(p, p or "(none)") for p in runnable]
        declared = [
            (p["name"], f"{p['name']} ({p['type']})") for p in doc["parameters"] if p["name"]
        ]
        # A name the node receives but the pipeline no longer declares stays listed, so that
        # the importer's message about it has a box to untick.
        known = {name for name, _ in declared}
        declared += [
            (name, f"{name} (not declared)") for name in node["parameters"] if name not in known
        ]
        self.fields["parameters"].choices = declared
        for key in doclib.NODE_PROPERTIES:
            if key in self.fields and key not in doclib.RECORD_FIELDS:
                value = node[key]
                if key in ("dependencies", "outputs"):
                    value = "\n".join(value)
                elif key in doclib.NUMBER_FIELDS:
                    value = _shown(value)
                self.initial[key] = value
        for key in doclib.NUMBER_FIELDS:
            self.fields[key].widget.attrs["inputmode"] = "decimal"
        self.fields["runtime_image"].widget.attrs.update(
            list="image-options", spellcheck="false", placeholder="e.g. python:3.11"
        )
        self.fields["cpu"].widget.attrs["placeholder"] = "e.g. 0.5"
        self.fields["memory"].widget.attrs["placeholder"] = "e.g. 2"
        self.fields["gpu_vendor"].widget.attrs["placeholder"] = "nvidia.com/gpu"
        self.fields["shm_size"].widget.attrs["placeholder"] = "e.g. 1G"
        for key in ("dependencies", "outputs"):
            self.fields[key].widget.attrs.update(rows=3, spellcheck="false")
        if doc["defaults"]["runtime_image"]:
            self.fields["runtime_image"].widget.attrs["placeholder"] = (
                f"default: {doc['defaults']['runtime_image']}"
            )

    def values(self) -> dict[str, Any]:
        """The node's properties from the posted form (as typed), with the button's row change."""
        self.is_valid()
        data = self.cleaned_data
        out: dict[str, Any] = {}
        for key in doclib.NODE_PROPERTIES:
            if key in doclib.RECORD_FIELDS:
                out[key] = self.records_of(key)
            elif key not in self.fields or key in self.errors:
                out[key] = self.node[key]  # a choice no longer offered: left as it was
            elif key in ("dependencies", "outputs"):
                out[key] = [line.strip() for line in data[key].splitlines() if line.strip()]
            elif key in doclib.NUMBER_FIELDS:
                out[key] = _as_typed(self.node[key], data[key])
            else:
                out[key] = data[key]
        return out

    def matches(self) -> tuple[list[str], int]:
        """The files the node's dependencies match, as the importer matches them (the first
        MAX_MATCHES, and how many in all)."""
        deps = self.node["dependencies"]
        found = [
            path
            for path in self.paths
            if any(
                dependency_matches(dependency_pattern(self.node["filename"], d), path) for d in deps
            )
        ]
        return found[:MAX_MATCHES], len(found)

    @property
    def kind(self) -> str:
        return doclib.node_kind(self.node["filename"]) or ""

    @property
    def title(self) -> str:
        return self.node["label"] or self.node["filename"].rsplit("/", 1)[-1] or "node"


class PipelineForm(_PropertiesForm):
    name = forms.CharField(required=False, max_length=doclib.MAX_TEXT)
    description = forms.CharField(
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    runtime_image = forms.CharField(
        required=False,
        label="Runtime image",
        help_text="Used by the nodes that name none.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. python:3.11"}),
    )

    record_specs = {
        "denv": ("Environment variables", "Variable", DEFAULT_ENV_COLUMNS),
        "params": ("Parameters", "Parameter", PARAMETER_COLUMNS),
    }
    nouns = {"denv": "default env"}
    parameter_types = PARAMETER_TYPES

    def __init__(self, data: QueryDict | None, *, doc: dict[str, Any]) -> None:
        super().__init__(data, source=doc)
        self.doc = doc
        self.initial.update(
            name=doc["name"],
            description=doc["description"],
            runtime_image=doc["defaults"]["runtime_image"],
        )
        self.fields["runtime_image"].widget.attrs.update(list="image-options", spellcheck="false")

    def stored_rows(self, key: str) -> list[dict[str, Any]]:
        if key == "denv":
            return list(self.doc["defaults"]["env"])
        return [{**p, "default": _shown(p["default"])} for p in self.doc["parameters"]]

    def values(self) -> dict[str, Any]:
        self.is_valid()
        data = self.cleaned_data
        stored = self.doc["parameters"]
        parameters = []
        for index, row in enumerate(self.records_of("params")):
            old = stored[index]["default"] if index < len(stored) else None
            parameters.append({**row, "default": _as_typed(old, row["default"])})
        # A field Django refused (too long) keeps what the document had.
        return {
            "name": data.get("name", self.doc["name"]),
            "description": data.get("description", self.doc["description"]),
            "defaults": {
                "runtime_image": data.get("runtime_image", self.doc["defaults"]["runtime_image"]),
                "env": self.records_of("denv"),
            },
            "parameters": parameters,
        }

    def target_of(self, text: str) -> str:
        match = _PIPELINE_PARAMETER.match(text)
        if not match:
            return "runtime_image" if text.startswith("pipeline_defaults") else ""
        names = [p["name"] for p in self.doc["parameters"]]
        index = (
            int(match.group(1)) - 1
            if match.group(1)
            else names.index(match.group(2))
            if match.group(2) in names
            else -1
        )
        return f"params-{index}" if index >= 0 else "params"

    def place(self, problems: list[str]) -> None:
        self.row_errors: dict[int, list[str]] = {}
        super().place([])
        self.problems = list(problems)
        for text in problems:
            target = self.target_of(text)
            if target.startswith("params-"):
                self.row_errors.setdefault(int(target[7:]), []).append(text)
            elif target in self.fields:
                self.add_error(target, text)
            else:
                self.general.append(text)

    @property
    def parameter_rows(self) -> list[tuple[int, dict[str, Any], list[str], str]]:
        """Each parameter: its row index, values, errors and error slot."""
        errors = getattr(self, "row_errors", {})
        return [
            (i, row, errors.get(i, []), self.slot(f"params-{i}"))
            for i, row in enumerate(self.records_of("params"))
        ]

    @property
    def error_slots(self) -> list[tuple[str, list[str]]]:
        errors = getattr(self, "row_errors", {})
        slots = [(self.slot(name), list(self.errors.get(name, []))) for name in self.fields]
        slots += [
            (self.slot(f"params-{i}"), errors.get(i, []))
            for i in range(len(self.records_of("params")))
        ]
        return slots
