/*
 * hi1_schema — the carrier's HI-1 templates as the receiving side uses
 * them (see lib/hi1.c for the whole): struct hi1_schema, loaded at start
 * and on reload from the templates directory (hi1-mx.xsd compiled,
 * mx-dictionaries.xml read, mx-common.xsd's MX enumerations checked
 * against the dictionaries), the dictionary values the profile knows, and
 * XSD validation of a parsed message, whose first error is turned into
 * the profile's words where the schema's would mislead.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include "hi1.h"
#include "hi1_int.h"
#include "log.h"

/* The dictionaries are bounded too, as our files are (lib/hi1.c). */
#define HI1_MAX_DICT		512

/*
 * The few ETSI dictionaries (TS 103 120 clauses 7 and 8, values from its
 * ETSIDictionaryDefinitions) that the profile's messages use. MX values come
 * from the loaded mx-dictionaries.xml instead, so the profile can grow
 * without a rebuild.
 */
static const struct {
	const char	*name;
	const char	*values[8];
} hi1_etsi_dicts[] = {
	{ "AuthorisationPriority", { "High", "Routine" } },
	{ "AuthorisationFlag", { "IsEmergency", "IsConsensual", "IsTest" } },
	{ "LDTaskDesiredStatus", { "AwaitingApproval", "AwaitingDisclosure",
	    "Disclosed", "Rejected", "Cancelled" } },
	{ "AuthorisationDesiredStatus", { "AwaitingApproval", "EmergencyApproval",
	    "Approved", "Rejected", "Suspended", "Cancelled", "Expired" } },
	{ "ObjectType", { "Authorisation", "Document", "Notification", "Task",
	    "LDTask", "Delivery" } },
	{ "DocumentType", { "Warrant" } },
	{ "TaskDesiredStatus", { "AwaitingApproval", "AwaitingProvisioning",
	    "Active", "Rejected", "Suspended", "Cancelled", "Expired" } },
	{ "TaskDeliveryType", { "IRIOnly", "CCOnly", "IRIandCC" } },
	{ "LDTaskFlag", { "IsTest", "IsEmergency", "IsNonLocal", "IsLocal" } },
	{ "TaskFlag", { "IsTest", "IsEmergency", "IsNonLocal", "IsLocal" } },
	{ "HandoverFormat", { "TS102232-2", "TS102232-3", "TS102232-4",
	    "TS102232-5", "TS102232-6", "TS102232-7" } },
	{ "LDHandoverFormat", { "TS102657", "EncapsulatedTS102657", "TS103120",
	    "TS103707" } },
};

/* ------------------------------------------------------------------------ */
/* Schema and dictionaries                                                   */

static int
hi1_dict_add(struct hi1_schema *hs, const char *owner, const char *name,
    const char *value)
{
	struct hi1_dict_entry	*e;

	if (hs->ndict >= HI1_MAX_DICT)
		return -1;
	e = &hs->dict[hs->ndict++];
	snprintf(e->owner, sizeof(e->owner), "%s", owner);
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->value, sizeof(e->value), "%s", value);
	return 0;
}

/*
 * Values the code maps to behaviour must be ones it knows: a RequestType the
 * daemon cannot route, or a legal type it cannot classify, is a
 * configuration error found at start, not a surprise at request time.
 */
static int
hi1_dict_value_known(const char *name, const char *value)
{
	enum wd_reqtype	 t;

	if (strcmp(name, "RequestType") == 0)
		return wd_reqtype_from_name(value, &t) == 0 &&
		    t != WD_REQ_INTERCEPTION;
	if (strcmp(name, "AuthorisationLegalType") == 0)
		return strcmp(value, "JudicialOrder") == 0 ||
		    strcmp(value, "UrgentOrder") == 0;
	return 1;
}

