# delivery.sh — part B of bench/lifecycle/run (sourced): a
# 1,000,000-record result delivered by pull and by push, against nginx
# serving the same bytes.

# The journal of NAME as warrant-audit shows it, in $tmp/NAME.journal
# (a file: no pipe that a reader closing early would fail under pipefail).
jdump() { "$audit" show --journal "$tmp/$1/state/journal" >"$tmp/$1.journal" 2>/dev/null || true; }
# Records of the last dump holding the fixed string PATTERN.
jgrep() { grep -F -e "$2" "$tmp/$1.journal" || true; }
jcount() { jdump "$1"; awk -v p="$2" 'index($0, p) { n++ } END { print n + 0 }' "$tmp/$1.journal"; }
epoch() { date -u -d "$1" +%s.%N; }
span() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# The time of the first (or last) journal record of NAME holding PATTERN.
jtime() {	# name pattern first|last
	local t
	jdump "$1"
	t=$(awk -v p="$2" -v w="$3" 'index($0, p) { if (f == "") f = $2; l = $2 }
	    END { print (w == "first" ? f : l) }' "$tmp/$1.journal")
	[ -n "$t" ] || die "no journal record holding $2"
	epoch "$t"
}

wait_journal() {	# name pattern count seconds
	local i
	for i in $(seq 1 $(($4 * 2))); do
		[ "$(jcount "$1" "$2")" -ge "$3" ] && return 0
		pid_alive "$wd_pid" || die "warrantd died (see $tmp/$1/warrantd.log)"
		[ -z "$rpid" ] || pid_alive "$rpid" || die "warrantctl receive died: $(tail -n 3 "$tmp/recv.err")"
		sleep 0.5
	done
	die "no $3 journal records matching $2 within $4 s (see $tmp/$1/warrantd.log)"
}

# nrec communication records for subscriber SUB, copies of the dataset's
# own rows (all other columns), one every (window / nrec), so that the
# request's window holds exactly nrec of them.
inject_records() {	# db sub start end
	local s_us e_us step imei
	s_us=$(($(date -u -d "$3" +%s) * 1000000))
	e_us=$(($(date -u -d "$4" +%s) * 1000000))
	step=$(((e_us - s_us) / nrec))
	imei=$(sqlite3 "$1" "select imei from device where subscriber = $2 order by since_us limit 1")
	sqlite3 "$1" >/dev/null <<EOF
PRAGMA busy_timeout=10000;
BEGIN;
DELETE FROM cdr WHERE subscriber = $2;
CREATE TEMP TABLE t (k INTEGER PRIMARY KEY, service, direction, other, duration_s,
    cell_start, cell_end, private_ip, public_ip, port_first, port_last, bytes_up, bytes_down);
INSERT INTO t SELECT NULL, service, direction, other, duration_s, cell_start, cell_end,
    private_ip, public_ip, port_first, port_last, bytes_up, bytes_down FROM cdr;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $nrec - 1)
INSERT INTO cdr SELECT $2, t.service, t.direction, t.other, $s_us + n.i * $step,
    t.duration_s, $imei, t.cell_start, t.cell_end, t.private_ip, t.public_ip,
    t.port_first, t.port_last, t.bytes_up, t.bytes_down
    FROM n JOIN t ON t.k = 1 + n.i % (SELECT count(*) FROM t);
COMMIT;
EOF
	[ "$(sqlite3 "$1" "select count(*) from cdr where subscriber = $2 and start_us >= $s_us and start_us < $e_us")" = "$nrec" ] ||
	    die "the dataset does not hold $nrec records for the line"
}

