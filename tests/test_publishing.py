"""Publishing from CI: the GitHub workflow tests, checks, builds and deploys with pinned actions;
the README's test command installs what the browser tests need, and no browser of its own."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "site.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def steps(job: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workflow()["jobs"][job]["steps"]
    return found


def test_workflow_runs_on_every_push_and_pull_request() -> None:
    # PyYAML reads the key `on` as True (YAML 1.1).
    triggers = workflow()[True]
    assert "push" in triggers and "pull_request" in triggers
    assert triggers["push"] is None and triggers["pull_request"] is None  # every branch


def test_every_action_is_pinned_to_a_full_commit() -> None:
    uses = [
        step["uses"]
        for job in workflow()["jobs"].values()
        for step in job["steps"]
        if "uses" in step
    ]
    assert len(uses) >= 7
    assert [u for u in uses if not PINNED.match(u)] == []


def test_build_job_tests_checks_builds_and_measures_in_that_order() -> None:
    commands = [step.get("run", "") for step in steps("build")]
    order = [
        next(i for i, c in enumerate(commands) if want in c)
        for want in (
            "bash .ci/run",
            "backpain-site check --strict",
            "backpain-site build",
            "scripts/budgets.py",
        )
    ]
    assert order == sorted(order)
    assert not any("playwright install" in c for c in commands)


def test_build_cache_is_restored_before_and_saved_after() -> None:
    uses = [(step.get("uses", ""), step.get("with", {})) for step in steps("build")]
    restore = next(i for i, (u, _) in enumerate(uses) if u.startswith("actions/cache/restore@"))
    save = next(i for i, (u, _) in enumerate(uses) if u.startswith("actions/cache/save@"))
    run_tests = next(i for i, s in enumerate(steps("build")) if "bash .ci/run" in s.get("run", ""))
    assert restore < run_tests < save
    paths = uses[restore][1]["path"].split()
    assert (
        paths
        == uses[save][1]["path"].split()
        == [
            ".cache/backpain_site/",
            "/opt/backpain-site-secret/",
        ]
    )
    secret = next(s for s in steps("build") if "BACKPAIN_SITE_SECRET_FILE" in s.get("run", ""))
    assert "/opt/backpain-site-secret/cache-secret" in secret["run"]
    assert uses[restore][1]["key"] == uses[save][1]["key"]


def test_only_pushes_to_main_deploy_the_built_site_to_pages() -> None:
    main_only = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    package = next(s for s in steps("build") if "upload-pages-artifact" in s.get("uses", ""))
    assert package["if"] == main_only
    assert package["with"]["path"] == "_site/"
    deploy = workflow()["jobs"]["deploy"]
    assert deploy["if"] == main_only
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any("actions/deploy-pages@" in s.get("uses", "") for s in deploy["steps"])
    assert workflow()["permissions"] == {"contents": "read"}


def test_test_command_installs_chromium_java_and_npm_tools_only_when_missing() -> None:
    script = (REPO / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert "[ -x /usr/bin/chromium ] || missing+=(chromium)" in script
    assert "command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)" in script
    assert 'if [ "${#missing[@]}" -gt 0 ]; then' in script
    assert "npm ci --ignore-scripts" in script
    assert 'pip install --quiet --disable-pip-version-check -e ".[test]"' in script
    assert "playwright install" not in script
    # The installs come before the tests that need them.
    assert script.index("npm ci") < script.index("pytest")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in ci


def test_npm_tools_are_locked() -> None:
    package = json.loads((REPO / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))
    wanted = package["devDependencies"]
    assert {"axe-core", "vnu-jar", "lighthouse"} <= set(wanted)
    assert lock["packages"][""]["devDependencies"] == wanted
    for name in ("axe-core", "vnu-jar", "lighthouse"):
        assert re.fullmatch(r"\d+\.\d+\.\d+", lock["packages"][f"node_modules/{name}"]["version"])
