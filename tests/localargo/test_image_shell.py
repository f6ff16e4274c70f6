"""On the host executor, `sh` has what the step's image's sh has: for alpine, busybox and bash
images (busybox ash) `$RANDOM`, which Argo's e2e dag-with-retries uses, and `[[ ]]`; the host's
sh for the others (debian's and ubuntu's sh is dash, which has neither)."""

from __future__ import annotations

from .conftest import Client, workflow

SCRIPT = 'echo "random=${RANDOM:-none}"; echo "arith=$(( ${RANDOM} % 5 >= 0 ))"'


def step(name: str, image: str, shell: str) -> dict:
    return {
        "name": name,
        "container": {"image": image, "command": [shell, "-c"], "args": [SCRIPT]},
    }


def test_sh_is_the_shell_of_the_image(api: Client) -> None:
    cases = {
        "alpine": ("alpine:3.23", "sh"),
        "busybox-bin-sh": ("busybox:1.36", "/bin/sh"),
        "bash-image": ("bash:5", "sh"),
        "debian": ("debian:bookworm", "sh"),
    }
    main = {"name": "main", "steps": [[{"name": n, "template": n} for n in cases]]}
    templates = [main, *(step(n, image, shell) for n, (image, shell) in cases.items())]
    wf = api.run(workflow("main", templates))
    nodes = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    results = {name: nodes[name].get("outputs", {}).get("result", "") for name in cases}
    for name in ("alpine", "busybox-bin-sh", "bash-image"):
        lines = results[name].splitlines()
        assert lines[0].startswith("random=") and lines[0][7:].isdigit(), (name, results[name])
        assert lines[1] == "arith=1", (name, results[name])
        assert nodes[name]["phase"] == "Succeeded"
    # dash: ${RANDOM} is unset, so the arithmetic is `% 5` alone, a syntax error (exit 2)
    assert nodes["debian"]["phase"] == "Failed", nodes["debian"]
    assert results["debian"].splitlines()[:1] == ["random=none"], results["debian"]
    assert wf["status"]["phase"] == "Failed"
