/*
 * hi1_int — what the files of the receiving side of HI-1 share, and
 * nothing outside them includes (the public interface stays include/hi1.h
 * and include/hi1_parse.h): the namespaces, the compiled templates, the
 * capture of libxml2's errors, the extraction context, and the helpers one
 * of these files defines and another calls. Which file owns what: lib/hi1.c.
 */
#ifndef WD_HI1_INT_H
#define WD_HI1_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlversion.h>

#include "hi1.h"

#define NS_CORE		"http://uri.etsi.org/03120/common/2019/10/Core"
#define NS_COMMON	"http://uri.etsi.org/03120/common/2016/02/Common"
#define NS_TASK		"http://uri.etsi.org/03120/common/2020/09/Task"
#define NS_AUTH		"http://uri.etsi.org/03120/common/2020/09/Authorisation"
#define NS_DOC		"http://uri.etsi.org/03120/common/2020/09/Document"
#define NS_DELIVERY	"http://uri.etsi.org/03120/common/2019/10/Delivery"
#define NS_NOTIF	"http://uri.etsi.org/03120/common/2016/02/Notification"
#define NS_XSI		"http://www.w3.org/2001/XMLSchema-instance"
#define NS_DICT		"http://uri.etsi.org/03280/common/2019/10/Dictionaries"
#define NS_XSD		"http://www.w3.org/2001/XMLSchema"

struct hi1_dict_entry {
	char	owner[16];
	char	name[64];
	char	value[64];
};

struct hi1_schema {
	xmlSchemaPtr		 xsd;
	struct hi1_dict_entry	*dict;
	size_t			 ndict;
};

/* What we keep of libxml2's errors: the first one, with its line. */
struct hi1_errcap {
	int	set;
	int	code;
	int	line;
	void	*node;		/* validation: the element at fault */
	char	file[96];
	char	msg[200];
};

struct hi1_errsave {
	xmlStructuredErrorFunc	 serror;
	void			*sctx;
	xmlGenericErrorFunc	 gerror;
	void			*gctx;
};

/* libxml2 2.12 made the error argument const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError	*hi1_xmlerr;
#else
typedef xmlErrorPtr	 hi1_xmlerr;
#endif

/* Extraction: the message being read and its first error. */
struct hi1_ctx {
	const struct hi1_schema	*hs;
	struct hi1_request	*req;
	struct wd_error		*err;
	int			 in_action;
	uint32_t		 action;
	int			 failed;	/* keep the first error only */
};

/* lib/hi1.c: untrusted XML, our own files */
extern int	 hi1_initialised;
void		 hi1_errcap_fn(void *, hi1_xmlerr);
void		 hi1_errcap_push(struct hi1_errcap *, struct hi1_errsave *);
void		 hi1_errcap_pop(const struct hi1_errsave *);
xmlDocPtr	 hi1_xml_parse(const char *, size_t, struct wd_error *);
char		*hi1_read_file(const char *, size_t *);
xmlSchemaPtr	 hi1_xsd_compile(const char *, const char *);

/* lib/hi1_schema.c: dictionaries */
int		 hi1_dict_known(const struct hi1_schema *, const char *,
		    const char *, const char *);

/* lib/hi1_value.c: value helpers */
int		 hi1_is(xmlNodePtr, const char *, const char *);
xmlNodePtr	 hi1_child(xmlNodePtr, const char *, const char *);
int		 hi1_text(xmlNodePtr, char *, size_t);
xmlNodePtr	 hi1_next_element(xmlNodePtr, xmlNodePtr);
size_t		 hi1_text_cut(xmlNodePtr, char *, size_t);
const char	*hi1_printable(const char *, char *, size_t);
int		 hi1_all_digits(const char *, size_t);
int		 hi1_parse_ipport(const char *, struct hi1_identifier *);
const char	*hi1_id_rule(enum wd_idtype);
uint32_t	 hi1_uint_capped(const char *);
int		 hi1_b64_decode(const char *, size_t, uint8_t **, size_t *);

/* lib/hi1_extract.c: the context's field readers, tasks */
int		 hi1_fail(struct hi1_ctx *, enum wd_errcode, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
int		 hi1_field(struct hi1_ctx *, xmlNodePtr, const char *,
		    const char *, char *, size_t, int);
int		 hi1_time_field(struct hi1_ctx *, xmlNodePtr, const char *,
		    const char *, int64_t *, bool *);
int		 hi1_dict_entry(struct hi1_ctx *, xmlNodePtr, const char *,
		    const char *, char *, size_t);
int		 hi1_check_all_dicts(struct hi1_ctx *, xmlNodePtr);
int		 hi1_extract_task(struct hi1_ctx *, xmlNodePtr, struct hi1_task *,
		    enum hi1_kind);

/* lib/hi1_order.c: authorisations, documents, UPDATEs */
int		 hi1_forbid(struct hi1_ctx *, xmlNodePtr, const char *,
		    const char *const *);
int		 hi1_assoc_list(struct hi1_ctx *, xmlNodePtr,
		    char [][HI1_UUID_LEN + 1], size_t *);
int		 hi1_extract_auth(struct hi1_ctx *, xmlNodePtr,
		    struct hi1_authorisation *);
int		 hi1_extract_document(struct hi1_ctx *, xmlNodePtr,
		    struct hi1_document *);
int		 hi1_extract_update(struct hi1_ctx *, xmlNodePtr,
		    struct hi1_update *);

/* lib/hi1_request.c: shared with lib/hi1_parse.c */
int		 hi1_read_endpoint(struct hi1_ctx *, xmlNodePtr, const char *,
		    char *, size_t, char *, size_t);
int		 hi1_action_id(struct hi1_ctx *, xmlNodePtr, uint32_t *);
int		 hi1_object_type(struct hi1_ctx *, xmlNodePtr, enum hi1_kind *);
int		 hi1_check_root(xmlNodePtr, struct wd_error *);

#endif /* WD_HI1_INT_H */