static int
hi1_dict_load_one(struct hi1_schema *hs, xmlNodePtr d, const char *path)
{
	char		 owner[16], name[64], value[64];
	xmlNodePtr	 es, e;

	if (hi1_text(hi1_child(d, NS_DICT, "Owner"), owner, sizeof(owner)) ||
	    hi1_text(hi1_child(d, NS_DICT, "Name"), name, sizeof(name)) ||
	    (es = hi1_child(d, NS_DICT, "DictionaryEntries")) == NULL) {
		log_warnx("%s:%ld: Dictionary without Owner, Name or "
		    "DictionaryEntries", path, xmlGetLineNo(d));
		return -1;
	}
	if (strcmp(owner, "MX") != 0)
		return 0;	/* ETSI's own are in hi1_etsi_dicts */
	for (e = es->children; e != NULL; e = e->next) {
		if (!hi1_is(e, NS_DICT, "DictionaryEntry"))
			continue;
		if (hi1_text(hi1_child(e, NS_DICT, "Value"), value,
		    sizeof(value)) != 0 || value[0] == '\0') {
			log_warnx("%s:%ld: DictionaryEntry without a usable "
			    "Value", path, xmlGetLineNo(e));
			return -1;
		}
		if (!hi1_dict_value_known(name, value)) {
			log_warnx("%s:%ld: %s value %s is not known to warrantd",
			    path, xmlGetLineNo(e), name, value);
			return -1;
		}
		if (hi1_dict_add(hs, owner, name, value) == -1) {
			log_warnx("%s: more than %d dictionary values", path,
			    HI1_MAX_DICT);
			return -1;
		}
	}
	return 0;
}

static int
hi1_dict_has(const struct hi1_schema *hs, const char *owner, const char *name)
{
	for (size_t i = 0; i < hs->ndict; i++)
		if (strcmp(hs->dict[i].owner, owner) == 0 &&
		    strcmp(hs->dict[i].name, name) == 0)
			return 1;
	return 0;
}

