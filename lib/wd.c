/*
 * wd — names and error texts for the shared vocabulary in include/wd.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wd.h"

static const struct {
	const char	*name;		/* MX RequestType dictionary value */
	const char	*confname;	/* keyword in warrantd.conf */
} reqtypes[WD_REQ__COUNT] = {
	[WD_REQ_SUBSCRIBER] =		{ "SubscriberIdentity", "subscriber-identity" },
	[WD_REQ_LOCATION_RT] =		{ "RealTimeLocation", "realtime-location" },
	[WD_REQ_LOCATION_HIST] =	{ "HistoricalLocation", "historical-location" },
	[WD_REQ_RECORDS] =		{ "CommunicationRecords", "communication-records" },
	[WD_REQ_PRESERVATION] =		{ "Preservation", "preservation" },
	[WD_REQ_INTERCEPTION] =		{ "Interception", "interception" },
};

static const char *idtypes[WD_ID__COUNT] = {
	[WD_ID_MSISDN] = "InternationalE164",
	[WD_ID_IMSI] = "IMSI",
	[WD_ID_IMEI] = "IMEICheckDigit",
	[WD_ID_IPPORT] = "IPAddressPort",
};

static const char *authkinds[WD_KIND__COUNT] = {
	[WD_KIND_FEDERAL_PROSECUTOR] = "federal-prosecutor",
	[WD_KIND_STATE_PROSECUTOR] = "state-prosecutor",
	[WD_KIND_JUDICIAL_AUTHORITY] = "judicial-authority",
	[WD_KIND_POLICE_UNDER_PROSECUTOR] = "police-under-prosecutor",
	[WD_KIND_FEDERAL_POLICE] = "federal-police",
	[WD_KIND_ELECTORAL_AUTHORITY] = "electoral-authority",
};

static const struct {
	enum wd_errcode	 code;
	int		 http;
	const char	*text;
} errors[] = {
	{ WD_OK, 200, "ok" },
	{ WD_ERR_BODY_TOO_LARGE, 413, "request body too large" },
	{ WD_ERR_BAD_HTTP, 400, "malformed HTTP request" },
	{ WD_ERR_BAD_CONTENT_TYPE, 415, "content type must be application/xml" },
	{ WD_ERR_NOT_WELL_FORMED, 400, "XML not well-formed" },
	{ WD_ERR_DOCTYPE, 400, "DOCTYPE and entities are not accepted" },
	{ WD_ERR_SCHEMA, 400, "message does not conform to the MX profile schema" },
	{ WD_ERR_ENCODING, 400, "body is not valid UTF-8" },
	{ WD_ERR_LIMITS, 400, "document exceeds structural limits" },
	{ WD_ERR_UNKNOWN_OFFICIAL, 403, "certificate not registered to any official" },
	{ WD_ERR_OFFICIAL_SUSPENDED, 403, "official is suspended" },
	{ WD_ERR_OFFICIAL_EXPIRED, 403, "official's designation is not in force" },
	{ WD_ERR_SENDER_MISMATCH, 403, "sender is not the official's authority" },
	{ WD_ERR_TYPE_NOT_ALLOWED, 403, "request type not allowed for this authority" },
	{ WD_ERR_ORDER_REQUIRED, 403, "a judicial order is required for this request type" },
	{ WD_ERR_AUTH_NOT_VALID, 403, "authorisation not valid at the time of the request" },
	{ WD_ERR_WRONG_RECEIVER, 400, "message is addressed to another carrier" },
	{ WD_ERR_DUPLICATE_ACTION, 400, "duplicate action identifier" },
	{ WD_ERR_AUTH_LINK, 400, "object is not linked as the profile requires" },
	{ WD_ERR_WINDOW_ORDER, 400, "time window ends before it starts" },
	{ WD_ERR_WINDOW_RETENTION, 400, "time window reaches beyond the retention period" },
	{ WD_ERR_CLOCK_SKEW, 400, "timestamp outside the allowed clock skew" },
	{ WD_ERR_IDENTIFIER, 400, "malformed identifier" },
	{ WD_ERR_MISSING_FIELD, 400, "required field missing" },
	{ WD_ERR_DUPLICATE_OBJECT, 400, "duplicate object identifier" },
	{ WD_ERR_ACTION_NOT_DONE, 400, "not carried out: another action in the message failed" },
	{ WD_ERR_OBJECT_EXISTS, 409, "object already exists with other content" },
	{ WD_ERR_NO_SUCH_OBJECT, 404, "no such object" },
	{ WD_ERR_GENERATION, 409, "object has changed: Generation does not match" },
	{ WD_ERR_NOT_CHANGEABLE, 400, "not something the authority can set or change" },
	{ WD_ERR_STATE, 409, "not possible in the object's current state" },
	{ WD_ERR_EXTENSION_LIMIT, 400, "extension beyond the longest allowed" },
	{ WD_ERR_MIXED, 400, "a message either reads or changes" },
	{ WD_ERR_TOO_MUCH, 400, "too much data for one answer" },
	{ WD_ERR_IN_PROGRESS, 503, "the same objects are being created now, retry" },
	{ WD_ERR_CHECKSUM, 400, "delivered data does not match its checksum" },
	{ WD_ERR_OVERLOADED, 503, "service overloaded, retry later" },
	{ WD_ERR_STORAGE, 503, "journal unavailable, retry later" },
	{ WD_ERR_INTERNAL, 500, "internal error" },
};

