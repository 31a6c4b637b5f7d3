#!/usr/bin/env bash
# powercut.sh — acknowledged requests survive a power cut, not only a
# crash. kill -9 leaves the killed daemon's unsynced writes in the page
# cache, where the kernel still writes them back; a power cut loses them.
# So the daemon runs with tests/reliability/powercut.so preloaded, which
# keeps a ledger of what each fsync/fdatasync made durable below the state
# directory (and which directory entries a directory fsync covered). At a
# random moment under load the daemon is killed with SIGKILL and
# powercut-apply puts the state directory in what the disk would hold after
# a power cut at that instant: unsynced bytes dropped (mode "lose"), or a
# random prefix of them kept ("prefix"), or pages of them left as zeros
# ("pages": out-of-order write-back), and file creations, renames
# and unlinks no directory fsync covered undone. Then the daemon starts on
# it: every reference a client was given must be in the journal, none given
# twice, every result delivered in an acceptance journaled as delivered, the daemon must never refuse to open its journal, and
# warrant-audit verify must pass at the end. Every torn tail the daemon cut
# must be in the journal's torn/ directory, byte count as recorded.
# Last, the case of issue 14 section 9, made on purpose so that every run
# has it: the last segment's unsynced tail holding a zero page followed by
# written data. The daemon must start, move the bytes aside and journal it.
#
# Needs a warrantd without sanitizers (rel_plain builds one); the shim must
# be the only object preloaded. WD_REL_CUTS overrides the number of cuts
# (short 5, full 100). Every sync waits WD_REL_PC_DELAY_MS (15) first, as
# on a slow disk, so that most cuts find written-but-unsynced data.
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/reliability/lib.sh"
case $(uname -s) in Linux) ;; *) skip "needs /proc (Linux)" ;; esac
CUTS=${WD_REL_CUTS:-$(rel_pick 5 100)}
case $CUTS in ''|*[!0-9]*) fail "WD_REL_CUTS is a number" ;; esac
rel_plain || skip "no warrantd without sanitizers: $REL_WHY"
WARRANTD=$PLAIN_WARRANTD
WARRANTCTL=$PLAIN_WARRANTCTL
AUDIT=$PLAIN_AUDIT
rel_snapshot
PLAIN_WARRANTD=$WARRANTD
rel_stack_up
rel_samples
S=$DIR/state
J=$S/journal

# --- the shim and the cutter ----------------------------------------------
shim=$TOP_BUILDDIR/tests/reliability/powercut.so
apply=$TOP_BUILDDIR/tests/reliability/powercut-apply
if [ ! -f "$shim" ] || [ ! -x "$apply" ]; then
	shim=$DIR/powercut.so
	apply=$DIR/powercut-apply
	"${CC:-cc}" -O2 -shared -fPIC -o "$shim" "$RELDIR/powercut.c" -ldl -lpthread \
	    2>"$DIR/cc.out" && "${CC:-cc}" -O2 -DPOWERCUT_MAIN -o "$apply" \
	    "$RELDIR/powercut.c" 2>>"$DIR/cc.out" ||
	    skip "cannot build the power-cut shim: $(cat "$DIR/cc.out")"
fi

# The shim itself first: unsynced bytes and unsynced directory entries
# must go, synced ones stay. Without this a shim that did nothing would
# make the test below pass.
py=$(command -v /usr/bin/python3 || command -v python3 || true)
if [ -n "$py" ]; then
	st=$DIR/selftest
	mkdir -p "$st/d" "$st/save"
	printf old >"$st/d/target"
	printf keep >"$st/d/victim"
	POWERCUT_DIR=$st/d POWERCUT_LEDGER=$st/ledger POWERCUT_SAVE=$st/save \
	    LD_PRELOAD=$shim "$py" - "$st/d" <<'EOF' || fail "shim self-test did not run"
import os, sys
d = sys.argv[1]
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
fd = os.open(d + "/a", os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b"x" * 1000); os.fdatasync(fd); os.fsync(dfd)
os.write(fd, b"y" * 500)
fd = os.open(d + "/b", os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b"z" * 10); os.fsync(fd)
fd = os.open(d + "/tmp", os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, b"new"); os.fsync(fd)
os.rename(d + "/tmp", d + "/target")
os.unlink(d + "/victim")
EOF
	"$apply" "$st/ledger" "$st/d" >/dev/null || fail "powercut-apply failed on the self-test"
	[ "$(wc -c <"$st/d/a")" = 1000 ] || fail "shim self-test: unsynced bytes kept"
	[ ! -e "$st/d/b" ] || fail "shim self-test: a file whose directory entry was never synced survived"
	[ "$(cat "$st/d/target")" = old ] || fail "shim self-test: an unsynced rename survived"
	[ "$(cat "$st/d/victim")" = keep ] || fail "shim self-test: an unsynced unlink survived"
else
	rel_note "no python3: shim self-test skipped"
fi

