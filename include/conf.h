/*
 * conf — the configuration and the registry of authorities, officials and
 * auditors, parsed from warrantd.conf (grammar in src/warrantd/parse.y). A struct
 * wd_conf is immutable once loaded: SIGHUP builds a new one and swaps it in,
 * and every connection keeps a reference to the one it started with.
 */
#ifndef WD_CONF_H
#define WD_CONF_H

#include <sys/queue.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "wd.h"

/* What an authority may ask for one request type. */
struct wd_permission {
	bool		allowed;
	bool		judicial_order;	/* an order from a judge is required */
	bool		urgent;		/* ...or an urgent order, to be ratified */
};

struct wd_authority;

enum wd_role {
	WD_ROLE_OFFICIAL = 0,
	WD_ROLE_AUDITOR,
	WD_ROLE_OPERATOR,	/* the carrier's desk: review, notes, assign */
	WD_ROLE_SUPERVISOR	/* ...and overrides (docs/desk-api.md) */
};

/* What happens to a new task of one type (issue 10, docs/desk-api.md). */
enum wd_review {
	WD_REVIEW_DEFAULT = 0,	/* not configured: the built-in default */
	WD_REVIEW_AUTO,		/* carried out at once */
	WD_REVIEW_GATE,		/* AwaitingApproval until the desk approves */
	WD_REVIEW_AFTER		/* carried out at once, flagged for the desk */
};

struct wd_official {
	char			*id;		/* registry key, e.g. "ana.lopez" */
	char			*name;
	char			*position;
	char			*designation;	/* DOF publication reference */
	enum wd_role		 role;
	bool			 has_cert_fp;
	uint8_t			 cert_sha256[32];	/* of the DER certificate */
	bool			 has_spki_fp;
	uint8_t			 spki_sha256[32];	/* of the DER SubjectPublicKeyInfo */
	time_t			 valid_from;
	time_t			 valid_until;
	bool			 suspended;
	struct wd_authority	*authority;	/* NULL for auditors */
	int			 line;
	TAILQ_ENTRY(wd_official) entry;		/* in wd_conf.officials */
};
TAILQ_HEAD(wd_officials, wd_official);

struct wd_authority {
	char			*id;		/* HI-1 SenderIdentifier/UniqueIdentifier */
	char			*name;
	enum wd_authkind	 kind;
	struct wd_permission	 perms[WD_REQ__COUNT];
	char			*deliver_to;	/* DELIVER endpoint, or NULL */
	enum wd_review		 review[WD_REQ__COUNT];	/* review-policy */
	int			 line;
	TAILQ_ENTRY(wd_authority) entry;
};
TAILQ_HEAD(wd_authorities, wd_authority);

/*
 * A carrier back end (src/warrantd/backend.c) and what it serves. Each request type
 * is served by at most one back end.
 */
struct wd_backend {
	char		*name;			/* "hlr-main" */
	char		*address;		/* as written */
	char		*unix_path;		/* "unix:/path": the socket; else NULL */
	char		*host;			/* TCP: IP literal, no brackets */
	uint16_t	 port;			/* TCP */
	struct {
		char	*cert, *key, *ca;	/* all three or none; TCP needs them */
	} tls;
	bool		 serves[WD_REQ__COUNT];
	unsigned	 deadline_ms;		/* per attempt, default 2 s */
	unsigned	 retries;		/* after the first attempt, default 3 */
	unsigned	 connections;		/* pool size, default 4 */
	unsigned	 breaker_failures;	/* consecutive, default 5 */
	unsigned	 breaker_open_ms;	/* before half-open, default 30 s */
	int		 line;
	TAILQ_ENTRY(wd_backend) entry;
};
TAILQ_HEAD(wd_backends, wd_backend);

/*
 * A network element provisioned over ETSI X1 (src/warrantd/x1*.c, docs/x1.md): the
 * gateway is its ADMF and POSTs X1 requests to url with mutual TLS.
 */
