#!/usr/bin/env bash
# make_demo_calls.sh -- regenerate Parley's synthetic demo call recordings.
#
# Usage:  bash agent_console/demo/make_demo_calls.sh        (from anywhere)
# Needs:  espeak-ng, sox/soxi (Debian packages "espeak-ng" and "sox"). No Python.
#
# Writes, next to this script:
#   demo_call_en.wav / demo_call_en.json   English call: collector Sam (Northwind
#       Recovery) and debtor John Miller (Northwind Bank, about $4,200).
#
# There is no Mandarin recording: espeak-ng's Mandarin voices (cmn, and
# cmn-latn-pinyin fed with tone-numbered pinyin) were tried at several speeds,
# word gaps and variants, and faster-whisper "base" (language="zh") did not
# recognise the key phrases (失业 came out as 是爷爷/是夜了, 判刑 as 犯牽/判斜).
# The app falls back to demo_call_en.wav for cases with no recording in their
# language (agent_console/service.py: demo_recording).
#
# WAV format: stereo, 16 kHz, 16-bit PCM. Channel 0 (left) = agent/collector,
# channel 1 (right) = debtor. Turns alternate; while one side speaks the other
# channel holds digital silence (exact zeros). Gaps of 0.6-1.2 s between turns.
# Size: stereo 16 kHz 16-bit is 64 kB/s, so the ~40 s English call is ~2.5 MB.
#
# JSON format:
#   {"language": "en"|"zh", "sample_rate": 16000,
#    "turns": [{"speaker": "agent"|"debtor", "channel": 0|1, "text": "...",
#               "start": <s>, "end": <s>}, ...]}
# start/end are the speech start/end of each turn inside the composed file, in
# seconds (3 decimals). Each espeak-ng clip is trimmed of leading and trailing
# silence with sox "silence" before placement, and all positions are computed
# in whole samples, so the timings match the audio exactly.
#
# Everything is deterministic (fixed voices, speeds, gaps; sox -D disables
# dither, -R keeps sox repeatable): re-running gives byte-identical files for
# the same espeak-ng/sox versions. The dialogue is original demo content.
#
# English demo contents (for end-to-end tests): the agent's opening (greeting,
# "Sam from Northwind Recovery", identity check, recording notice, mini-Miranda),
# the debtor's hardship statement ("I lost my job last month ...") and one
# prohibited agent phrase (false legal threat: "you will be arrested") all occur
# within the first ~25 s; then a payment-plan request, an installment offer and
# a promise to pay $200 on Friday.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RATE=16000
LEAD=3200            # 0.2 s of silence before the first turn (samples)
TAIL=4800            # 0.3 s of silence after the last turn (samples)

