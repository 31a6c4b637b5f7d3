/*
 * test_conf — warrantd.conf parsing: a full configuration read back field by
 * field, defaults, includes, every class of error (each must make conf_load
 * fail and be reported once, naming file and line), fingerprint forms, and
 * the validity boundaries of a registered official.
 *
 * Each test works in its own mkdtemp directory; conf_load's messages go to
 * stderr (log_init to_stderr), which is redirected to a temp file so the
 * tests can read what an operator would see.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define FP_A	"3fa1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9c"
#define FP_A_COLONS \
	"3F:A1:C2:D3:E4:F5:06:17:28:39:4A:5B:6C:7D:8E:9F:" \
	"A0:B1:C2:D3:E4:F5:06:17:28:39:4A:5B:6C:7D:8E:9C"
#define FP_B	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define FP_C	"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define FP_D	"0101010101010101010101010101010101010101010101010101010101010101"
#define FP_E	"0202020202020202020202020202020202020202020202020202020202020202"

/* Eight lines: errors in the cases below are on line 9 or later. */
#define PREFIX \
	"carrier \"MXCARRIER\"\n" \
	"state \"/var/lib/warrantd\"\n" \
	"templates \"/usr/share/warrantd/templates\"\n" \
	"tls {\n" \
	"\tcertificate \"/etc/warrantd/tls/server.pem\"\n" \
	"\tkey \"/etc/warrantd/tls/server.key\"\n" \
	"\tca \"/etc/warrantd/tls/ca.pem\"\n" \
	"}\n"

/* Five lines each. */
#define OFFICIAL(id, fp) \
	"\tofficial \"" id "\" {\n" \
	"\t\tname \"Someone\"\n" \
	"\t\tcertificate sha256 \"" fp "\"\n" \
	"\t\tvalid 2026-01-01 to 2027-12-31\n" \
	"\t}\n"
#define AUDITOR(id, fp) \
	"auditor \"" id "\" {\n" \
	"\tname \"Auditor\"\n" \
	"\tcertificate sha256 \"" fp "\"\n" \
	"\tvalid 2026-01-01 to 2027-12-31\n" \
	"}\n"
/* Three lines before the officials, one after. */
#define AUTHORITY(id, officials) \
	"authority \"" id "\" {\n" \
	"\tname \"An authority\"\n" \
	"\tkind federal-prosecutor\n" \
	officials \
	"}\n"

