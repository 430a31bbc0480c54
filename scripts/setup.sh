#!/usr/bin/env bash
# Install what Ledgerlens needs on a fresh Debian/Ubuntu machine: system tools via apt when missing,
# then a .venv with the project, its dev tools (the sample generator) and the test tools.
# Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v tesseract >/dev/null 2>&1 || need_apt+=(tesseract-ocr tesseract-ocr-eng)
command -v pdftoppm >/dev/null 2>&1 || need_apt+=(poppler-utils)
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need_apt+=(python3-venv)
for extra in "$@"; do
  case "$extra" in
    --browser)  # headless Chromium and its WebDriver from Debian, for the review UI's browser test
      command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
      command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver) ;;
    --postgres)  # Debian's PostgreSQL server binaries: the review-queue tests start a throwaway server with them
      bindir="$(pg_config --bindir 2>/dev/null || true)"
      { [ -n "$bindir" ] && [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ]; } || need_apt+=(postgresql) ;;
  esac
done

if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
      echo "Missing system packages: ${need_apt[*]}. Run as root or install them with apt." >&2; exit 1
    fi
  fi
  echo "==> Installing system packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

stamp=.venv/.ledgerlens-installed
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> Creating .venv and installing Ledgerlens (first run takes a few minutes)"
  python3 -m venv .venv
  log=.venv/install.log
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -c constraints.txt -e '.[dev,devtools]'; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "Installing the Python packages failed; the full log is in $log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

# Bytecode for our own packages (pip compiles only what it installs): where PYTHONDONTWRITEBYTECODE is set,
# every command would otherwise compile pipeline/, flows/ and schemas/ from source at each start. Cheap when current.
.venv/bin/python -m compileall -q -j 0 pipeline flows schemas devtools >/dev/null
