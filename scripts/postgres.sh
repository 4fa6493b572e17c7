# Start a throw-away PostgreSQL server on loopback for the tests. Sourced by scripts/test.
# Uses Debian's packages; the server lives in a temporary folder and stops on exit.

start_postgres() {
    apt_install postgresql
    local bindir
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [ -x "$bindir/initdb" ] || { echo "PostgreSQL's initdb was not found" >&2; return 1; }
    PG_DIR="$(mktemp -d /tmp/cosignatory-pg.XXXXXX)"
    PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    local run=()
    if [ "$(id -u)" -eq 0 ]; then
        # PostgreSQL refuses to run as root: run it as Debian's postgres user.
        chown postgres:postgres "$PG_DIR"
        run=(runuser -u postgres --)
    fi
    PG_RUN=("${run[@]}")
    PG_BIN="$bindir"
    say "starting PostgreSQL ($("$bindir/postgres" --version)) on 127.0.0.1:$PG_PORT"
    "${run[@]}" "$bindir/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    "${run[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w start \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=on -c max_connections=200" >/dev/null
    trap stop_postgres EXIT
    export COSIGNATORY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/cosignatory"
}

stop_postgres() {
    if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
        "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}