static char	tmpdir[64];
static char	logtext[64 * 1024];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_conf.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	logtext[0] = '\0';
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *
tmppath(const char *name)
{
	static char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void
write_bytes(const char *name, const char *data, size_t len)
{
	FILE	*f;

	assert_non_null(f = fopen(tmppath(name), "w"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
write_file(const char *name, const char *text)
{
	write_bytes(name, text, strlen(text));
}

/* conf_load(name in tmpdir) with stderr captured into logtext. */
static struct wd_conf *
load(const char *name)
{
	struct wd_conf	*conf;
	char		 logpath[PATH_MAX];
	ssize_t		 n;
	int		 fd, saved;

	snprintf(logpath, sizeof(logpath), "%s/log.XXXXXX", tmpdir);
	assert_true((fd = mkstemp(logpath)) != -1);
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_true(dup2(fd, STDERR_FILENO) != -1);
	conf = conf_load(tmppath(name));
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	close(saved);
	n = pread(fd, logtext, sizeof(logtext) - 1, 0);
	assert_true(n >= 0);
	logtext[n] = '\0';
	close(fd);
	unlink(logpath);
	return conf;
}

static struct wd_conf *
load_text(const char *text)
{
	write_file("warrantd.conf", text);
	return load("warrantd.conf");
}

static int
count_lines(const char *s)
{
	int	n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The log names path:line (line 0: no line) and says what. */
static void
assert_logged(const char *name, int line, const char *what)
{
	char	where[PATH_MAX + 32];

	if (line > 0)
		snprintf(where, sizeof(where), " %s:%d: ", tmppath(name), line);
	else
		snprintf(where, sizeof(where), " %s: ", tmppath(name));
	if (strstr(logtext, where) == NULL || strstr(logtext, what) == NULL)
		fail_msg("expected \"%s\" and \"%s\" in log:\n%s", where, what,
		    logtext);
}

static time_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

static void
fp_bytes(const char *hex, uint8_t out[32])
{
	unsigned	v;
	int		i;

	for (i = 0; i < 32; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* --- valid configurations -------------------------------------------------- */

static const char full_conf[] =
    "# a complete configuration\n"
    "carrier \"MXCARRIER\"\n"
    "listen on 192.0.2.1 port 9443\n"
    "state \"/var/lib/warrantd\"\n"
    "templates \"/usr/share/warrantd/templates\"\n"
    "tls {\n"
    "\tcertificate \"/etc/warrantd/tls/server.pem\"\n"
    "\tkey \"/etc/warrantd/tls/server.key\"\n"
    "\tca \"/etc/warrantd/tls/ca.pem\"\n"
    "\tcrl \"/etc/warrantd/tls/crl.pem\"	# optional\n"
    "}\n"
    "limits {\n"
    "\tbody 1M\n"
    "\tconnections 100000\n"
    "\theaders 32\n"
    "\theader-size 16K\n"
    "\trequest-timeout 1500ms\n"
    "\tidle-timeout 2m\n"
    "}\n"
    "policy {\n"
    "\tretention 3650d\n"
    "\tclock-skew 1m\n"
    "\tratification 1d\n"
    "\tpreservation-max 2160h\n"
    "}\n"
    "journal {\n"
    "\tsigning-key \"/etc/warrantd/journal.key\"\n"
    "\torigin \"mxcarrier.example/warrantd\"\n"
    "\tcheckpoint-records 500\n"
    "\tcheckpoint-interval 1h\n"
    "\tsegment-size 1G\n"
    "}\n"
    "authority \"FGR\" {\n"
    "\tname \"Fiscalía General de la República\"\n"
    "\tkind federal-prosecutor\n"
    "\tallow subscriber-identity\n"
    "\tallow realtime-location judicial-order urgent\n"
    "\tallow interception judicial-order\n"
    "\tofficial \"ana.lopez\" {\n"
    "\t\tname \"Ana López Ruiz\"\n"
    "\t\tposition \"Agente del Ministerio Público de la Federación\"\n"
    "\t\tdesignation \"DOF 15/03/2026, Acuerdo A/012/2026\"\n"
    "\t\tcertificate sha256 \"" FP_A_COLONS "\"\n"
    "\t\tpublic-key sha256 \"" FP_B "\"\n"
    "\t\tvalid 2026-01-01 to 2027-12-31\n"
    "\t}\n"
    "\tofficial \"s.diaz\" {\n"
    "\t\tname \"Sergio Díaz\"\n"
    "\t\tpublic-key sha256 \"" FP_C "\"\n"
    "\t\tvalid 2026-03-01 to 2026-03-01\n"
    "\t\tsuspended\n"
    "\t}\n"
    "}\n"
    "\n"
    "authority \"FGJ-CDMX\" { name \"Fiscalía CDMX\"; kind state-prosecutor }\n"
    "auditor \"aud.perez\" {\n"
    "\tname \"C.P. Laura Pérez\"\n"
    "\tcertificate sha256 \"" FP_D "\"\n"
    "\tpublic-key sha256 \"" FP_E "\"\n"
    "\tvalid 2026-01-01 to 2027-12-31\n"
    "}\n";

static void
test_full_config(void **state)
{
	struct wd_conf		*c;
	struct wd_authority	*fgr, *cdmx;
	struct wd_official	*o;
	uint8_t			 fp[32];

	(void)state;
	assert_non_null(c = load_text(full_conf));
	assert_string_equal(logtext, "");
	assert_string_equal(c->path, tmppath("warrantd.conf"));
	assert_string_equal(c->carrier_id, "MXCARRIER");
	assert_string_equal(c->listen_addr, "192.0.2.1");
	assert_int_equal(c->listen_port, 9443);
	assert_string_equal(c->state_dir, "/var/lib/warrantd");
	assert_string_equal(c->templates_dir, "/usr/share/warrantd/templates");
	assert_string_equal(c->tls.cert, "/etc/warrantd/tls/server.pem");
	assert_string_equal(c->tls.key, "/etc/warrantd/tls/server.key");
	assert_string_equal(c->tls.ca, "/etc/warrantd/tls/ca.pem");
	assert_string_equal(c->tls.crl, "/etc/warrantd/tls/crl.pem");
	assert_int_equal(c->limits.body_max, 1024 * 1024);
	assert_int_equal(c->limits.max_connections, 100000);
	assert_int_equal(c->limits.max_headers, 32);
	assert_int_equal(c->limits.header_max, 16 * 1024);
	assert_int_equal(c->limits.request_timeout_ms, 1500);
	assert_int_equal(c->limits.idle_timeout_ms, 120000);
	assert_int_equal(c->policy.retention_days, 3650);
	assert_int_equal(c->policy.clock_skew_s, 60);
	assert_int_equal(c->policy.ratify_s, 86400);
	assert_int_equal(c->policy.preservation_max_days, 90);
	assert_string_equal(c->journal.signing_key, "/etc/warrantd/journal.key");
	assert_string_equal(c->journal.origin, "mxcarrier.example/warrantd");
	assert_int_equal(c->journal.checkpoint_records, 500);
	assert_int_equal(c->journal.checkpoint_interval_s, 3600);
	assert_int_equal(c->journal.segment_max, 1024 * 1024 * 1024);

	assert_non_null(fgr = conf_find_authority(c, "FGR"));
	assert_string_equal(fgr->name, "Fiscalía General de la República");
	assert_int_equal(fgr->kind, WD_KIND_FEDERAL_PROSECUTOR);
	assert_int_equal(fgr->line, 33);
	assert_true(fgr->perms[WD_REQ_SUBSCRIBER].allowed);
	assert_false(fgr->perms[WD_REQ_SUBSCRIBER].judicial_order);
	assert_false(fgr->perms[WD_REQ_SUBSCRIBER].urgent);
	assert_true(fgr->perms[WD_REQ_LOCATION_RT].allowed);
	assert_true(fgr->perms[WD_REQ_LOCATION_RT].judicial_order);
	assert_true(fgr->perms[WD_REQ_LOCATION_RT].urgent);
	assert_true(fgr->perms[WD_REQ_INTERCEPTION].allowed);
	assert_true(fgr->perms[WD_REQ_INTERCEPTION].judicial_order);
	assert_false(fgr->perms[WD_REQ_INTERCEPTION].urgent);
	assert_false(fgr->perms[WD_REQ_LOCATION_HIST].allowed);
	assert_false(fgr->perms[WD_REQ_RECORDS].allowed);
	assert_false(fgr->perms[WD_REQ_PRESERVATION].allowed);

	assert_non_null(cdmx = conf_find_authority(c, "FGJ-CDMX"));
	assert_string_equal(cdmx->name, "Fiscalía CDMX");
	assert_int_equal(cdmx->kind, WD_KIND_STATE_PROSECUTOR);
	assert_null(conf_find_authority(c, "fgr"));
	assert_null(conf_find_authority(c, "NOPE"));

	o = TAILQ_FIRST(&c->officials);
	assert_non_null(o);
	assert_string_equal(o->id, "ana.lopez");
	assert_string_equal(o->name, "Ana López Ruiz");
	assert_string_equal(o->position,
	    "Agente del Ministerio Público de la Federación");
	assert_string_equal(o->designation, "DOF 15/03/2026, Acuerdo A/012/2026");
	assert_int_equal(o->role, WD_ROLE_OFFICIAL);
	assert_ptr_equal(o->authority, fgr);
	assert_true(o->has_cert_fp);
	fp_bytes(FP_A, fp);
	assert_memory_equal(o->cert_sha256, fp, 32);
	assert_true(o->has_spki_fp);
	fp_bytes(FP_B, fp);
	assert_memory_equal(o->spki_sha256, fp, 32);
	assert_int_equal(o->valid_from, utc(2026, 1, 1, 0, 0, 0));
	assert_int_equal(o->valid_until, utc(2027, 12, 31, 23, 59, 59));
	assert_false(o->suspended);
	assert_int_equal(o->line, 39);

	o = TAILQ_NEXT(o, entry);
	assert_non_null(o);
	assert_string_equal(o->id, "s.diaz");
	assert_null(o->position);
	assert_null(o->designation);
	assert_false(o->has_cert_fp);
	assert_true(o->has_spki_fp);
	assert_true(o->suspended);
	assert_ptr_equal(o->authority, fgr);
	assert_int_equal(o->valid_from, utc(2026, 3, 1, 0, 0, 0));
	assert_int_equal(o->valid_until, utc(2026, 3, 1, 23, 59, 59));

	o = TAILQ_NEXT(o, entry);
	assert_non_null(o);
	assert_string_equal(o->id, "aud.perez");
	assert_string_equal(o->name, "C.P. Laura Pérez");
	assert_int_equal(o->role, WD_ROLE_AUDITOR);
	assert_null(o->authority);
	assert_true(o->has_cert_fp);
	assert_true(o->has_spki_fp);	/* comparable with key entries */
	assert_null(TAILQ_NEXT(o, entry));
	conf_free(c);
}

static void
test_defaults(void **state)
{
	struct wd_conf	*c;

	(void)state;
	assert_non_null(c = load_text(PREFIX));
	assert_string_equal(c->listen_addr, "127.0.0.1");
	assert_int_equal(c->listen_port, 8443);
	assert_null(c->tls.crl);
	assert_int_equal(c->limits.body_max, 256 * 1024);
	assert_int_equal(c->limits.max_connections, 1024);
	assert_int_equal(c->limits.max_headers, 64);
	assert_int_equal(c->limits.header_max, 8 * 1024);
	assert_int_equal(c->limits.request_timeout_ms, 30000);
	assert_int_equal(c->limits.idle_timeout_ms, 60000);
	assert_int_equal(c->policy.retention_days, 730);
	assert_int_equal(c->policy.clock_skew_s, 300);
	assert_int_equal(c->policy.ratify_s, 48 * 3600);
	assert_int_equal(c->policy.preservation_max_days, 90);
	assert_null(c->journal.signing_key);
	assert_null(c->journal.origin);
	assert_int_equal(c->journal.checkpoint_records, 1000);
	assert_int_equal(c->journal.checkpoint_interval_s, 60);
	assert_int_equal(c->journal.segment_max, 64 * 1024 * 1024);
	assert_true(TAILQ_EMPTY(&c->authorities));
	assert_true(TAILQ_EMPTY(&c->officials));
	conf_free(c);
}

/* Semicolons, one-line blocks, no final newline, comments everywhere. */
static void
test_compact_syntax(void **state)
{
	struct wd_conf		*c;
	struct wd_authority	*a;

	(void)state;
	assert_non_null(c = load_text(
	    "carrier \"MX-2\"; state \"/s\"; templates \"/t\" # comment\n"
	    "listen on ::1\n"
	    "tls { certificate \"/c\"; key \"/k\"; ca \"/a\" }\n"
	    "limits { body 1K; header-size 1024 }\n"
	    "authority \"A1\" {\n"
	    "\t# the order of judicial-order and urgent is free\n"
	    "\tname \"x\"; kind judicial-authority\n"
	    "\tallow preservation urgent judicial-order\n"
	    "}"));
	assert_string_equal(c->carrier_id, "MX-2");
	assert_string_equal(c->listen_addr, "::1");
	assert_int_equal(c->listen_port, 8443);
	assert_int_equal(c->limits.body_max, 1024);
	assert_int_equal(c->limits.header_max, 1024);
	assert_non_null(a = conf_find_authority(c, "A1"));
	assert_int_equal(a->kind, WD_KIND_JUDICIAL_AUTHORITY);
	assert_true(a->perms[WD_REQ_PRESERVATION].judicial_order);
	assert_true(a->perms[WD_REQ_PRESERVATION].urgent);
	conf_free(c);

	assert_non_null(c = load_text(PREFIX "listen on localhost port 1\n"));
	assert_string_equal(c->listen_addr, "localhost");
	assert_int_equal(c->listen_port, 1);
	conf_free(c);
}

/*
 * The main file includes "sub/registry.conf", which includes "more.conf":
 * each relative to the including file's directory, not to the cwd.
 */
static void
test_include_relative(void **state)
{
	struct wd_conf		*c;
	struct wd_official	*o;
	char			 sub[PATH_MAX];

	(void)state;
	snprintf(sub, sizeof(sub), "%s", tmppath("sub"));
	assert_int_equal(mkdir(sub, 0700), 0);
	write_file("sub/registry.conf",
	    AUTHORITY("FGR", OFFICIAL("ana.lopez", FP_A))
	    "include \"more.conf\"");
	write_file("sub/more.conf", AUDITOR("aud", FP_B));
	write_file("warrantd.conf", PREFIX "include \"sub/registry.conf\"\n"
	    "listen on 127.0.0.1 port 1234\n");
	assert_non_null(c = load("warrantd.conf"));
	assert_string_equal(logtext, "");
	assert_non_null(conf_find_authority(c, "FGR"));
	assert_non_null(o = TAILQ_FIRST(&c->officials));
	assert_string_equal(o->id, "ana.lopez");
	assert_ptr_equal(o->authority, conf_find_authority(c, "FGR"));
	assert_non_null(o = TAILQ_NEXT(o, entry));
	assert_string_equal(o->id, "aud");
	assert_int_equal(o->role, WD_ROLE_AUDITOR);
	/* The main file goes on after the include. */
	assert_int_equal(c->listen_port, 1234);
	conf_free(c);
}

static void
test_include_errors(void **state)
{
	(void)state;
	/* An error in an included file names that file and its line. */
	write_file("registry.conf", "authority \"FGR\" {\n\tname \"n\"\n"
	    "\tkind federal-police\n\tbogus 1\n}\n");
	assert_null(load_text(PREFIX "include \"registry.conf\"\n"));
	assert_logged("registry.conf", 4, "unknown keyword \"bogus\"");
	assert_int_equal(count_lines(logtext), 1);

	/* A missing include is reported at the include statement. */
	assert_null(load_text(PREFIX "include \"missing.conf\"\n"));
	assert_logged("warrantd.conf", 9, "missing.conf");
	assert_int_equal(count_lines(logtext), 1);

	/* A file including itself. */
	assert_null(load_text(PREFIX "include \"warrantd.conf\"\n"));
	assert_logged("warrantd.conf", 9, "include loop");

	/* A chain deeper than the cap. */
	for (int i = 0; i < 12; i++) {
		char name[32], text[64];

		snprintf(name, sizeof(name), "d%d.conf", i);
		snprintf(text, sizeof(text), "include \"d%d.conf\"\n", i + 1);
		write_file(name, text);
	}
	write_file("d12.conf", "\n");
	assert_null(load_text(PREFIX "include \"d0.conf\"\n"));
	assert_logged("d7.conf", 1, "nested deeper than 8");
	assert_int_equal(count_lines(logtext), 1);

	/* A block may not be left open for the including file to close. */
	write_file("open.conf", "limits {\n\tbody 1K\n");
	assert_null(load_text(PREFIX "include \"open.conf\"\n}\n"));
	assert_logged("open.conf", 3, "unclosed block");
}

/* --- back ends and the results store ----------------------------------------- */

static const char backends_conf[] =
    PREFIX
    "backend \"hlr-main\" {\n"
    "\taddress \"unix:/run/warrant-backend/sock\"\n"
    "\tserves subscriber-identity realtime-location\n"
    "\tdeadline 1500ms\n"
    "\tretries 0\n"
    "\tconnections 64\n"
    "\tbreaker 1 failures 1h\n"
    "}\n"
    "backend \"cdr.store_2\" {\n"
    "\taddress \"127.0.0.1:9700\"\n"
    "\ttls { certificate \"/etc/warrantd/be.pem\"; key \"/etc/warrantd/be.key\"; "
    "ca \"/etc/warrantd/be-ca.pem\" }\n"
    "\tserves historical-location communication-records\n"
    "}\n"
    "backend \"pres\" { address \"[2001:db8::7]:65535\"; serves preservation\n"
    "\ttls {\n\t\tca \"/ca\"\n\t\tkey \"/k\"\n\t\tcertificate \"/c\"\n\t}\n"
    "}\n"
    "results {\n"
    "\tkey \"/etc/warrantd/results.key\"\n"
    "\tkeep 90d\n"
    "}\n";

static void
test_backends(void **state)
{
	struct wd_conf		*c;
	struct wd_backend	*hlr, *cdr, *pres;

	(void)state;
	assert_non_null(c = load_text(backends_conf));
	assert_string_equal(logtext, "");
	assert_non_null(hlr = conf_find_backend(c, "hlr-main"));
	assert_ptr_equal(TAILQ_FIRST(&c->backends), hlr);
	assert_string_equal(hlr->address, "unix:/run/warrant-backend/sock");
	assert_string_equal(hlr->unix_path, "/run/warrant-backend/sock");
	assert_null(hlr->host);
	assert_null(hlr->tls.cert);
	assert_true(hlr->serves[WD_REQ_SUBSCRIBER]);
	assert_true(hlr->serves[WD_REQ_LOCATION_RT]);
	assert_false(hlr->serves[WD_REQ_RECORDS]);
	assert_int_equal(hlr->deadline_ms, 1500);
	assert_int_equal(hlr->retries, 0);
	assert_int_equal(hlr->connections, 64);
	assert_int_equal(hlr->breaker_failures, 1);
	assert_int_equal(hlr->breaker_open_ms, 3600 * 1000);
	assert_int_equal(hlr->line, 9);

	assert_non_null(cdr = conf_find_backend(c, "cdr.store_2"));
	assert_null(cdr->unix_path);
	assert_string_equal(cdr->host, "127.0.0.1");
	assert_int_equal(cdr->port, 9700);
	assert_string_equal(cdr->tls.cert, "/etc/warrantd/be.pem");
	assert_string_equal(cdr->tls.key, "/etc/warrantd/be.key");
	assert_string_equal(cdr->tls.ca, "/etc/warrantd/be-ca.pem");
	/* The defaults. */
	assert_int_equal(cdr->deadline_ms, 2000);
	assert_int_equal(cdr->retries, 3);
	assert_int_equal(cdr->connections, 4);
	assert_int_equal(cdr->breaker_failures, 5);
	assert_int_equal(cdr->breaker_open_ms, 30000);

	assert_non_null(pres = conf_find_backend(c, "pres"));
	assert_string_equal(pres->host, "2001:db8::7");
	assert_int_equal(pres->port, 65535);
	assert_string_equal(pres->tls.ca, "/ca");

	assert_ptr_equal(conf_backend_for(c, WD_REQ_SUBSCRIBER), hlr);
	assert_ptr_equal(conf_backend_for(c, WD_REQ_LOCATION_RT), hlr);
	assert_ptr_equal(conf_backend_for(c, WD_REQ_LOCATION_HIST), cdr);
	assert_ptr_equal(conf_backend_for(c, WD_REQ_RECORDS), cdr);
	assert_ptr_equal(conf_backend_for(c, WD_REQ_PRESERVATION), pres);
	assert_null(conf_backend_for(c, WD_REQ_INTERCEPTION));
	assert_null(conf_backend_for(c, WD_REQ__COUNT));
	assert_null(conf_find_backend(c, "HLR-MAIN"));
	assert_null(conf_find_backend(NULL, "hlr-main"));

	assert_string_equal(c->results.key, "/etc/warrantd/results.key");
	assert_int_equal(c->results.keep_s, 90 * 86400);
	conf_free(c);

	/* No back end: no results block needed; keep defaults to 30 days. */
	assert_non_null(c = load_text(PREFIX));
	assert_true(TAILQ_EMPTY(&c->backends));
	assert_null(c->results.key);
	assert_int_equal(c->results.keep_s, 30 * 86400);
	conf_free(c);
}

/* --- errors ---------------------------------------------------------------- */

struct bad_case {
	const char	*name;
	const char	*text;
	int		 line;		/* 0: a message without a line */
	const char	*what;
	int		 nmsg;		/* messages expected, 0 means 1 */
};

/* A back end's lines start at line 9; RESULTS adds the key after it. */
#define RESULTS "results { key \"/k\" }\n"
#define BACKEND(body) PREFIX "backend \"be\" {\n" body "}\n" RESULTS
#define BE_OK "\taddress \"unix:/s\"\n\tserves subscriber-identity\n"

static const struct bad_case bad_cases[] = {
	{ "backend without address", BACKEND("\tserves preservation\n"),
	    9, "backend \"be\": address is required", 0 },
	{ "backend without serves", BACKEND("\taddress \"unix:/s\"\n"),
	    9, "backend \"be\": serves is required", 0 },
	{ "backend over TCP without tls", BACKEND(
	    "\taddress \"10.0.0.1:9700\"\n\tserves preservation\n"),
	    9, "a TCP address requires tls", 0 },
	{ "backend tls without ca", BACKEND(BE_OK
	    "\ttls { certificate \"/c\"; key \"/k\" }\n"),
	    12, "tls needs certificate, key and ca", 0 },
	{ "backend tls twice", BACKEND(BE_OK
	    "\ttls { certificate \"/c\"; key \"/k\"; ca \"/a\" }\n"
	    "\ttls { certificate \"/c\"; key \"/k\"; ca \"/a\" }\n"),
	    13, "tls given more than once", 0 },
	{ "backend address without port", BACKEND(
	    "\taddress \"10.0.0.1\"\n\tserves preservation\n"),
	    10, "expected \"unix:/path\", \"IPv4:port\" or \"[IPv6]:port\"", 0 },
	{ "backend host name", BACKEND(
	    "\taddress \"hlr.example:9700\"\n\tserves preservation\n"),
	    10, "expected \"unix:/path\"", 0 },
	{ "backend IPv6 without brackets", BACKEND(
	    "\taddress \"2001:db8::1:9700\"\n\tserves preservation\n"),
	    10, "expected \"unix:/path\"", 0 },
	{ "backend port 0", BACKEND(
	    "\taddress \"10.0.0.1:0\"\n\tserves preservation\n"),
	    10, "port out of range (1..65535)", 0 },
	{ "backend relative socket", BACKEND(
	    "\taddress \"unix:run/sock\"\n\tserves preservation\n"),
	    10, "the socket path must be absolute", 0 },
	{ "backend socket path too long", BACKEND(
	    "\taddress \"unix:/" "0123456789012345678901234567890123456789"
	    "01234567890123456789012345678901234567890123456789"
	    "0123456789012345678\"\n\tserves preservation\n"),
	    10, "socket path longer than 107 bytes", 0 },
	{ "backend address twice", BACKEND(BE_OK "\taddress \"unix:/t\"\n"),
	    12, "address given more than once", 0 },
	{ "backend serves an unknown type", BACKEND(
	    "\taddress \"unix:/s\"\n\tserves subscriber-identity wiretap\n"),
	    11, "unknown request type \"wiretap\"", 0 },
	{ "backend serves interception", BACKEND(
	    "\taddress \"unix:/s\"\n\tserves interception\n"),
	    11, "interception is not served by a back end", 0 },
	{ "backend serves a type twice", BACKEND(
	    "\taddress \"unix:/s\"\n\tserves preservation preservation\n"),
	    11, "serves: preservation given twice", 0 },
	{ "two backends serve one type", PREFIX
	    "backend \"a\" {\n" BE_OK "}\n"
	    "backend \"b\" {\n" BE_OK "}\n" RESULTS,
	    15, "subscriber-identity is already served by backend \"a\" "
	    "(line 9)", 0 },
	{ "backend defined twice", PREFIX
	    "backend \"a\" {\n" BE_OK "}\n"
	    "backend \"a\" {\n\taddress \"unix:/s\"\n\tserves preservation\n"
	    "}\n" RESULTS,
	    13, "backend \"a\" already defined at line 9", 0 },
	{ "backend with a bad name", PREFIX "backend \"-x\" {\n" BE_OK "}\n"
	    RESULTS, 9, "backend \"-x\": name must be", 0 },
	{ "backend deadline too short", BACKEND(BE_OK "\tdeadline 5ms\n"),
	    12, "deadline out of range (10ms..10m)", 0 },
	{ "backend deadline without unit", BACKEND(BE_OK "\tdeadline 2\n"),
	    12, "needs a unit", 0 },
	{ "backend retries 11", BACKEND(BE_OK "\tretries 11\n"),
	    12, "retries out of range (0..10)", 0 },
	{ "backend connections 0", BACKEND(BE_OK "\tconnections 0\n"),
	    12, "connections out of range (1..64)", 0 },
	{ "backend breaker 0 failures", BACKEND(BE_OK
	    "\tbreaker 0 failures 30s\n"),
	    12, "breaker failures out of range (1..1000)", 0 },
	{ "backend breaker open too long", BACKEND(BE_OK
	    "\tbreaker 5 failures 2h\n"),
	    12, "breaker open time out of range (1s..1h)", 0 },
	{ "backend breaker without failures", BACKEND(BE_OK
	    "\tbreaker 5 30s\n"),
	    12, "syntax error at \"30s\"", 0 },
	{ "backend keyword outside its block", PREFIX "serves preservation\n",
	    9, "\"serves\" is not valid here", 0 },
	{ "backends without a results key", PREFIX
	    "backend \"be\" {\n" BE_OK "}\n",
	    0, "results key is required when back ends are configured", 0 },
	{ "results keep too short", PREFIX "results {\n\tkey \"/k\"\n"
	    "\tkeep 30m\n}\n",
	    11, "keep out of range (1h..90d)", 0 },
	{ "results keep in part seconds", PREFIX "results { keep 3600500ms }\n",
	    9, "keep must be a whole number of seconds", 0 },
	{ "results key twice", PREFIX "results {\n\tkey \"/k\"\n"
	    "\tkey \"/j\"\n}\n",
	    11, "key given more than once", 0 },
	{ "unknown keyword", PREFIX "frobnicate \"x\"\n",
	    9, "unknown keyword \"frobnicate\"", 0 },
	{ "unknown keyword in block", PREFIX "limits {\n\tbodyy 1K\n}\n",
	    10, "unknown keyword \"bodyy\"", 0 },
	{ "unknown keyword in official", PREFIX
	    "authority \"FGR\" {\n\tname \"n\"\n\tkind federal-police\n"
	    "\tofficial \"x\" {\n\t\tname \"x\"\n\t\tnick \"y\"\n"
	    "\t\tcertificate sha256 \"" FP_A "\"\n"
	    "\t\tvalid 2026-01-01 to 2026-12-31\n\t}\n}\n",
	    14, "unknown keyword \"nick\"", 0 },
	{ "keyword in the wrong block", PREFIX "limits {\n\tretention 30d\n}\n",
	    10, "\"retention\" is not valid here", 0 },
	{ "keyword is case-sensitive", PREFIX "Carrier \"MX\"\n",
	    9, "unknown keyword \"Carrier\"", 0 },
	{ "keyword outside its block", PREFIX "origin \"o\"\n",
	    9, "\"origin\" is not valid here", 0 },
	{ "unquoted string", PREFIX "listen on 127.0.0.1 port 1\n"
	    "state /var/lib\n",
	    10, "syntax error at \"/var/lib\"", 0 },
	{ "duplicate setting", PREFIX "carrier \"OTHER\"\n",
	    9, "carrier given more than once", 0 },
	{ "duplicate authority", PREFIX AUTHORITY("FGR", "")
	    AUTHORITY("FGR", ""),
	    13, "authority \"FGR\" already defined at line 9", 0 },
	{ "duplicate official", PREFIX AUTHORITY("FGR",
	    OFFICIAL("ana", FP_A)) AUTHORITY("FGE", OFFICIAL("ana", FP_B)),
	    21, "\"ana\" already defined at line 12", 0 },
	{ "auditor with an official's id", PREFIX AUTHORITY("FGR",
	    OFFICIAL("ana", FP_A)) AUDITOR("ana", FP_B),
	    18, "\"ana\" already defined at line 12", 0 },
	{ "duplicate certificate fingerprint", PREFIX AUTHORITY("FGR",
	    OFFICIAL("ana", FP_A) OFFICIAL("luis", FP_A_COLONS)),
	    19, "fingerprint already registered for \"ana\"", 0 },
	{ "public key equal to another's certificate", PREFIX
	    AUDITOR("aud", FP_A) "authority \"FGR\" {\n\tname \"n\"\n"
	    "\tkind federal-police\n\tofficial \"x\" {\n\t\tname \"x\"\n"
	    "\t\tpublic-key sha256 \"" FP_A "\"\n"
	    "\t\tvalid 2026-01-01 to 2026-12-31\n\t}\n}\n",
	    19, "fingerprint already registered for \"aud\"", 0 },
	/* Issue 14 section 2: a certificate hash and a public-key hash of one
	   certificate, for two people, in either order and across roles. */
	{ "certificate-only entry after a public-key entry", PREFIX
	    AUDITOR("aud", FP_A) "authority \"FGR\" {\n\tname \"n\"\n"
	    "\tkind federal-police\n\tofficial \"x\" {\n\t\tname \"x\"\n"
	    "\t\tpublic-key sha256 \"" FP_B "\"\n"
	    "\t\tvalid 2026-01-01 to 2026-12-31\n\t}\n}\n",
	    17, "\"x\" and \"aud\" (line 9) can match one certificate", 0 },
	{ "public-key entry after a certificate-only entry", PREFIX
	    "auditor \"k\" {\n\tname \"K\"\n\tpublic-key sha256 \"" FP_B "\"\n"
	    "\tvalid 2026-01-01 to 2026-12-31\n}\n"
	    AUTHORITY("FGR", OFFICIAL("ana", FP_A)),
	    17, "add to \"ana\" the public-key sha256", 0 },
	{ "missing carrier", "state \"/s\"\ntemplates \"/t\"\n"
	    "tls { certificate \"/c\"; key \"/k\"; ca \"/a\" }\n",
	    0, "carrier is required", 0 },
	{ "missing tls ca", "carrier \"MX\"\nstate \"/s\"\ntemplates \"/t\"\n"
	    "tls { certificate \"/c\"; key \"/k\" }\n",
	    0, "tls ca is required", 0 },
	{ "empty file lacks everything required", "",
	    0, "templates is required", 6 },
	{ "official without name", PREFIX "auditor \"a\" {\n"
	    "\tcertificate sha256 \"" FP_A "\"\n"
	    "\tvalid 2026-01-01 to 2026-12-31\n}\n",
	    9, "\"a\": name is required", 0 },
	{ "official without fingerprint", PREFIX "auditor \"a\" {\n"
	    "\tname \"A\"\n\tvalid 2026-01-01 to 2026-12-31\n}\n",
	    9, "certificate sha256 or public-key sha256 is required", 0 },
	{ "official without validity", PREFIX "auditor \"a\" {\n"
	    "\tname \"A\"\n\tcertificate sha256 \"" FP_A "\"\n}\n",
	    9, "\"a\": valid is required", 0 },
	{ "authority without kind", PREFIX
	    "authority \"FGR\" {\n\tname \"n\"\n}\n",
	    9, "kind is required", 0 },
	{ "valid from after to", PREFIX AUDITOR("a", FP_A)
	    "auditor \"b\" {\n\tname \"B\"\n\tcertificate sha256 \"" FP_B "\"\n"
	    "\tvalid 2027-01-02 to 2027-01-01\n}\n",
	    17, "2027-01-02 is after 2027-01-01", 0 },
	{ "impossible date", PREFIX "auditor \"b\" {\n\tname \"B\"\n"
	    "\tcertificate sha256 \"" FP_B "\"\n"
	    "\tvalid 2026-02-29 to 2027-01-01\n}\n",
	    12, "\"2026-02-29\" is not a date", 0 },
	{ "port 0", PREFIX "listen on 127.0.0.1 port 0\n",
	    9, "port 0 out of range", 0 },
	{ "port 65536", PREFIX "listen on 127.0.0.1 port 65536\n",
	    9, "port 65536 out of range", 0 },
	{ "bad listen address", PREFIX "listen on 10.0.0.256\n",
	    9, "not an IPv4 or IPv6 address", 0 },
	{ "body below 1K", PREFIX "limits { body 1023 }\n",
	    9, "body out of range (1K..64M)", 0 },
	{ "body above 64M", PREFIX "limits { body 65M }\n",
	    9, "body out of range (1K..64M)", 0 },
	{ "bad size suffix", PREFIX "limits { body 64k }\n",
	    9, "\"64k\" is not a size", 0 },
	{ "connections 0", PREFIX "limits {\n\tconnections 0\n}\n",
	    10, "connections out of range (1..100000)", 0 },
	{ "connections 100001", PREFIX "limits {\n\tconnections 100001\n}\n",
	    10, "connections out of range (1..100000)", 0 },
	{ "connections not a number", PREFIX "limits {\n\tconnections -5\n}\n",
	    10, "\"-5\" is not a number", 0 },
	{ "request-timeout 0", PREFIX "limits {\n\trequest-timeout 0s\n}\n",
	    10, "request-timeout out of range", 0 },
	{ "idle-timeout 0", PREFIX "limits {\n\tidle-timeout 0ms\n}\n",
	    10, "idle-timeout out of range", 0 },
	{ "duration without unit", PREFIX "limits {\n\tidle-timeout 30\n}\n",
	    10, "needs a unit", 0 },
	{ "retention 0", PREFIX "policy {\n\tretention 0d\n}\n",
	    10, "retention out of range (1d..3650d)", 0 },
	{ "retention 3651d", PREFIX "policy {\n\tretention 3651d\n}\n",
	    10, "retention out of range (1d..3650d)", 0 },
	{ "retention in part days", PREFIX "policy {\n\tretention 36h\n}\n",
	    10, "retention must be a whole number of days", 0 },
	{ "clock skew in milliseconds", PREFIX "policy { clock-skew 1500ms }\n",
	    9, "clock-skew must be a whole number of seconds", 0 },
	{ "urgent without judicial order", PREFIX
	    "authority \"FGR\" {\n\tname \"n\"\n\tkind federal-police\n"
	    "\tallow realtime-location urgent\n}\n",
	    12, "urgent requires judicial-order", 0 },
	{ "allow twice", PREFIX
	    "authority \"FGR\" {\n\tname \"n\"\n\tkind federal-police\n"
	    "\tallow preservation\n\tallow preservation judicial-order\n}\n",
	    13, "allow preservation given more than once", 0 },
	{ "unknown request type", PREFIX
	    "authority \"FGR\" {\n\tname \"n\"\n\tkind federal-police\n"
	    "\tallow wiretap\n}\n",
	    12, "unknown request type \"wiretap\"", 0 },
	{ "unknown authority kind", PREFIX
	    "authority \"FGR\" {\n\tname \"n\"\n\tkind sheriff\n}\n",
	    11, "unknown authority kind \"sheriff\"", 0 },
	{ "bad carrier id", "carrier \"mx carrier\"\nstate \"/s\"\n"
	    "templates \"/t\"\ntls { certificate \"/c\"; key \"/k\"; ca \"/a\" }\n",
	    1, "carrier \"mx carrier\": must be", 0 },
	{ "bad authority id", PREFIX AUTHORITY("F", ""),
	    9, "authority \"F\": id must be", 0 },
	{ "fingerprint too short", PREFIX "auditor \"b\" {\n\tname \"B\"\n"
	    "\tcertificate sha256 \"" FP_A "0\"\n"
	    "\tvalid 2026-01-01 to 2027-01-01\n}\n",
	    11, "expected 64 hex digits", 0 },
	{ "fingerprint not hex", PREFIX "auditor \"b\" {\n\tname \"B\"\n"
	    "\tcertificate sha256 \"g" FP_A "\"\n"
	    "\tvalid 2026-01-01 to 2027-01-01\n}\n",
	    11, "expected 64 hex digits", 0 },
	{ "fingerprint with a misplaced colon", PREFIX "auditor \"b\" {\n"
	    "\tname \"B\"\n\tpublic-key sha256 \"3F:A1C:2D3"
	    ":E4:F5:06:17:28:39:4A:5B:6C:7D:8E:9F:"
	    "A0:B1:C2:D3:E4:F5:06:17:28:39:4A:5B:6C:7D:8E:9C\"\n"
	    "\tvalid 2026-01-01 to 2027-01-01\n}\n",
	    11, "expected 64 hex digits", 0 },
	{ "unterminated string", PREFIX "state \"abc\n",
	    9, "unterminated string", 0 },
	{ "unreadable fingerprint is not also missing", PREFIX
	    "auditor \"b\" {\n\tname \"B\"\n"
	    "\tcertificate sha256 \"" FP_A "\n"
	    "\tvalid 2026-01-01 to 2027-01-01\n}\n",
	    11, "unterminated string", 0 },
	{ "invalid UTF-8", PREFIX "state \"/caf\xc3\x28\"\n",
	    9, "not valid UTF-8", 0 },
	{ "overlong UTF-8", PREFIX "state \"/\xc0\xaf\"\n",
	    9, "not valid UTF-8", 0 },
	{ "control character", PREFIX "state \"/a\x1b[2J\"\n",
	    9, "control character in string", 0 },
	{ "unexpected character", PREFIX "limits = {}\n",
	    9, "unexpected character '='", 0 },
	{ "unclosed block", PREFIX "limits {\n\tbody 1K\n",
	    11, "unclosed block at end of file", 0 },
	{ "stray brace", PREFIX "}\n",
	    9, "syntax error at \"}\"", 0 },
	{ "three errors, three messages", PREFIX "policy {\n"
	    "\tretention 0d\n\tclock-skew 0s\n\tbogus\n}\n",
	    12, "unknown keyword \"bogus\"", 3 },
};

static void
test_bad(void **state)
{
	const struct bad_case	*bc = *state;
	int			 want = bc->nmsg ? bc->nmsg : 1;

	assert_null(load_text(bc->text));
	assert_logged("warrantd.conf", bc->line, bc->what);
	if (count_lines(logtext) != want)
		fail_msg("%s: expected %d messages, got:\n%s", bc->name, want,
		    logtext);
}

/* 1024 bytes is the longest string; one more is an error, as is NUL. */
static void
test_string_limits(void **state)
{
	struct wd_conf	*c;
	char		 text[4096], big[1026];

	(void)state;
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	big[1024] = '\0';
	snprintf(text, sizeof(text), PREFIX "journal { origin \"%s\" }\n", big);
	assert_non_null(c = load_text(text));
	assert_int_equal(strlen(c->journal.origin), 1024);
	conf_free(c);

	big[1024] = 'a';
	big[1025] = '\0';
	snprintf(text, sizeof(text), PREFIX "journal { origin \"%s\" }\n", big);
	assert_null(load_text(text));
	assert_logged("warrantd.conf", 9, "string longer than 1024 bytes");
	assert_int_equal(count_lines(logtext), 1);

	snprintf(text, sizeof(text), PREFIX "journal {\n\torigin %s\n}\n", big);
	assert_null(load_text(text));
	assert_logged("warrantd.conf", 10, "word longer than 1024 bytes");

	write_bytes("warrantd.conf", PREFIX "state \"a\0b\"\n",
	    sizeof(PREFIX "state \"a\0b\"\n") - 1);
	assert_null(load("warrantd.conf"));
	assert_logged("warrantd.conf", 9, "NUL byte");
	assert_int_equal(count_lines(logtext), 1);
}

static void
test_file_limits(void **state)
{
	char	*buf;
	size_t	 len = 4 * 1024 * 1024 + 1;

	(void)state;
	assert_non_null(buf = malloc(len));
	memset(buf, '#', len);
	buf[0] = '\n';
	write_bytes("warrantd.conf", buf, len);
	free(buf);
	assert_null(load("warrantd.conf"));
	assert_logged("warrantd.conf", 0, "larger than 4 MiB");

	assert_null(load("nonexistent.conf"));
	assert_logged("nonexistent.conf", 0, "No such file");

	/* A directory is no configuration (nor is a FIFO: it would block). */
	assert_int_equal(mkdir(tmppath("dir.conf"), 0700), 0);
	assert_null(load("dir.conf"));
	assert_logged("dir.conf", 0, "not a regular file");
	assert_int_equal(mkfifo(tmppath("fifo.conf"), 0600), 0);
	assert_null(load("fifo.conf"));
	assert_logged("fifo.conf", 0, "not a regular file");
}

/* --- the registry at run time -------------------------------------------- */

static void
test_fingerprint_forms(void **state)
{
	static const char *forms[] = {
		FP_A,
		FP_A_COLONS,
		"3FA1C2D3E4F5061728394A5B6C7D8E9FA0B1C2D3E4F5061728394A5B6C7D8E9C",
		("3f:a1:c2:d3:e4:f5:06:17:28:39:4a:5b:6c:7d:8e:9f:"
		    "a0:b1:c2:d3:e4:f5:06:17:28:39:4a:5b:6c:7d:8e:9c"),
	};
	struct wd_conf		*c;
	struct wd_official	*o;
	uint8_t			 want[32], other[32];
	char			 text[2048];
	size_t			 i;

	(void)state;
	fp_bytes(FP_A, want);
	fp_bytes(FP_B, other);
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(text, sizeof(text), PREFIX "auditor \"a\" {\n"
		    "\tname \"A\"\n\tpublic-key sha256 \"%s\"\n"
		    "\tvalid 2026-01-01 to 2026-12-31\n}\n", forms[i]);
		assert_non_null(c = load_text(text));
		o = TAILQ_FIRST(&c->officials);
		assert_true(o->has_spki_fp);
		assert_false(o->has_cert_fp);
		assert_memory_equal(o->spki_sha256, want, 32);
		/* Found by its public key, whatever the certificate. */
		assert_ptr_equal(conf_find_official(c, other, want), o);
		assert_ptr_equal(conf_find_official(c, NULL, want), o);
		/* A certificate hash equal to it does not match a key hash. */
		assert_null(conf_find_official(c, want, other));
		assert_null(conf_find_official(c, other, other));
		assert_null(conf_find_official(c, NULL, NULL));
		conf_free(c);
	}
}

static void
test_find_official(void **state)
{
	struct wd_conf	*c;
	uint8_t		 a[32], b[32], cc[32], d[32], none[32];

	(void)state;
	fp_bytes(FP_A, a);
	fp_bytes(FP_B, b);
	fp_bytes(FP_C, cc);
	fp_bytes(FP_D, d);
	memset(none, 0x5a, sizeof(none));
	assert_non_null(c = load_text(full_conf));
	assert_string_equal(conf_find_official(c, a, none)->id, "ana.lopez");
	assert_string_equal(conf_find_official(c, none, b)->id, "ana.lopez");
	assert_string_equal(conf_find_official(c, none, cc)->id, "s.diaz");
	assert_string_equal(conf_find_official(c, d, NULL)->id, "aud.perez");
	/* s.diaz registered a key only: its hash as a certificate is no one. */
	assert_null(conf_find_official(c, cc, none));
	assert_null(conf_find_official(c, none, none));
	assert_null(conf_find_official(NULL, a, b));
	conf_free(c);
}

/*
 * Issue 14 section 2: a certificate two entries match is nobody, and so is
 * one an entry claims with another key; the loader cannot see the second
 * kind of conflict (it needs the certificate), so connect time must.
 */
static void
test_identify(void **state)
{
	const struct wd_official	*who, *other;
	struct wd_official		*o;
	struct wd_conf			*c;
	uint8_t				 a[32], b[32], cc[32], d[32], e[32], none[32];

	(void)state;
	fp_bytes(FP_A, a);
	fp_bytes(FP_B, b);
	fp_bytes(FP_C, cc);
	fp_bytes(FP_D, d);
	fp_bytes(FP_E, e);
	memset(none, 0x5a, sizeof(none));
	assert_non_null(c = load_text(full_conf));
	/* ana.lopez: certificate A with key B; s.diaz: key C. */
	assert_int_equal(conf_identify(c, a, b, &who, &other), WD_IDENTITY_ONE);
	assert_string_equal(who->id, "ana.lopez");
	assert_null(other);
	/* Renewed certificate, same key: still ana. */
	assert_int_equal(conf_identify(c, none, b, &who, &other), WD_IDENTITY_ONE);
	assert_string_equal(who->id, "ana.lopez");
	assert_int_equal(conf_identify(c, none, cc, &who, &other), WD_IDENTITY_ONE);
	assert_string_equal(who->id, "s.diaz");
	assert_int_equal(conf_identify(c, none, none, &who, &other),
	    WD_IDENTITY_NONE);
	assert_null(who);
	/*
	 * Certificate A carrying s.diaz's key C: ana's entry says A carries B,
	 * so the entry is wrong, and the certificate matches two people. The
	 * first-in-file-order answer ("ana.lopez") must not come back as ONE.
	 */
	assert_int_equal(conf_identify(c, a, cc, &who, &other),
	    WD_IDENTITY_INCONSISTENT);
	assert_string_equal(who->id, "ana.lopez");
	/* Certificate D of the auditor with key B (ana's): two people. */
	assert_int_equal(conf_identify(c, d, b, &who, &other),
	    WD_IDENTITY_INCONSISTENT);
	assert_int_equal(conf_identify(c, d, e, &who, &other), WD_IDENTITY_ONE);
	assert_string_equal(who->id, "aud.perez");
	assert_int_equal(conf_identify(NULL, a, b, &who, &other),
	    WD_IDENTITY_NONE);
	conf_free(c);

	/* Two entries by key only can both match if written with one key... */
	assert_null(load_text(PREFIX "auditor \"x\" {\n\tname \"X\"\n"
	    "\tpublic-key sha256 \"" FP_A "\"\n\tvalid 2026-01-01 to "
	    "2026-12-31\n}\nauditor \"y\" {\n\tname \"Y\"\n"
	    "\tpublic-key sha256 \"" FP_A_COLONS "\"\n\tvalid 2026-01-01 to "
	    "2026-12-31\n}\n"));
	/* ...and entries naming both, with another's key, match two. */
	assert_non_null(c = load_text(PREFIX "auditor \"x\" {\n\tname \"X\"\n"
	    "\tcertificate sha256 \"" FP_A "\"\n\tpublic-key sha256 \"" FP_B
	    "\"\n\tvalid 2026-01-01 to 2026-12-31\n}\nauditor \"y\" {\n"
	    "\tname \"Y\"\n\tcertificate sha256 \"" FP_C "\"\n"
	    "\tpublic-key sha256 \"" FP_D "\"\n\tvalid 2026-01-01 to "
	    "2026-12-31\n}\n"));
	assert_int_equal(conf_identify(c, a, d, &who, &other),
	    WD_IDENTITY_INCONSISTENT);
	assert_int_equal(conf_identify(c, cc, b, &who, &other),
	    WD_IDENTITY_INCONSISTENT);
	assert_int_equal(conf_identify(c, none, b, &who, &other),
	    WD_IDENTITY_ONE);
	assert_string_equal(who->id, "x");
	/*
	 * The loader lets no two entries share a key; should a registry ever
	 * hold two anyway, the certificate is nobody's, not the first one's.
	 */
	o = TAILQ_LAST(&c->officials, wd_officials);
	o->has_cert_fp = false;
	memcpy(o->spki_sha256, b, 32);
	assert_int_equal(conf_identify(c, none, b, &who, &other),
	    WD_IDENTITY_AMBIGUOUS);
	assert_string_equal(who->id, "x");
	assert_string_equal(other->id, "y");
	conf_free(c);
}

static void
test_official_status(void **state)
{
	struct wd_conf		*c;
	struct wd_official	*o, *s;
	time_t			 first, last;

	(void)state;
	assert_non_null(c = load_text(full_conf));
	o = TAILQ_FIRST(&c->officials);		/* 2026-01-01 to 2027-12-31 */
	first = utc(2026, 1, 1, 0, 0, 0);
	last = utc(2027, 12, 31, 23, 59, 59);
	assert_int_equal(conf_official_status(o, utc(2025, 12, 31, 0, 0, 0)),
	    WD_OFFICIAL_NOT_YET_VALID);
	assert_int_equal(conf_official_status(o, first - 1),
	    WD_OFFICIAL_NOT_YET_VALID);
	assert_int_equal(conf_official_status(o, first), WD_OFFICIAL_OK);
	assert_int_equal(conf_official_status(o, utc(2027, 12, 31, 0, 0, 0)),
	    WD_OFFICIAL_OK);
	assert_int_equal(conf_official_status(o, last), WD_OFFICIAL_OK);
	assert_int_equal(conf_official_status(o, last + 1),
	    WD_OFFICIAL_EXPIRED);
	assert_int_equal(conf_official_status(o, utc(2030, 1, 1, 0, 0, 0)),
	    WD_OFFICIAL_EXPIRED);

	/* Suspended wins, inside or outside the validity period. */
	s = TAILQ_NEXT(o, entry);		/* 2026-03-01 only, suspended */
	assert_true(s->suspended);
	assert_int_equal(conf_official_status(s, utc(2026, 3, 1, 12, 0, 0)),
	    WD_OFFICIAL_SUSPENDED);
	assert_int_equal(conf_official_status(s, utc(2020, 1, 1, 0, 0, 0)),
	    WD_OFFICIAL_SUSPENDED);
	s->suspended = false;
	assert_int_equal(conf_official_status(s, utc(2026, 3, 1, 23, 59, 59)),
	    WD_OFFICIAL_OK);
	assert_int_equal(conf_official_status(s, utc(2026, 3, 2, 0, 0, 0)),
	    WD_OFFICIAL_EXPIRED);
	assert_int_equal(conf_official_status(NULL, first),
	    WD_OFFICIAL_UNKNOWN);
	conf_free(c);
}

/* conf_load again after a failure starts clean: no state leaks across. */
static void
test_reload_after_error(void **state)
{
	struct wd_conf	*c;

	(void)state;
	assert_null(load_text(PREFIX "limits {\n\tbody 1K\n"));
	assert_non_null(c = load_text(PREFIX "limits { body 2K }\n"));
	assert_int_equal(c->limits.body_max, 2048);
	conf_free(c);
	conf_free(NULL);
}

/* The connection edge's limits (issue 14): defaults, values, ranges. */
static void
test_edge_limits(void **state)
{
	struct wd_conf	*c;

	(void)state;
	assert_non_null(c = load_text(PREFIX));
	assert_int_equal(c->limits.handshake_timeout_ms, 5000);
	assert_int_equal(c->limits.unauth_max, 256);
	assert_int_equal(c->limits.unauth_per_source, 16);
	assert_int_equal(c->limits.per_official, 32);
	assert_int_equal(c->limits.body_budget, 64 * 1024 * 1024);
	assert_int_equal(c->limits.keepalive_time_ms, 3600 * 1000);
	assert_int_equal(c->limits.keepalive_requests, 1000);
	conf_free(c);
	assert_non_null(c = load_text(PREFIX "limits {\n"
	    "\thandshake-timeout 1500ms\n\tunauthenticated 10\n"
	    "\tunauthenticated-per-source 2\n\tconnections-per-official 3\n"
	    "\tbody-budget 2M\n\tkeepalive-time 10m\n"
	    "\tkeepalive-requests 5\n}\n"));
	assert_int_equal(c->limits.handshake_timeout_ms, 1500);
	assert_int_equal(c->limits.unauth_max, 10);
	assert_int_equal(c->limits.unauth_per_source, 2);
	assert_int_equal(c->limits.per_official, 3);
	assert_int_equal(c->limits.body_budget, 2 * 1024 * 1024);
	assert_int_equal(c->limits.keepalive_time_ms, 600 * 1000);
	assert_int_equal(c->limits.keepalive_requests, 5);
	conf_free(c);
	assert_null(load_text(PREFIX "limits {\n\thandshake-timeout 11m\n}\n"));
	assert_logged("warrantd.conf", 10, "handshake-timeout out of range");
	assert_null(load_text(PREFIX "limits {\n\tunauthenticated-per-source 1001\n}\n"));
	assert_logged("warrantd.conf", 10, "unauthenticated-per-source out of range");
	assert_null(load_text(PREFIX "limits {\n\tunauthenticated 0\n}\n"));
	assert_logged("warrantd.conf", 10, "unauthenticated out of range");
	assert_null(load_text(PREFIX "limits {\n\tkeepalive-requests 5\n"
	    "\tkeepalive-requests 6\n}\n"));
	assert_logged("warrantd.conf", 11, "keepalive-requests given more than once");
	/* A body larger than the budget could never be received. */
	assert_null(load_text(PREFIX "limits {\n\tbody 4M\n\tbody-budget 2M\n}\n"));
	assert_logged("warrantd.conf", 0, "body-budget (2097152 bytes) is smaller "
	    "than body (4194304 bytes)");
	/* Not outside limits. */
	assert_null(load_text(PREFIX "unauthenticated 10\n"));
	assert_logged("warrantd.conf", 9, "\"unauthenticated\" is not valid here");
}

/* The carrier as DELIVER client: complete, or refused. */
static void
test_delivery_block(void **state)
{
	struct wd_conf	*c;

	(void)state;
	assert_non_null(c = load_text(PREFIX));
	assert_null(c->delivery.cert);
	assert_null(c->delivery.crl);
	assert_int_equal(c->delivery.timeout_ms, 30000);
	conf_free(c);
	assert_non_null(c = load_text(PREFIX "delivery {\n"
	    "\tcertificate \"/c.pem\"\n\tkey \"/c.key\"\n\tca \"/ca.pem\"\n"
	    "\tcrl \"/crl.pem\"\n\ttimeout 5s\n}\n"));
	assert_string_equal(c->delivery.cert, "/c.pem");
	assert_string_equal(c->delivery.key, "/c.key");
	assert_string_equal(c->delivery.ca, "/ca.pem");
	assert_string_equal(c->delivery.crl, "/crl.pem");
	assert_int_equal(c->delivery.timeout_ms, 5000);
	assert_int_equal(c->delivery.window, 8);	/* the default */
	conf_free(c);
	assert_non_null(c = load_text(PREFIX "delivery {\n"
	    "\tcertificate \"/c.pem\"\n\tkey \"/c.key\"\n\tca \"/ca.pem\"\n"
	    "\twindow 16\n}\n"));
	assert_int_equal(c->delivery.window, 16);
	conf_free(c);
	assert_null(load_text(PREFIX "delivery {\n\tcertificate \"/c.pem\"\n"
	    "\tkey \"/c.key\"\n\tca \"/ca.pem\"\n\twindow 0\n}\n"));
	assert_logged("warrantd.conf", 13, "1..16");
	assert_null(load_text(PREFIX "delivery {\n\twindow 8\n}\n"));
	assert_logged("warrantd.conf", 0, "delivery needs certificate, key and ca");
	assert_null(load_text(PREFIX "delivery {\n\tcertificate \"/c.pem\"\n"
	    "\tkey \"/c.key\"\n\tcrl \"/crl.pem\"\n}\n"));
	assert_logged("warrantd.conf", 0, "delivery needs certificate, key and ca");
	assert_null(load_text(PREFIX "delivery {\n\tcertificate \"/c.pem\"\n"
	    "\tkey \"/c.key\"\n\tca \"/ca.pem\"\n\tcrl \"/a\"\n"
	    "\tcrl \"/b\"\n}\n"));
	assert_logged("warrantd.conf", 14, "crl given more than once");
}

/* Deadline alerts: the warning's share, the hook and its time limit. */
static void
test_alert_settings(void **state)
{
	struct wd_conf	*c;

	(void)state;
	assert_non_null(c = load_text(PREFIX));
	assert_int_equal(c->alert.warn_pct, 80);
	assert_null(c->alert.command);
	assert_int_equal(c->alert.timeout_s, 30);
	conf_free(c);
	assert_non_null(c = load_text(PREFIX "alert-warn 50\n"
	    "alert-command \"/usr/local/sbin/page-oncall\"\nalert-timeout 2m\n"));
	assert_int_equal(c->alert.warn_pct, 50);
	assert_string_equal(c->alert.command, "/usr/local/sbin/page-oncall");
	assert_int_equal(c->alert.timeout_s, 120);
	conf_free(c);
	assert_null(load_text(PREFIX "alert-command \"page-oncall\"\n"));
	assert_logged("warrantd.conf", 9, "not an absolute path");
	assert_null(load_text(PREFIX "alert-warn 100\n"));
	assert_logged("warrantd.conf", 9, "alert-warn");
	assert_null(load_text(PREFIX "alert-timeout 11m\n"));
	assert_logged("warrantd.conf", 9, "alert-timeout");
	assert_null(load_text(PREFIX "alert-warn 50\nalert-warn 60\n"));
	assert_logged("warrantd.conf", 10, "alert-warn");
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test_setup_teardown(test_alert_settings, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_full_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_syntax, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_include_relative, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_include_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_string_limits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_limits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fingerprint_forms, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_find_official, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_official_status, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reload_after_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivery_block, setup,
		    teardown),
	};
	enum { NFIXED = sizeof(fixed) / sizeof(fixed[0]),
	    NBAD = sizeof(bad_cases) / sizeof(bad_cases[0]) };
	struct CMUnitTest	tests[NFIXED + NBAD];
	size_t			i;

	log_init("test_conf", 1, 0);
	memcpy(tests, fixed, sizeof(fixed));
	/* One named test per error case, sharing test_bad. */
	for (i = 0; i < NBAD; i++) {
		tests[NFIXED + i] = (struct CMUnitTest){
			.name = bad_cases[i].name,
			.test_func = test_bad,
			.setup_func = setup,
			.teardown_func = teardown,
			.initial_state = (void *)&bad_cases[i],
		};
	}
	return _cmocka_run_group_tests("conf", tests, NFIXED + NBAD, NULL, NULL);
}
