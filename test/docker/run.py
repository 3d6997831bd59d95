#!/usr/bin/env python3
"""`make docker-test`: the container image, built and run the way users run it.

Builds docker/Dockerfile with podman, then runs the image against a private
PostgreSQL started on the host: the database's socket directory is shared
with the container as a bind mount, the sidecar's socket lives on a named
volume (as in docker/docker-compose.yml), and the test reaches that socket
through the volume's directory on the host. Checks: the image's shape
(non-root, size, healthcheck, exec-form entrypoint, runtime libraries only,
OCI labels), the error line when no database is configured at all, starting
before the database, rows sent through the container's socket landing in the
database, an application container running as another user (the compose
file's bench writer among them), a restart after SIGKILL (stale socket on the
volume), and `podman stop` draining pending rows.
Then docker/docker-compose.yml itself under podman-compose (compose_stack):
the stack comes up with test/docker/compose.podman-test.yml as override (the
image built here; for PostgreSQL a stand-in built from Debian's packages,
test/docker/postgres.Dockerfile, as the official image cannot be pulled
here), the writer's `pgcoalesce-cli bench` finishes with every row in the
database, and `podman-compose down` drains rows still pending.

Prints one line per check and ends with "docker: N passed, N failed"; prints
"docker: skipped: REASON" and exits 0 where podman or the local base image is
missing (scripts/podman-base.sh makes it), and "skip docker.compose_stack:
REASON" where podman-compose is. The PostgreSQL stand-in image is kept
between runs (tagged with a hash of its two files; about a minute and a half
to build), the other images, containers, volumes and networks are removed.

Environment:
  PGC_PODMAN        the podman command line (default: podman with runc and
                    cgroupfs, which is what works on these machines)
  PGC_PODMAN_ULIMITS  ulimit flags for build and run (the defaults cannot be
                    raised in this sandbox)
  PGC_IMAGE         the tag to build (default pgcoalesce:test-PID)
  PGC_PODMAN_COMPOSE  the podman-compose command (default podman-compose); it is
                    given PGC_PODMAN's flags and the ulimits
  PGC_KEEP=1        keep containers, volumes and the temporary directory
  PGC_REQUIRE_DOCKER=1  fail instead of skipping (CI, where .ci/run sets podman up)
"""
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402
from harness import Failure, insert, wait_for  # noqa: E402

PODMAN = shlex.split(os.environ.get("PGC_PODMAN", "podman --runtime runc --cgroup-manager=cgroupfs"))
ULIMITS = shlex.split(os.environ.get("PGC_PODMAN_ULIMITS",
                                     "--ulimit nofile=10000:10000 --ulimit nproc=4096:4096"))
# one tag per run: two runs on one machine must not build over each other's image
IMAGE = os.environ.get("PGC_IMAGE", "pgcoalesce:test-%d" % os.getpid())
COMPOSE = shlex.split(os.environ.get("PGC_PODMAN_COMPOSE", "podman-compose"))
ROOT = os.path.dirname(os.path.dirname(HERE))
COMPOSE_FILES = [os.path.join(ROOT, "docker", "docker-compose.yml"),
                 os.path.join(HERE, "compose.podman-test.yml")]
STANDIN_REPO = "localhost/pgcoalesce-test-postgres"
WRITER_ROWS = 100000       # the writer's --rows in docker/docker-compose.yml
BASE = "docker.io/library/debian:bookworm-slim"
MAX_IMAGE_BYTES = 150 * 1000 * 1000
APP_GID = "10001"          # the image's pgcoalesce group (docker/Dockerfile)
DBNAME = "pgc_docker"


def podman(*args, check=True, timeout=600, input=None):
    p = subprocess.run(PODMAN + list(args), capture_output=True, text=True, timeout=timeout,
                       input=input)
    if check and p.returncode != 0:
        raise Failure("podman %s failed (%d):\n%s%s" % (" ".join(args[:3]), p.returncode,
                                                        p.stdout[-3000:], p.stderr[-3000:]))
    return p


class Skip(Exception):
    """A check that cannot run here (a tool is missing); the message says which."""


def skip_reason():
    if shutil.which(PODMAN[0]) is None:
        return "podman not found (apt-get install podman runc; then scripts/podman-base.sh)"
    if podman("image", "exists", BASE, check=False).returncode != 0:
        return "no local %s image (run scripts/podman-base.sh as root)" % BASE
    return None


