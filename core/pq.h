/*
 * pq.h — libpq, loaded when the first PostgreSQL URL is used.
 *
 * libpq drags in TLS, Kerberos and LDAP libraries whose dynamic linking
 * costs every process ~5 ms at start-up — more than `luamig heads` needs
 * for a thousand revisions. So the binary does not link libpq: driver_pg.c
 * calls it through this table, filled by dlopen("libpq.so.5") on first use.
 * Include after <libpq-fe.h>; the macros below route every PQ* call used by
 * luamig through the table.
 */
#ifndef LM_PQ_H
#define LM_PQ_H

#include <libpq-fe.h>

/* clang-format off */
#define LM_PQ_FUNCTIONS(X)                                                                   \
	X(PQclear) X(PQgetvalue) X(PQresultStatus) X(PQgetisnull) X(PQfinish) X(PQntuples)    \
	X(PQfreemem) X(PQexecParams) X(PQunescapeBytea) X(PQresultErrorMessage)                \
	X(PQresultErrorField) X(PQftype) X(PQexec) X(PQerrorMessage) X(PQconninfoParse)        \
	X(PQconninfoFree) X(PQcmdStatus) X(PQtransactionStatus) X(PQstatus)                    \
	X(PQsetNoticeReceiver) X(PQsendQuery) X(PQputCopyEnd) X(PQparameterStatus)             \
	X(PQnfields) X(PQgetlength) X(PQgetResult) X(PQgetCopyData) X(PQfname)                 \
	X(PQconnectdbParams) X(PQcmdTuples) X(PQgetCancel) X(PQfreeCancel) X(PQcancel) X(PQsocket)
/* clang-format on */

typedef struct lm_pq_api {
#define LM_PQ_MEMBER(name) __typeof__(&name) name;
	LM_PQ_FUNCTIONS(LM_PQ_MEMBER)
#undef LM_PQ_MEMBER
} lm_pq_api;

extern lm_pq_api lm_pq;

/* Loads libpq once; fails with a message naming the Debian package. */
int lm_pq_load(void);

#ifndef LM_PQ_IMPLEMENTATION
#define PQclear lm_pq.PQclear
#define PQgetvalue lm_pq.PQgetvalue
#define PQresultStatus lm_pq.PQresultStatus
#define PQgetisnull lm_pq.PQgetisnull
#define PQfinish lm_pq.PQfinish
#define PQntuples lm_pq.PQntuples
#define PQfreemem lm_pq.PQfreemem
#define PQexecParams lm_pq.PQexecParams
#define PQunescapeBytea lm_pq.PQunescapeBytea
#define PQresultErrorMessage lm_pq.PQresultErrorMessage
#define PQresultErrorField lm_pq.PQresultErrorField
#define PQftype lm_pq.PQftype
#define PQexec lm_pq.PQexec
#define PQerrorMessage lm_pq.PQerrorMessage
#define PQconninfoParse lm_pq.PQconninfoParse
#define PQconninfoFree lm_pq.PQconninfoFree
#define PQcmdStatus lm_pq.PQcmdStatus
#define PQtransactionStatus lm_pq.PQtransactionStatus
#define PQstatus lm_pq.PQstatus
#define PQsetNoticeReceiver lm_pq.PQsetNoticeReceiver
#define PQsendQuery lm_pq.PQsendQuery
#define PQputCopyEnd lm_pq.PQputCopyEnd
#define PQparameterStatus lm_pq.PQparameterStatus
#define PQnfields lm_pq.PQnfields
#define PQgetlength lm_pq.PQgetlength
#define PQgetResult lm_pq.PQgetResult
#define PQgetCopyData lm_pq.PQgetCopyData
#define PQfname lm_pq.PQfname
#define PQconnectdbParams lm_pq.PQconnectdbParams
#define PQcmdTuples lm_pq.PQcmdTuples
#define PQgetCancel lm_pq.PQgetCancel
#define PQfreeCancel lm_pq.PQfreeCancel
#define PQcancel lm_pq.PQcancel
#define PQsocket lm_pq.PQsocket
#endif

#endif
