#!/usr/bin/env bash
# Builds the training speech corpus data/speech/ from recorded human speech shipped
# in Debian main (see datasets/README.md for sources, licences and totals):
#
#   data/speech/wav/<source>/<language>/...wav  16 kHz mono 16-bit PCM, silence-trimmed,
#                                               clips >= 0.4 s
#   data/speech/manifest.jsonl                  {path, source, language, speaker, seconds, split}
#   data/speech/speakers.tsv, summary.json      per-speaker split assignment, totals
#
# Usage (root, for apt-get):   [JOBS=N] bash datasets/build-speech.sh [OUT_DIR]   (default data/speech)
#
# Idempotent and resumable: installed packages are not reinstalled, clips already
# converted are skipped, and the manifest is rewritten from what is on disk. It runs
# one conversion process at a time under `nice -n 10` (the machine is shared).
# The split rule (speaker-disjoint, hash-ordered) is documented in build-speech.ts.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-data/speech}

# Speech packages (and only these) + the decoders.
SPEECH_PKGS=(
  fillets-ng-data-cs fillets-ng-data-nl
  tuxpaint-stamps-default
  klettres-data
  ktuberling-data
  asterisk-core-sounds-fr-g722 asterisk-core-sounds-it-g722 asterisk-core-sounds-ru-g722
)
TOOLS=(sox libsox-fmt-base ffmpeg)

start=$(date +%s)
missing=()
for p in "${SPEECH_PKGS[@]}" "${TOOLS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[speech] installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Package lists may be missing or stale on a fresh machine.
  apt-get install -y --no-install-recommends "${missing[@]}" \
    || { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
else
  echo "[speech] all packages already installed"
fi

for p in "${SPEECH_PKGS[@]}"; do
  printf '[speech]   %-32s %s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p")"
done

# JOBS=N converts with N processes side by side (default 1: the machine is usually shared).
JOBS=${JOBS:-1}
if [ "$JOBS" -gt 1 ]; then
  pids=()
  for ((k = 0; k < JOBS; k++)); do
    nice -n 10 node --import tsx datasets/build-speech.ts --out "$OUT" --convert-only "$k/$JOBS" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
fi
nice -n 10 node --import tsx datasets/build-speech.ts --out "$OUT"

echo "[speech] wall time: $(( $(date +%s) - start )) s"
