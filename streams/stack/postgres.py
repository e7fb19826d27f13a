"""The local PostgreSQL cluster of ``nezlam stack up|down|status``.

A private cluster under ``settings.state_dir / "postgres"`` (git-ignored; under
``/var/lib/nezlam`` when the checkout sits below a directory the ``postgres`` user cannot
enter, such as ``/root``), run with Debian's
PostgreSQL binaries on ``settings.pg_port``, so it never touches a system cluster. It is for
local development only and listens on loopback alone. Production runs the official TimescaleDB
image.

Authentication: every TCP connection logs in with ``scram-sha-256`` and a password generated at
the first ``up`` (``streams.stack.pgpass``; the settings hand the passfile to libpq). The
superuser logs in over the unix socket alone, by peer authentication mapped from the OS user
that runs ``nezlam stack up``: no password of it exists and no TCP login as it is accepted.
``up`` also creates the pipeline's roles with their passwords and the database, owned by
``nezlam_owner`` (the role migrations run as).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import time
from pathlib import Path

import click
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from streams.stack import pgpass
from streams.stack.settings import StackSettings as Settings

SUPERUSER = "postgres"
# Debian's package creates this OS user; initdb and postgres refuse to run as root.
OS_USER = "postgres"
READY_TIMEOUT_S = 60.0

# Written on every `up`, so a changed value applies at the next start. Values for a 2-core dev
# box; durability settings (fsync, synchronous_commit, full_page_writes) stay at their safe
# defaults on purpose: the sink's at-least-once writes rely on a commit being a commit.
SERVER_CONF = """\
# Managed by `nezlam stack up` (streams/stack/postgres.py); edits are overwritten.
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 100
shared_buffers = 256MB
# Ingest writes steadily; a larger WAL budget spaces out checkpoints.
max_wal_size = 2GB
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
"""

# First match wins. The superuser: the unix socket only, as the OS users of IDENT_CONF. Every
# other role: a password (SCRAM) over loopback or the socket. Nothing else may connect.
HBA_CONF = """\
# Managed by `nezlam stack up`: local development, loopback and socket only.
local   all   {superuser}                 peer map=nezlam
host    all   {superuser}   all           reject
local   all   all                         scram-sha-256
host    all   all           127.0.0.1/32  scram-sha-256
host    all   all           ::1/128       scram-sha-256
"""

# Which OS users may log in as the superuser over the socket: the one running the stack (the
# developer, or root on a CI machine) and the cluster's own OS user.
IDENT_CONF = """\
# Managed by `nezlam stack up`.
nezlam   {os_user}   {superuser}
nezlam   {server_user}   {superuser}
"""


# Session defaults of the roles, as migration 001 sets them where it may manage roles (the
# schema owner may not: it has no CREATEROLE).
ROLE_SETTINGS = {
    pgpass.ANALYST: {"default_transaction_read_only": "on", "statement_timeout": "5min",
                     "jit": "off"},
    # Migration 015: JIT compiling costs more than the dashboards' short queries.
    pgpass.READER: {"jit": "off"},
}

# Tables, views and functions the superuser created in schema public pass to the owner role.
REASSIGN_TO_OWNER = """
DO $$
DECLARE
    object record;
BEGIN
    FOR object IN
        SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
               format('%I.%I', n.nspname, c.relname) AS name
        FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND pg_get_userbyid(c.relowner) <> 'nezlam_owner'
          -- sequences owned by a table's column follow their table
          AND NOT EXISTS (SELECT FROM pg_depend AS d WHERE d.objid = c.oid AND d.deptype = 'a'
                          AND c.relkind = 'S')
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO nezlam_owner', object.kind, object.name);
    END LOOP;
    FOR object IN
        SELECT 'FUNCTION' AS kind, p.oid::regprocedure::text AS name
        FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> 'nezlam_owner'
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO nezlam_owner', object.name);
    END LOOP;
