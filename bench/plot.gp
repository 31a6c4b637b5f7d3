# plot.gp — bench/run's latency-against-offered-load chart.
# Called as: gnuplot -e "wd='W.dat'; ng='N.dat'; out='latency.png'" plot.gp
# Data columns: offered req/s, achieved req/s, p50, p99, p99.9, max (ms).
# Latency is on a log scale: nginx's and warrantd's differ by orders of
# magnitude, and the knee where queueing starts is what the chart is for.
set terminal pngcairo size 1100,620 enhanced font "DejaVu Sans,11"
set output out
set title "Latency against offered load (open loop, 64 connections, mutual TLS, keep-alive)"
set xlabel "offered load (requests/s)"
set ylabel "latency from intended send time (ms, log scale)"
set logscale y
set format y "%g"
set grid xtics ytics mytics lc rgb "#dddddd"
set key outside right top box
set xrange [0:*]
set style line 1 lc rgb "#c0392b" lw 2 pt 7 ps 1.2
set style line 2 lc rgb "#c0392b" lw 2 pt 5 ps 1.2 dt 2
set style line 3 lc rgb "#e67e22" lw 1 pt 9 ps 1.0 dt 3
set style line 4 lc rgb "#2471a3" lw 2 pt 7 ps 1.2
set style line 5 lc rgb "#2471a3" lw 2 pt 5 ps 1.2 dt 2
set style line 6 lc rgb "#5dade2" lw 1 pt 9 ps 1.0 dt 3
plot wd using 1:3 with linespoints ls 1 title "warrantd p50", \
     wd using 1:4 with linespoints ls 2 title "warrantd p99", \
     wd using 1:5 with linespoints ls 3 title "warrantd p99.9", \
     ng using 1:3 with linespoints ls 4 title "nginx p50", \
     ng using 1:4 with linespoints ls 5 title "nginx p99", \
     ng using 1:5 with linespoints ls 6 title "nginx p99.9"
