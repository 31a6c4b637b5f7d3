/*
 * wd_time.h — the one reading and writing of timestamps for every program
 * (lib/lib_time.c): µs since the epoch, UTC on output.
 */
#ifndef WD_TIME_H
#define WD_TIME_H

#include <stddef.h>
#include <stdint.h>

/*
 * An xs:dateTime with a zone (RFC 3339): YYYY-MM-DDTHH:MM:SS[.f{1,6}]
 * followed by Z or +hh:mm / -hh:mm (at most 14:00), year 0001..9999, a real
 * day of the month (leap years), no 24:00:00, no leap second. 0, or -1.
 */
int	 wd_time_parse(const char *s, int64_t *out_us);

/* YYYY-MM-DD, midnight UTC. 0, or -1. */
int	 wd_time_parse_date(const char *s, int64_t *out_us);

/* YYYY-MM-DDTHH:MM:SS.ffffffZ (floor of us; buf >= 28), "" if the year
 * cannot be written. */
void	 wd_time_format(int64_t us, char *buf, size_t len);

/* YYYY-MM-DDTHH:MM:SSZ, whole seconds (floor; buf >= 21), "" likewise. */
void	 wd_time_format_s(int64_t us, char *buf, size_t len);

/* 28..31; mon 1..12. */
int	 wd_time_days_in_month(int year, int mon);

#endif
