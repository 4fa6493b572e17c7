# Shared by scripts/run, scripts/test and scripts/bench. Sourced, not run.
# Everything here installs from the package registries only (PyPI, Debian).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${COSIGNATORY_VENV:-$ROOT/.venv}"

say() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    # apt_install PACKAGE...: install Debian packages that are missing.
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
    local candidate
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            echo "$candidate"
            return 0
        fi
    done
    echo "Python 3.11 is required (python3.11 or python3 on PATH)" >&2
    return 1
}

ensure_venv() {
    # ensure_venv EXTRAS: a virtual environment with the project and the pinned extras.
    local extras="$1" python stamp
    python="$(find_python)"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV"
        if ! "$python" -m venv "$VENV" 2>/dev/null; then
            apt_install python3-venv python3.11-venv
            rm -rf "$VENV"
            "$python" -m venv "$VENV"
        fi
    fi
    # Reinstall only when the pins or the package metadata changed.
    stamp="$VENV/.installed-$extras-$(cat "$ROOT/constraints.txt" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
    if [ ! -e "$stamp" ]; then
        say "installing Cosignatory and its pinned dependencies ($extras)"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
            -c "$ROOT/constraints.txt" -e "$ROOT[$extras]"
        touch "$stamp"
    fi
}

ensure_pdf_libraries() {
    # WeasyPrint (the PDF of a document) draws text with Pango; the Noto fonts cover
    # the six UN languages' scripts (Latin, Cyrillic, Arabic, Chinese).
    apt_install libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-core fonts-noto-cjk
}
