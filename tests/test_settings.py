"""The one Settings object: flat variables into typed sections, the README's table, errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.child_process import run_child
from zoomq.errors import ConfigurationError
from zoomq.settings import (
    DEFAULT_CONNECTIONS_FILE,
    HttpSettings,
    QueueSettings,
    ReceiverSettings,
    Settings,
    env_name,
    env_vars,
)

REPO = Path(__file__).resolve().parents[1]
ZOOMQ = [sys.executable, "-c", "from zoomq.cli import main; main()"]
_ROW = re.compile(r"^\| (`[A-Z0-9_]+`(?:, `[A-Z0-9_]+`)*) \| ([^|]+) \|")


def _at(settings: Settings, path: tuple[str, ...]) -> Any:
    value: Any = settings
    for part in path:
        value = getattr(value, part)
    return value


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No variable Settings reads is set, and the working directory has no .env."""
    for name in env_vars():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def readme_table() -> dict[str, str]:
    """Variable -> default, from the README's configuration table."""
    rows: dict[str, str] = {}
    text = (REPO / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        found = _ROW.match(line)
        if found:
            default = found.group(2).strip()
            for name in re.findall(r"`([A-Z0-9_]+)`", found.group(1)):
                assert name not in rows, f"{name} is documented twice"
                rows[name] = default.strip("`")
    return rows


def test_every_variable_is_documented_and_every_documented_one_exists() -> None:
    """The README's table and the model list the same variables, both ways."""
    documented, declared = set(readme_table()), set(env_vars())
    assert declared - documented == set(), "missing from the README"
    assert documented - declared == set(), "stale in the README"


def test_the_readme_defaults_are_the_model_defaults(clean: pytest.MonkeyPatch) -> None:
    """Each documented default, set as its variable, gives the model's default value."""
    defaults = Settings()
    for name, default in readme_table().items():
        path, value = env_vars()[name]
        if default == "—":
            assert value in (None, ()), f"{name}: the README says none, the model {value!r}"
            continue
        clean.setenv(name, default)
        assert _at(Settings(), path) == _at(defaults, path), f"{name}: README says {default}"
        clean.delenv(name)


def _other_value(default: Any, field_type: Any) -> str:
    if isinstance(default, bool):
        return str(not default).lower()
    if isinstance(default, int | float):
        return str(default + 7)
    if isinstance(default, str):
        return default + "x"
    if field_type == tuple[str, ...]:
        return "a.b, c"
    return "/some/where.toml"


@pytest.mark.parametrize("section", [HttpSettings, ReceiverSettings, QueueSettings])
def test_each_flat_variable_reaches_its_typed_field(
    clean: pytest.MonkeyPatch, section: type[Any]
) -> None:
    """ZOOMQ_VISIBILITY_TIMEOUT=... is settings.queue.visibility_timeout, and so on."""
    for name, (path, default) in env_vars().items():
        if len(path) != 2 or _at(Settings(), path[:1]).__class__ is not section:
            continue
        field_type = section.model_fields[path[1]].annotation
        raw = _other_value(default, field_type)
        clean.setenv(name, raw)
        got = _at(Settings(), path)
        assert got != default, name
        expected = section.model_validate({path[1]: raw})
        assert got == getattr(expected, path[1]), name
        clean.delenv(name)


def test_sections_can_be_built_directly() -> None:
    """Tests and embedders pass a section model; its rules still hold."""
    settings = Settings(
        _env_file=None, queue=QueueSettings(visibility_timeout=6, task_time_limit=3)
    )
    assert settings.queue.visibility_timeout == 6
    assert settings.queue.max_countdown == 3
    assert settings.queue.task_soft_time_limit == 2
    with pytest.raises(ValidationError, match="ZOOMQ_TASK_TIME_LIMIT"):
        QueueSettings(visibility_timeout=6, task_time_limit=6)
    with pytest.raises(ValidationError, match="nonsense"):
        HttpSettings(nonsense=1)  # type: ignore[call-arg]


def test_a_bad_value_names_its_variable(clean: pytest.MonkeyPatch) -> None:
    """A validation error's location maps back to the variable that was set."""
    clean.setenv("ZOOMQ_WEBHOOK_TOLERANCE", "-1")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert [env_name(e["loc"]) for e in caught.value.errors()] == ["ZOOMQ_WEBHOOK_TOLERANCE"]


def test_the_env_file_is_read_and_the_environment_wins(
    clean: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """.env fills sections too; a variable in the environment overrides it."""
    (tmp_path / ".env").write_text(
        "ZOOMQ_HTTP_MAX_WAIT=2.5\nZOOMQ_VISIBILITY_TIMEOUT=4000\nREDIS_URL=redis://h:1/2\n"
        "UNRELATED=1\n"
    )
    clean.setenv("ZOOMQ_VISIBILITY_TIMEOUT", "5000")
    settings = Settings()
    assert settings.http.max_wait == 2.5
    assert settings.queue.visibility_timeout == 5000
    assert settings.redis_url == "redis://h:1/2"
    assert Settings(_env_file=None).http.max_wait == HttpSettings().max_wait


def test_a_variable_named_like_a_section_is_not_read(clean: pytest.MonkeyPatch) -> None:
    """HTTP=..., QUEUE=... are someone else's: they neither fail nor configure."""
    clean.setenv("QUEUE", "not json")
    clean.setenv("HTTP", '{"max_wait": 1}')
    assert Settings().http.max_wait == HttpSettings().max_wait


@pytest.mark.parametrize("url", ["notaurl", "http://127.0.0.1:6379", "127.0.0.1:6379"])
def test_redis_url_needs_a_redis_scheme(url: str) -> None:
    with pytest.raises(ValidationError, match="redis://"):
        Settings(_env_file=None, redis_url=url)


@pytest.mark.parametrize("url", ["redis://h:1/0", "rediss://h:1/0", "unix:///tmp/r.sock"])
def test_redis_url_schemes_that_redis_py_reads(url: str) -> None:
    assert Settings(_env_file=None, redis_url=url).redis_url == url


def test_the_default_connections_file_is_read_only_if_present(clean: pytest.MonkeyPatch) -> None:
    """Unset, ZOOMQ_CONNECTIONS_FILE is zoomq-connections.json: absent means none."""
    assert Settings().zoomq_connections_file == DEFAULT_CONNECTIONS_FILE
    assert Settings().connections() == {}
    DEFAULT_CONNECTIONS_FILE.write_text(
        '[{"name": "a", "account_id": "x", "client_id": "c", "client_secret": "real-one"}]'
    )
    assert list(Settings().connections()) == ["a"]


def test_an_explicit_connections_file_must_exist(clean: pytest.MonkeyPatch) -> None:
    """A set ZOOMQ_CONNECTIONS_FILE that is not there is a mistake, said as such."""
    clean.setenv("ZOOMQ_CONNECTIONS_FILE", "missing.json")
    with pytest.raises(ConfigurationError, match=r"ZOOMQ_CONNECTIONS_FILE: missing.json"):
        Settings().connections()


# -- the CLI's exits ------------------------------------------------------------------------


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean_env = {k: v for k, v in os.environ.items() if k not in env_vars()}
    clean_env.update(PYTHONPATH=str(REPO), **env)
    return run_child([*ZOOMQ, *args], env=clean_env, cwd=tmp_path)


@pytest.mark.parametrize(
    ("env", "args", "named"),
    [
        (
            {"REDIS_URL": "notaurl"},
            ("action", "getUser", "--input", '{"userId": "me"}'),
            "setting REDIS_URL",
        ),
        ({"ZOOM_API_HOSTS": "notjson"}, ("action", "--list"), "ZOOM_API_HOSTS"),
        (
            {"ZOOMQ_CONNECTIONS_FILE": "nowhere.json"},
            ("action", "getUser", "--input", '{"userId": "me"}'),
            "ZOOMQ_CONNECTIONS_FILE: nowhere.json does not exist",
        ),
        (
            {"ZOOMQ_VISIBILITY_TIMEOUT": "60"},
            ("action", "getUser", "--input", '{"userId": "me"}'),
            "ZOOMQ_TASK_TIME_LIMIT (1800) must be below ZOOMQ_VISIBILITY_TIMEOUT (60)",
        ),
        ({"ZOOMQ_MAX_RETRIES": "many"}, ("dlq", "list"), "ZOOMQ_MAX_RETRIES"),
    ],
)
def test_a_bad_setting_exits_2_naming_it(
    tmp_path: Path, env: dict[str, str], args: tuple[str, ...], named: str
) -> None:
    done = run(tmp_path, *args, **env)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_connections_add_then_list_use_the_same_default_file(tmp_path: Path) -> None:
    """Without ZOOMQ_CONNECTIONS_FILE, what `connections add` writes is what is read."""
    added = run(
        tmp_path,
        *("connections", "add", "team", "--account-id", "acct", "--client-id", "cid"),
        *("--client-secret", "a-real-secret"),
    )
    assert added.returncode == 0, added.stderr
    assert (tmp_path / DEFAULT_CONNECTIONS_FILE).exists()
    listed = run(tmp_path, "connections", "list", REDIS_URL="redis://127.0.0.1:1/0")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("team\tserver_to_server\taccount=acct")


def test_the_server_freezes_the_collector_unless_told_not_to(clean: pytest.MonkeyPatch) -> None:
    """`zoomq receiver` turns gc_freeze on by default; ZOOMQ_GC_FREEZE=false keeps it off."""
    from receiver.app import server_config

    assert Settings().receiver.gc_freeze is False
    assert server_config(Settings()).gc_freeze is True
    clean.setenv("ZOOMQ_GC_FREEZE", "false")
    assert server_config(Settings()).gc_freeze is False


def test_a_keyword_that_names_no_field_is_refused() -> None:
    """An old flat name in code is an error, not a silent fall-back to the default."""
    with pytest.raises(TypeError, match="zoomq_max_retries"):
        Settings(_env_file=None, zoomq_max_retries=2)


def test_an_archive_destination_of_another_scheme_is_refused() -> None:
    """ZOOMQ_ARCHIVE_DEST=ftp://x is an error naming it, not a local folder named ftp:."""
    from zoomq.settings import ArchiveSettings

    with pytest.raises(ValidationError, match="not ftp://"):
        ArchiveSettings(dest="ftp://x")
    assert ArchiveSettings(dest="s3://bucket/p").dest == "s3://bucket/p"


def test_a_blank_s3_endpoint_means_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """ZOOMQ_ARCHIVE_S3_ENDPOINT_URL= (as compose writes an unset variable) is no endpoint."""
    monkeypatch.setenv("ZOOMQ_ARCHIVE_S3_ENDPOINT_URL", "")
    monkeypatch.setenv("ZOOMQ_ARCHIVE_S3_REGION", " ")
    archive = Settings(_env_file=None).archive
    assert archive.s3_endpoint_url is None
    assert archive.s3_region is None


def test_a_bad_redis_url_is_named_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The message names REDIS_URL and shows its scheme problem, never the password."""
    monkeypatch.setenv("REDIS_URL", "http://:SuperS3cretPW@redis:6379/0")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert "SuperS3cretPW" not in str(caught.value)
    assert "http://:[redacted]@redis:6379/0" in str(caught.value)


@pytest.mark.parametrize(
    "url", ["redis://:changeme@redis:6379/0", "redis://default:CHANGEME@redis:6379/0"]
)
def test_a_placeholder_redis_password_is_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """A demo Secret's `changeme` in REDIS_URL stops the process instead of running on it."""
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(_env_file=None)


def test_any_placeholder_among_rotating_webhook_secrets_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each comma-separated webhook secret is checked, not only the whole string."""
    monkeypatch.setenv("ZOOM_WEBHOOK_SECRET_TOKEN", "a-real-token,changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(_env_file=None)
