/*
 * wd — vocabulary shared by every module: request types, identifier types,
 * authority kinds and the error codes that travel in HI-1 answers, the
 * journal and the logs. Names here are the single source for their text.
 */
#ifndef WD_H
#define WD_H

#include <stddef.h>
#include <stdint.h>

enum wd_reqtype {
	WD_REQ_SUBSCRIBER = 0,		/* MX RequestType SubscriberIdentity */
	WD_REQ_LOCATION_RT,		/* RealTimeLocation */
	WD_REQ_LOCATION_HIST,		/* HistoricalLocation */
	WD_REQ_RECORDS,			/* CommunicationRecords */
	WD_REQ_PRESERVATION,		/* Preservation */
	WD_REQ_INTERCEPTION,		/* LITaskObject */
	WD_REQ__COUNT
};

enum wd_idtype {
	WD_ID_MSISDN = 0,		/* ETSI InternationalE164, 52 + 10 digits */
	WD_ID_IMSI,			/* ETSI IMSI, MCC 334 */
	WD_ID_IMEI,			/* ETSI IMEICheckDigit, Luhn-valid */
	WD_ID_IPPORT,			/* ETSI IPAddressPort, with ObservedTime */
	WD_ID__COUNT
};

enum wd_authkind {
	WD_KIND_FEDERAL_PROSECUTOR = 0,
	WD_KIND_STATE_PROSECUTOR,
	WD_KIND_JUDICIAL_AUTHORITY,
	WD_KIND_POLICE_UNDER_PROSECUTOR,
	WD_KIND_FEDERAL_POLICE,
	WD_KIND_ELECTORAL_AUTHORITY,
	WD_KIND__COUNT
};

/*
 * Error codes answered in HI-1 ErrorInformation/ErrorCode. Grouped by
 * hundreds: 1xx transport/HTTP, 2xx message, 3xx authentication and
 * authorisation, 4xx semantic checks, 5xx carrier side. docs/errors.md lists
 * them for integrators; wd_error_text() gives the short English name.
 */
enum wd_errcode {
	WD_OK = 0,
	WD_ERR_BODY_TOO_LARGE = 101,
	WD_ERR_BAD_HTTP = 102,
	WD_ERR_BAD_CONTENT_TYPE = 103,
	WD_ERR_NOT_WELL_FORMED = 201,
	WD_ERR_DOCTYPE = 202,
	WD_ERR_SCHEMA = 203,
	WD_ERR_ENCODING = 204,
	WD_ERR_LIMITS = 205,		/* depth, attributes, counts */
	WD_ERR_UNKNOWN_OFFICIAL = 301,
	WD_ERR_OFFICIAL_SUSPENDED = 302,
	WD_ERR_OFFICIAL_EXPIRED = 303,
	WD_ERR_SENDER_MISMATCH = 304,
	WD_ERR_TYPE_NOT_ALLOWED = 305,
	WD_ERR_ORDER_REQUIRED = 306,	/* judicial order required for this type */
	WD_ERR_AUTH_NOT_VALID = 307,	/* authorisation outside its validity */
	WD_ERR_WRONG_RECEIVER = 308,
	WD_ERR_DUPLICATE_ACTION = 401,
	/* 402 (unknown dictionary value) retired: see docs/errors.md */
	WD_ERR_AUTH_LINK = 403,		/* task not linked to an authorisation */
	WD_ERR_WINDOW_ORDER = 404,	/* end before start */
	WD_ERR_WINDOW_RETENTION = 405,	/* older than the retention period */
	WD_ERR_CLOCK_SKEW = 406,
	WD_ERR_IDENTIFIER = 407,	/* format or Luhn digit */
	WD_ERR_MISSING_FIELD = 408,
	WD_ERR_DUPLICATE_OBJECT = 409,
	WD_ERR_ACTION_NOT_DONE = 410,	/* another action in the message failed */
	WD_ERR_OBJECT_EXISTS = 411,	/* CREATE of a held object, other content */
	WD_ERR_NO_SUCH_OBJECT = 412,	/* not held for this authority */
	WD_ERR_GENERATION = 413,	/* UPDATE quotes another Generation */
	WD_ERR_NOT_CHANGEABLE = 414,	/* field or verb the authority cannot use */
	WD_ERR_STATE = 415,		/* not possible in the object's state */
	WD_ERR_EXTENSION_LIMIT = 416,	/* beyond the longest extension allowed */
	WD_ERR_MIXED = 417,		/* reads and changes in one message */
	WD_ERR_TOO_MUCH = 418,		/* answer would exceed its data cap */
	WD_ERR_IN_PROGRESS = 419,	/* the same objects are being created now */
	WD_ERR_CHECKSUM = 420,		/* delivered data does not match its Checksum */
	WD_ERR_OVERLOADED = 501,
	WD_ERR_STORAGE = 502,
	WD_ERR_INTERNAL = 503
};

/*
 * Why a task or order ended as it did: the ErrorCode of a StatusReason or
 * InvalidReason the authority reads with GET (docs/errors.md, 6xx).
 */
enum wd_reason {
	WD_REASON_NONE = 0,
	WD_REASON_NOT_FOUND = 601,	/* no data for any identifier */
	WD_REASON_NOT_RETAINED = 602,
	WD_REASON_OUTSIDE_RETENTION = 603,
	WD_REASON_BACKEND_FAILED = 610,	/* retries could not get an answer */
	WD_REASON_BACKEND_REFUSED = 611,	/* the back end cannot do it */
	WD_REASON_NE_REFUSED = 612,	/* a network element refused (X1) */
	WD_REASON_NE_UNSERVED = 613,	/* no network element serves a target */
	WD_REASON_NE_PENDING = 614,	/* GET only: an element owes its part */
	WD_REASON_CANCELLED = 620,	/* the authority's UPDATE */
	WD_REASON_LAPSED = 621,		/* urgent order not ratified in time */
	WD_REASON_REJECTED = 622,	/* the carrier's desk */
	WD_REASON_PRESERVATION_ENDED = 630,	/* freeze released at its end */
	WD_REASON_RESULTS_EXPIRED = 631,	/* kept undelivered too long */
	WD_REASON_ORDER_ENDED = 640	/* the order's EndTime passed */
};
const char	*wd_reason_text(enum wd_reason);

/* A validation or policy failure: code, optional action, human text. */
struct wd_error {
	enum wd_errcode	code;
	int		has_action;
	uint32_t	action_id;
	char		text[256];
};

const char	*wd_reqtype_name(enum wd_reqtype);	/* "SubscriberIdentity" */
const char	*wd_reqtype_confname(enum wd_reqtype);	/* "subscriber-identity" */
int		 wd_reqtype_from_name(const char *, enum wd_reqtype *);
int		 wd_reqtype_from_confname(const char *, enum wd_reqtype *);
const char	*wd_idtype_name(enum wd_idtype);
const char	*wd_authkind_confname(enum wd_authkind);	/* "federal-prosecutor" */
int		 wd_authkind_from_confname(const char *, enum wd_authkind *);
const char	*wd_error_text(enum wd_errcode);
/* HTTP status that mirrors an error code (400, 403, 413, 503...). */
int		 wd_error_http_status(enum wd_errcode);
void		 wd_error_set(struct wd_error *, enum wd_errcode, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
void		 wd_error_set_action(struct wd_error *, enum wd_errcode, uint32_t action,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