static int
hi1_dict_load(struct hi1_schema *hs, const char *path)
{
	struct wd_error	 err;
	xmlDocPtr	 doc;
	xmlNodePtr	 root, d;
	char		*buf;
	size_t		 len;
	int		 rv = 0;

	if ((buf = hi1_read_file(path, &len)) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	memset(&err, 0, sizeof(err));
	doc = hi1_xml_parse(buf, len, &err);
	free(buf);
	if (doc == NULL) {
		log_warnx("%s: %s", path, err.text);
		return -1;
	}
	root = xmlDocGetRootElement(doc);
	if (!hi1_is(root, NS_DICT, "Dictionaries")) {
		log_warnx("%s: root is not an ETSI Dictionaries element", path);
		rv = -1;
	}
	for (d = root->children; rv == 0 && d != NULL; d = d->next)
		if (hi1_is(d, NS_DICT, "Dictionary"))
			rv = hi1_dict_load_one(hs, d, path);
	xmlFreeDoc(doc);
	if (rv == 0 && (!hi1_dict_has(hs, "MX", "RequestType") ||
	    !hi1_dict_has(hs, "MX", "AuthorisationLegalType"))) {
		log_warnx("%s: MX dictionaries RequestType and "
		    "AuthorisationLegalType are required", path);
		rv = -1;
	}
	return rv;
}

/*
 * The xs:enumeration values of the element named name inside an xs:group
 * of dictionary entries, one by one: *it is where the search goes on.
 */
static xmlChar *
hi1_xsd_enum_next(xmlNodePtr group, const char *name, xmlNodePtr *it)
{
	xmlNodePtr	 el = NULL, n;
	xmlChar		*v;

	for (n = group; n != NULL && el == NULL; n = hi1_next_element(n, group))
		if (hi1_is(n, NS_XSD, "element") && (v = xmlGetProp(n,
		    BAD_CAST "name")) != NULL) {
			if (strcmp((const char *)v, name) == 0)
				el = n;
			xmlFree(v);
		}
	if (el == NULL)
		return NULL;
	for (n = *it != NULL ? hi1_next_element(*it, el) : el; n != NULL;
	    n = hi1_next_element(n, el))
		if (hi1_is(n, NS_XSD, "enumeration")) {
			*it = n;
			return xmlGetProp(n, BAD_CAST "value");
		}
	return NULL;
}

/*
 * Every value the schema accepts for an MX dictionary must be in the
 * dictionary file: each xs:group of dictionary entries in mx-common.xsd
 * whose Owner is MX is compared with it, so that a carrier who edits one
 * file and not the other finds out at start or reload (the templates are
 * refused), not from an authority's request.
 */
static int
hi1_dict_check_xsd(const struct hi1_schema *hs, const char *path)
{
	struct wd_error	 err;
	xmlDocPtr	 doc;
	xmlNodePtr	 root, g, it;
	xmlChar		*owner, *name, *value;
	char		*buf;
	size_t		 len;
	int		 rv = 0, mx;

	if ((buf = hi1_read_file(path, &len)) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	memset(&err, 0, sizeof(err));
	doc = hi1_xml_parse(buf, len, &err);
	free(buf);
	if (doc == NULL) {
		log_warnx("%s: %s", path, err.text);
		return -1;
	}
	root = xmlDocGetRootElement(doc);
	for (g = root; rv == 0 && g != NULL; g = hi1_next_element(g, root)) {
		if (!hi1_is(g, NS_XSD, "group"))
			continue;
		for (mx = 0, it = NULL; (owner = hi1_xsd_enum_next(g, "Owner",
		    &it)) != NULL; xmlFree(owner))
			mx |= strcmp((const char *)owner, "MX") == 0;
		it = NULL;
		if (!mx || (name = hi1_xsd_enum_next(g, "Name", &it)) == NULL)
			continue;
		for (it = NULL; rv == 0 && (value = hi1_xsd_enum_next(g, "Value",
		    &it)) != NULL; xmlFree(value))
			if (!hi1_dict_known(hs, "MX", (const char *)name,
			    (const char *)value)) {
				log_warnx("%s:%ld: MX/%s value %s is accepted by "
				    "the schema but not in the dictionaries",
				    path, xmlGetLineNo(it), name, value);
				rv = -1;
			}
		xmlFree(name);
	}
	xmlFreeDoc(doc);
	return rv;
}

struct hi1_schema *
hi1_schema_load(const char *templates_dir)
{
	struct hi1_schema	*hs;
	char			 dir[PATH_MAX], path[PATH_MAX + 32];

	if (!hi1_initialised)
		hi1_init();
	if (templates_dir == NULL || realpath(templates_dir, dir) == NULL) {
		log_warn("templates directory %s",
		    templates_dir ? templates_dir : "(null)");
		return NULL;
	}
	if ((hs = calloc(1, sizeof(*hs))) == NULL ||
	    (hs->dict = calloc(HI1_MAX_DICT, sizeof(*hs->dict))) == NULL) {
		log_warn("%s", __func__);
		free(hs);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/hi1-mx.xsd", dir);
	if ((hs->xsd = hi1_xsd_compile(dir, path)) == NULL)
		goto fail;
	snprintf(path, sizeof(path), "%s/mx-dictionaries.xml", dir);
	if (hi1_dict_load(hs, path) == -1)
		goto fail;
	snprintf(path, sizeof(path), "%s/mx-common.xsd", dir);
	if (hi1_dict_check_xsd(hs, path) == -1)
		goto fail;
	return hs;
fail:
	hi1_schema_free(hs);
	return NULL;
}

void
hi1_schema_free(struct hi1_schema *hs)
{
	if (hs == NULL)
		return;
	if (hs->xsd != NULL)
		xmlSchemaFree(hs->xsd);
	free(hs->dict);
	free(hs);
}

static int	hi1_value_error(const struct hi1_errcap *, struct wd_error *);

int
hi1_validate(const struct hi1_schema *hs, xmlDocPtr doc, struct wd_error *err)
{
	struct hi1_errcap	 cap;
	struct hi1_errsave	 save;
	xmlSchemaValidCtxtPtr	 vctxt;
	int			 rc;

	hi1_errcap_push(&cap, &save);
	/* One context per call: contexts are not shareable, the schema is. */
	if ((vctxt = xmlSchemaNewValidCtxt(hs->xsd)) == NULL) {
		hi1_errcap_pop(&save);
		wd_error_set(err, WD_ERR_INTERNAL, "cannot allocate a validator");
		return -1;
	}
	xmlSchemaSetValidStructuredErrors(vctxt, hi1_errcap_fn, &cap);
	rc = xmlSchemaValidateDoc(vctxt, doc);
	xmlSchemaFreeValidCtxt(vctxt);
	hi1_errcap_pop(&save);
	if (rc == 0)
		return 0;
	if (rc < 0)
		wd_error_set(err, WD_ERR_INTERNAL, "schema validator failed");
	else if (!cap.set || hi1_value_error(&cap, err) == -1)
		wd_error_set(err, WD_ERR_SCHEMA, "line %d: %s", cap.line,
		    cap.set ? cap.msg : "invalid");
	return -1;
}

int
hi1_dict_known(const struct hi1_schema *hs, const char *owner,
    const char *name, const char *value)
{
	if (strcmp(owner, "MX") == 0) {
		for (size_t i = 0; i < hs->ndict; i++)
			if (strcmp(hs->dict[i].name, name) == 0 &&
			    strcmp(hs->dict[i].value, value) == 0)
				return 1;
		return 0;
	}
	if (strcmp(owner, "ETSI") != 0)
		return 0;
	for (size_t i = 0; i < sizeof(hi1_etsi_dicts) / sizeof(hi1_etsi_dicts[0]); i++) {
		if (strcmp(hi1_etsi_dicts[i].name, name) != 0)
			continue;
		for (size_t k = 0; k < 8 && hi1_etsi_dicts[i].values[k]; k++)
			if (strcmp(hi1_etsi_dicts[i].values[k], value) == 0)
				return 1;
	}
	return 0;
}

/*
 * Validation failed first on a RequestValue's or TargetIdentifierValue's
 * Value: a value with none of the shapes the schema allows. The schema's
 * message would quote the last of its patterns (an IPv6 regular
 * expression, whatever the FormatName beside it); say instead what that
 * FormatName needs, with the same code (407) as a Value of another
 * format's shape gets from hi1_check_identifier(). The actions are not
 * extracted yet, so the error is for the message, naming the action in its
 * text. Returns -1 (err untouched) for any other error.
 */
static int
hi1_value_error(const struct hi1_errcap *cap, struct wd_error *err)
{
	xmlNodePtr	 v = cap->node, ft, ar;
	xmlChar		*raw;
	char		 owner[16], name[32], num[16], act[32], p[48];
	int		 i;

	if (cap->code != XML_SCHEMAV_CVC_PATTERN_VALID &&
	    cap->code != XML_SCHEMAV_CVC_MAXLENGTH_VALID)
		return -1;
	if (!hi1_is(v, NS_TASK, "Value") ||
	    (!hi1_is(v->parent, NS_TASK, "RequestValue") &&
	    !hi1_is(v->parent, NS_TASK, "TargetIdentifierValue")))
		return -1;
	ft = hi1_child(v->parent, NS_TASK, "FormatType");
	if (hi1_text(hi1_child(ft, NS_TASK, "FormatOwner"), owner,
	    sizeof(owner)) != 0 || strcmp(owner, "ETSI") != 0 ||
	    hi1_text(hi1_child(ft, NS_TASK, "FormatName"), name,
	    sizeof(name)) != 0)
		return -1;
	for (i = 0; i < WD_ID__COUNT; i++)
		if (strcmp(name, wd_idtype_name((enum wd_idtype)i)) == 0)
			break;
	if (i == WD_ID__COUNT)
		return -1;
	for (ar = v->parent; ar != NULL && !hi1_is(ar, NS_CORE,
	    "ActionRequest"); ar = ar->parent)
		;
	act[0] = '\0';
	if (ar != NULL && hi1_text(hi1_child(ar, NS_CORE, "ActionIdentifier"),
	    num, sizeof(num)) == 0 && num[0] != '\0' &&
	    hi1_all_digits(num, strlen(num)))
		snprintf(act, sizeof(act), "action %s: ", num);
	raw = xmlNodeGetContent(v);
	wd_error_set(err, WD_ERR_IDENTIFIER, "%sline %d: %s \"%s\" is not %s",
	    act, cap->line, name, hi1_printable(raw != NULL ?
	    (const char *)raw : "", p, sizeof(p)),
	    hi1_id_rule((enum wd_idtype)i));
	xmlFree(raw);
	return 0;
}
