#!/usr/bin/env python3
"""Static validation of deploy/ (no cluster runs here): every Kubernetes manifest against the
newest schema kubernetes-validate ships (strict: unknown fields fail), checkov's Kubernetes checks
with zero failures and a written reason for each skip, this project's own rules (the restricted
Pod Security Standard spelt out, /healthz probes, resources, a kill timeout that covers the
shutdown delay and drain, selectors that match), and the same stop arithmetic in compose.yaml.
Each tool is first shown a broken manifest and must reject it, so a silent tool cannot pass.

Usage: tests/deploy/validate.py
Needs kubernetes-validate, checkov and PyYAML (.ci/install.sh puts them in
/opt/tinyweb-deploy-tools; tests/run.sh runs this with that venv first in PATH). Without them it
skips, unless CI=true.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "deploy" / "compose.yaml"
SCHEMA = "1.37"  # the newest schema of kubernetes-validate 1.37.0, the version .ci/install.sh pins
USER = 65534
STOP_MARGIN_SECONDS = 2
DEFAULT_GRACE_SECONDS = 5  # TINYWEB_SHUTDOWN_GRACE_SECS's default


class Report:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, claim, ok, detail=""):
        detail = " ".join(str(detail).split())
        print(("ok   " if ok else "FAIL ") + claim + (f" ({detail})" if detail else ""))
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def manifests():
    """Every manifest file; kustomization.yaml is kustomize's, not an API object."""
    return sorted(path for path in KUBERNETES.glob("*.yaml") if path.name != "kustomization.yaml")


def kubernetes_validate(paths):
    result = subprocess.run(["kubernetes-validate", "--strict", *map(str, paths)],
                            capture_output=True, text=True, timeout=120)
    return result.returncode, (result.stdout + result.stderr).strip()


