"""Every shell command the README, config/README.md and the Snakefile header print runs as printed.

Commands are read from the documents themselves (code blocks, inline code, the Snakefile's comment), so a
command that is edited, added or misordered (a target after `--resources`) is run here. What cannot run on
this machine runs as far as it can: snakemake with `-n` (the paper's data and a GPU are not here), make with
`-n` (the real `make demo` / `make test` are CI and the workflow test), pytest with `--collect-only`.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..conftest import REPO

pytestmark = pytest.mark.workflow
DOCUMENTS = ("README.md", "config/README.md")
COMMAND_WORDS = ("make", "snakemake", ".venv/bin/snakemake", ".venv/bin/python", "scripts/slurm_local.sh")
FENCE = re.compile(r"^\s*```(\w*)")
INLINE = re.compile(r"`([^`\n]+)`")
CHECKOUT_PARTS = ("Snakefile", "workflow", "config", "profiles", "src", "scripts", "tests", "Makefile", "pyproject.toml",
                  "requirements.lock", "requirements.txt", "requirements-vtab.lock", ".venv", ".venv-vtab")


def _strip_comment(line: str) -> str:
    return re.sub(r"\s+#\s.*$", "", line).strip()


def _is_command(text: str) -> bool:
    listing = re.search(r"\S\s{3,}\S", text)  # `path    what it is` rows of a layout listing
    return text.split(" ", 1)[0] in COMMAND_WORDS and not listing


def document_commands(text: str) -> tuple[list[str], list[str]]:
    """(commands, option fragments) printed in a markdown text: code-block lines and inline code."""
    commands, fragments, fence = [], [], None
    for line in text.splitlines():
        opened = FENCE.match(line)
        if opened:
            fence = None if fence is not None else opened.group(1)
            continue
        block = fence is not None and fence in ("", "bash", "sh", "shell")
        indented = fence is None and line.startswith("    ")
        if block or indented:
            code = _strip_comment(line)
            if _is_command(code):
                commands.append(code)
            elif code.startswith("--"):
                fragments.append(code)
        if fence is None:
            commands.extend(span for span in INLINE.findall(line) if _is_command(span))
    return commands, fragments


def snakefile_commands() -> list[str]:
    """The usage lines of the Snakefile's header comment."""
    lines = []
    for line in (REPO / "Snakefile").read_text().splitlines():
        if not line.startswith("#"):
            break
        code = _strip_comment(line.lstrip("#"))
        if _is_command(code):
            lines.append(code)
    return lines


def all_commands() -> list[tuple[str, str]]:
    found = [(doc, cmd) for doc in DOCUMENTS for cmd in document_commands((REPO / doc).read_text())[0]]
    found += [("Snakefile", cmd) for cmd in snakefile_commands()]
    unique = {}
    for where, cmd in found:
        unique.setdefault(cmd, where)
    return [(where, cmd) for cmd, where in unique.items()]


def _checkout(tmp_path: Path) -> Path:
    for part in CHECKOUT_PARTS:
        (tmp_path / part).symlink_to(REPO / part)
    return tmp_path


def _readme_model_config(tmp_path: Path) -> None:
    """my.yaml as the README's "Add a model" says: a copy of config/config.yaml with its models blocks added."""
    from .test_readme_models import readme_models

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["models"].update(readme_models())
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(config))


def runnable(command: str, tmp_path: Path) -> list[str]:
    """The command as run here: the same words, made safe to run on a machine without the data or a GPU."""
    words = shlex.split(command)
    program, args = words[0], words[1:]
    if program in ("snakemake", ".venv/bin/snakemake"):
        if "my.yaml" in args:
            _readme_model_config(tmp_path)
        real_run = {"--unlock", "--lint", "--report"} & set(args)
        return [sys.executable, "-m", "snakemake", *args, *([] if real_run else ["-n"])]
    if program == "make":
        return ["make", "-n", *args]
    if program == ".venv/bin/python":
        return [sys.executable, *args, "--collect-only", "-q"] if args[:2] == ["-m", "pytest"] else [sys.executable,
                                                                                                      *args]
    if program == "scripts/slurm_local.sh":  # `up|down`: test_slurm.py runs both; here: it parses
        return ["bash", "-n", str(REPO / program)]
    raise AssertionError(f"no way to run {command!r}")


def test_the_documents_print_the_commands_a_user_needs():
    commands = [cmd for _, cmd in all_commands()]
    for expected in (".venv/bin/snakemake all --cores 8 --resources gpu=1", ".venv/bin/snakemake prepare_data --cores 4",
                     "make demo", "make test", ".venv/bin/snakemake --profile profiles/slurm all"):
        assert expected in commands, commands
    for command in commands:  # Snakemake reads every word after --resources as a resource
        words = shlex.split(command)
        if "--resources" in words:
            after = words[words.index("--resources") + 1:]
            assert all("=" in w or w.startswith("-") for w in after[: next((i for i, w in enumerate(after)
                                                                           if w.startswith("-")), len(after))]), command


@pytest.mark.parametrize(("where", "command"), all_commands(), ids=[c for _, c in all_commands()])
def test_each_documented_command_runs_as_printed(where, command, tmp_path):
    if "--report" in command:
        from . import test_workflow

        # a report needs a finished run: the demo workflow test builds it with these words
        assert shlex.split(command)[1:3] == test_workflow.REPORT_ARGS  # then the run's own --configfile
        pytest.skip("run after a finished demo run by test_workflow.py::test_demo_dag_runs_to_every_table_and_figure")
    run_dir = _checkout(tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(runnable(command, run_dir), cwd=run_dir, env=env, capture_output=True, text=True,
                            check=False, timeout=600)
    said = result.stdout + result.stderr
    assert result.returncode == 0, f"{where}: {command}\n{said[-3000:]}"
    assert "Traceback" not in said, f"{where}: {command}\n{said[-3000:]}"


def test_the_site_option_fragments_work_with_the_slurm_profile(tmp_path):
    run_dir = _checkout(tmp_path)
    fragments = document_commands((REPO / "README.md").read_text())[1]
    assert fragments, "the README's SLURM section prints its site options"
    args = [w for fragment in fragments for w in shlex.split(fragment)]
    result = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "all", "-n", *args],
                            cwd=run_dir, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True,
                            check=False, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_the_readmes_images_and_local_links_exist():
    for doc in DOCUMENTS:
        text = (REPO / doc).read_text()
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if not target.startswith(("http://", "https://")):
                assert (REPO / Path(doc).parent / target).exists(), f"{doc}: {target}"
