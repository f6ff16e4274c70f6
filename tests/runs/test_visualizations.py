import json

import pytest

from apps.runs.constants import ArtifactKind
from apps.runs.visualizations import (
    OutputFormatError,
    kind_for_filename,
    parse_metrics,
    parse_ui_metadata,
)


def test_metrics_are_parsed_with_their_format():
    raw = json.dumps(
        {
            "metrics": [
                {"name": "accuracy", "numberValue": 0.93, "format": "PERCENTAGE"},
                {"name": "loss", "numberValue": "0.2"},
            ]
        }
    ).encode()
    metrics = parse_metrics(raw)
    assert [(m.name, m.value, m.format) for m in metrics] == [
        ("accuracy", 0.93, "PERCENTAGE"),
        ("loss", 0.2, "RAW"),
    ]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"metrics": 3}', '"metrics" list'),
        (b'{"metrics": [{"name": "a", "numberValue": "x"}]}', "no numeric numberValue"),
        (b'{"metrics": [{"name": "a", "numberValue": "inf"}]}', "not a finite number"),
        (b'{"metrics": [{"name": "", "numberValue": 1}]}', "bad name"),
    ],
)
def test_malformed_metrics_say_what_is_wrong(raw, fragment):
    with pytest.raises(OutputFormatError, match=fragment):
        parse_metrics(raw)


def test_ui_metadata_confusion_matrix_roc_table_markdown_and_html():
    doc = {
        "outputs": [
            {
                "type": "confusion_matrix",
                "format": "csv",
                "storage": "inline",
                "labels": ["yes", "no"],
                "source": "yes,yes,5\nyes,no,1\nno,yes,2\nno,no,7\n",
            },
            {"type": "roc", "format": "csv", "storage": "inline", "source": "0.5,0.9,0.3\n0,0,1\n"},
            {"type": "table", "format": "csv", "header": ["a", "b"], "source": "1,2\n3,4\n"},
            {"type": "markdown", "storage": "inline", "source": "# Title"},
            {"type": "web-app", "storage": "inline", "source": "<h1>report</h1>"},
        ]
    }
    items = parse_ui_metadata(json.dumps(doc).encode(), "evaluate")
    kinds = [item.kind for item in items]
    assert kinds == [
        ArtifactKind.CONFUSION_MATRIX,
        ArtifactKind.ROC,
        ArtifactKind.TABLE,
        ArtifactKind.MARKDOWN,
        ArtifactKind.HTML,
    ]
    matrix = items[0]
    assert matrix.data == {"labels": ["yes", "no"], "matrix": [[5.0, 1.0], [2.0, 7.0]]}
    assert items[1].data["points"] == [[0.0, 0.0, "1"], [0.5, 0.9, "0.3"]]
    assert items[2].data["header"] == ["a", "b"] and items[2].data["rows"] == [
        ["1", "2"],
        ["3", "4"],
    ]
    assert items[3].content == b"# Title"
    assert items[4].content == b"<h1>report</h1>" and items[4].name == "evaluate-web-app"


def test_confusion_matrix_labels_default_to_the_classes_seen():
    doc = {"outputs": [{"type": "confusion_matrix", "source": "b,a,1\na,a,4\n"}]}
    (matrix,) = parse_ui_metadata(json.dumps(doc).encode(), "s")
    assert matrix.data["labels"] == ["a", "b"]
    assert matrix.data["matrix"] == [[4.0, 0.0], [1.0, 0.0]]


def test_ui_metadata_without_outputs_list_is_refused():
    with pytest.raises(OutputFormatError, match='"outputs" list'):
        parse_ui_metadata(b'{"outputs": {}}', "s")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("report.HTML", ArtifactKind.HTML),
        ("data.csv", ArtifactKind.TABLE),
        ("plot.png", ArtifactKind.IMAGE),
        ("model.pkl", ArtifactKind.FILE),
        ("run.ipynb", ArtifactKind.NOTEBOOK),
    ],
)
def test_kind_for_filename(name, kind):
    assert kind_for_filename(name)[0] == kind
