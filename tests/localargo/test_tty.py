"""`tty: true` on a container or script gives the step a terminal on stdin, as Kubernetes
gives the pod's container one (Argo's e2e functional/tty.yaml tests `[[ -t 0 ]]` both ways)."""

from __future__ import annotations

from .conftest import Client, workflow

SCRIPT = "if [ -t 0 ]; then echo stdin-is-a-terminal; else echo stdin-is-not; fi"


def test_tty_true_gives_stdin_a_terminal_and_only_then(api: Client) -> None:
    def step(name: str, **extra) -> dict:
        return {
            "name": name,
            "container": {"image": "busybox", "command": ["sh", "-c"], "args": [SCRIPT], **extra},
        }

    main = {
        "name": "main",
        "steps": [[{"name": n, "template": n} for n in ("with-tty", "without", "tty-false")]],
    }
    templates = [
        main,
        step("with-tty", tty=True, stdin=True),
        step("without"),
        step("tty-false", tty=False),
    ]
    wf = api.run(workflow("main", templates))
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    nodes = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    assert nodes["with-tty"]["outputs"]["result"] == "stdin-is-a-terminal"
    assert nodes["without"]["outputs"]["result"] == "stdin-is-not"
    assert nodes["tty-false"]["outputs"]["result"] == "stdin-is-not"
