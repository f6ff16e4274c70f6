"""An Argo Workflow with loops (withItems, withParam) and a retried step, for the run page."""

LOOPS_YAML = b"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: make-list
            template: make-list
          - name: each-letter
            template: show
            withItems: [a, b, c]
            arguments:
              parameters: [{name: x, value: "{{item}}"}]
          - name: each-number
            template: show
            depends: make-list
            withParam: "{{tasks.make-list.outputs.result}}"
            arguments:
              parameters: [{name: x, value: "{{item}}"}]
          - name: flaky
            template: flaky
            depends: each-letter && each-number
    - name: make-list
      container:
        image: busybox
        command: [sh, -c]
        args: ["echo '[1, 2]'"]
    - name: show
      inputs:
        parameters: [{name: x}]
      container:
        image: busybox
        command: [sh, -c]
        args: ["echo item {{inputs.parameters.x}}"]
        resources:
          requests: {cpu: 250m, memory: 64Mi}
      nodeSelector: {disktype: ssd}
    - name: flaky
      retryStrategy: {limit: "2"}
      container:
        image: busybox
        command: [sh, -c]
        args:
          - "echo attempt {{retries}}; [ {{retries}} -ge 1 ] || { echo 'ValueError: no'; exit 1; }"
"""

# A step that always fails, saying why in its log: the run is retried and fails again.
FAILING_YAML = b"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: failing-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: check
            template: check
    - name: check
      container:
        image: busybox
        command: [sh, -c]
        args: ["echo 'Traceback (most recent call last):'; echo 'ValueError: bad input'; exit 1"]
"""