class Env:
    """What the checks share: the host cluster, the temp dir, what to clean up."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="pgcoalesce-docker.")
        os.chmod(self.tmp, 0o755)
        # The cluster's directory holds its socket: it is what the container mounts.
        self.cluster = harness.Cluster(os.path.join(self.tmp, "pg"))
        self.containers = []
        self.volumes = []
        self.serial = 0
        self.built = False
        self.tag = "pgc-docker-%d" % os.getpid()
        self.compose_project = None

    @property
    def db(self):
        return harness.Database(self.cluster, DBNAME)

    def container_dsn(self):
        return "host=/run/postgresql port=%d dbname=%s user=%s" % (
            self.cluster.port, DBNAME, self.cluster.user)

    def new_volume(self):
        self.serial += 1
        name = "%s-%d" % (self.tag, self.serial)
        podman("volume", "create", name)
        self.volumes.append(name)
        return name

    def sidecar(self, env=(), volume=None, no_database=False):
        """Start the image detached as the sidecar; returns a Sidecar."""
        volume = volume or self.new_volume()
        self.serial += 1
        name = "%s-%d" % (self.tag, self.serial)
        args = ["run", "-d", "--name", name, "--network=none"] + ULIMITS + [
            "-v", "%s:/run/pgcoalesce" % volume]
        if not no_database:
            args += ["-v", "%s:/run/postgresql" % self.cluster.dir,
                     "-e", "DATABASE_URL=%s" % self.container_dsn()]
        for kv in env:
            args += ["-e", kv]
        podman(*(args + [IMAGE]))
        self.containers.append(name)
        mount = podman("volume", "inspect", "--format", "{{.Mountpoint}}", volume).stdout.strip()
        return Sidecar(name, volume, os.path.join(mount, "pgcoalesce.sock"))

    def cleanup(self):
        if os.environ.get("PGC_KEEP") == "1":
            print("docker: kept containers %s, volumes %s, %s" % (
                self.containers, self.volumes, self.tmp), flush=True)
            return
        if self.compose_project:
            compose_down_everything(self.compose_project)
        for c in self.containers:
            podman("rm", "-f", "-v", "-t", "0", c, check=False)
        for v in self.volumes:
            podman("volume", "rm", "-f", v, check=False)
        if self.built:
            podman("rmi", "-f", IMAGE, check=False)
        self.cluster.stop("immediate")
        shutil.rmtree(self.tmp, ignore_errors=True)


class Sidecar:
    def __init__(self, name, volume, socket_path):
        self.name = name
        self.volume = volume
        self.socket = socket_path

    def client(self):
        wait_for(lambda: os.path.exists(self.socket) or self.dead(), 30,
                 what="the container's socket %s" % self.socket)
        if self.dead():
            raise Failure("the container exited:\n%s" % self.logs())
        return harness.Client(self.socket)

    def dead(self):
        return self.state("{{.State.Running}}") != "true"

    def state(self, fmt):
        return podman("inspect", "--format", fmt, self.name).stdout.strip()

    def logs(self):
        p = podman("logs", self.name, check=False)
        return p.stdout + p.stderr

    def ping(self):
        c = self.client()
        try:
            return c.request({"op": "ping", "id": "p"})
        finally:
            c.close()

    def wait_db_up(self):
        """Wait until the sidecar answers ping with "db":"up" (a refused or
        reset connection while it starts counts as not yet)."""
        def up():
            try:
                return self.ping().get("db") == "up"
            except OSError:
                return False
        wait_for(up, 60, interval=0.2, what="the container to reach the database")


# ---------------------------------------------------------------- checks

def makefile_version():
    return subprocess.run(["make", "-s", "-C", ROOT, "version"], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def check_image_builds(env):
    # --format docker: OCI images have no HEALTHCHECK; docker's format keeps it.
    # --layers=false: no cached stage images left behind (each is ~300 MB);
    # the image itself is removed at the end.
    env.built = True
    podman("build", "--pull=never", "--network=host", "--format", "docker", "--layers=false",
           *ULIMITS, "--build-arg", "VERSION=" + makefile_version(),
           "-t", IMAGE, "-f", os.path.join(ROOT, "docker", "Dockerfile"), ROOT, timeout=1200)


def check_image_shape(env):
    cfg = json.loads(podman("image", "inspect", IMAGE).stdout)[0]
    conf = cfg["Config"]
    size = int(cfg["Size"])
    print("     image %s: %.1f MB" % (IMAGE, size / 1e6), flush=True)
    assert size < MAX_IMAGE_BYTES, "image is %d bytes, over %d" % (size, MAX_IMAGE_BYTES)
    user = conf.get("User", "")
    assert user and user.split(":")[0] not in ("", "0", "root"), "image user is %r" % user
    assert conf.get("Entrypoint") == ["pgcoalesce"], "entrypoint %r is not exec form" % (
        conf.get("Entrypoint"),)
    hc = cfg.get("Healthcheck") or conf.get("Healthcheck") or {}  # podman: top level
    assert hc.get("Test") == ["CMD", "pgcoalesce-cli", "-c", "\\ping"], "healthcheck %r" % hc
    assert conf.get("Env") and any(e == "PGCOALESCE_SOCKET=/run/pgcoalesce/pgcoalesce.sock"
                                   for e in conf["Env"]), conf.get("Env")
    assert "/run/pgcoalesce" in (conf.get("Volumes") or {}), conf.get("Volumes")
    labels = conf.get("Labels") or {}
    oci = "org.opencontainers.image."
    assert labels.get(oci + "version") == makefile_version(), labels
    assert labels.get(oci + "title") == "pgcoalesce", labels
    assert labels.get(oci + "licenses") == "NOASSERTION", labels   # the project states none
    assert "PostgreSQL" in labels.get(oci + "description", ""), labels
    assert oci + "source" in labels, labels
    out = podman("run", "--rm", "--network=none", "--no-healthcheck", *ULIMITS, "--entrypoint",
                 "sh", IMAGE, "-c",
                 "echo uid=$(id -u); echo bin=$(ls /usr/local/bin); "
                 "echo tools=$(for t in cc gcc make pkg-config; do command -v $t; done); "
                 "echo headers=$(ls -d /usr/include/postgresql /usr/include/ev.h 2>/dev/null)"
                 ).stdout
    seen = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert seen.get("uid") not in (None, "0"), "the container runs as uid %r" % seen.get("uid")
    assert seen.get("bin") == "pgcoalesce pgcoalesce-cli", "/usr/local/bin: %r" % seen.get("bin")
    assert seen.get("tools") == "" and seen.get("headers") == "", \
        "build tools or headers in the runtime image: %r" % seen


def check_no_database_configured(env):
    """The image started with no database at all (no DATABASE_URL, PGCOALESCE_DSN
    or PG* variable) says so in one error line, and still listens: ping answers
    with the database down."""
    sc = env.sidecar(no_database=True)
    ping = sc.ping()
    assert ping == {"id": "p", "ok": True, "db": "down", "features": ["describe", "on_conflict", "key"]}, ping
    errors = [l for l in sc.logs().splitlines() if "level=error" in l]
    assert len(errors) == 1 and 'msg="no database configured"' in errors[0], sc.logs()[-3000:]
    assert "DATABASE_URL" in errors[0] and "PGHOST" in errors[0], errors[0]
    podman("rm", "-f", "-t", "0", sc.name)
    env.containers.remove(sc.name)


def check_starts_before_database(env):
    """The sidecar comes up and answers ping (and its healthcheck) with the
    database down; once the database is there, rows go through."""
    sc = env.sidecar()
    env.main = sc
    ping = sc.ping()
    assert ping == {"id": "p", "ok": True, "db": "down", "features": ["describe", "on_conflict", "key"]}, ping
    hc = podman("healthcheck", "run", sc.name, check=False)
    assert hc.returncode == 0, "healthcheck failed with the database down: %s%s" % (
        hc.stdout, hc.stderr)

    env.cluster.start()
    harness.Database(env.cluster, "postgres").execute("CREATE DATABASE %s" % DBNAME)
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", env.db.dsn, "-f",
                    os.path.join(os.path.dirname(os.path.dirname(HERE)), "sql", "demo.sql")],
                   check=True, capture_output=True, timeout=60)
    sc.wait_db_up()
    assert env.db.count() == 0


def check_rows_through_the_socket(env):
    """Rows go through the volume's socket, whether or not the container's
    seccomp profile lets the sidecar use io_uring (podman's and Docker's
    defaults do not): the startup line says which, and why not. The
    scheduling policy (--sched-batch) is allowed."""
    sc = env.main
    listening = [l for l in sc.logs().splitlines() if 'msg="listening"' in l]
    assert len(listening) == 1, sc.logs()[-3000:]
    m = re.search(r'io_uring=("on"|"off \(io_uring_setup: [^"]+\)")', listening[0])
    assert m, listening[0]
    # the scheduling policy needs no capability, so a container allows it
    assert 'sched_batch="on"' in listening[0], listening[0]
    print("     in the container: io_uring=%s sched_batch=\"on\"" % m.group(1), flush=True)
    c = sc.client()
    n = 300
    c.send(*[insert(i, device_id=i, kind="docker", value="%d.25" % i) for i in range(n)])
    acks = c.by_id(c.recv_n(n))
    bad = [a for a in acks.values() if a != {"id": a["id"], "ok": True}]
    assert len(acks) == n and not bad, bad[:3]
    c.close()
    rows = env.db.rows("SELECT count(*) AS n, sum(device_id) AS s, sum(value) AS v "
                       "FROM events WHERE kind = 'docker'")
    assert rows == [{"n": n, "s": n * (n - 1) // 2, "v": n * (n - 1) // 2 + n * 0.25}], rows
    hc = podman("healthcheck", "run", sc.name, check=False)
    assert hc.returncode == 0, "healthcheck failed: %s%s" % (hc.stdout, hc.stderr)
    pid1 = podman("exec", sc.name, "cat", "/proc/1/comm").stdout.strip()
    assert pid1 == "pgcoalesce", "PID 1 in the container is %r, not the daemon" % pid1


def check_bench_writer(env):
    """The compose file's example writer: `pgcoalesce-cli bench` in its own
    container as another uid with gid 10001, on the socket volume."""
    sc = env.main
    before = env.db.count()
    n = 2000
    p = app(env, sc.volume, "20000:20000", [APP_GID],
            "bench", "--table", "events", "--clients", "4", "--rows", str(n))
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    print("     " + "\n     ".join(p.stdout.strip().splitlines()), flush=True)
    assert env.db.count() == before + n, (before, env.db.count())


def check_restart_after_kill(env):
    """Killed (no clean exit, the socket file stays on the volume) and started
    again, as `restart: unless-stopped` does: the new daemon replaces the
    stale socket and takes rows."""
    sc = env.main
    podman("kill", "--signal", "KILL", sc.name)
    wait_for(sc.dead, 30, what="the container to die")
    assert os.path.exists(sc.socket), "no stale socket left: the check tests nothing"
    podman("start", sc.name)
    sc.wait_db_up()
    c = sc.client()
    ack = c.request(insert(1, device_id=77, kind="after-restart"))
    c.close()
    assert ack == {"id": 1, "ok": True}, ack
    assert env.db.count(where="kind = 'after-restart'") == 1


def app(env, volume, user, groups=(), *cli_args):
    """pgcoalesce-cli in a separate container as an application would run it."""
    args = ["run", "--rm", "--network=none", "--no-healthcheck", *ULIMITS, "--user", user]
    for g in groups:
        args += ["--group-add", g]
    args += ["-v", "%s:/run/pgcoalesce" % volume, "--entrypoint", "pgcoalesce-cli", IMAGE]
    return podman(*(args + list(cli_args)), check=False, timeout=120)


def check_app_container_as_another_user(env):
    """An application container with another uid mounts the socket volume:
    with the sidecar's gid among its groups it connects; without, it cannot
    (the socket is 0660), which is what the README tells users."""
    sc = env.main
    req = json.dumps(insert(1, device_id=4242, kind="from-app"))
    p = app(env, sc.volume, "20000:20000", [APP_GID], "-c", req)
    assert p.returncode == 0 and json.loads(p.stdout) == {"id": 1, "ok": True}, (
        p.returncode, p.stdout, p.stderr)
    assert env.db.count(where="kind = 'from-app' AND device_id = 4242") == 1
    p = app(env, sc.volume, "20000:20000", (), "-c", "\\ping")
    assert p.returncode == 2 and "ermission denied" in p.stderr, (p.returncode, p.stdout, p.stderr)


def check_stop_drains_pending_rows(env):
    """Rows the sidecar holds (long deadline, no eager flush) are written when
    `podman stop` sends SIGTERM to PID 1; the container exits 0."""
    sc = env.sidecar(["PGCOALESCE_MAX_DELAY_MS=600000", "PGCOALESCE_EAGER_FLUSH=off",
                      "PGCOALESCE_MAX_BATCH_ROWS=100000"])
    sc.wait_db_up()
    c = sc.client()
    n = 500
    c.send(*[insert(i, device_id=i, kind="drain") for i in range(n)])

    def received():
        s = harness.Client(sc.socket)
        try:
            return s.request({"op": "stats", "id": "s"})["stats"]["rows_received"] == n
        finally:
            s.close()
    wait_for(received, 30, what="the sidecar to receive %d rows" % n)
    assert env.db.count(where="kind = 'drain'") == 0, "rows were written before the stop"

    stop = podman("stop", "-t", "20", sc.name, check=False, timeout=120)
    assert stop.returncode == 0, stop.stderr
    code = sc.state("{{.State.ExitCode}}")
    assert code == "0", "container exited %s (137 = SIGKILL: SIGTERM did not reach it):\n%s" % (
        code, sc.logs()[-3000:])
    acks = c.by_id(c.recv_n(n))
    bad = [a for a in acks.values() if a != {"id": a["id"], "ok": True}]
    assert len(acks) == n and not bad, bad[:3]
    assert env.db.count(where="kind = 'drain'") == n
    assert "shutting down" in sc.logs()


def standin_postgres_image():
    """The stand-in for the official postgres image, built from Debian's packages
    unless an image of the same two files is already there; older ones go."""
    files = ("postgres.Dockerfile", "postgres-entrypoint.sh")
    h = hashlib.sha256()
    for f in files:
        with open(os.path.join(HERE, f), "rb") as fh:
            h.update(fh.read())
    tag = "%s:%s" % (STANDIN_REPO, h.hexdigest()[:12])
    if podman("image", "exists", tag, check=False).returncode == 0:
        return tag
    podman("build", "--pull=never", "--network=host", "--format", "docker", *ULIMITS, "-t", tag,
           "-f", os.path.join(HERE, files[0]), HERE, timeout=1200)
    old = podman("images", "--format", "{{.Repository}}:{{.Tag}}", STANDIN_REPO).stdout.split()
    for image in old:
        if image != tag:
            podman("rmi", image, check=False)   # not -f: another run may be using it
    return tag


def compose(project, *args, check=True, env=None, timeout=600):
    """podman-compose on docker/docker-compose.yml and the test's override, with
    the podman flags and ulimits these machines need."""
    cmd = COMPOSE + ["-p", project, "--podman-path", shutil.which(PODMAN[0]) or PODMAN[0]]
    if PODMAN[1:]:
        cmd.append("--podman-args=" + " ".join(shlex.quote(a) for a in PODMAN[1:]))
    cmd.append("--podman-run-args=" + " ".join(shlex.quote(a) for a in ULIMITS))
    for f in COMPOSE_FILES:
        cmd += ["-f", f]
    p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    if check and p.returncode != 0:
        raise Failure("podman-compose %s failed (%d):\n%s%s" % (" ".join(args), p.returncode,
                                                                p.stdout[-3000:], p.stderr[-3000:]))
    return p


def compose_down_everything(project):
    """down -v (containers and volumes), then the network podman-compose 1.0.3 leaves."""
    env = {"PGC_TEST_IMAGE": IMAGE, "PGC_TEST_POSTGRES_IMAGE": STANDIN_REPO}
    compose(project, "down", "-v", "-t", "0", check=False, env=env)
    podman("network", "rm", "-f", project + "_default", check=False)


def db_psql(container, sql):
    p = podman("exec", container, "psql", "-X", "-U", "app", "-d", "app", "-Atc", sql, check=False)
    return p.stdout.strip() if p.returncode == 0 else None


def check_compose_stack(env):
    """docker/docker-compose.yml under podman-compose, end to end: `up` starts the
    database (its init script creates `events`), the sidecar and the writer;
    the writer (`pgcoalesce-cli bench`, as another uid in group 10001) waits for
    the sidecar and finishes with every row acked and stored; the compose
    healthchecks pass under podman; rows sent afterwards stay pending (the
    override: full batches of 32 only) until `down`, whose SIGTERM makes the
    sidecar write them: acked ok, and in the database when it is up again."""
    if shutil.which(COMPOSE[0]) is None:
        raise Skip("podman-compose not found (apt-get install podman-compose)")
    project = env.tag + "-compose"
    cenv = {"PGC_TEST_IMAGE": IMAGE, "PGC_TEST_POSTGRES_IMAGE": standin_postgres_image()}
    env.compose_project = project
    # --no-build: the image built above, never one podman-compose would build
    # (a plain `podman build`: OCI format, no HEALTHCHECK)
    compose(project, "up", "-d", "--no-build", env=cenv)
    db, sidecar, writer = ("%s_%s_1" % (project, s) for s in ("db", "pgcoalesce", "writer"))

    def state(name, fmt):
        return podman("inspect", "--format", fmt, name).stdout.strip()
    wait_for(lambda: state(writer, "{{.State.Running}}") != "true", 300, interval=1,
             what="the writer to finish")
    logs = podman("logs", writer, check=False)
    out = logs.stdout + logs.stderr
    assert state(writer, "{{.State.ExitCode}}") == "0", out[-3000:]
    assert "acked ok: %d, failed: 0" % WRITER_ROWS in out, out[-3000:]
    assert db_psql(db, "SELECT count(*) FROM events") == str(WRITER_ROWS)
    for name in (db, sidecar):
        hc = podman("healthcheck", "run", name, check=False)
        assert hc.returncode == 0, "healthcheck of %s: %s%s" % (name, hc.stdout, hc.stderr)

    mount = podman("volume", "inspect", "--format", "{{.Mountpoint}}",
                   project + "_pgcoalesce-socket").stdout.strip()
    sock = os.path.join(mount, "pgcoalesce.sock")
    c = harness.Client(sock)
    n = 20                       # fewer than a batch of 32: they wait
    c.send(*[insert(i, device_id=i, kind="compose-drain") for i in range(n)])

    def received():
        s = harness.Client(sock)
        try:
            return s.request({"op": "stats", "id": "s"})["stats"]["rows_received"] == WRITER_ROWS + n
        finally:
            s.close()
    wait_for(received, 30, what="the sidecar to receive %d more rows" % n)
    assert db_psql(db, "SELECT count(*) FROM events WHERE kind = 'compose-drain'") == "0", \
        "rows were written before the stop: the drain checks nothing"
    compose(project, "down", "-t", "20", env=cenv)
    acks = c.by_id(c.recv_n(n))
    c.close()
    bad = [a for a in acks.values() if a != {"id": a["id"], "ok": True}]
    assert len(acks) == n and not bad, bad[:3]

    compose(project, "up", "-d", "db", env=cenv)   # the data volume outlived `down`
    wait_for(lambda: db_psql(db, "SELECT 1") == "1", 60, interval=0.5, what="the database again")
    assert db_psql(db, "SELECT count(*) FROM events WHERE kind = 'compose-drain'") == str(n)
    assert db_psql(db, "SELECT count(*) FROM events") == str(WRITER_ROWS + n)


CHECKS = [check_image_builds, check_image_shape, check_no_database_configured,
          check_starts_before_database,
          check_rows_through_the_socket, check_app_container_as_another_user,
          check_bench_writer, check_restart_after_kill, check_stop_drains_pending_rows,
          check_compose_stack]


def main():
    why = skip_reason()
    if why and os.environ.get("PGC_REQUIRE_DOCKER") == "1":
        print("FAIL docker: PGC_REQUIRE_DOCKER=1 but %s\ndocker: 0 passed, 1 failed" % why,
              flush=True)
        return 1
    if why:
        print("docker: skipped: %s" % why, flush=True)
        return 0
    env = Env()
    passed = failed = 0
    try:
        env.cluster.initdb()        # started by check_starts_before_database
        for check in CHECKS:
            name = check.__name__[len("check_"):]
            t0 = time.monotonic()
            try:
                check(env)
            except Skip as why_not:
                if os.environ.get("PGC_REQUIRE_DOCKER") == "1":
                    failed += 1
                    print("FAIL docker.%s: PGC_REQUIRE_DOCKER=1 but %s" % (name, why_not), flush=True)
                else:
                    print("skip docker.%s: %s" % (name, why_not), flush=True)
                continue
            except Exception:  # noqa: B902 — report any failure of a check
                failed += 1
                print("FAIL docker.%s (%.1fs)\n%s" % (name, time.monotonic() - t0, "".join(
                    "    " + l + "\n" for l in traceback.format_exc().rstrip().splitlines())),
                      flush=True)
                if check in (check_image_builds, check_image_shape, check_starts_before_database):
                    # later checks need the image and the running sidecar
                    break
                continue
            passed += 1
            print("ok   docker.%s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
    finally:
        env.cleanup()
    print("docker: %d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
