#!/usr/bin/env bash
# Builds the speech fixtures used by the audio tests:
#   test/fixtures/speech.wav  16 kHz mono 16-bit PCM, ~3.6 s of real speech
#   test/fixtures/speech.ogg  the same clip as Ogg Vorbis (for the non-WAV decode path)
#   test/fixtures/speech.flac the same clip as FLAC, at 22.05 kHz stereo (resampling + downmix path)
#   test/fixtures/speech.mp3  the same clip as MP3, 32 kbps (ffmpeg's libmp3lame)
#
# Provenance: Debian package `fillets-ng-data-cs` (Fish Fillets - Next Generation,
# Czech speech data), file
#   /usr/share/games/fillets-ng/sound/airplane/cs/let-m-sedadlo.ogg
# (level "airplane", speaker "m" = the small fish), 22.05 kHz mono Ogg Vorbis.
# Upstream: Ivo and Pavel Danihelka, ALTAR interactive et al.
# Licence: GNU GPL version 2 (see /usr/share/doc/fillets-ng-data-cs/copyright).
#
# Processing: resampled to 16 kHz, leading/trailing silence trimmed (sox `silence`,
# threshold 0.5 %), no dither (-D) so the output is reproducible.
#
# Needs root for apt-get (installs fillets-ng-data-cs and sox when missing).
set -euo pipefail

cd "$(dirname "$0")/.."
SRC=/usr/share/games/fillets-ng/sound/airplane/cs/let-m-sedadlo.ogg
OUT=test/fixtures

need_install=()
[ -f "$SRC" ] || need_install+=(fillets-ng-data-cs)
command -v sox >/dev/null || need_install+=(sox libsox-fmt-base)
command -v ffmpeg >/dev/null || need_install+=(ffmpeg)
if [ ${#need_install[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Package lists may be missing on a fresh machine.
  apt-get install -y --no-install-recommends "${need_install[@]}" \
    || { apt-get update && apt-get install -y --no-install-recommends "${need_install[@]}"; }
fi

mkdir -p "$OUT"
# Trim silence at the start, then reverse/trim/reverse to trim the end too.
sox -D "$SRC" -r 16000 -c 1 -b 16 -e signed-integer "$OUT/speech.wav" \
  silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse
# Quality 2 Vorbis keeps the file small (~30 KB) while staying clearly speech.
sox "$OUT/speech.wav" -C 2 "$OUT/speech.ogg"

sox -D "$OUT/speech.wav" -r 22050 -c 2 "$OUT/speech.flac"
ffmpeg -loglevel error -y -i "$OUT/speech.wav" -codec:a libmp3lame -b:a 32k "$OUT/speech.mp3"

for f in "$OUT/speech.wav" "$OUT/speech.ogg" "$OUT/speech.flac" "$OUT/speech.mp3"; do
  echo "$f: $(soxi -D "$f") s, $(soxi -r "$f") Hz, $(stat -c %s "$f") bytes"
done
