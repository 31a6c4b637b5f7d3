# requests.sh — part A of bench/lifecycle/run (sourced): GET and LIST
# against a CREATE of the same size, on one intake-only daemon.

# The reader's orders: FGJCDMX CREATEs nreaders copies of the sample (fresh
# UUIDs each), and GETs the first one's order and task back.
requests_readers() {
	local d=$tmp/rq i out auth task
	sed -e 's|<UniqueIdentifier>FGR</UniqueIdentifier>|<UniqueIdentifier>FGJCDMX</UniqueIdentifier>|' \
	    -e 's|<OwnerIdentifier>FGR</OwnerIdentifier>|<OwnerIdentifier>FGJCDMX</OwnerIdentifier>|g' \
	    "$tmp/create.xml" >"$tmp/reader.xml"
	for i in $(seq 1 "$nreaders"); do
		fresh_uuids "$tmp/reader.xml"
		out=$(ctl "$d" fgecdmx submit "$tmp/reader.xml") ||
		    die "FGJCDMX's CREATE was refused: $out"
		if [ "$i" = 1 ]; then
			auth=$(sed -n 's/^ *action 0 AuthorisationObject \([0-9a-f-]*\): ok$/\1/p' <<<"$out")
			task=$(sed -n 's/^ *action 1 LDTaskObject \([0-9a-f-]*\): ok$/\1/p' <<<"$out")
		fi
	done
	[ -n "$auth" ] && [ -n "$task" ] || die "no identifiers in: $out"
	msg FGJCDMX "<GET><Identifier>$auth</Identifier></GET>" \
	    "<GET><Identifier>$task</Identifier></GET>" >"$tmp/get.xml"
	msg FGJCDMX "<LIST><ObjectType><common:Owner>ETSI</common:Owner><common:Name>ObjectType</common:Name><common:Value>LDTask</common:Value></ObjectType></LIST>" \
	    >"$tmp/list.xml"
	ctl "$d" fgecdmx --xml submit "$tmp/get.xml" >"$tmp/get-answer.xml" ||
	    die "FGJCDMX's GET was refused: $(head -c 2000 "$tmp/get-answer.xml")"
	ctl "$d" fgecdmx --xml submit "$tmp/list.xml" >"$tmp/list-answer.xml" ||
	    die "FGJCDMX's LIST was refused"
	[ "$(grep -c '<Identifier>' "$tmp/list-answer.xml")" -ge "$nreaders" ] ||
	    die "FGJCDMX's LIST lacks its $nreaders tasks"
}

requests_bench() {
	local d=$tmp/rq i k cert body name r
	note "A: GET and LIST against CREATE, $conns connections, $rounds rounds of ${dur}s per kind (intake only)"
	"$top/tests/pki/mkpki" "$d" 2>/dev/null || die "mkpki failed"
	awk '/^backend "/ || /^results \{/ { skip = 1 }
	    !skip { print } skip && /^\}/ { skip = 0 }' "$d/warrantd.conf" >"$d/warrantd.conf.new"
	mv "$d/warrantd.conf.new" "$d/warrantd.conf"
	bench_conf "$d/warrantd.conf"
	stack_start rq no-backend
	cpu_pid=$wd_pid
	"$top/tests/restamp" "$samples/subscriber-msisdn.xml" >"$tmp/create.xml"
	requests_readers
	# The repeated CREATE's original, held before its repeats start (16
	# copies racing the first would get 503, retry in a moment).
	ctl "$d" fgr submit "$tmp/create.xml" >/dev/null || die "FGR's CREATE was refused"
	# Warm-up: each kind once, briefly.
	lg a-warm-create "$d" fgr "$url" --body "$tmp/create.xml" --fresh-uuids -c $conns --duration 2
	lg a-warm-get "$d" fgecdmx "$url" --body "$tmp/get.xml" -c $conns --duration 2
	for i in $(seq 1 "$rounds"); do
		for k in create get list repeat; do
			cert=fgecdmx body=$tmp/$k.xml
			case $k in
			create) cert=fgr; set -- --fresh-uuids ;;
			repeat) cert=fgr body=$tmp/create.xml; set -- ;;
			*) set -- ;;
			esac
			lg "a-$k-$i" "$d" $cert "$url" --body "$body" "$@" -c $conns --duration "$dur"
		done
	done
	local c g l
	c=$(med a-create rps) g=$(med a-get rps) l=$(med a-list rps)
	r=$(ratio "$g" "$c")
	row A "CREATE, new each time: requests/s (median)" "$c" "" "" "" ""
	row A "GET (an order and its task): requests/s" "$g" "" "${r}x" ">= 0.5x" "$(verdict "$r" 0.5)"
	r=$(ratio "$l" "$c")
	row A "LIST (LDTasks, $nreaders records): requests/s" "$l" "" "${r}x" ">= 0.5x" "$(verdict "$r" 0.5)"
	row A "CREATE repeated (same body: answered from the store)" "$(med a-repeat rps)" "" \
	    "$(ratio "$(med a-repeat rps)" "$c")x" "reported" ""
	for k in create get list repeat; do
		row A "  $k: rps per round" "$(per_round "a-$k" rps)" "" "" "" ""
		row A "  $k: p50 / p99 ms, server CPU ms per request" \
		    "$(ms "$(med "a-$k" p50_us)") / $(ms "$(med "a-$k" p99_us)"), $(cpu_ms "a-$k")" "" "" "" ""
	done
	row A "request bytes: CREATE / GET / LIST" \
	    "$(wc -c <"$tmp/create.xml") / $(wc -c <"$tmp/get.xml") / $(wc -c <"$tmp/list.xml")" "" "" "" ""
	row A "answer bytes: CREATE / GET / LIST" \
	    "$(($(kv a-create-1 bytes_in) / $(kv a-create-1 ok))) / $(($(kv a-get-1 bytes_in) / $(kv a-get-1 ok))) / $(($(kv a-list-1 bytes_in) / $(kv a-list-1 ok)))" \
	    "" "" "" ""
	wal_mb=$(du -m "$d/state/objects.db-wal" 2>/dev/null | cut -f1)
	row A "object store after part A: objects.db / -wal (MiB)" \
	    "$(du -m "$d/state/objects.db" | cut -f1) / ${wal_mb:-0}" "" "" "" ""
	"$top/tests/stack" stop "$d" >/dev/null
}
