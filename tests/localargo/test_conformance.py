"""``python -m ydpipelines.localargo.conformance DIR`` on a small folder of examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SECRET_EXAMPLE = """\
# To run this example, first create the secret by running:
# kubectl create secret generic ydp-secret --from-literal=token=abc123 --from-literal=user=ada
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: secret-volume-
spec:
  entrypoint: main
  volumes:
  - name: creds
    secret:
      secretName: ydp-secret
  templates:
  - name: main
    container:
      image: alpine:3.23
      command: [sh, -c]
      args: ['test "$(cat /secret/token)" = abc123 && test "$(cat /secret/user)" = ada']
      volumeMounts:
      - name: creds
        mountPath: /secret
"""

HOST_PATH_EXAMPLE = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: host-path-
spec:
  entrypoint: main
  volumes:
  - name: host
    hostPath:
      path: /var/log
  templates:
  - name: main
    container:
      image: alpine:3.23
      command: [ls, /host]
      volumeMounts:
      - name: host
        mountPath: /host
"""


def test_examples_run_with_their_documented_secrets(tmp_path: Path) -> None:
    (tmp_path / "secret-volume.yaml").write_text(SECRET_EXAMPLE)
    (tmp_path / "host-path.yaml").write_text(HOST_PATH_EXAMPLE)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ydpipelines.localargo.conformance",
            str(tmp_path),
            "--timeout",
            "30",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS secret-volume.yaml: ran as documented (Succeeded)" in lines
    assert (
        "PASS host-path.yaml: refused as unsupported: spec.volumes[0].hostPath (only emptyDir, "
        "persistentVolumeClaim, secret and configMap)" in lines
    )
    assert lines[-1] == "2 passed, 0 failed"