command -v espeak-ng >/dev/null || { echo "espeak-ng is not installed" >&2; exit 1; }
command -v sox >/dev/null || { echo "sox is not installed" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# secs SAMPLES -> seconds with 3 decimals (integer arithmetic, rounded)
secs() {
    local ms=$(( ($1 * 1000 + RATE / 2) / RATE ))
    printf '%d.%03d' $(( ms / 1000 )) $(( ms % 1000 ))
}

# json_str TEXT -> TEXT as a JSON string (escapes backslash and double quote)
json_str() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

# silence FILE SAMPLES -> mono 16 kHz 16-bit file of exact zeros
silence() {
    sox -D -R -r "$RATE" -c 1 -b 16 -e signed-integer -n "$1" trim 0 "${2}s"
}

# build_call NAME LANG TURNS_FILE
# TURNS_FILE lines: speaker|voice|speed_wpm|pitch|word_gap_10ms|gap_after_ms|text
build_call() {
    local name=$1 lang=$2 turns=$3
    local dir="$WORK/$name"; mkdir -p "$dir"
    local -a left=() right=() json=()
    local pos=$LEAD i=0 speaker voice speed pitch wgap gap text raw clip n ch gapn
    silence "$dir/lead.wav" "$LEAD"; left+=("$dir/lead.wav"); right+=("$dir/lead.wav")
    while IFS='|' read -r speaker voice speed pitch wgap gap text; do
        [[ -z "$speaker" || "$speaker" == \#* ]] && continue
        i=$((i + 1))
        raw="$dir/raw$i.wav"; clip="$dir/clip$i.wav"
        espeak-ng -v "$voice" -s "$speed" -p "$pitch" -g "$wgap" -w "$raw" -- "$text"
        # scale to avoid clipping in the resampler, resample to 16 kHz mono
        # 16-bit, trim leading and trailing silence
        sox -D -R -v 0.85 "$raw" -r "$RATE" -c 1 -b 16 -e signed-integer "$clip" \
            silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse
        n=$(soxi -s "$clip")
        silence "$dir/pad$i.wav" "$n"
        if [[ $speaker == agent ]]; then
            ch=0; left+=("$clip"); right+=("$dir/pad$i.wav")
        else
            ch=1; left+=("$dir/pad$i.wav"); right+=("$clip")
        fi
        json+=("    {\"speaker\": \"$speaker\", \"channel\": $ch, \"text\": $(json_str "$text"), \"start\": $(secs "$pos"), \"end\": $(secs $((pos + n)))}")
        pos=$((pos + n))
        gapn=$(( gap * RATE / 1000 ))
        [[ $gapn -gt 0 ]] || gapn=$TAIL
        silence "$dir/gap$i.wav" "$gapn"
        left+=("$dir/gap$i.wav"); right+=("$dir/gap$i.wav")
        pos=$((pos + gapn))
    done < "$turns"
    sox -D -R "${left[@]}" "$dir/left.wav"
    sox -D -R "${right[@]}" "$dir/right.wav"
    sox -D -R -M "$dir/left.wav" "$dir/right.wav" -r "$RATE" -b 16 -e signed-integer "$HERE/$name.wav"
    {
        printf '{\n  "language": "%s",\n  "sample_rate": %d,\n  "turns": [\n' "$lang" "$RATE"
        local k last=$(( ${#json[@]} - 1 ))
        for k in "${!json[@]}"; do
            if [[ $k -lt $last ]]; then printf '%s,\n' "${json[$k]}"; else printf '%s\n' "${json[$k]}"; fi
        done
        printf '  ]\n}\n'
    } > "$HERE/$name.json"
    echo "wrote $HERE/$name.wav ($(secs "$pos") s, $i turns) and $name.json"
}

# ---------------------------------------------------------------------------
# English call. Agent: espeak-ng en-us with the "edward" variant (male);
# debtor: en-us+f3 (female variant, higher pitch) -- two clearly different
# voices. Voice, speed and word gap were tuned so that faster-whisper tiny.en
# transcribes the key phrases verbatim (the plain en-us voice turns "collect a
# debt" into "collect a net"; a 20 ms word gap on the mini-Miranda fixes it).
# speaker|voice|wpm|pitch|word gap (x10 ms)|gap after (ms; 0 = last turn)|text
cat > "$WORK/en.txt" <<'TURNS'
agent|en-us+edward|155|40|0|700|Hi, this is Sam from Northwind Recovery. Am I speaking with John Miller?
debtor|en-us+f3|155|60|0|600|Yes, speaking.
agent|en-us+edward|155|40|2|700|This call may be recorded. This is an attempt to collect a debt and any information obtained will be used for that purpose.
debtor|en-us+f3|155|60|0|600|I lost my job last month and I can't afford the payments right now.
agent|en-us+edward|155|40|0|800|If you don't pay today, you will be arrested.
debtor|en-us+f3|155|60|0|600|Can we set up a payment plan instead?
agent|en-us+edward|155|40|1|600|Sure, we can do installments of two hundred dollars a month.
debtor|en-us+f3|155|60|0|600|Okay. I promise to pay two hundred dollars on Friday.
agent|en-us+edward|155|40|0|0|Okay, that is noted. Thank you, goodbye.
TURNS
build_call demo_call_en en "$WORK/en.txt"