const char *
wd_reqtype_name(enum wd_reqtype t)
{
	return (unsigned)t < WD_REQ__COUNT ? reqtypes[t].name : "?";
}

const char *
wd_reqtype_confname(enum wd_reqtype t)
{
	return (unsigned)t < WD_REQ__COUNT ? reqtypes[t].confname : "?";
}

int
wd_reqtype_from_name(const char *s, enum wd_reqtype *out)
{
	for (int i = 0; i < WD_REQ__COUNT; i++)
		if (strcmp(s, reqtypes[i].name) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

int
wd_reqtype_from_confname(const char *s, enum wd_reqtype *out)
{
	for (int i = 0; i < WD_REQ__COUNT; i++)
		if (strcmp(s, reqtypes[i].confname) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

const char *
wd_idtype_name(enum wd_idtype t)
{
	return (unsigned)t < WD_ID__COUNT ? idtypes[t] : "?";
}

const char *
wd_authkind_confname(enum wd_authkind k)
{
	return (unsigned)k < WD_KIND__COUNT ? authkinds[k] : "?";
}

int
wd_authkind_from_confname(const char *s, enum wd_authkind *out)
{
	for (int i = 0; i < WD_KIND__COUNT; i++)
		if (strcmp(s, authkinds[i]) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

const char *
wd_error_text(enum wd_errcode code)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code)
			return errors[i].text;
	return "unknown error";
}

int
wd_error_http_status(enum wd_errcode code)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code)
			return errors[i].http;
	return 500;
}

static void wd_error_vset(struct wd_error *, enum wd_errcode, const char *,
    va_list) __attribute__((format(printf, 3, 0)));

static void
wd_error_vset(struct wd_error *e, enum wd_errcode code, const char *fmt,
    va_list ap)
{
	e->code = code;
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
}

void
wd_error_set(struct wd_error *e, enum wd_errcode code, const char *fmt, ...)
{
	va_list ap;

	e->has_action = 0;
	e->action_id = 0;
	va_start(ap, fmt);
	wd_error_vset(e, code, fmt, ap);
	va_end(ap);
}

void
wd_error_set_action(struct wd_error *e, enum wd_errcode code, uint32_t action,
    const char *fmt, ...)
{
	va_list ap;

	e->has_action = 1;
	e->action_id = action;
	va_start(ap, fmt);
	wd_error_vset(e, code, fmt, ap);
	va_end(ap);
}

const char *
wd_reason_text(enum wd_reason r)
{
	switch (r) {
	case WD_REASON_NOT_FOUND:
		return "no data found for the identifiers";
	case WD_REASON_NOT_RETAINED:
		return "data of this kind is not retained";
	case WD_REASON_OUTSIDE_RETENTION:
		return "the window is older than the data retained";
	case WD_REASON_BACKEND_FAILED:
		return "the carrier's system could not answer after retries";
	case WD_REASON_BACKEND_REFUSED:
		return "the carrier's system cannot carry out this request";
	case WD_REASON_NE_REFUSED:
		return "a network element refused the interception";
	case WD_REASON_NE_UNSERVED:
		return "no network element intercepts this kind of target";
	case WD_REASON_NE_PENDING:
		return "a network element has not done its part yet";
	case WD_REASON_CANCELLED:
		return "cancelled by the authority";
	case WD_REASON_LAPSED:
		return "urgent order not ratified in time: lapsed";
	case WD_REASON_REJECTED:
		return "rejected by the carrier's compliance desk";
	case WD_REASON_PRESERVATION_ENDED:
		return "preservation ended: the data was released";
	case WD_REASON_RESULTS_EXPIRED:
		return "results kept undelivered too long: destroyed";
	case WD_REASON_ORDER_ENDED:
		return "the order's period ended";
	default:
		return "";
	}
}
