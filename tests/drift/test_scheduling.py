"""The scheduling samples: the systemd service and timer (their hardening, and
``systemd-analyze verify`` where it exists), the credentials wrapper, the crontab line."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import textwrap
from pathlib import Path

from croniter import croniter

from tests.support.unavailable import unavailable

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "scheduling"
SERVICE = SAMPLES / "iam-gov.service"
TIMER = SAMPLES / "iam-gov.timer"
CRONTAB = SAMPLES / "crontab"
WRAPPER = SAMPLES / "iam-gov-run"


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> values (a key may repeat; continuation lines are
    joined; comments dropped), as systemd reads it."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line.startswith(("#", ";")):
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path}: {line!r} before any section"
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not a key=value line: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(values: dict[str, list[str]], key: str) -> str:
    assert key in values, f"{key}= is missing"
    return values[key][-1]


def test_the_service_is_hardened() -> None:
    service = unit(SERVICE)["Service"]
    assert one(service, "Type") == "oneshot"
    assert one(service, "User") == "iam-gov" and one(service, "Group") == "iam-gov"
    assert "DynamicUser" not in service  # a static user: the store outlives a run
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "CapabilityBoundingSet": "",
        "StateDirectory": "iam-gov",
        "StateDirectoryMode": "0700",
        "UMask": "0077",
        "SystemCallArchitectures": "native",
    }.items():
        assert one(service, key) == value, key
    assert set(one(service, "RestrictAddressFamilies").split()) == {
        "AF_INET",
        "AF_INET6",
        "AF_UNIX",
    }
    assert "@system-service" in service["SystemCallFilter"]
    assert service["ReadWritePaths"]
    assert "SuccessExitStatus" not in service  # exit 1-3 must fail the unit (OnFailure=)


def test_secrets_come_through_load_credential() -> None:
    service = unit(SERVICE)["Service"]
    credentials = service["LoadCredential"]
    assert credentials
    for entry in credentials:
        name, _, source = entry.partition(":")
        assert name and source.startswith("/etc/iam-gov/credentials/"), entry
    assert not [e for e in service.get("Environment", []) if "TOKEN" in e or "PASSWORD" in e]
    command = shlex.split(one(service, "ExecStart"))
    assert command[0].endswith("/iam-gov-run")
    assert command[1:] == ["--config", "/etc/iam-gov/iam-gov.toml", "run"]


def test_the_timer_runs_daily_at_six_and_catches_up() -> None:
    timer = unit(TIMER)
    assert one(timer["Timer"], "OnCalendar") == "*-*-* 06:00:00"
    assert one(timer["Timer"], "Persistent") == "true"
    assert one(timer["Timer"], "RandomizedDelaySec")
    assert one(timer["Timer"], "Unit") == "iam-gov.service"
    assert one(timer["Install"], "WantedBy") == "timers.target"


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        # CI installs it (.ci/install-system-packages); elsewhere the other tests check keys.
        unavailable("systemd-analyze is not installed")
    program = tmp_path / "iam-gov-run"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    text = SERVICE.read_text()
    original = "ExecStart=/opt/iam-gov/bin/iam-gov-run "
    assert original in text
    (tmp_path / "iam-gov.service").write_text(text.replace(original, f"ExecStart={program} "))
    shutil.copy(TIMER, tmp_path / "iam-gov.timer")
    result = subprocess.run(
        [
            analyze,
            "verify",
            "--man=no",
            str(tmp_path / "iam-gov.service"),
            str(tmp_path / "iam-gov.timer"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    complaints = [line for line in result.stderr.splitlines() if "iam-gov." in line]
    assert result.returncode == 0, result.stderr
    assert complaints == [], result.stderr


def test_the_wrapper_exports_each_credential(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "okta-api-token").write_text("tok-123\n")
    (credentials / "AD_BIND_PASSWORD").write_text("pa ss $word 'q'")
    (credentials / "smtp.password").write_text("s3cret")
    (credentials / "9lives").write_text("skipped")
    fake = tmp_path / "iam-gov"
    fake.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            printf 'args:%s\\n' "$*"
            printf 'OKTA_API_TOKEN=%s\\n' "$OKTA_API_TOKEN"
            printf 'AD_BIND_PASSWORD=%s\\n' "$AD_BIND_PASSWORD"
            printf 'SMTP_PASSWORD=%s\\n' "$SMTP_PASSWORD"
            """
        )
    )
    fake.chmod(0o755)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CREDENTIALS_DIRECTORY": str(credentials),
        "IAM_GOV_BIN": str(fake),
    }
    result = subprocess.run(
        [str(WRAPPER), "--config", "/etc/iam-gov/iam-gov.toml", "run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "args:--config /etc/iam-gov/iam-gov.toml run",
        "OKTA_API_TOKEN=tok-123",
        "AD_BIND_PASSWORD=pa ss $word 'q'",
        "SMTP_PASSWORD=s3cret",
    ]
    assert "9lives" in result.stderr and "skipped" in result.stderr
    assert "tok-123" not in result.stderr


def test_the_wrapper_passes_the_exit_code_on(tmp_path: Path) -> None:
    fake = tmp_path / "iam-gov"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    result = subprocess.run(
        [str(WRAPPER), "run"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "IAM_GOV_BIN": str(fake)},
        timeout=30,
    )
    assert result.returncode == 3
    assert os.access(WRAPPER, os.X_OK)


def test_the_crontab_line() -> None:
    jobs = []
    for line in CRONTAB.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        head = stripped.split(None, 1)[0]
        if "=" in head and not head[0].isdigit() and head[0] != "*":
            continue  # SHELL=, MAILTO=
        jobs.append(stripped)
    assert len(jobs) == 1
    fields = jobs[0].split(None, 5)
    assert len(fields) == 6
    schedule, command = " ".join(fields[:5]), fields[5]
    assert croniter.is_valid(schedule)
    assert schedule == "0 6 * * *"
    assert "%" not in command  # cron would turn it into a line break
    words = shlex.split(command)
    flock = words.index("flock")
    assert words[flock + 1 : flock + 5] == ["-n", "-E", "75", "/var/lib/iam-gov/run.lock"]
    assert words[flock + 5 : flock + 9] == [
        "/opt/iam-gov/bin/iam-gov-run",
        "--config",
        "/etc/iam-gov/iam-gov.toml",
        "run",
    ]
    assert ">>/var/log/iam-gov/run.log" in words and "2>&1" in words
    subprocess.run(["sh", "-n", "-c", command], check=True, timeout=30)