# --- the daemon under the shim ------------------------------------------------
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
# Small segments and frequent checkpoints: cuts also land while a segment
# or a checkpoint is being created.
rel_conf segment-size 1M
rel_conf checkpoint-records 25
cat >"$DIR/warrantd-pc" <<EOF
#!/bin/sh
POWERCUT_SYNC_DELAY_MS='${WD_REL_PC_DELAY_MS:-15}' \
POWERCUT_DIR='$S' POWERCUT_LEDGER='$DIR/pc.ledger' POWERCUT_SAVE='$DIR/pc-save' \
LD_PRELOAD='$shim' exec '$PLAIN_WARRANTD' "\$@"
EOF
chmod +x "$DIR/warrantd-pc"

files=("$DIR"/samples/*.xml)
for k in 1 2 3 4; do
	rel_client "$k" 10 "${files[@]:$((k % 5)):3}" &
	REL_PIDS="$REL_PIDS $!"
done

# All three in turn (WD_REL_PC_MODES="lose prefix" leaves pages out).
read -r -a modes <<<"${WD_REL_PC_MODES:-lose prefix pages}"
t0=$(date +%s)
: >"$DIR/cuts.log"
for i in $(seq 1 "$CUTS"); do
	rm -rf "$DIR/pc-save" "$DIR/pc.ledger"
	mkdir "$DIR/pc-save"
	rel_start WARRANTD="$DIR/warrantd-pc" ||
	    fail "start after cut $((i - 1)) failed: $(cat "$DIR/start.err"; grep -e refusing -e damaged "$DIR/warrantd.log")"
	cp "$DIR/warrantd.log" "$DIR/warrantd.log.$i"
	sleep "0.$((3 + RANDOM % 6))"
	pid=$(rel_pid)
	kill -9 "$pid" || fail "cut $i: warrantd (pid $pid) was not running"
	rel_gone "$pid" || fail "cut $i: warrantd (pid $pid) still there after 10 s"
	cp "$DIR/warrantd.log" "$DIR/warrantd.log.$i"
	mode=${modes[$((i % ${#modes[@]}))]}
	cp "$DIR/pc.ledger" "$DIR/pc.ledger.$i" 2>/dev/null
	echo "cut $i ($mode): $("$apply" -m "$mode" -s "$i" "$DIR/pc.ledger" "$S")" >>"$DIR/cuts.log" ||
	    fail "powercut-apply failed at cut $i"
done
# One more start on the last cut, without the shim: it must open.
rel_start ||
    fail "start after the last cut failed: $(cat "$DIR/start.err"; grep -e refusing -e damaged "$DIR/warrantd.log")"
sleep 0.5
touch "$DIR/stop.all"
for p in $REL_PIDS; do wait "$p"; done
REL_PIDS=
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
t1=$(date +%s)

for log in "$DIR"/warrantd.log.*; do
	grep -q -e 'refusing' -e 'damaged' "$log" && fail "${log##*/}: $(grep -e refusing -e damaged "$log")"
done
dropped=$(awk '{ for (i = 1; i <= NF; i++) if ($(i+1) == "bytes") s += $i } END { print s + 0 }' "$DIR/cuts.log")
undone=$(awk '{ for (i = 1; i <= NF; i++) if ($(i+1) == "entries") s += $i } END { print s + 0 }' "$DIR/cuts.log")
cut_files=$(awk '{ for (i = 1; i <= NF; i++) if ($(i+1) == "files") s += $i } END { print s + 0 }' "$DIR/cuts.log")
[ "$cut_files" -gt 0 ] || fail "no cut ever dropped an unsynced byte: the test proves nothing ($(cat "$DIR/cuts.log"))"

cat "$DIR"/given.* | sort >"$DIR/given"
n_given=$(wc -l <"$DIR/given")
[ "$n_given" -ge "$CUTS" ] || fail "only $n_given acceptances in $CUTS cuts"
dup=$(uniq -d "$DIR/given")
[ -z "$dup" ] || fail "references given twice: $dup"
dup=$(sed 's/.*-//' "$DIR/given" | sort | uniq -d)
[ -z "$dup" ] || fail "reference numbers given twice (a number reused after a cut): $dup"
rel_journal_refs "$J" >"$DIR/journal.refs"
[ -s "$DIR/journal.refs" ] || fail "warrant-audit show found no acceptance"
dup=$(uniq -d "$DIR/journal.refs")
[ -z "$dup" ] || fail "the journal accepted the same reference twice: $dup"
missing=$(comm -23 "$DIR/given" "$DIR/journal.refs")
[ -z "$missing" ] || fail "acknowledged to a client, lost in a power cut: $missing"
"$AUDIT" show --journal "$J" --json >"$DIR/show.json" 2>/dev/null
n_torn=$(grep -c '"event":"EVENT_JOURNAL_TORN_TAIL"' "$DIR/show.json")
# A result carried in an acceptance is a disclosure: its record must have
# been durable before the answer left.
cat "$DIR"/delivered.* | sort -u >"$DIR/delivered"
grep -o '"event":"EVENT_RESULT_DELIVERED","carrier_ref":"[^"]*"' "$DIR/show.json" |
    sed 's/.*"carrier_ref":"//; s/"$//' | sort -u >"$DIR/journal.delivered"
