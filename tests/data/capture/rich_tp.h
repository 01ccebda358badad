/* SPDX-License-Identifier: GPL-2.0-only */
/* Test tracepoint provider "rich": exercises every field kind a 2.13 app can emit. */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER rich

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "./rich_tp.h"

#if !defined(RICH_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define RICH_TP_H

#include <lttng/tracepoint.h>
#include <stdint.h>

LTTNG_UST_TRACEPOINT_ENUM(rich, color,
	LTTNG_UST_TP_ENUM_VALUES(
		lttng_ust_field_enum_value("RED", 0)
		lttng_ust_field_enum_range("GREENISH", 5, 9)
		lttng_ust_field_enum_auto("AUTO")
	)
)

LTTNG_UST_TRACEPOINT_EVENT(rich, simple,
	LTTNG_UST_TP_ARGS(int, i),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(int, i, i)
	)
)

LTTNG_UST_TRACEPOINT_EVENT(rich, all,
	LTTNG_UST_TP_ARGS(int, i, uint64_t, x, uint16_t, net, double, d, float, f,
		const char *, s, const uint8_t *, arr, const char *, txt, unsigned int, seqlen),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(int, i, i)
		lttng_ust_field_integer_hex(uint64_t, x, x)
		lttng_ust_field_integer_network(uint16_t, net, net)
		lttng_ust_field_float(double, d, d)
		lttng_ust_field_float(float, f, f)
		lttng_ust_field_string(s, s)
		lttng_ust_field_array(uint8_t, arr, arr, 4)
		lttng_ust_field_array_text(char, txt, txt, 2)
		lttng_ust_field_sequence(uint8_t, seq, arr, unsigned int, seqlen)
		lttng_ust_field_enum(rich, color, int, col, i)
		lttng_ust_field_integer_nowrite(int, hidden, i)
	)
)
LTTNG_UST_TRACEPOINT_LOGLEVEL(rich, all, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)
LTTNG_UST_TRACEPOINT_MODEL_EMF_URI(rich, all, "http://example.com/model")

#endif /* RICH_TP_H */

#include <lttng/tracepoint-event.h>
