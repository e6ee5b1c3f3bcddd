# Sourced by the bench's shell scripts (bench/run.sh, bench/profile.sh, bench/instructions.sh), from the repository's root.

# install_missing PREFIX TOOL[=PACKAGE] ...: installs Debian's packages of the tools not found on the PATH or in /usr/sbin
# (a tool's package is its own name unless given), saying so with PREFIX.
install_missing() {
  local prefix=$1 spec sudo_cmd=""
  shift
  local pkgs=()
  for spec in "$@"; do
    command -v "${spec%%=*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${spec%%=*}" ] || pkgs+=("${spec#*=}")
  done
  [ ${#pkgs[@]} -gt 0 ] || return 0
  echo "$prefix: installing ${pkgs[*]} from Debian's packages"
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y "${pkgs[@]}" >/dev/null 2>&1 || { $sudo_cmd apt-get update >/dev/null && $sudo_cmd apt-get install -y "${pkgs[@]}" >/dev/null; }
}

# stale BINARY DIR_OR_FILE ...: whether BINARY is missing, or older than a source or project file under the others
# (C# sources, projects, props, agent/hot-methods.txt; generated files under obj/ and bin/ do not count).
stale() {
  [ ! -x "$1" ] || [ -n "$(find "${@:2}" \( -path '*/obj' -o -path '*/bin' \) -prune -o \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name 'hot-methods.txt' \) -newer "$1" -print -quit)" ]
}

# publish_with_symbols PROJECT OUT: the NativeAOT binary of PROJECT published into OUT with its symbol table (for perf,
# callgrind and nm). A publish that finds the native link up to date copies the binary as last linked, stripped when the
# last publish stripped it (the default, StripSymbols=true): then the project's native output is removed and it is
# published again, linked afresh.
publish_with_symbols() {
  local project=$1 out=$2 rid binary
  rid="linux-$(uname -m | sed -e 's/x86_64/x64/' -e 's/aarch64/arm64/')"
  binary="$out/$(basename "$project" .csproj | tr '[:upper:]' '[:lower:]')"
  dotnet publish "$project" -c Release -r "$rid" -o "$out" -p:StripSymbols=false >/dev/null
  if [ -z "$(nm "$binary" 2>/dev/null | head -1)" ]; then # nm says "no symbols" and succeeds
    rm -rf "$(dirname "$project")/obj/Release/net10.0/$rid/native"
    dotnet publish "$project" -c Release -r "$rid" -o "$out" -p:StripSymbols=false >/dev/null
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_upstream WORK PORT: nginx serving a 1 KiB body at /1k on 127.0.0.1:PORT from WORK (one worker, keep-alive, no
# access log), in the background: its pid in $upstream.
start_upstream() {
  local work=$1 port=$2
  mkdir -p "$work/www"; head -c 1024 /dev/zero | tr '\0' x > "$work/www/1k"; chmod -R a+rX "$work"
  cat > "$work/up.conf" <<CONF
worker_processes 1; daemon off; pid $work/up.pid; error_log $work/up-error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$port; root $work/www; location / { } } }
CONF
  nginx -c "$work/up.conf" -p "$work" &
  upstream=$!
}