enum wd_ne_target {			/* X1 TargetIdentifier kinds served */
	WD_NE_E164 = 0, WD_NE_IMSI, WD_NE_IMEI, WD_NE_IPV4, WD_NE_IPV6,
	WD_NE__COUNT
};
struct wd_ne {
	char		*name;			/* also its X1 neIdentifier */
	char		*url;			/* https://host[:port]/path */
	char		*cert, *key, *ca, *crl;	/* crl optional */
	bool		 serves[WD_NE__COUNT];
	char		*dest_addr;		/* X2/X3 delivery (mediation) */
	uint16_t	 dest_port;
	bool		 dest_v6;
	unsigned	 deadline_ms;		/* per request, default 10 s */
	unsigned	 retries;		/* at once, default 3 */
	unsigned	 reconcile_s;		/* GetAllDetails period, 5 min */
	unsigned	 breaker_failures;	/* exchanges in a row, default 5 */
	unsigned	 breaker_open_ms;	/* before the probe, default 30 s */
	int		 seen[16];		/* src/warrantd/conf_ne.c: line of each */
	int		 line;
	TAILQ_ENTRY(wd_ne) entry;
};
TAILQ_HEAD(wd_nes, wd_ne);

struct wd_conf {
	char		*path;
	char		*carrier_id;		/* our HI-1 ReceiverIdentifier */
	char		*listen_addr;		/* default 127.0.0.1 */
	uint16_t	 listen_port;		/* default 8443 */
	char		*desk_addr;		/* desk listen on; NULL: no desk */
	uint16_t	 desk_port;
	char		*desk_pages;		/* the console's files; NULL: default */
	bool		 desk_four_eyes;	/* interceptions: two approvals */
	bool		 desk_show_results[WD_REQ__COUNT];	/* desk show-results */
	char		*state_dir;		/* journal, results */
	char		*templates_dir;		/* etc/templates */
	unsigned	 parsers;		/* parser workers; 0: in-process */
#define CONF_PARSERS_PER_CORE	UINT_MAX	/* default: one per core */
	struct {
		char	*cert, *key, *ca, *crl;
		bool	 crl_none;		/* `crl none`: revocation off, on purpose */
	} tls;
	struct {
		size_t	 body_max;		/* default 256 KiB */
		unsigned max_connections;	/* default 1024 */
		unsigned max_headers;		/* default 64 */
		size_t	 header_max;		/* bytes of the whole head, default 8 KiB */
		unsigned request_timeout_ms;	/* absolute, per request, default 30 s */
		unsigned idle_timeout_ms;	/* keep-alive idle, default 60 s */
		/* The connection edge: see docs/config.md, "limits". */
		unsigned handshake_timeout_ms;	/* TLS handshake, from accept, 5 s */
		unsigned unauth_max;		/* in their handshake at once, 256 */
		unsigned unauth_per_source;	/* ...from one IPv4 or IPv6 /64, 16 */
		unsigned per_official;		/* after it, per certificate, 32 */
		size_t	 body_budget;		/* body bytes in flight, all, 64 MiB */
		unsigned keepalive_time_ms;	/* a connection's lifetime, 1 h */
		unsigned keepalive_requests;	/* requests on one connection, 1000 */
	} limits;
	struct {
		unsigned retention_days;	/* default 730 (24 months) */
		unsigned clock_skew_s;		/* default 300 */
		unsigned ratify_s;		/* urgent orders, default 48 h */
		unsigned preservation_max_days;	/* default 90 */
	} policy;
	struct {
		char	*signing_key;		/* Ed25519 PEM, mode 0600 */
		char	*audit_key;		/* X25519 public PEM: seal targets */
		char	*data_key;		/* 32 bytes, 0600; NULL: state/data.key */
		char	*origin;		/* checkpoint origin line */
		unsigned checkpoint_records;	/* default 1000 */
		unsigned checkpoint_interval_s;	/* default 60 */
		size_t	 segment_max;		/* default 64 MiB */
	} journal;
	struct {
		char	*key;			/* 32 random bytes, mode 0600 */
		unsigned keep_s;		/* undelivered results, default 30 d */
		unsigned answer_within_ms;	/* wait for quick answers, default 5 s */
		unsigned warn_before_s;		/* of keep_s running out, default 7 d */
		unsigned keep_delivered_s;	/* re-fetchable after delivery, 24 h */
		size_t	 part_max;		/* bytes of a delivered part, 1 MiB */
		unsigned rounds;		/* rounds of back-end calls, 5 */
		unsigned round_pause_s;		/* first pause between rounds, 60 s */
	} results;
	struct {
		unsigned answer_s[WD_REQ__COUNT];	/* answer deadline by type */
		unsigned older_records_s;	/* records older than a year */
	} deadlines;
	struct {
		unsigned warn_pct;		/* alert-warn: % of a clock, 80 */
		char	*command;		/* alert-command; NULL: none */
		unsigned timeout_s;		/* alert-timeout, default 30 s */
	} alert;
	struct {
		char	*cert, *key, *ca;	/* the carrier as DELIVER client */
		char	*crl;			/* CRLs of the endpoints' CAs */
		unsigned timeout_ms;		/* per DELIVER, default 30 s */
		unsigned window;		/* parts of a task in flight, 4 */
	} delivery;
	struct wd_authorities	authorities;
	struct wd_officials	officials;	/* officials and auditors */
	struct wd_backends	backends;	/* in the order written */
	struct wd_nes		nes;		/* X1 network elements */
};