missing=$(comm -23 "$DIR/delivered" "$DIR/journal.delivered")
[ -z "$missing" ] || fail "a result was delivered in an acceptance but its delivery is not in the journal after a power cut: $(head -n 5 <<<"$missing")"
n_deliv=$(wc -l <"$DIR/delivered")
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$DIR/verify.out" 2>&1 ||
    fail "verify after $CUTS power cuts: $(cat "$DIR/verify.out")"
check_torn_aside() {	# show.json: each torn tail's bytes are in J/torn
	local line n name size
	grep -o '"event":"EVENT_JOURNAL_TORN_TAIL"[^}]*' "$1" |
	    grep -o 'torn tail: cut [0-9]* bytes[^"]*' >"$DIR/torn.list" || true
	while IFS= read -r line; do
		n=$(sed 's/^torn tail: cut \([0-9]*\) bytes.*/\1/' <<<"$line")
		case $line in *"moved to torn/"*) ;; *) fail "torn tail not moved aside: $line" ;; esac
		name=${line##*moved to torn/}
		[ -f "$J/torn/$name" ] || fail "torn tail recorded as moved to torn/$name, which is not there"
		size=$(stat -c %s "$J/torn/$name")
		[ "$size" = "$n" ] || fail "torn/$name holds $size bytes, the record says $n were cut"
	done <"$DIR/torn.list"
}
check_torn_aside "$DIR/show.json"
echo "$CUTS power cuts (modes ${modes[*]}) in $((t1 - t0)) s: $n_given references given," \
    "all in the journal ($(wc -l <"$DIR/journal.refs") acceptances);" \
    "$n_deliv carried a result, every delivery journaled;" \
    "$dropped unsynced bytes dropped in $cut_files files, $undone directory entries undone," \
    "$n_torn torn tails cut at start"
cat "$DIR/verify.out"

# --- issue 14 section 9: a zero page before written data ----------------------
# What a power cut leaves when write-back of the last, unsynced batch went
# out of order: the rest of the last page as zeros, one more zero page,
# then a page that was written (here: bytes of real frames, which would
# parse, but follow the hole). Before the fix: "damaged, refusing to run:
# ... bad frame length 0", and the gateway stayed down.
seg=$(ls "$J"/seg-*.wj | tail -n 1)
end=$(stat -c %s "$seg")
hole=$(( (end / 4096 + 2) * 4096 - end ))
dd if="$seg" bs=1 skip=24 count=4096 of="$DIR/written-page" 2>/dev/null
head -c "$hole" /dev/zero >>"$seg"
cat "$DIR/written-page" >>"$seg"
tail_bytes=$(( $(stat -c %s "$seg") - end ))
rel_start || fail "the daemon does not start on a zero page before written data: $(cat "$DIR/start.err"; grep -e refusing -e damaged "$DIR/warrantd.log" | tail -n 3)"
grep -q "torn tail: cut $tail_bytes bytes at offset $end of ${seg##*/} .*not written back; moved to torn/" "$DIR/warrantd.log" ||
    fail "the cut is not logged as a page not written back: $(grep 'torn tail' "$DIR/warrantd.log" | tail -n 2)"
aside=$J/torn/${seg##*/}.at-$end
[ -f "$aside" ] || fail "the cut bytes are not in $aside"
cmp -s "$aside" <(head -c "$hole" /dev/zero; cat "$DIR/written-page") ||
    fail "$aside is not the zero page and the written page that were cut"
[ "$(stat -c %s "$seg")" -gt "$end" ] || fail "the torn-tail record was not appended"
mkdir -p "$DIR/s9"
"$TOP_SRCDIR/tests/restamp" -o "$DIR/s9" "$SAMPLES/subscriber-msisdn.xml"
submit_as fgr "$DIR/s9/subscriber-msisdn.xml"; expect_exit 0	# and it answers
"$TOP_SRCDIR/tests/stack" stop "$DIR" >/dev/null
"$AUDIT" show --journal "$J" --json >"$DIR/show.json" 2>/dev/null
grep '"event":"EVENT_JOURNAL_TORN_TAIL"' "$DIR/show.json" | grep -q "at offset $end of ${seg##*/}" ||
    fail "the cut is not in the journal"
check_torn_aside "$DIR/show.json"
"$AUDIT" verify --journal "$J" --pubkey "$DIR/journal.pub" >"$DIR/verify.out" 2>&1 ||
    fail "verify after the zero-page case: $(cat "$DIR/verify.out")"
echo "zero page before written data: started, $tail_bytes bytes moved to torn/, journaled"
rel_start || fail "final start failed: $(cat "$DIR/start.err")"
pass