END
$$;
"""


class _Paths:
    """Where the cluster keeps its files."""

    def __init__(self, settings: Settings) -> None:
        self.root = _cluster_root(settings.state_dir)
        self.data = self.root / "data"
        self.socket_dir = self.root / "run"
        self.log = self.root / "postgres.log"


# Where the cluster lives when the postgres OS user cannot reach the state dir (a checkout
# below a private directory such as /root or a mktemp dir): one directory per state dir.
FALLBACK_ROOT = Path("/var/lib/nezlam")


def _cluster_root(state_dir: Path) -> Path:
    """``state_dir/postgres``, unless we are root and an ancestor of the state dir is closed to
    other users: the server runs as ``postgres`` and must traverse every parent directory."""
    preferred = state_dir / "postgres"
    if os.geteuid() != 0:
        return preferred
    ancestors = [p for p in state_dir.resolve().parents if p.exists()]
    if all(p.stat().st_mode & stat.S_IXOTH for p in ancestors):
        return preferred
    digest = hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:12]
    return FALLBACK_ROOT / f"postgres-{digest}"


def up(settings: Settings) -> None:
    """Install PostgreSQL if needed, create and start the cluster, create the database."""
    paths = _Paths(settings)
    bin_dir = _ensure_installed()
    _prepare_dirs(paths)
    if not (paths.data / "PG_VERSION").exists():
        click.echo(f"postgres: initdb {paths.data}")
        _initdb(bin_dir, paths)
    _write_config(paths, settings.pg_port)
    if _is_running(bin_dir, paths):
        click.echo(f"postgres: already running on port {settings.pg_port}")
        # Authentication rules rewritten above (a cluster from before passwords trusted every
        # local login) apply from now on, not at the next restart.
        _pg_ctl(bin_dir, paths, "reload")
    else:
        click.echo(f"postgres: starting on port {settings.pg_port} (log {paths.log})")
        _pg_ctl(
            bin_dir, paths, "start", "-w", "-t", str(int(READY_TIMEOUT_S)), "-l", str(paths.log)
        )
    _wait_ready(settings)
    _create_roles(settings)
    _create_database(settings)


def down(settings: Settings) -> None:
    """Stop the cluster (fast shutdown: roll back open transactions, then checkpoint)."""
    paths = _Paths(settings)
    bin_dir = _find_bin_dir()
    if bin_dir is None or not _is_running(bin_dir, paths):
        click.echo("postgres: not running")
        return
    click.echo("postgres: stopping")
    _pg_ctl(bin_dir, paths, "stop", "-m", "fast", "-w")


def status(settings: Settings) -> list[str]:
    """One line describing the cluster: running or not, pid, port, data dir and version."""
    paths = _Paths(settings)
    bin_dir = _find_bin_dir()
    if bin_dir is None:
        return ["postgres: not installed"]
    if not (paths.data / "PG_VERSION").exists():
        return [f"postgres: not initialised ({paths.data})"]
    if not _is_running(bin_dir, paths):
        return [f"postgres: stopped (data dir {paths.data})"]
    pid = (paths.data / "postmaster.pid").read_text().split("\n", 1)[0]
    return [
        f"postgres: running, pid {pid}, port {settings.pg_port}, data dir {paths.data}, "
        f"version {_server_version(settings)}"
    ]


def _find_bin_dir() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<major>/bin``, if any."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        return None
    newest = max(found, key=lambda p: int(Path(p).parent.parent.name))
    return Path(newest).parent


def _ensure_installed() -> Path:
    bin_dir = _find_bin_dir()
    if bin_dir is not None:
        return bin_dir
    click.echo("postgres: not installed; installing Debian's postgresql with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    bin_dir = _find_bin_dir()
    if bin_dir is None:
        raise click.ClickException("postgresql installed but no initdb under /usr/lib/postgresql")
    return bin_dir


def _as_owner(cmd: list[str]) -> list[str]:
    """Run ``cmd`` as the cluster's OS user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", OS_USER, "--", *cmd]


def _prepare_dirs(paths: _Paths) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    for directory in (paths.root.parent, paths.root):
        # The postgres OS user must traverse into its data dir below our state dir.
        directory.chmod(directory.stat().st_mode | 0o011)
    paths.data.mkdir(mode=0o700, exist_ok=True)
    # Readable so other local users can reach the socket; the data dir stays private.
    paths.socket_dir.mkdir(mode=0o755, exist_ok=True)
    paths.log.touch(exist_ok=True)
    if os.geteuid() == 0:
        for path in (paths.data, paths.socket_dir, paths.log):
            shutil.chown(path, user=OS_USER, group=OS_USER)
        probe = subprocess.run(_as_owner(["test", "-x", str(paths.root)]), check=False)
        if probe.returncode != 0:
            raise click.ClickException(
                f"OS user {OS_USER} cannot reach {paths.root}: make its parent dirs traversable"
            )


def _initdb(bin_dir: Path, paths: _Paths) -> None:
    cmd = [
        str(bin_dir / "initdb"),
        "-D", str(paths.data),
        "-U", SUPERUSER,
        "--auth-local=peer",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
    ]  # fmt: skip
    subprocess.run(_as_owner(cmd), check=True, stdout=subprocess.DEVNULL)
    conf = paths.data / "postgresql.conf"
    with conf.open("a") as handle:
        handle.write("\ninclude_if_exists = 'nezlam.conf'\n")