# A stack (NAME dl: pull; push: FGR has a deliver-to endpoint, down for
# now), the records, the request, and its parts once packaged: sets ref,
# npart, and $tmp/NAME.parts (id:seq/total:records:sha256-prefix a line).
delivery_setup() {
	local name=$1 d=$tmp/$1 sub msisdn out ws we t_acc t_res t_ready
	note "B ($name): $nrec records for one line, a records request, waiting for its parts"
	"$top/tests/pki/mkpki" "$d" 2>/dev/null || die "mkpki failed"
	bench_conf "$d/warrantd.conf"
	if [ "$name" = push ]; then
		rport=$("$top/tests/pki/mkpki" --pick-port)
		cat >>"$d/warrantd.conf" <<EOF
delivery {
	certificate "$d/carrier.pem"
	key "$d/carrier.key"
	ca "$d/ca.pem"
	timeout 30s${BENCH_WINDOW:+
	window $BENCH_WINDOW}
}
EOF
		sed -i "s|^\tkind federal-prosecutor\$|&\n\tdeliver-to \"https://127.0.0.1:$rport/hi1/deliver\"|" \
		    "$d/registry.conf"
		grep -q deliver-to "$d/registry.conf" || die "cannot add deliver-to"
	fi
	stack_start "$name"
	[ -s "$d/backend.db" ] || die "the stack runs no back end (warrant-backend not built?)"
	sub=$(sqlite3 "$d/backend.db" "select id from subscriber order by id limit 1 offset 17")
	msisdn=$(sqlite3 "$d/backend.db" "select msisdn from subscriber where id = $sub")
	perl "$top/bench/backend/mkrecords" "$samples/records.xml" 1 "$msisdn" >"$tmp/records0.xml" ||
	    die "mkrecords failed"
	"$top/tests/restamp" "$tmp/records0.xml" >"$tmp/records-$name.xml"
	fresh_uuids "$tmp/records-$name.xml"
	ws=$(sed -n 's:.*<task\:StartTime>\([^<]*\)</task\:StartTime>.*:\1:p' "$tmp/records-$name.xml" | head -n 1)
	we=$(sed -n 's:.*<task\:EndTime>\([^<]*\)</task\:EndTime>.*:\1:p' "$tmp/records-$name.xml" | head -n 1)
	[ -n "$ws" ] && [ -n "$we" ] || die "no task window in the records request"
	inject_records "$d/backend.db" "$sub" "$ws" "$we"
	out=$(ctl "$d" fgr submit "$tmp/records-$name.xml") || die "the records request was refused: $out"
	ref=$(grep -o 'MXC-[0-9]*-[0-9]*' <<<"$out" | head -n 1)
	wait_journal "$name" "EVENT_DELIVERY_READY ref=$ref " 1 1800
	jdump "$name"
	jgrep "$name" "EVENT_DELIVERY_READY ref=$ref " | grep -o 'part=[^ ]*' |
	    sed 's/^part=//' >"$tmp/$name.parts"
	npart=$(wc -l <"$tmp/$name.parts")
	t_acc=$(jtime "$name" "EVENT_REQUEST_ACCEPTED ref=$ref " first)
	t_res=$(jtime "$name" "EVENT_BACKEND_RESULT ref=$ref " last)
	t_ready=$(jtime "$name" "EVENT_DELIVERY_READY ref=$ref " first)
	jdump "$name"
	[ -n "$(jgrep "$name" "EVENT_BACKEND_RESULT ref=$ref " | grep -F " count=$nrec ")" ] ||
	    die "the back end's answer is not $nrec records"
	row B "$name: records from the back end, then packaged (s)" \
	    "$(span "$t_acc" "$t_res") + $(span "$t_res" "$t_ready")" "" "" "" \
	    "$npart parts"
}

