"""Where the CLI's output goes and how it looks: '-' and streams, whole cells, one wording.

The report is written with :func:`groupify._files.write_atomic`: ``-`` is stdout; a
pipe, a FIFO, a device or one of the process's descriptors (``/dev/stdout``,
process substitution) is written through, never replaced; a symlink to a file
stays a symlink. Text tables are cut only to fit a terminal.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from groupify.cli import main, text
from tests.test_golden import EXAMPLE, embedded_iam, in_tmp  # noqa: F401 (fixtures)

REPORT_TITLE = "# Move IAM users to job-function groups in account 123456789012"


def groupify(*argv: str, cwd: Path, **options: object) -> subprocess.CompletedProcess[str]:
    """The real command, in a child process (its stdout is a pipe unless redirected)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "groupify", *argv],
        cwd=cwd,
        capture_output="stdout" not in options,
        text=True,
        timeout=120,
        env=env,
        check=False,
        **options,
    )


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the example account and a plan made from it."""
    where = tmp_path_factory.mktemp("output")
    shutil.copy(EXAMPLE, where / EXAMPLE.name)
    argv = (
        "plan",
        "--from-gaad",
        EXAMPLE.name,
        "--exclude-tag",
        "BreakGlass",
        "--out",
        "plan.json",
    )
    done = groupify(*argv, cwd=where)
    assert done.returncode == 0, done.stderr
    return where


# -- report --markdown -, pipes, devices, symlinks -----------------------------------------


def test_dash_is_stdout(plan_dir: Path) -> None:
    """--markdown - writes the report to stdout and creates no file named '-'."""
    done = groupify("report", "plan.json", "--markdown", "-", cwd=plan_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(REPORT_TITLE + "\n")
    assert "Report written to" not in done.stdout
    assert not (plan_dir / "-").exists()


def test_dev_stdout_is_written_through_not_replaced(plan_dir: Path, tmp_path: Path) -> None:
    """/dev/fd/1, and a symlink to /dev/stdout, write into the pipe; the symlink stays."""
    link = tmp_path / "out.md"
    link.symlink_to("/dev/stdout")
    for target in ("/dev/fd/1", str(link)):
        done = groupify("report", "plan.json", "--markdown", target, cwd=plan_dir)
        assert done.returncode == 0, (target, done.stderr)
        assert done.stdout.startswith(REPORT_TITLE + "\n"), target
    assert link.is_symlink() and os.readlink(link) == "/dev/stdout"


def test_dev_stdout_redirected_to_a_file(plan_dir: Path, tmp_path: Path) -> None:
    """With stdout redirected to a file, /dev/stdout writes at the shell's position in it
    (the file the shell opened, not a new one renamed over it)."""
    out = tmp_path / "redirected.md"
    with out.open("w", encoding="utf-8") as fh:
        done = groupify("report", "plan.json", "--markdown", "/dev/stdout", cwd=plan_dir, stdout=fh)
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8").startswith(REPORT_TITLE + "\n")


def test_process_substitution(plan_dir: Path, tmp_path: Path) -> None:
    """--markdown >(cat > FILE), the shell's /dev/fd/N, works."""
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    got = tmp_path / "from-pipe.md"
    script = (
        f"{sys.executable} -m groupify report plan.json --markdown >(cat > {got}); "
        "status=$?; wait; exit $status"
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=plan_dir, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for _ in range(50):  # the reader may finish just after the writer
        if got.exists() and got.stat().st_size:
            break
        threading.Event().wait(0.1)
    assert got.read_text(encoding="utf-8").startswith(REPORT_TITLE + "\n")


def test_fifo_is_written_through(plan_dir: Path, tmp_path: Path) -> None:
    """A named pipe is opened and written, and stays a named pipe."""
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    done = groupify("report", "plan.json", "--markdown", str(fifo), cwd=plan_dir)
    reader.join(30)
    assert done.returncode == 0, done.stderr
    assert received and received[0].decode("utf-8").startswith(REPORT_TITLE + "\n")
    assert fifo.is_fifo()


def test_symlink_to_a_file_stays_a_symlink(plan_dir: Path, tmp_path: Path) -> None:
    """A symlink to a regular file: the target is replaced atomically, the link kept; a
    symlink to a file not yet there makes the file."""
    target = tmp_path / "reports" / "change-42.md"
    target.parent.mkdir()
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "latest.md"
    link.symlink_to(target)
    dangling = tmp_path / "next.md"
    dangling.symlink_to(tmp_path / "reports" / "change-43.md")
    for path in (link, dangling):
        done = groupify("report", "plan.json", "--markdown", str(path), cwd=plan_dir)
        assert done.returncode == 0, done.stderr
        assert path.is_symlink()
        assert path.resolve().read_text(encoding="utf-8").startswith(REPORT_TITLE + "\n")
    assert sorted(p.name for p in target.parent.iterdir()) == ["change-42.md", "change-43.md"]


def test_device_is_written_through(tmp_path: Path) -> None:
    """A character device (here behind a symlink) is written, never replaced."""
    from groupify._files import write_atomic

    link = tmp_path / "null"
    link.symlink_to(os.devnull)
    assert write_atomic(link, "gone\n") is False
    assert write_atomic(os.devnull, "gone\n") is False
    assert link.is_symlink() and Path(os.devnull).is_char_device()
    assert write_atomic(tmp_path / "file.md", "kept\n") is True
    assert (tmp_path / "file.md").read_text(encoding="utf-8") == "kept\n"


# -- text tables: whole when piped, fitted on a terminal -------------------------------


def test_cells_are_whole_when_not_a_terminal(
    in_tmp: Path,  # noqa: F811 (a fixture)
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Piped (here: captured), no cell is cut: every direct policy of a user is listed."""
    assert main(["scan", "--from-gaad", EXAMPLE.name]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    line = next(x for x in out.splitlines() if x.startswith("alice.okafor "))
    assert line.endswith(
        "AWSLambda_FullAccess, AmazonDynamoDBFullAccess, AmazonS3ReadOnlyAccess, "
        "CloudFrontFullAccess, CloudWatchLogsReadOnlyAccess"
    )


def on_a_terminal(argv: list[str], cwd: Path, columns: int) -> str:
    """What the command prints on a terminal *columns* wide (a pty)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    child = subprocess.Popen(
        [sys.executable, "-m", "groupify", *argv],
        cwd=cwd,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert child.wait(60) == 0
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_tables_fit_the_terminal(plan_dir: Path) -> None:
    """On a terminal 90 columns wide, table lines fit, cut cells end in '…', and there is
    no colour (no escape sequence at all)."""
    out = on_a_terminal(["scan", "--from-gaad", EXAMPLE.name], plan_dir, 90)
    table = out[out.index("user ") :]
    assert all(len(line) < 90 for line in table.splitlines())
    assert "…" in table
    assert "\x1b" not in out
    line = next(x for x in table.splitlines() if x.startswith("alice.okafor "))
    assert line.startswith("alice.okafor") and line.endswith("…")


def test_table_wide_never_cuts() -> None:
    """width cuts the widest columns first, to one cap; wide=True (--wide) never cuts."""
    rows = [["a" * 10, "b" * 80, "c" * 40]]
    fitted = text.table(["x", "y", "z"], rows, width=60).splitlines()
    assert all(len(line) <= 60 for line in fitted)
    cells = re.split(r"\s{2,}", fitted[2])
    assert cells[0] == "a" * 10  # the narrow column stays whole
    assert cells[1].endswith("…") and cells[2].endswith("…")
    assert len(cells[1]) == len(cells[2])  # both cut to the same cap
    whole = text.table(["x", "y", "z"], rows, width=60, wide=True).splitlines()
    assert whole[2].split() == rows[0]


def test_fit_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """The terminal's width on a terminal, None (whole cells) otherwise or with wide."""

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("COLUMNS", "77")
    assert text.fit_width(Tty()) == 76  # type: ignore[arg-type]
    assert text.fit_width(Tty(), wide=True) is None  # type: ignore[arg-type]
    assert text.fit_width(open(os.devnull)) is None  # noqa: SIM115


# -- one wording for a step that removes a direct grant --------------------------------


def test_dry_run_names_the_replacing_group(
    in_tmp: Path,  # noqa: F811 (a fixture)
    embedded_iam: None,  # noqa: F811 (a fixture)
    capsys: pytest.CaptureFixture[str],
) -> None:
    """apply --dry-run's table calls a removal 'removes a direct grant' and names the
    group giving the same policy; 'removes access' and 'destructive' appear nowhere."""
    assert main(["plan", "--exclude-tag", "BreakGlass", "--out", "plan.json"]) == 0
    capsys.readouterr()
    assert main(["apply", "plan.json", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "removes access" not in out and "destructive" not in out.lower()
    header = next(x for x in out.splitlines() if x.startswith("step "))
    assert header.split("  ")[-1].strip() == "removes a direct grant"
    row = next(x for x in out.splitlines() if " detach_user_policy " in x and "aisha.becker" in x)
    assert row.endswith("yes, replaced by group platform-developer")
    assert "remove a direct grant, each after the group replacing it is in place" in out