/*
 * Parse path (and what it includes). On error, logs each problem as
 * "file:line: what is wrong" with log_warnx and returns NULL.
 */
struct wd_conf		*conf_load(const char *path);
void			 conf_free(struct wd_conf *);

struct wd_authority	*conf_find_authority(const struct wd_conf *, const char *id);

struct wd_backend	*conf_find_backend(const struct wd_conf *, const char *name);
/* The back end that serves a request type, or NULL. */
struct wd_backend	*conf_backend_for(const struct wd_conf *, enum wd_reqtype);

/*
 * Network elements (src/warrantd/conf_ne.c). The setters return NULL or what is
 * wrong with the value, for parse.y to report with the line.
 */
struct wd_ne	*conf_find_ne(const struct wd_conf *, const char *name);
const char	*conf_ne_new(struct wd_conf *, const char *name, int line,
		    struct wd_ne **);
const char	*conf_ne_set(struct wd_ne *, const char *kw, int line,
		    const char *value);
const char	*conf_ne_number(struct wd_ne *, const char *kw, int line,
		    int64_t value);
const char	*conf_ne_breaker(struct wd_ne *, int line, int64_t failures,
		    int64_t ms);
const char	*conf_ne_end(struct wd_ne *);
void		 conf_ne_free(struct wd_ne *);
/* Do two configurations name the same elements, the same way? */
bool		 conf_nes_same(const struct wd_conf *, const struct wd_conf *);
const char	*conf_ne_target_name(enum wd_ne_target);

enum wd_official_status {
	WD_OFFICIAL_OK = 0,
	WD_OFFICIAL_UNKNOWN,
	WD_OFFICIAL_SUSPENDED,
	WD_OFFICIAL_NOT_YET_VALID,
	WD_OFFICIAL_EXPIRED
};

/* Find a registered person by certificate or public-key fingerprint. */
struct wd_official	*conf_find_official(const struct wd_conf *,
			    const uint8_t cert_sha256[32], const uint8_t spki_sha256[32]);
/*
 * Who a client certificate is (src/warrantd/conf.c): exactly one entry, none, more
 * than one (who and other are the first two), or an entry whose certificate
 * hash matches and whose public-key hash does not (who). Only ONE may act.
 */
enum wd_identity {
	WD_IDENTITY_NONE = 0,
	WD_IDENTITY_ONE,
	WD_IDENTITY_AMBIGUOUS,
	WD_IDENTITY_INCONSISTENT
};
enum wd_identity	 conf_identify(const struct wd_conf *,
			    const uint8_t cert_sha256[32], const uint8_t spki_sha256[32],
			    const struct wd_official **who,
			    const struct wd_official **other);
enum wd_official_status	 conf_official_status(const struct wd_official *, time_t now);

#endif
