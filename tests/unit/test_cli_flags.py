"""`deltadb` flags come from the settings tables; the README documents every setting."""

from __future__ import annotations

import logging
import logging.config
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from chalicelib.config import ConfigError, Settings
from chalicelib.settings_table import Spec
from local.cli import parser, version
from local.flags import apply, declared, migrate_deprecated_env
from local.granian_launcher import CORES_WARNING, log_config

ROOT = Path(__file__).resolve().parents[2]


def test_each_variable_belongs_to_one_setting() -> None:
    names = [var.name for _f, spec in declared() for var in spec.env]
    shared = {"AWS_LAMBDA_FUNCTION_NAME"}  # in_lambda, and the default of lambda_prefix
    assert {n: c for n, c in Counter(names).items() if c > 1} == dict.fromkeys(shared, 2)


def test_help_names_the_variable_and_the_default() -> None:
    text = parser()._subparsers._group_actions[0].choices["serve"].format_help()  # type: ignore[union-attr]
    flat = " ".join(text.split())
    assert "request body limit (e.g. 512KiB, 1MiB); larger bodies get 413 (env DELTADB_MAX_BODY, default 1MiB)" in flat
    assert "(env DELTADB_PROCESSES," in flat and "--server-workers" not in flat


def test_flags_become_variables() -> None:
    env: dict[str, str] = {}
    args = parser().parse_args(["serve", "--max-body", "2MiB", "--dev", "--storage", "FS", "--processes", "3"])
    apply(args, env)
    assert env == {"DELTADB_MAX_BODY": "2MiB", "DELTADB_DEV_MODE": "true", "DELTADB_STORAGE": "fs",
                   "DELTADB_PROCESSES": "3"}  # fmt: skip
    s = Settings.from_env(env)
    assert s.max_body_bytes == 2 << 20 and s.dev_mode and s.storage == "fs"
    env = {}
    apply(parser().parse_args(["up", "--workers", "4", "--server-workers", "2", "--s3-use-ssl", "false"]), env)
    assert env == {"DELTADB_PROCESSING_WORKERS": "4", "DELTADB_PROCESSES": "2", "S3_USE_SSL": "false"}
    with pytest.raises(SystemExit):
        parser().parse_args(["worker", "--admin-key", "x" * 20])  # the API's flags are not a worker's


def test_deprecated_names_still_work_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DELTADB_WORKERS": "3"}
    migrate_deprecated_env(env)
    assert env == {"DELTADB_PROCESSES": "3"}
    args = parser().parse_args(["serve", "--workers", "5"])
    apply(args, env)
    assert env == {"DELTADB_PROCESSES": "5"}
    err = capsys.readouterr().err
    assert "DELTADB_WORKERS is deprecated; use DELTADB_PROCESSES" in err
    assert "serve --workers is deprecated; use --processes" in err


def test_per_setting_limits() -> None:
    with pytest.raises(ConfigError, match=r"^DELTADB_STORAGE must be auto, fs or s3$"):
        Settings.from_env({"DELTADB_STORAGE": "tape"})
    with pytest.raises(ConfigError, match=r"^DELTADB_MAX_BODY must be at least 1KiB$"):
        Settings.from_env({"DELTADB_MAX_BODY": "1000"})
    with pytest.raises(ConfigError, match=r"^DELTADB_CACHE_ENTRIES must be >= 0$"):
        Settings.from_env({"DELTADB_CACHE_ENTRIES": "-1"})
    assert Settings.from_env({"S3_RETRY_MODE": "legacy"}).s3_retry_mode == "legacy"  # accepted, not advertised
    assert Settings.from_env({"DELTADB_KMS_REGION": "", "AWS_REGION": "eu-west-1"}).kms_region == "eu-west-1"


def _readme_rows() -> dict[str, str]:
    """env variable -> the flag column of its README row ("—" when none)."""
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and (m := re.fullmatch(r"`([A-Z0-9_]+)`", cells[1])):
            rows[m[1]] = cells[0]
    return rows


def _flags(spec: Spec) -> str:
    if spec.flag is None:
        return "—"
    return spec.flag if len(spec.commands) > 1 else f"{spec.commands[0]} {spec.flag}"


def test_readme_lists_every_setting_with_its_flag() -> None:
    rows = _readme_rows()
    for _name, spec in declared():
        assert spec.name in rows, f"README lacks a row for {spec.name}"
        assert rows[spec.name].replace("`", "") == _flags(spec), (spec.name, rows[spec.name])


def test_the_default_process_count_does_not_warn_but_a_chosen_one_does() -> None:
    record = logging.LogRecord("_granian", logging.WARNING, "", 0, CORES_WARNING + ". Mind that...", None, None)
    other = logging.LogRecord("_granian", logging.WARNING, "", 0, "Worker crash loop detected", None, None)

    def passes(config: dict[str, object], rec: logging.LogRecord) -> bool:
        logging.config.dictConfig(config)
        try:
            return all(f.filter(rec) for f in logging.getLogger("_granian").filters)  # type: ignore[union-attr]
        finally:
            logging.getLogger("_granian").filters.clear()

    assert not passes(log_config(default_processes=True), record)
    assert passes(log_config(default_processes=True), other)
    assert passes(log_config(default_processes=False), record)


def test_version() -> None:
    out = subprocess.run([sys.executable, "-m", "local.cli", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == f"deltadb {version()}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", version())
