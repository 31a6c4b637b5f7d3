/*
 * tally.h — counts of what the journal records, for the desk's /metrics
 * (src/warrantd/tally.c): tasks asked for by authority, type and outcome, how long
 * the carrier took to answer each type (histograms), deliveries pushed
 * again. Fed with each durable record (after the object store applied it);
 * counts since start, as Prometheus counters are.
 */
#ifndef WD_TALLY_H
#define WD_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "journal.pb-c.h"

struct store;
struct tally;

struct tally	*tally_new(void);
void		 tally_free(struct tally *);
/* One durable record; store already holds what it changed. */
void		 tally_record(struct tally *, const Warrant__Record *,
		    struct store *);
/*
 * The counts in the Prometheus text format (families
 * warrantd_authority_tasks_total, warrantd_authority_answers_total,
 * warrantd_time_to_answer_seconds, warrantd_deliveries_retried_total):
 * malloc'ed text in *out, 0; -1 out of memory.
 */
int		 tally_text(const struct tally *, char **out, size_t *len);

#endif