def checkov(directory):
    result = subprocess.run(
        ["checkov", "-d", str(directory), "--framework", "kubernetes", "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=300,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"checkov gave no JSON (exit {result.returncode}): {result.stderr[-300:]}")
    return report[0] if isinstance(report, list) else report


def env_seconds(container, name, default):
    for item in container.get("env") or []:
        if item["name"] == name:
            return int(item["value"])
    return default


def pod_problems(spec):
    """The restricted Pod Security Standard and this project's rules, for one pod spec."""
    problems = []
    pod = spec.get("securityContext") or {}
    if pod.get("runAsNonRoot") is not True or pod.get("runAsUser") != USER:
        problems.append(f"pod securityContext runAsNonRoot/runAsUser {pod}")
    if (pod.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append("pod seccompProfile is not RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        problems.append("service account token mounted")
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            problems.append(flag)
    if any("hostPath" in volume for volume in spec.get("volumes") or []):
        problems.append("hostPath volume")
    stop_needed = 0
    for container in spec["containers"]:
        name = container["name"]
        context = container.get("securityContext") or {}
        capabilities = context.get("capabilities") or {}
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if capabilities.get("drop") != ["ALL"] or capabilities.get("add"):
            problems.append(f"{name}: capabilities {capabilities}")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: root filesystem writable")
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        if context.get("runAsUser", USER) != USER or context.get("runAsNonRoot") is False:
            problems.append(f"{name}: runs as {context.get('runAsUser')}")
        for kind in ("readinessProbe", "livenessProbe"):
            if ((container.get(kind) or {}).get("httpGet") or {}).get("path") != "/healthz":
                problems.append(f"{name}: {kind} is not an HTTP GET of /healthz")
        resources = container.get("resources") or {}
        for part in ("requests", "limits"):
            if not {"cpu", "memory"} <= set(resources.get(part) or {}):
                problems.append(f"{name}: {part} lack cpu or memory")
        delay = env_seconds(container, "TINYWEB_SHUTDOWN_DELAY_SECS", 0)
        if delay == 0:
            problems.append(f"{name}: TINYWEB_SHUTDOWN_DELAY_SECS not set")
        grace = env_seconds(container, "TINYWEB_SHUTDOWN_GRACE_SECS", DEFAULT_GRACE_SECONDS)
        stop_needed = max(stop_needed, delay + grace + STOP_MARGIN_SECONDS)
        liveness = container.get("livenessProbe") or {}
        if liveness.get("periodSeconds", 10) * liveness.get("failureThreshold", 3) <= delay:
            problems.append(f"{name}: the liveness probe would restart a pod in its shutdown delay")
    period = spec.get("terminationGracePeriodSeconds", 30)
    if period < stop_needed:
        problems.append(f"terminationGracePeriodSeconds {period} < delay + grace + 2 = {stop_needed}")
    return problems, f"terminationGracePeriodSeconds {period} >= delay + grace + 2 = {stop_needed}"


def project_rules(report, yaml):
    objects = {}
    for path in manifests():
        for document in yaml.safe_load_all(path.read_text()):
            objects[document["kind"]] = document
    for kind in ("Namespace", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"):
        report.check(f"deploy/kubernetes has a {kind}", kind in objects)
    deployment = objects.get("Deployment")
    if not deployment:
        return
    namespace = objects.get("Namespace", {}).get("metadata", {})
    report.check("the namespace enforces the restricted Pod Security Standard",
                 (namespace.get("labels") or {}).get("pod-security.kubernetes.io/enforce") == "restricted")
    problems, detail = pod_problems(deployment["spec"]["template"]["spec"])
    report.check("the Deployment's pod meets the restricted profile and the project's rules",
                 not problems, "; ".join(problems) or detail)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind, selector in (
        ("Service", (objects.get("Service") or {}).get("spec", {}).get("selector")),
        ("PodDisruptionBudget", (objects.get("PodDisruptionBudget") or {}).get("spec", {}).get("selector", {}).get("matchLabels")),
        ("NetworkPolicy", (objects.get("NetworkPolicy") or {}).get("spec", {}).get("podSelector", {}).get("matchLabels")),
    ):
        ok = bool(selector) and all(labels.get(key) == value for key, value in selector.items())
        report.check(f"the {kind} selects the Deployment's pods", ok, selector)


def duration_seconds(text):
    """A Compose duration such as `12s` or `1m30s` in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.fullmatch(r"((\d+)h)?((\d+)m)?((\d+)s)?", str(text))
    if not parts or not text:
        raise ValueError(f"unsupported duration {text!r}")
    return sum(int(parts.group(i)) * units[u] for i, u in ((2, "h"), (4, "m"), (6, "s")) if parts.group(i))


def compose_rules(report, yaml):
    service = yaml.safe_load(COMPOSE.read_text())["services"]["tinyweb"]
    env = service.get("environment") or {}
    delay = int(env.get("TINYWEB_SHUTDOWN_DELAY_SECS", 0))
    grace = int(env.get("TINYWEB_SHUTDOWN_GRACE_SECS", DEFAULT_GRACE_SECONDS))
    period = duration_seconds(service.get("stop_grace_period", "10s"))
    needed = delay + grace + STOP_MARGIN_SECONDS
    report.check("compose.yaml: a shutdown delay, and stop_grace_period >= delay + grace + 2",
                 delay > 0 and period >= needed, f"stop_grace_period {period} s, needed {needed} s")
    hardened = (service.get("read_only") is True and service.get("cap_drop") == ["ALL"]
                and "no-new-privileges:true" in (service.get("security_opt") or [])
                and service.get("mem_limit"))
    report.check("compose.yaml: read-only, all capabilities dropped, no-new-privileges, a memory limit",
                 bool(hardened))
    if shutil.which("docker-compose"):
        result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"],
                                capture_output=True, text=True, timeout=60)
        report.check("docker-compose config accepts compose.yaml", result.returncode == 0, result.stderr)


def controls(report, scratch):
    """Broken copies of the Deployment that each tool must reject."""
    deployment = (KUBERNETES / "deployment.yaml").read_text()
    misspelt = scratch / "schema" / "deployment.yaml"
    misspelt.parent.mkdir()
    misspelt.write_text(deployment.replace("readOnlyRootFilesystem", "readOnlyRootFileSystem"))
    code, output = kubernetes_validate([misspelt])
    report.check("control: kubernetes-validate rejects a misspelt field", code != 0, output.splitlines()[-1:])
    writable = scratch / "policy" / "deployment.yaml"
    writable.parent.mkdir()
    writable.write_text(deployment.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"))
    failed = {check["check_id"] for check in checkov(writable.parent)["results"]["failed_checks"]}
    report.check("control: checkov fails a writable root filesystem (CKV_K8S_22)", "CKV_K8S_22" in failed, sorted(failed))


def main(args):
    if args:
        print(__doc__.strip())
        return 0 if args[0] in ("-h", "--help") else 2
    missing = [tool for tool in ("kubernetes-validate", "checkov") if shutil.which(tool) is None]
    try:
        import yaml
    except ImportError:
        missing.append("PyYAML")
    if missing:
        reason = f"{', '.join(missing)} not found (.ci/install.sh installs them in /opt/tinyweb-deploy-tools)"
        if os.environ.get("CI") == "true":
            print(f"FAIL: deploy validation under CI=true: {reason}")
            return 1
        print(f"SKIP: deploy validation: {reason}; under CI=true this fails")
        return 0

    report = Report()
    code, output = kubernetes_validate(manifests())
    report.check(f"kubernetes-validate --strict, schema {SCHEMA}: every manifest is valid",
                 code == 0 and output.count(f"against version {SCHEMA}") == len(manifests()),
                 output if code else f"{len(manifests())} manifests")
    result = checkov(KUBERNETES)
    summary = result["summary"]
    report.check(f"checkov {summary.get('checkov_version')} Kubernetes checks: none failed",
                 summary["failed"] == 0 and summary["parsing_errors"] == 0 and summary["passed"] > 0,
                 f"passed {summary['passed']}, failed {summary['failed']}, skipped {summary['skipped']}: "
                 + ", ".join(check["check_id"] for check in result["results"]["failed_checks"]))
    for skipped in result["results"]["skipped_checks"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment") or ""
        report.check(f"checkov skip {skipped['check_id']} is justified in the manifest", len(reason) >= 20, reason)
    project_rules(report, yaml)
    compose_rules(report, yaml)
    with tempfile.TemporaryDirectory() as scratch:
        controls(report, pathlib.Path(scratch))
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
