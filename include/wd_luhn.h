/*
 * wd_luhn.h — the Luhn check digit (ISO/IEC 7812-1) of IMEIs and ICCIDs,
 * once for every program (lib/lib_luhn.c).
 */
#ifndef WD_LUHN_H
#define WD_LUHN_H

#include <stdbool.h>
#include <stddef.h>

/* The check digit ('0'..'9') of the n digits at d (payload only); d holds
 * ASCII digits, which the caller has checked. */
char	 wd_luhn_digit(const char *d, size_t n);

/* The n characters at d (check digit last) are digits, n >= 2, and the
 * last is the Luhn digit of the others. */
bool	 wd_luhn_ok(const char *d, size_t n);

#endif
