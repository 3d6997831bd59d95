# A stand-in for the official postgres image, for `make docker-test` only,
# where no image registry can be reached (CI, the development machines):
# PostgreSQL from Debian's packages on the local debian:bookworm-slim base
# (scripts/podman-base.sh), with the interface docker/docker-compose.yml uses
# of the official image: POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, the
# data in /var/lib/postgresql/data, *.sql files in /docker-entrypoint-initdb.d/
# run once when the data directory is first initialised (by a temporary server
# on the Unix socket only, so TCP answers only afterwards), pg_isready, port
# 5432, SIGINT to stop. Users' compose runs keep the official image; the test
# swaps this one in with test/docker/compose.podman-test.yml.
#
#   podman build -f test/docker/postgres.Dockerfile -t localhost/pgcoalesce-test-postgres test/docker
FROM debian:bookworm-slim
# No cluster at install time (the entrypoint makes one in PGDATA), as the official image does.
RUN mkdir -p /etc/postgresql-common \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)" /usr/local/lib/postgresql-bin \
 && install -d -o postgres -g postgres -m 3777 /var/run/postgresql \
 && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/local/lib/postgresql-bin:$PATH \
    PGDATA=/var/lib/postgresql/data
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
# SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave).
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
