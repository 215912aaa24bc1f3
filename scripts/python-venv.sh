# Sourced by the scripts/install-*.sh that put a Python package into the repository's ignored cache.
#
# install_python_venv NAME PACKAGE...: makes the venv `$cache/NAME` holding exactly PACKAGE... (pinned
# requirement strings), once. A venv whose recorded packages match is left alone, so a second run is a no-op;
# parallel runs on a fresh checkout wait for the one that installs. The cache is `<repo>/.cache`, or
# $MCP_EGRESS_CACHE when set.

install_python_venv() {
    local name="$1"
    shift
    local wanted="$*"
    local here
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    local cache="${MCP_EGRESS_CACHE:-$here/../.cache}"
    local venv="$cache/$name"

    _venv_installed() {
        [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.packages" 2>/dev/null)" = "$wanted" ]
    }
    _venv_installed && return 0

    mkdir -p "$cache"
    exec 9>"$cache/.$name.lock"
    flock 9
    if _venv_installed; then
        exec 9>&-
        return 0
    fi

    echo "mcp-egress-lab: installing $wanted from PyPI into $venv (first use only)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    echo "$wanted" > "$venv/.packages"
    exec 9>&-
    echo "mcp-egress-lab: $wanted installed" >&2
}