# Every part's bytes against the journal's digest (its first 16 hex).
check_digests() {	# name file-pattern (with %06d for the sequence)
	local id seq rest sha f n=0
	while IFS=: read -r id seq rest sha; do
		# shellcheck disable=SC2059
		f=$(compgen -G "$(printf "$2" "${seq%/*}")" | head -n 1 || true)
		[ -n "$f" ] || die "part ${seq%/*}: no file $2"
		[ "$(sha256sum <"$f" | cut -c1-16)" = "$sha" ] ||
		    die "part ${seq%/*}: its SHA-256 is not the journal's digest"
		n=$((n + 1))
	done <"$tmp/$1.parts"
	[ "$n" = "$npart" ] || die "$n parts checked of $npart"
}

# Stop NAME's stack (its last checkpoint is signed at shutdown) and verify
# its journal, as an auditor would.
verify_journal() {	# name
	"$top/tests/stack" stop "$tmp/$1" >/dev/null
	echo "warrant-audit verify --journal \$TMP/$1/state/journal --pubkey \$TMP/$1/journal.pub" >>"$tmp/commands"
	"$audit" verify --journal "$tmp/$1/state/journal" --pubkey "$tmp/$1/journal.pub" \
	    >"$tmp/$1-verify.out" 2>&1 || die "warrant-audit verify failed: $(tail -n 3 "$tmp/$1-verify.out")"
}

# nginx: the same result bytes (part 1 as a static file) npart times, in
# rounds against warrantd's; $1 the prefix, $2 the warrantd side (a
# function that runs round i).
side_by_side() {	# prefix wd-round-function pki first-part-file
	local i
	start_nginx "$3" "$4"
	for i in $(seq 1 "$rounds"); do
		"$2" "$i"
		cpu_pid=$(pgrep -P "$ng_pid" | head -n 1)
		lg "$1-ng-$i" "$3" fgr "$ng_url" --body "$tmp/get-part.xml" -c 1 \
		    --requests "$npart" --timeout 120
		cpu_pid=$wd_pid
	done
}

# MB/s of result bytes (payload) over a run: payload bytes / elapsed.
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1e6 : 0) }'; }

pull_round() {	# i
	hwm_reset "$wd_pid"
	lg "b-get-$1" "$tmp/dl" fgr "$url" --body-list "$tmp/gets.list" -c 1 \
	    --requests "$npart" --timeout 120
	hwm_kb "$wd_pid" >"$tmp/b-get-$1.hwm"
}

pull_bench() {
	local d=$tmp/dl t0 t1 id seq rest sha payload first wd_hwm i w g r
	cpu_pid=$wd_pid
	note "B pull: warrantctl fetch of $npart parts, then loadgen GETs of each part against nginx, $rounds rounds"
	hwm_reset "$wd_pid"
	echo "warrantctl ... fetch $ref -o \$TMP/fetched" >>"$tmp/commands"
	t0=$(date +%s.%N)
	/usr/bin/time -f '%M' -o "$tmp/fetch.rss" "$warrantctl" --url "$url" \
	    --cert "$d/fgr.pem" --key "$d/fgr.key" --cacert "$d/ca.pem" \
	    --authority FGR --carrier MXCARRIER --templates "$top/etc/templates" \
	    fetch "$ref" -o "$tmp/fetched" >"$tmp/fetch.out" 2>&1 ||
	    die "warrantctl fetch failed (a checksum or the manifest?): $(tail -n 3 "$tmp/fetch.out")"
	t1=$(date +%s.%N)
	wd_hwm=$(hwm_kb "$wd_pid")
	grep -q "complete: $npart parts, $nrec records, every checksum and the manifest verified" "$tmp/fetch.out" ||
	    die "fetch did not verify every part: $(tail -n 2 "$tmp/fetch.out")"
	check_digests dl "$tmp/fetched/*_%06d.xml"
	payload=$(cat "$tmp"/fetched/*_[0-9][0-9][0-9][0-9][0-9][0-9].xml | wc -c)
	first=$(compgen -G "$tmp/fetched/*_000001.xml" | head -n 1)
	row B "pull: warrantctl fetch, verified + fsync'ed (MB/s)" \
	    "$(mbps "$payload" "$(span "$t0" "$t1")")" "" "" "reported" \
	    "$(span "$t0" "$t1") s, $payload bytes"
	row B "pull: peak RSS during fetch, warrantd / warrantctl (MiB)" \
	    "$(mb "$wd_hwm") / $(mb "$(cat "$tmp/fetch.rss")")" "" "" "bounded" ""
	# A GET of each part, in order, and one of part 1 for nginx's rounds.
	mkdir -p "$tmp/gets"
	: >"$tmp/gets.list"
	while IFS=: read -r id seq rest sha; do
		msg FGR "<GET><Identifier>$id</Identifier></GET>" >"$tmp/gets/${seq%/*}.xml"
		echo "$tmp/gets/${seq%/*}.xml" >>"$tmp/gets.list"
	done <"$tmp/dl.parts"
	cp "$tmp/gets/1.xml" "$tmp/get-part.xml"
	side_by_side b pull_round "$d" "$first"
	w=$(med b-get elapsed_s) g=$(med b-ng elapsed_s)
	r=$(ratio "$(mbps "$payload" "$w")" "$(mbps "$(($(wc -c <"$first") * npart))" "$g")")
	row B "pull: loadgen GET of each part, 1 conn (result MB/s)" "$(mbps "$payload" "$w")" \
	    "$(mbps "$(($(wc -c <"$first") * npart))" "$g")" "${r}x" ">= 0.5x" "$(verdict "$r" 0.5)"
	row B "  on the wire (MB/s): base64 in XML / the file" \
	    "$(mbps "$(med b-get bytes_in)" "$w")" "$(mbps "$(med b-ng bytes_in)" "$g")" "" "" ""
	row B "  seconds per round" "$(per_round b-get elapsed_s)" "$(per_round b-ng elapsed_s)" "" "" ""
	row B "  server CPU ms per part" "$(cpu_ms b-get)" "$(cpu_ms b-ng)" "" "" ""
	row B "pull: warrantd peak RSS in each GET round (MiB)" \
	    "$(for i in $(seq 1 "$rounds"); do printf '%s ' "$(mb "$(cat "$tmp/b-get-$i.hwm")")"; done)" \
	    "" "" "bounded" ""
}

push_round() { :; }	# the push itself ran once, before

push_bench() {
	local d=$tmp/push t_first t_last wd_hwm r_hwm payload first n w g r wd_cpu r_cpu
	cpu_pid=$wd_pid
	note "B push: warrantctl receive started after the first failed DELIVER"
	wait_journal push "EVENT_DELIVERY_FAILED ref=$ref " 1 120
	hwm_reset "$wd_pid"
	wd_cpu=$(cpu_of "$wd_pid")
	echo "warrantctl receive --listen 127.0.0.1:PORT ... -o \$TMP/received --authority FGR" >>"$tmp/commands"
	"$warrantctl" receive --listen "127.0.0.1:$rport" --cert "$d/endpoint.pem" \
	    --key "$d/endpoint.key" --cacert "$d/ca.pem" -o "$tmp/received" \
	    --templates "$top/etc/templates" --authority FGR \
	    >"$tmp/recv.out" 2>"$tmp/recv.err" &
	rpid=$!
	wait_journal push "EVENT_RESULT_DELIVERED ref=$ref " "$npart" 3600
	wd_hwm=$(hwm_kb "$wd_pid")
	r_hwm=$(hwm_kb "$rpid")
	wd_cpu=$(($(cpu_of "$wd_pid") - wd_cpu))
	r_cpu=$(cpu_of "$rpid")
	stop_pid "$rpid"
	rpid=
	n=$(grep -c 'SHA-256 ok, stored as' "$tmp/recv.out" || true)
	[ "$n" -ge "$npart" ] || die "the receiver stored $n parts of $npart"
	check_digests push "$tmp/received/*.%06d.xml"
	t_first=$(jtime push "EVENT_RESULT_DELIVERED ref=$ref " first)
	t_last=$(jtime push "EVENT_RESULT_DELIVERED ref=$ref " last)
	payload=$(cat "$tmp"/received/*.[0-9][0-9][0-9][0-9][0-9][0-9].xml | wc -c)
	first=$(compgen -G "$tmp/received/*.000001.xml" | head -n 1)
	# From the first acknowledgement to the last: npart - 1 parts' bytes.
	w=$(awk -v p="$payload" -v n="$npart" -v a="$t_first" -v b="$t_last" \
	    'BEGIN { printf "%.1f", (b > a ? p * (n - 1) / n / (b - a) / 1e6 : 0) }')
	msg FGR "<GET><Identifier>$(head -n 1 "$tmp/push.parts" | cut -d: -f1)</Identifier></GET>" \
	    >"$tmp/get-part.xml"
	side_by_side c push_round "$d" "$first"
	g=$(mbps "$(($(wc -c <"$first") * npart))" "$(med c-ng elapsed_s)")
	r=$(ratio "$w" "$g")
	row B "push: warrantd -> warrantctl receive (result MB/s)" "$w" "$g" "${r}x" ">= 0.5x" \
	    "$(verdict "$r" 0.5)"
	row B "  first to last acknowledgement (s), parts" "$(span "$t_first" "$t_last"), $npart" \
	    "$(per_round c-ng elapsed_s)" "" "" ""
	row B "  CPU ms per part, warrantd / warrantctl receive" \
	    "$(awk -v a="$wd_cpu" -v b="$r_cpu" -v h="$hz" -v n="$npart" \
		'BEGIN { printf "%.2f / %.2f", a * 1000 / h / n, b * 1000 / h / n }')" \
	    "" "" "" ""
	row B "push: peak RSS, warrantd / warrantctl receive (MiB)" \
	    "$(mb "$wd_hwm") / $(mb "$r_hwm")" "" "" "bounded" ""
}

write_results() {
	local out=$top/bench/RESULTS.md begin='<!-- bench/lifecycle/run: begin -->' \
	    end='<!-- bench/lifecycle/run: end -->'
	{
	echo "$begin"
	echo "## Request lifecycle (issue 9): GET/LIST against CREATE, a 1,000,000-record delivery"
	echo
	echo "Written by \`bench/lifecycle/run\` (see bench/README.md); the rest of this file is bench/run's."
	echo
	echo "- date: $start_date; wall time ${elapsed}s; commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "- machine: $(nproc) CPUs, kernel $(uname -r); load average at start $load_start, at end $load_end"
	echo "- command: \`$(for v in BENCH_DURATION BENCH_ROUNDS BENCH_RECORDS; do [ -z "${!v:-}" ] || printf '%s=%s ' "$v" "${!v}"; done)bench/lifecycle/run\` (rounds $rounds, ${dur}s per round of A, $nrec records)"
	echo "- build: \`./configure CFLAGS=\"-O2 -g\"\` in build/bench; $(nginx -v 2>&1 | sed 's/^nginx version: //'), one worker, bench/nginx.conf.in (the same certificates, CA, CRL, protocols, ciphers and groups as warrantd)"
	echo "- A: intake only (mkpki's configuration without \`backend\` and \`results\`, \`clock-skew 24h\`); CREATE = etc/samples/subscriber-msisdn.xml as FGR with every UUID new per request (\`loadgen --fresh-uuids\`); GET and LIST as FGJCDMX over its $nreaders orders made from the same sample first; $conns connections, closed loop; the kinds alternate round by round"
	echo "- B: mkpki's configuration with the reference back end (\`clock-skew 24h\`; push: a \`delivery\` block and FGR's \`deliver-to\`); $nrec communication records put into the generated dataset for one line over the window of etc/samples/records.xml; one records task (\`bench/backend/mkrecords\`); part size 1 MiB (the default). Result MB/s = the parts' bytes (the result documents, decoded) per second; nginx serves part 1 as a static file, requested as many times as there are parts, by loadgen on one connection, alternating with warrantd's rounds"
	echo "- peak RSS: VmHWM, reset (\`/proc/PID/clear_refs\`) just before each transfer"
	echo
	echo "| part | figure | warrantd | nginx | ratio | goal | verdict |"
	echo "|---|---|---:|---:|---:|---|---|"
	cat "$tmp/table.md"
	echo
	echo "Commands (\$TMP is the run's temporary directory):"
	echo
	echo '```'
	sort -u "$tmp/commands" | sed -e "s|$top/||g" | head -n 40
	echo '```'
	echo
	if [ -f "$here/NOTES.md" ]; then
		cat "$here/NOTES.md"
		echo
	fi
	echo "$end"
	} >"$tmp/section.md"
	if grep -qxF "$begin" "$out"; then
		awk -v b="$begin" -v e="$end" -v f="$tmp/section.md" '
		    $0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
		    $0 == e { skip = 0; next }
		    !skip { print }' "$out" >"$out.new"
	else
		{ cat "$out"; echo; cat "$tmp/section.md"; } >"$out.new"
	fi
	mv "$out.new" "$out"
	note "wrote the lifecycle section of $out"
}