def _write_config(paths: _Paths, port: int) -> None:
    (paths.data / "nezlam.conf").write_text(
        SERVER_CONF.format(port=port, socket_dir=paths.socket_dir)
    )
    (paths.data / "pg_hba.conf").write_text(HBA_CONF.format(superuser=SUPERUSER))
    # The effective user, not $USER (which sudo or a container may leave at another name).
    os_user = pwd.getpwuid(os.geteuid()).pw_name
    server_user = OS_USER if os.geteuid() == 0 else os_user
    (paths.data / "pg_ident.conf").write_text(
        IDENT_CONF.format(os_user=os_user, server_user=server_user, superuser=SUPERUSER)
    )
    if os.geteuid() == 0:
        for name in ("nezlam.conf", "pg_hba.conf", "pg_ident.conf"):
            shutil.chown(paths.data / name, user=OS_USER, group=OS_USER)


def _pg_ctl(bin_dir: Path, paths: _Paths, *args: str) -> None:
    cmd = [str(bin_dir / "pg_ctl"), "-D", str(paths.data), *args]
    subprocess.run(_as_owner(cmd), check=True, stdout=subprocess.DEVNULL)


def _is_running(bin_dir: Path, paths: _Paths) -> bool:
    if not (paths.data / "PG_VERSION").exists():
        return False
    cmd = [str(bin_dir / "pg_ctl"), "-D", str(paths.data), "status"]
    result = subprocess.run(_as_owner(cmd), check=False, capture_output=True)
    return result.returncode == 0


def _superuser_conninfo(settings: Settings, dbname: str) -> str:
    """The superuser over the unix socket (peer authentication; refused over TCP)."""
    return make_conninfo(
        host=str(_Paths(settings).socket_dir), port=settings.pg_port, user=SUPERUSER,
        dbname=dbname, connect_timeout=5,
    )


def _wait_ready(settings: Settings) -> None:
    """Block until a real connection succeeds; pg_ctl -w only watches the pid file."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            with psycopg.connect(_superuser_conninfo(settings, "postgres")):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _database_name(settings: Settings) -> str:
    """The database the pipeline uses: the one named in the admin DSN."""
    return str(conninfo_to_dict(settings.admin_database_url).get("dbname", "nezlam"))


def _create_roles(settings: Settings) -> None:
    """Create the pipeline's login roles and set their passwords from the passfile (generating
    them at the first ``up``), so the server and the file always agree."""
    passwords = pgpass.ensure_passwords(settings.pg_passfile)
    with psycopg.connect(_superuser_conninfo(settings, "postgres"), autocommit=True) as conn:
        for role in pgpass.ROLES:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            if exists is None:
                click.echo(f"postgres: creating role {role}")
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            # Sent as a literal inside the statement, never logged: log_statement is off.
            conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(passwords[role])))
        for role, settings_of_role in ROLE_SETTINGS.items():
            for name, value in settings_of_role.items():
                conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(
                    sql.Identifier(role), sql.Identifier(name), sql.Literal(value)))
        # Local only: the tests create throwaway databases as the schema owner. No CREATEROLE:
        # the roles exist before any migration runs.
        conn.execute(sql.SQL("ALTER ROLE {} CREATEDB").format(sql.Identifier(pgpass.OWNER)))


def _create_database(settings: Settings) -> None:
    name = _database_name(settings)
    owner = sql.Identifier(pgpass.OWNER)
    database = sql.Identifier(name)
    with psycopg.connect(_superuser_conninfo(settings, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists is None:
            click.echo(f"postgres: creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, owner))
        else:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, owner))
    _hand_schema_to_owner(settings, name)


def _hand_schema_to_owner(settings: Settings, dbname: str) -> None:
    """Give ``nezlam_owner`` what a stack from before the owner role migrated as the superuser,
    so that ``nezlam db migrate`` (now run as the owner) can carry on; a no-op otherwise."""
    with psycopg.connect(_superuser_conninfo(settings, dbname), autocommit=True) as conn:
        conn.execute(REASSIGN_TO_OWNER)


def _server_version(settings: Settings) -> str:
    try:
        with psycopg.connect(_superuser_conninfo(settings, "postgres")) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.OperationalError as exc:
        return f"unknown (not accepting connections: {exc})"
    return str(row[0]) if row else "unknown"
