/*
 * lib_time.c — owns the reading and writing of timestamps: HI-1's
 * xs:dateTime, the auditors' dates, the answers' QualifiedDateTime and the
 * logs' and consoles' UTC stamps (include/wd_time.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "wd_time.h"

static int
lt_digits(const char *s, size_t n, int *out)
{
	int	 v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
wd_time_days_in_month(int year, int mon)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int	 leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (mon < 1 || mon > 12)
		return 0;
	return mon == 2 && leap ? 29 : days[mon - 1];
}

/* "[.ffffff](Z|+hh:mm|-hh:mm)" after the seconds. */
static int
lt_zone(const char *p, int64_t *frac_us, int64_t *offset_s)
{
	int	 n = 0, hh, mm;

	*frac_us = 0;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, n++) {
			if (n >= 6)
				return -1;
			*frac_us = *frac_us * 10 + (*p - '0');
		}
		if (n == 0)
			return -1;
		for (; n < 6; n++)
			*frac_us *= 10;
	}
	if (p[0] == 'Z' && p[1] == '\0') {
		*offset_s = 0;
		return 0;
	}
	if (strlen(p) != 6 || (p[0] != '+' && p[0] != '-') || p[3] != ':' ||
	    lt_digits(p + 1, 2, &hh) || lt_digits(p + 4, 2, &mm) ||
	    mm > 59 || hh > 14 || (hh == 14 && mm != 0))
		return -1;
	*offset_s = (hh * 3600 + mm * 60) * (p[0] == '-' ? -1 : 1);
	return 0;
}

/* YYYY-MM-DD at s (not necessarily ending there) into tm. 0, or -1. */
static int
lt_date(const char *s, struct tm *tm)
{
	int	 y, mo, d;

	if (strnlen(s, 10) < 10 || s[4] != '-' || s[7] != '-' ||
	    lt_digits(s, 4, &y) || lt_digits(s + 5, 2, &mo) ||
	    lt_digits(s + 8, 2, &d))
		return -1;
	/* Year 0000 is not one in xs:date. */
	if (y < 1 || mo < 1 || mo > 12 || d < 1 ||
	    d > wd_time_days_in_month(y, mo))
		return -1;
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = y - 1900;
	tm->tm_mon = mo - 1;
	tm->tm_mday = d;
	return 0;
}

int
wd_time_parse(const char *s, int64_t *out_us)
{
	struct tm	 tm;
	int		 h, mi, se;
	int64_t		 frac, off;

	if (s == NULL || strnlen(s, 40) < 20 || lt_date(s, &tm) == -1 ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    lt_digits(s + 11, 2, &h) || lt_digits(s + 14, 2, &mi) ||
	    lt_digits(s + 17, 2, &se))
		return -1;
	/* xs:dateTime allows 24:00:00; we do not. */
	if (h > 23 || mi > 59 || se > 59)
		return -1;
	if (lt_zone(s + 19, &frac, &off) == -1)
		return -1;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	/* Fields are in range, so timegm() has nothing to normalise. */
	*out_us = ((int64_t)timegm(&tm) - off) * 1000000 + frac;
	return 0;
}

int
wd_time_parse_date(const char *s, int64_t *out_us)
{
	struct tm	 tm;

	if (s == NULL || strlen(s) != 10 || lt_date(s, &tm) == -1)
		return -1;
	*out_us = (int64_t)timegm(&tm) * 1000000;
	return 0;
}

/* Seconds and µs of us, floored (-1 µs is 23:59:59.999999 the day before). */
static int
lt_split(int64_t us, struct tm *tm, int64_t *frac)
{
	int64_t		 sec = us / 1000000;
	time_t		 t;

	*frac = us % 1000000;
	if (*frac < 0) {
		*frac += 1000000;
		sec--;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, tm) == NULL || tm->tm_year + 1900 > 9999 ||
	    tm->tm_year + 1900 < 0)
		return -1;
	return 0;
}

/* The stamp of us, with the µs or without. */
static void
lt_write(int64_t us, char *buf, size_t len, int with_us)
{
	struct tm	 tm;
	int64_t		 frac;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (lt_split(us, &tm, &frac) == -1)
		return;
	if (with_us)
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (long long)frac);
	else
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
}

void
wd_time_format(int64_t us, char *buf, size_t len)
{
	lt_write(us, buf, len, 1);
}

void
wd_time_format_s(int64_t us, char *buf, size_t len)
{
	lt_write(us, buf, len, 0);
}
